"""Reading back the recipe :func:`~kdream.video_io.assemble` stored: the sidecar, else the
file's own comment."""

from __future__ import annotations

import os
from pathlib import Path

from kdream.io import images as imageio
from kdream.recipe import MAX_RECIPE_CHARS

from .formats import FOLDER_RECIPE, _as_video_errors, _reason, _video_error
from .reading import _kind, _open_input
from .writing import sidecar_path


def _read_sidecar(path: Path) -> dict:
    label = imageio.describe(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            text = stream.read(MAX_RECIPE_CHARS + 1)  # never slurp a huge file
    except OSError as exc:
        raise _video_error(label, f"cannot read ({_reason(exc)})") from None
    return imageio.recipe_from_text(text.strip(), label)


def _container_comment(path: str | os.PathLike, label: str) -> str | None:
    with _open_input(path, label) as container:
        for key, value in container.metadata.items():
            if key.lower() == "comment" and value.lstrip().startswith("{"):  # JSON: ours
                return value
    return None


def read_video_recipe(path: str | os.PathLike) -> dict:
    """The recipe :func:`assemble` stored: its sidecar if present, else inside the file.

    A folder's recipe is its ``recipe.json``. Size and depth limits and checks are imageio's
    (:func:`kdream.imageio.read_recipe`). No recipe anywhere: :class:`VideoInputError`.

    Example:
        >>> read_video_recipe("dream.mp4")["motion"]["kind"]  # doctest: +SKIP
        'video'
    """
    label = imageio.describe(path)
    with _as_video_errors():
        sidecar = sidecar_path(path)
        if sidecar.is_file():
            return _read_sidecar(sidecar)
        if _kind(path) == "folder":
            raise _video_error(label, f"no kdream recipe ({FOLDER_RECIPE}) in this folder")
        if Path(path).suffix.lower() in (".gif", ".webp"):
            return imageio.read_recipe(path)
        text = _container_comment(path, label)
        if text is None:
            raise _video_error(label, "no kdream recipe in this video")
        return imageio.recipe_from_text(text, label)
