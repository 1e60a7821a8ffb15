"""Dreams that move: zooms and videos, frame by frame on the one dream loop
(:mod:`~kdream.techniques.motion.sequence`), with optical flow to carry a dream from frame
to frame (:mod:`~kdream.techniques.motion.flow`).

Example:
    >>> import kdream
    >>> frames = kdream.zoom(photo, frames=60)  # doctest: +SKIP
"""

from __future__ import annotations

from kdream.techniques.motion.sequence import MotionConfig, video, zoom

__all__ = ["MotionConfig", "video", "zoom"]
