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
import importlib
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

import numpy as np
from keras import ops

from kdream.config import REDUCTIONS, DreamConfig

TERM_KINDS: dict[str, type] = {}
"""Recipe ``kind`` -> term class, for :func:`from_recipe`."""

TERM_MODULES: tuple[str, ...] = ("kdream.guide", "kdream.style")
"""Modules that define (and register) the other term kinds; imported before a recipe's
objective is read, so a recipe can name any of them."""


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
        weight, channels = _recipe_weight(entry), entry.get("channels")
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


def from_recipe(entries) -> Objective:
    """The objective a recipe recorded (``recipe["objective"]``: a list of terms), checked
    as data: each entry's ``kind`` (``activation`` when absent) must be a registered term
    kind, which checks the rest of the entry.

    Example:
        >>> from_recipe([{"layer": "mixed4", "weight": 2.0, "channels": [97]}]).terms[0].channels
        (97,)
    """
    if not isinstance(entries, list) or not entries:
        raise ValueError("recipe: 'objective' must be a non-empty list of terms")
    for module in TERM_MODULES:
        importlib.import_module(module)
    terms = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("layer"), str):
            raise ValueError("recipe: every objective term needs a 'layer' name")
        kind = entry.get("kind", Term.kind)
        if kind not in TERM_KINDS:
            known = ", ".join(sorted(TERM_KINDS))
            raise ValueError(f"recipe: unknown objective kind {kind!r} (known: {known})")
        terms.append(TERM_KINDS[kind].from_recipe(entry))
    return Objective(tuple(terms))


def _recipe_weight(entry: dict) -> float:
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


# --------------------------------------------------------------------------- visualisation
# Terms of feature visualisation (kdream.visualize): one position, one output unit, one
# channel per image of a batch (the channel chosen by data), and diversity within a batch.


