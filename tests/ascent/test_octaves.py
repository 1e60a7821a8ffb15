"""The octave schedule and the minimum-size clamp."""

from __future__ import annotations

import numpy as np

from kdream.ascent.octaves import next_octave_image, octave_sizes
from kdream.config import DreamConfig
from kdream.pixels import resize


def test_sizes_grow_by_the_octave_scale_up_to_the_image():
    sizes = octave_sizes((600, 800), octaves=4, scale=1.5, min_side=75)
    assert sizes[-1] == (600, 800)
    assert len(sizes) == 4
    for small, big in zip(sizes, sizes[1:]):
        assert abs(big[0] / small[0] - 1.5) < 0.02
        assert abs(big[1] / small[1] - 1.5) < 0.02


def test_small_octaves_are_clamped_and_merged():
    sizes = octave_sizes((200, 300), octaves=6, scale=1.5, min_side=107)
    assert sizes[0] == (107, 160)
    assert min(min(size) for size in sizes) == 107
    assert len(sizes) == len(set(sizes)) == 3
    assert sizes[-1] == (200, 300)


def test_an_image_smaller_than_the_model_is_dreamed_upsized():
    assert octave_sizes((60, 90), octaves=3, scale=1.4, min_side=75) == [(75, 112)]


def test_detail_mode_carries_the_added_detail_to_the_next_octave():
    rng = np.random.default_rng(0)
    base_small = rng.uniform(-0.5, 0.5, (40, 60, 3)).astype("float32")
    dreamed = base_small + 0.1
    new_base = rng.uniform(-0.5, 0.5, (80, 120, 3)).astype("float32")
    start = next_octave_image(dreamed, base_small, new_base, "detail")
    np.testing.assert_allclose(start, new_base + 0.1, atol=1e-4)
    rescaled = next_octave_image(dreamed, base_small, new_base, "rescale")
    np.testing.assert_allclose(rescaled, resize(dreamed, (80, 120)), atol=1e-6)


def test_resize_keeps_a_constant_image_constant():
    image = np.full((33, 47, 3), 0.3, "float32")
    out = resize(image, (70, 20))
    assert out.shape == (70, 20, 3)
    np.testing.assert_allclose(out, 0.3, atol=1e-5)


def test_80px_image_with_mixed7_runs_and_stays_finite(dreamer):
    image = np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8)
    config = DreamConfig(layers={"mixed7": 1.0}, octaves=4, steps=2)
    sizes = dreamer.octave_sizes((80, 80), config)
    assert sizes[0][0] >= 75
    extractor = dreamer.ascent_step(config).extractor
    for size in sizes:
        assert min(extractor.spatial_size(size)["mixed7"]) >= 2
    losses = []
    out = dreamer.dream(image, config, on_progress=lambda p: losses.append(p.loss))
    assert out.shape == (80, 80, 3) and out.dtype == np.uint8
    assert np.all(np.isfinite(losses)) and len(losses) == 2 * len(sizes)


def test_min_side_for_deep_layers(dreamer):
    extractor = dreamer.ascent_step(DreamConfig(layers={"mixed9": 1.0})).extractor
    side = extractor.min_side()
    assert min(extractor.spatial_size((side, side))["mixed9"]) == 2
    assert min(extractor.spatial_size((side - 1, side - 1))["mixed9"]) < 2
