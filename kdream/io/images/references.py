"""Reference pictures (a guide, a style, a content image) from files.

Example:
    >>> load_reference("flowers.jpg").name  # doctest: +SKIP
    'flowers.jpg'
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from kdream.io.images.loading import load_image
from kdream.objectives.references import ReferenceImage


def load_reference(path: str | os.PathLike) -> ReferenceImage:
    """A reference from an image file, named by the sha256 of the file's bytes (what a
    recipe records); a bad file is an ``ImageInputError``, one line for the user."""
    loaded = load_image(path)
    sha256 = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return ReferenceImage(sha256, Path(path).name, loaded.rgb)
