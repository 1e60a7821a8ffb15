"""Start-up costs: building InceptionV3 with its weights, and the first step (trace +
compile + one run) of a freshly built dreamer."""

from __future__ import annotations

import pytest
from keras import ops

from benches.recording import measure
from benches.test_ascent_step import CONFIG, device_image
from kdream import Dreamer

FIRST_STEP_SIDE = 512


@pytest.mark.benchmark(group="start-up")
def test_model_build(benchmark, settings):
    measure(
        benchmark,
        lambda: Dreamer(weights="random").ascent_step(CONFIG),
        case="model build (InceptionV3, random weights, extractor)",
        rounds=settings.build_rounds,
    )


@pytest.mark.benchmark(group="start-up")
def test_first_step_compiles(benchmark, dreamer, settings):
    """``dreamer`` is requested so that process-wide one-offs (backend start-up) are paid
    before timing; each round then builds a new dreamer, untimed, whose first step
    must trace and compile everything again."""
    image = device_image(FIRST_STEP_SIDE)

    def fresh_step():
        return (Dreamer(weights="random").ascent_step(CONFIG),), {}

    def first_step(step):
        new_image, _ = step(image, (0, 0), 1.0, CONFIG.step_size, CONFIG)
        return ops.convert_to_numpy(new_image)

    measure(
        benchmark,
        first_step,
        setup=fresh_step,
        case=f"first step {FIRST_STEP_SIDE}² (trace + compile + run)",
        rounds=settings.build_rounds,
        warmup=0,
        note="first step: includes one step's run time (see 'ascent step 512²')",
    )
