"""``kdream video`` throughput: one carried frame (optical flow, warp, blend, and the dream
with the video defaults) at 512 px and 720p, and memory over a run of frames.

A frame's time is the whole per-frame work of a long run; frames per second is its inverse
(shown in the note). The memory case dreams 24 frames and records the RSS after frame 4 and
after the last: flat means the second is not above the first by more than noise.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from benches.recording import measure
from kdream import DreamConfig
from kdream.techniques.motion.sequence import VIDEO_RECIPE, MotionConfig, video_frames

SIZES = {"512 px": (288, 512), "720p": (720, 1280)}


def clip(size_hw, frames: int) -> list[np.ndarray]:
    """A pan over a smooth random texture: flow has real work to do."""
    height, width = size_hw
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (height // 16 + 2, (width + 4 * frames) // 16 + 2, 3))
    canvas = np.repeat(np.repeat(coarse.astype(np.uint8), 16, 0), 16, 1)
    return [canvas[:height, 4 * i : 4 * i + width].copy() for i in range(frames)]


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@pytest.mark.benchmark(group="video")
@pytest.mark.parametrize("label", list(SIZES))
def test_video_frame(benchmark, dreamer, label):
    config = DreamConfig().replace(**VIDEO_RECIPE)
    motion = MotionConfig()
    first, second = clip(SIZES[label], 2)
    previous = (first, dreamer.dream(first, config))
    # The warm-up frame compiles every octave's shapes; timed frames are carried ones.
    run = lambda: list(video_frames(dreamer, [second], motion, config, 1, previous))  # noqa: E731
    measure(benchmark, run, case=f"video frame {label} (flow, 2 octaves)", rounds=3)
    median = benchmark.stats.stats.median
    benchmark.extra_info["note"] = f"{keras.backend.backend()}: {1 / median:.2f} frames/s"


@pytest.mark.benchmark(group="video")
def test_video_memory_is_flat(benchmark, dreamer):
    config = DreamConfig().replace(**VIDEO_RECIPE)
    frames = clip(SIZES["512 px"], 24)
    readings = []

    def run():
        readings.clear()
        for index, _ in enumerate(video_frames(dreamer, frames, MotionConfig(), config)):
            if index in (3, len(frames) - 1):
                readings.append(rss_mib())

    measure(benchmark, run, case="video 24 frames 512 px, RSS", rounds=1, warmup=0)
    benchmark.extra_info["peak_rss_mib"] = readings[-1]
    benchmark.extra_info["note"] = (
        f"RSS after frame 4: {readings[0]:.0f} MiB, after frame 24: {readings[1]:.0f} MiB"
    )
    assert readings[1] < readings[0] * 1.15 + 50  # flat, within allocator noise
