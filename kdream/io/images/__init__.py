"""Pictures in and out: careful loading, atomic saving, recipes in the metadata.

Pure Pillow + numpy + stdlib on purpose: the CLI and TUI import this before any Keras backend
is chosen, so it must stay cheap and backend-free.

Example:
    >>> from kdream.io.images import load_sample, save_image
    >>> load_sample().rgb.dtype
    dtype('uint8')
"""

from __future__ import annotations

from kdream.io.images.loading import (
    IMAGE_SUFFIXES,
    MAX_PIXELS,
    SAMPLE_NAME,
    SAMPLE_SOURCE,
    LoadedImage,
    check_input_file,
    load_image,
    load_sample,
    open_image,
)
from kdream.io.images.messages import (
    ImageInputError,
    OutputPathError,
    describe,
    input_error,
    one_line,
    output_error,
    reason_of,
)
from kdream.io.images.metadata import RECIPE_KEY, read_recipe, recipe_exif, recipe_from_text
from kdream.io.images.paths import (
    check_output_path,
    default_output_path,
    free_path,
    pick_output_path,
)
from kdream.io.images.saving import SUPPORTED_OUTPUT_SUFFIXES, save_image, supports_alpha

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "RECIPE_KEY",
    "SAMPLE_NAME",
    "SAMPLE_SOURCE",
    "SUPPORTED_OUTPUT_SUFFIXES",
    "ImageInputError",
    "LoadedImage",
    "OutputPathError",
    "check_input_file",
    "check_output_path",
    "default_output_path",
    "describe",
    "free_path",
    "input_error",
    "load_image",
    "load_sample",
    "one_line",
    "open_image",
    "output_error",
    "pick_output_path",
    "read_recipe",
    "reason_of",
    "recipe_exif",
    "recipe_from_text",
    "save_image",
    "supports_alpha",
]
