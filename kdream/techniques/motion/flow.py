"""Optical flow between video frames, and warping a dreamed frame along it.

Temporal coherence as in Ruder et al. 2016 ("Artistic style transfer for videos"):
the previous dreamed frame is warped along the flow into the current frame and
dreaming starts from it, except where the flow is unreliable (the mask). The flow
is computed on the host with OpenCV on the original footage (not on the dreams,
whose hallucinated detail would mislead it); the warp runs on the device in
``keras.ops``, so it works alike on TensorFlow, JAX and PyTorch.

Convention: a *backward* flow ``b`` belongs to the current frame and points into
the previous one, ``previous(x + b_x, y + b_y) ~ current(x, y)``; this is what
``warp`` needs (one lookup per output pixel, no holes). The *forward* flow
(previous -> current) is only used to check it.

Example:
    >>> flow, mask = flow_and_mask(previous_rgb, current_rgb)  # (H, W, 2), (H, W)
    >>> keep = ops.convert_to_tensor(mask[..., None])
    >>> start = keep * warp(previous_dream, flow) + (1 - keep) * current
"""

from __future__ import annotations

import cv2
import keras
import numpy as np
from keras import ops

FLOW_METHODS = ("dis", "farneback", "off")
"""``"off"``: no flow, every frame is dreamed on its own."""

_ESTIMATORS = FLOW_METHODS[:-1]

_FARNEBACK = dict(
    pyr_scale=0.5,  # halve per level (the classic pyramid)
    # 5 levels (the sample's 3 + 2), the coarsest 1/16 of the frame: a 40 px pan at 720p
    # came out 17 px off on average, against 28 px with 3 levels.
    levels=5,
    # The averaging window. The sample's 15 px leaves smooth areas (a saucer, coffee) still:
    # on a 4 px pan of a 720p photo 39% of pixels were > 1 px off, 25% with 41 px, 18% with
    # 61 px; errors near moving edges stayed the same. Farneback stays weaker than DIS there.
    winsize=41,
    iterations=3,
    poly_n=5,  # neighbourhood of the polynomial fit, with OpenCV's recommended sigma for 5
    poly_sigma=1.1,
    flags=0,
)
"""Farneback parameters: OpenCV's Python sample's, tuned for HD footage (measured above)."""

_MIN_SIDE = 16
"""DIS compares 8 px patches on a pyramid: smaller frames have nothing to match."""


def backward_flow(previous_rgb, current_rgb, method: str = "dis") -> np.ndarray:
    """For each pixel of the current frame, where its content was in the previous frame.

    Frames are uint8 (H, W, 3) RGB (or (H, W) gray) arrays of the same size. The flow is
    (H, W, 2) float32 (dx, dy) with ``previous(x + dx, y + dy) ~ current(x, y)``.

    Example:
        >>> backward_flow(frame0, frame1, "dis").shape  # content moved 3 px right
        (720, 1280, 2)                                   # flow[..., 0] ~ -3
    """
    _check_method(method, _ESTIMATORS)
    previous, current = _gray_pair(previous_rgb, current_rgb)
    # OpenCV's flow(I, J) satisfies I(x) ~ J(x + flow(x)): a flow *from* the current frame.
    return _opencv_flow(current, previous, method)


