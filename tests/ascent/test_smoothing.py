"""Gaussian smoothing of the gradient against scipy.ndimage."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops
from scipy.ndimage import gaussian_filter

from kdream.ascent.smoothing import CASCADE, cascade_kernels, gaussian_kernel, kernel_radius, smooth


def scipy_blur(image, sigma, radius):
    # keras "reflect" padding (d c b | a b c d) is scipy's "mirror" mode.
    return gaussian_filter(image, sigma=(sigma, sigma, 0), mode="mirror", truncate=radius / sigma)


@pytest.mark.parametrize("sigma", [0.5, 1.3, 3.0])
def test_single_gaussian_matches_scipy(sigma):
    image = np.random.default_rng(0).normal(size=(37, 53, 3)).astype("float32")
    radius = kernel_radius(sigma)
    kernel = gaussian_kernel(sigma, radius)[None]
    ours = ops.convert_to_numpy(smooth(ops.convert_to_tensor(image), ops.convert_to_tensor(kernel)))
    expected = scipy_blur(image.astype("float64"), sigma, radius)
    assert ours.shape == image.shape
    assert np.max(np.abs(ours - expected)) <= 1e-5


def test_cascade_is_the_average_of_three_gaussians():
    image = np.random.default_rng(1).normal(size=(64, 48, 3)).astype("float32")
    sigma = 1.5
    radius = kernel_radius(sigma)
    ours = ops.convert_to_numpy(
        smooth(ops.convert_to_tensor(image), ops.convert_to_tensor(cascade_kernels(sigma, radius)))
    )
    expected = np.mean(
        [scipy_blur(image.astype("float64"), sigma * f, radius) for f in CASCADE], axis=0
    )
    assert np.max(np.abs(ours - expected)) <= 1e-5


def test_kernels_are_normalised_and_symmetric():
    kernels = cascade_kernels(2.0, kernel_radius(2.0))
    assert kernels.shape == (3, 2 * 12 + 1)
    np.testing.assert_allclose(kernels.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(kernels, kernels[:, ::-1])


def test_smoothing_keeps_a_constant_image_constant_at_the_borders():
    image = np.full((20, 30, 3), 0.25, "float32")
    kernels = cascade_kernels(2.0, kernel_radius(2.0))
    out = ops.convert_to_numpy(smooth(ops.convert_to_tensor(image), ops.convert_to_tensor(kernels)))
    np.testing.assert_allclose(out, 0.25, rtol=1e-6)
