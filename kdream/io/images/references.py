"""Reference pictures (a guide, a style, a content image) from files.

:func:`read_reference` reads and names a file without a framework, so a command refuses a
bad file before Keras loads; :func:`load_reference` gives the objectives' reference (which
imports Keras: call it once Keras has loaded, quietly).

Example:
    >>> load_reference("flowers.jpg").name  # doctest: +SKIP
    'flowers.jpg'
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from kdream.io.images.loading import load_image

if TYPE_CHECKING:
    from kdream.objectives.references import ReferenceImage


class ReferenceFile(NamedTuple):
    """A reference picture as read from its file, named by the sha256 of the file's bytes
    (what a recipe records)."""

    sha256: str
    name: str
    rgb: np.ndarray

    def reference(self) -> ReferenceImage:
        """The objectives' :class:`~kdream.objectives.references.ReferenceImage` (Keras loads)."""
        from kdream.objectives.references import ReferenceImage

        return ReferenceImage(self.sha256, self.name, self.rgb)


def read_reference(path: str | os.PathLike) -> ReferenceFile:
    """A reference picture's file, read without a framework; a bad file is an
    ``ImageInputError``, one line for the user."""
    loaded = load_image(path)
    sha256 = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return ReferenceFile(sha256, Path(path).name, loaded.rgb)


def load_reference(path: str | os.PathLike) -> ReferenceImage:
    """A reference from an image file (see :func:`read_reference`)."""
    return read_reference(path).reference()
