"""Image input and output for kdream: careful loading, atomic saving, recipes in metadata.

Pure Pillow + numpy + stdlib on purpose: the CLI and TUI import this before any Keras backend
is chosen, so it must stay cheap and backend-free.

Loading turns whatever the user hands us (EXIF-rotated JPEGs, palette GIFs, 16-bit PNGs, CMYK
scans, animations) into one shape: ``uint8`` HxWx3 RGB plus an optional ``uint8`` HxW alpha.
Every way a file can be bad is reported as :class:`ImageInputError` with a one-line message that
names the file, so the CLI can print it as-is.

Saving picks the format from the extension, writes through a temporary file in the target
directory and renames it into place, so a crash never leaves a half-written image behind. The
dream *recipe* (the settings that produced the image) travels inside the file:

* PNG: an iTXt text chunk named ``kdream`` holding the JSON.
* JPEG: the COM comment segment, ``kdream:`` followed by the JSON.
* WebP: the EXIF UserComment tag (ASCII charset), ``kdream:`` followed by the JSON.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import re
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageOps, PngImagePlugin, UnidentifiedImageError

__all__ = [
    "MAX_PIXELS",
    "MAX_RECIPE_CHARS",
    "MAX_RECIPE_DEPTH",
    "RECIPE_KEY",
    "SAMPLE_NAME",
    "SAMPLE_SOURCE",
    "SUPPORTED_OUTPUT_SUFFIXES",
    "ImageInputError",
    "LoadedImage",
    "OutputPathError",
    "check_output_path",
    "default_output_path",
    "load_image",
    "load_sample",
    "read_recipe",
    "resize_rgb",
    "save_image",
    "supports_alpha",
]

RECIPE_KEY = "kdream"

# Refuse anything larger before decoding: 1e8 pixels is ~400 MB as RGBA, far beyond what a
# dream needs, and a small file declaring a huge canvas must not make us allocate it.
MAX_PIXELS = 100_000_000

# Recipes come from files strangers hand us, so they are bounded before they are parsed. A
# real recipe is ~1 KB of JSON, 5 levels deep; one whose objective names every channel of
# mixed0..mixed10 (in its config and again in its objective) is ~105 KB. 256 KiB stays well
# above that and parses in about a millisecond (Pillow itself reads an uncompressed text chunk
# of any size). json.loads recurses once per level: 100,000 '[' overflow the interpreter's
# stack guard, so depth is checked on the raw text first; 32 is far above 5, far below 1000.
MAX_RECIPE_CHARS = 256 * 1024
MAX_RECIPE_DEPTH = 32

SAMPLE_NAME = "coffee.png"
SAMPLE_SOURCE = f"sample:{SAMPLE_NAME}"

# Formats we are willing to parse. Restricting Image.open keeps exotic plugins (EPS runs
# Ghostscript, for instance) out of reach of untrusted input.
_INPUT_FORMATS = (
    "PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP", "TIFF", "PPM", "TGA", "ICO", "AVIF",
)  # fmt: skip

_OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
SUPPORTED_OUTPUT_SUFFIXES = tuple(_OUTPUT_FORMATS)
_ALPHA_FORMATS = frozenset({"PNG", "WEBP"})

# The EXIF UserComment value starts with an 8-byte character-code header.
_EXIF_ASCII_HEADER = b"ASCII\x00\x00\x00"
_RECIPE_PREFIX = f"{RECIPE_KEY}:"

_JPEG_QUALITY = 95

# One JSON token that matters for nesting: a whole string (an unterminated one runs to the
# end: no backtracking, so the scan stays linear on hostile text) or a bracket.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)

# The recipe sections kdream reads back, and the JSON type each must have when present, so
# that e.g. ``"input": [1]`` is a bad recipe here, not a crash in the code that reads it.
_RECIPE_SECTIONS = {
    "config": dict, "weights": dict, "input": dict, "objective": list, "backend": str,
}  # fmt: skip
_RECIPE_STRINGS = (("weights", "source"), ("weights", "sha256"), ("input", "source"))
_JSON_NAMES = {dict: "object", list: "array", str: "string"}


class ImageInputError(ValueError):
    """An input image cannot be used; ``str(e)`` is one line: ``"<file>: <problem>"``."""


class OutputPathError(ValueError):
    """An output path cannot be written; ``str(e)`` is one line: ``"<file>: <problem>"``."""


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


# --------------------------------------------------------------------------- messages


def _one_line(text: str) -> str:
    """Collapse whitespace so a message can never span several lines."""
    return " ".join(str(text).split())


def _describe(path: str | os.PathLike) -> str:
    """The file name as the user typed it, kept on one line."""
    return os.fspath(path).replace("\n", "\\n").replace("\r", "\\r")


def _input_error(label: str, problem: str) -> ImageInputError:
    return ImageInputError(f"{label}: {_one_line(problem)}")


def _output_error(path: str | os.PathLike, problem: str) -> OutputPathError:
    return OutputPathError(f"{_describe(path)}: {_one_line(problem)}")


def _reason(exc: BaseException) -> str:
    """A short reason from an exception (its message, or its type name if it has none)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _one_line(str(exc)) or type(exc).__name__