def consistency_mask(forward, backward, *, motion_boundaries: bool = False) -> np.ndarray:
    """1 where the backward flow is reliable, 0 where it is not: (H, W) float32.

    ``forward`` is the flow previous -> current, ``backward`` current -> previous
    (as from ``backward_flow``). Following a pixel backward and then forward should
    bring it home: with ``b`` the backward flow at x and ``f`` the forward flow at
    x + b, the pixel is kept if |b + f|^2 <= 0.01 (|b|^2 + |f|^2) + 0.5 (Sundaram et al.
    2010, Ruder et al. 2016). It fails where content was hidden in the previous frame
    (disocclusions). Pixels whose flow leaves the frame (content that entered at a
    border) are dropped too. ``motion_boundaries`` also drops pixels where the flow
    changes fast, |grad b_x|^2 + |grad b_y|^2 > 0.01 |b|^2 + 0.002 (Ruder et al.),
    where flow is usually wrong.

    Example:
        >>> consistency_mask(forward, backward).mean()  # share of reliable pixels
        0.97
    """
    forward, backward = _checked_flows(forward, backward)
    height, width = backward.shape[:2]
    map_x, map_y = _sample_positions(backward)
    # Bilinear, clamped: outside positions are dropped below anyway.
    forward_there = cv2.remap(forward, map_x, map_y, cv2.INTER_LINEAR, cv2.BORDER_REPLICATE)
    round_trip = np.sum((backward + forward_there) ** 2, axis=-1)
    lengths = np.sum(backward**2, axis=-1) + np.sum(forward_there**2, axis=-1)
    reliable = round_trip <= 0.01 * lengths + 0.5
    reliable &= (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    if motion_boundaries:
        reliable &= ~_motion_boundaries(backward)
    return reliable.astype(np.float32)


def flow_and_mask(previous_rgb, current_rgb, method: str = "dis"):
    """The backward flow and its consistency mask, or ``(None, None)`` for ``"off"``.

    Example:
        >>> flow, mask = flow_and_mask(frame0, frame1)
        >>> flow.shape, mask.shape
        ((720, 1280, 2), (720, 1280))
    """
    _check_method(method, FLOW_METHODS)
    if method == "off":
        return None, None
    previous, current = _gray_pair(previous_rgb, current_rgb)
    backward = _opencv_flow(current, previous, method)
    forward = _opencv_flow(previous, current, method)
    return backward, consistency_mask(forward, backward)


def warp(image, flow):
    """``image`` sampled at (x + dx, y + dy): the previous frame moved into the current one.

    ``image`` is an (H, W, C) float tensor (any range, any C), ``flow`` an (H, W, 2)
    array or tensor as from ``backward_flow``. Bilinear interpolation; positions outside
    the frame take the nearest border pixel. Only ``keras.ops``: runs on the device of
    every backend, and compiles (shapes are static). Zero flow returns ``image`` exactly.

    Example:
        >>> warped = warp(ops.convert_to_tensor(previous_dream), flow)  # (H, W, 3)
    """
    height, width, channels = _checked_warp_shapes(image, flow)
    image = ops.convert_to_tensor(image)
    if not keras.backend.is_float_dtype(image.dtype):
        image = ops.cast(image, "float32")  # uint8 frames: interpolated values are fractions
    # Positions stay float32 whatever the image dtype: bfloat16 cannot address 1280 columns.
    flow = ops.cast(ops.convert_to_tensor(flow), "float32")
    x = ops.clip(ops.arange(width, dtype="float32")[None, :] + flow[..., 0], 0.0, width - 1.0)
    y = ops.clip(ops.arange(height, dtype="float32")[:, None] + flow[..., 1], 0.0, height - 1.0)
    x0, y0 = ops.floor(x), ops.floor(y)
    # Weights in the image's dtype; at integer positions they are exactly 1 and 0.
    wx = ops.cast(x - x0, image.dtype)[..., None]
    wy = ops.cast(y - y0, image.dtype)[..., None]
    x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
    # The right/lower neighbour, clamped: on the last column its weight is 0 anyway.
    x1, y1 = ops.minimum(x0 + 1, width - 1), ops.minimum(y0 + 1, height - 1)
    pixels = ops.reshape(image, (height * width, channels))

    def at(rows, cols):  # the pixels at integer positions, through flat indices
        flat = ops.take(pixels, ops.reshape(rows * width + cols, (-1,)), axis=0)
        return ops.reshape(flat, (height, width, channels))

    top = _lerp(at(y0, x0), at(y0, x1), wx)
    bottom = _lerp(at(y1, x0), at(y1, x1), wx)
    return _lerp(top, bottom, wy)


def _lerp(a, b, weight):
    """``a`` moved ``weight`` of the way to ``b``: fewer passes over the image than
    ``a * (1 - w) + b * w``, and exactly ``a`` where the weight is 0."""
    return a + weight * (b - a)


def _gray_pair(previous_rgb, current_rgb) -> tuple[np.ndarray, np.ndarray]:
    """Both frames as contiguous uint8 gray images, checked to match."""
    previous, current = _gray(previous_rgb), _gray(current_rgb)
    if previous.shape != current.shape:
        raise ValueError(f"frames differ in size: {previous.shape} and {current.shape} (H, W)")
    return previous, current


def _gray(frame) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or not (
        frame.ndim == 2 or (frame.ndim == 3 and frame.shape[-1] in (1, 3))
    ):
        raise ValueError(f"expected a uint8 HxW or HxWx3 frame, got {frame.dtype} {frame.shape}")
    if min(frame.shape[:2]) < _MIN_SIDE:
        raise ValueError(f"frames must be at least {_MIN_SIDE} px on each side, got {frame.shape}")
    if frame.ndim == 3 and frame.shape[-1] == 3:
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(frame.reshape(frame.shape[:2]))


def _check_method(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        raise ValueError(f"flow method must be one of {', '.join(allowed)}, got {method!r}")


def _opencv_flow(from_gray: np.ndarray, to_gray: np.ndarray, method: str) -> np.ndarray:
    """OpenCV's flow: ``from(x) ~ to(x + flow(x))``, (H, W, 2) float32.

    Deterministic as it is: with OpenCV's default threads (2 here) and with one thread,
    DIS and Farneback gave bit-identical flows at 720p, run after run and across
    processes (OpenCV 5.0), so the thread count is left alone.
    """
    if method == "dis":
        # No initial flow (None): DIS would refine a flow passed in, so each result depends
        # on the two frames alone. Creating the instance costs microseconds.
        dis = cv2.DISOpticalFlow_create(cv2.DISOpticalFlow_PRESET_MEDIUM)
        flow = dis.calc(from_gray, to_gray, None)
    else:
        flow = cv2.calcOpticalFlowFarneback(from_gray, to_gray, None, **_FARNEBACK)
    return np.asarray(flow, dtype=np.float32)


def _checked_flows(forward, backward) -> tuple[np.ndarray, np.ndarray]:
    forward = np.ascontiguousarray(forward, dtype=np.float32)
    backward = np.ascontiguousarray(backward, dtype=np.float32)
    if forward.shape != backward.shape or backward.ndim != 3 or backward.shape[-1] != 2:
        raise ValueError(
            f"expected two (H, W, 2) flows of one size, got {forward.shape} and {backward.shape}"
        )
    return forward, backward


def _sample_positions(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel's flow points: (x + dx, y + dy) as two float32 maps for cv2.remap."""
    height, width = flow.shape[:2]
    map_x = np.arange(width, dtype=np.float32)[None, :] + flow[..., 0]
    map_y = np.arange(height, dtype=np.float32)[:, None] + flow[..., 1]
    return map_x, map_y


def _motion_boundaries(flow: np.ndarray) -> np.ndarray:
    """Ruder et al.'s motion boundaries: the flow's gradient is large for its length."""
    dy_u, dx_u = np.gradient(flow[..., 0])
    dy_v, dx_v = np.gradient(flow[..., 1])
    gradient = dx_u**2 + dy_u**2 + dx_v**2 + dy_v**2
    return gradient > 0.01 * np.sum(flow**2, axis=-1) + 0.002


def _checked_warp_shapes(image, flow) -> tuple[int, int, int]:
    image_shape, flow_shape = tuple(image.shape), tuple(flow.shape)
    if len(image_shape) != 3 or flow_shape != image_shape[:2] + (2,):
        raise ValueError(
            f"warp needs an (H, W, C) image and an (H, W, 2) flow, "
            f"got {image_shape} and {flow_shape}"
        )
    return image_shape
