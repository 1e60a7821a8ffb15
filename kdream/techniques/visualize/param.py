"""Image parameterisations for feature visualisation: what the optimiser changes, and how
that becomes pixels.

``fft`` (lucid's recipe): a spectrum per colour channel, scaled by 1/f so
every frequency starts with the same power as in natural images, in a decorrelated colour
space, mapped to pixels by an inverse real 2-D DFT, a colour-correlation matrix and a
sigmoid. The optimiser then moves in a space where high frequencies are no cheaper than
low ones: pictures come out crisp instead of noisy or blurry. ``maco`` (Fel et al.,
NeurIPS 2023): only the *phase* of the spectrum is optimised; its magnitude stays that of
natural photos (:mod:`~kdream.techniques.visualize.spectrum`), the image is standardised,
then mapped through the same colours and sigmoid. Deep layers cannot fill such a picture
with high-frequency noise, since the noise's power is fixed. ``pixels``: the same colour
map and sigmoid on raw per-pixel parameters. A gray network's picture is one channel: one
spectrum (or one plane of pixels), with no colour map to decorrelate.

The inverse DFT is two matrix products with cos/sin bases built once in numpy for the
image size and handed to the compiled step as data: exact, deterministic on every backend,
and the compiled step never bakes in one size's constants.

Example:
    >>> param = ImageParam.create("fft", (64, 64))
    >>> spectrum = param.initial(batch=2, rng=np.random.default_rng(0))
    >>> spectrum.shape
    (2, 3, 64, 33, 2)
    >>> pixels = param.to_unit_rgb(ops.convert_to_tensor(spectrum), *param.bases())
    >>> tuple(pixels.shape)
    (2, 64, 64, 3)
    >>> ImageParam.create("fft", (64, 64), channels=1).parameter_shape(2)
    (2, 1, 64, 33, 2)
    >>> ImageParam.create("maco", (64, 64)).parameter_shape(2)
    (2, 3, 64, 33)
"""

from __future__ import annotations

import dataclasses

import numpy as np
from keras import ops

from kdream.techniques.visualize.colours import COLOR_CORRELATION_SVD_SQRT, COLOR_MAP, GRAY_MAP
from kdream.techniques.visualize.spectrum import magnitude

PARAMETERISATIONS = ("fft", "maco", "pixels")

__all__ = ["COLOR_CORRELATION_SVD_SQRT", "COLOR_MAP", "GRAY_MAP", "ImageParam", "PARAMETERISATIONS"]

CHANNELS = (1, 3)
"""Pictures kdream parameterises: gray or RGB."""

INITIAL_SD = 0.01
SPECTRUM_SHRINK = 4.0
"""lucid divides the FFT image by 4: keeps the sigmoid out of saturation at the start."""

MACO_GAIN = 2.0
"""MACO's standardised image is doubled before the colours and the sigmoid: at unit
deviation the sigmoid leaves the pictures grey and faint."""

STANDARDISE_EPSILON = 1e-4

PHOTO_CLIP = 0.01
"""A photo's values are kept in [0.01, 0.99] before the sigmoid is inverted."""


