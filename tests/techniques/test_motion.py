"""Dreams that move: zoom geometry, temporal coherence with flow, no drift, resume, bad input.

Frames are small and dreamed with the session's random-weights InceptionV3 (identical on every
backend), so the suite stays fast on a 2-core CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from kdream.config import DreamConfig
from kdream.techniques.motion.sequence import (
    MotionConfig,
    match_means,
    video_frames,
    zoom_flow,
)
from tests.cli.test_cli import kdream

SIZE = 96
FRAME_RECIPE = DreamConfig(octaves=1, steps=3, step_size=0.03, jitter=8, smoothing=1.0)
PAN_PX = 3  # true motion of the synthetic clip, pixels per frame (to the left)


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, photo-like RGB texture: products of sinusoids, per channel."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        wave = sum(
            np.sin(x / rng.uniform(4, 14) + rng.uniform(0, 6)) * np.cos(y / rng.uniform(4, 14))
            for _ in range(3)
        )
        channels.append(wave)
    image = np.stack(channels, -1)
    image = (image - image.min()) / (image.max() - image.min())
    return (40 + 170 * image).astype(np.uint8)


def panned_clip(frames: int) -> list[np.ndarray]:
    """A camera panning right over a wide texture: content moves PAN_PX to the left a frame."""
    canvas = texture(SIZE, SIZE + PAN_PX * frames)
    return [canvas[:, i * PAN_PX : i * PAN_PX + SIZE].copy() for i in range(frames)]


def temporal_error(dreamed: list[np.ndarray]) -> float:
    """Mean |frame t+1 - frame t moved by the true motion| over the region both frames see."""
    errors = []
    for before, after in zip(dreamed, dreamed[1:]):
        moved = before[:, PAN_PX:].astype(np.float32)
        errors.append(np.abs(after[:, : SIZE - PAN_PX].astype(np.float32) - moved).mean())
    return float(np.mean(errors))


def dream_clip(dreamer, clip, blend, flow) -> list[np.ndarray]:
    motion = MotionConfig(blend=blend, flow=flow)
    return list(video_frames(dreamer, clip, motion, FRAME_RECIPE))


def test_zoom_flow_is_zero_without_motion_and_halves_distances_at_zoom_two():
    np.testing.assert_allclose(zoom_flow((9, 13), 1.0, 0.0), 0.0, atol=1e-6)
    flow = zoom_flow((9, 13), 2.0, 0.0)
    np.testing.assert_allclose(flow[4, 6], 0.0, atol=1e-6)  # the centre stays
    np.testing.assert_allclose(flow[0, 0], [3.0, 2.0], atol=1e-6)  # halfway to the centre
    turned = zoom_flow((9, 9), 1.0, 90.0)
    # A quarter turn: the pixel right of the centre shows what was above it.
    np.testing.assert_allclose(turned[4, 8] + [8, 4], [4, 0], atol=1e-5)


def test_flow_keeps_dreamed_patterns_on_the_moving_content(dreamer):
    clip = panned_clip(8)
    blend = MotionConfig().blend  # the default
    independent = temporal_error(dream_clip(dreamer, clip, 0.0, "off"))
    blended = temporal_error(dream_clip(dreamer, clip, blend, "off"))
    flowed = temporal_error(dream_clip(dreamer, clip, blend, "dis"))
    print(f"temporal error (levels): independent {independent:.2f}, "
          f"blend {blended:.2f}, flow {flowed:.2f}")  # fmt: skip
    assert flowed < blended
    assert flowed * 2.5 < independent


def test_no_drift_in_brightness_or_colour_over_200_frames(dreamer):
    frames = 200
    clip = (texture(48, 48, seed=3) for _ in range(frames))
    source_means = texture(48, 48, seed=3).reshape(-1, 3).mean(0)
    config = FRAME_RECIPE.replace(steps=1)
    motion = MotionConfig(blend=0.7, flow="dis")
    means = [f.reshape(-1, 3).mean(0) for f in video_frames(dreamer, clip, motion, config)]
    drift = np.abs(np.asarray(means) - source_means)
    print(f"largest channel-mean drift over {frames} frames: {drift.max():.2f} levels")
    assert drift[-20:].max() < 4.0
    assert drift.max() < 6.0


def test_match_means_moves_each_channel_mean_to_the_reference():
    from keras import ops

    image = ops.convert_to_tensor(np.random.default_rng(0).uniform(-0.5, 0.9, (8, 8, 3)))
    reference = ops.convert_to_tensor(np.random.default_rng(1).uniform(-0.6, 0.2, (8, 8, 3)))
    matched = ops.convert_to_numpy(match_means(image, reference))
    np.testing.assert_allclose(
        matched.mean((0, 1)), ops.convert_to_numpy(reference).mean((0, 1)), atol=1e-5
    )


def test_motion_config_refuses_bad_values():
    for field, value in (("zoom", 3.0), ("blend", 1.5), ("flow", "magic"), ("frames", 0)):
        with pytest.raises(ValueError, match=field):
            MotionConfig(**{field: value})


# --------------------------------------------------------------------------- the CLI


ZOOM = ["--weights", "random", "--steps", "1", "--quiet", "--zoom", "1.05", "--rotate", "2"]


def frame_pixels(folder) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted(folder.glob("frame_*.png"))]


def test_zoom_resume_continues_to_the_same_frames(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(texture(80, 96)).save(photo)
    whole = kdream("zoom", photo, "-o", "whole/", "--frames", "4", *ZOOM, cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    first = kdream("zoom", photo, "-o", "parts/", "--frames", "2", *ZOOM, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = kdream("zoom", photo, "-o", "parts/", "--frames", "4", *ZOOM, cwd=tmp_path)
    assert again.returncode == 2 and "--resume" in again.stderr  # never silently redone
    resumed = kdream("zoom", photo, "-o", "parts/", "--frames", "4", "--resume", *ZOOM,
                     cwd=tmp_path)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    whole_frames, resumed_frames = (
        frame_pixels(tmp_path / "whole"),
        frame_pixels(tmp_path / "parts"),
    )
    assert len(whole_frames) == len(resumed_frames) == 4
    for a, b in zip(whole_frames, resumed_frames):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(whole_frames[0], whole_frames[3])  # it moves


def test_zoom_writes_a_gif_with_its_recipe(tmp_path):
    from kdream.io.video import read_video_recipe

    photo = tmp_path / "photo.png"
    Image.fromarray(texture(64, 64)).save(photo)
    result = kdream("zoom", photo, "-o", "zoom.gif", "--frames", "3", "--fps", "10", *ZOOM,
                    cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "zoom.gif") as gif:
        assert gif.n_frames == 3 and gif.size == (64, 64)
    recipe = read_video_recipe(tmp_path / "zoom.gif")
    assert recipe["motion"]["kind"] == "zoom" and recipe["motion"]["frames"] == 3
    assert recipe["config"]["steps"] == 1
    assert not (tmp_path / "zoom.gif.frames").exists()  # the work folder is cleaned up


@pytest.mark.parametrize("kind", ["missing", "corrupt", "not a video"])
def test_bad_video_input_is_one_line_and_writes_nothing(tmp_path, kind):
    path = tmp_path / "clip.mp4"
    if kind == "corrupt":
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    elif kind == "not a video":
        path.write_text("hello, I am text")
    result = kdream("video", path, "-o", "out.mp4", "--weights", "random", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "clip.mp4" in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == (["clip.mp4"] if path.exists() else [])


def test_ctrl_c_stops_a_zoom_between_frames_and_resume_finishes_it(tmp_path):
    import signal
    import time

    photo = tmp_path / "photo.png"
    Image.fromarray(texture(64, 64)).save(photo)
    command = [sys.executable, "-m", "kdream", "zoom", str(photo), "-o", "z.gif",
               "--frames", "200", *ZOOM]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=tmp_path, env=dict(os.environ), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    frames = tmp_path / "z.gif.frames"
    deadline = time.monotonic() + 300
    while len(list(frames.glob("frame_*.png"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "--resume" in stderr
    done = sorted(frames.glob("frame_*.png"))
    assert 2 <= len(done) < 200 and not (tmp_path / "z.gif").exists()
    assert not [p for p in frames.iterdir() if p.name.startswith(".")]  # no half-written frame
    finish = [*command[3:7], "--frames", str(len(done) + 2), *ZOOM, "--resume"]
    resumed = kdream(*finish, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    with Image.open(tmp_path / "z.gif") as gif:
        assert gif.n_frames == len(done) + 2


def test_video_dreams_every_frame_into_an_mp4_with_frame_recipes(tmp_path):
    import av

    from kdream.io.images.metadata import read_recipe
    from kdream.io.video import probe, read_video_recipe

    with av.open(str(tmp_path / "clip.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        canvas = texture(64, 96 + 3 * 5)
        for i in range(5):
            picture = np.ascontiguousarray(canvas[:, 3 * i : 3 * i + 96])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    result = kdream("video", "clip.mp4", "-o", "out.mp4", "--weights", "random", "--steps", "3",
                    "--octaves", "1", "--keep-frames", "--quiet", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    info = probe(tmp_path / "out.mp4")
    assert (info.frame_count, info.size_hw) == (5, (64, 96))
    recipe = read_video_recipe(tmp_path / "out.mp4")
    assert recipe["motion"]["kind"] == "video" and recipe["motion"]["flow"] == "dis"
    frames = sorted((tmp_path / "out.mp4.frames").glob("frame_*.png"))
    first, second = (read_recipe(frames[i])["config"] for i in (0, 1))
    assert (first["steps"], second["steps"]) == (3, 1)  # carried frames: steps x (1 - 0.7)
    assert (first["seed"], second["seed"]) == (0, 1)


def test_an_unknown_output_kind_is_refused_before_any_dreaming(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(texture(64, 64)).save(photo)
    result = kdream("zoom", photo, "-o", "z.avi", "--frames", "3", *ZOOM, cwd=tmp_path)
    assert result.returncode == 2 and "unsupported output" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]
