"""Tiles cover every pixel, gradients are per tile, and memory follows the batch."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from kdream.ascent.step import AscentStep
from kdream.ascent.tiling import TileLayout, axis_ownership, axis_starts
from kdream.config import DreamConfig
from kdream.objectives.core import layer


@pytest.mark.parametrize("length,tile", [(100, 100), (80, 100), (101, 50), (513, 512), (1000, 300)])
def test_tiles_cover_every_pixel_with_equal_tiles(length, tile):
    starts, used = axis_starts(length, tile)
    assert used == length if length <= tile else used <= tile
    assert len(starts) == -(-length // tile)  # as few tiles as fit
    assert len(starts) * used - length < len(starts)  # overlap: less than a pixel a tile
    covered = np.zeros(length, int)
    for start in starts:
        assert 0 <= start and start + used <= length
        covered[start : start + used] += 1
    assert covered.min() >= 1
    owned = axis_ownership(starts, used, length)
    assert owned[0][0] == 0 and owned[-1][1] == length
    for (_, end), (next_begin, _) in zip(owned, owned[1:]):
        assert end == next_begin
    for start, (begin, end) in zip(starts, owned):
        assert start <= begin < end <= start + used


def test_paste_inverts_cut():
    image = np.random.default_rng(0).normal(size=(130, 77, 3)).astype("float32")
    layout = TileLayout.for_image((130, 77), tile_size=50)
    assert layout.count == 3 * 2 and layout.tile_hw == (44, 39)
    tiles = layout.cut(ops.convert_to_tensor(image))
    assert tuple(tiles.shape) == (6, 44, 39, 3)
    np.testing.assert_array_equal(ops.convert_to_numpy(layout.paste(tiles)), image)


def tiled_gradient(step, image, tile_size, shift=(0, 0)):
    config = DreamConfig(tile_size=tile_size, tile_batch=4)
    _, gradient = step.image_gradient(ops.convert_to_tensor(image), shift, config)
    return ops.convert_to_numpy(gradient)


def near_owning_tile_border(starts, tile, length, radius):
    """Pixels whose gradient comes from a tile whose (inner) border is within ``radius``."""
    near = np.zeros(length, bool)
    for start, (begin, end) in zip(starts, axis_ownership(starts, tile, length)):
        for pixel in range(begin, end):
            to_left = pixel - start if start > 0 else np.inf
            to_right = start + tile - 1 - pixel if start + tile < length else np.inf
            near[pixel] = min(to_left, to_right) < radius
    return near


@pytest.mark.parametrize("shape", [(203, 157), (150, 225), (160, 240)])
def test_tiled_gradient_equals_untiled_away_from_tile_borders(tiny_extractor, shape):
    step = AscentStep(tiny_extractor, layer("conv1"))
    image = np.random.default_rng(1).uniform(-1, 1, shape + (3,)).astype("float32")
    tile = 75
    untiled = tiled_gradient(step, image, tile_size=4096)
    tiled = tiled_gradient(step, image, tile_size=tile)
    assert np.all(np.abs(tiled).sum(axis=-1) > 0), "a pixel got no gradient"

    layout = TileLayout.for_image(shape, tile, min_tile=75)
    tile_h, tile_w = layout.tile_hw
    # Each tile's objective is a mean over the tile, the untiled one over the image.
    scale = (shape[0] * shape[1]) / (tile_h * tile_w)
    # Two 3x3 convolutions see 2 px around; a pixel's gradient reads the outputs within
    # 2 px, whose values read 2 px further: 4 px in all.
    receptive_radius = 4
    near_y = near_owning_tile_border(layout.starts_y, tile_h, shape[0], receptive_radius)
    near_x = near_owning_tile_border(layout.starts_x, tile_w, shape[1], receptive_radius)
    near = near_y[:, None] | near_x[None, :]
    np.testing.assert_allclose(tiled[~near] / scale, untiled[~near], rtol=1e-4, atol=1e-7)
    if near.any():  # tiles that merely touch: their borders really do differ
        assert not np.allclose(tiled[near] / scale, untiled[near], rtol=1e-4)


def test_rolled_gradient_is_rolled_back(tiny_extractor):
    step = AscentStep(tiny_extractor, layer("conv1"))
    image = np.random.default_rng(2).uniform(-1, 1, (90, 110, 3)).astype("float32")
    shift = (17, 41)
    rolled_first = np.roll(
        tiled_gradient(step, np.roll(image, shift, (0, 1)), 4096), (-17, -41), (0, 1)
    )
    np.testing.assert_allclose(
        tiled_gradient(step, image, 4096, shift=shift), rolled_first, rtol=1e-5, atol=1e-8
    )


def test_tiles_never_shrink_below_the_minimum():
    starts, used = axis_starts(160, 100, min_tile=107)
    assert used == 107 and starts == (0, 53)
    assert axis_starts(90, 100, min_tile=107) == ((0,), 90)


def test_network_sees_at_most_tile_batch_tiles_whatever_the_tile_count(tiny_extractor):
    step = AscentStep(tiny_extractor, layer("conv1"))
    batch_shapes = []
    original = step.gradient

    def recording(tiles):
        batch_shapes.append(tuple(tiles.shape))
        return original(tiles)

    step.gradient = recording
    for side in (150, 300, 600):
        batch_shapes.clear()
        config = DreamConfig(tile_size=75, tile_batch=3)
        image = ops.convert_to_tensor(np.zeros((side, side, 3), "float32"))
        step.image_gradient(image, (0, 0), config)
        tiles = (side // 75) ** 2
        assert sum(shape[0] for shape in batch_shapes) == tiles
        assert max(shape[0] for shape in batch_shapes) <= 3
        assert all(shape[1:] == (75, 75, 3) for shape in batch_shapes)
