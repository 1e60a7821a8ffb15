"""Dreams that move: the infinite zoom and dreamed footage, frame by frame through the one
dream loop (:meth:`kdream.Dreamer.dream`).

- **Zoom**: every frame is dreamed from the previous *dreamed* frame, zoomed (and rotated)
  about the centre: the patterns grow out of the picture forever.
- **Video**: every source frame is dreamed; with flow on, the previous dreamed frame is
  warped along the optical flow from the previous source frame to this one and blended in
  before dreaming, so patterns stick to what moves. Pixels the flow cannot vouch for
  (occluded, or newly in view: the forward-backward check) take the fresh frame instead.
  The blend is brought back to the source frame's colour means every frame, so nothing
  drifts brighter or tinted over hundreds of frames (the failure of additive peers).

Frame ``i`` (0-based) is dreamed with the recipe's seed plus ``i``: a frame's recipe
follows from the video's, and a resumed run dreams the same frames it would have.

Example:
    >>> frames = zoom(photo, frames=3, dreamer=Dreamer(weights="random"))  # doctest: +SKIP
    >>> len(frames), frames[0].shape
    (3, (400, 600, 3))
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Collection, Iterable, Iterator

import numpy as np
from keras import ops

from kdream import recipe as recipe_parts
from kdream.config import FLOW_METHODS as FLOW_METHODS  # its old home: kept importable
from kdream.config import VIDEO_CUT_THRESHOLD, VIDEO_RECIPE, ZOOM_RECIPE, DreamConfig
from kdream.config import MotionConfig as MotionConfig  # its old home: kept importable
from kdream.pixels import to_model_range, to_uint8


@dataclasses.dataclass(frozen=True)
class FrameProgress:
    """Reported after every frame."""

    frame: int
    """Frames done, counting resumed ones."""
    frames: int | None
    elapsed: float
    """Seconds spent on the frames of this run."""
    fresh: int
    """Frames dreamed in this run."""

    @property
    def fps(self) -> float:
        return self.fresh / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        if not self.frames or not self.fps:
            return None
        return (self.frames - self.frame) / self.fps


def frame_config(config: DreamConfig, index: int) -> DreamConfig:
    """The recipe of frame ``index`` (0-based): the video's, seeded ``seed + index``."""
    return config.replace(seed=config.seed + index)


# --------------------------------------------------------------------------- zoom


def zoom_flow(size_hw, zoom: float, rotate_degrees: float) -> np.ndarray:
    """Backward flow (H, W, 2) of a zoom by ``zoom`` and a rotation about the centre: each
    new pixel samples the previous frame ``1 / zoom`` as far from the centre, turned back."""
    height, width = size_hw
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    angle = math.radians(rotate_degrees)
    cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
    source_x = cx + cos * (x - cx) + sin * (y - cy)
    source_y = cy - sin * (x - cx) + cos * (y - cy)
    return np.stack([source_x - x, source_y - y], axis=-1).astype(np.float32)


def zoom_frames(
    dreamer,
    photo: np.ndarray,
    motion: MotionConfig,
    config: DreamConfig,
    start: int = 0,
    last: np.ndarray | None = None,
    cancel=None,
) -> Iterator[np.ndarray]:
    """Dreamed frames ``start`` .. ``motion.frames - 1``; ``last`` is frame ``start - 1``
    when resuming. Frame 0 is the dreamed photo."""
    from kdream.techniques.motion.flow import warp

    flow = None
    for index in range(start, motion.frames):
        if index == 0:
            source = photo
        else:
            if flow is None:
                flow = ops.convert_to_tensor(zoom_flow(last.shape[:2], motion.zoom, motion.rotate))
            moved = warp(ops.convert_to_tensor(to_model_range(_as_hwc(last))), flow)
            source = _from_model(ops.convert_to_numpy(moved), last)
        last = dreamer.dream(source, frame_config(config, index), cancel=cancel)
        yield last


# --------------------------------------------------------------------------- video


