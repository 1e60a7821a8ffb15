"""The converted 2015 weights against the original TorchScript network, run by torch itself."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


def _reference_module():
    spec = importlib.util.spec_from_file_location(
        "make_inception2015_reference", DATA / "make_inception2015_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_torchscript_crosscheck(tmp_path, tmp_path_factory):
    """Converted Keras model vs the original TorchScript network: mixed0..mixed9 within 1e-4.

    Collected only where torch is installed (the torch nox session); the other backends
    check the stored reference values instead.
    """
    import keras
    import torch

    from kdream import weights
    from kdream.weights import inception2015 as inception2015_source

    reference = _reference_module()
    home = os.environ.get("KDREAM_HOME") or str(tmp_path_factory.getbasetemp() / "kdream_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KDREAM_HOME", home)
        resolved = weights.fetch("inception2015")
        pt_file = reference.download_default_pt(tmp_path)
    model = inception2015_source.build_inception_v3()
    weights.load_into(model, resolved)
    names = [f"mixed{n}" for n in range(11)]
    probe = keras.Model(model.input, [model.get_layer(name).output for name in names])
    x = reference.network_input(reference.reference_image())
    ours = dict(zip(names, (keras.ops.convert_to_numpy(y) for y in probe(x)), strict=True))
    torch.set_num_threads(2)
    original = reference.original_mixed_activations(pt_file, x)
    for name in names[:10]:
        assert ours[name].shape == original[name].shape
        assert np.abs(ours[name] - original[name]).max() <= 1e-4, name
    # MIXED10_NOTE: the last block pools differently (max vs average), so it really differs.
    assert np.abs(ours["mixed10"] - original["mixed10"]).max() > 1e-2
