"""Feature visualisation: pictures grown from noise that excite a channel, a neuron or a
class (:mod:`~kdream.techniques.visualize.render`), parameterised as an FFT spectrum in
decorrelated colour (:mod:`~kdream.techniques.visualize.param`) and seen through random
transforms (:mod:`~kdream.techniques.visualize.transforms`).

Example:
    >>> import kdream
    >>> pictures = kdream.visualize("mixed4:97", size=224)  # doctest: +SKIP
"""

from __future__ import annotations

from kdream.techniques.visualize.render import (
    Visualizer,
    cell_titles,
    settings_from_recipe,
    sheet_of,
    visualize,
)
from kdream.techniques.visualize.settings import VisualizeSettings

__all__ = [
    "VisualizeSettings",
    "Visualizer",
    "cell_titles",
    "settings_from_recipe",
    "sheet_of",
    "visualize",
]
