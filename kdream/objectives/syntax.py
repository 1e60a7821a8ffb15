"""The grammar of objective text (see :mod:`kdream.objectives.text`), without a framework.

The parser builds whatever its *algebra* makes of layers, channels, neurons and class units,
so one grammar serves twice: :mod:`kdream.objectives.text` builds Keras objectives, and
:func:`named_units` lists the layers and channels a text names, so that the CLI checks them
against a built-in network's catalogue before any framework loads.

Example:
    >>> named_units("mixed4:97 + 2*(mixed3 - mixed5:1@3,4)")
    (('mixed4', 97), ('mixed3', None), ('mixed5', 1))
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Protocol

CLASS_LAYER = "class"
"""The atom ``class:K`` names output unit K; :func:`~kdream.objectives.text.parse_objective`
turns it into a term of ``head_layer`` (the model's output layer)."""

TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_./]*)|(?P<symbol>[-+*:@,()]))"
)


class ObjectiveSyntaxError(ValueError):
    """Bad objective text; the message is one line naming the position."""


class Algebra(Protocol):
    """What the parser builds terms with; ``objective`` is their type (``+`` and ``*`` work
    on it, and numbers scale it)."""

    objective: type

    def layer(self, name: str) -> Any: ...
    def channel(self, name: str, index: int) -> Any: ...
    def neuron(self, name: str, index: int, x: int, y: int) -> Any: ...
    def class_logit(self, head_layer: str, index: int) -> Any: ...


def parse(text: str, algebra: Algebra, head_layer: str | None = None):
    """What ``algebra`` makes of ``text``; a mistake is an :class:`ObjectiveSyntaxError`."""
    parser = Parser(str(text), head_layer, algebra)
    result = parser.sum()
    if parser.peek() is not None:
        parser.fail(f"unexpected {parser.peek()[1]!r}")
    if not isinstance(result, algebra.objective):
        parser.fail("a number alone is no objective; name a layer, e.g. mixed4:97", 0)
    return result


@dataclasses.dataclass(frozen=True)
class NamedUnits:
    """The layers and channels a part of an objective text names (weights do not matter)."""

    units: tuple[tuple[str, int | None], ...] = ()

    def __add__(self, other: NamedUnits) -> NamedUnits:
        return NamedUnits(self.units + other.units)

    def __mul__(self, factor: float) -> NamedUnits:
        return self

    __rmul__ = __mul__

    def __neg__(self) -> NamedUnits:
        return self


class _Names:
    """The algebra of :func:`named_units`: every term is the layer and channel it names."""

    objective = NamedUnits

    def layer(self, name: str) -> NamedUnits:
        return NamedUnits(((name, None),))

    def channel(self, name: str, index: int) -> NamedUnits:
        return NamedUnits(((name, index),))

    def neuron(self, name: str, index: int, x: int, y: int) -> NamedUnits:
        return NamedUnits(((name, index),))

    def class_logit(self, head_layer: str, index: int) -> NamedUnits:
        return NamedUnits()  # the head's layer is the model's, not a name in the text


def named_units(
    text: str, head_layer: str | None = CLASS_LAYER
) -> tuple[tuple[str, int | None], ...]:
    """(layer, channel or None) of every layer term of ``text``, in the order written
    (``class:K`` names no layer; ``head_layer`` None: the network has no head, and
    ``class:K`` is a mistake); a mistake is an :class:`ObjectiveSyntaxError`."""
    return parse(text, _Names(), head_layer).units


class Parser:
    """A recursive-descent parser of the grammar in :mod:`kdream.objectives.text`; the terms
    come from ``algebra``."""

    def __init__(self, text: str, head_layer: str | None, algebra: Algebra):
        self.text, self.head_layer, self.algebra = text, head_layer, algebra
        self.objective = algebra.objective
        self.tokens = self._tokenize(text)
        self.index = 0

    def _tokenize(self, text: str) -> list[tuple[str, str, int]]:
        tokens, position = [], 0
        while position < len(text):
            if text[position:].strip() == "":
                break
            match = TOKEN.match(text, position)
            if match is None or match.end() == position:
                start = len(text) - len(text[position:].lstrip())
                raise ObjectiveSyntaxError(
                    f"objective: unexpected {text[start]!r} at position {start + 1} of {text!r}"
                )
            kind = match.lastgroup
            tokens.append((kind, match.group(kind), match.start(kind)))
            position = match.end()
        return tokens

    def peek(self):
        return self.tokens[self.index][:2] if self.index < len(self.tokens) else None

    def position(self) -> int:
        if self.index < len(self.tokens):
            return self.tokens[self.index][2]
        return len(self.text)

    def fail(self, message: str, position: int | None = None):
        where = self.position() if position is None else position
        raise ObjectiveSyntaxError(f"objective: {message} at position {where + 1} of {self.text!r}")

    def take(self, kind: str, value: str | None = None, what: str = ""):
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            found = "the end" if token is None else repr(token[1])
            self.fail(f"expected {what or value or kind}, found {found}")
        self.index += 1
        return token[1]

    def accept(self, value: str) -> bool:
        if self.peek() == ("symbol", value):
            self.index += 1
            return True
        return False

    def sum(self):
        start = self.position()
        total = self.product()
        while self.peek() in (("symbol", "+"), ("symbol", "-")):
            sign = 1.0 if self.take("symbol") == "+" else -1.0
            right_start = self.position()
            right = self.product()
            if not (isinstance(total, self.objective) and isinstance(right, self.objective)):
                self.fail("only objectives can be added (a number needs a '*')", right_start)
            total = total + sign * right
        del start
        return total

    def product(self):
        start = self.position()
        value = self.factor()
        while self.accept("*"):
            right = self.factor()
            if isinstance(value, self.objective) and isinstance(right, self.objective):
                self.fail("two objectives cannot be multiplied", start)
            value = value * right
        return value

    def factor(self):
        token = self.peek()
        if token is None:
            self.fail("expected a layer, a number or '('")
        kind, value = token
        if kind == "symbol" and value == "-":
            self.index += 1
            return -self.factor()
        if kind == "symbol" and value == "(":
            self.index += 1
            inner = self.sum()
            self.take("symbol", ")", "')'")
            return inner
        if kind == "number":
            self.index += 1
            return float(value)
        if kind == "name":
            return self.atom()
        self.fail(f"expected a layer, a number or '(', found {value!r}")

    def atom(self):
        name = self.take("name")
        if not self.accept(":"):
            if name == CLASS_LAYER:
                self.fail("expected ':' and a unit after 'class'")
            return self.algebra.layer(name)
        index = self.integer("a channel index after ':'")
        if name == CLASS_LAYER:
            if self.head_layer is None:
                self.fail("class:K needs a model with a classification head")
            return self.algebra.class_logit(self.head_layer, index)
        if self.accept("@"):
            x = self.integer("a position x after '@'")
            self.take("symbol", ",", "',' between x and y")
            y = self.integer("a position y after ','")
            return self.algebra.neuron(name, index, x, y)
        return self.algebra.channel(name, index)

    def integer(self, what: str) -> int:
        token = self.peek()
        if token is None or token[0] != "number" or not token[1].isdigit():
            self.fail(f"expected {what}")
        self.index += 1
        return int(token[1])
