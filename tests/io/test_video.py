"""Video input/output: probing, decoding, frame files, assembly, recipes and bad inputs.

Every clip is made here with PyAV itself (tiny moving gradients, sine-wave audio), so the
tests need no data files and no Keras.
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from kdream.io import images as imageio
from kdream.io import video as video_io
from kdream.io.images.messages import OutputPathError
from kdream.io.video import VideoInputError
from kdream.pixels import resize

FRAMES, HEIGHT, WIDTH, FPS = 24, 48, 64, 12
RECIPE = {"config": {"octaves": 2, "seed": 3}, "motion": {"kind": "video", "fps": FPS}}


def gradient(index: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """A smooth colour ramp that moves with ``index`` (smooth: codecs keep it well)."""
    y, x = np.mgrid[0:height, 0:width]
    red = 40 + 3 * x + 4 * index
    green = 40 + 3 * y + 2 * index
    blue = np.full_like(x, 128)
    return np.clip(np.dstack([red, green, blue]), 0, 255).astype(np.uint8)


def add_sine(container, codec: str, seconds: float, rate: int = 44100):
    """An audio stream of ``codec``; returns a function that encodes a 440 Hz sine into it."""
    stream = container.add_stream(codec, rate=rate, layout="mono")

    def write() -> None:
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono")
        wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype(
            np.float32
        )
        for start in range(0, len(wave), 1024):
            chunk = wave[None, start : start + 1024]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for converted in resampler.resample(frame):
                container.mux(stream.encode(converted))
        container.mux(stream.encode(None))

    return write


def make_clip(path: Path, audio: str | None = None, frames: int = FRAMES, rotation: int = 0,
              container_format: str | None = None, faststart: bool = False) -> Path:  # fmt: skip
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=container_format, options=options) as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        write_audio = add_sine(container, audio, frames / FPS) if audio else None
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(gradient(index), format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if write_audio:
            write_audio()
    return path


def audio_seconds(path: Path) -> float | None:
    """Decoded samples / rate of the first audio stream, or None without one."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.rate


def decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def mean_error(frames: list[np.ndarray], offset: int = 0) -> float:
    return float(
        np.mean([np.abs(f.astype(int) - gradient(i + offset)).mean() for i, f in enumerate(frames)])
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        "plain": make_clip(folder / "plain.mp4"),
        "aac": make_clip(folder / "aac.mp4", audio="aac"),
        "mp3": make_clip(folder / "mp3.mp4", audio="libmp3lame"),
        "pcm": make_clip(folder / "pcm.mkv", audio="pcm_s16le"),
        "mkv": make_clip(folder / "plain.mkv"),
    }


@pytest.fixture(scope="module")
def dreamed(tmp_path_factory) -> list[Path]:
    """FRAMES frame PNGs as a run writes them, each with its own recipe."""
    folder = tmp_path_factory.mktemp("frames")
    return [
        video_io.write_frame(folder, i + 1, gradient(i), {**RECIPE, "frame": i + 1})
        for i in range(FRAMES)
    ]


def assert_one_line_naming(error: pytest.ExceptionInfo, path: Path | str) -> None:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    assert Path(path).name in message


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("name, has_audio", [("plain", False), ("aac", True), ("mp3", True)])
def test_probe_reports_rate_count_size_and_audio(clips, name, has_audio):
    info = video_io.probe(clips[name])
    assert (info.fps, info.frame_count, info.size_hw) == (FPS, FRAMES, (HEIGHT, WIDTH))
    assert info.has_audio is has_audio and info.source == str(clips[name])


def test_probe_counts_frames_matroska_does_not_store(clips):
    assert video_io.probe(clips["mkv"]).frame_count == FRAMES
    assert video_io.probe(clips["pcm"]).has_audio


def test_read_frames_round_trip_start_and_max_side(clips):
    frames = list(video_io.read_frames(clips["aac"]))
    assert len(frames) == FRAMES
    assert all(f.shape == (HEIGHT, WIDTH, 3) and f.dtype == np.uint8 for f in frames)
    assert mean_error(frames) < 6
    tail = list(video_io.read_frames(clips["aac"], start=20))
    assert len(tail) == 4 and all(np.array_equal(a, b) for a, b in zip(tail, frames[20:]))
    small = list(video_io.read_frames(clips["aac"], start=22, max_side=32))
    assert [f.shape for f in small] == [(24, 32, 3)] * 2
    assert list(video_io.read_frames(clips["aac"], start=FRAMES)) == []


def test_rotated_phone_video_comes_out_upright(tmp_path):
    # Stored landscape with "turn 90 degrees clockwise to show", as phones record portrait.
    path = make_clip(tmp_path / "portrait.mp4", frames=2, rotation=-90)
    assert video_io.probe(path).size_hw == (WIDTH, HEIGHT)
    first = next(video_io.read_frames(path))
    assert np.abs(first.astype(int) - np.rot90(gradient(0), -1)).mean() < 6


