"""What an atlas is asked for, and its folder: plain data, no framework (the CLI checks a
request against it before Keras loads).

Example:
    >>> AtlasOptions(layers=("mixed3",), channels=(0, 1)).diversity
    4
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kdream.io.images import IMAGE_SUFFIXES

ATLAS_JSON = "atlas.json"


@dataclasses.dataclass(frozen=True)
class AtlasOptions:
    """What an atlas shows and how its pictures are rendered.

    ``channels``: the same channel indices in every layer (None: all of them).
    ``size``: the pictures' side (None: 224, or what a network of one input size takes).
    ``diversity``: extra views of each channel (0: none), rendered at half ``size``.
    ``classes``: class units of a model with a head (None: all of them, up to
    :data:`MAX_DEFAULT_CLASSES`; an empty tuple: none).
    """

    layers: tuple[str, ...] | None = None
    channels: tuple[int, ...] | None = None
    size: int | None = None
    steps: int | None = None
    seed: int = 0
    diversity: int = 4
    classes: tuple[int, ...] | None = None
    max_side: int = 512
    tile_px: int = 512  # the survey's tiles (a dream's tile size)
    batch: int = 8  # channels rendered together


MAX_DEFAULT_CLASSES = 100


def photo_files(folder: str | Path) -> list[Path]:
    """The images of a folder (not its subfolders), by name."""
    found = (p for p in Path(folder).iterdir() if not p.name.startswith("."))
    return sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
