"""A small modal that asks for a file path and keeps asking until the file is usable."""

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

    def __init__(self, title: str, value: str, loader: Callable[[str], Any]) -> None:
        super().__init__()
        self._title = title
        self._value = value
        self._loader = loader

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-dialog"):
            yield Label(self._title, id="prompt-title")
            yield Input(self._value, suggester=PathSuggester(), id="prompt-input")
            yield Static(id="prompt-error")
            yield Static("enter: open · esc: cancel · →: complete", id="prompt-help")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = os.path.expanduser(event.value.strip())
        try:
            result = self._loader(path)
        except (ValueError, OSError) as error:
            self.query_one("#prompt-error", Static).update(Text(str(error), style="bold red"))
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)
