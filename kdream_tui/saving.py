"""Where the TUI writes a dream: the -o path or ``<stem>_dream.png``, never over a file.

Unlike the CLI there is no --force in an interactive session: pressing ``s`` twice should
give two files, so an existing name becomes ``<stem>-2<suffix>``, ``-3``, ... (the same
numbering as the CLI's default names: :func:`kdream.io.images.paths.free_path`).

Example:
    >>> choose_output_path(None, "holiday/beach.jpg").name  # doctest: +SKIP
    'beach_dream.png'
"""

from __future__ import annotations

import pathlib

from kdream.io.images.loading import SAMPLE_SOURCE
from kdream.io.images.paths import check_output_path, default_output_path, free_path


def choose_output_path(requested: str | None, source: str) -> pathlib.Path:
    """The path the next save goes to; ``OutputPathError`` (one line) when it cannot be written.

    ``requested`` is the -o value (or None for the default name next to the working
    directory); ``source`` is the input image path or the sample's name. The input file
    is refused even though its name would otherwise just get a number.
    """
    target = pathlib.Path(requested) if requested else default_output_path(source)
    inputs = [] if source == SAMPLE_SOURCE else [source]
    # force=True: an existing file is fine here (it gets a number), every other problem
    # (the input itself, unknown extension, missing folder) is reported.
    check_output_path(target, inputs, force=True)
    return free_path(target)
