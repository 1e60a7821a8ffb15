"""Image parameterisations and transforms of feature visualisation, against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from kdream.techniques.visualize.param import (
    COLOR_MAP,
    ImageParam,
    inverse_dft_bases,
    spectrum_to_image,
)
from kdream.techniques.visualize.transforms import Transforms


@pytest.mark.parametrize("size_hw", [(12, 10), (9, 7)])
def test_spectrum_to_image_is_numpys_inverse_real_fft_of_the_scaled_spectrum(size_hw):
    rng = np.random.default_rng(0)
    spectrum = rng.standard_normal((2, 3, size_hw[0], size_hw[1] // 2 + 1, 2)).astype("float32")
    bases = inverse_dft_bases(size_hw)
    image = ops.convert_to_numpy(spectrum_to_image(ops.convert_to_tensor(spectrum), *bases))
    complex_spectrum = (spectrum[..., 0] + 1j * spectrum[..., 1]) * bases[-1]
    expected = np.fft.irfft2(complex_spectrum, s=size_hw).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(image, expected, atol=2e-5)


def test_spectrum_scale_is_one_over_frequency_times_sqrt_of_pixels():
    scale = inverse_dft_bases((8, 8))[-1]
    assert scale[0, 0] == pytest.approx(8 * 8)  # floored at 1/8 cycles per pixel
    assert scale[0, 4] == pytest.approx(8 / 0.5)  # f = 0.5
    assert scale[4, 4] == pytest.approx(8 / np.sqrt(0.5))


def test_pixels_param_is_a_sigmoid_of_decorrelated_colour():
    param = ImageParam.create("pixels", (4, 5))
    values = np.random.default_rng(1).standard_normal(param.parameter_shape(1)).astype("float32")
    pixels = ops.convert_to_numpy(param.to_unit_rgb(ops.convert_to_tensor(values), *param.bases()))
    np.testing.assert_allclose(pixels, 1 / (1 + np.exp(-(values @ COLOR_MAP))), atol=1e-6)
    with pytest.raises(ValueError, match="param: must be one of fft, pixels"):
        ImageParam.create("wavelets", (4, 4))


def test_transforms_are_seeded_and_identity_without_randomness():
    image = np.random.default_rng(2).random((1, 20, 20, 3)).astype("float32")
    none = Transforms.none()
    matrices = none.draw(np.random.default_rng(0), 1, (20, 20))
    same = ops.convert_to_numpy(none.apply(ops.convert_to_tensor(image), matrices))
    np.testing.assert_allclose(same, image, atol=1e-6)
    transforms = Transforms()
    first = transforms.draw(np.random.default_rng(5), 3, (20, 20))
    np.testing.assert_array_equal(first, transforms.draw(np.random.default_rng(5), 3, (20, 20)))
    moved = transforms.apply(ops.convert_to_tensor(np.repeat(image, 3, 0)), first)
    assert tuple(moved.shape) == (3, *transforms.output_hw((20, 20)), 3) == (3, 32, 32, 3)
    border = ops.convert_to_numpy(moved)[:, :2, :2]
    np.testing.assert_allclose(border, 0.5, atol=1e-6)  # grey padding around the picture
