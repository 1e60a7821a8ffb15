"""Start-up costs: building InceptionV3 with its weights, the first step (trace + compile
+ one run) of a freshly built dreamer, and a fresh process phase by phase."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from keras import ops

from benches.recording import measure
from benches.test_ascent_step import CONFIG, device_image
from benches.test_whole_process import weights_file
from kdream import Dreamer

FIRST_STEP_SIDE = 512
ROOT = Path(__file__).resolve().parent.parent


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


@pytest.mark.benchmark(group="start-up")
def test_startup_phases(benchmark, settings, tmp_path):
    """A fresh process, phase by phase (``benches/startup_probe.py``): import, build,
    weights, extractor, first step (trace + compile, or JAX's persistent cache), second
    step. The timed value is the whole child; the phases become rows of their own."""
    weights = "inception2015" if weights_file() else "random"
    command = [sys.executable, "-m", "benches.startup_probe", "--weights", weights]
    command += ["--side", str(FIRST_STEP_SIDE)]
    phases: list[dict] = []

    def child():
        finished = subprocess.run(
            command, cwd=ROOT, env=probe_env(), capture_output=True, text=True, timeout=900
        )
        if finished.returncode != 0:
            raise RuntimeError(f"start-up probe failed:\n{finished.stderr[-3000:]}")
        phases.append(json.loads(finished.stdout.strip().splitlines()[-1])["phases"])

    measure(
        benchmark,
        child,
        case=f"start-up, fresh process ({weights} weights, step {FIRST_STEP_SIDE}²)",
        variant="whole child",
        rounds=settings.build_rounds,
        warmup=1,  # the disk cache, and JAX's compilation cache (a user's second run)
        note="start-up phases: medians over fresh processes after one warm-up process",
    )
    benchmark.extra_info["phases"] = {
        name: [timed[name] for timed in phases[1:]] for name in phases[-1]
    }


def probe_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


FAIL_FAST_MISTAKES = {
    "missing file": ["dream", "missing.jpg"],
    "--steps -1": ["dream", "--steps", "-1"],
    "mistyped layer": ["dream", "--layers", "mixed42=1"],
    "channel past its layer": ["visualize", "--layer", "mixed4", "--channel", "900"],
    "mistyped layer in an objective": ["visualize", "--objective", "mixed4:97 + mixed42:1"],
    "inspect: mistyped --filters layer": ["inspect", "--filters", "mixed42"],
    "style: missing style image": ["style", "missing.jpg", "missing-too.jpg"],
    "zoom: --zoom 3": ["zoom", "--zoom", "3"],
    "video: missing input": ["video", "missing.mp4"],
}
"""Mistakes refused before any framework loads (issue 24's target: under 1 s)."""


@pytest.mark.benchmark(group="start-up")
@pytest.mark.parametrize("mistake", FAIL_FAST_MISTAKES)
def test_a_mistake_is_refused_fast(benchmark, settings, tmp_path, mistake):
    """The whole child process, from start to its one-line error (exit 2)."""
    command = [sys.executable, "-m", "kdream", *FAIL_FAST_MISTAKES[mistake], "--weights", "random"]

    def child():
        finished = subprocess.run(
            command, cwd=tmp_path, env=probe_env(), capture_output=True, text=True, timeout=120
        )
        if finished.returncode != 2 or len(finished.stderr.splitlines()) != 1:
            raise RuntimeError(f"expected one line and exit 2:\n{finished.stderr[-3000:]}")

    measure(
        benchmark,
        child,
        case=f"fail fast: {mistake} (fresh process)",
        variant="whole child",
        rounds=settings.build_rounds,
        note="a mistake's one-line error, before any framework loads",
    )