def test_tags_that_are_not_utf8_do_not_make_a_video_unreadable(tmp_path, clips):
    path = tmp_path / "latin1.mkv"
    with av.open(str(clips["mkv"])) as source, av.open(str(path), "w") as out:
        out.metadata["title"] = "\u00c4" * 8  # UTF-8: C3 84 C3 84...
        copy = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.size:
                packet.stream = copy
                out.mux(packet)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"\xc3\x84" * 8, b"\xc4" * 16))  # same length, not UTF-8
    assert video_io.probe(path).frame_count == FRAMES
    assert len(list(video_io.read_frames(path))) == FRAMES


def test_gif_and_animated_webp_inputs(tmp_path):
    images = [Image.fromarray(gradient(10 * i)) for i in range(6)]  # distinct after quantising
    for name in ("in.gif", "in.webp"):
        images[0].save(tmp_path / name, save_all=True, append_images=images[1:], duration=100)
        info = video_io.probe(tmp_path / name)
        assert (info.frame_count, info.size_hw, info.fps) == (6, (HEIGHT, WIDTH), 10)
        frames = list(video_io.read_frames(tmp_path / name, start=1))
        assert len(frames) == 5 and frames[0].shape == (HEIGHT, WIDTH, 3)


def test_folder_of_images_sorted_by_number(tmp_path):
    for i in (1, 2, 10):  # "img_10" sorts after "img_2": numbers compare as numbers
        Image.fromarray(gradient(i)).save(tmp_path / f"img_{i}.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    info = video_io.probe(tmp_path)
    assert (info.fps, info.frame_count, info.size_hw, info.has_audio) == (30, 3, (48, 64), False)
    assert video_io.probe(tmp_path, folder_fps=8).fps == 8
    frames = list(video_io.read_frames(tmp_path, start=1, max_side=32))
    assert len(frames) == 2 and frames[1].shape == (24, 32, 3)
    assert np.abs(frames[1].astype(int) - resize(gradient(10), (24, 32))).max() == 0


# --------------------------------------------------------------------------- bad inputs


def _truncated_faststart(folder: Path) -> Path:
    whole = make_clip(folder / "whole.mp4", faststart=True).read_bytes()
    path = folder / "cut.mp4"
    path.write_bytes(whole[: len(whole) * 2 // 3])  # index intact, the frames' data cut off
    return path


def _audio_only(folder: Path) -> Path:
    path = folder / "audio_only.mp4"
    with av.open(str(path), "w") as container:
        add_sine(container, "aac", 0.5)()
    return path


def _empty_container(folder: Path) -> Path:
    path = folder / "no_frames.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        container.start_encoding()  # header and trailer, zero frames
    return path


def _unknown_codec(folder: Path) -> Path:
    path = folder / "plain.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        frame = av.VideoFrame.from_ndarray(gradient(0), format="rgb24")
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    # An AVI names its codec with a FourCC: one no decoder claims is an unknown codec.
    return _write(folder / "unknown.avi", path.read_bytes().replace(b"FMP4", b"ZZZZ"))


BAD_INPUTS = {
    "missing": lambda folder, clips: folder / "missing.mp4",
    "empty file": lambda folder, clips: _write(folder / "empty.mp4", b""),
    "random bytes": lambda folder, clips: _write(folder / "noise.mp4", os.urandom(4096)),
    "half a file": lambda folder, clips: _write(
        folder / "half.mp4", clips["aac"].read_bytes()[: clips["aac"].stat().st_size // 2]
    ),
    "truncated faststart": lambda folder, clips: _truncated_faststart(folder),
    "audio only": lambda folder, clips: _audio_only(folder),
    "zero frames": lambda folder, clips: _empty_container(folder),
    "text renamed": lambda folder, clips: _write(folder / "text.mp4", b"just some text\n" * 9),
    "playlist renamed": lambda folder, clips: _write(
        folder / "list.m3u8", b"#EXTM3U\n#EXTINF:1.0,\n" + str(clips["aac"]).encode() + b"\n"
    ),
    "unknown codec": lambda folder, clips: _unknown_codec(folder),
    "empty folder": lambda folder, clips: _mkdir(folder / "nothing_here"),
    "folder without images": lambda folder, clips: (
        _write(_mkdir(folder / "texts") / "a.txt", b"x").parent
    ),
    "webp that is not": lambda folder, clips: _write(folder / "fake.webp", b"RIFF0000WEBPjunk"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_are_one_line_errors_naming_the_file(tmp_path, clips, case):
    path = BAD_INPUTS[case](tmp_path, clips)
    with pytest.raises(VideoInputError) as probed:
        video_io.probe(path)
    assert_one_line_naming(probed, path)
    with pytest.raises(VideoInputError) as read:
        list(video_io.read_frames(path))
    assert_one_line_naming(read, path)


def test_folder_frames_of_different_sizes(tmp_path):
    Image.fromarray(gradient(0)).save(tmp_path / "a.png")
    Image.fromarray(gradient(1, 40, 64)).save(tmp_path / "b.png")
    with pytest.raises(VideoInputError, match="b.png") as error:
        video_io.probe(tmp_path)
    assert "\n" not in str(error.value)
    with pytest.raises(VideoInputError, match="b.png"):
        list(video_io.read_frames(tmp_path))


def test_missing_input_raises_before_iterating(tmp_path):
    with pytest.raises(VideoInputError, match="no such file"):
        video_io.read_frames(tmp_path / "gone.mp4")


# --------------------------------------------------------------------------- frame files


def test_write_frame_and_written_frames_stop_at_a_gap(tmp_path):
    folder = tmp_path / "new" / "frames"  # created on demand
    assert video_io.written_frames(folder) == []
    for index in (1, 2, 3, 5):
        path = video_io.write_frame(folder, index, gradient(index), {"frame": index})
    assert path.name == "frame_000005.png"
    found = video_io.written_frames(folder)
    assert [p.name for p in found] == ["frame_000001.png", "frame_000002.png", "frame_000003.png"]
    assert imageio.read_recipe(found[1]) == {"frame": 2}
    assert np.array_equal(imageio.load_image(found[2]).rgb, gradient(3))  # lossless PNG
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left
    with pytest.raises(ValueError):
        video_io.write_frame(folder, 0, gradient(0), None)


# --------------------------------------------------------------------------- assembling


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_assemble_video_round_trip_and_recipes(tmp_path, dreamed, suffix):
    output = video_io.assemble(dreamed, tmp_path / f"dream{suffix}", FPS, RECIPE)
    assert leftovers(tmp_path) == [f"dream{suffix}", f"dream{suffix}.json"]
    info = video_io.probe(output)
    assert (info.fps, info.frame_count, info.size_hw, info.has_audio) == (FPS, 24, (48, 64), False)
    assert mean_error(list(video_io.read_frames(output))) < 6
    assert video_io.read_video_recipe(output) == RECIPE  # from the sidecar
    video_io.sidecar_path(output).unlink()
    assert video_io.read_video_recipe(output) == RECIPE  # from the container's comment tag


def test_assemble_falls_back_to_mpeg4(tmp_path, dreamed, monkeypatch):
    monkeypatch.setattr(video_io.writing, "video_encoder", lambda: "mpeg4")
    output = video_io.assemble(dreamed, tmp_path / "dream.mp4", FPS, RECIPE)
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"
    assert mean_error(decode_all(output)) < 6


def test_assemble_pads_odd_sizes_to_even(tmp_path):
    frames = [video_io.write_frame(tmp_path / "odd", i + 1, gradient(i, 47, 63), None)
              for i in range(3)]  # fmt: skip
    output = video_io.assemble(frames, tmp_path / "odd.mp4", FPS, RECIPE)
    decoded = decode_all(output)
    assert len(decoded) == 3 and decoded[0].shape == (48, 64, 3)
    assert np.abs(decoded[0][:47, :63].astype(int) - gradient(0, 47, 63)).mean() < 6


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_assemble_animations_loop_with_their_recipe(tmp_path, dreamed, suffix):
    output = video_io.assemble(dreamed, tmp_path / f"dream{suffix}", FPS, RECIPE)
    with Image.open(output) as image:
        assert image.n_frames == FRAMES and image.info.get("loop") == 0
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            image.load()  # WebP sets the duration on loading
            durations.append(image.info["duration"])
        assert abs(sum(durations) - 1000 * FRAMES / FPS) <= 10  # 2 s, though 12 fps is 83.3 ms
        image.seek(FRAMES - 1)
        last = np.asarray(image.convert("RGB"), dtype=int)
    assert np.abs(last - gradient(FRAMES - 1)).mean() < 6
    video_io.sidecar_path(output).unlink()
    assert video_io.read_video_recipe(output) == RECIPE  # GIF comment / WebP EXIF
    assert video_io.probe(output).frame_count == FRAMES


def test_assemble_into_a_folder_writes_only_the_recipe(tmp_path, dreamed):
    folder = dreamed[0].parent
    before = leftovers(folder)
    assert video_io.assemble(dreamed, str(folder) + "/", FPS, RECIPE) == folder
    assert leftovers(folder) == sorted([*before, "recipe.json"])
    assert video_io.read_video_recipe(folder) == RECIPE
    assert video_io.probe(folder).frame_count == FRAMES  # and it reads back as a video
    copy = video_io.assemble(dreamed[:2], str(tmp_path / "copy") + "/", FPS, RECIPE)
    assert leftovers(copy) == ["frame_000001.png", "frame_000002.png", "recipe.json"]


@pytest.mark.parametrize(
    "source, codec", [("aac", "aac"), ("mp3", "mp3"), ("pcm", "aac"), ("plain", None)]
)
def test_assemble_carries_the_audio_over(tmp_path, clips, dreamed, source, codec):
    output = video_io.assemble(dreamed, tmp_path / "dream.mp4", FPS, RECIPE, clips[source])
    with av.open(str(output)) as container:
        codecs = [s.codec_context.codec.canonical_name for s in container.streams.audio]
    assert codecs == ([codec] if codec else [])
    if codec:  # mp3 and AAC into MP4 are copied as they are; PCM does not fit: AAC
        assert abs(audio_seconds(output) - audio_seconds(clips[source])) < 0.1
        assert video_io.probe(output).has_audio


def test_assemble_cuts_audio_at_the_videos_end(tmp_path, clips, dreamed):
    output = video_io.assemble(dreamed[:12], tmp_path / "half.mkv", FPS, RECIPE, clips["aac"])
    assert abs(audio_seconds(output) - 1.0) < 0.1


@pytest.mark.parametrize("suffix", [".mp4", ".gif", ".webp"])
def test_assemble_fails_without_leaving_anything(tmp_path, dreamed, monkeypatch, suffix):
    output = tmp_path / f"dream{suffix}"
    output.write_bytes(b"an earlier video")  # must survive a failed overwrite
    loads = []
    real = video_io.frame_pixels

    def breaks_on_the_third(path, size_hw):
        loads.append(path)
        if len(loads) == 3:
            raise RuntimeError("disk on fire")
        return real(path, size_hw)

    monkeypatch.setattr(video_io.writing, "frame_pixels", breaks_on_the_third)
    with pytest.raises(RuntimeError, match="disk on fire"):
        video_io.assemble(dreamed, output, FPS, RECIPE)
    assert leftovers(tmp_path) == [output.name]  # no temp file, no sidecar
    assert output.read_bytes() == b"an earlier video"


def test_assemble_refuses_unknown_suffix_and_bad_arguments(tmp_path, dreamed):
    with pytest.raises(OutputPathError) as error:
        video_io.assemble(dreamed, tmp_path / "dream.avi", FPS, RECIPE)
    message = str(error.value)
    assert "\n" not in message and "dream.avi" in message
    assert all(suffix in message for suffix in video_io.OUTPUT_SUFFIXES)
    with pytest.raises(ValueError, match="fps"):
        video_io.assemble(dreamed, tmp_path / "dream.mp4", 0, RECIPE)
    with pytest.raises(ValueError, match="no frames"):
        video_io.assemble([], tmp_path / "dream.mp4", FPS, RECIPE)
    with pytest.raises(OutputPathError, match="directory does not exist"):
        video_io.assemble(dreamed, tmp_path / "nope" / "dream.mp4", FPS, RECIPE)
    assert leftovers(tmp_path) == []


def test_read_video_recipe_missing(tmp_path, clips):
    with pytest.raises(VideoInputError, match="no kdream recipe") as error:
        video_io.read_video_recipe(clips["plain"])
    assert_one_line_naming(error, clips["plain"])
    with pytest.raises(VideoInputError, match="recipe.json"):
        video_io.read_video_recipe(tmp_path)
    with pytest.raises(VideoInputError, match="no such file"):
        video_io.read_video_recipe(tmp_path / "gone.mp4")


def test_recipe_limits_apply_to_sidecars(tmp_path):
    (tmp_path / "deep.mp4").write_bytes(b"")
    (tmp_path / "deep.mp4.json").write_text("[" * 100 + "]" * 100)
    with pytest.raises(VideoInputError, match="nested too deeply"):
        video_io.read_video_recipe(tmp_path / "deep.mp4")


def test_a_damaged_header_is_called_damaged_not_audio_only(tmp_path):
    """Zeros over the start of an MP4's index (its moov box): FFmpeg opens the file and finds
    no stream at all. That is a damaged file, not an audio-only one; a real audio-only file
    says audio only."""
    data = bytearray(make_clip(tmp_path / "whole.mp4", faststart=True).read_bytes())
    index = data.index(b"moov") + 4
    data[index : index + 160] = bytes(160)
    damaged = _write(tmp_path / "damaged.mp4", bytes(data))
    with pytest.raises(VideoInputError, match="damaged file, or not a video"):
        video_io.probe(damaged)
    with pytest.raises(VideoInputError, match=r"no video stream \(audio only\)"):
        video_io.probe(_audio_only(tmp_path))
