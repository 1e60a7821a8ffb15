"""The gradient of the objective w.r.t. the input image, against an analytic numpy reference.

Every backend is compared with the same numpy computation, so the three backends
agree with each other to the same tolerance.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from kdream import backend
from kdream.models.extractor import FeatureExtractor
from kdream.objectives.core import channel, layer
from tests.conftest import tiny_conv_model


def conv_same(image, kernel, bias):
    """Cross-correlation with zero 'same' padding: (N,H,W,C) x (3,3,C,K) -> (N,H,W,K)."""
    padded = np.pad(image, ((0, 0), (1, 1), (1, 1), (0, 0)))
    height, width = image.shape[1:3]
    out = np.zeros(image.shape[:3] + (kernel.shape[3],))
    for dy in range(3):
        for dx in range(3):
            out += padded[:, dy : dy + height, dx : dx + width] @ kernel[dy, dx]
    return out + bias


def conv_same_input_gradient(upstream, kernel):
    """d(sum(upstream * conv_same(x))) / dx."""
    height, width = upstream.shape[1:3]
    grad = np.zeros(upstream.shape[:3] + (kernel.shape[2],))
    padded = np.zeros((upstream.shape[0], height + 2, width + 2, kernel.shape[2]))
    for dy in range(3):
        for dx in range(3):
            padded[:, dy : dy + height, dx : dx + width] += upstream @ kernel[dy, dx].T
    grad = padded[:, 1:-1, 1:-1]
    return grad


def make_inputs():
    rng = np.random.default_rng(3)
    kernel = rng.normal(0, 0.5, (3, 3, 3, 5))
    bias = rng.normal(0, 0.2, (5,))
    images = rng.uniform(-1, 1, (2, 9, 11, 3))
    return kernel, bias, images


def test_mean_square_gradient_matches_numpy():
    kernel, bias, images = make_inputs()
    model = tiny_conv_model(kernel.astype("float32"), bias.astype("float32"))
    gradient = backend.input_gradient(model, lambda out: layer("conv0")({"conv0": out}))
    values, grads = gradient(ops.convert_to_tensor(images.astype("float32")))

    outputs = conv_same(images, kernel, bias)
    count = np.prod(outputs.shape[1:])
    expected_values = (outputs**2).sum(axis=(1, 2, 3)) / count
    expected_grads = conv_same_input_gradient(2 * outputs / count, kernel)
    np.testing.assert_allclose(ops.convert_to_numpy(values), expected_values, rtol=1e-4)
    np.testing.assert_allclose(ops.convert_to_numpy(grads), expected_grads, rtol=1e-4, atol=1e-7)


def test_each_image_gets_the_gradient_of_its_own_value():
    kernel, bias, images = make_inputs()
    model = tiny_conv_model(kernel.astype("float32"), bias.astype("float32"))
    gradient = backend.input_gradient(model, lambda out: layer("conv0")({"conv0": out}))
    _, together = gradient(ops.convert_to_tensor(images.astype("float32")))
    _, alone = gradient(ops.convert_to_tensor(images[1:].astype("float32")))
    np.testing.assert_allclose(
        ops.convert_to_numpy(together)[1], ops.convert_to_numpy(alone)[0], rtol=1e-5, atol=1e-8
    )


def test_channel_mean_gradient_matches_numpy():
    kernel, bias, images = make_inputs()
    model = tiny_conv_model(kernel.astype("float32"), bias.astype("float32"))
    objective = channel("conv0", [1, 3], weight=2.0)
    gradient = backend.input_gradient(model, lambda out: objective({"conv0": out}))
    values, grads = gradient(ops.convert_to_tensor(images.astype("float32")))

    outputs = conv_same(images, kernel, bias)
    count = np.prod(outputs.shape[1:3]) * 2
    expected_values = 2.0 * outputs[..., [1, 3]].sum(axis=(1, 2, 3)) / count
    upstream = np.zeros_like(outputs)
    upstream[..., [1, 3]] = 2.0 / count
    np.testing.assert_allclose(ops.convert_to_numpy(values), expected_values, rtol=1e-4)
    np.testing.assert_allclose(
        ops.convert_to_numpy(grads),
        conv_same_input_gradient(upstream, kernel),
        rtol=1e-4,
        atol=1e-7,
    )


def test_weights_get_no_gradient_and_do_not_change():
    kernel, bias, images = make_inputs()
    model = tiny_conv_model(kernel.astype("float32"), bias.astype("float32"))
    extractor = FeatureExtractor(model, ("conv0",))
    gradient = backend.input_gradient(extractor.model, lambda out: layer("conv0")({"conv0": out}))
    before = [np.array(w) for w in model.get_weights()]
    gradient(ops.convert_to_tensor(images.astype("float32")))
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    if backend.name() == "torch":
        assert not any(v.value.requires_grad for v in model.variables)
