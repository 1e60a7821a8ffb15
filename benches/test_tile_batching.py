"""Tile batching on and off: the same step with 1, a few, or all tiles per network pass.

A 1024² image with 256 tiles has 16 tiles; ``tile_batch`` 1 sends them one by one
(the naive way), 16 sends them all at once (peak memory grows with the batch).
"""

from __future__ import annotations

import pytest

from benches.flops import step_flops
from benches.recording import measure
from benches.test_ascent_step import step_caller
from kdream import DreamConfig


@pytest.mark.benchmark(group="tile batching")
def test_tile_batching(benchmark, dreamer, roofline, settings, tile_batch):
    side, tile = settings.batching_side, settings.batching_tile
    config = DreamConfig(tile_size=tile, tile_batch=tile_batch)
    step = dreamer.ascent_step(config)
    measure(
        benchmark,
        step_caller(step, side, config),
        case=f"step {side}², tile {tile}, tile_batch {tile_batch}",
        rounds=settings.batching_rounds,
        roofline=roofline,
        flops=step_flops(step.extractor.model, (side, side), tile),
        tile_batch=tile_batch,
    )
