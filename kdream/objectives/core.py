"""What the dream maximises: weighted sums of layer and channel activations.

An :class:`Objective` is a sum of terms; ``+`` joins terms and ``*`` scales
their weights, so objectives compose like numbers and stay serialisable.
Evaluated on the activations of one forward pass, it returns one value per
image in the batch, so every tile of a batch gets the gradient of its own loss.

Terms of other kinds (a guide, a style, a class) live in their own modules and join
the same algebra: a term is a frozen dataclass with ``layer`` and ``weight`` fields, an
``evaluate(activations, data)`` method, a ``kind`` and ``to_recipe``/``from_recipe``;
:func:`register_term` makes recipes able to name it. Terms that read tensors computed
outside the network pass (a guide's features, a style's Gram matrices) name them in
``data_keys``; the run loop hands them in as ``data``, arguments of the compiled step
rather than constants, so new values never recompile it.

Example:
    >>> obj = layer("mixed3") + 1.5 * layer("mixed5") - 0.5 * channel("mixed4", [12, 40])
    >>> obj.layer_names
    ('mixed3', 'mixed5', 'mixed4')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from keras import ops

from kdream.config import REDUCTIONS, DreamConfig

TERM_KINDS: dict[str, type] = {}
"""Recipe ``kind`` -> term class, for :func:`from_recipe`."""


PIXELS = "pixels"
"""The pseudo-layer of the network's input pixels (in [-1, 1]), for terms such as total
variation that look at the picture itself."""


def register_term(cls):
    """Class decorator: recipes may name terms of this ``cls.kind``."""
    TERM_KINDS[cls.kind] = cls
    return cls


@register_term
@dataclasses.dataclass(frozen=True)
class Term:
    """One weighted reduction of one layer, optionally restricted to some channels."""

    layer: str
    weight: float = 1.0
    channels: tuple[int, ...] | None = None
    reduction: str = "square"

    kind = "activation"
    data_keys: ClassVar[tuple[str, ...]] = ()

    def evaluate(self, activations, data=None):
        """Per-sample value of this term for activations shaped (N, H, W, C)."""
        # A network running in bfloat16/float16 hands over low-precision activations: the
        # objective itself is summed in float32.
        activations = ops.cast(activations, "float32")
        if self.channels is not None:
            activations = ops.take(activations, list(self.channels), axis=-1)
        if self.reduction == "square":
            activations = ops.square(activations)
        return self.weight * ops.mean(activations, axis=(1, 2, 3))

    def to_recipe(self) -> dict:
        return dataclasses.asdict(self)  # no "kind": recipes before kinds existed read back

    @classmethod
    def from_recipe(cls, entry: dict) -> Term:
        """The term a recipe entry describes, checked as data."""
        weight, channels = recipe_weight(entry), entry.get("channels")
        reduction = entry.get("reduction", "square")
        if channels is not None and not (
            isinstance(channels, list)
            and channels
            and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in channels)
        ):
            raise ValueError(f"recipe: objective channels of {entry['layer']!r} must be indices")
        if reduction not in REDUCTIONS:
            raise ValueError(f"recipe: objective reduction must be one of {', '.join(REDUCTIONS)}")
        return cls(entry["layer"], weight, tuple(channels) if channels else None, reduction)


@dataclasses.dataclass(frozen=True)
class Objective:
    """A sum of :class:`Term` s; build with :func:`layer`, :func:`channel`, :func:`layers`."""

    terms: tuple[Term, ...]

    def __add__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return Objective(self.terms + other.terms)

    def __mul__(self, factor: float) -> Objective:
        if not isinstance(factor, (int, float)):
            return NotImplemented
        return Objective(
            tuple(dataclasses.replace(t, weight=t.weight * float(factor)) for t in self.terms)
        )

    __rmul__ = __mul__

    def __neg__(self) -> Objective:
        return self * -1.0

    def __sub__(self, other: Objective) -> Objective:
        return self + (-other)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The layers this objective reads, in first-use order."""
        return tuple(dict.fromkeys(term.layer for term in self.terms))

    @property
    def data_keys(self) -> tuple[str, ...]:
        """The data tensors its terms read (see the module docstring), in first-use order."""
        return tuple(dict.fromkeys(key for term in self.terms for key in term.data_keys))

    def __call__(self, activations: Mapping[str, object], data: Mapping | None = None):
        """Per-sample objective, shape (N,), from a dict layer name -> activations and
        the data its terms read."""
        total = None
        for term in self.terms:
            value = term.evaluate(activations[term.layer], data)
            total = value if total is None else total + value
        return total

    def to_recipe(self) -> list[dict]:
        """The terms as recipe data (see :func:`from_recipe`)."""
        return [term.to_recipe() for term in self.terms]


def layer(name: str, weight: float = 1.0, reduction: str = "square") -> Objective:
    """Maximise a whole layer: mean of squared (or plain) activations.

    Example:
        >>> layer("mixed4", 2.0).terms[0].weight
        2.0
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: must be one of {', '.join(REDUCTIONS)} (got {reduction!r})")
    return Objective((Term(name, float(weight), None, reduction),))


def channel(
    name: str, channels: int | Sequence[int], weight: float = 1.0, reduction: str = "mean"
) -> Objective:
    """Maximise chosen channels of a layer (plain mean by default, as in feature visualisation).

    Example:
        >>> channel("mixed4", 97).terms[0].channels
        (97,)
    """
    indices = (channels,) if isinstance(channels, int) else tuple(int(c) for c in channels)
    if not indices or min(indices) < 0:
        raise ValueError(f"channels: indices of {name!r} must be >= 0 and not empty")
    return Objective((Term(name, float(weight), indices, reduction),))


def layers(weights: Mapping[str, float] | Iterable[tuple[str, float]], reduction="square"):
    """A weighted multi-layer objective from ``{"mixed3": 1.0, "mixed5": 1.5}``.

    Example:
        >>> layers({"mixed3": 1.0, "mixed5": -0.5}).layer_names
        ('mixed3', 'mixed5')
    """
    items = weights.items() if isinstance(weights, Mapping) else weights
    terms: tuple[Term, ...] = ()
    for name, weight in items:
        terms += layer(name, weight, reduction).terms
    return Objective(terms)


def recipe_weight(entry: dict) -> float:
    weight = entry.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight != weight:
        raise ValueError(f"recipe: objective weight of {entry['layer']!r} must be a number")
    return float(weight)


def from_config(config: DreamConfig) -> Objective:
    """The objective a recipe describes: its layer weights plus its channel terms."""
    objective = layers(config.layers, config.reduction)
    for name, indices, weight in config.channels:
        objective = objective + channel(name, indices, weight)
    return objective
