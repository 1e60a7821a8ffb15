"""Terms of feature visualisation: one position of a channel, one output unit (a class),
one channel per image of a batch (the channel chosen by data), and diversity within a
batch.

Example:
    >>> neuron("mixed4", 97, 5, 5).terms[0].kind
    'neuron'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from keras import ops

from kdream.objectives.core import Objective, recipe_weight, register_term


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
        return cls(entry["layer"], recipe_weight(entry), *values)


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
        return cls(entry["layer"], recipe_weight(entry), entry["unit"])


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
        return cls(entry["layer"], recipe_weight(entry), tuple(channels), float(power))


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
        return cls(entry["layer"], recipe_weight(entry))


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


def single_channel(name: str, index: int) -> Objective:
    """One channel's picture, as ``kdream visualize --layer L --channel C`` and the TUI's
    ``v`` render it: a channel batch of one, cosine-weighted (lucid's choice for pictures
    specific to their channel, not a plain mean).

    Example:
        >>> single_channel("mixed4", 97) == channel_batch("mixed4", [97])
        True
    """
    return channel_batch(name, [index])


def diversity(name: str, weight: float = 1.0) -> Objective:
    """Reward a batch whose images differ in style (Gram matrices) at layer ``name``.

    Example:
        >>> from kdream.objectives.core import channel
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
