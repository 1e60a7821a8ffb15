"""InceptionV3, its layer catalogue, and the feature extractor a dream differentiates.

Example:
    >>> extractor = FeatureExtractor.build(["mixed3", "mixed5"], weights="random")
    >>> extractor.layer_names
    ('mixed3', 'mixed5')
    >>> extractor.spatial_size((512, 512))["mixed5"]
    (30, 30)
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools

import keras
import numpy as np

from kdream import _backend

CATALOGUE = tuple(f"mixed{i}" for i in range(11))
"""The layers one usually dreams with: the outputs of InceptionV3's mixed blocks."""

LAYER_HINTS = {
    "mixed0": "edges, fine strokes and simple textures",
    "mixed1": "brush strokes, wavy textures",
    "mixed2": "swirls, mesh and repeating textures",
    "mixed3": "patterns, scales and ornaments",
    "mixed4": "ornaments, feathers, first eyes",
    "mixed5": "eyes, fur, arches and pagodas",
    "mixed6": "animal parts, faces, buildings",
    "mixed7": "dogs, birds, architecture",
    "mixed8": "whole animals and objects (needs larger images)",
    "mixed9": "object parts, strong abstraction (needs larger images)",
    "mixed10": "the most abstract features (needs larger images)",
}
"""What each catalogue layer tends to produce, for the CLI's and TUI's layer guides."""

MODEL_MIN_SIDE = 75
"""Smallest input side InceptionV3 accepts."""

MIN_LAYER_EXTENT = 2
"""A layer must keep at least this many positions a side, or its statistics degenerate."""


def to_model_range(rgb_uint8: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [-1, 1], InceptionV3's input range."""
    return rgb_uint8.astype(np.float32) / 127.5 - 1.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[-1, 1] floats -> uint8 pixels (rounded, clipped)."""
    return np.clip(np.rint((np.asarray(image) + 1.0) * 127.5), 0, 255).astype(np.uint8)


@contextlib.contextmanager
def canonical_layer_names():
    """Build Keras layers with the names a fresh process would give them.

    Keras numbers auto-generated layer names process-wide: ``conv2d``, ``conv2d_1``, ...
    in a fresh process, ``conv2d_94`` ... once another InceptionV3 exists (as after a
    weights fetch). TensorFlow's graph optimiser (grappler's arithmetic optimiser)
    orders the terms of the gradient's sums by node name, so the second network summed
    in another order and dreamed another picture from the same recipe. Numbering from
    zero while kdream builds gives the same names, hence the same graph and the same
    picture, whatever the process did before; the caller's counter comes back after.

    Example:
        >>> with canonical_layer_names():
        ...     keras.layers.Dense(2).name
        'dense'
    """
    from keras.src.backend.common import global_state  # the counter has no public API

    saved = global_state.get_global_attribute("object_name_uids")
    global_state.set_global_attribute("object_name_uids", collections.defaultdict(int))
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids", saved)


def new_inception() -> keras.Model:
    """InceptionV3 without its head, for any image size, without weights, canonically named.

    The one constructor every part of kdream uses (dreams, shapes, the 2015 converter).
    """
    with canonical_layer_names():
        return keras.applications.InceptionV3(
            include_top=False, weights=None, input_shape=(None, None, 3)
        )


@functools.lru_cache(maxsize=1)
def bare_inception() -> keras.Model:
    """An InceptionV3 without weights (no head, any input size), for shapes; built once."""
    return new_inception()


def build_inception(weights="random") -> tuple[keras.Model, object]:
    """InceptionV3 with real (or deterministic random) weights loaded.

    ``weights`` is anything :func:`kdream.weights.resolve_weights` accepts
    (``"auto"``, ``"imagenet"``, ``"inception2015"``, ``"random"`` or a path), or an
    already resolved :class:`kdream.weights.ResolvedWeights`.
    Returns the model and the resolved weights (for the recipe).
    """
    from kdream import weights as weight_sources

    resolved = weights
    if not isinstance(weights, weight_sources.ResolvedWeights):
        resolved = weight_sources.resolve_weights(str(weights))
    model = new_inception()
    weight_sources.load_into(model, resolved)
    return model, resolved


def layer_channels(model: keras.Model | None = None) -> dict[str, int]:
    """Channel count of every catalogue layer."""
    model = model or bare_inception()
    return {name: int(model.get_layer(name).output.shape[-1]) for name in CATALOGUE}


def check_layer_names(model: keras.Model, names) -> None:
    """Raise ``ValueError`` naming any layer the model does not have."""
    known = {layer.name for layer in model.layers}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"layers: unknown layer(s) {', '.join(unknown)}; "
            f"use one of {', '.join(CATALOGUE)} (or another InceptionV3 layer name)"
        )


@dataclasses.dataclass(frozen=True)
class FeatureExtractor:
    """InceptionV3 cut after the deepest requested layer, returning those layers' activations.

    Keras' functional model keeps only the part of the graph the outputs depend on,
    so the network ends at the deepest requested layer.
    """

    model: keras.Model
    layer_names: tuple[str, ...]
    weights: object = None

    @classmethod
    def build(cls, layer_names, weights="random", base: keras.Model | None = None):
        """Cut ``base`` (or a freshly built InceptionV3 with ``weights``) at ``layer_names``."""
        resolved = None
        if base is None:
            base, resolved = build_inception(weights)
        names = tuple(dict.fromkeys(layer_names))
        check_layer_names(base, names)
        outputs = [base.get_layer(name).output for name in names]
        with canonical_layer_names():
            model = _backend.fast_model(keras.Model(base.input, outputs, name="kdream_features"))
        return cls(model, names, resolved)

    def activations(self, images) -> dict[str, object]:
        """Forward pass: images (N, H, W, 3) in [-1, 1] -> {layer name: activations}."""
        outputs = self.model(images, training=False)
        return dict(zip(self.layer_names, _as_list(outputs)))

    def spatial_size(self, image_hw: tuple[int, int]) -> dict[str, tuple[int, int]]:
        """Spatial extent (h, w) of each requested layer for an image of ``image_hw``."""
        return spatial_size(self.model, self.layer_names, image_hw)

    def min_side(self) -> int:
        """Smallest image side at which every requested layer is at least 2x2."""
        return min_side(self.model, self.layer_names)


def _as_list(outputs) -> list:
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def spatial_size(model, layer_names, image_hw) -> dict[str, tuple[int, int]]:
    """Spatial extents from shape inference alone (no computation)."""
    probe = keras.KerasTensor((1, int(image_hw[0]), int(image_hw[1]), 3))
    specs = _as_list(model.compute_output_spec(probe))
    return {name: (int(s.shape[1]), int(s.shape[2])) for name, s in zip(layer_names, specs)}


def min_side(model, layer_names) -> int:
    """Binary search for the smallest side keeping every layer >= 2x2 (and >= 75 px)."""

    def big_enough(side: int) -> bool:
        try:
            sizes = spatial_size(model, layer_names, (side, side))
        except Exception:  # shape inference fails below the network's minimum
            return False
        return all(min(hw) >= MIN_LAYER_EXTENT for hw in sizes.values())

    low, high = MODEL_MIN_SIDE, MODEL_MIN_SIDE
    while not big_enough(high):
        low, high = high, high * 2
    while low < high:
        middle = (low + high) // 2
        if big_enough(middle):
            high = middle
        else:
            low = middle + 1
    return high
