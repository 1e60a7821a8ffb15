"""Assembling: frame PNGs into MP4/MOV/MKV (H.264), GIF, animated WebP or a folder, atomically,
with the recipe beside the file and inside it."""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import shutil
from collections.abc import Iterator, Sequence
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import numpy as np
from PIL import Image

from kdream._files import move_into_place, temporary_beside, write_atomically
from kdream.io import images as imageio
from kdream.io.images.messages import OutputPathError
from kdream.recipe import to_json

from .formats import (
    _CONTAINERS,
    _COPYABLE_AUDIO,
    _MAX_FPS,
    _MOV_COMMENT_LIMIT,
    _MPEG4_BITS_PER_PIXEL,
    _RECIPE_PREFIX,
    _WEBP_QUALITY,
    _X264_OPTIONS,
    FOLDER_RECIPE,
    OUTPUT_SUFFIXES,
    VideoInputError,
    _reason,
    _video_error,
)
from .frames import frame_path, frame_pixels
from .reading import _decoded, _kind, _open_input, _usable_audio


def sidecar_path(output: str | os.PathLike) -> Path:
    """Where :func:`assemble` puts the recipe beside an output.

    Example:
        >>> sidecar_path("dream.mp4").name, sidecar_path("frames/").as_posix()
        ('dream.mp4.json', 'frames/recipe.json')
    """
    if _is_folder_output(output):
        return Path(output) / FOLDER_RECIPE
    return Path(output).with_name(Path(output).name + ".json")


def _is_folder_output(output: str | os.PathLike) -> bool:
    return os.path.isdir(output) or os.fspath(output).endswith(("/", os.sep))


def _output_format(output: Path) -> str:
    suffix = output.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        allowed = " ".join(OUTPUT_SUFFIXES)
        raise OutputPathError(
            f"{imageio.describe(output)}: unsupported video output extension {suffix!r} "
            f"(use {allowed}, or a folder/ for PNG frames)"
        )
    return suffix


def _frame_rate(fps: float) -> Fraction:
    """fps as the exact ratio FFmpeg wants; 29.97002997 becomes 30000/1001.

    Example:
        >>> _frame_rate(30000 / 1001), _frame_rate(12)
        (Fraction(30000, 1001), Fraction(12, 1))
    """
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real):
        raise ValueError(f"fps must be a number, got {fps!r}")
    if not math.isfinite(fps) or not 0 < fps <= _MAX_FPS:
        raise ValueError(f"fps must be in (0, {_MAX_FPS:g}], got {fps!r}")
    return Fraction(float(fps)).limit_denominator(1001)


@cache
def video_encoder() -> str:
    """The H.264 encoder when the bundled FFmpeg has one ('libx264'), else 'mpeg4'.

    Example:
        >>> video_encoder() in ("libx264", "mpeg4")
        True
    """
    try:
        av.codec.Codec("libx264", "w")
    except Exception:  # av.codec.codec.UnknownCodecError: an FFmpeg built without x264
        return "mpeg4"
    return "libx264"


def _even(rgb: np.ndarray) -> np.ndarray:
    """Pad an odd side by repeating the last row/column: yuv420p halves the chroma planes.

    Example:
        >>> _even(np.zeros((5, 4, 3), np.uint8)).shape
        (6, 4, 3)
    """
    pad = ((0, rgb.shape[0] % 2), (0, rgb.shape[1] % 2), (0, 0))
    return np.pad(rgb, pad, mode="edge") if any(p[1] for p in pad[:2]) else rgb


def _add_video_stream(out, rate: Fraction, size_hw: tuple[int, int]):
    encoder = video_encoder()
    options = _X264_OPTIONS if encoder == "libx264" else {}
    stream = out.add_stream(encoder, rate=rate, options=dict(options))
    stream.height, stream.width = (side + side % 2 for side in size_hw)
    stream.pix_fmt = "yuv420p"  # the one every player decodes
    if encoder == "mpeg4":
        stream.bit_rate = int(max(1e6, _MPEG4_BITS_PER_PIXEL * stream.width * stream.height * rate))
    # Tag BT.709 limited range and convert with that matrix (_yuv_frame): untagged video is
    # guessed at differently by different players, shifting the dream's colours.
    context = stream.codec_context
    context.colorspace = context.color_primaries = context.color_trc = 1  # BT.709
    context.color_range = 1  # limited ("MPEG")
    return stream


def _yuv_frame(rgb: np.ndarray, index: int):
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
    frame.pts = index  # the stream's time base is 1/fps
    return frame