def video_frames(
    dreamer,
    sources: Iterable[np.ndarray],
    motion: MotionConfig,
    config: DreamConfig,
    start: int = 0,
    previous: tuple[np.ndarray, np.ndarray] | None = None,
    cancel=None,
    shot_starts: Collection[int] = (0,),
) -> Iterator[np.ndarray]:
    """Dreamed frames for source frames ``start`` ..; ``previous`` is (source, dreamed) of
    frame ``start - 1`` when resuming. A frame in ``shot_starts`` begins a shot: nothing of
    the last shot's dream is carried into it."""
    previous_source, previous_dream = previous if previous is not None else (None, None)
    shot_starts = frozenset(shot_starts)
    for index, frame in enumerate(sources, start=start):
        begin = frame
        if index in shot_starts:
            previous_dream = None
        if previous_dream is not None and motion.blend > 0:
            begin = carried_over(previous_source, previous_dream, frame, motion)
        settings = video_frame_config(config, index, motion, shot_starts)
        dreamed = dreamer.dream(begin, settings, cancel=cancel)
        previous_source, previous_dream = frame, dreamed
        yield dreamed


def video_frame_config(
    config: DreamConfig, index: int, motion: MotionConfig, shot_starts: Collection[int] = (0,)
) -> DreamConfig:
    """The recipe video frame ``index`` is dreamed with (every frame after the first of its
    shot carries the last dream, unless ``blend`` is 0)."""
    frame = frame_config(config, index)
    carries = index > 0 and index not in shot_starts and motion.blend > 0
    return carried_config(frame, motion.blend) if carries else frame


def video_frame_recipe(dreamer, config: DreamConfig, run_recipe: dict, index: int, size_hw):
    """The recipe a video's frame ``index`` (0-based) carries in its PNG: its own dream
    parameters, the video's input, and the video's motion with the frame's number."""
    motion = recipe_parts.section(run_recipe, "motion")
    settings = MotionConfig.from_dict(motion, "video")
    frame = video_frame_config(config, index, settings, motion["shots"])
    return recipe_parts.with_parts(
        dreamer.recipe(frame, size_hw),
        input=recipe_parts.input_entry(run_recipe),
        max_side=recipe_parts.max_side_of(run_recipe),
        motion={**motion, "frame": index + 1},
    )


def carried_config(config: DreamConfig, blend: float) -> DreamConfig:
    """A frame that starts from ``blend`` of the last dream needs only the rest: with
    ``steps * (1 - blend)`` steps the dream's strength settles where a fresh frame's is
    (amplitude A = blend * A + steps_carried * step), and what changes from one frame to the
    next, the flicker, shrinks with it."""
    return config.replace(steps=max(1, round(config.steps * (1.0 - blend))))


def carried_over(previous_source, previous_dream, frame, motion: MotionConfig) -> np.ndarray:
    """The frame to dream: the fresh frame with the previous dream blended in (warped along
    the flow unless flow is off), colour means matched to the fresh frame."""
    fresh = ops.convert_to_tensor(to_model_range(_as_hwc(frame)))
    dream = ops.convert_to_tensor(to_model_range(_as_hwc(previous_dream)))
    if motion.flow == "off":
        mixed = motion.blend * dream + (1.0 - motion.blend) * fresh
    else:
        from kdream.techniques.motion.flow import flow_and_mask, warp

        flow, mask = flow_and_mask(_as_rgb(previous_source), _as_rgb(frame), motion.flow)
        warped = warp(dream, flow)
        mask = ops.convert_to_tensor(mask[..., None].astype(np.float32))
        mixed = mask * (motion.blend * warped + (1.0 - motion.blend) * fresh) + (1.0 - mask) * fresh
    mixed = match_means(mixed, fresh)
    return _from_model(ops.convert_to_numpy(mixed), frame)


