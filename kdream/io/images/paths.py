"""Output paths: the default name beside the input, and the checks that keep an input from
being overwritten and an existing output from being replaced without ``--force``.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

from kdream.io.images.messages import describe, output_error
from kdream.io.images.saving import output_format


def default_output_path(
    input_source: str | os.PathLike, output_dir: str | os.PathLike = ".", suffix: str = ".png"
) -> pathlib.Path:
    """``<output_dir>/<input stem>_dream<suffix>``; the sample gives ``coffee_dream.png``.

    Example:
        >>> default_output_path("holiday/beach.jpg").name
        'beach_dream.png'
        >>> default_output_path("sample:coffee.png", "out").as_posix()
        'out/coffee_dream.png'
    """
    source = os.fspath(input_source)
    source = source.removeprefix("sample:")
    if not suffix.startswith("."):
        suffix = "." + suffix
    stem = pathlib.Path(source).stem or "image"
    return pathlib.Path(output_dir) / f"{stem}_dream{suffix}"


def _same_file(a: pathlib.Path, b: pathlib.Path) -> bool:
    """True when both names reach the same file (symlinks, hard links, ``..`` included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: fall back to comparing resolved names
        return a.resolve() == b.resolve()


def check_output_path(
    output: str | os.PathLike, inputs: Sequence[str | os.PathLike], force: bool
) -> pathlib.Path:
    """Validate where a dream will be written; raise OutputPathError with a one-line reason.

    Refuses: an output that is one of the inputs (even with ``force``), an unsupported
    extension, a missing parent directory, a directory, and an existing file unless ``force``.

    Example:
        >>> check_output_path("new_dream.png", ["photo.jpg"], force=False)  # doctest: +SKIP
        PosixPath('new_dream.png')
    """
    target = pathlib.Path(output)
    for source in inputs:
        if _same_file(target, pathlib.Path(source)):
            raise output_error(target, "is one of the input images; refusing to overwrite it")
    output_format(target)
    parent = target.parent
    if not parent.is_dir():
        raise output_error(target, f"directory does not exist: {describe(parent)}")
    if not os.access(parent, os.W_OK):
        raise output_error(target, f"directory is not writable: {describe(parent)}")
    if target.is_dir():
        raise output_error(target, "is a directory")
    if target.exists() and not force:
        raise output_error(target, "already exists (use --force to overwrite)")
    return target
