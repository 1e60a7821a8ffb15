"""The dreamed frames on disk: one atomic PNG per frame, with its recipe, so an interrupted
run resumes from what is there."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kdream.io import images as imageio
from kdream.io.images.messages import OutputPathError

from .formats import _as_video_errors, _reason, _video_error


def frame_path(folder: str | os.PathLike, index: int) -> Path:
    """Where frame ``index`` (1-based) lives.

    Example:
        >>> frame_path("out", 7).as_posix()
        'out/frame_000007.png'
    """
    return Path(folder) / f"frame_{index:06d}.png"


def write_frame(
    folder: str | os.PathLike, index: int, rgb: np.ndarray, recipe: dict | None
) -> Path:
    """Atomically write frame ``index`` (1-based) as a PNG with its recipe; creates ``folder``.

    Example:
        >>> write_frame("frames", 1, rgb, {"seed": 1})  # doctest: +SKIP
        PosixPath('frames/frame_000001.png')
    """
    if type(index) is not int or index < 1:
        raise ValueError(f"frame index must be an int >= 1, got {index!r}")
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = f"cannot create ({_reason(exc)})"
        raise OutputPathError(f"{imageio.describe(folder)}: {problem}") from None
    return imageio.save_image(frame_path(folder, index), rgb, recipe=recipe)


def written_frames(folder: str | os.PathLike) -> list[Path]:
    """``frame_000001.png``, ``frame_000002.png``, ... present in ``folder``, up to the first gap.

    Frames are written atomically, so each one found is complete; after a gap, frames belong
    to no consecutive run and are ignored. A missing folder has none.

    Example:
        >>> [p.name for p in written_frames("frames")]  # doctest: +SKIP
        ['frame_000001.png', 'frame_000002.png']
    """
    found: list[Path] = []
    while (path := frame_path(folder, len(found) + 1)).is_file():
        found.append(path)
    return found


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """Every frame file in ``folder``, also those after a gap (a ``--ray`` run writes its
    shots apart); temporary files start with a dot, so each one found is whole.

    Example:
        >>> frame_files("no such folder")
        []
    """
    return sorted(Path(folder).glob("frame_*.png"))


def frame_pixels(path: Path, size_hw: tuple[int, int] | None) -> np.ndarray:
    """One written frame for assembly, checked against the first frame's size."""
    with _as_video_errors():
        rgb = imageio.load_image(path).rgb
    if size_hw is not None and rgb.shape[:2] != tuple(size_hw):
        raise _video_error(
            imageio.describe(path),
            f"frame is {rgb.shape[1]}x{rgb.shape[0]}, the first was {size_hw[1]}x{size_hw[0]}",
        )
    return rgb
