"""kdream: DeepDream with Keras 3 (InceptionV3 by default, any Keras image model on request),
the same code on TensorFlow, JAX and PyTorch.

Example:
    >>> import kdream
    >>> from kdream.imageio import load_sample
    >>> picture = kdream.dream(load_sample().rgb, layers={"mixed4": 1.0}, steps=8)  # doctest: +SKIP

Pick the backend with ``KERAS_BACKEND`` before the first use of the API. Importing
``kdream`` itself does not import Keras (so the CLI can still choose the backend):
the names below load on first access.
"""

from __future__ import annotations

import importlib

from kdream import backend
from kdream.recipe import __version__ as __version__

_LAZY = {
    "DreamConfig": "kdream.config",
    "DreamCancelled": "kdream.ascent.dreamer",
    "Dreamer": "kdream.ascent.dreamer",
    "Progress": "kdream.ascent.dreamer",
    "ModelSpec": "kdream.models.spec",
    "model_spec": "kdream.models.factory",
    "Objective": "kdream.objectives.core",
    "channel": "kdream.objectives.core",
    "layer": "kdream.objectives.core",
    "layers": "kdream.objectives.core",
    "guide": "kdream.objectives.guide",
    "neuron": "kdream.objectives.visual",
    "class_logit": "kdream.objectives.visual",
    "channel_batch": "kdream.objectives.visual",
    "diversity": "kdream.objectives.visual",
    "parse_objective": "kdream.objectives.text",
    "style": "kdream.techniques.style",
    "StyleConfig": "kdream.techniques.style",
    "StyleTransfer": "kdream.techniques.style",
    "visualize": "kdream.techniques.visualize.render",
    "Visualizer": "kdream.techniques.visualize.render",
    "VisualizeSettings": "kdream.techniques.visualize.render",
    "atlas": "kdream.io.atlas.builder",
    "Atlas": "kdream.io.atlas.builder",
    "AtlasOptions": "kdream.io.atlas.builder",
    "MotionConfig": "kdream.techniques.motion.sequence",
    "video": "kdream.techniques.motion.sequence",
    "zoom": "kdream.techniques.motion.sequence",
}

__all__ = sorted([*_LAZY, "__version__", "dream"])

backend.set_framework_defaults()  # before any framework loads


def __getattr__(name: str):
    if name in _LAZY:
        backend.import_keras_quietly()  # the API is as quiet as the CLI
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kdream' has no attribute {name!r}")


def dream(image, config=None, *, weights="auto", model=None, input_range=None, **parameters):
    """Dream one image (uint8, H x W x 3) and return the dreamed uint8 image.

    Loads the model each call; use :class:`Dreamer` to dream many images. ``model`` is a
    family name (``"vgg19"``) or your own ``.keras`` file (see :class:`Dreamer`).
    ``parameters`` override fields of ``config`` (or of the default recipe).

    Example:
        >>> import numpy as np, kdream
        >>> out = kdream.dream(np.zeros((80, 80, 3), np.uint8), weights="random", steps=1)
        >>> out.shape, out.dtype
        ((80, 80, 3), dtype('uint8'))
    """
    backend.import_keras_quietly()
    from kdream.ascent.dreamer import Dreamer
    from kdream.config import DreamConfig

    config = config or DreamConfig()
    if parameters:
        config = config.replace(**parameters)
    return Dreamer(weights=weights, model=model, input_range=input_range).dream(image, config)
