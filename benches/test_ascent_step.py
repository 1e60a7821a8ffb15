"""One gradient-ascent step (default layers mixed3 + mixed5, 512 tiles, the default tile_batch)
at growing image sizes, and the naive baseline at the same sizes.

A step is roll -> tiles -> forward + input gradient -> paste -> smoothing ->
normalise -> update; its arithmetic is nearly all in the network, so GFLOP/s
here says how well a backend runs InceptionV3's convolutions.
"""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from benches.flops import step_flops
from benches.naive import NaiveStep
from benches.recording import measure
from kdream import DreamConfig
from kdream.ascent.step import draw_shift

CONFIG = DreamConfig()


def device_image(side: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return ops.convert_to_tensor(rng.uniform(-1, 1, (side, side, 3)).astype("float32"))


def step_caller(step, side: int, config: DreamConfig = CONFIG):
    """A no-argument timed call: one step with a fresh random shift, synchronised."""
    image = device_image(side)
    rng = np.random.default_rng(1)

    def one_step():
        shift = draw_shift(rng, (side, side), config)
        new_image, loss = step(image, shift, 1.0, config.step_size, config)
        return ops.convert_to_numpy(new_image), float(ops.convert_to_numpy(loss))

    return one_step


def case_name(side: int) -> str:
    return f"ascent step {side}²"


@pytest.mark.benchmark(group="ascent step")
def test_ascent_step(benchmark, dreamer, roofline, settings, ascent_side):
    step = dreamer.ascent_step(CONFIG)
    measure(
        benchmark,
        step_caller(step, ascent_side),
        case=case_name(ascent_side),
        rounds=settings.rounds_for_step(ascent_side),
        roofline=roofline,
        flops=step_flops(step.extractor.model, (ascent_side, ascent_side), CONFIG.tile_size),
        baseline="naive",
        tile_batch=CONFIG.tile_batch,
    )


@pytest.mark.benchmark(group="ascent step (naive)")
def test_ascent_step_naive(benchmark, dreamer, roofline, settings, naive_side):
    compiled = dreamer.ascent_step(CONFIG)
    step = NaiveStep(compiled.extractor, compiled.objective)
    measure(
        benchmark,
        step_caller(step, naive_side),
        case=case_name(naive_side),
        variant="naive",
        rounds=settings.naive_rounds,
        roofline=roofline,
        flops=step_flops(step.extractor.model, (naive_side, naive_side), CONFIG.tile_size),
        note="naive: eager, one tile per network pass",
    )


@pytest.mark.benchmark(group="ascent step (precision)")
def test_ascent_step_bfloat16(benchmark, settings):
    """The largest step again with the network in bfloat16 (``--precision bfloat16``); its
    speed-up is over the float32 row of the same size (no roofline share: that roofline
    is float32's)."""
    from kdream import Dreamer

    side = max(settings.ascent_sides)
    step = Dreamer(weights="random", precision="bfloat16").ascent_step(CONFIG)
    measure(
        benchmark,
        step_caller(step, side),
        case=case_name(side),
        variant="bfloat16",
        baseline="kdream",
        rounds=settings.rounds_for_step(side),
        flops=step_flops(step.extractor.model, (side, side), CONFIG.tile_size),
        tile_batch=CONFIG.tile_batch,
    )
