"""``kdream video``'s shots: PySceneDetect finds a clip's hard cut, the dream starts afresh
there, and ``--ray`` dreams the shots in parallel into the very frames of the serial run."""

from __future__ import annotations

import os
import signal

import av
import numpy as np
import pytest
import skimage.data
from PIL import Image

from kdream.ascent.dreamer import Dreamer
from kdream.cli.main import main
from kdream.io import video as video_io
from kdream.io.images import load_image, read_recipe
from kdream.recipe import dream_config
from kdream.techniques.motion.shots import MIN_SHOT_FRAMES, shot_starts

SHOTS = (MIN_SHOT_FRAMES + 1, 6)
"""Frames of the clip's two shots (PySceneDetect merges a cut into one closer than 15)."""
WIDTH, HEIGHT, PAN = 64, 48, 1
RECIPE = ["--octaves", "1", "--steps", "2", "--layers", "conv2=1", "--input-range", "0,255"]


def panning(photo: np.ndarray, frames: int) -> list[np.ndarray]:
    """A camera panning over ``photo`` (downsized), ``PAN`` pixels a frame."""
    scale = max((WIDTH + PAN * frames) / photo.shape[1], HEIGHT / photo.shape[0])
    width, height = round(photo.shape[1] * scale), round(photo.shape[0] * scale)
    small = np.asarray(Image.fromarray(photo).resize((width, height), Image.LANCZOS))
    top = (height - HEIGHT) // 2
    return [small[top : top + HEIGHT, PAN * i : PAN * i + WIDTH] for i in range(frames)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """An H.264 clip: the astronaut, then a hard cut to the coffee cup."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    frames = panning(skimage.data.astronaut(), SHOTS[0]) + panning(skimage.data.coffee(), SHOTS[1])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for frame in frames:
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
    return path


def dream_video(clip, tiny_model, folder, *extra) -> dict[str, bytes]:
    """``kdream video`` into ``folder/``: its files' bytes."""
    argv = ["video", str(clip), "-o", f"{folder}/", "--model", str(tiny_model), *RECIPE]
    assert main([*argv, "--quiet", *extra]) == 0
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def serial(clip, tiny_model, tmp_path_factory):
    return dream_video(clip, tiny_model, tmp_path_factory.mktemp("serial") / "frames")


def test_pyscenedetect_finds_the_hard_cut(clip):
    assert shot_starts(video_io.read_frames(clip)) == [0, SHOTS[0]]
    assert shot_starts(video_io.read_frames(clip), threshold=0) == [0]


def test_the_dream_starts_afresh_at_the_cut(clip, tiny_model, serial, tmp_path):
    cut = SHOTS[0]
    assert len([name for name in serial if name.startswith("frame_")]) == sum(SHOTS)
    folder = tmp_path / "serial"
    folder.mkdir()
    for name, data in serial.items():
        (folder / name).write_bytes(data)
    recipes = [read_recipe(video_io.frame_path(folder, index + 1)) for index in range(sum(SHOTS))]
    assert recipes[0]["motion"]["shots"] == [0, cut]
    assert [recipe["config"]["steps"] for recipe in recipes[cut - 1 : cut + 2]] == [1, 2, 1]

    # The cut's frame is its source frame dreamed alone, as a still with its own seed.
    dreamer = Dreamer("auto", str(tiny_model), (0.0, 255.0))
    source = next(video_io.read_frames(clip, cut))
    alone = dreamer.dream(source, dream_config(recipes[cut]))
    assert dream_config(recipes[cut]).seed == dream_config(recipes[0]).seed + cut
    np.testing.assert_array_equal(load_image(video_io.frame_path(folder, cut + 1)).rgb, alone)

    # Without cut detection the last shot's dream is carried across the cut.
    uncut = tmp_path / "uncut"
    files = dream_video(clip, tiny_model, uncut, "--cuts", "off")
    first, at_cut = video_io.frame_path(uncut, 1), video_io.frame_path(uncut, cut + 1)
    assert np.array_equal(load_image(first).rgb, load_image(folder / first.name).rgb)
    assert files[first.name] != serial[first.name]  # the same pixels; its recipe: cuts 0
    assert read_recipe(at_cut)["config"]["steps"] == 1
    assert not np.array_equal(load_image(at_cut).rgb, alone)


def test_ray_dreams_the_shots_into_the_serial_files_bit_for_bit(
    clip, tiny_model, ray_cluster, serial, tmp_path
):
    distributed = dream_video(clip, tiny_model, tmp_path / "ray", "--ray", "--workers", "2")
    assert distributed == serial

    # --resume on Ray: each shot goes on after its own frames; gaps are dreamed again.
    for index in (3, 4, SHOTS[0] + 2, sum(SHOTS)):
        video_io.frame_path(tmp_path / "ray", index).unlink()
    resumed = dream_video(clip, tiny_model, tmp_path / "ray", "--ray", "--resume")
    assert resumed == serial


def test_independent_frames_on_ray_survive_a_killed_worker(
    clip, tiny_model, ray_cluster, tmp_path, monkeypatch
):
    import kdream.distributed.video as distributed_video

    serial_files = dream_video(clip, tiny_model, tmp_path / "serial", "--blend", "0")
    dream_jobs, killed, jobs = distributed_video.dream_video_jobs, [], []

    def kill_the_first_worker(done):
        jobs.append(done)
        if not killed:  # that worker has taken its next run of frames: it dies in it
            os.kill(done.worker, signal.SIGKILL)
            killed.append(done.worker)

    def dream_video_jobs(network, job_list, **options):
        return dream_jobs(network, job_list, **options, on_job=kill_the_first_worker)

    monkeypatch.setattr(distributed_video, "dream_video_jobs", dream_video_jobs)
    distributed = dream_video(
        clip, tiny_model, tmp_path / "ray", "--blend", "0", "--ray", "--workers", "2"
    )
    assert distributed == serial_files
    # Frames 0-21 in runs of at most 8 (every frame is independent), each done once.
    assert sorted((done.first, done.end) for done in jobs) == [(0, 8), (8, 16), (16, 22)]
    assert len({done.worker for done in jobs} - set(killed)) == 2  # one of them restarted
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)


def test_video_ray_flags_are_checked_before_any_model_loads(clip, tmp_path, capsys, monkeypatch):
    import kdream.distributed.cluster as cluster

    argv = ["video", str(clip), "-o", f"{tmp_path}/out/"]
    assert main([*argv, "--workers", "2"]) == 2
    assert capsys.readouterr().err.strip() == "kdream: error: --workers needs --ray"
    monkeypatch.setattr(cluster, "ray_installed", lambda: False)
    assert main([*argv, "--ray"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == 'kdream: error: --ray needs Ray: pip install "kdream[ray]"'
    assert list(tmp_path.iterdir()) == []
