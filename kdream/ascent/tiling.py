"""Cutting an image into equal tiles that cover every pixel, and pasting gradients back.

Tiles keep memory bounded by the tile size. Every tile has the same shape (the
last one along an axis is moved inward and overlaps its neighbour), so all
tiles of a step can go through the network in batches without a second
compilation. Where two tiles overlap, each pixel takes the gradient of the tile
whose border is farther away: the seam sits in the middle of the overlap.

Example:
    >>> layout = TileLayout.for_image((700, 300), tile_size=512)
    >>> layout.starts_y, layout.tile_hw
    ((0, 350), (350, 300))
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from keras import ops


def axis_starts(length: int, tile: int, min_tile: int = 1) -> tuple[tuple[int, ...], int]:
    """Start offsets of equal tiles covering ``length`` and the tile length used.

    ``tile`` is an upper bound: the side is split evenly into as few tiles as fit, so
    tiles barely overlap (a 522 px octave is two 261 px tiles, not two 512 px tiles that
    redo most of the work). Tiles stay at least ``min_tile`` long (the network's and
    the layers' minimum); the overlap is spread evenly between them.
    """
    if length <= tile:
        return (0,), length
    count = math.ceil(length / tile)
    used = min(length, max(math.ceil(length / count), min_tile))
    spare = count * used - length
    starts = tuple(i * used - round(i * spare / (count - 1)) for i in range(count))
    return starts, used


def axis_ownership(starts: tuple[int, ...], tile: int, length: int) -> tuple[tuple[int, int], ...]:
    """For each tile, the [begin, end) range of pixels whose gradient it provides."""
    bounds = [0]
    for left, right in zip(starts, starts[1:]):
        bounds.append((right + left + tile) // 2)  # middle of the overlap [right, left + tile)
    bounds.append(length)
    return tuple(zip(bounds, bounds[1:]))


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)


@dataclasses.dataclass(frozen=True)
class TileLayout:
    """Where the tiles of an image of ``image_hw`` start and which pixels each one owns."""

    image_hw: tuple[int, int]
    tile_hw: tuple[int, int]
    starts_y: tuple[int, ...]
    starts_x: tuple[int, ...]

    @classmethod
    def for_image(cls, image_hw, tile_size, min_tile=1) -> TileLayout:
        """``tile_size`` and ``min_tile`` are one side or (h, w); a network of one input
        size passes that size as both, so every tile has exactly that shape."""
        tile_h_max, tile_w_max = _pair(tile_size)
        min_h, min_w = _pair(min_tile)
        starts_y, tile_h = axis_starts(image_hw[0], tile_h_max, min_h)
        starts_x, tile_w = axis_starts(image_hw[1], tile_w_max, min_w)
        return cls(tuple(image_hw), (tile_h, tile_w), starts_y, starts_x)

    @property
    def count(self) -> int:
        return len(self.starts_y) * len(self.starts_x)

    @property
    def grid(self) -> tuple[int, int]:
        """Tiles per column and per row."""
        return len(self.starts_y), len(self.starts_x)

    def as_vector(self) -> np.ndarray:
        """The layout as int32 numbers, for a compiled function that takes every layout of
        its :attr:`grid` as an argument: (H, W, tile h, tile w, starts y..., starts x...).

        Example:
            >>> TileLayout.for_image((700, 300), tile_size=512).as_vector().tolist()
            [700, 300, 350, 300, 0, 350, 0]
        """
        numbers = (*self.image_hw, *self.tile_hw, *self.starts_y, *self.starts_x)
        return np.asarray(numbers, dtype="int32")

    @classmethod
    def from_vector(cls, vector, grid: tuple[int, int]) -> TileLayout:
        """Inverse of :meth:`as_vector` inside a compiled function: the fields become scalar
        tensors, so :meth:`cut` and :meth:`paste` work for any layout of ``grid``."""
        rows, columns = grid
        starts = [vector[4 + index] for index in range(rows + columns)]
        return cls(
            (vector[0], vector[1]),
            (vector[2], vector[3]),
            tuple(starts[:rows]),
            tuple(starts[rows:]),
        )

    def cut(self, image):
        """(H, W, C) image -> (count, tile_h, tile_w, C) tiles, row by row."""
        tile_h, tile_w = self.tile_hw
        tiles = [
            image[y : y + tile_h, x : x + tile_w] for y in self.starts_y for x in self.starts_x
        ]
        return ops.stack(tiles, axis=0)

    def paste(self, tiles):
        """Inverse of :meth:`cut` for per-tile gradients: each pixel from its owning tile."""
        own_y = axis_ownership(self.starts_y, self.tile_hw[0], self.image_hw[0])
        own_x = axis_ownership(self.starts_x, self.tile_hw[1], self.image_hw[1])
        rows = []
        for row, (start_y, (y0, y1)) in enumerate(zip(self.starts_y, own_y)):
            pieces = []
            for col, (start_x, (x0, x1)) in enumerate(zip(self.starts_x, own_x)):
                tile = tiles[row * len(self.starts_x) + col]
                pieces.append(tile[y0 - start_y : y1 - start_y, x0 - start_x : x1 - start_x])
            rows.append(ops.concatenate(pieces, axis=1) if len(pieces) > 1 else pieces[0])
        return ops.concatenate(rows, axis=0) if len(rows) > 1 else rows[0]
