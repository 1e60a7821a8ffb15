"""Optical flow (OpenCV, host) and warping along it (keras.ops, every backend).

The frames are a smooth random texture cut from a larger canvas, so a shifted frame
has real content where it entered (no wrap-around) and the true flow is known.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from keras import ops

from kdream import backend
from kdream.techniques.motion.flow import (
    FLOW_METHODS,
    backward_flow,
    consistency_mask,
    flow_and_mask,
    warp,
)

HEIGHT, WIDTH = 96, 128
PAD = 8
SHIFT = (3, -2)  # (dx, dy): the content moves 3 px right and 2 px up
INTERIOR = np.s_[PAD:-PAD, PAD:-PAD]
METHODS = [m for m in FLOW_METHODS if m != "off"]


def texture(height, width, seed=0) -> np.ndarray:
    """uint8 RGB: a few slanted sinusoids per channel plus blurred noise (photo-like)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.zeros((height, width, 3))
    for channel in range(3):
        for _ in range(4):
            fx, fy = rng.uniform(0.02, 0.15, 2)
            image[..., channel] += np.sin(fx * xx + fy * yy + rng.uniform(0, 2 * np.pi)) / 4
    noise = cv2.GaussianBlur(rng.normal(size=(height, width, 3)), (0, 0), 1.5)
    image += 0.5 * noise / noise.std()
    image = (image - image.min()) / (image.max() - image.min())
    return np.round(255 * image).astype(np.uint8)


CANVAS = texture(HEIGHT + 2 * PAD, WIDTH + 2 * PAD)


def frame(dx=0, dy=0) -> np.ndarray:
    """The canvas' content moved by (dx, dy): frame(dx, dy)[y, x] = frame()[y - dy, x - dx]."""
    return CANVAS[PAD - dy : PAD - dy + HEIGHT, PAD - dx : PAD - dx + WIDTH]


def as_tensor(image):
    return ops.convert_to_tensor(np.asarray(image, dtype=np.float32))


