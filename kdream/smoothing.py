"""Gaussian smoothing of the gradient, on the device, in ``keras.ops``.

A cascade of three Gaussians (sigma/2, sigma, 2*sigma), averaged, as in the
popular PyTorch DeepDream ports: it keeps the fine detail of the small sigma and
the coherence of the large one. Separable (one horizontal, one vertical
depthwise convolution, all three sigmas in the same pass) with reflect padding,
so borders are not darkened.

Example:
    >>> kernels = cascade_kernels(sigma=2.0, radius=kernel_radius(2.0))
    >>> kernels.shape
    (3, 25)
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops

CASCADE = (0.5, 1.0, 2.0)
"""Sigma multipliers of the cascade."""

TRUNCATE = 3.0
"""Kernels reach 3 sigma of the widest Gaussian (the "3-sigma" smoothing)."""


def kernel_radius(max_sigma: float) -> int:
    """Radius that holds 3 sigma of the widest Gaussian of a cascade ending at ``max_sigma``."""
    return max(1, math.ceil(TRUNCATE * CASCADE[-1] * max_sigma))


def gaussian_kernel(sigma: float, radius: int) -> np.ndarray:
    """Normalised 1-D Gaussian with ``2 * radius + 1`` taps (float32)."""
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


def cascade_kernels(sigma: float, radius: int) -> np.ndarray:
    """The three cascade kernels for ``sigma``, all with the same radius: shape (3, 2r+1).

    A fixed radius keeps tensor shapes constant while sigma grows, so the compiled
    update is not traced again at every step.
    """
    return np.stack([gaussian_kernel(sigma * factor, radius) for factor in CASCADE])


def smooth(image, kernels):
    """Average of separable Gaussian blurs of an (H, W, C) image, one per kernel row.

    ``kernels`` has shape (K, 2r+1); with a single row this is a plain Gaussian blur.
    """
    count, taps = kernels.shape
    radius = (taps - 1) // 2
    channels = image.shape[-1]
    padded = ops.pad(image[None], [[0, 0], [radius, radius], [radius, radius], [0, 0]], "reflect")
    # Depthwise kernels are (kh, kw, in_channels, multiplier); output channel c*K + k.
    kernels = ops.cast(kernels, image.dtype)
    horizontal = ops.tile(ops.transpose(kernels)[None, :, None, :], (1, 1, channels, 1))
    blurred = ops.depthwise_conv(padded, horizontal, strides=1, padding="valid")
    vertical = ops.reshape(ops.tile(ops.transpose(kernels), (1, channels)), (taps, 1, -1, 1))
    blurred = ops.depthwise_conv(blurred, vertical, strides=1, padding="valid")
    height, width = blurred.shape[1], blurred.shape[2]
    return ops.mean(ops.reshape(blurred[0], (height, width, channels, count)), axis=-1)
