"""Prepared extractors: the network a dream differentiates, in the form it runs, kept in
kdream's cache folder so that the next process starts from it.

Building InceptionV3 to mixed5, loading its weights and folding its normalisations
took ~0.9 s of every dream's start-up on a 2-core CPU (TensorFlow); rebuilding the
folded network from its saved configuration and weights takes ~0.2 s. An entry is
named by a hash of everything the network depends on: the versions of kdream, Keras
and the framework, the source of kdream's network code, the backend and whether it
runs on a GPU, the family, the weights' sha256, the layers and the precision. A
changed input never meets an old entry, and the same recipe gives the same picture
from a fresh build and from an entry (tests/models/test_prepared.py).

An entry is data only: a Keras configuration read in safe mode and plain arrays read
without pickles. One that cannot be read is ignored and written again; a cache folder
that cannot be written only costs the saving. The folder keeps the
:data:`KEPT_ENTRIES` most recently used entries.

Example:
    >>> key = entry_key(spec, resolved, ("mixed3", "mixed5"), "bfloat16")  # doctest: +SKIP
    >>> extractor = load_extractor(key, spec, resolved, ("mixed3", "mixed5"))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import pathlib
import sys

import keras
import numpy as np

from kdream import backend
from kdream._files import PREPARED_FOLDER, PREPARED_KEPT, cache_dir, write_atomically
from kdream.models.extractor import FeatureExtractor
from kdream.models.spec import ModelSpec
from kdream.network import xla_cpu  # noqa: F401  (registers the layers entries may name)
from kdream.network.build import canonical_layer_names, weights_set_later

FOLDER = PREPARED_FOLDER
"""Where entries live, inside kdream's cache folder."""
KEPT_ENTRIES = PREPARED_KEPT
FORMAT = 1
_NETWORK_CODE = ("network", "models", "weights")
"""kdream's packages whose source shapes a prepared network and its values (random
weights have no sha256: the code that draws them names them); part of every key."""


def entry_key(
    spec: ModelSpec, resolved, layer_names, precision: str, pre_activation: bool = False
) -> str | None:
    """The entry's name for this network, or None where none is kept: own ``.keras``
    models (they load from their file anyway), families built whole, and weights
    without a sha256 to name them. ``pre_activation``: the layers' outputs before their
    ReLUs (a visualisation's extractor, :class:`FeatureExtractor`)."""
    if spec.file is not None or spec.build_reaching is None or resolved is None:
        return None
    if resolved.source != "random" and not resolved.sha256:
        return None
    framework = backend.name()
    fields = {
        "format": FORMAT,
        "code": _code_digest(),
        "keras": keras.__version__,
        "backend": framework,
        "framework": getattr(sys.modules.get(framework), "__version__", ""),
        "gpu": backend.has_gpu(),
        "model": spec.name,
        "weights": [resolved.source, resolved.sha256],
        "layers": list(layer_names),
        "precision": precision,
        "pre_activation": pre_activation,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:40]


def load_extractor(key: str, spec: ModelSpec, resolved, layer_names) -> FeatureExtractor | None:
    """The extractor saved under ``key``, or None when there is no readable entry."""
    path = _entry_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as entry:
            config = json.loads(str(entry["config"]))
            dtypes = [str(name) for name in entry["dtypes"]]
            values = [_from_stored(entry[f"w{i}"], dtype) for i, dtype in enumerate(dtypes)]
        with canonical_layer_names(), weights_set_later():
            model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        model.set_weights(values)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # damaged or foreign: the caller builds the network and saves it anew
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept when the folder is trimmed
    names = tuple(dict.fromkeys(layer_names))
    return FeatureExtractor(model, names, resolved, spec.fixed_hw, spec.min_input_side)


def save_extractor(key: str, extractor: FeatureExtractor) -> None:
    """Keep ``extractor`` under ``key`` (atomically) when it is :func:`savable`; a folder
    that cannot be written is left alone."""
    model = extractor.model
    if not savable(model):
        return
    values = [keras.ops.convert_to_numpy(variable) for variable in model.weights]
    arrays = {f"w{i}": _stored(value) for i, value in enumerate(values)}
    arrays["config"] = np.asarray(json.dumps(keras.saving.serialize_keras_object(model)))
    arrays["dtypes"] = np.asarray([keras.backend.standardize_dtype(v.dtype) for v in values])
    path = _entry_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda stream: np.savez(stream, **arrays))
        _trim(path.parent)
    except OSError:
        pass


def _entry_path(key: str) -> pathlib.Path:
    return cache_dir() / FOLDER / f"{key}.npz"


def _stored(value: np.ndarray) -> np.ndarray:
    # numpy's own formats know no bfloat16: its bits travel as uint16.
    if keras.backend.standardize_dtype(value.dtype) == "bfloat16":
        return np.ascontiguousarray(value).view(np.uint16)
    return value


def _from_stored(value: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":
        import ml_dtypes  # Keras' own dependency

        return value.view(ml_dtypes.bfloat16)
    return value.astype(dtype, copy=False)


def savable(model) -> bool:
    """Whether ``model`` is made of layers a safe-mode configuration rebuilds: Keras' own
    (but ``Lambda``) and the ones kdream registers (JAX's CPU variants)."""
    for layer in model.layers:
        kind = type(layer)
        registered = keras.saving.get_registered_object(keras.saving.get_registered_name(kind))
        if not (kind.__module__.startswith("keras.") or registered is kind):
            return False
        if isinstance(layer, keras.layers.Lambda):  # Python code: no safe configuration
            return False
        if isinstance(layer, keras.Model) and not savable(layer):
            return False
    return True


def _trim(folder: pathlib.Path) -> None:
    entries = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for stale in entries[KEPT_ENTRIES:]:
        with contextlib.suppress(OSError):
            stale.unlink()


@functools.cache
def _code_digest() -> str:
    """sha256 over the source of the packages that build, fill and rewrite networks: an
    edited kdream (its version unchanged) never reads an entry the old code made."""
    root = pathlib.Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for package in _NETWORK_CODE:
        for source in sorted((root / package).glob("*.py")):
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()
