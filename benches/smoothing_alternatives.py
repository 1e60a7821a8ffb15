"""Other ways to compute kdream's Gaussian-cascade smoothing, timed next to it as evidence.

kdream blurs with depthwise convolutions on TensorFlow and torch, and with shifted,
weighted sums of slices, one blur per loop iteration, on JAX (XLA on CPU runs
3-channel grouped convolutions slowly, and fuses unrolled shifted sums badly). The
suite times both alternatives on every backend: depthwise convolutions, and shifted
sums unrolled. Same result to float rounding (checked in ``test_smoothing.py``).
"""

from __future__ import annotations

from kdream.ascent.smoothing import _blur_by_depthwise_conv, _blur_by_shifted_sums, reflect_padded


def smooth_depthwise_conv(image, kernels):
    """Same contract as :func:`kdream.smoothing.smooth`, as two depthwise convolutions a blur."""
    padded, kernels = reflect_padded(image, kernels)
    count = kernels.shape[0]
    return sum(_blur_by_depthwise_conv(padded, kernels[k]) for k in range(count)) / count


def smooth_shifted_sums(image, kernels):
    """Same contract as :func:`kdream.smoothing.smooth`, as unrolled shifted sums."""
    padded, kernels = reflect_padded(image, kernels)
    count = kernels.shape[0]
    return sum(_blur_by_shifted_sums(padded, kernels[k]) for k in range(count)) / count
