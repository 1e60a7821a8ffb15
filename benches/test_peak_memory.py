"""Peak memory of a whole ``kdream dream`` process as the photo grows far beyond the tile
size: one octave, one step, 512 px tiles, as a user runs it (decode, network, weights,
compilation, the step, the PNG written).

Each size runs in its own process, which reports its own peak RSS (``benches/peak_of.py``).
Network activations are bounded by the tile batch; only the image-sized buffers (the
photo, the image, tiles, gradient: a few times 12 bytes per pixel) grow with the image.
"""

from __future__ import annotations

import sys

import pytest

from benches.recording import measure
from benches.test_whole_process import timed_child, write_photo
from kdream import DreamConfig


@pytest.mark.benchmark(group="peak memory")
def test_peak_memory(benchmark, settings, memory_side, tmp_path):
    tile, tile_batch = settings.memory_tile, DreamConfig().tile_batch
    photo = write_photo(tmp_path, memory_side)
    command = [
        sys.executable, "-m", "kdream", "dream", str(photo), "-o", str(tmp_path / "out.png"),
        "--quiet", "--weights", "random", "--octaves", "1", "--steps", "1",
        "--tile-size", str(tile), "--tile-batch", str(tile_batch),
    ]  # fmt: skip
    report = measure(
        benchmark,
        lambda: timed_child(command, tmp_path, "kdream"),
        case=f"peak RSS, one step {memory_side}², tile {tile}",
        rounds=1,
        warmup=0,
        tile_batch=tile_batch,
        note="peak RSS: a `kdream dream` process's own high-water mark (VmHWM), one octave "
        "of one step; its time is the whole process (start-up, build, compile, the step, "
        "the PNG)",
    )
    if report is not None:
        benchmark.extra_info["peak_rss_mib"] = report["peak_mib"]