class _AudioTrack:
    """The first audio stream of a source video, muxed into an output up to its video's end.

    Packets are copied untouched when the output container takes the codec, else decoded and
    re-encoded to AAC. Times are kept relative to the source's first video frame, so the
    sound stays where it was against the pictures.
    """

    def __init__(self, source, container, audio, out, container_format: str, end: float):
        self.label = imageio.describe(source)
        self.input = container
        self._waiting = None
        offset = 0.0
        if container.streams.video and container.streams.video[0].start_time is not None:
            video = container.streams.video[0]
            offset = float(video.start_time * video.time_base)
        if audio.codec_context.codec.canonical_name in _COPYABLE_AUDIO[container_format]:
            self.stream = out.add_stream_from_template(audio)
            self._packets = self._copied(audio, offset, end)
        else:
            channels = audio.layout.nb_channels
            layout = {1: "mono", 2: "stereo"}.get(channels, audio.layout.name)
            self.stream = out.add_stream("aac", rate=audio.rate, layout=layout)
            self._packets = self._transcoded(audio, offset, end)

    @classmethod
    def open(cls, source, out, container_format: str, end: float) -> _AudioTrack | None:
        """The track, or None when ``source`` is None or has no audio FFmpeg can handle."""
        if source is None or _kind(source) != "ffmpeg":
            return None
        label = imageio.describe(source)
        container = _open_input(source, label)
        try:
            audio = _usable_audio(container)
            if audio is None:
                container.close()
                return None
            return cls(source, container, audio, out, container_format, end)
        except Exception as exc:
            container.close()
            raise _video_error(label, f"cannot copy its audio ({_reason(exc)})") from None

    def _copied(self, source, offset: float, end: float) -> Iterator:
        shift = round(offset / source.time_base)
        for packet in self.input.demux(source):
            if not packet.size or packet.pts is None:  # the demuxer's end-of-stream markers
                continue
            packet.pts -= shift
            packet.dts = None if packet.dts is None else packet.dts - shift
            start = float(packet.pts * source.time_base)
            if start >= end:
                return
            # Keep packets reaching into time 0 (AAC's priming packet starts before it).
            if start + float((packet.duration or 0) * source.time_base) < 0:
                continue
            packet.stream = self.stream
            yield start, packet

    def _transcoded(self, source, offset: float, end: float) -> Iterator:
        rate = source.rate
        written = 0  # samples handed to the encoder: their count is the next pts
        for frame in _decoded(self.input, source, self.label):
            start = -offset if frame.pts is None else float(frame.pts * frame.time_base) - offset
            if start >= end:
                break
            if start + frame.samples / rate <= 0:
                continue
            frame.pts, frame.time_base = written, Fraction(1, rate)
            written += frame.samples
            for packet in self.stream.encode(frame):
                yield float(packet.pts * packet.time_base), packet
        for packet in self.stream.encode(None):
            yield float(packet.pts * packet.time_base), packet

    def mux_until(self, out, seconds: float) -> None:
        """Mux the packets that start before ``seconds``, so audio and video interleave."""
        try:
            while True:
                if self._waiting is None:
                    self._waiting = next(self._packets, None)
                    if self._waiting is None:
                        return
                start, packet = self._waiting
                if start >= seconds:
                    return
                out.mux(packet)
                self._waiting = None
        except VideoInputError:
            raise
        except Exception as exc:
            raise _video_error(self.label, f"cannot copy its audio ({_reason(exc)})") from None

    def close(self) -> None:
        self.input.close()


def _write_ffmpeg(temporary, frames, rate, size_hw, suffix, text, audio_from) -> None:
    container_format = _CONTAINERS[suffix]
    options = {"movflags": "+faststart"} if container_format != "matroska" else {}
    out = av.open("file:" + os.fspath(temporary), "w", format=container_format, options=options)
    audio = None
    try:
        if container_format != "mov" or len(text) <= _MOV_COMMENT_LIMIT:
            out.metadata["comment"] = text
        video = _add_video_stream(out, rate, size_hw)
        audio = _AudioTrack.open(audio_from, out, container_format, len(frames) / rate)
        for index, path in enumerate(frames):
            out.mux(video.encode(_yuv_frame(_even(frame_pixels(path, size_hw)), index)))
            if audio is not None:
                audio.mux_until(out, (index + 1) / rate)  # keeps audio and video interleaved
        out.mux(video.encode(None))
        if audio is not None:
            audio.mux_until(out, math.inf)
    except BaseException:
        _close(out)  # quietly: an error writing the trailer must not hide the real one
        raise
    finally:
        if audio is not None:
            audio.close()
    out.close()  # writes the trailer (and, for faststart, moves the index to the front)


def _close(out) -> None:
    with contextlib.suppress(Exception):
        out.close()


def _frame_durations_ms(count: int, rate: Fraction, tick_ms: int) -> list[int]:
    """Per-frame display times on a ``tick_ms`` grid whose running sum tracks ``count / rate``
    (a GIF counts in 10 ms: 12 fps as a flat 80 ms would play at 12.5 fps).

    Example:
        >>> _frame_durations_ms(3, Fraction(12), 10)
        [80, 90, 80]
    """
    ticks = [round(i * 1000 / (rate * tick_ms)) for i in range(count + 1)]
    return [max(1, b - a) * tick_ms for a, b in zip(ticks, ticks[1:])]


