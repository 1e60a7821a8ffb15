"""A clip's shots: where it cuts from one scene to another, found by PySceneDetect's
content detector on the very frames kdream dreams (decoded and downsized to ``max_side``),
so the cuts do not depend on how the file was decoded.

A video dream starts afresh at every cut: the first frame of a shot is dreamed like the
first frame of the clip, since optical flow across a hard cut only drags the last shot's
patterns onto the new scene. Shots are also what ``kdream video --ray`` dreams in parallel.

Example:
    >>> import numpy as np
    >>> dark, light = np.zeros((24, 32, 3), np.uint8), np.full((24, 32, 3), 200, np.uint8)
    >>> shot_starts([dark] * 20 + [light] * 20, threshold=27.0)
    [0, 20]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from kdream.config import VIDEO_CUT_THRESHOLD as CUT_THRESHOLD

MIN_SHOT_FRAMES = 15
"""PySceneDetect's default: a cut closer than this to the last one is merged into it (a
flash, a fast pan), so no shot is shorter than half a second at 30 fps."""


def shot_starts(
    frames: Iterable[np.ndarray], threshold: float = CUT_THRESHOLD, min_frames=MIN_SHOT_FRAMES
) -> list[int]:
    """The 0-based indices of the frames that begin a shot (always 0 first); ``threshold``
    0 finds no cut."""
    from scenedetect import ContentDetector, FrameTimecode

    if threshold <= 0:
        return [0]
    detector = ContentDetector(threshold=threshold, min_scene_len=min_frames)
    cuts, timecode = [], None
    for index, frame in enumerate(frames):
        timecode = FrameTimecode(index, fps=30.0)  # counted in frames: the rate does not matter
        cuts += detector.process_frame(timecode, _bgr(frame))
    if timecode is not None:
        cuts += detector.post_process(timecode)
    return [0, *sorted({int(cut.frame_num) for cut in cuts} - {0})]


def shot_ranges(starts: list[int], total: int) -> list[tuple[int, int]]:
    """(first, end) of each shot, ``end`` exclusive.

    Example:
        >>> shot_ranges([0, 20, 45], 50)
        [(0, 20), (20, 45), (45, 50)]
    """
    ends = [*starts[1:], total]
    return [(first, end) for first, end in zip(starts, ends, strict=True) if first < end]


def _bgr(frame: np.ndarray) -> np.ndarray:
    """OpenCV's channel order (PySceneDetect converts BGR to HSV); grey frames as three
    equal channels."""
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=-1)
    return np.ascontiguousarray(frame[..., ::-1])
