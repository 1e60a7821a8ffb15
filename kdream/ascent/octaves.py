"""The octave schedule: the sizes a dream visits, smallest first, and how images move
between them.

Resizing happens on the host with Pillow, once per octave, so every backend
resizes identically (the dream itself never leaves the device within an octave).

Example:
    >>> octave_sizes((400, 600), octaves=3, scale=1.5, min_side=75)
    [(178, 267), (267, 400), (400, 600)]
"""

from __future__ import annotations

import numpy as np

from kdream.pixels import resize


def octave_sizes(image_hw, octaves: int, scale: float, min_side: int) -> list[tuple[int, int]]:
    """Sizes (h, w) from the smallest octave to the full image.

    An octave that would make the short side smaller than ``min_side`` is clamped to
    it (the network would otherwise fail or its layers collapse to 1x1); octaves that
    clamp to the same size are merged. An image smaller than ``min_side`` is dreamed
    upsized: its last octave is ``min_side`` on the short side.
    """
    height, width = image_hw
    sizes: list[tuple[int, int]] = []
    for level in range(octaves - 1, -1, -1):
        factor = max(scale**-level, min_side / min(height, width))
        size = (max(min_side, round(height * factor)), max(min_side, round(width * factor)))
        if not sizes or sizes[-1] != size:
            sizes.append(size)
    return sizes


def next_octave_image(dreamed, previous_base, new_base, mode: str) -> np.ndarray:
    """The image the octave of ``size`` starts from.

    ``rescale``: the dreamed image itself, resized up. ``detail``: the classic
    DeepDream way, the detail the dream added at the smaller scale (dreamed minus
    that octave's downscaled original), resized up and added to the original at
    this scale (``new_base``), so the photo stays sharp while the dream carries over.
    """
    size = new_base.shape[:2]
    if mode == "rescale":
        return resize(dreamed, size)
    detail = resize(dreamed - previous_base, size)
    return np.clip(new_base + detail, -1.0, 1.0)
