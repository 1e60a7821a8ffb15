"""Users' own Keras models: loaded safely, their dreamable layers found, their pixels mapped.

A ``.keras`` file is loaded with Keras' safe mode and nothing else: a Lambda layer that
carries Python bytecode is refused before any of it runs, and kdream has no switch to turn
that off. The file's sha256 goes into the recipe, so a replay can tell a different file.

Example:
    >>> spec = own_model_spec(pathlib.Path("mnist_cnn.keras"))         # doctest: +SKIP
    >>> spec.channels, spec.fixed_hw, list(spec.catalogue)[:2]          # doctest: +SKIP
    (1, (28, 28), ['conv1', 'pool1'])
"""

from __future__ import annotations

import functools
import pathlib
import zipfile

import keras

from kdream.models.spec import ModelError, ModelSpec
from kdream.network.layers import range_mapping
from kdream.weights.load import load_into
from kdream.weights.resolve import resolve_weights
from kdream.weights.sources import ResolvedWeights, WeightsError

DEFAULT_INPUT_RANGE = (0.0, 1.0)
"""Own models are most often trained on pixels / 255."""

SHAPE_ONLY_LAYERS = (
    keras.layers.InputLayer,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
)
"""Layers whose output only repeats their input's content: not worth a catalogue row."""

DEPTH_HINTS = (
    "early: edges and colour",
    "middle: textures and patterns",
    "late: parts and whole objects",
)


def own_model_spec(path: pathlib.Path, input_range=None) -> ModelSpec:
    """The spec of a user's ``.keras`` file (loaded once, safely)."""
    from kdream._files import file_hash

    path = path.resolve() if path.exists() else path
    model = load_own_model(path)
    channels, fixed_hw = input_geometry(model, path)
    catalogue = spatial_layers(model)
    if not catalogue:
        raise ModelError(
            f"{path.name}: the model has no spatial layers (no layer outputs height x width x "
            "channels), so there is nothing to dream with"
        )
    low, high = check_input_range(input_range or DEFAULT_INPUT_RANGE)
    sha256 = file_hash(path)
    return ModelSpec(
        name=path.name,
        build_network=lambda: model,
        load_weights=functools.partial(_load_own_weights, sha256),
        catalogue=catalogue,
        default_layers={default_layer(catalogue): 1.0},
        mapping=range_mapping(low, high, channels),
        channels=channels,
        fixed_hw=fixed_hw,
        min_input_side=1,
        file=path,
        sha256=sha256,
        input_range=(low, high),
    )


def load_own_model(path: pathlib.Path) -> keras.Model:
    """``keras.saving.load_model(path, safe_mode=True)``, with every failure one line."""
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    if path.suffix.lower() != ".keras":
        raise ModelError(
            f"{path.name}: kdream loads models saved as .keras files (model.save('x.keras'))"
        )
    if not zipfile.is_zipfile(path):
        raise ModelError(
            f"{path.name}: refused: not a .keras file (a .keras file is a zip archive)"
        )
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:
        raise ModelError(f"{path.name}: refused: {_load_failure(error)}") from None


def _load_failure(error: Exception) -> str:
    text = " ".join(str(error).split())
    if "safe_mode" in text or "lambda" in text.lower():
        return (
            "it holds a Lambda layer with Python code, which kdream never runs "
            "(Keras safe mode); rebuild the model with regular layers"
        )
    if "Could not locate" in text or "custom" in text.lower():
        return f"it uses a custom layer class kdream cannot load safely ({text[:160]})"
    return f"not a readable Keras model ({type(error).__name__}: {text[:160]})"


def input_geometry(model: keras.Model, path: pathlib.Path) -> tuple[int, tuple[int, int] | None]:
    """(channels, fixed (h, w) or None) of an image model's single input."""
    inputs = model.inputs if hasattr(model, "inputs") else None
    if not inputs or len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise ModelError(f"{path.name}: expected one image input (batch, height, width, channels)")
    _, height, width, channels = inputs[0].shape
    if channels not in (1, 3):
        raise ModelError(
            f"{path.name}: the input has {channels} channels; kdream dreams 1 (gray) or 3 (RGB) "
            "channels, last (channels_last)"
        )
    fixed = (int(height), int(width)) if height is not None and width is not None else None
    return int(channels), fixed


def spatial_layers(model: keras.Model) -> dict[str, str]:
    """Layers whose output is (batch, height, width, channels), in graph order, with a hint
    that says how deep they sit."""
    names = [
        layer.name
        for layer in model.layers
        if not isinstance(layer, SHAPE_ONLY_LAYERS) and _is_spatial(layer)
    ]
    return {
        name: DEPTH_HINTS[min(2, 3 * index // max(1, len(names)))]
        for index, name in enumerate(names)
    }


def _is_spatial(layer) -> bool:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):  # a layer never called in the graph
        return False
    return len(shape) == 4


def default_layer(catalogue: dict[str, str]) -> str:
    """Two thirds of the way down: past edges, before the layers shrink to a few pixels."""
    names = list(catalogue)
    return names[min(len(names) - 1, (2 * len(names)) // 3)]


def check_input_range(input_range) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in input_range)
    except (TypeError, ValueError):
        raise ModelError(f"--input-range: expected LOW,HIGH, got {input_range!r}") from None
    if not low < high:
        raise ModelError(f"--input-range: LOW must be below HIGH (got {low}, {high})")
    return low, high


def _load_own_weights(sha256: str, model: keras.Model, weights):
    """An own model carries its weights; ``random`` or a weights file replace them."""
    spec = str(weights or "auto").strip()
    if spec in ("auto", "file"):
        return ResolvedWeights("model-file", None, sha256)
    if spec in ("imagenet", "inception2015"):
        raise WeightsError(
            f"{spec} weights belong to a built-in model; your model carries its own weights "
            "(or pass --weights random or a .weights.h5 file)"
        )
    resolved = resolve_weights(spec)
    load_into(model, resolved)
    return resolved
