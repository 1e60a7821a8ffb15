"""torch runs networks channels-first inside (``kdream._channels_first``): the rebuilt
model takes and gives channels-last tensors and computes the same values and input
gradients with the same weights. The rebuild is plain Keras; it runs where the backend
has channels-first convolutions on a CPU (torch, JAX; TensorFlow's CPU kernels are
channels-last only, and there ``fast_model`` only folds the batch normalisations, which
tests/network/test_folding.py checks)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from kdream import backend
from kdream.models.extractor import FeatureExtractor
from kdream.models.families import build_inception
from kdream.network import channels_first as _channels_first
from kdream.network.fast import fast_model
from kdream.network.layers import pre_activation_output

CHANNELS_FIRST_ON_CPU = backend.name() in ("torch", "jax")


@pytest.fixture(scope="module")
def inception():
    base, _ = build_inception("random")
    return base


def values_and_gradients(model, images):
    objective = lambda outputs: sum(  # noqa: E731
        ops.mean(ops.square(out), axis=(1, 2, 3)) for out in as_list(outputs)
    )
    values, grads = backend.input_gradient(model, objective)(ops.convert_to_tensor(images))
    return ops.convert_to_numpy(values), ops.convert_to_numpy(grads)


def stays_channels_last(model) -> bool:
    """No channels-first network inside, and every layer channels-last."""
    formats = {getattr(layer, "data_format", "channels_last") for layer in model.layers}
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return not nested and formats == {"channels_last"}


def as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def test_inception_cuts_are_convertible_and_heads_are_not(inception):
    cut = keras.Model(inception.input, inception.get_layer("mixed5").output)
    assert _channels_first.convertible(cut)
    pooled = keras.layers.GlobalAveragePooling2D()(cut.output)
    assert not _channels_first.convertible(keras.Model(cut.input, pooled))
    dense = keras.layers.Dense(4)(cut.output)
    assert not _channels_first.convertible(keras.Model(cut.input, dense))


def test_fast_model_is_channels_first_on_torch_only(inception):
    cut = keras.Model(inception.input, inception.get_layer("mixed2").output)
    fast = fast_model(cut)
    inner = [layer for layer in fast.layers if isinstance(layer, keras.Model)]
    if backend.name() == "torch":
        (network,) = inner
        formats = {getattr(layer, "data_format", None) for layer in network.layers}
        assert formats - {None} == {"channels_first"}
        assert tuple(fast.output.shape) == tuple(cut.output.shape) == (None, None, None, 288)
    else:
        assert inner == []


@pytest.mark.parametrize("pre_activation", [False, True])
def test_channels_first_computes_the_same_values_and_gradients(inception, pre_activation):
    names = ("mixed2", "conv2d_5", "activation_10")
    outputs = [
        pre_activation_output(inception.get_layer(n))
        if pre_activation
        else inception.get_layer(n).output
        for n in names
    ]
    plain = keras.Model(inception.input, outputs)
    images = np.random.default_rng(3).uniform(-1, 1, (2, 101, 96, 3)).astype("float32")
    if not CHANNELS_FIRST_ON_CPU:
        assert stays_channels_last(fast_model(plain))  # only its normalisations folded
        return
    rebuilt = _channels_first.channels_first(plain)
    for expected, actual in zip(as_list(plain(images)), as_list(rebuilt(images))):
        expected, actual = ops.convert_to_numpy(expected), ops.convert_to_numpy(actual)
        assert actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    (plain_values, plain_grads), (values, grads) = (
        values_and_gradients(plain, images),
        values_and_gradients(rebuilt, images),
    )
    np.testing.assert_allclose(values, plain_values, rtol=1e-5)
    assert np.abs(plain_grads).max() > 0
    np.testing.assert_allclose(grads, plain_grads, rtol=1e-4, atol=1e-5 * np.abs(plain_grads).max())


def residual_network() -> keras.Model:
    """ResNet's layer kinds: zero padding, strided convolution, batch norm, a sum, pooling."""
    inputs = keras.Input((None, None, 3))
    padded = keras.layers.ZeroPadding2D(((1, 2), (0, 1)))(inputs)
    trunk = keras.layers.Conv2D(8, 3, strides=2, name="trunk")(padded)
    normed = keras.layers.BatchNormalization(name="norm")(trunk)
    branch = keras.layers.Conv2D(8, 1, padding="same", name="branch")(normed)
    summed = keras.layers.Add()([keras.layers.ReLU()(normed), branch])
    pooled = keras.layers.MaxPooling2D(2)(summed)
    network = keras.Model(inputs, [pooled, keras.layers.Activation("relu")(branch)])
    rng = np.random.default_rng(5)
    network.set_weights(
        [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in network.get_weights()]
    )
    return network


def test_residual_layers_convert_to_the_same_function():
    network = residual_network()
    images = np.random.default_rng(6).uniform(-1, 1, (2, 23, 30, 3)).astype("float32")
    assert _channels_first.convertible(network)
    if not CHANNELS_FIRST_ON_CPU:
        assert stays_channels_last(fast_model(network))
        return
    rebuilt = _channels_first.channels_first(network)
    for expected, actual in zip(network(images), rebuilt(images)):
        expected, actual = ops.convert_to_numpy(expected), ops.convert_to_numpy(actual)
        assert actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_rebuilt_weights_are_copies_of_the_originals(inception):
    plain = keras.Model(inception.input, inception.get_layer("mixed0").output)
    if not CHANNELS_FIRST_ON_CPU:  # only folded: no channels-first copy
        assert stays_channels_last(fast_model(plain))
        return
    rebuilt = _channels_first.channels_first(plain)
    expected = sorted(float(np.sum(w)) for w in plain.get_weights())
    actual = sorted(float(np.sum(w)) for w in rebuilt.get_weights())
    assert len(actual) == len(expected) > 0
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


def test_extractor_keeps_its_channels_last_shapes(inception):
    extractor = FeatureExtractor.build(["mixed3"], base=inception)
    assert tuple(extractor.model.outputs[0].shape)[-1] == 768
    assert tuple(extractor.model.input.shape) == (None, None, None, 3)
    probe = keras.KerasTensor((1, 224, 200, 3))
    expected = keras.Model(inception.input, inception.get_layer("mixed3").output)
    assert extractor.spatial_size((224, 200))["mixed3"] == tuple(
        expected.compute_output_spec(probe).shape[1:3]
    )
