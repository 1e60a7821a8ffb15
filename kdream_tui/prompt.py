"""A small modal that asks for a file path (or any text) and keeps asking until it is usable."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Label, Static


class PathSuggester(Suggester):
    """Completes the last part of a path from the files on disk (accept with right arrow)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        folder, prefix = os.path.split(value)
        try:
            names = sorted(os.listdir(os.path.expanduser(folder) or "."))
        except OSError:
            return None
        for name in names:
            if name.startswith(prefix) and name != prefix and not name.startswith("."):
                full = os.path.join(folder, name)
                return full + os.sep if os.path.isdir(os.path.expanduser(full)) else full
        return None


class PathPrompt(ModalScreen[Any]):
    """Ask for a path; ``loader(path)`` turns it into the result the screen is dismissed with.

    A ``ValueError`` or ``OSError`` from the loader (kdream's ImageInputError is one) is
    shown under the field and the prompt stays open, so a typo costs one keystroke.
    Escape dismisses with None.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    paths = True
    """Complete file names, and expand ``~``; :class:`TextPrompt` does neither."""
    HELP = "enter: open · esc: cancel · →: complete"

    def __init__(self, title: str, value: str, loader: Callable[[str], Any]) -> None:
        super().__init__()
        self._title = title
        self._value = value
        self._loader = loader

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-dialog"):
            yield Label(self._title, id="prompt-title")
            suggester = PathSuggester() if self.paths else None
            yield Input(self._value, suggester=suggester, id="prompt-input")
            yield Static(id="prompt-error")
            yield Static(self.HELP, id="prompt-help")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = event.value.strip()
        path = os.path.expanduser(path) if self.paths else path
        try:
            result = self._loader(path)
        except (ValueError, OSError) as error:
            self.query_one("#prompt-error", Static).update(Text(str(error), style="bold red"))
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextPrompt(PathPrompt):
    """Ask for text that is not a path (an objective such as ``mixed4:97``)."""

    paths = False
    HELP = "enter: start · esc: cancel"