def reference_warp(image, flow):
    """Bilinear sampling at (x + dx, y + dy), clamped, in float64 numpy."""
    height, width = image.shape[:2]
    x = np.clip(np.arange(width)[None, :] + flow[..., 0].astype(np.float64), 0, width - 1)
    y = np.clip(np.arange(height)[:, None] + flow[..., 1].astype(np.float64), 0, height - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    top = image[y0, x0] * (1 - wx) + image[y0, x1] * wx
    return top * (1 - wy) + (image[y1, x0] * (1 - wx) + image[y1, x1] * wx) * wy


@pytest.mark.parametrize("method", METHODS)
def test_backward_flow_points_to_where_the_content_was(method):
    flow = backward_flow(frame(), frame(*SHIFT), method)
    assert flow.shape == (HEIGHT, WIDTH, 2) and flow.dtype == np.float32
    # current(x, y) = previous(x - 3, y + 2): the flow is minus the motion.
    median = np.median(flow[INTERIOR].reshape(-1, 2), axis=0)
    np.testing.assert_allclose(median, (-3.0, 2.0), atol=0.3)


@pytest.mark.parametrize("method", METHODS)
def test_a_subpixel_shift_is_recovered(method):
    # Bilinear resampling half-way between shifts of 1 and 2 px: a shift of 1.5 px.
    current = np.round((frame(1, 0).astype(np.float32) + frame(2, 0)) / 2).astype(np.uint8)
    median = np.median(backward_flow(frame(), current, method)[INTERIOR].reshape(-1, 2), axis=0)
    np.testing.assert_allclose(median, (-1.5, 0.0), atol=0.3)


@pytest.mark.parametrize("method", METHODS)
def test_warping_the_previous_dream_lands_on_the_current_frame(method):
    previous, current = frame(), frame(*SHIFT)
    flow = backward_flow(previous, current, method)
    # A "dream" of the previous frame in kdream's [-1, 1] range, moved along the flow.
    warped = ops.convert_to_numpy(warp(as_tensor(previous / 127.5 - 1), flow))
    error = np.abs(warped - (current / 127.5 - 1))[INTERIOR]
    assert error.mean() < 0.01  # 1.3 grey levels of 255


def test_warp_with_the_true_flow_of_an_integer_shift_is_exact_inside():
    flow = np.broadcast_to(np.float32([-3, 2]), (HEIGHT, WIDTH, 2))
    warped = ops.convert_to_numpy(warp(as_tensor(frame()), flow))
    np.testing.assert_array_equal(warped[INTERIOR], frame(*SHIFT)[INTERIOR])
    # Where the content entered, the border pixel is repeated.
    np.testing.assert_array_equal(warped[:, 0], frame()[np.minimum(np.arange(HEIGHT) + 2, 95), 0])


@pytest.mark.parametrize("method", METHODS)
def test_mask_keeps_the_interior_and_drops_what_entered_the_frame(method):
    _, mask = flow_and_mask(frame(), frame(*SHIFT), method)
    assert mask.shape == (HEIGHT, WIDTH) and mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert mask[INTERIOR].mean() > 0.99
    # Content moved right and up: new content entered on the left (3 px) and at the bottom (2 px).
    assert mask[:, :3].max() == 0 and mask[-2:].max() == 0


def test_mask_drops_pixels_whose_round_trip_fails():
    backward = np.broadcast_to(np.float32([-3, 2]), (HEIGHT, WIDTH, 2)).copy()
    forward = -backward
    assert consistency_mask(forward, backward)[INTERIOR].min() == 1
    # An occluder in the previous frame moved differently: where the backward flow lands on
    # it, the forward flow does not lead back.
    forward[40:60, 40:80] = (10, 0)
    mask = consistency_mask(forward, backward)
    assert mask[42:58, 44:82].max() == 0  # lands on the occluder (x - 3, y + 2)
    assert mask[10:30, 10:30].min() == 1
    # A still square among moving pixels: consistent, but its edge is a motion boundary.
    backward[14:26, 14:26] = forward[14:26, 14:26] = 0
    plain = consistency_mask(forward, backward)
    boundaries = consistency_mask(forward, backward, motion_boundaries=True)
    assert plain[20, 14] == plain[20, 20] == boundaries[20, 20] == 1
    assert boundaries[20, 14] == 0


@pytest.mark.parametrize("channels", [1, 3])
def test_warp_with_zero_flow_is_the_identity_exactly(channels):
    image = np.random.default_rng(1).normal(0, 100, (HEIGHT, WIDTH, channels)).astype("float32")
    warped = ops.convert_to_numpy(warp(as_tensor(image), np.zeros((HEIGHT, WIDTH, 2), "float32")))
    np.testing.assert_array_equal(warped, image)


@pytest.mark.parametrize("channels", [1, 3])
def test_warp_is_bilinear_and_clamped_on_a_non_square_frame(channels):
    rng = np.random.default_rng(2)
    image = rng.normal(size=(37, 53, channels)).astype("float32")
    flow = rng.uniform(-6, 6, (37, 53, 2)).astype("float32")  # reaches outside at the borders
    warped = ops.convert_to_numpy(warp(as_tensor(image), as_tensor(flow)))
    assert warped.shape == image.shape
    np.testing.assert_allclose(warped, reference_warp(image, flow), atol=1e-5)


def test_warp_compiles():
    image, flow = as_tensor(frame()), as_tensor(np.full((HEIGHT, WIDTH, 2), 0.5, "float32"))
    compiled = backend.compile_function(warp, backend.TraceCounter())
    np.testing.assert_allclose(
        ops.convert_to_numpy(compiled(image, flow)), ops.convert_to_numpy(warp(image, flow))
    )


@pytest.mark.parametrize("method", METHODS)
def test_flow_is_deterministic(method):
    previous, current = frame(), frame(*SHIFT)
    np.testing.assert_array_equal(
        backward_flow(previous, current, method), backward_flow(previous, current, method)
    )


def test_off_means_no_flow():
    assert flow_and_mask(frame(), frame(*SHIFT), "off") == (None, None)


@pytest.mark.parametrize(
    "call",
    [
        lambda: backward_flow(frame(), frame()[:-1]),
        lambda: flow_and_mask(frame(), frame()[:, :-1], "farneback"),
        lambda: backward_flow(frame(), frame(), "lucas-kanade"),
        lambda: backward_flow(frame().astype("float32"), frame()),
        lambda: backward_flow(frame()[:8], frame()[:8]),
        lambda: consistency_mask(np.zeros((4, 5, 2)), np.zeros((4, 6, 2))),
        lambda: warp(as_tensor(frame()), np.zeros((HEIGHT, WIDTH - 1, 2), "float32")),
        lambda: warp(as_tensor(frame()[..., 0]), np.zeros((HEIGHT, WIDTH, 2), "float32")),
    ],
)
def test_bad_input_raises_a_one_line_value_error(call):
    with pytest.raises(ValueError) as error:
        call()
    assert "\n" not in str(error.value)
