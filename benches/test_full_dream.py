"""A full default dream of a square image (1024² in the full run), and on TensorFlow the
tutorial's loop doing the same octaves and steps: the reference kdream must beat.

The default recipe runs 12 steps per octave; the suite runs fewer (the case name
says how many) to fit its time budget. A dream's time is nearly proportional to
its steps, so the comparison holds for any step count. The warm-up is a one-step
dream of the same image, which compiles every octave's shapes.

On a shared machine the speed drifts over minutes, so the tutorial comparison is
interleaved: before each timed tutorial round, kdream dreams the same picture
(timed by hand, in the untimed ``setup``); the speed-up compare.py reports for
TensorFlow is the ratio of those interleaved medians.
"""

from __future__ import annotations

import statistics
import time

import keras
import numpy as np
import pytest

from benches.flops import dream_flops, gradient_flops
from benches.recording import measure
from kdream import DreamConfig
from kdream.pixels import to_model_range


def photo(side: int) -> np.ndarray:
    """A deterministic uint8 test picture (content does not change the work done)."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (side // 16 + 1, side // 16 + 1, 3)).astype(np.uint8)
    return np.repeat(np.repeat(coarse, 16, axis=0), 16, axis=1)[:side, :side]


def dream_config(settings) -> DreamConfig:
    return DreamConfig(steps=settings.dream_steps, octaves=settings.dream_octaves)


def case_name(settings) -> str:
    return (
        f"full dream {settings.dream_side}² ({settings.dream_octaves} octaves, "
        f"{settings.dream_steps} steps/octave)"
    )


@pytest.mark.benchmark(group="full dream")
def test_full_dream(benchmark, dreamer, roofline, settings):
    config = dream_config(settings)
    picture = photo(settings.dream_side)
    dreamer.dream(picture, config.replace(steps=1))  # compiles every octave's shapes
    measure(
        benchmark,
        lambda: dreamer.dream(picture, config),  # returns a host array: synchronised
        case=case_name(settings),
        rounds=settings.dream_rounds[keras.backend.backend()],
        warmup=0,
        roofline=roofline,
        flops=dream_flops(dreamer, picture.shape[:2], config),
        baseline="tf-tutorial" if keras.backend.backend() == "tensorflow" else None,
        octave_sizes=[list(size) for size in dreamer.octave_sizes(picture.shape[:2], config)],
    )


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a TensorFlow tutorial")
@pytest.mark.parametrize("every_tile", [True, False], ids=["every tile", "tutorial tiling"])
@pytest.mark.benchmark(group="full dream")
def test_tf_tutorial_dream(benchmark, dreamer, roofline, settings, every_tile):
    from benches.tf_tutorial import TiledGradients, tile_shapes, tutorial_dream

    config = dream_config(settings)
    picture = photo(settings.dream_side)
    extractor = dreamer.ascent_step(config).extractor
    tiled = TiledGradients(
        extractor.model, [weight for _, weight in config.layers], config.tile_size, every_tile
    )
    sizes = dreamer.octave_sizes(picture.shape[:2], config)
    image = to_model_range(picture)
    tutorial_dream(tiled, image, sizes, steps=1)  # the one trace of its tf.function
    if every_tile:
        dreamer.dream(picture, config.replace(steps=1))  # compiled, as in test_full_dream
    kdream_seconds: list[float] = []

    def interleaved_kdream_dream():
        started = time.perf_counter()
        dreamer.dream(picture, config)
        kdream_seconds.append(time.perf_counter() - started)
        return (), {}

    flops = config.steps * sum(
        gradient_flops(extractor.model, shape)
        for size in sizes
        for shape in tile_shapes(size, config.tile_size, every_tile)
    )
    measure(
        benchmark,
        lambda: tutorial_dream(tiled, image, sizes, config.steps),
        case=case_name(settings),
        variant="tf-tutorial" if every_tile else "tf-tutorial (skips last tiles)",
        setup=interleaved_kdream_dream if every_tile else None,
        rounds=settings.dream_rounds[keras.backend.backend()],
        warmup=0,
        roofline=roofline,
        flops=flops,
        note=(
            "tf-tutorial: the TensorFlow DeepDream tutorial's loop (512 tiles one by one, "
            "gradient w.r.t. the whole image, tf.function), visiting every tile; "
            "'skips last tiles' is its verbatim tiling, which looks at fewer tiles per step; "
            "kdream's speed-up over it is from kdream dreams interleaved with its rounds"
        ),
    )
    if kdream_seconds:
        benchmark.extra_info["interleaved_kdream_seconds"] = kdream_seconds
        benchmark.extra_info["interleaved_kdream_median"] = statistics.median(kdream_seconds)
