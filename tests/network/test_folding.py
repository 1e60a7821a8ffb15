"""Batch normalisations folded into the convolutions before them (``kdream.network.folding``):
the rebuilt network computes the same values and input gradients, on every backend, and
folds exactly the normalisations that follow a linear convolution nothing else reads."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from kdream import backend
from kdream.models.families import build_inception
from kdream.network.folding import fold_batch_norms
from kdream.network.layers import pre_activation_output


@pytest.fixture(scope="module")
def inception():
    """InceptionV3 with normalisation statistics far from the identity, so that a wrong
    fold (a missed mean, scale or epsilon) shows in the values."""
    base, _ = build_inception("random")
    rng = np.random.default_rng(0)
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.3, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.3, 3.0, n).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.3, n).astype("float32"))
    return base


def values_and_gradients(model, images):
    def objective(outputs):
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return sum(ops.mean(ops.square(out), axis=(1, 2, 3)) for out in outputs)

    values, grads = backend.input_gradient(model, objective)(ops.convert_to_tensor(images))
    return ops.convert_to_numpy(values), ops.convert_to_numpy(grads)


def count(model, kind) -> int:
    return sum(type(layer) is kind for layer in model.layers)


@pytest.mark.parametrize("pre_activation", [False, True])
def test_folded_network_gives_the_same_values_and_gradients(inception, pre_activation):
    # conv2d_5 is a convolution read directly: it must stay unfolded to give its own output.
    names = ("mixed2", "conv2d_5", "activation_10")
    outputs = [
        pre_activation_output(inception.get_layer(n)) if pre_activation
        else inception.get_layer(n).output
        for n in names
    ]  # fmt: skip
    plain = keras.Model(inception.input, outputs)
    folded = fold_batch_norms(plain)
    normalisations = count(plain, keras.layers.BatchNormalization)
    assert count(folded, keras.layers.BatchNormalization) == 1  # all but conv2d_5's folded
    rectifiers = count(plain, keras.layers.Activation)
    moved = rectifiers - count(folded, keras.layers.Activation)  # ReLUs now in a convolution
    assert len(folded.layers) == len(plain.layers) - (normalisations - 1) - moved  # nothing left
    if pre_activation:  # the normalised values read before their ReLU keep it apart
        assert 0 < moved < normalisations - 1
    else:
        assert count(folded, keras.layers.Activation) == 1  # conv2d_5's: its norm stays
    images = np.random.default_rng(3).uniform(-1, 1, (2, 83, 90, 3)).astype("float32")
    for expected, actual in zip(plain(images), folded(images)):
        expected, actual = ops.convert_to_numpy(expected), ops.convert_to_numpy(actual)
        assert expected.shape == actual.shape
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    value, grads = values_and_gradients(plain, images)
    folded_value, folded_grads = values_and_gradients(folded, images)
    np.testing.assert_allclose(folded_value, value, rtol=1e-4)
    assert np.abs(folded_grads - grads).max() <= 1e-3 * np.abs(grads).max()


def test_only_normalisations_after_a_linear_convolution_fold():
    inputs = keras.Input((12, 12, 3))
    linear = keras.layers.Conv2D(4, 3, padding="same", use_bias=True, name="linear")(inputs)
    normalised = keras.layers.BatchNormalization(name="after_linear")(linear)
    rectified = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="relu")(
        normalised
    )
    after_relu = keras.layers.BatchNormalization(name="after_relu")(rectified)
    summed = keras.layers.Add()([normalised, after_relu])
    after_add = keras.layers.BatchNormalization(name="after_add")(summed)
    model = keras.Model(inputs, after_add)
    rng = np.random.default_rng(1)
    for layer in model.layers:
        layer.set_weights(
            [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in layer.get_weights()]
        )
    folded = fold_batch_norms(model)
    kinds = {layer.name: type(layer) for layer in folded.layers}
    assert "after_linear" not in kinds  # folded into "linear", which now has a bias
    assert kinds["linear"] is keras.layers.Conv2D and folded.get_layer("linear").use_bias
    assert kinds["after_relu"] is keras.layers.BatchNormalization  # the ReLU sits between
    assert kinds["after_add"] is keras.layers.BatchNormalization  # not after a convolution
    assert folded.get_layer("relu") is model.get_layer("relu")  # unchanged layers are shared
    images = rng.uniform(-1, 1, (2, 12, 12, 3)).astype("float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(folded(images)),
        ops.convert_to_numpy(model(images)),
        rtol=1e-4,
        atol=1e-4,
    )


def test_a_network_without_normalisations_comes_back_as_it_is():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))
    assert fold_batch_norms(model) is model


def test_a_folded_block_keeps_the_convolutions_precision_and_takes_its_relu():
    """A conv-norm-ReLU block under bfloat16 becomes one convolution: its weights stored
    in bfloat16 (a mixed policy cast every float32 weight in every call), the ReLU
    inside, the output bfloat16 (a float32 layer in between made Keras cast every
    activation to float32 and back: a fifth of a step)."""
    from kdream.network.precision import building_in

    with building_in("bfloat16"):
        inputs = keras.Input((12, 12, 3))
        linear = keras.layers.Conv2D(4, 3, padding="same", name="linear")(inputs)
        normalised = keras.layers.BatchNormalization(name="after_linear")(linear)
        model = keras.Model(inputs, keras.layers.Activation("relu", name="relu")(normalised))
    folded = fold_batch_norms(model)  # outside the policy's scope, as kdream folds
    assert [type(layer).__name__ for layer in folded.layers] == ["InputLayer", "Conv2D"]
    convolution = folded.get_layer("linear")
    assert keras.activations.serialize(convolution.activation) == "relu"
    assert {keras.backend.standardize_dtype(w.dtype) for w in convolution.weights} == {"bfloat16"}
    images = np.random.default_rng(2).uniform(-1, 1, (1, 12, 12, 3)).astype("float32")
    outputs = folded(images)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    expected = ops.convert_to_numpy(ops.cast(model(images), "float32"))
    assert expected.min() == 0.0 and expected.max() > 0  # the ReLU bites
    np.testing.assert_allclose(
        ops.convert_to_numpy(ops.cast(outputs, "float32")), expected, rtol=0.02, atol=0.02
    )
