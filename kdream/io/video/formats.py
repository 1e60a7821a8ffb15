"""What kdream reads and writes as video: suffixes, FFmpeg demuxers and codecs, encoder
settings, and the error every bad input becomes."""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator

from kdream.io import images as imageio
from kdream.io.images.messages import ImageInputError

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
