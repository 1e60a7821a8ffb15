"""Shared fixtures. Every test runs on the backend nox selected with KERAS_BACKEND."""

from __future__ import annotations

import importlib.util
import os

# kdream before Keras: it sets the defaults TensorFlow reads when it loads (its oneDNN
# kernels), so this process runs the kernels the CLI's processes run.
import kdream  # noqa: F401

# isort: split
import keras
import numpy as np
import pytest

from kdream.models.extractor import FeatureExtractor

# The cross-backend comparison needs all three backends' recordings: only its own
# nox session (crossbackend) collects it.
collect_ignore = [] if os.environ.get("KDREAM_CROSSBACKEND_DIR") else ["crossbackend"]
# The original 2015 network runs in torch: that check lives in the torch session only
# (TensorFlow and torch never share an environment).
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("weights/test_torchscript_crosscheck.py")
if importlib.util.find_spec("tensorflow") is None:
    collect_ignore.append("backend/test_tensorflow_kernels.py")


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"


@pytest.fixture(scope="session")
def dreamer():
    """InceptionV3 with deterministic random weights (identical on every backend)."""
    from kdream import Dreamer

    return Dreamer(weights="random")


def tiny_conv_model(kernel: np.ndarray, bias: np.ndarray, depth: int = 1) -> keras.Model:
    """``depth`` 3x3 'same' convolutions (+ReLU between them) with weights set from numpy.

    Its receptive field is 2 * depth + 1 pixels: small enough to check tile borders.
    """
    inputs = keras.Input((None, None, kernel.shape[2]))
    x = inputs
    for index in range(depth):
        if index:
            x = keras.layers.ReLU()(x)
        conv = keras.layers.Conv2D(kernel.shape[3], 3, padding="same", name=f"conv{index}")
        x = conv(x)
        conv.set_weights([kernel if index == 0 else _square_kernel(kernel, index), bias])
    return keras.Model(inputs, x)


def _square_kernel(kernel, index):
    rng = np.random.default_rng(100 + index)
    channels = kernel.shape[3]
    return rng.normal(0, 0.3, (3, 3, channels, channels)).astype("float32")


@pytest.fixture
def tiny_extractor():
    """A FeatureExtractor over a tiny 2-layer conv model (receptive field 5 px)."""
    rng = np.random.default_rng(7)
    kernel = rng.normal(0, 0.5, (3, 3, 3, 4)).astype("float32")
    bias = rng.normal(0, 0.1, (4,)).astype("float32")
    model = tiny_conv_model(kernel, bias, depth=2)
    return FeatureExtractor(model, ("conv1",))
