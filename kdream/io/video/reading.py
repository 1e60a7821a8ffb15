"""Reading: probe a video file, an animated GIF/WebP or a folder of images, and decode its
frames as uint8 RGB."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from kdream.io import images as imageio
from kdream.pixels import resize

from .formats import (
    _INPUT_OPTIONS,
    _NUMBER,
    DEFAULT_FPS,
    IMAGE_SUFFIXES,
    _as_video_errors,
    _check_file,
    _reason,
    _video_error,
)


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` found out about a video input.

    Attributes:
        source: the path as given.
        fps: frames per second (a folder's is given by the caller, 30 by default).
        frame_count: how many frames, or None where neither the file nor a cheap scan says.
        size_hw: (height, width) of the frames as shown (rotation metadata applied).
        has_audio: whether there is an audio stream :func:`assemble` can carry over.
    """

    source: str
    fps: float
    frame_count: int | None
    size_hw: tuple[int, int]
    has_audio: bool


def _kind(path: str | os.PathLike) -> str:
    """'folder', 'pillow' (animated WebP: this FFmpeg cannot decode it) or 'ffmpeg'."""
    if os.path.isdir(path):
        return "folder"
    return "pillow" if Path(path).suffix.lower() == ".webp" else "ffmpeg"


def _open_input(path: str | os.PathLike, label: str) -> av.container.InputContainer:
    """Open with FFmpeg, restricted to local files and the demuxers in ``_DEMUXERS``."""
    _check_file(path, label)
    url = "file:" + os.path.abspath(path)  # "file:": a name such as "pipe:0" stays a file name
    try:
        try:
            return av.open(url, container_options=_INPUT_OPTIONS)
        except UnicodeDecodeError:
            # PyAV < 19 decodes tags as strict UTF-8 while opening: a title in another encoding
            # must not make the video unreadable (PyAV 19 keeps such bytes as surrogates and
            # has no metadata_errors argument, so it is only passed here).
            return av.open(url, container_options=_INPUT_OPTIONS, metadata_errors="replace")
    except Exception as exc:  # PyAV raises FFmpegError subclasses, OSError, ValueError...
        raise _video_error(label, f"not a readable video ({_reason(exc)})") from None


def _video_stream(container, label: str):
    if not container.streams.video:
        if container.streams.audio:
            raise _video_error(label, "no video stream (audio only)")
        # FFmpeg still "opens" a file whose header is damaged, and finds no stream in it.
        raise _video_error(label, "no video or audio stream: a damaged file, or not a video")
    stream = container.streams.video[0]
    if stream.codec_context is None:  # FFmpeg has no decoder for it (or the id is unknown)
        raise _video_error(label, "unknown video codec: this FFmpeg cannot decode it")
    stream.thread_type = "AUTO"  # frame + slice threads: decoding is not the bottleneck then
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > imageio.MAX_PIXELS:  # refuse before decoding, as images are
        raise _video_error(label, f"frames too large ({width}x{height} pixels)")
    return stream


def _stream_fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate and rate > 0 else DEFAULT_FPS


def _check_complete(stream, path: str | os.PathLike, label: str) -> None:
    """A cut-off download whose index was written first (MP4 'faststart') opens fine and then
    silently decodes fewer frames: its index points past the end of the file."""
    size = os.path.getsize(path)
    last_byte = max((entry.pos + entry.size for entry in stream.index_entries), default=0)
    if last_byte > size:
        raise _video_error(label, f"truncated ({size} bytes; its index needs {last_byte})")


def _decoded(container, stream, label: str) -> Iterator:
    """``container.decode`` with every decoder failure reported as a VideoInputError."""
    frames = container.decode(stream)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except Exception as exc:
            raise _video_error(label, f"cannot decode video ({_reason(exc)})") from None
        yield frame


