"""The whole run on InceptionV3: it dreams, reproducibly, reports progress, cancels."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from kdream import DreamCancelled, DreamConfig, backend
from kdream.objectives.core import layer

SMALL = DreamConfig(octaves=2, octave_scale=1.3, steps=3, tile_size=96, tile_batch=2, seed=5)


def photo(height=120, width=150, seed=0):
    """A smooth, photo-like test image (gradients plus a few blobs)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    channels = [
        np.sin(6 * x + rng.uniform(0, 6)) * np.cos(4 * y + rng.uniform(0, 6)) for _ in range(3)
    ]
    image = (np.stack(channels, -1) + 1) * 127.5
    return np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)


def test_dream_changes_the_image_and_keeps_its_shape(dreamer):
    image = photo()
    out = dreamer.dream(image, SMALL)
    assert out.shape == image.shape and out.dtype == np.uint8
    difference = np.abs(out.astype(int) - image.astype(int))
    assert difference.mean() > 1.0


def test_same_seed_same_picture_bit_for_bit(dreamer):
    image = photo()
    first = dreamer.dream(image, SMALL)
    second = dreamer.dream(image, SMALL)
    np.testing.assert_array_equal(first, second)
    other_seed = dreamer.dream(image, SMALL.replace(seed=6))
    assert not np.array_equal(first, other_seed)


def test_objective_rises_over_a_run(dreamer):
    losses = []
    config = DreamConfig(octaves=1, steps=8, tile_size=512, jitter=8, seed=1)
    dreamer.dream(photo(), config, on_progress=lambda p: losses.append(p.loss))
    assert len(losses) == 8
    assert losses[-1] > losses[0] * 1.05
    assert np.mean(losses[4:]) > np.mean(losses[:4])


def test_negative_weight_suppresses_a_layer(dreamer):
    image = photo()
    config = DreamConfig(octaves=1, steps=6, jitter=0, smoothing=0.0, seed=2)
    step = dreamer.ascent_step(layer("mixed3"))

    def mixed3_value(picture):
        from keras import ops

        from kdream.pixels import to_model_range

        tensor = ops.convert_to_tensor(to_model_range(picture)[None])
        values, _ = step.gradient(tensor)
        return float(ops.convert_to_numpy(values)[0])

    raised = dreamer.dream(image, config.replace(layers={"mixed3": 1.0}))
    lowered = dreamer.dream(image, config.replace(layers={"mixed3": -1.0}))
    assert mixed3_value(lowered) < mixed3_value(image) < mixed3_value(raised)


def test_progress_reports_every_step_with_previews(dreamer):
    reports = []
    dreamer.dream(photo(), SMALL, on_progress=reports.append)
    sizes = dreamer.octave_sizes((120, 150), SMALL)
    assert [(r.octave, r.step) for r in reports] == [
        (o, s) for o in range(1, len(sizes) + 1) for s in range(1, SMALL.steps + 1)
    ]
    assert reports[-1].fraction == pytest.approx(1.0)
    assert all(a.fraction < b.fraction for a, b in zip(reports, reports[1:]))
    preview = reports[0].image()
    assert preview.dtype == np.uint8 and preview.shape == sizes[0] + (3,)


def test_cancel_stops_between_steps(dreamer):
    cancel = threading.Event()
    reports = []

    def on_progress(report):
        reports.append(report)
        if len(reports) == 2:
            cancel.set()

    with pytest.raises(DreamCancelled):
        dreamer.dream(photo(), SMALL, on_progress=on_progress, cancel=cancel)
    assert len(reports) == 2


def test_no_recompilation_after_the_first_step_of_each_octave(dreamer):
    config = SMALL.replace(steps=4, layers={"mixed2": 1.0})
    traces_per_step = []

    def on_progress(report):
        traces_per_step.append((report.octave, report.step, backend.TRACES.traces))

    dreamer.dream(photo(200, 170), config, on_progress=on_progress)
    for octave, step, traces in traces_per_step:
        if step > 1:
            first = next(t for o, s, t in traces_per_step if o == octave and s == 1)
            assert traces == first, f"retraced in octave {octave} at step {step}"
    # A second image of the same size reuses everything compiled.
    before = backend.TRACES.traces
    dreamer.dream(photo(200, 170, seed=3), config.replace(seed=9, step_size=0.02))
    assert backend.TRACES.traces == before


def test_one_off_dream_function_accepts_overrides():
    import kdream

    out = kdream.dream(photo(90, 90), weights="random", octaves=1, steps=1)
    assert out.shape == (90, 90, 3)


def test_rejects_arrays_that_are_not_gray_or_rgb_uint8(dreamer):
    for bad in (np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32)):
        with pytest.raises(ValueError, match="image: expected a uint8 array"):
            dreamer.dream(bad)


def test_a_gray_photo_is_dreamed_in_rgb_by_an_rgb_network(dreamer):
    gray = photo(80, 96)[..., 1]
    out = dreamer.dream(gray, SMALL.replace(octaves=1, steps=1))
    assert out.shape == (80, 96, 3)
    same = dreamer.dream(np.repeat(gray[..., None], 3, axis=-1), SMALL.replace(octaves=1, steps=1))
    np.testing.assert_array_equal(out, same)


def test_small_image_is_upsized_and_returned_at_its_size(dreamer):
    image = photo(50, 64)
    out = dreamer.dream(image, SMALL.replace(octaves=1, steps=1))
    assert out.shape == (50, 64, 3)
    assert np.abs(out.astype(float) - image.astype(float)).mean() < 20


def test_a_channel_past_the_layer_is_one_clear_error(dreamer):
    from kdream.objectives.core import channel

    with pytest.raises(ValueError, match=r"mixed4 has 768 channels \(0..767\); got 9999"):
        dreamer.dream(photo(80, 96), SMALL, objective=channel("mixed4", [3, 9999]))


def test_a_step_uploads_its_update_constants_once(dreamer, monkeypatch):
    """The smoothing kernels and the step size go to the device once per value: on a GPU
    each upload from ordinary host memory waits for the work queued before it."""
    import keras

    image = photo()
    dreamer.dream(image, SMALL)  # the first dream uploads every octave's sigmas once
    uploads = []
    convert = keras.ops.convert_to_tensor

    def counting(value, *args, **kwargs):
        if isinstance(value, (np.ndarray, np.floating)) and value.dtype == np.float32:
            uploads.append(np.shape(value))
        return convert(value, *args, **kwargs)

    monkeypatch.setattr(keras.ops, "convert_to_tensor", counting)
    picture = dreamer.dream(image, SMALL)
    # What is left: each octave's starting image, uploaded once.
    starts = [size + (3,) for size in dreamer.octave_sizes((120, 150), SMALL)]
    assert sorted(uploads) == sorted(starts)
    monkeypatch.undo()
    np.testing.assert_array_equal(picture, dreamer.dream(image, SMALL))