@dataclasses.dataclass(frozen=True)
class ImageParam:
    """One parameterisation for images of ``size_hw`` with ``channels`` (1: gray, 3: RGB);
    ``decay_power`` is the 1/f exponent."""

    kind: str
    size_hw: tuple[int, int]
    decay_power: float = 1.0
    channels: int = 3

    @classmethod
    def create(cls, kind: str, size_hw, decay_power: float = 1.0, channels: int = 3) -> ImageParam:
        """Checked constructor (``kind``: ``fft`` or ``pixels``; ``channels``: 1 or 3).

        Example:
            >>> ImageParam.create("pixels", (32, 48)).parameter_shape(1)
            (1, 32, 48, 3)
        """
        if kind not in PARAMETERISATIONS:  # fft, maco or pixels
            raise ValueError(f"param: must be one of {', '.join(PARAMETERISATIONS)} (got {kind!r})")
        height, width = (int(side) for side in size_hw)
        if min(height, width) < 1:
            raise ValueError(f"size: must be positive (got {height}x{width})")
        if channels not in CHANNELS:
            raise ValueError(f"visualize: pictures of 1 or 3 channels only (got {channels})")
        return cls(kind, (height, width), float(decay_power), int(channels))

    def parameter_shape(self, batch: int) -> tuple[int, ...]:
        height, width = self.size_hw
        if self.kind == "pixels":
            return (batch, height, width, self.channels)
        if self.kind == "maco":
            return (batch, self.channels, height, width // 2 + 1)  # phases only
        return (batch, self.channels, height, width // 2 + 1, 2)  # real and imaginary parts

    def initial(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """Starting parameters: small Gaussian noise (sd 0.01, as lucid); MACO's phases
        uniform on the circle."""
        shape = self.parameter_shape(batch)
        if self.kind == "maco":
            return rng.uniform(-np.pi, np.pi, shape).astype("float32")
        return (INITIAL_SD * rng.standard_normal(shape)).astype("float32")

    def initial_from(self, pictures: np.ndarray) -> np.ndarray:
        """Parameters whose picture is ``pictures`` ((N, H, W, channels) in [0, 1], clipped
        to [0.01, 0.99]): feature accentuation starts from a photo, not from noise.

        Example:
            >>> param = ImageParam.create("fft", (8, 10))
            >>> photo = np.full((1, 8, 10, 3), 0.3, "float32")
            >>> unit = param.to_unit_rgb(ops.convert_to_tensor(param.initial_from(photo)),
            ...                          *param.bases())
            >>> bool(np.allclose(ops.convert_to_numpy(unit), photo, atol=1e-4))
            True
        """
        if self.kind == "maco":
            raise ValueError("--from: starts from a photo with --param fft or pixels, not maco")
        pictures = np.clip(np.asarray(pictures, np.float64), PHOTO_CLIP, 1 - PHOTO_CLIP)
        colour_map = COLOR_MAP if self.channels == 3 else GRAY_MAP
        colour = np.log(pictures / (1 - pictures)) @ np.linalg.inv(colour_map.astype(np.float64))
        if self.kind == "pixels":
            return colour.astype("float32")
        scale = inverse_dft_bases(self.size_hw, self.decay_power)[-1].astype(np.float64)
        spectrum = np.fft.rfft2(colour * SPECTRUM_SHRINK, axes=(1, 2)) / scale[..., None]
        spectrum = np.moveaxis(spectrum, -1, 1)  # (N, C, H, Kx)
        return np.stack([spectrum.real, spectrum.imag], axis=-1).astype("float32")

    def bases(self) -> tuple[np.ndarray, ...]:
        """Constant tensors the map to pixels reads (passed to compiled code as data)."""
        colour_map = COLOR_MAP if self.channels == 3 else GRAY_MAP
        if self.kind == "pixels":
            return (colour_map,)
        dft = inverse_dft_bases(self.size_hw, self.decay_power)
        if self.kind == "maco":  # the natural magnitudes take the place of 1/f
            dft = (*dft[:-1], magnitude(self.size_hw, self.channels))
        return (*dft, colour_map)

    def to_unit_rgb(self, parameters, *bases):
        """Parameters -> images (N, H, W, channels) in (0, 1)."""
        if self.kind == "pixels":
            (colour_map,) = bases
            colour = parameters
        elif self.kind == "maco":
            *dft, colour_map = bases
            colour = MACO_GAIN * _standardised(spectrum_to_image(_unit_phasors(parameters), *dft))
        else:
            *dft, colour_map = bases
            colour = spectrum_to_image(parameters, *dft) / SPECTRUM_SHRINK
        return ops.sigmoid(ops.matmul(colour, colour_map))

    def to_recipe(self) -> dict:
        return {"kind": self.kind, "decay_power": self.decay_power}


def _unit_phasors(phases):
    """(N, C, H, Kx) phases -> (N, C, H, Kx, 2) cos and sin."""
    return ops.stack([ops.cos(phases), ops.sin(phases)], axis=-1)


def _standardised(tensor):
    """Zero mean and unit deviation per picture (over every axis but the first)."""
    axes = tuple(range(1, len(tensor.shape)))
    centred = tensor - ops.mean(tensor, axis=axes, keepdims=True)
    deviation = ops.sqrt(ops.mean(ops.square(centred), axis=axes, keepdims=True))
    return centred / (deviation + STANDARDISE_EPSILON)


def frequencies(size_hw) -> np.ndarray:
    """|f| of every coefficient of a real 2-D DFT of ``size_hw`` (cycles per pixel)."""
    height, width = size_hw
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fx * fx + fy * fy)


def inverse_dft_bases(size_hw, decay_power: float = 1.0) -> tuple[np.ndarray, ...]:
    """(cos_y, sin_y, cos_x, sin_x, scale): the inverse real 2-D DFT as matrix products,
    with lucid's spectrum scale (1/f, floored at 1/max side, times sqrt(h*w)) folded in."""
    height, width = size_hw
    y, ky = np.arange(height)[:, None], np.arange(height)[None, :]
    angle_y = 2 * np.pi * y * ky / height  # (H, Ky)
    kx, x = np.arange(width // 2 + 1)[:, None], np.arange(width)[None, :]
    angle_x = 2 * np.pi * kx * x / width  # (Kx, W)
    # A real signal's spectrum counts every column but DC (and Nyquist, for an even width)
    # twice; 1/(h*w) is irfft2's normalisation.
    multiplicity = np.full((width // 2 + 1, 1), 2.0)
    multiplicity[0] = 1.0
    if width % 2 == 0:
        multiplicity[-1] = 1.0
    norm = multiplicity / (height * width)
    scale = 1.0 / np.maximum(frequencies(size_hw), 1.0 / max(height, width)) ** decay_power
    scale = scale * np.sqrt(height * width)
    return tuple(
        np.asarray(matrix, "float32")
        for matrix in (
            np.cos(angle_y),
            np.sin(angle_y),
            np.cos(angle_x) * norm,
            np.sin(angle_x) * norm,
            scale,
        )
    )


def spectrum_to_image(spectrum, cos_y, sin_y, cos_x, sin_x, scale):
    """(N, C, H, Kx, 2) spectra -> (N, H, W, C) images: ``numpy.fft.irfft2`` of the scaled
    spectrum, as matrix products (deterministic, the same code on every backend)."""
    real = spectrum[..., 0] * scale
    imaginary = spectrum[..., 1] * scale
    # Along y: a complex inverse DFT.
    rows_real = ops.einsum("yk,nckx->ncyx", cos_y, real) - ops.einsum(
        "yk,nckx->ncyx", sin_y, imaginary
    )
    rows_imaginary = ops.einsum("yk,nckx->ncyx", cos_y, imaginary) + ops.einsum(
        "yk,nckx->ncyx", sin_y, real
    )
    # Along x: the real part of the inverse over the half spectrum.
    image = ops.einsum("ncyk,kx->nyxc", rows_real, cos_x) - ops.einsum(
        "ncyk,kx->nyxc", rows_imaginary, sin_x
    )
    return image
