"""Peak memory of a dream step as the image grows far beyond the tile size.

Each size runs in its own process (``benches/memory_probe.py``), which reports its
peak RSS. Network activations are bounded by the tile batch; only the image-sized
buffers (image, tiles, gradient: a few times 12 bytes per pixel) grow with the
image. The timed value is the child's whole run (start-up, build, compile, steps).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benches.recording import measure
from kdream import DreamConfig

ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT_S = 900
STEPS = 3
"""Steps per child: the first one's peak is the target; the others must not add to it."""


def run_probe(side: int, tile: int, tile_batch: int) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "benches.memory_probe", "--side", str(side)]
    command += ["--tile", str(tile), "--tile-batch", str(tile_batch), "--steps", str(STEPS)]
    finished = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S
    )
    if finished.returncode != 0:
        raise RuntimeError(f"memory probe failed ({finished.returncode}):\n{finished.stderr}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


@pytest.mark.benchmark(group="peak memory")
def test_peak_memory(benchmark, settings, memory_side):
    tile, tile_batch = settings.memory_tile, DreamConfig().tile_batch
    report = measure(
        benchmark,
        lambda: run_probe(memory_side, tile, tile_batch),
        case=f"peak RSS, one step {memory_side}², tile {tile}",
        rounds=1,
        warmup=0,
        tile_batch=tile_batch,
        note=f"peak RSS: the child's own high-water mark (VmHWM) after its first step (after "
        f"{STEPS} steps in brackets); its time is the whole child run (start-up, build, "
        f"compile, {STEPS} steps)",
    )
    if report is not None:
        benchmark.extra_info.update(
            peak_rss_mib=report["peak_rss_mib"],
            rss_before_step_mib=report["rss_before_step_mib"],
            peak_rss_by_step_mib=report["peak_rss_by_step_mib"],
            step_seconds=report["step_seconds"],
        )
