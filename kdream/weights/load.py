"""Filling a network with resolved weights (verified again on load), or with deterministic
random ones.
"""

from __future__ import annotations

import pathlib
import warnings
from typing import Any

import numpy as np

from kdream._files import file_hash
from kdream.weights.resolve import fetch
from kdream.weights.sources import FETCHABLE, ResolvedWeights, WeightsError


def random_weight_values(model: Any) -> list[np.ndarray]:
    """Deterministic values for every variable, in ``model.weights`` order, from rng(0).

    Kernels are He-normal (std sqrt(2 / fan_in)); BN beta 0, moving mean 0, variance 1.
    Pure numpy, so every backend gets bit-identical weights.
    """
    rng = np.random.default_rng(0)
    values = []
    for variable in model.weights:
        shape = tuple(int(n) for n in variable.shape)
        name = variable.path.rsplit("/", 1)[-1]
        if name in ("kernel", "depthwise_kernel"):
            fan_in = int(np.prod(shape[:-1])) or 1
            value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        elif name in ("gamma", "moving_variance", "variance"):  # variance: Normalization
            value = np.ones(shape)
        else:  # beta, moving_mean, bias
            value = np.zeros(shape)
        values.append(value.astype("float32"))
    return values


def _load_random(model: Any) -> None:
    for variable, value in zip(model.weights, random_weight_values(model), strict=True):
        variable.assign(value)


def _verified_path(resolved: ResolvedWeights) -> pathlib.Path:
    """The file to load, re-checked against its recorded sha256 (re-fetched if damaged)."""
    path = resolved.path
    if path is None:
        raise WeightsError(f"{resolved.source} weights have no file; resolve them first")
    intact = path.is_file() and (resolved.sha256 is None or file_hash(path) == resolved.sha256)
    if intact:
        return path
    if resolved.source in FETCHABLE:
        fresh = fetch(resolved.source)  # rebuilds when the cached file fails verification
        return fresh.path
    raise WeightsError(f"{path} is missing or changed since it was resolved; resolve it again")


def load_into(model: Any, resolved: ResolvedWeights) -> None:
    """Load resolved weights into ``InceptionV3(include_top=False, weights=None)``.

    Example:
        >>> model = build_inception_v3()                        # doctest: +SKIP
        >>> load_into(model, resolve_weights("random"))         # doctest: +SKIP
    """
    if resolved.source == "random":
        _load_random(model)
        return
    path = _verified_path(resolved)
    try:
        # Keras warns once per layer it cannot match (hundreds of lines): one error says it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_weights(str(path))
    except Exception as error:  # Keras raises ValueError/KeyError/OSError for bad files
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if "could not be loaded" in first_line or "mismatch" in first_line.lower():
            first_line = f"the file's weights do not fit this network ({model.name})"
        raise WeightsError(
            f"cannot load {resolved.source} weights from {path}: {first_line.rstrip(':')}"
        ) from error
