"""Writing an atlas: the folder a ``kdream atlas`` run fills (``atlas.json``, pictures,
crops) and the static site that shows it (:mod:`~kdream.io.atlas.site`), built resumably by
:mod:`~kdream.io.atlas.builder`.

Example:
    >>> from kdream.io.atlas import AtlasOptions
    >>> AtlasOptions(layers=("mixed3",), channels=(0, 1)).diversity
    4
"""

from __future__ import annotations

from kdream.io.atlas.builder import (
    ATLAS_JSON,
    Atlas,
    AtlasOptions,
    Report,
    build_atlas,
    channels_of,
    chosen_layers,
)

__all__ = [
    "ATLAS_JSON",
    "Atlas",
    "AtlasOptions",
    "Report",
    "build_atlas",
    "channels_of",
    "chosen_layers",
]
