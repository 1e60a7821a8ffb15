"""Cost of the Gaussian-cascade gradient smoothing of one step (default sigma 2, radius 12),
as kdream computes it and two alternatives, for evidence."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from benches.recording import measure
from benches.smoothing_alternatives import smooth_depthwise_conv, smooth_shifted_sums
from benches.test_ascent_step import device_image
from kdream import DreamConfig, backend
from kdream.ascent.smoothing import CASCADE, cascade_kernels, kernel_radius, smooth

IMPLEMENTATIONS = {
    "kdream": smooth,
    "depthwise convolutions": smooth_depthwise_conv,
    "shifted sums, unrolled": smooth_shifted_sums,
}


def smoothing_flops(side: int, radius: int, channels: int = 3) -> int:
    """Multiply-adds x 2 of the separable passes: horizontal over the padded height,
    vertical over the image, each cascade kernel on each channel."""
    taps = 2 * radius + 1
    passes = (side + 2 * radius) * side + side * side
    return 2 * passes * taps * channels * len(CASCADE)


@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
@pytest.mark.benchmark(group="smoothing")
def test_smoothing(benchmark, roofline, settings, implementation):
    side = settings.smoothing_side
    radius = kernel_radius(DreamConfig().smoothing)
    image = device_image(side)
    kernels = ops.convert_to_tensor(cascade_kernels(DreamConfig().smoothing, radius))
    compiled = backend.compile_function(IMPLEMENTATIONS[implementation])
    reference = backend.compile_function(smooth)
    np.testing.assert_allclose(
        ops.convert_to_numpy(compiled(image, kernels)),
        ops.convert_to_numpy(reference(image, kernels)),
        atol=1e-5,
    )
    measure(
        benchmark,
        lambda: ops.convert_to_numpy(compiled(image, kernels)),
        case=f"smoothing {side}² ({implementation})",
        rounds=settings.default_rounds,
        roofline=roofline,
        flops=smoothing_flops(side, radius),
    )
