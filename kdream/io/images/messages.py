"""One-line messages about input and output files, and their two error types."""

from __future__ import annotations

import os


class ImageInputError(ValueError):
    """An input image cannot be used; ``str(e)`` is one line: ``"<file>: <problem>"``."""


class OutputPathError(ValueError):
    """An output path cannot be written; ``str(e)`` is one line: ``"<file>: <problem>"``."""


def one_line(text: str) -> str:
    """Collapse whitespace so a message can never span several lines."""
    return " ".join(str(text).split())


def describe(path: str | os.PathLike) -> str:
    """The file name as the user typed it, kept on one line."""
    return os.fspath(path).replace("\n", "\\n").replace("\r", "\\r")


def input_error(label: str, problem: str) -> ImageInputError:
    return ImageInputError(f"{label}: {one_line(problem)}")


def output_error(path: str | os.PathLike, problem: str) -> OutputPathError:
    return OutputPathError(f"{describe(path)}: {one_line(problem)}")


def reason_of(exc: BaseException) -> str:
    """A short reason from an exception (its message, or its type name if it has none)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return one_line(str(exc)) or type(exc).__name__
