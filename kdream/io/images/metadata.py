"""The recipe inside a picture's metadata:

* PNG: an iTXt text chunk named ``kdream`` holding the JSON.
* JPEG: the COM comment segment, ``kdream:`` followed by the JSON.
* WebP: the EXIF UserComment tag (ASCII charset), ``kdream:`` followed by the JSON.
"""

from __future__ import annotations

import os

from PIL import ExifTags, Image

from kdream import recipe
from kdream.io.images.loading import check_input_file, open_image
from kdream.io.images.messages import ImageInputError, describe, input_error, reason_of

RECIPE_KEY = "kdream"


# The EXIF UserComment value starts with an 8-byte character-code header.
_EXIF_ASCII_HEADER = b"ASCII\x00\x00\x00"


RECIPE_PREFIX = f"{RECIPE_KEY}:"


def recipe_exif(text: str) -> Image.Exif:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = _EXIF_ASCII_HEADER + (
        RECIPE_PREFIX + text
    ).encode("ascii")
    return exif


def _strip_prefix(raw: bytes | str | None) -> str | None:
    """Our payload from a comment-like field, or None when the field is absent or not ours."""
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    return text.removeprefix(RECIPE_PREFIX) if text.startswith(RECIPE_PREFIX) else None


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
    label = describe(path)
    check_input_file(path, label)
    try:
        with open(path, "rb") as stream, open_image(stream, label) as image:
            try:
                text = _find_recipe_text(image)
            except ImageInputError:
                raise
            except Exception as exc:  # a corrupt metadata block is a bad file, not a crash
                raise input_error(label, f"cannot read metadata ({reason_of(exc)})") from None
    except PermissionError:
        raise input_error(label, "permission denied") from None
    except OSError as exc:
        raise input_error(label, f"cannot read ({reason_of(exc)})") from None
    if text is None:
        raise input_error(label, "no kdream recipe in this image")
    return recipe_from_text(text, label)


def recipe_from_text(text: str, label: str) -> dict:
    """A recipe's JSON text, checked by :func:`kdream.recipe.parse`; a bad one is an
    :class:`ImageInputError` naming ``label``."""
    try:
        return recipe.parse(text)
    except recipe.RecipeError as error:
        raise input_error(label, str(error)) from None