def _palette_image(rgb: np.ndarray) -> Image.Image:
    """256 colours for one GIF frame: a fast octree palette, then Floyd-Steinberg dithering.

    Median cut (Pillow's default) takes ~1 s per noisy 720p frame, octree ~5 ms; dithering
    (~20 ms) hides octree's coarser palette: banding on smooth gradients is what shows.

    Example:
        >>> _palette_image(np.zeros((4, 6, 3), np.uint8)).mode
        'P'
    """
    image = Image.fromarray(rgb)
    palette = image.quantize(256, method=Image.Quantize.FASTOCTREE)
    return image.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)


def _write_gif(temporary, frames, rate, size_hw, text) -> None:
    # Quantised at once: a GIF keeps every frame in memory while Pillow writes it (1 byte/px).
    images = [_palette_image(frame_pixels(path, size_hw)) for path in frames]
    with open(temporary, "wb") as stream:
        images[0].save(
            stream,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=_frame_durations_ms(len(images), rate, 10),
            loop=0,  # forever
            comment=(_RECIPE_PREFIX + text).encode("ascii"),
        )


def _write_webp(temporary, frames, rate, size_hw, text) -> None:
    # Pillow's WebP writer takes a list: every frame is in memory (3 bytes/px) while it runs.
    images = [Image.fromarray(frame_pixels(path, size_hw)) for path in frames]
    with open(temporary, "wb") as stream:
        images[0].save(
            stream,
            format="WEBP",
            save_all=True,
            append_images=images[1:],
            duration=_frame_durations_ms(len(images), rate, 1),
            loop=0,
            lossless=False,
            quality=_WEBP_QUALITY,
            exif=imageio.recipe_exif(text),
        )


def _assemble_folder(frames: list[Path], folder: Path, text: str) -> Path:
    """Frames elsewhere are copied in under their frame_NNNNNN.png names; then the recipe."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = f"cannot create ({_reason(exc)})"
        raise OutputPathError(f"{imageio.describe(folder)}: {problem}") from None
    for index, source in enumerate(frames, start=1):
        target = frame_path(folder, index)
        if not (target.exists() and os.path.samefile(source, target)):
            with open(source, "rb") as data:
                write_atomically(target, lambda stream: shutil.copyfileobj(data, stream))
    write_atomically(folder / FOLDER_RECIPE, lambda s: s.write(text.encode() + b"\n"))
    return folder


def assemble(
    frames: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    fps: float,
    recipe: dict,
    audio_from: str | os.PathLike | None = None,
) -> Path:
    """Turn frame PNGs into ``output``, atomically, with the recipe beside it and inside it.

    By suffix: ``.mp4``/``.mov``/``.mkv`` (H.264 yuv420p via libx264, else mpeg4; odd sizes
    padded to even by repeating the edge; the first audio stream of ``audio_from``, if it has
    one, copied untouched when the container takes its codec, else re-encoded to AAC, and cut
    at the video's end), ``.gif`` (256 colours per frame) or ``.webp`` (lossy, quality 90);
    both loop forever and hold all frames in memory while writing: meant for short clips. A
    folder (existing, or a path ending in '/') means the PNG frames themselves: only the
    recipe is written (frames from elsewhere are copied in). The recipe goes to
    :func:`sidecar_path` and into the file (MP4/MKV/MOV comment tag, GIF comment, WebP EXIF).

    The output and sidecar are written to temp files beside them and renamed into place at the
    end: on any failure neither is left half-written. Unknown suffix: OutputPathError; bad
    frames or audio: VideoInputError; bad fps, no frames or a recipe too large: ValueError.

    Example:
        >>> assemble(written_frames("dream.frames"), "dream.mp4", 30, recipe,
        ...          audio_from="clip.mp4")  # doctest: +SKIP
        PosixPath('dream.mp4')
    """
    paths = [Path(frame) for frame in frames]
    target = Path(output)
    into_folder = _is_folder_output(output)
    suffix = None if into_folder else _output_format(target)
    rate = _frame_rate(fps)
    text = to_json(recipe)  # TypeError/ValueError before anything is written
    if not paths:
        raise ValueError("assemble: no frames to assemble")
    if into_folder:
        return _assemble_folder(paths, target, text)
    if not target.parent.is_dir():
        raise OutputPathError(
            f"{imageio.describe(target)}: directory does not exist: "
            f"{imageio.describe(target.parent)}"
        )
    size_hw = frame_pixels(paths[0], None).shape[:2]
    sidecar = sidecar_path(target)
    try:
        with temporary_beside(target) as media, temporary_beside(sidecar) as side:
            if suffix == ".gif":
                _write_gif(media, paths, rate, size_hw, text)
            elif suffix == ".webp":
                _write_webp(media, paths, rate, size_hw, text)
            else:
                _write_ffmpeg(media, paths, rate, size_hw, suffix, text, audio_from)
            side.write_text(text + "\n", encoding="ascii")
            move_into_place(media, target)
            move_into_place(side, sidecar)
    except av.FFmpegError as exc:  # the encoder or the disk; inputs were checked above
        raise OutputPathError(f"{imageio.describe(target)}: cannot write ({_reason(exc)})") from exc
    except OSError as exc:
        problem = f"cannot write ({_reason(exc)})"
        raise OutputPathError(f"{imageio.describe(target)}: {problem}") from None
    return target
