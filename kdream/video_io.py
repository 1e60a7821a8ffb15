"""Video input and output for ``kdream zoom`` and ``kdream video``: frames in, frames out.

numpy + Pillow + PyAV (FFmpeg, bundled in its wheel) only; no Keras here, so the CLI can probe
an input before any backend loads.

Reading: a video file (MP4, MOV, MKV, WebM, AVI, GIF, ...: decoded by FFmpeg; animated WebP by
Pillow, which this FFmpeg cannot decode) or a folder of images (sorted by name, numbers
compared as numbers) gives ``uint8`` HxWx3 RGB frames. Every way an input can be bad is a
:class:`VideoInputError` whose message is one line naming the file, never a PyAV traceback.
Untrusted files only reach FFmpeg's common video demuxers and its ``file`` protocol: playlists
(HLS), concat lists and URLs are refused, so a "video" cannot pull in other files.

Writing: each dreamed frame is an atomic PNG (``frame_000001.png``) carrying its recipe, so an
interrupted run resumes from the frames on disk; :func:`assemble` turns them into MP4/MOV/MKV
(H.264), GIF or animated WebP, atomically, with the recipe in a sidecar ``<output>.json`` and,
where the format has room, in the file itself:

* MP4/MOV/MKV: the container's ``comment`` tag, the recipe as plain JSON.
* GIF: the comment extension, ``kdream:`` followed by the JSON (as JPEG comments in imageio).
* WebP: the EXIF UserComment, ``kdream:`` followed by the JSON (as still WebPs in imageio).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import numpy as np
from PIL import Image

from kdream import imageio
from kdream.imageio import ImageInputError, OutputPathError

__all__ = [
    "DEFAULT_FPS",
    "FOLDER_RECIPE",
    "IMAGE_SUFFIXES",
    "OUTPUT_SUFFIXES",
    "VIDEO_SUFFIXES",
    "VideoInfo",
    "VideoInputError",
    "assemble",
    "frame_path",
    "probe",
    "read_frames",
    "read_video_recipe",
    "sidecar_path",
    "video_encoder",
    "write_frame",
    "written_frames",
]

VIDEO_SUFFIXES = (
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts",
    ".flv", ".wmv", ".asf", ".ogv", ".3gp", ".gif", ".webp",
)  # fmt: skip
"""Input suffixes recognised as video files (a folder of images is the other input)."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
"""Files taken as frames from an input folder; anything else there is ignored."""

OUTPUT_SUFFIXES = (".mp4", ".mov", ".mkv", ".gif", ".webp")
"""What :func:`assemble` writes; a folder (existing, or a path ending in '/') is the other."""

DEFAULT_FPS = 30.0
"""The rate of a folder of images (it has none of its own) and of a video that states none."""

FOLDER_RECIPE = "recipe.json"
"""The recipe's file when the output is a folder of PNG frames."""

# FFmpeg demuxers an input may reach (names as FFmpeg spells them). Autodetection would also
# hand a renamed playlist to the HLS or concat demuxer, which open further files or URLs.
_DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,gif,apng,mpeg,mpegts,mpegvideo,flv,asf,ogg,"
    "h264,hevc,m4v,ivf,obu,nut,yuv4mpegpipe"
)
_INPUT_OPTIONS = {"format_whitelist": _DEMUXERS, "protocol_whitelist": "file"}

_CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
# Audio codecs each container takes as they are (anything else is re-encoded to AAC).
_COPYABLE_AUDIO = {
    "mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus"},
    "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le"},
    "matroska": {
        "aac", "mp3", "ac3", "eac3", "alac", "opus", "vorbis", "flac", "pcm_s16le", "pcm_s24le",
        "pcm_f32le",
    },
}  # fmt: skip
# QuickTime's string atoms have a 16-bit length: a longer comment would come back cut.
_MOV_COMMENT_LIMIT = 65535
_X264_OPTIONS = {"crf": "18", "preset": "medium"}  # 18: dream texture survives, files stay sane
_MPEG4_BITS_PER_PIXEL = 0.5  # mpeg4 has no CRF; this keeps fine detail at ~14 Mbit/s for 720p30
_WEBP_QUALITY = 90
_MAX_FPS = 1000.0

_RECIPE_PREFIX = f"{imageio.RECIPE_KEY}:"
_NUMBER = re.compile(r"(\d+)")


