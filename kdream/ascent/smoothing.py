"""Gaussian smoothing of the gradient, on the device, in ``keras.ops``.

A cascade of three Gaussians (sigma/2, sigma, 2*sigma), averaged, as in the
popular PyTorch DeepDream ports: it keeps the fine detail of the small sigma and
the coherence of the large one. Separable (one horizontal, one vertical
pass) with reflect padding, so borders are not darkened.

Example:
    >>> kernels = cascade_kernels(sigma=2.0, radius=kernel_radius(2.0))
    >>> kernels.shape
    (3, 25)
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops

from kdream import backend

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
    The blurs run one after another and are summed, so only one image-sized
    intermediate lives at a time (a 4096 px image has room for little else).
    """
    count = kernels.shape[0]
    padded, kernels = reflect_padded(image, kernels)
    if backend.name() == "jax":
        total = _sum_of_blurs_in_a_loop(padded, kernels, ops.zeros_like(image))
    else:
        total = sum(_blur_by_depthwise_conv(padded, kernels[index]) for index in range(count))
    return total / count


def reflect_padded(image, kernels):
    """The (H, W, C) image reflect-padded by the kernels' radius, and the kernels in its dtype."""
    radius = (kernels.shape[1] - 1) // 2
    # 4-D: torch pads in "reflect" mode only with a batch axis.
    pad_width = [[0, 0], [radius, radius], [radius, radius], [0, 0]]
    return ops.pad(image[None], pad_width, "reflect")[0], ops.cast(kernels, image.dtype)


def _sum_of_blurs_in_a_loop(padded, kernels, zeros):
    """JAX's way: shifted sums, one blur per loop iteration.

    Measured at 1024 px, one blur: XLA on CPU runs the depthwise convolutions ~30x slower
    than shifted sums (290 vs 10 ms). Unrolled, XLA fuses the shifted sums of all blurs into
    one kernel that recomputes each horizontal pass for every vertical tap (3 blurs:
    116 ms instead of 3 x 10 ms); a loop keeps them apart. TensorFlow and torch run
    depthwise convolutions 2-6x faster than shifted sums, and unrolled (in a loop, a 4096 px
    TensorFlow step peaked 0.3 GiB higher).
    """

    def add_blur(index, total):
        return total + _blur_by_shifted_sums(padded, ops.take(kernels, index, axis=0))

    return ops.fori_loop(0, kernels.shape[0], add_blur, zeros)


def _blur_by_depthwise_conv(padded, kernel):
    taps = kernel.shape[0]
    channels = padded.shape[-1]
    horizontal = ops.tile(ops.reshape(kernel, (1, taps, 1, 1)), (1, 1, channels, 1))
    vertical = ops.tile(ops.reshape(kernel, (taps, 1, 1, 1)), (1, 1, channels, 1))
    blurred = ops.depthwise_conv(padded[None], horizontal, strides=1, padding="valid")
    return ops.depthwise_conv(blurred, vertical, strides=1, padding="valid")[0]


def _blur_by_shifted_sums(padded, kernel):
    taps = kernel.shape[0]
    height, width = padded.shape[0] - taps + 1, padded.shape[1] - taps + 1
    rows = sum(kernel[t] * padded[:, t : t + width] for t in range(taps))
    return sum(kernel[t] * rows[t : t + height] for t in range(taps))
