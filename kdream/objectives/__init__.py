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

import importlib

_LAZY = {
    "PIXELS": "core", "Objective": "core", "channel": "core", "layer": "core", "layers": "core",
    "guide": "guide", "from_recipe": "recipes", "parse_objective": "text",
    "channel_batch": "visual", "class_logit": "visual", "diversity": "visual", "neuron": "visual",
}  # fmt: skip
"""Name -> its module. The names load on first access: importing one framework-free module
of the package (:mod:`~kdream.objectives.syntax`) does not import Keras."""


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"kdream.objectives.{_LAZY[name]}"), name)
        globals()[name] = value  # e.g. guide: the function, not its module of the same name
        return value
    raise AttributeError(f"module 'kdream.objectives' has no attribute {name!r}")


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
