"""Laplacian-pyramid gradient normalisation: exact round trip, equalised bands, dreams."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops
from scipy.ndimage import convolve1d

from kdream.ascent.laplacian import (
    laplacian_merge,
    laplacian_normalize,
    laplacian_split,
    normalize_rms,
)
from kdream.ascent.step import AscentStep, draw_shift, sigma_at
from kdream.config import DreamConfig
from kdream.objectives.core import layer

BINOMIAL = np.array([1, 4, 6, 4, 1]) / 16


def tensor(array):
    return ops.convert_to_tensor(np.asarray(array, "float32"))


def numpy_split(image, levels):
    """The pyramid in float64 numpy/scipy, written independently of keras.ops."""

    def blur(x, gain=1.0):
        for axis in (0, 1):
            x = convolve1d(x, BINOMIAL * gain, axis=axis, mode="constant")
        return x

    def upsample(coarse, shape):
        spread = np.zeros(shape[:2] + coarse.shape[2:])
        spread[::2, ::2] = coarse
        return blur(spread, gain=2.0)

    bands = []
    for _ in range(levels):
        coarse = blur(image)[::2, ::2]
        bands.append(image - upsample(coarse, image.shape))
        image = coarse
    return [image, *bands[::-1]]


def two_sinusoids(size=64, low=(2, 10.0), high=(20, 0.1)):
    """A (size, size, 3) gradient: ``low`` = (cycles across x, amplitude), ``high`` the
    same across y."""
    y, x = np.mgrid[0:size, 0:size] / size
    wave = low[1] * np.sin(2 * np.pi * low[0] * x) + high[1] * np.sin(2 * np.pi * high[0] * y)
    return np.repeat(wave[..., None], 3, axis=-1).astype("float32")


def amplitude_ratio(gradient, low=2, high=20):
    """Low/high amplitude, from the FFT bins of the two sinusoids (mean over channels)."""
    spectrum = np.abs(np.fft.fft2(gradient, axes=(0, 1)))
    return spectrum[0, low].mean() / spectrum[high, 0].mean()


@pytest.mark.parametrize("shape", [(64, 64, 3), (37, 20, 3), (5, 3, 3), (1, 1, 3)])
def test_split_then_merge_is_the_identity_with_bands_halving_up(shape):
    image = np.random.default_rng(0).normal(size=shape).astype("float32")
    bands = laplacian_split(tensor(image), 4)
    sizes = [shape[:2]]
    for _ in range(4):
        sizes.append(tuple(-(-side // 2) for side in sizes[-1]))
    assert [tuple(band.shape) for band in bands] == [(*hw, 3) for hw in sizes[::-1]]
    merged = ops.convert_to_numpy(laplacian_merge(bands))
    np.testing.assert_allclose(merged, image, atol=1e-5)


def test_bands_match_an_independent_numpy_pyramid():
    image = np.random.default_rng(1).normal(size=(29, 42, 3))
    ours = laplacian_split(tensor(image), 3)
    for band, expected in zip(ours, numpy_split(image, 3)):
        np.testing.assert_allclose(ops.convert_to_numpy(band), expected, atol=1e-5)


def test_normalising_equalises_a_gradient_with_a_known_spectrum():
    gradient = two_sinusoids()
    assert amplitude_ratio(gradient) == pytest.approx(100.0, rel=1e-3)  # power: 10^4
    normalised = ops.convert_to_numpy(laplacian_normalize(tensor(gradient), 4))
    after = amplitude_ratio(normalised)
    # The notebook's own lap_normalize (TensorFlow, literally) gives 31.2 on this input:
    # the bands are not sharp, so the strong wave leaks into the fine band's RMS (and the
    # zero padding adds edges). A pyramid that did nothing would stay at 100.
    assert 5 < after < 40, after
    # Each band enters the merge with RMS 1, and the result is exactly that merge.
    bands = [normalize_rms(band) for band in laplacian_split(tensor(gradient), 4)]
    for band in bands:
        rms = np.sqrt(np.mean(np.square(ops.convert_to_numpy(band))))
        assert rms == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(laplacian_merge(bands)), normalised, atol=1e-5)


def test_scaling_the_gradient_does_not_change_the_normalised_one():
    gradient = np.random.default_rng(2).normal(size=(24, 31, 3)).astype("float32")
    one = ops.convert_to_numpy(laplacian_normalize(tensor(gradient), 3))
    thousand = ops.convert_to_numpy(laplacian_normalize(tensor(gradient * 1000), 3))
    np.testing.assert_allclose(thousand, one, rtol=1e-4, atol=1e-4)


def test_a_zero_gradient_stays_zero():
    out = ops.convert_to_numpy(laplacian_normalize(ops.zeros((17, 12, 3)), 4))
    assert np.all(np.isfinite(out)) and not out.any()


def small_dream(step, image, config):
    """A few steps of one octave, as the dreamer runs them."""
    rng = np.random.default_rng(config.seed)
    current = tensor(image)
    for index in range(config.steps):
        shift = draw_shift(rng, image.shape[:2], config)
        sigma = sigma_at(index, config.steps, config)
        current, _ = step(current, shift, sigma, config.step_size, config)
    return ops.convert_to_numpy(current)


def test_a_laplacian_dream_changes_the_picture_differently_and_reproducibly(tiny_extractor):
    step = AscentStep(tiny_extractor, layer("conv1"))
    image = np.random.default_rng(3).uniform(-0.5, 0.5, (41, 50, 3)).astype("float32")
    config = DreamConfig(layers={"conv1": 1.0}, steps=3, jitter=4, smoothing=1.0, seed=3)
    lap = small_dream(step, image, config.replace(normalize="lap:3"))
    assert np.abs(lap - image).mean() > 1e-3
    np.testing.assert_array_equal(small_dream(step, image, config.replace(normalize="lap:3")), lap)
    mean = small_dream(step, image, config)
    assert np.abs(lap - mean).mean() > 1e-3
    # step_size keeps its meaning: the mean change per step is step_size either way.
    for dreamed in (lap, mean):
        assert np.abs(dreamed - image).mean() == pytest.approx(3 * config.step_size, rel=0.3)