class VideoInputError(ImageInputError):
    """A video input cannot be used; ``str(e)`` is one line: ``"<file>: <problem>"``.

    A subclass of :class:`~kdream.imageio.ImageInputError` (so of ``ValueError``): the CLI
    already prints those as one line with exit code 2.
    """


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


# --------------------------------------------------------------------------- errors


def _video_error(label: str, problem: str) -> VideoInputError:
    return VideoInputError(f"{label}: {' '.join(str(problem).split())}")


def _reason(exc: BaseException) -> str:
    """FFmpeg's own words (``strerror``) where there are some, without its errno noise."""
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split()) or type(exc).__name__


@contextlib.contextmanager
def _as_video_errors() -> Iterator[None]:
    """imageio's ImageInputError (one line, names the file) becomes a VideoInputError."""
    try:
        yield
    except VideoInputError:
        raise
    except ImageInputError as exc:
        raise VideoInputError(str(exc)) from None


def _check_file(path: str | os.PathLike, label: str) -> None:
    """Clear messages for the filesystem's problems before FFmpeg or Pillow sees the file."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _video_error(label, "no such file or folder") from None
    except OSError as exc:
        raise _video_error(label, f"cannot read ({_reason(exc)})") from None
    if not stat.S_ISREG(info.st_mode):
        raise _video_error(label, "not a regular file")
    if info.st_size == 0:
        raise _video_error(label, "empty file")


# --------------------------------------------------------------------------- reading


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
    return imageio.resize_rgb(rgb, size)


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
    with stream, _as_video_errors(), imageio._open_image(stream, label) as image:
        yield image


def _header_size_hw(path: Path) -> tuple[int, int]:
    """(height, width) from the header alone, as load_image will return it (EXIF-rotated)."""
    with _pillow_image(path, imageio._describe(path)) as image:
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
                imageio._describe(image),
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
    label = imageio._describe(path)
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
                imageio._describe(image), f"frame size differs from the earlier frames' {size_hw}"
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
    label = imageio._describe(path)
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


# --------------------------------------------------------------------------- frame files


def frame_path(folder: str | os.PathLike, index: int) -> Path:
    """Where frame ``index`` (1-based) lives.

    Example:
        >>> frame_path("out", 7).as_posix()
        'out/frame_000007.png'
    """
    return Path(folder) / f"frame_{index:06d}.png"


def write_frame(
    folder: str | os.PathLike, index: int, rgb: np.ndarray, recipe: dict | None
) -> Path:
    """Atomically write frame ``index`` (1-based) as a PNG with its recipe; creates ``folder``.

    Example:
        >>> write_frame("frames", 1, rgb, {"seed": 1})  # doctest: +SKIP
        PosixPath('frames/frame_000001.png')
    """
    if type(index) is not int or index < 1:
        raise ValueError(f"frame index must be an int >= 1, got {index!r}")
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = f"cannot create ({_reason(exc)})"
        raise OutputPathError(f"{imageio._describe(folder)}: {problem}") from None
    return imageio.save_image(frame_path(folder, index), rgb, recipe=recipe)


def written_frames(folder: str | os.PathLike) -> list[Path]:
    """``frame_000001.png``, ``frame_000002.png``, ... present in ``folder``, up to the first gap.

    Frames are written atomically, so each one found is complete; after a gap, frames belong
    to no consecutive run and are ignored. A missing folder has none.

    Example:
        >>> [p.name for p in written_frames("frames")]  # doctest: +SKIP
        ['frame_000001.png', 'frame_000002.png']
    """
    found: list[Path] = []
    while (path := frame_path(folder, len(found) + 1)).is_file():
        found.append(path)
    return found


def _frame_pixels(path: Path, size_hw: tuple[int, int] | None) -> np.ndarray:
    """One written frame for assembly, checked against the first frame's size."""
    with _as_video_errors():
        rgb = imageio.load_image(path).rgb
    if size_hw is not None and rgb.shape[:2] != tuple(size_hw):
        raise _video_error(
            imageio._describe(path),
            f"frame is {rgb.shape[1]}x{rgb.shape[0]}, the first was {size_hw[1]}x{size_hw[0]}",
        )
    return rgb


