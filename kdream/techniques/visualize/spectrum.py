"""The magnitude spectrum of natural photos: what MACO (Fel et al., NeurIPS 2023) holds
fixed while it optimises only the Fourier phase of a visualisation.

The spectrum ships with kdream as a small array (``kdream/data/natural_spectrum.npz``),
so nothing is downloaded. :func:`compute_spectrum` made it, from the colour photos that
scikit-image ships and that carry no known copyright restrictions (:data:`PHOTOS`:
NASA's astronaut and SpaceX's rocket, public domain; Chelsea the cat and the coffee cup,
CC0). Per photo:

1. RGB in [0, 1], minus its mean colour; resized (Lanczos) so its short side is twice
   :data:`GRID`;
2. the colours mapped into the decorrelated space the parameterisation draws from (the
   inverse of :data:`~kdream.techniques.visualize.colours.COLOR_MAP`), and, for gray
   networks, the luminance (ITU-R 601 weights);
3. Welch's estimate: :data:`GRID`-px windows every half window, each times a 2-D Hann
   window (square crops without it add a bright cross of edge artefacts), ``|rfft2|``.

The magnitudes are averaged over every window of every photo, the rows put in rising
frequency order, the whole scaled to mean 1 and stored as float16.
``tests/techniques/test_spectrum.py`` regenerates it from scikit-image's files and checks
it is the same array. :func:`magnitude` resamples it to any picture size by frequency
(cycles per pixel; natural photos' spectra are close to scale-invariant), interpolating
log-magnitudes, with the DC term set to zero.

Example:
    >>> magnitude((64, 48), channels=3).shape
    (3, 64, 25)
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from kdream.techniques.visualize.colours import COLOR_MAP

GRID = 128
"""Side (px) of the windows the stored spectrum was measured on."""

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
"""scikit-image's ``skimage/data`` photos the spectrum was computed from."""

LUMINANCE = np.asarray([0.299, 0.587, 0.114])

SPECTRUM_FILE = Path(__file__).resolve().parents[2] / "data" / "natural_spectrum.npz"


def compute_spectrum(photo_paths: Iterable[str | Path]) -> dict[str, np.ndarray]:
    """{"colour": (3, GRID, GRID//2+1), "gray": (1, ...)} float16 magnitudes (see the
    module docstring for the recipe)."""
    to_decorrelated = np.linalg.inv(COLOR_MAP.astype(np.float64))
    sums = {"colour": 0.0, "gray": 0.0}
    count = 0
    for path in photo_paths:
        rgb = _photo(Path(path).read_bytes())
        planes = {"colour": rgb @ to_decorrelated, "gray": (rgb @ LUMINANCE)[..., None]}
        for name, image in planes.items():
            windows = _welch_magnitudes(image)
            sums[name] = sums[name] + windows.sum(axis=0)
        count += len(windows)
    spectrum = {}
    for name, total in sums.items():
        mean = np.fft.fftshift(total / count, axes=1)  # rows in rising frequency
        spectrum[name] = (mean / mean.mean()).astype(np.float16)
    return spectrum


def _photo(data: bytes) -> np.ndarray:
    """(H, W, 3) float64 in [0, 1] minus its mean colour, short side 2 * GRID."""
    with Image.open(io.BytesIO(data)) as opened:
        picture = opened.convert("RGB")
    scale = 2 * GRID / min(picture.size)
    size = (round(picture.width * scale), round(picture.height * scale))
    rgb = np.asarray(picture.resize(size, Image.Resampling.LANCZOS), np.float64) / 255.0
    return rgb - rgb.mean(axis=(0, 1))


def _welch_magnitudes(image: np.ndarray) -> np.ndarray:
    """(windows, C, GRID, GRID//2+1): |rfft2| of Hann-windowed crops, half a window apart."""
    hann = np.hanning(GRID)
    window = np.outer(hann, hann)[..., None]
    stride = GRID // 2
    crops = [
        image[top : top + GRID, left : left + GRID] * window
        for top in range(0, image.shape[0] - GRID + 1, stride)
        for left in range(0, image.shape[1] - GRID + 1, stride)
    ]
    spectra = np.abs(np.fft.rfft2(np.stack(crops), axes=(1, 2)))
    return np.moveaxis(spectra, -1, 1)


@functools.cache
def stored_spectrum() -> dict[str, np.ndarray]:
    """The shipped spectrum, as :func:`compute_spectrum` made it."""
    with np.load(SPECTRUM_FILE) as stored:
        return {name: stored[name] for name in ("colour", "gray")}


def magnitude(size_hw, channels: int = 3) -> np.ndarray:
    """float32 (channels, H, W//2+1) natural-photo magnitudes for a picture of
    ``size_hw``, in ``numpy.fft.rfft2``'s layout, mean 1."""
    stored = stored_spectrum()["colour" if channels == 3 else "gray"].astype(np.float64)
    log = np.log(np.maximum(stored, 1e-6))
    source_y = np.fft.fftshift(np.fft.fftfreq(GRID))
    source_x = np.fft.rfftfreq(GRID)
    height, width = (int(side) for side in size_hw)
    target_y, target_x = np.fft.fftfreq(height), np.fft.rfftfreq(width)
    # Separable linear interpolation in frequency: along x, then along y.
    along_x = np.apply_along_axis(lambda row: np.interp(target_x, source_x, row), 2, log)
    resampled = np.apply_along_axis(lambda col: np.interp(target_y, source_y, col), 1, along_x)
    result = np.exp(resampled)
    # No DC: the photos' mean colour was removed, and a random phase on the (large) local
    # means of the windows would only tint the whole picture.
    result[:, 0, 0] = 0.0
    return (result / result.mean()).astype(np.float32)
