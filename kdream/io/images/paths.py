"""Output paths: the default name beside the input, the next free numbered name when that
one is taken, and the checks that keep an input from being overwritten and an existing output
from being replaced without ``--force``.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

from kdream.io.images.messages import OutputPathError, describe, output_error
from kdream.io.images.saving import output_format

MAX_NUMBERED = 9999
"""Give up looking for a free name after this many (something is odd in that folder)."""


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


def free_path(target: str | os.PathLike) -> pathlib.Path:
    """``target`` if nothing is there yet, else the first free ``<stem>-N<suffix>`` (N >= 2).

    Example:
        >>> free_path("surely/not/here_dream.png").as_posix()
        'surely/not/here_dream.png'
    """
    target = pathlib.Path(target)
    if not target.exists():
        return target
    for number in range(2, MAX_NUMBERED + 1):
        candidate = target.with_name(f"{target.stem}-{number}{target.suffix}")
        if not candidate.exists():
            return candidate
    raise OutputPathError(f"{target}: no free numbered name left next to it")


def pick_output_path(
    requested: str | os.PathLike | None,
    default: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    force: bool,
) -> pathlib.Path:
    """Where a command writes: ``requested`` (the -o value) as given, refused when it exists
    unless ``force``; without one, the ``default`` name, or its next free numbered name
    (``coffee_dream-2.png``) when that is taken, so a second run never fails on a name the
    user did not choose. ``force`` without -o replaces the default name instead.

    Example:
        >>> pick_output_path(None, "surely_not_here_dream.png", ["photo.jpg"], False).name
        'surely_not_here_dream.png'
    """
    if requested:
        return check_output_path(requested, inputs, force)
    check_output_path(default, inputs, force=True)  # every problem but an existing file
    return pathlib.Path(default) if force else free_path(default)
