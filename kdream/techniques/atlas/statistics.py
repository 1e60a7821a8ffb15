"""What every channel of a layer does over a folder of photos: how strongly and how often it
fires, which channels never fire (dead), which fire as copies of another (duplicates), and
where in the photos each one fires most (its dataset examples).

The photos stream through :class:`LayerAccumulator` one at a time, so a folder of any size
needs memory for one photo's activations plus a (channels x channels) matrix per layer:
running sums give the means, the correlations and the selectivities exactly, without
keeping the activations.

Example:
    >>> accumulator = LayerAccumulator("conv", channels=[0, 1], spacing=1)
    >>> maps = np.zeros((1, 4, 4, 2), np.float32); maps[0, 1, 2, 0] = 5.0
    >>> accumulator.add(0, maps, (4, 4), [(0, 0)], [((0, 4), (0, 4))])
    >>> statistics = accumulator.finish(total_channels=2, receptive_field=3)
    >>> statistics.dead, float(statistics.max[0]), statistics.examples[0][0].centre
    ((1,), 5.0, (1, 2))
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

TOP = 9
"""Dataset examples kept per channel (OpenAI Microscope shows 9)."""

DUPLICATE_CORRELATION = 0.98
"""Two channels whose activations over the photos correlate above this are duplicates."""

FIRES_ABOVE = 0.0
"""A channel fires at a position where its activation is above this (a ReLU's zero)."""


@dataclasses.dataclass(frozen=True)
class Example:
    """Where a channel fired strongly: a photo (its index), the value, and the centre of
    the position in that photo's pixels (as the network saw the photo)."""

    photo: int
    value: float
    centre: tuple[int, int]

    def to_dict(self) -> dict:
        return {"photo": self.photo, "value": self.value, "y": self.centre[0], "x": self.centre[1]}


@dataclasses.dataclass(frozen=True)
class LayerStatistics:
    """One layer's channels over the photos. Arrays follow ``channels`` (the chosen channel
    indices); ``dead`` and ``duplicates`` name channel indices."""

    layer: str
    channels: tuple[int, ...]
    total_channels: int
    positions: int
    mean: np.ndarray
    max: np.ndarray
    active: np.ndarray
    """Fraction of positions where the channel fires."""
    selectivity: np.ndarray
    """Treves-Rolls lifetime sparseness over the positions, in [0, 1]: 0 fires evenly
    everywhere, 1 fires at one position only (Vinje & Gallant, 2000)."""
    dead: tuple[int, ...]
    duplicates: tuple[tuple[int, int, float], ...]
    examples: tuple[tuple[Example, ...], ...]
    receptive_field: int
    """Side in photo pixels of the square a unit of this layer effectively sees."""
    stride: tuple[float, float]
    """Photo pixels between neighbouring positions of the layer."""

    def row(self, channel: int) -> int:
        """Where ``channel`` sits in the arrays."""
        return self.channels.index(channel)

    def to_dict(self) -> dict:
        """As ``atlas.json`` stores it (plain numbers, channel-indexed lists)."""
        return {
            "channels": list(self.channels),
            "total_channels": self.total_channels,
            "positions": self.positions,
            "receptive_field": self.receptive_field,
            "stride": list(self.stride),
            "statistics": {
                name: [round(float(v), 6) for v in getattr(self, name)]
                for name in ("mean", "max", "active", "selectivity")
            },
            "dead": list(self.dead),
            "duplicates": [[a, b, round(c, 6)] for a, b, c in self.duplicates],
            "examples": [[e.to_dict() for e in found] for found in self.examples],
        }

    @classmethod
    def from_dict(cls, layer: str, entry: dict) -> LayerStatistics:
        """The inverse of :meth:`to_dict` (a resumed atlas reuses its statistics)."""
        numbers = entry["statistics"]
        return cls(
            layer=layer,
            channels=tuple(int(c) for c in entry["channels"]),
            total_channels=int(entry["total_channels"]),
            positions=int(entry["positions"]),
            **{name: np.asarray(numbers[name], np.float64) for name in numbers},
            dead=tuple(int(c) for c in entry["dead"]),
            duplicates=tuple((int(a), int(b), float(c)) for a, b, c in entry["duplicates"]),
            examples=tuple(
                tuple(Example(e["photo"], e["value"], (e["y"], e["x"])) for e in found)
                for found in entry["examples"]
            ),
            receptive_field=int(entry["receptive_field"]),
            stride=tuple(float(s) for s in entry["stride"]),
        )


class LayerAccumulator:
    """Running sums over the positions of a layer's maps, photo after photo.

    ``spacing``: positions closer than
    this (in map cells) to a stronger one of the same channel are not examples, so the
    examples of one photo do not show the same spot nine times.
    """

    def __init__(self, layer: str, channels, spacing: int, per_photo: int = TOP):
        self.layer = layer
        self.channels = tuple(int(c) for c in channels)
        self.stride = (1.0, 1.0)
        self.spacing = max(0, int(spacing))
        self.per_photo = max(1, min(TOP, int(per_photo)))
        count = len(self.channels)
        self.positions = 0
        self.sum = np.zeros(count)
        self.sum_squares = np.zeros(count)
        self.positive_squares = np.zeros(count)  # for the selectivity
        self.positive_sum = np.zeros(count)
        self.max = np.full(count, -np.inf)
        self.fired = np.zeros(count, np.int64)
        self.cross = np.zeros((count, count))
        self.top_values = np.full((count, 0), -np.inf)
        self.top_where = np.zeros((count, 0, 3), np.int64)  # photo, y, x

    def add(self, photo: int, maps: np.ndarray, tile_hw, starts, owned) -> None:
        """One photo's maps: (tiles, h, w, all channels) activations of its tiles of
        ``tile_hw`` pixels, the tiles' (y, x) starts in photo pixels and the [begin, end)
        photo ranges each tile owns ((y0, y1), (x0, x1)): overlapping tiles count each
        position once."""
        maps = np.asarray(maps, np.float32)[..., list(self.channels)]
        self.stride = (tile_hw[0] / maps.shape[1], tile_hw[1] / maps.shape[2])
        values, centres, peaks = [], [], []
        for tile, (y, x), (own_y, own_x) in zip(maps, starts, owned):
            centre_y = y + (np.arange(tile.shape[0]) + 0.5) * self.stride[0]
            centre_x = x + (np.arange(tile.shape[1]) + 0.5) * self.stride[1]
            rows = (centre_y >= own_y[0]) & (centre_y < own_y[1])
            cols = (centre_x >= own_x[0]) & (centre_x < own_x[1])
            kept = tile[rows][:, cols]
            grid_y, grid_x = np.meshgrid(centre_y[rows], centre_x[cols], indexing="ij")
            values.append(kept.reshape(-1, kept.shape[-1]))
            centres.append(np.stack([grid_y.ravel(), grid_x.ravel()], axis=1))
            peaks.append(_local_peaks(tile, self.spacing)[rows][:, cols].reshape(values[-1].shape))
        self._add_values(np.concatenate(values).astype(np.float64))
        self._add_examples(
            photo, np.concatenate(values), np.concatenate(centres), np.concatenate(peaks)
        )

    def _add_values(self, values: np.ndarray) -> None:
        positive = np.maximum(values, 0.0)
        self.positions += len(values)
        self.sum += values.sum(axis=0)
        self.sum_squares += (values * values).sum(axis=0)
        self.positive_sum += positive.sum(axis=0)
        self.positive_squares += (positive * positive).sum(axis=0)
        self.max = np.maximum(self.max, values.max(axis=0, initial=-np.inf))
        self.fired += (values > FIRES_ABOVE).sum(axis=0)
        self.cross += values.T @ values

    def _add_examples(self, photo: int, values, centres, peaks) -> None:
        """Keep each channel's strongest peaks of this photo among its best so far."""
        candidates = np.where(peaks & (values > FIRES_ABOVE), values, -np.inf)
        take = min(self.per_photo, len(candidates))
        best = np.argsort(-candidates, axis=0, kind="stable")[:take].T  # (channels, take)
        best_values = np.take_along_axis(candidates.T, best, axis=1)
        where = np.concatenate(
            [np.full((*best.shape, 1), photo), np.floor(centres[best]).astype(np.int64)], axis=2
        )
        merged_values = np.concatenate([self.top_values, best_values], axis=1)
        merged_where = np.concatenate([self.top_where, where], axis=1)
        order = np.argsort(-merged_values, axis=1, kind="stable")[:, :TOP]
        self.top_values = np.take_along_axis(merged_values, order, axis=1)
        self.top_where = np.take_along_axis(merged_where, order[..., None], axis=1)

    def finish(self, total_channels: int, receptive_field: int) -> LayerStatistics:
        count = max(self.positions, 1)
        mean = self.sum / count
        spread = np.sqrt(np.maximum(self.sum_squares / count - mean * mean, 0.0))
        covariance = self.cross / count - np.outer(mean, mean)
        return LayerStatistics(
            layer=self.layer,
            channels=self.channels,
            total_channels=int(total_channels),
            positions=self.positions,
            mean=mean,
            max=self.max,
            active=self.fired / count,
            selectivity=_selectivity(self.positive_sum, self.positive_squares, count),
            dead=tuple(c for c, fired in zip(self.channels, self.fired) if fired == 0),
            duplicates=duplicate_pairs(self.channels, covariance, spread, self.max),
            examples=tuple(
                tuple(
                    Example(int(p), float(v), (int(y), int(x)))
                    for v, (p, y, x) in zip(values, where)
                    if np.isfinite(v)
                )
                for values, where in zip(self.top_values, self.top_where)
            ),
            receptive_field=int(receptive_field),
            stride=self.stride,
        )


def duplicate_pairs(channels, covariance, spread, peak) -> tuple[tuple[int, int, float], ...]:
    """Pairs (a, b, correlation), a < b, whose activations correlate above
    :data:`DUPLICATE_CORRELATION`. A channel that is constant over the photos (a dead one)
    has no correlation and is nobody's duplicate."""
    varies = spread > 1e-6 * np.maximum(1.0, np.abs(peak))
    safe = np.where(varies, spread, 1.0)
    correlation = covariance / np.outer(safe, safe)
    pairs = []
    for i, j in zip(*np.nonzero(np.triu(correlation > DUPLICATE_CORRELATION, k=1))):
        if varies[i] and varies[j]:
            pairs.append((channels[i], channels[j], float(min(correlation[i, j], 1.0))))
    return tuple(sorted(pairs))


def _selectivity(positive_sum, positive_squares, count: int) -> np.ndarray:
    """Treves-Rolls sparseness of each channel's positive part over ``count`` positions."""
    if count < 2:
        return np.zeros_like(positive_sum)
    mean, mean_square = positive_sum / count, positive_squares / count
    spread = np.divide(mean * mean, mean_square, out=np.ones_like(mean), where=mean_square > 0)
    return np.clip((1.0 - spread) / (1.0 - 1.0 / count), 0.0, 1.0)


def _local_peaks(maps: np.ndarray, spacing: int) -> np.ndarray:
    """Positions that are the largest of their channel within ``spacing`` cells."""
    if spacing < 1:
        return np.ones(maps.shape, bool)
    padded = np.pad(maps, ((spacing, spacing), (spacing, spacing), (0, 0)), constant_values=-np.inf)
    side = 2 * spacing + 1
    windows = np.lib.stride_tricks.sliding_window_view(padded, (side, side), axis=(0, 1))
    return maps >= windows.max(axis=(-2, -1))


def spacing_for(receptive_field: int, stride) -> int:
    """Map cells between two examples of one photo: half the receptive field."""
    return max(1, math.ceil(receptive_field / (2 * max(min(stride), 1e-6))))
