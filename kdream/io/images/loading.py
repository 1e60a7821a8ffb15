"""Loading pictures carefully: whatever the user hands us (EXIF-rotated JPEGs, palette GIFs,
16-bit PNGs, CMYK scans, animations) becomes ``uint8`` HxWx3 RGB plus an optional alpha.

Pure Pillow + numpy + stdlib on purpose: the CLI and TUI import this before any Keras backend
is chosen. Every way a file can be bad is an :class:`ImageInputError` with a one-line message
that names the file.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kdream.io.images.messages import describe, input_error, reason_of
from kdream.recipe import SAMPLE_PREFIX

# Refuse anything larger before decoding: 1e8 pixels is ~400 MB as RGBA, far beyond what a
# dream needs, and a small file declaring a huge canvas must not make us allocate it.
MAX_PIXELS = 100_000_000


SAMPLE_NAME = "coffee.png"


SAMPLE_SOURCE = f"{SAMPLE_PREFIX}{SAMPLE_NAME}"


# Formats we are willing to parse. Restricting Image.open keeps exotic plugins (EPS runs
# Ghostscript, for instance) out of reach of untrusted input.
_INPUT_FORMATS = (
    "PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP", "TIFF", "PPM", "TGA", "ICO", "AVIF",
)  # fmt: skip


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays field-wise is ambiguous
class LoadedImage:
    """A decoded input image, normalised for the dream engine.

    Attributes:
        rgb: ``uint8`` array of shape (H, W, 3), C-contiguous.
        alpha: ``uint8`` array of shape (H, W), or None when the image is fully opaque.
        source: the path as given, or ``"sample:coffee.png"`` for the embedded sample.
        notices: human-readable remarks about lossy conversions made while loading.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    source: str
    notices: tuple[str, ...] = ()


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
"""What a folder of photos is read for (by name: a file is checked when it is read)."""


def _allowed_formats() -> list[str]:
    Image.init()  # registers all plugins so that the availability check below is accurate
    return [name for name in _INPUT_FORMATS if name in Image.OPEN]


def check_input_file(path: str | os.PathLike, label: str) -> None:
    """Give the common filesystem problems a clear message before Pillow sees the file."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise input_error(label, "no such file") from None
    except PermissionError:
        raise input_error(label, "permission denied") from None
    except OSError as exc:
        raise input_error(label, f"cannot read ({reason_of(exc)})") from None
    if stat.S_ISDIR(info.st_mode):
        raise input_error(label, "is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise input_error(label, "not a regular file")
    if info.st_size == 0:
        raise input_error(label, "empty file")


@contextlib.contextmanager
def open_image(stream: BinaryIO, label: str) -> Iterator[Image.Image]:
    """Open (header only) with decompression-bomb checks; decode errors become ImageInputError."""
    try:
        with warnings.catch_warnings():
            # Pillow only *warns* between MAX_IMAGE_PIXELS and twice that; we refuse outright.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=_allowed_formats())
    except UnidentifiedImageError:
        raise input_error(label, "not an image (cannot identify image file)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise input_error(label, f"image too large, refused as a possible bomb ({exc})") from None
    except Exception as exc:  # Pillow's plugins raise a zoo of types (SyntaxError, struct.error…)
        raise input_error(label, f"cannot read image header ({reason_of(exc)})") from None
    with image:
        _check_pixel_count(image, label)
        yield image


def _check_pixel_count(image: Image.Image, label: str) -> None:
    """Our own limit, independent of Pillow's global (which another library may have raised)."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise input_error(
            label,
            f"image too large ({width}x{height} = {width * height} pixels; "
            f"the limit is {MAX_PIXELS} pixels)",
        )
    if width == 0 or height == 0:
        raise input_error(label, f"image has no pixels ({width}x{height})")


def _frame_notice(image: Image.Image) -> str | None:
    """A notice when frames beyond the first are being dropped."""
    if not getattr(image, "is_animated", False):
        return None
    if image.format == "MPO":
        # Phone "MPO" JPEGs carry the photo first and previews/depth maps after: nothing lost.
        return None
    if image.format == "TIFF":
        return "multi-page image: using the first page"
    return "animated image: using the first frame"


def _tile_rawmode(image: Image.Image) -> str:
    """The raw pixel layout the decoder will read, e.g. ``"RGB;16B"`` (empty if unknown)."""
    if not image.tile:
        return ""
    args = image.tile[0].args
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return ""


