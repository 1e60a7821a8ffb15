"""How the preview draws a picture: the terminal's own image protocol, or half-blocks.

textual-image knows two protocols that show a picture at the screen's real resolution:
Sixel (xterm, foot, WezTerm, iTerm2, VS Code, tmux >= 3.4 built with it) and kitty's
Terminal Graphics Protocol (``tgp``). It learns which one the terminal speaks by asking
it (escape sequences with 0.1 s timeouts) when ``textual_image.widget`` is imported.
That must happen before Textual starts: from then on Textual's input thread reads the
answers. So :func:`terminal_graphics` is called once by ``run_app``, never at import,
and the tests (and ``KdreamApp`` by default) use half-blocks without asking anything.

Everything else, a terminal that answers neither, a missing ``textual-image``, stdout or
stdin not being a terminal, gets kdream's colour half-blocks (:class:`HalfBlocks`).
``KDREAM_PREVIEW`` overrides the answer (a terminal that claims Sixel but draws it badly).
"""

from __future__ import annotations

import logging
import os
import sys

HALF_BLOCKS = "half-blocks"
SIXEL = "sixel"
TGP = "tgp"
CHOICES = ("auto", SIXEL, TGP, HALF_BLOCKS)
ENV = "KDREAM_PREVIEW"


def preview_choice() -> str:
    """``KDREAM_PREVIEW`` (default auto); ValueError naming the choices for another value."""
    choice = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(f"{ENV}={choice!r}: expected one of {', '.join(CHOICES)}")
    return choice


def terminal_graphics(choice: str = "auto") -> str:
    """The protocol the preview uses: ``sixel``, ``tgp`` or ``half-blocks``.

    ``auto`` asks the terminal (through textual-image); another choice is taken as given,
    as long as textual-image can be imported and both ends are a terminal.

    Example:
        >>> terminal_graphics("half-blocks")  # asks nothing
        'half-blocks'
    """
    if choice == HALF_BLOCKS or not _on_a_terminal():
        return HALF_BLOCKS
    # Its fallback messages ("assuming VT340 sizes") would land on the screen before the
    # app takes it over: only errors are worth that.
    logging.getLogger("textual_image").setLevel(logging.ERROR)
    try:
        from textual_image import renderable, widget  # noqa: F401  (asks the terminal)
    except Exception:  # not installed, or a terminal that answered oddly: no protocol
        return HALF_BLOCKS
    if choice != "auto":
        return choice
    detected = {renderable.SixelImage: SIXEL, renderable.TGPImage: TGP}
    return detected.get(renderable.Image, HALF_BLOCKS)


def _on_a_terminal() -> bool:
    """Both ends are a terminal: the queries write to stdout and read the answer on stdin
    (with stdin elsewhere textual-image's terminal setup would raise)."""
    streams = (sys.__stdin__, sys.__stdout__)
    return all(stream is not None and stream.isatty() for stream in streams)
