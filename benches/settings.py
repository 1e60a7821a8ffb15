"""Sizes and round counts of the suite: the full run and a quick one for development.

The full run (``nox -s bench``) must finish in about 20 minutes for all three
backends together on a 2-core CPU, so costly cases take few rounds and the full
dream runs fewer steps per octave than the default recipe (the table says how
many). ``--quick`` (or ``KDREAM_BENCH_QUICK=1``) shrinks every size so the whole
suite runs in a couple of minutes per backend; its numbers are for checking the
suite, not for the README.
"""

from __future__ import annotations

import dataclasses
import os

QUICK_ENV = "KDREAM_BENCH_QUICK"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the benchmarks vary between the full and the quick run."""

    quick: bool
    ascent_sides: tuple[int, ...]
    """Square image sides of the one-step benchmarks (default layers and tile size)."""
    naive_sides: dict[str, tuple[int, ...]]
    """Per backend: the sides the naive baseline is timed at (eager JAX is ~3x slower than
    jitted on this model: affordable, but the knob is here)."""
    step_rounds: dict[int, int]
    """Timed rounds of one step, by side (default: ``default_rounds``)."""
    default_rounds: int
    naive_rounds: int
    dream_side: int
    dream_steps: int
    """Steps per octave of the timed full dream (the default recipe has 12)."""
    dream_octaves: int
    dream_rounds: dict[str, int]
    """Per backend: timed rounds of the full dream (TensorFlow's is also timed against the
    tutorial's loop, interleaved, so it gets two; a JAX dream costs about half a minute)."""
    batching_side: int
    batching_tile: int
    tile_batches: tuple[int, ...]
    batching_rounds: int
    smoothing_side: int
    build_rounds: int
    memory_sides: tuple[int, ...]
    memory_tile: int
    roofline_side: int
    whole_side: int
    """The whole-process comparison (``kdream dream`` vs the tutorial script): photo side,"""
    whole_octaves: int
    whole_scale: float
    whole_steps: int
    whole_rounds: int
    """interleaved rounds (each: the tutorial script, then kdream at each precision)."""

    def rounds_for_step(self, side: int) -> int:
        return self.step_rounds.get(side, self.default_rounds)


FULL = Settings(
    quick=False,
    ascent_sides=(256, 512, 1024),
    naive_sides={
        "tensorflow": (256, 512, 1024),
        "jax": (256, 512, 1024),
        "torch": (256, 512, 1024),
    },
    step_rounds={1024: 3},
    default_rounds=5,
    naive_rounds=3,
    dream_side=1024,
    dream_steps=6,
    dream_octaves=4,
    dream_rounds={"tensorflow": 2, "jax": 1, "torch": 2},
    batching_side=1024,
    batching_tile=256,
    tile_batches=(1, 4, 16),
    batching_rounds=3,
    smoothing_side=1024,
    build_rounds=3,
    memory_sides=(1024, 2048, 4096),
    memory_tile=512,
    roofline_side=2048,
    whole_side=1024,
    whole_octaves=3,
    whole_scale=1.3,
    whole_steps=10,
    whole_rounds=2,
)

QUICK = Settings(
    quick=True,
    ascent_sides=(256,),
    naive_sides={"tensorflow": (256,), "jax": (256,), "torch": (256,)},
    step_rounds={},
    default_rounds=2,
    naive_rounds=1,
    dream_side=384,
    dream_steps=1,
    dream_octaves=2,
    dream_rounds={"tensorflow": 1, "jax": 1, "torch": 1},
    batching_side=512,
    batching_tile=128,
    tile_batches=(1, 4, 16),
    batching_rounds=2,
    smoothing_side=256,
    build_rounds=1,
    memory_sides=(512, 1024),
    memory_tile=256,
    roofline_side=1024,
    whole_side=320,
    whole_octaves=2,
    whole_scale=1.3,
    whole_steps=1,
    whole_rounds=1,
)


def quick_requested(option: bool = False) -> bool:
    """``--quick`` on the command line or ``KDREAM_BENCH_QUICK`` set to a true value."""
    return option or os.environ.get(QUICK_ENV, "").lower() in ("1", "true", "yes")


def settings(quick: bool) -> Settings:
    return QUICK if quick else FULL