# --------------------------------------------------------------------------- loading


def _allowed_formats() -> list[str]:
    Image.init()  # registers all plugins so that the availability check below is accurate
    return [name for name in _INPUT_FORMATS if name in Image.OPEN]


def _check_input_file(path: str | os.PathLike, label: str) -> None:
    """Give the common filesystem problems a clear message before Pillow sees the file."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _input_error(label, "no such file") from None
    except PermissionError:
        raise _input_error(label, "permission denied") from None
    except OSError as exc:
        raise _input_error(label, f"cannot read ({_reason(exc)})") from None
    if stat.S_ISDIR(info.st_mode):
        raise _input_error(label, "is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise _input_error(label, "not a regular file")
    if info.st_size == 0:
        raise _input_error(label, "empty file")


@contextlib.contextmanager
def _open_image(stream: BinaryIO, label: str) -> Iterator[Image.Image]:
    """Open (header only) with decompression-bomb checks; decode errors become ImageInputError."""
    try:
        with warnings.catch_warnings():
            # Pillow only *warns* between MAX_IMAGE_PIXELS and twice that; we refuse outright.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=_allowed_formats())
    except UnidentifiedImageError:
        raise _input_error(label, "not an image (cannot identify image file)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _input_error(label, f"image too large, refused as a possible bomb ({exc})") from None
    except Exception as exc:  # Pillow's plugins raise a zoo of types (SyntaxError, struct.error…)
        raise _input_error(label, f"cannot read image header ({_reason(exc)})") from None
    with image:
        _check_pixel_count(image, label)
        yield image


def _check_pixel_count(image: Image.Image, label: str) -> None:
    """Our own limit, independent of Pillow's global (which another library may have raised)."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _input_error(
            label,
            f"image too large ({width}x{height} = {width * height} pixels; "
            f"the limit is {MAX_PIXELS} pixels)",
        )
    if width == 0 or height == 0:
        raise _input_error(label, f"image has no pixels ({width}x{height})")


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
        raise _input_error(label, f"cannot decode image ({_reason(exc)})") from None
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
        raise _input_error(label, f"unsupported mode {image.mode} ({_reason(exc)})") from None
    pixels = np.array(converted, dtype=np.uint8)  # np.array: an owned, writable, contiguous copy
    rgb = np.ascontiguousarray(pixels[:, :, :3])
    alpha = None
    if target == "RGBA":
        alpha = np.ascontiguousarray(pixels[:, :, 3])
        if alpha.min() == 255:  # transparency declared but unused: treat as opaque
            alpha = None
    return rgb, alpha, notices


def _load_from_stream(stream: BinaryIO, label: str, source: str) -> LoadedImage:
    with _open_image(stream, label) as image:
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
    label = _describe(path)
    _check_input_file(path, label)
    try:
        stream = open(path, "rb")  # closed by the with-block just below
    except PermissionError:
        raise _input_error(label, "permission denied") from None
    except OSError as exc:
        raise _input_error(label, f"cannot read ({_reason(exc)})") from None
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