# --------------------------------------------------------------------------- assembling


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
            f"{imageio._describe(output)}: unsupported video output extension {suffix!r} "
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


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[Path]:
    """A temp file in ``target``'s folder (so os.replace is atomic); gone afterwards unless
    it was moved into place."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)  # already renamed when all went well


def _move_into_place(temporary: Path, target: Path) -> None:
    """fsync, give it a normal file's permissions (mkstemp makes 0600), rename over target."""
    with open(temporary, "rb") as stream:
        os.fsync(stream.fileno())
    os.chmod(temporary, imageio._final_mode(target))
    os.replace(temporary, target)


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
        self.label = imageio._describe(source)
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
        label = imageio._describe(source)
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
            out.mux(video.encode(_yuv_frame(_even(_frame_pixels(path, size_hw)), index)))
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
    images = [_palette_image(_frame_pixels(path, size_hw)) for path in frames]
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
    images = [Image.fromarray(_frame_pixels(path, size_hw)) for path in frames]
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
            exif=imageio._recipe_exif(text),
        )


def _assemble_folder(frames: list[Path], folder: Path, text: str) -> Path:
    """Frames elsewhere are copied in under their frame_NNNNNN.png names; then the recipe."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = f"cannot create ({_reason(exc)})"
        raise OutputPathError(f"{imageio._describe(folder)}: {problem}") from None
    for index, source in enumerate(frames, start=1):
        target = frame_path(folder, index)
        if not (target.exists() and os.path.samefile(source, target)):
            with open(source, "rb") as data:
                imageio._write_atomically(target, lambda stream: shutil.copyfileobj(data, stream))
    imageio._write_atomically(folder / FOLDER_RECIPE, lambda s: s.write(text.encode() + b"\n"))
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
    text = imageio._recipe_json(recipe)  # TypeError/ValueError before anything is written
    if not paths:
        raise ValueError("assemble: no frames to assemble")
    if into_folder:
        return _assemble_folder(paths, target, text)
    if not target.parent.is_dir():
        raise OutputPathError(
            f"{imageio._describe(target)}: directory does not exist: "
            f"{imageio._describe(target.parent)}"
        )
    size_hw = _frame_pixels(paths[0], None).shape[:2]
    sidecar = sidecar_path(target)
    try:
        with _temporary_beside(target) as media, _temporary_beside(sidecar) as side:
            if suffix == ".gif":
                _write_gif(media, paths, rate, size_hw, text)
            elif suffix == ".webp":
                _write_webp(media, paths, rate, size_hw, text)
            else:
                _write_ffmpeg(media, paths, rate, size_hw, suffix, text, audio_from)
            side.write_text(text + "\n", encoding="ascii")
            _move_into_place(media, target)
            _move_into_place(side, sidecar)
    except av.FFmpegError as exc:  # the encoder or the disk; inputs were checked above
        raise OutputPathError(
            f"{imageio._describe(target)}: cannot write ({_reason(exc)})"
        ) from exc
    except OSError as exc:
        problem = f"cannot write ({_reason(exc)})"
        raise OutputPathError(f"{imageio._describe(target)}: {problem}") from None
    imageio._fsync_directory(target.parent)
    return target


# --------------------------------------------------------------------------- recipes


def _read_sidecar(path: Path) -> dict:
    label = imageio._describe(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            text = stream.read(imageio.MAX_RECIPE_CHARS + 1)  # never slurp a huge file
    except OSError as exc:
        raise _video_error(label, f"cannot read ({_reason(exc)})") from None
    return imageio._parse_recipe(text.strip(), label)


def _container_comment(path: str | os.PathLike, label: str) -> str | None:
    with _open_input(path, label) as container:
        for key, value in container.metadata.items():
            if key.lower() == "comment" and value.lstrip().startswith("{"):  # JSON: ours
                return value
    return None


def read_video_recipe(path: str | os.PathLike) -> dict:
    """The recipe :func:`assemble` stored: its sidecar if present, else inside the file.

    A folder's recipe is its ``recipe.json``. Size and depth limits and checks are imageio's
    (:func:`kdream.imageio.read_recipe`). No recipe anywhere: :class:`VideoInputError`.

    Example:
        >>> read_video_recipe("dream.mp4")["motion"]["kind"]  # doctest: +SKIP
        'video'
    """
    label = imageio._describe(path)
    with _as_video_errors():
        sidecar = sidecar_path(path)
        if sidecar.is_file():
            return _read_sidecar(sidecar)
        if _kind(path) == "folder":
            raise _video_error(label, f"no kdream recipe ({FOLDER_RECIPE}) in this folder")
        if Path(path).suffix.lower() in (".gif", ".webp"):
            return imageio.read_recipe(path)
        text = _container_comment(path, label)
        if text is None:
            raise _video_error(label, "no kdream recipe in this video")
        return imageio._parse_recipe(text, label)