def _upright_rgb(frame) -> np.ndarray:
    """RGB as the video is meant to be seen: phones store portrait video sideways plus a
    rotation (counter-clockwise degrees in ``frame.rotation``) that players apply."""
    rgb = frame.to_ndarray(format="rgb24")  # uses the frame's colour matrix (601/709) and range
    turns = round(frame.rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _fit(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink so the longer side is at most ``max_side`` (as ``kdream dream`` rounds it).

    Example:
        >>> _fit(np.zeros((100, 300, 3), np.uint8), 150).shape
        (50, 150, 3)
    """
    if not max_side or max(rgb.shape[:2]) <= max_side:
        return rgb
    factor = max_side / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[0] * factor)), max(1, round(rgb.shape[1] * factor)))
    return resize(rgb, size)


def _natural_key(path: Path) -> list:
    """Sort key so frame_2.png comes before frame_10.png (zero-padded names sort as usual)."""
    return [int(part) if part.isdigit() else part for part in _NUMBER.split(path.name.lower())]


def _folder_images(folder: str | os.PathLike, label: str) -> list[Path]:
    try:
        entries = list(Path(folder).iterdir())
    except OSError as exc:
        raise _video_error(label, f"cannot list folder ({_reason(exc)})") from None
    images = [
        entry
        for entry in entries
        # dot files: our own temp files and macOS' "._name" resource forks are no frames
        if entry.suffix.lower() in IMAGE_SUFFIXES and not entry.name.startswith(".")
        if entry.is_file()
    ]
    if not images:
        allowed = " ".join(IMAGE_SUFFIXES)
        raise _video_error(label, f"folder holds no images ({allowed})")
    return sorted(images, key=_natural_key)


@contextlib.contextmanager
def _pillow_image(path: str | os.PathLike, label: str) -> Iterator[Image.Image]:
    """Pillow's view of a file, header only, through imageio's format and size checks."""
    _check_file(path, label)
    try:
        stream = open(path, "rb")  # closed by the with-block just below
    except OSError as exc:
        raise _video_error(label, f"cannot read ({_reason(exc)})") from None
    with stream, _as_video_errors(), imageio.open_image(stream, label) as image:
        yield image


def _header_size_hw(path: Path) -> tuple[int, int]:
    """(height, width) from the header alone, as load_image will return it (EXIF-rotated)."""
    with _pillow_image(path, imageio.describe(path)) as image:
        width, height = image.size
        orientation = 1
        with contextlib.suppress(Exception):  # a broken EXIF block shows when the frame loads
            orientation = image.getexif().get(0x0112, 1)  # 5..8: stored sideways
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def _probe_folder(folder: str | os.PathLike, label: str, fps: float) -> VideoInfo:
    images = _folder_images(folder, label)
    first = imageio.load_image(images[0]).rgb  # decodes it fully: a broken frame shows now
    for image in images[1:]:
        size_hw = _header_size_hw(image)
        if size_hw != first.shape[:2]:
            raise _video_error(
                imageio.describe(image),
                f"frame size {size_hw[1]}x{size_hw[0]} differs from the first frame's "
                f"{first.shape[1]}x{first.shape[0]} ({images[0].name})",
            )
    return VideoInfo(os.fspath(folder), float(fps), len(images), first.shape[:2], False)


def _probe_pillow(path: str | os.PathLike, label: str) -> VideoInfo:
    with _pillow_image(path, label) as image:
        count = getattr(image, "n_frames", 1)
        try:
            image.seek(0)
            rgb = np.asarray(image.convert("RGB"))
        except Exception as exc:
            raise _video_error(label, f"cannot decode frame 1 ({_reason(exc)})") from None
        duration_ms = image.info.get("duration") or 0
    fps = 1000.0 / duration_ms if duration_ms > 0 else DEFAULT_FPS
    return VideoInfo(os.fspath(path), fps, count, rgb.shape[:2], False)


def _count_packets(path: str | os.PathLike, label: str) -> int | None:
    """Frames by demuxing without decoding (MKV/WebM do not store a count): I/O only."""
    with _open_input(path, label) as container:
        stream = container.streams.video[0]
        try:
            return sum(1 for packet in container.demux(stream) if packet.size) or None
        except Exception:  # the count is a convenience; read_frames reports real damage
            return None


def _usable_audio(container):
    """The first audio stream FFmpeg knows the codec of (so it can be copied or re-encoded)."""
    for stream in container.streams.audio:
        with contextlib.suppress(Exception):
            if stream.codec_context.codec.canonical_name:
                return stream
    return None


def _probe_ffmpeg(path: str | os.PathLike, label: str) -> VideoInfo:
    with _open_input(path, label) as container:
        stream = _video_stream(container, label)
        _check_complete(stream, path, label)
        first = next(_decoded(container, stream, label), None)
        if first is None:
            raise _video_error(label, "no frames could be decoded (zero frames or truncated)")
        size_hw = _upright_rgb(first).shape[:2]
        has_audio = _usable_audio(container) is not None
        fps, count = _stream_fps(stream), stream.frames or None
    if count is None:
        count = _count_packets(path, label)
    return VideoInfo(os.fspath(path), fps, count, size_hw, has_audio)


def probe(path: str | os.PathLike, folder_fps: float = DEFAULT_FPS) -> VideoInfo:
    """Frame rate, frame count, size and audio of a video file or a folder of images.

    The first frame is decoded, so a file that opens but cannot be decoded fails here, not
    halfway through a run. A missing path, an unreadable or truncated file, zero frames, an
    unknown codec or format, a folder without images or with frames of different sizes raise
    :class:`VideoInputError` (one line naming the file). ``folder_fps`` is a folder's rate.

    Example:
        >>> probe("clip.mp4")  # doctest: +SKIP
        VideoInfo(source='clip.mp4', fps=12.0, frame_count=24, size_hw=(48, 64), has_audio=True)
    """
    label = imageio.describe(path)
    with _as_video_errors():
        kind = _kind(path)
        if kind == "folder":
            return _probe_folder(path, label, folder_fps)
        if kind == "pillow":
            return _probe_pillow(path, label)
        return _probe_ffmpeg(path, label)


def _ffmpeg_frames(path, label: str, start: int) -> Iterator[np.ndarray]:
    with _open_input(path, label) as container:
        stream = _video_stream(container, label)
        index = -1
        for index, frame in enumerate(_decoded(container, stream, label)):
            if index >= start:  # frames before `start` are decoded but never converted
                yield _upright_rgb(frame)
        _check_all_decoded(stream, index + 1, label)


def _check_all_decoded(stream, decoded: int, label: str) -> None:
    """Fewer frames than the header promised, ending well before its duration: cut off.
    (Both, because edit lists may legitimately hide a few frames the header still counts.)"""
    declared = stream.frames
    if not declared or decoded >= declared or not stream.duration:
        return
    duration = float(stream.duration * stream.time_base)
    if (decoded + 2) / _stream_fps(stream) < duration:
        raise _video_error(label, f"truncated or corrupt: {decoded} of {declared} frames decode")


def _pillow_frames(path, label: str, start: int) -> Iterator[np.ndarray]:
    with _pillow_image(path, label) as image:
        for index in range(start, getattr(image, "n_frames", 1)):
            try:
                image.seek(index)
                rgb = np.array(image.convert("RGB"), dtype=np.uint8)
            except Exception as exc:
                problem = f"cannot decode frame {index + 1} ({_reason(exc)})"
                raise _video_error(label, problem) from None
            yield rgb


def _folder_frames(folder, label: str, start: int) -> Iterator[np.ndarray]:
    images = _folder_images(folder, label)
    size_hw = None
    for image in images[start:]:
        rgb = imageio.load_image(image).rgb  # EXIF rotation, 16-bit, CMYK...; alpha dropped
        if size_hw is not None and rgb.shape[:2] != size_hw:
            raise _video_error(
                imageio.describe(image), f"frame size differs from the earlier frames' {size_hw}"
            )
        size_hw = rgb.shape[:2]
        yield rgb


def read_frames(
    path: str | os.PathLike, start: int = 0, max_side: int | None = None
) -> Iterator[np.ndarray]:
    """The frames of a video file or image folder, in order, as ``uint8`` (H, W, 3) RGB.

    Frames before index ``start`` (0-based) are skipped (decoded, not converted: exact even
    where seeking is not), for ``--resume``. With ``max_side`` each frame is shrunk (Lanczos)
    so its longer side is at most that; sizes may be odd. A missing path raises at once; other
    problems (including decoding errors and truncation found mid-stream) raise
    :class:`VideoInputError` from the iteration.

    Example:
        >>> frames = read_frames("clip.mp4", start=10, max_side=32)  # doctest: +SKIP
        >>> next(frames).shape  # doctest: +SKIP
        (24, 32, 3)
    """
    label = imageio.describe(path)
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be >= 1 or None, got {max_side}")
    if not os.path.exists(path):
        raise _video_error(label, "no such file or folder")
    readers = {"folder": _folder_frames, "pillow": _pillow_frames, "ffmpeg": _ffmpeg_frames}
    return _fitted(readers[_kind(path)](path, label, start), max_side)


def _fitted(frames: Iterator[np.ndarray], max_side: int | None) -> Iterator[np.ndarray]:
    with _as_video_errors(), contextlib.closing(frames):  # closing: the file shuts at once
        for rgb in frames:
            yield _fit(rgb, max_side)