def resize_rgb(rgb: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 HxWx3 (or HxW, e.g. alpha) image to ``size_hw`` with Lanczos filtering.

    Example:
        >>> resize_rgb(np.zeros((40, 60, 3), np.uint8), (20, 30)).shape
        (20, 30, 3)
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or not (rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] == 3)):
        raise ValueError(f"expected a uint8 HxW or HxWx3 array, got {rgb.dtype} {rgb.shape}")
    height, width = (int(v) for v in size_hw)
    if height < 1 or width < 1:
        raise ValueError(f"target size must be positive, got {size_hw}")
    if (height, width) == rgb.shape[:2]:
        return np.array(rgb, order="C")
    resized = Image.fromarray(np.ascontiguousarray(rgb)).resize(
        (width, height), Image.Resampling.LANCZOS
    )
    return np.array(resized, dtype=np.uint8)


# --------------------------------------------------------------------------- recipes


def _recipe_json(recipe: dict) -> str:
    if not isinstance(recipe, dict):
        raise TypeError(f"recipe must be a dict, got {type(recipe).__name__}")
    text = json.dumps(recipe, sort_keys=True)  # ensure_ascii (default) keeps it 7-bit safe
    if len(text) > MAX_RECIPE_CHARS:  # never write a recipe that read_recipe would refuse
        raise ValueError(
            f"recipe: {len(text)} characters of JSON, more than the {MAX_RECIPE_CHARS} "
            "kdream reads back"
        )
    return text


def _recipe_exif(text: str) -> Image.Exif:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = _EXIF_ASCII_HEADER + (
        _RECIPE_PREFIX + text
    ).encode("ascii")
    return exif


def _strip_prefix(raw: bytes | str | None) -> str | None:
    """Our payload from a comment-like field, or None when the field is absent or not ours."""
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    return text.removeprefix(_RECIPE_PREFIX) if text.startswith(_RECIPE_PREFIX) else None


def _exif_user_comment(image: Image.Image) -> bytes | None:
    if "exif" not in image.info:
        return None
    comment = image.getexif().get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.UserComment)
    if not isinstance(comment, bytes):
        return None
    return comment.removeprefix(_EXIF_ASCII_HEADER)


def _find_recipe_text(image: Image.Image) -> str | None:
    """Look in the PNG text chunk, then the JPEG comment, then the EXIF UserComment."""
    png_text = image.info.get(RECIPE_KEY)
    if png_text is None and image.format == "PNG":
        # Chunks written after the pixel data only show up once the whole file is read.
        png_text = getattr(image, "text", {}).get(RECIPE_KEY)
    if png_text is not None:
        return str(png_text)
    for candidate in (image.info.get("comment"), _exif_user_comment(image)):
        text = _strip_prefix(candidate)
        if text is not None:
            return text
    return None


def read_recipe(path: str | os.PathLike) -> dict:
    """Read the kdream recipe stored in an image written by :func:`save_image`.

    The recipe is plain JSON, parsed as data only. A recipe over :data:`MAX_RECIPE_CHARS`
    characters, nested deeper than :data:`MAX_RECIPE_DEPTH`, not a JSON object, or with a known
    section of the wrong type raises :class:`ImageInputError` (one line naming the file).

    Example:
        >>> read_recipe("coffee_dream.png")  # doctest: +SKIP
        {'layers': {'mixed4': 1.0}, 'octaves': 4}
    """
    label = _describe(path)
    _check_input_file(path, label)
    try:
        with open(path, "rb") as stream, _open_image(stream, label) as image:
            try:
                text = _find_recipe_text(image)
            except ImageInputError:
                raise
            except Exception as exc:  # a corrupt metadata block is a bad file, not a crash
                raise _input_error(label, f"cannot read metadata ({_reason(exc)})") from None
    except PermissionError:
        raise _input_error(label, "permission denied") from None
    except OSError as exc:
        raise _input_error(label, f"cannot read ({_reason(exc)})") from None
    if text is None:
        raise _input_error(label, "no kdream recipe in this image")
    return _parse_recipe(text, label)


