"""What an ascent maximises: one algebra of terms (:mod:`~kdream.objectives.core`: layers,
channels, ``+``, ``*``), with the terms of feature visualisation
(:mod:`~kdream.objectives.visual`), guided dreams (:mod:`~kdream.objectives.guide`) and style
transfer (:mod:`~kdream.objectives.style`), the reference pictures they read
(:mod:`~kdream.objectives.references`), the text syntax (:mod:`~kdream.objectives.text`) and
objectives from recipes (:mod:`~kdream.objectives.recipes`).

Example:
    >>> from kdream.objectives import channel, layer
    >>> (layer("mixed3") + 1.5 * layer("mixed5") - 0.5 * channel("mixed4", 97)).layer_names
    ('mixed3', 'mixed5', 'mixed4')
"""

from __future__ import annotations

from kdream.objectives.core import PIXELS, Objective, channel, layer, layers
from kdream.objectives.guide import guide
from kdream.objectives.recipes import from_recipe
from kdream.objectives.text import parse_objective
from kdream.objectives.visual import channel_batch, class_logit, diversity, neuron

__all__ = [
    "PIXELS",
    "Objective",
    "channel",
    "channel_batch",
    "class_logit",
    "diversity",
    "from_recipe",
    "guide",
    "layer",
    "layers",
    "neuron",
    "parse_objective",
]
