"""The layer variants of ``kdream._xla_cpu`` compute what Keras' own layers compute.

The pooling variants are plain ``keras.ops``: alone and inside InceptionV3 they are
checked on every backend. The convolution variant is written in ``jax.lax`` and is
checked inside InceptionV3 on JAX. ``fast_model`` swaps only on JAX on a CPU (torch's
channels-first rebuild: ``test_channels_first.py``).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from kdream import backend
from kdream.models.extractor import FeatureExtractor
from kdream.models.families import build_inception
from kdream.network import xla_cpu as _xla_cpu
from kdream.network.fast import fast_model


def values_and_gradient(layer, images):
    """A one-layer model's output and the gradient of sum(output**2) w.r.t. its input."""
    inputs = keras.Input((None, None, images.shape[-1]))
    model = keras.Model(inputs, layer(inputs))
    outputs = ops.convert_to_numpy(model(images))
    gradient = backend.input_gradient(model, lambda out: ops.sum(ops.square(out), axis=(1, 2, 3)))
    _, grads = gradient(ops.convert_to_tensor(images))
    return outputs, ops.convert_to_numpy(grads)


def relu_images(shape, seed=0):
    """Random activations with many exact ties at zero, as after a ReLU."""
    rng = np.random.default_rng(seed)
    return np.maximum(rng.normal(size=shape), 0).astype("float32")


@pytest.mark.parametrize("side", [17, 18])
def test_sliced_max_pooling_matches_keras(side):
    images = relu_images((2, side, side + 3, 4))
    expected = values_and_gradient(keras.layers.MaxPooling2D(3, strides=2), images)
    actual = values_and_gradient(_xla_cpu.SlicedMaxPooling2D(3, strides=2), images)
    assert actual[0].shape == expected[0].shape == (2, (side - 3) // 2 + 1, side // 2 + 1, 4)
    np.testing.assert_array_equal(actual[0], expected[0])
    np.testing.assert_allclose(actual[1], expected[1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("side", [5, 8])
def test_sliced_average_pooling_matches_keras(side):
    images = relu_images((2, side, side + 1, 3), seed=1)
    keras_layer = keras.layers.AveragePooling2D(3, strides=1, padding="same")
    expected = values_and_gradient(keras_layer, images)
    actual = values_and_gradient(
        _xla_cpu.SlicedAveragePooling2D(3, strides=1, padding="same"), images
    )
    assert actual[0].shape == images.shape
    np.testing.assert_allclose(actual[0], expected[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(actual[1], expected[1], rtol=1e-5, atol=1e-6)


def test_window_counts_count_in_range_pixels():
    counts = _xla_cpu._window_counts(5, 3)
    brute = [sum(0 <= p + d < 5 for d in (-1, 0, 1)) for p in range(5)]
    assert ops.convert_to_numpy(counts).tolist() == brute == [2, 3, 3, 3, 2]


def test_layers_without_a_variant_are_kept():
    layer = keras.layers.ReLU()
    assert _xla_cpu.replace_layer(layer) is layer


def swapped_layer(layer):
    """Every variant on JAX; elsewhere the pooling ones (the convolution's uses jax.lax)."""
    if backend.name() == "jax" or type(layer) is not keras.layers.Conv2D:
        return _xla_cpu.replace_layer(layer)
    return layer


@pytest.fixture(scope="module")
def inception():
    base, _ = build_inception("random")
    return base


@pytest.fixture(scope="module")
def plain_and_swapped(inception):
    """The mixed3 extractor as Keras builds it, and with its layers swapped."""
    plain = keras.Model(inception.input, inception.get_layer("mixed3").output)
    return plain, keras.models.clone_model(plain, clone_function=swapped_layer)


def layer_classes(model) -> set[str]:
    return {type(layer).__name__ for layer in model.layers}


def test_fast_model_swaps_only_on_jax_cpu(inception, plain_and_swapped):
    plain, _ = plain_and_swapped
    fast = FeatureExtractor.build(["mixed3"], base=inception).model
    swapped = layer_classes(fast) - layer_classes(plain)
    if backend.name() == "jax" and not backend.has_gpu():
        assert swapped == {"PaddedValidConv2D", "SlicedMaxPooling2D", "SlicedAveragePooling2D"}
    elif backend.name() == "torch":  # rebuilt channels-first, no layer swapped
        assert swapped == {"Permute", "Functional"}
    else:
        assert swapped == set()
        assert fast_model(plain) is plain


@pytest.mark.parametrize("hw", [(99, 120), (128, 101)])
def test_swapped_model_same_activations_and_gradient(plain_and_swapped, hw):
    plain, swapped = plain_and_swapped
    assert {"SlicedMaxPooling2D", "SlicedAveragePooling2D"} <= layer_classes(swapped)
    images = np.random.default_rng(2).uniform(-1, 1, (2, *hw, 3)).astype("float32")
    objective = lambda out: ops.mean(ops.square(out), axis=(1, 2, 3))  # noqa: E731
    results = []
    for model in (plain, swapped):
        values, grads = backend.input_gradient(model, objective)(ops.convert_to_tensor(images))
        results.append((ops.convert_to_numpy(values), ops.convert_to_numpy(grads)))
    (plain_values, plain_grads), (swapped_values, swapped_grads) = results
    np.testing.assert_allclose(swapped_values, plain_values, rtol=1e-5)
    assert np.abs(plain_grads).max() > 0
    np.testing.assert_allclose(
        swapped_grads, plain_grads, rtol=1e-4, atol=1e-5 * np.abs(plain_grads).max()
    )
