"""Writing an atlas: the folder a ``kdream atlas`` run fills (``atlas.json``, pictures,
crops) and the static site that shows it (:mod:`~kdream.io.atlas.site`), built resumably by
:mod:`~kdream.io.atlas.builder`. What an atlas is asked for (:mod:`~kdream.io.atlas.options`)
loads no framework; the builder's names load on first use.

Example:
    >>> from kdream.io.atlas import AtlasOptions
    >>> AtlasOptions(layers=("mixed3",), channels=(0, 1)).batch
    8
"""

from __future__ import annotations

import importlib

from kdream.io.atlas.options import ATLAS_JSON, AtlasOptions, photo_files

_BUILDER = ("Atlas", "Report", "RenderJob", "atlas", "build_atlas", "channels_of", "chosen_layers")

__all__ = ["ATLAS_JSON", "AtlasOptions", "photo_files", *_BUILDER]


def __getattr__(name: str):
    if name in _BUILDER:
        return getattr(importlib.import_module("kdream.io.atlas.builder"), name)
    raise AttributeError(f"module 'kdream.io.atlas' has no attribute {name!r}")
