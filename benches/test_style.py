"""Style transfer of a 512 px picture: 300 Adam steps in one octave (the full run), with
InceptionV3's default style layers. ``--quick`` paints 128 px in 5 steps.

The warm-up is a one-step run of the same pictures, which compiles every shape (the
gradient, the reference forward passes, Adam's update); one timed round, as a run is
minutes long on a small CPU. The timed call returns a host array: synchronised.
"""

from __future__ import annotations

import numpy as np
import pytest

from benches.recording import measure
from benches.test_full_dream import photo
from kdream.techniques.style import StyleConfig, StyleTransfer


def style_config(settings) -> StyleConfig:
    if settings.quick:
        return StyleConfig(size=128, steps=5, octaves=1)
    return StyleConfig(size=512, steps=300, octaves=1)


@pytest.mark.benchmark(group="style transfer")
def test_style_transfer(benchmark, dreamer, settings):
    config = style_config(settings)
    content = photo(config.size)
    style = np.ascontiguousarray(photo(config.size)[::-1, ::-1])
    StyleTransfer(dreamer, config.replace(steps=1)).run(content, [style])  # compiles
    transfer = StyleTransfer(dreamer, config)
    styled = measure(
        benchmark,
        lambda: transfer.run(content, [style]),
        case=f"style transfer {config.size}² ({config.steps} Adam steps)",
        rounds=1,
        warmup=0,
    )
    assert styled.shape == (config.size, config.size, 3)
