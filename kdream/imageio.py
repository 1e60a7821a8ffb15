"""The old home of picture input and output, kept so that ``from kdream.imageio import
load_sample, save_image`` (as the README shows) goes on working: the code lives in
:mod:`kdream.io.images`, the resize in :mod:`kdream.pixels`, the recipe's limits in
:mod:`kdream.recipe`."""

from __future__ import annotations

from kdream.io.images import *  # noqa: F403
from kdream.io.images import __all__ as _images_all
from kdream.pixels import resize as resize_rgb
from kdream.recipe import MAX_RECIPE_CHARS, MAX_RECIPE_DEPTH

__all__ = [*_images_all, "MAX_RECIPE_CHARS", "MAX_RECIPE_DEPTH", "resize_rgb"]