def match_means(image, reference):
    """Shift each channel of ``image`` so its mean is ``reference``'s: a dream brightens and
    tints a little every frame, and what is carried over must not add that up."""
    shift = ops.mean(reference, axis=(0, 1), keepdims=True) - ops.mean(
        image, axis=(0, 1), keepdims=True
    )
    return ops.clip(image + shift, -1.0, 1.0)


def _as_hwc(image: np.ndarray) -> np.ndarray:
    return image[..., None] if image.ndim == 2 else image


def _as_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image


def _from_model(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    pixels = to_uint8(image)
    return pixels[..., 0] if like.ndim == 2 else pixels


# --------------------------------------------------------------------------- run


def run_frames(
    frames: Iterator[np.ndarray],
    total: int | None,
    start: int = 0,
    on_frame: Callable[[int, np.ndarray], None] | None = None,
    on_progress: Callable[[FrameProgress], None] | None = None,
) -> int:
    """Drive a frame generator, handing each frame on and reporting progress; returns the
    number of frames done (counting ``start`` resumed ones)."""
    started, done = time.perf_counter(), start
    for frame in frames:
        done += 1
        if on_frame is not None:
            on_frame(done - 1, frame)
        if on_progress is not None:
            elapsed = time.perf_counter() - started
            on_progress(FrameProgress(done, total, elapsed, done - start))
    return done


def zoom(
    image,
    frames: int = 120,
    zoom: float = 1.02,
    rotate: float = 0.0,
    config: DreamConfig | None = None,
    *,
    dreamer=None,
    weights="auto",
    model=None,
    on_progress=None,
    cancel=None,
) -> list[np.ndarray]:
    """The infinite zoom of one picture, as a list of uint8 frames.

    Example:
        >>> import numpy as np, kdream
        >>> frames = kdream.zoom(np.zeros((96, 96, 3), np.uint8), frames=2, weights="random")
        >>> len(frames), frames[1].shape
        (2, (96, 96, 3))
    """
    from kdream.ascent.dreamer import Dreamer

    dreamer = dreamer or Dreamer(weights=weights, model=model)
    motion = MotionConfig(frames=frames, zoom=zoom, rotate=rotate)
    config = config or DreamConfig().replace(**ZOOM_RECIPE)
    generator = zoom_frames(dreamer, np.asarray(image), motion, config, cancel=cancel)
    return _collected(generator, frames, on_progress)


def video(
    frames: Iterable[np.ndarray],
    config: DreamConfig | None = None,
    *,
    blend: float = 0.7,
    flow: str = "dis",
    cuts: float = VIDEO_CUT_THRESHOLD,
    dreamer=None,
    weights="auto",
    model=None,
    on_progress=None,
    cancel=None,
) -> list[np.ndarray]:
    """Dream a sequence of uint8 frames with temporal coherence, afresh at each shot cut
    (``cuts``: PySceneDetect's content threshold, 0 for none); returns the dreamed frames.

    Example:
        >>> import numpy as np, kdream
        >>> clip = [np.full((96, 96, 3), v, np.uint8) for v in (90, 100)]
        >>> len(kdream.video(clip, weights="random", flow="off"))
        2
    """
    from kdream.ascent.dreamer import Dreamer

    dreamer = dreamer or Dreamer(weights=weights, model=model)
    from kdream.techniques.motion.shots import shot_starts

    motion = MotionConfig(blend=blend, flow=flow, cuts=cuts)
    config = config or DreamConfig().replace(**VIDEO_RECIPE)
    frames = list(frames)
    starts = shot_starts(frames, cuts)
    generator = video_frames(dreamer, frames, motion, config, cancel=cancel, shot_starts=starts)
    return _collected(generator, len(frames), on_progress)


def _collected(frames: Iterator[np.ndarray], total: int, on_progress) -> list[np.ndarray]:
    """The API's way to run frames: all of them kept in memory (the CLI writes them)."""
    out: list[np.ndarray] = []
    run_frames(frames, total, on_frame=lambda _, frame: out.append(frame), on_progress=on_progress)
    return out