def _index_ok(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@register_term
@dataclasses.dataclass(frozen=True)
class NeuronTerm:
    """One channel at one spatial position ``(x, y)`` of a layer (lucid's ``neuron``)."""

    layer: str
    weight: float = 1.0
    channel: int = 0
    x: int = 0
    y: int = 0

    kind = "neuron"
    data_keys = ()

    def evaluate(self, activations, data=None):
        activations = ops.cast(activations, "float32")
        return self.weight * activations[:, self.y, self.x, self.channel]

    def to_recipe(self) -> dict:
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @classmethod
    def from_recipe(cls, entry: dict) -> NeuronTerm:
        values = [entry.get(key) for key in ("channel", "x", "y")]
        if not all(_index_ok(v) for v in values):
            raise ValueError(f"recipe: neuron of {entry['layer']!r} needs channel, x, y indices")
        return cls(entry["layer"], _recipe_weight(entry), *values)


@register_term
@dataclasses.dataclass(frozen=True)
class ClassTerm:
    """One output unit of a classifier: a logit, or a softmax's pre-activation when the
    visualisation reads pre-activations (its default)."""

    layer: str
    weight: float = 1.0
    unit: int = 0

    kind = "class"
    data_keys = ()

    def evaluate(self, activations, data=None):
        activations = ops.cast(activations, "float32")
        values = activations[..., self.unit]
        if len(values.shape) > 1:  # a spatial head: its mean over positions
            values = ops.mean(values, axis=tuple(range(1, len(values.shape))))
        return self.weight * values

    def to_recipe(self) -> dict:
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @classmethod
    def from_recipe(cls, entry: dict) -> ClassTerm:
        if not _index_ok(entry.get("unit")):
            raise ValueError(f"recipe: class term of {entry['layer']!r} needs a unit index")
        return cls(entry["layer"], _recipe_weight(entry), entry["unit"])


CHANNEL_SELECTION = "channel_selection"
COSINE_FLOOR = 0.1
COSINE_EPSILON = 1e-8
"""Data key of :class:`ChannelBatchTerm`: a one-hot (N, channels) float32 tensor."""


@register_term
@dataclasses.dataclass(frozen=True)
class ChannelBatchTerm:
    """Image ``i`` of the batch maximises the mean of ``channels[i]``. Which channel is
    DATA (a one-hot selection, :func:`channel_selection`), so one compiled step renders
    any channels of the layer."""

    layer: str
    weight: float = 1.0
    channels: tuple[int, ...] = ()
    cosine_power: float = 0.0
    """> 0: each position counts ``value * max(0.1, cosine)**power``, the cosine between
    the position's (rectified) activations and the channel (lucid's ``dot_cossim``): the
    picture must excite this channel more than the others, not just everything."""

    kind = "channel_batch"
    data_keys = (CHANNEL_SELECTION,)

    def evaluate(self, activations, data=None):
        activations = ops.cast(activations, "float32")
        if len(activations.shape) == 2:  # a classifier's outputs: one position
            activations = activations[:, None, None, :]
        selection = data[CHANNEL_SELECTION][:, None, None, :]  # (N, 1, 1, C)
        values = ops.sum(activations * selection, axis=-1)  # (N, H, W)
        if self.cosine_power:
            norms = ops.sqrt(ops.sum(ops.square(ops.relu(activations)), axis=-1) + COSINE_EPSILON)
            cosine = ops.maximum(ops.relu(values) / norms, COSINE_FLOOR)
            values = values * ops.power(cosine, self.cosine_power)
        return self.weight * ops.mean(values, axis=(1, 2))

    def to_recipe(self) -> dict:
        return {"kind": self.kind, **dataclasses.asdict(self), "channels": list(self.channels)}

    @classmethod
    def from_recipe(cls, entry: dict) -> ChannelBatchTerm:
        channels, power = entry.get("channels"), entry.get("cosine_power", 0.0)
        if not (isinstance(channels, list) and channels and all(map(_index_ok, channels))):
            raise ValueError(f"recipe: channels of {entry['layer']!r} must be indices")
        if isinstance(power, bool) or not isinstance(power, (int, float)) or not 0 <= power <= 8:
            raise ValueError(f"recipe: cosine_power of {entry['layer']!r} must be in 0..8")
        return cls(entry["layer"], _recipe_weight(entry), tuple(channels), float(power))


@register_term
@dataclasses.dataclass(frozen=True)
class DiversityTerm:
    """Pushes the images of a batch apart: minus the cosine similarity of each image's
    Gram matrix at ``layer`` to every other image's (lucid's ``diversity``)."""

    layer: str
    weight: float = 1.0

    kind = "diversity"
    data_keys = ()

    def evaluate(self, activations, data=None):
        activations = ops.cast(activations, "float32")
        count, channels = int(activations.shape[0]), int(activations.shape[-1])
        flat = ops.reshape(activations, (count, -1, channels))
        grams = ops.reshape(ops.einsum("npc,npd->ncd", flat, flat), (count, -1))
        grams = grams / ops.sqrt(ops.sum(ops.square(grams), axis=-1, keepdims=True) + 1e-10)
        similarity = ops.matmul(grams, ops.transpose(grams))  # (N, N), ones on the diagonal
        others = ops.sum(similarity, axis=-1) - ops.sum(grams * grams, axis=-1)
        return -self.weight * others / count

    def to_recipe(self) -> dict:
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @classmethod
    def from_recipe(cls, entry: dict) -> DiversityTerm:
        return cls(entry["layer"], _recipe_weight(entry))


def neuron(name: str, channel_index: int, x: int, y: int, weight: float = 1.0) -> Objective:
    """Maximise one channel at one position ``(x, y)`` of the layer's grid.

    Example:
        >>> neuron("mixed4", 97, 3, 4).terms[0].kind
        'neuron'
    """
    if min(channel_index, x, y) < 0:
        raise ValueError(f"neuron: channel and position of {name!r} must be >= 0")
    return Objective((NeuronTerm(name, float(weight), int(channel_index), int(x), int(y)),))


def class_logit(name: str, unit: int, weight: float = 1.0) -> Objective:
    """Maximise output unit ``unit`` of the classifier layer ``name`` (its logit).

    Example:
        >>> class_logit("predictions", 3).terms[0].unit
        3
    """
    if unit < 0:
        raise ValueError(f"class: unit of {name!r} must be >= 0 (got {unit})")
    return Objective((ClassTerm(name, float(weight), int(unit)),))


DEFAULT_COSINE_POWER = 2.0
"""Measured with the 2015 weights (12 channels of mixed4 spread over 0..767, 224 px, 256
steps): the picture's own channel ranks first by activation over its mean on 81 photo crops
for 7 of 12 channels at power 2, 5 of 12 at power 1 and 3 of 12 with a plain mean (power 0,
160 px), with the same contrast and edge energy."""


def channel_batch(
    name: str,
    channels: Sequence[int],
    weight: float = 1.0,
    cosine_power: float = DEFAULT_COSINE_POWER,
) -> Objective:
    """One image per channel of ``name``, all rendered in one batch; ``cosine_power`` (see
    :class:`ChannelBatchTerm`) makes each picture specific to its channel (0: plain mean).

    Example:
        >>> channel_batch("mixed4", range(4)).terms[0].channels
        (0, 1, 2, 3)
    """
    indices = tuple(int(c) for c in channels)
    if not indices or min(indices) < 0:
        raise ValueError(f"channels: indices of {name!r} must be >= 0 and not empty")
    return Objective((ChannelBatchTerm(name, float(weight), indices, float(cosine_power)),))


def diversity(name: str, weight: float = 1.0) -> Objective:
    """Reward a batch whose images differ in style (Gram matrices) at layer ``name``.

    Example:
        >>> (channel("mixed4", 97) + diversity("mixed4", 100.0)).terms[1].kind
        'diversity'
    """
    return Objective((DiversityTerm(name, float(weight)),))


def channel_selection(channels: Sequence[int], count: int):
    """The one-hot (len(channels), count) float32 data a :class:`ChannelBatchTerm` reads.

    Example:
        >>> channel_selection([2, 0], 3).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    selection = np.zeros((len(channels), count), "float32")
    selection[np.arange(len(channels)), list(channels)] = 1.0
    return selection