def _decode_first_frame(image: Image.Image, label: str) -> tuple[Image.Image, list[str]]:
    """Fully decode frame 0 (so truncation is caught here) and apply the EXIF orientation."""
    notices = []
    frame_notice = _frame_notice(image)
    if frame_notice:
        notices.append(frame_notice)
    try:
        image.seek(0)
        # Pillow decodes 16-bit RGB(A) straight to 8 bits; the tile's raw mode is the only trace.
        if ";16" in _tile_rawmode(image) and image.mode in ("RGB", "RGBA", "LA"):
            notices.append("16-bit image converted to 8-bit")
        image.load()  # forces the full decode: truncated data raises here, not later
        oriented = ImageOps.exif_transpose(image)
    except Exception as exc:  # any decoder failure is a bad file, whatever its exception type
        raise input_error(label, f"cannot decode image ({reason_of(exc)})") from None
    return oriented, notices


def _high_depth_to_gray8(image: Image.Image) -> tuple[Image.Image, str]:
    """Map 16/32-bit integer or float grayscale to 8-bit ``L``, with the matching notice."""
    values = np.asarray(image).astype(np.float64)
    if image.mode.startswith("I;16"):
        scaled, notice = values / 257.0, "16-bit image converted to 8-bit"
    elif image.mode == "I" and values.min() >= 0 and values.max() <= 65535:
        # 16-bit PNG/PPM data may arrive as mode I; treat the 0..65535 range as 16-bit.
        scaled, notice = values / 257.0, "16-bit image converted to 8-bit"
    elif image.mode == "F" and values.min() >= 0 and values.max() <= 1:
        scaled, notice = values * 255.0, "32-bit float image converted to 8-bit"
    else:
        # No natural range (signed ints, HDR floats): stretch what is there to 0..255.
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        span = high - low if high > low else 1.0
        scaled = (np.nan_to_num(values, nan=low) - low) * (255.0 / span)
        notice = f"32-bit image (mode {image.mode}) rescaled to 8-bit"
    gray8 = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(gray8, mode="L"), notice


def _to_rgb_and_alpha(
    image: Image.Image, label: str
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Convert any Pillow mode into (uint8 HxWx3, uint8 HxW alpha or None, notices)."""
    notices = []
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image, notice = _high_depth_to_gray8(image)
        notices.append(notice)
    target = "RGBA" if image.has_transparency_data else "RGB"
    try:
        converted = image.convert(target)
    except Exception as exc:  # e.g. LAB has no direct conversion in Pillow
        raise input_error(label, f"unsupported mode {image.mode} ({reason_of(exc)})") from None
    pixels = np.array(converted, dtype=np.uint8)  # np.array: an owned, writable, contiguous copy
    rgb = np.ascontiguousarray(pixels[:, :, :3])
    alpha = None
    if target == "RGBA":
        alpha = np.ascontiguousarray(pixels[:, :, 3])
        if alpha.min() == 255:  # transparency declared but unused: treat as opaque
            alpha = None
    return rgb, alpha, notices


def _load_from_stream(stream: BinaryIO, label: str, source: str) -> LoadedImage:
    with open_image(stream, label) as image:
        frame, notices = _decode_first_frame(image, label)
        rgb, alpha, more_notices = _to_rgb_and_alpha(frame, label)
    return LoadedImage(rgb=rgb, alpha=alpha, source=source, notices=tuple(notices + more_notices))


def load_image(path: str | os.PathLike) -> LoadedImage:
    """Load an image file as RGB (+ optional alpha), raising ImageInputError for bad files.

    EXIF orientation is applied; grayscale, palette, CMYK and 16-bit images are converted to
    8-bit RGB; animations give their first frame. ``notices`` says what was converted.

    Example:
        >>> img = load_image("photo.jpg")                         # doctest: +SKIP
        >>> img.rgb.shape, img.rgb.dtype, img.alpha, img.notices  # doctest: +SKIP
        ((400, 600, 3), dtype('uint8'), None, ())
    """
    label = describe(path)
    check_input_file(path, label)
    try:
        stream = open(path, "rb")  # closed by the with-block just below
    except PermissionError:
        raise input_error(label, "permission denied") from None
    except OSError as exc:
        raise input_error(label, f"cannot read ({reason_of(exc)})") from None
    with stream:
        return _load_from_stream(stream, label, source=os.fspath(path))


def load_sample() -> LoadedImage:
    """Load the embedded sample photo (a cup of coffee, CC0, by Rachel Michetti).

    Example:
        >>> sample = load_sample()
        >>> sample.source, sample.rgb.shape
        ('sample:coffee.png', (400, 600, 3))
    """
    data = (resources.files("kdream") / "data" / SAMPLE_NAME).read_bytes()
    return _load_from_stream(io.BytesIO(data), SAMPLE_SOURCE, source=SAMPLE_SOURCE)
