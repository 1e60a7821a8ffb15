"""The TUI's keys, as plain data: the app binds them, and ``kdream tui --help`` lists them
without importing Textual (which would slow every ``--help``).

Example:
    >>> KEYS[0].key, KEYS[0].action
    ('d', 'dream')
"""

from __future__ import annotations

from typing import NamedTuple


class Key(NamedTuple):
    key: str
    action: str
    """The app's ``action_<action>`` method."""
    label: str
    """The footer's word."""
    explanation: str
    """The line ``kdream tui --help`` prints."""


KEYS = (
    Key("d", "dream", "Dream", "dream the picture with the panel's recipe"),
    Key("c", "cancel", "Cancel", "stop the running dream or visualisation"),
    Key("s", "save", "Save", "save the result with its recipe (a taken name gets a number)"),
    Key("o", "open", "Open", "open another picture"),
    Key("r", "recipe", "Recipe", "load the recipe of a kdream PNG into the panel"),
    Key("g", "guide", "Guide", "pick a guide image for the next dreams (empty: none)"),
    Key(
        "v", "visualise", "Visualise", "visualise a channel (mixed4:97) or any objective from noise"
    ),
    Key("q", "quit", "Quit", "quit"),
)


def keys_help() -> str:
    """The keys as the lines of ``kdream tui --help``'s epilog."""
    return "keys:\n" + "\n".join(f"  {key.key}  {key.explanation}" for key in KEYS)
