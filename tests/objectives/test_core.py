"""Objective algebra and its values."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from kdream.config import DreamConfig
from kdream.objectives.core import channel, from_config, layer, layers


def activations():
    rng = np.random.default_rng(0)
    return {
        "a": rng.normal(size=(2, 4, 5, 6)).astype("float32"),
        "b": rng.normal(size=(2, 3, 3, 8)).astype("float32"),
    }


def evaluate(objective):
    tensors = {k: ops.convert_to_tensor(v) for k, v in activations().items()}
    return ops.convert_to_numpy(objective(tensors))


def test_weighted_layers_sum_mean_squares():
    acts = activations()
    value = evaluate(layers({"a": 1.0, "b": -0.5}))
    expected = (acts["a"] ** 2).mean(axis=(1, 2, 3)) - 0.5 * (acts["b"] ** 2).mean(axis=(1, 2, 3))
    assert value.shape == (2,)
    np.testing.assert_allclose(value, expected, rtol=1e-5)


def test_mean_reduction_and_channels():
    acts = activations()
    np.testing.assert_allclose(
        evaluate(layer("a", reduction="mean")),
        acts["a"].mean(axis=(1, 2, 3)),
        rtol=1e-5,
        atol=1e-7,
    )
    np.testing.assert_allclose(
        evaluate(channel("b", [1, 5])), acts["b"][..., [1, 5]].mean(axis=(1, 2, 3)), rtol=1e-5
    )


def test_algebra_scales_and_joins_terms():
    combined = 2 * layer("a") + channel("b", 3) - layer("b", 0.25)
    assert combined.layer_names == ("a", "b")
    assert [term.weight for term in combined.terms] == [2.0, 1.0, -0.25]
    np.testing.assert_allclose(
        evaluate(combined),
        2 * evaluate(layer("a")) + evaluate(channel("b", 3)) - 0.25 * evaluate(layer("b")),
        rtol=1e-5,
    )


def test_from_config_adds_channel_terms():
    config = DreamConfig(layers={"mixed3": 1.0}, channels=[("mixed4", [7], 2.0)])
    objective = from_config(config)
    assert objective.layer_names == ("mixed3", "mixed4")
    assert objective.terms[1].channels == (7,) and objective.terms[1].weight == 2.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="reduction"):
        layer("a", reduction="max")
    with pytest.raises(ValueError, match="channels"):
        channel("a", [])
