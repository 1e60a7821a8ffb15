"""MACO's magnitude spectrum: regenerated from scikit-image's photos, it is the array
kdream ships; resampled to a picture's size, it keeps its shape."""

from __future__ import annotations

import numpy as np

from kdream.techniques.visualize.spectrum import (
    GRID,
    compute_spectrum,
    magnitude,
    stored_spectrum,
)
from tests.data.make_natural_spectrum import photo_paths


def test_regenerating_the_spectrum_from_the_photos_gives_the_shipped_array():
    regenerated = compute_spectrum(photo_paths())
    for name, stored in stored_spectrum().items():
        assert regenerated[name].dtype == stored.dtype == np.float16
        np.testing.assert_array_equal(regenerated[name], stored)


def test_the_spectrum_falls_with_frequency_like_natural_photos():
    spectrum = stored_spectrum()["gray"][0].astype(np.float64)
    frequencies = np.hypot(
        *np.meshgrid(np.fft.rfftfreq(GRID), np.fft.fftshift(np.fft.fftfreq(GRID)))
    )
    low = spectrum[(frequencies > 0.02) & (frequencies < 0.04)].mean()
    high = spectrum[(frequencies > 0.2) & (frequencies < 0.4)].mean()
    # Natural images: amplitude ~ 1/f, so a tenfold frequency costs about tenfold.
    assert 4 < low / high < 40


def test_magnitude_resamples_by_frequency_with_no_dc():
    at_grid = magnitude((GRID, GRID), channels=3)
    stored = np.fft.ifftshift(stored_spectrum()["colour"].astype(np.float64), axes=1)
    mask = np.ones_like(stored, bool)
    mask[:, 0, 0] = False
    ratio = at_grid[mask] / stored[mask]
    np.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-3)  # the same up to scale
    odd = magnitude((37, 50), channels=1)
    assert odd.shape == (1, 37, 26) and odd[0, 0, 0] == 0
    assert abs(float(odd.mean()) - 1) < 1e-5
    assert odd[0, 0, 1] > odd[0, 0, 12] > odd[0, 0, 25]  # falls along x
    assert np.isclose(odd[0, 5, 3], odd[0, -5, 3], rtol=0.2)  # +f and -f alike