def _json_depth(text: str, limit: int) -> int:
    """How deep brackets nest outside strings; the scan stops once ``limit`` is passed.

    Example:
        >>> _json_depth('{"a": [1, {"b": "[[[["}]}', limit=32)
        3
    """
    depth = deepest = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def _parse_recipe(text: str, label: str) -> dict:
    """JSON text -> recipe dict, bounded in size and depth first; never evaluates anything."""
    if len(text) > MAX_RECIPE_CHARS:
        raise _input_error(
            label,
            f"kdream recipe too large ({len(text)} characters; the limit is {MAX_RECIPE_CHARS})",
        )
    if _json_depth(text, MAX_RECIPE_DEPTH) > MAX_RECIPE_DEPTH:
        raise _input_error(
            label, f"kdream recipe nested too deeply (more than {MAX_RECIPE_DEPTH} levels)"
        )
    try:
        recipe = json.loads(text)  # plain JSON: data only, nothing is imported or called
    except ValueError as exc:
        raise _input_error(label, f"kdream recipe is not valid JSON ({exc})") from None
    if not isinstance(recipe, dict):
        raise _input_error(label, "kdream recipe is not a JSON object")
    _check_sections(recipe, label)
    return recipe


def _check_sections(recipe: dict, label: str) -> None:
    """Refuse a recipe whose known sections have the wrong JSON type (unknown keys pass)."""
    for key, kind in _RECIPE_SECTIONS.items():
        if key in recipe and not isinstance(recipe[key], kind):
            raise _input_error(label, f"kdream recipe's {key!r} must be a JSON {_JSON_NAMES[kind]}")
    for section, key in _RECIPE_STRINGS:
        value = recipe.get(section, {}).get(key)
        if value is not None and not isinstance(value, str):
            raise _input_error(label, f"kdream recipe's {section}.{key} must be a string")
    max_side = recipe.get("max_side")
    if max_side is not None and (type(max_side) is not int or max_side < 1):
        raise _input_error(label, "kdream recipe's 'max_side' must be a positive integer or null")


# --------------------------------------------------------------------------- saving


def _output_format(path: pathlib.Path) -> str:
    fmt = _OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        allowed = " ".join(SUPPORTED_OUTPUT_SUFFIXES)
        raise _output_error(path, f"unsupported output extension {path.suffix!r} (use {allowed})")
    return fmt


def supports_alpha(path: str | os.PathLike) -> bool:
    """Whether saving to ``path`` keeps transparency (PNG, WebP) or drops it (JPEG).

    Example:
        >>> supports_alpha("out.png"), supports_alpha("out.jpg")
        (True, False)
    """
    return _output_format(pathlib.Path(path)) in _ALPHA_FORMATS


def _build_image(rgb: np.ndarray, alpha: np.ndarray | None, fmt: str) -> Image.Image:
    rgb = np.asarray(rgb)
    gray = rgb.ndim == 2  # a gray network's dream is written as a gray image
    if rgb.dtype != np.uint8 or not (gray or (rgb.ndim == 3 and rgb.shape[2] == 3)):
        raise ValueError(f"rgb must be a uint8 HxWx3 or HxW array, got {rgb.dtype} {rgb.shape}")
    if alpha is None or fmt not in _ALPHA_FORMATS:
        # JPEG has no alpha: we drop it; telling the user is the caller's job (supports_alpha).
        return Image.fromarray(np.ascontiguousarray(rgb), mode="L" if gray else "RGB")
    alpha = np.asarray(alpha)
    if alpha.dtype != np.uint8 or alpha.shape != rgb.shape[:2]:
        raise ValueError(
            f"alpha must be a uint8 array of shape {rgb.shape[:2]}, got {alpha.dtype} {alpha.shape}"
        )
    with_alpha = np.ascontiguousarray(np.dstack([rgb, alpha]))
    return Image.fromarray(with_alpha, mode="LA" if gray else "RGBA")


def _save_options(fmt: str, recipe_text: str | None) -> dict:
    """Pillow ``save`` keyword arguments for a format, carrying the recipe if any."""
    if fmt == "PNG":
        options: dict = {}
        if recipe_text is not None:
            info = PngImagePlugin.PngInfo()
            info.add_itxt(RECIPE_KEY, recipe_text)
            options["pnginfo"] = info
        return options
    if fmt == "JPEG":
        # 4:4:4 chroma: the default 4:2:0 smears the fine coloured dream texture.
        options = {"quality": _JPEG_QUALITY, "subsampling": 0}
        if recipe_text is not None:
            options["comment"] = (_RECIPE_PREFIX + recipe_text).encode("ascii")
        return options
    # WebP, lossless; exact=True keeps the colour under fully transparent pixels.
    options = {"lossless": True, "exact": True}
    if recipe_text is not None:
        options["exif"] = _recipe_exif(recipe_text)
    return options


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which is racy in threads.
_UMASK = _current_umask()


