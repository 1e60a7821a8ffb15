"""Image parameterisations and transforms of feature visualisation, against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from kdream.techniques.visualize.param import (
    COLOR_MAP,
    MACO_GAIN,
    ImageParam,
    inverse_dft_bases,
    spectrum_to_image,
)
from kdream.techniques.visualize.settings import VisualizeSettings
from kdream.techniques.visualize.spectrum import magnitude
from kdream.techniques.visualize.transforms import Crops, Transforms


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
    with pytest.raises(ValueError, match="param: must be one of fft, maco, pixels"):
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


def unit_pictures(param: ImageParam, parameters: np.ndarray) -> np.ndarray:
    tensor = ops.convert_to_tensor(parameters)
    return ops.convert_to_numpy(param.to_unit_rgb(tensor, *param.bases())).astype(np.float64)


@pytest.mark.parametrize("channels", [3, 1])
def test_maco_pictures_keep_the_natural_magnitudes_whatever_the_phases(channels):
    """Undo the sigmoid and the colours: the standardised image's spectrum is the stored
    magnitude (times one constant per picture), for any phases; only phases are free."""
    size_hw = (24, 20)
    param = ImageParam.create("maco", size_hw, channels=channels)
    phases = param.initial(2, np.random.default_rng(3))
    assert phases.shape == (2, channels, 24, 11)
    unit = unit_pictures(param, phases)
    colour_map = (COLOR_MAP if channels == 3 else np.ones((1, 1))).astype(np.float64)
    linear = np.log(unit / (1 - unit)) @ np.linalg.inv(colour_map) / MACO_GAIN
    spectra = np.abs(np.fft.rfft2(linear, axes=(1, 2))).transpose(0, 3, 1, 2)
    # Columns 0 and W/2 of a real image's half spectrum pair +f with -f (conjugates): their
    # random phases interfere there, as in numpy's irfft2. Every other column is free.
    expected = magnitude(size_hw, channels)[..., 1:-1]
    for spectrum in spectra[..., 1:-1]:
        ratio = spectrum / expected
        np.testing.assert_allclose(ratio, ratio.mean(), rtol=2e-3)
    np.testing.assert_allclose(linear.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(linear.std(axis=(1, 2, 3)), 1, atol=5e-3)
    assert not np.allclose(unit[0], unit[1], atol=0.05)  # the phases make the picture


@pytest.mark.parametrize("kind, channels", [("fft", 3), ("fft", 1), ("pixels", 3), ("pixels", 1)])
def test_a_photo_becomes_parameters_whose_picture_is_the_photo(kind, channels):
    param = ImageParam.create(kind, (15, 22), channels=channels)
    photo = np.random.default_rng(4).uniform(0.01, 0.99, (2, 15, 22, channels))
    parameters = param.initial_from(photo)
    assert parameters.shape == param.parameter_shape(2)
    np.testing.assert_allclose(unit_pictures(param, parameters), photo, atol=2e-4)
    with pytest.raises(ValueError, match="--from: starts from a photo with --param fft"):
        ImageParam.create("maco", (15, 22)).initial_from(photo)


def test_crops_stay_inside_the_picture_and_enlarge_it():
    crops = Crops(box=(0.5, 0.8))
    matrices = crops.draw(np.random.default_rng(6), 200, (40, 60))
    side, left, top = matrices[:, 0], matrices[:, 2], matrices[:, 5]
    assert np.all((side >= 0.5) & (side <= 0.8)) and np.all(matrices[:, 4] == side)
    assert np.all(left >= -1e-4) and np.all(top >= -1e-4)
    assert np.all(left + side * 60 <= 60 + 1e-3) and np.all(top + side * 40 <= 40 + 1e-3)
    ramp = np.broadcast_to(np.arange(60, dtype="float32")[None, :, None], (40, 60, 3))
    seen = ops.convert_to_numpy(crops.apply(ops.convert_to_tensor(ramp[None]), matrices[:1]))
    assert seen.shape == (1, 40, 60, 3)  # the network sees the picture's size
    # Along x the crop samples left + side * x: a ramp of slope ``side``.
    np.testing.assert_allclose(
        seen[0, 20, 10:50, 0], left[0] + side[0] * np.arange(10, 50), atol=1e-3
    )


def test_settings_bring_their_parameterisations_defaults_and_read_old_recipes():
    maco = VisualizeSettings(param="maco")
    assert maco.transforms == Crops() and maco.learning_rate == 0.1
    assert VisualizeSettings().replace(param="maco") == maco
    assert maco.replace(param="fft") == VisualizeSettings()
    chosen = VisualizeSettings(learning_rate=0.3).replace(param="maco")
    assert chosen.learning_rate == 0.3 and chosen.transforms == Crops()
    for settings in (maco, VisualizeSettings(alpha=True, closeness=5.0)):
        assert VisualizeSettings.from_dict(settings.to_dict()) == settings
    old = VisualizeSettings().to_dict()
    del old["alpha"], old["closeness"]  # recipes written before these existed
    assert VisualizeSettings.from_dict(old) == VisualizeSettings()
    with pytest.raises(ValueError, match="closeness"):
        VisualizeSettings(closeness=-1.0)
