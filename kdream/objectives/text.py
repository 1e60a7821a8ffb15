"""Objectives written as text, with the algebra of :mod:`kdream.objectives`:

    mixed4:97 + mixed4:130 - 0.5*mixed3:12      channels of layers, weighted
    mixed4:97@3,4                               one position (x, y) of channel 97
    2 * (mixed4:97 + mixed5:3)                  parentheses and factors
    mixed4                                      a whole layer (mean of squares)
    class:3                                     output unit 3 of the model's head

A small recursive-descent parser: the text is data and never runs (no ``eval``). A
mistake is one line that names the position, e.g.
``objective: expected a channel index after ':' at position 8``.

Example:
    >>> objective = parse_objective("mixed4:97 - 0.5*mixed3:12")
    >>> [(t.layer, t.channels, t.weight) for t in objective.terms]
    [('mixed4', (97,), 1.0), ('mixed3', (12,), -0.5)]
"""

from __future__ import annotations

import re

from kdream.config import parse_channel_list  # noqa: F401  (its old home: kept importable)
from kdream.objectives.core import Objective, Term, channel, layer
from kdream.objectives.visual import class_logit, neuron, single_channel

CLASS_LAYER = "class"
"""The atom ``class:K`` names output unit K; :func:`parse_objective` turns it into a term
of ``head_layer`` (the model's output layer)."""

TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_./]*)|(?P<symbol>[-+*:@,()]))"
)


class ObjectiveSyntaxError(ValueError):
    """Bad objective text; the message is one line naming the position."""


def parse_objective(text: str, head_layer: str | None = None) -> Objective:
    """The objective ``text`` describes (see the module docstring for the grammar).

    ``head_layer``: the layer ``class:K`` refers to (the model's output layer).

    Example:
        >>> parse_objective("2*(a:1 + b:2)").terms[1].weight
        2.0
    """
    parser = _Parser(str(text), head_layer)
    result = parser.sum()
    if parser.peek() is not None:
        parser.fail(f"unexpected {parser.peek()[1]!r}")
    if not isinstance(result, Objective):
        parser.fail("a number alone is no objective; name a layer, e.g. mixed4:97", 0)
    return result


def visualisation_objective(text: str, head_layer: str | None = None) -> Objective:
    """What a picture of ``text`` optimises: a lone channel (``mixed4:97``) is rendered as
    ``kdream visualize --layer mixed4 --channel 97`` renders it (:func:`single_channel`),
    so the TUI and the CLI draw the same picture; anything else as :func:`parse_objective`.

    Example:
        >>> visualisation_objective("mixed4:97").terms[0].kind
        'channel_batch'
        >>> visualisation_objective("mixed4:97 + mixed3:1").terms[0].kind
        'activation'
    """
    objective = parse_objective(text, head_layer)
    term, *others = objective.terms
    lone = not others and type(term) is Term and term.weight == 1.0
    if lone and term.reduction == "mean" and len(term.channels or ()) == 1:
        return single_channel(term.layer, term.channels[0])
    return objective


class _Parser:
    def __init__(self, text: str, head_layer: str | None):
        self.text, self.head_layer = text, head_layer
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
            if not (isinstance(total, Objective) and isinstance(right, Objective)):
                self.fail("only objectives can be added (a number needs a '*')", right_start)
            total = total + sign * right
        del start
        return total

    def product(self):
        start = self.position()
        value = self.factor()
        while self.accept("*"):
            right = self.factor()
            if isinstance(value, Objective) and isinstance(right, Objective):
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

    def atom(self) -> Objective:
        name = self.take("name")
        if not self.accept(":"):
            if name == CLASS_LAYER:
                self.fail("expected ':' and a unit after 'class'")
            return layer(name)
        index = self.integer("a channel index after ':'")
        if name == CLASS_LAYER:
            if self.head_layer is None:
                self.fail("class:K needs a model with a classification head")
            return class_logit(self.head_layer, index)
        if self.accept("@"):
            x = self.integer("a position x after '@'")
            self.take("symbol", ",", "',' between x and y")
            y = self.integer("a position y after ','")
            return neuron(name, index, x, y)
        return channel(name, index)

    def integer(self, what: str) -> int:
        token = self.peek()
        if token is None or token[0] != "number" or not token[1].isdigit():
            self.fail(f"expected {what}")
        self.index += 1
        return int(token[1])
