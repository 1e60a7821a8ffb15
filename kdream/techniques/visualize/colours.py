"""The colour maps of feature visualisation's parameterisations: pictures are drawn in a
decorrelated colour space and mapped to RGB (lucid's ``optvis/param/color.py``)."""

from __future__ import annotations

import numpy as np

COLOR_CORRELATION_SVD_SQRT = np.asarray(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], "float32"
)
"""Square root of ImageNet's colour covariance (lucid's optvis/param/color.py)."""

COLOR_MAP = (
    COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0))
).T.astype("float32")
"""Decorrelated colour -> RGB, applied as ``rgb = colour @ COLOR_MAP`` (row vectors)."""

GRAY_MAP = np.ones((1, 1), "float32")
"""A gray picture's "colour map": the one channel as it is."""
