"""Another way to compute kdream's Gaussian-cascade smoothing, timed next to it as evidence.

kdream smooths with two depthwise convolutions (``ops.depthwise_conv``). XLA on
CPU runs grouped convolutions with 3 channels slowly, so the suite also times the
same separable blur written as shifted, weighted sums of slices: plain
elementwise work that every backend fuses or vectorises. Same result to float
rounding (checked in ``test_smoothing.py``).
"""

from __future__ import annotations

from keras import ops


def smooth_shifted_sums(image, kernels):
    """Same contract as :func:`kdream.smoothing.smooth`: (H, W, C) image, (K, 2r+1) kernels."""
    count, taps = kernels.shape
    radius = (taps - 1) // 2
    height, width = image.shape[0], image.shape[1]
    # 4-D reflect padding, as kdream does: the torch backend pads 3-D tensors only on the last axis.
    padded = ops.pad(image[None], [[0, 0], [radius, radius], [radius, radius], [0, 0]], "reflect")
    padded = padded[0]
    kernels = ops.cast(kernels, image.dtype)
    total = None
    for k in range(count):
        horizontal = sum(kernels[k, t] * padded[:, t : t + width] for t in range(taps))
        vertical = sum(kernels[k, t] * horizontal[t : t + height] for t in range(taps))
        total = vertical if total is None else total + vertical
    return total / count