def _final_mode(target: pathlib.Path) -> int:
    """Permissions for the finished file: keep an overwritten file's, else honour the umask."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_UMASK  # mkstemp creates 0600; a normal new file would not be


def _fsync_directory(directory: pathlib.Path) -> None:
    """Make the rename durable; not every platform can open a directory, so best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomically(target: pathlib.Path, write: Callable[[BinaryIO], None]) -> None:
    """Write via a temp file in the same directory, fsync, then rename over ``target``.

    On any failure the temp file is removed and ``target`` is left exactly as it was.
    """
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, _final_mode(target))
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _fsync_directory(target.parent)


def save_image(
    path: str | os.PathLike,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    recipe: dict | None = None,
) -> pathlib.Path:
    """Atomically save ``rgb`` (+ ``alpha``) with the format chosen by the extension.

    PNG and WebP (lossless) keep alpha; JPEG (quality 95) drops it. ``recipe`` is stored as
    JSON in the file's metadata, readable with :func:`read_recipe`. Overwrites an existing
    file (use :func:`check_output_path` first to refuse that). Filesystem failures raise
    OutputPathError; bad arrays raise ValueError; a non-dict recipe raises TypeError.

    Example:
        >>> save_image("out.png", rgb, recipe={"octaves": 4})  # doctest: +SKIP
        PosixPath('out.png')
    """
    target = pathlib.Path(path)
    fmt = _output_format(target)
    # Everything that can fail on bad arguments runs before the temp file exists.
    image = _build_image(rgb, alpha, fmt)
    options = _save_options(fmt, None if recipe is None else _recipe_json(recipe))
    if not target.parent.is_dir():
        raise _output_error(target, f"directory does not exist: {_describe(target.parent)}")
    if target.is_dir():
        raise _output_error(target, "is a directory")
    try:
        _write_atomically(target, lambda stream: image.save(stream, format=fmt, **options))
    except OSError as exc:
        raise _output_error(target, f"cannot write ({_reason(exc)})") from exc
    return target


# --------------------------------------------------------------------------- output paths


def default_output_path(
    input_source: str | os.PathLike, output_dir: str | os.PathLike = ".", suffix: str = ".png"
) -> pathlib.Path:
    """``<output_dir>/<input stem>_dream<suffix>``; the sample gives ``coffee_dream.png``.

    Example:
        >>> default_output_path("holiday/beach.jpg").name
        'beach_dream.png'
        >>> default_output_path("sample:coffee.png", "out").as_posix()
        'out/coffee_dream.png'
    """
    source = os.fspath(input_source)
    source = source.removeprefix("sample:")
    if not suffix.startswith("."):
        suffix = "." + suffix
    stem = pathlib.Path(source).stem or "image"
    return pathlib.Path(output_dir) / f"{stem}_dream{suffix}"


def _same_file(a: pathlib.Path, b: pathlib.Path) -> bool:
    """True when both names reach the same file (symlinks, hard links, ``..`` included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: fall back to comparing resolved names
        return a.resolve() == b.resolve()


def check_output_path(
    output: str | os.PathLike, inputs: Sequence[str | os.PathLike], force: bool
) -> pathlib.Path:
    """Validate where a dream will be written; raise OutputPathError with a one-line reason.

    Refuses: an output that is one of the inputs (even with ``force``), an unsupported
    extension, a missing parent directory, a directory, and an existing file unless ``force``.

    Example:
        >>> check_output_path("new_dream.png", ["photo.jpg"], force=False)  # doctest: +SKIP
        PosixPath('new_dream.png')
    """
    target = pathlib.Path(output)
    for source in inputs:
        if _same_file(target, pathlib.Path(source)):
            raise _output_error(target, "is one of the input images; refusing to overwrite it")
    _output_format(target)
    parent = target.parent
    if not parent.is_dir():
        raise _output_error(target, f"directory does not exist: {_describe(parent)}")
    if not os.access(parent, os.W_OK):
        raise _output_error(target, f"directory is not writable: {_describe(parent)}")
    if target.is_dir():
        raise _output_error(target, "is a directory")
    if target.exists() and not force:
        raise _output_error(target, "already exists (use --force to overwrite)")
    return target
