"""The messages workers post to the app: the model's progress, each dream step, outcomes.

Workers talk to the app only through ``post_message`` (thread-safe and non-blocking),
never ``call_from_thread``: that one waits for the UI, and a worker still waiting when the
app quits would keep the process alive. The app handles each message on the UI thread,
which is the only place its reactive state may change.

Every message is posted to the App itself, which has no parent to bubble to, so all are
``bubble=False``. Textual names the handler after the class (``DreamStep`` ->
``on_dream_step``), so renaming a class renames its handler.

Only :class:`DreamStep` coalesces (``can_replace``): a newer step makes an older one that
is still queued worthless. Every other message reports something that happened once
and must each be handled.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

import numpy as np
from textual.message import Message

from .results import DreamResult, StepInfo


@dataclass
class LayersKnown(Message, bubble=False):
    """Keras is imported: the layer catalogue and its hints can be shown."""

    names: tuple[str, ...]
    hints: dict[str, str]
    defaults: dict[str, float] = field(default_factory=dict)
    """The layers the model dreams for the stock recipe (InceptionV3: the stock ones)."""


@dataclass
class ModelReady(Message, bubble=False):
    """The Dreamer is built (or was reused)."""

    backend: str
    weights: str
    channels: dict[str, int]


@dataclass
class ModelFailed(Message, bubble=False):
    """The Dreamer could not be built; ``reason`` is one line.

    ``weights`` is True when the weights choice is to blame (the panel marks that field).
    """

    reason: str
    weights: bool = False


@dataclass
class DreamStep(Message, bubble=False):
    """One ascent step finished; ``image`` is a preview or None when throttled."""

    info: StepInfo
    image: np.ndarray | None

    def can_replace(self, message: Message) -> bool:
        """A newer step still in the queue behind this one makes this one stale (when the
        UI lags, it jumps to the latest numbers instead of replaying each step), unless
        this one carries a preview and the newer one does not: the picture is kept."""
        return isinstance(message, DreamStep) and (self.image is None or message.image is not None)


@dataclass
class DreamFinished(Message, bubble=False):
    """A dream ended: ``result`` when it completed, else ``cancelled`` or ``error`` says why."""

    result: DreamResult | None = None
    cancelled: bool = False
    error: str | None = None


@dataclass
class SaveFinished(Message, bubble=False):
    """A save ended: ``path`` written, or ``error`` (one line) why not."""

    path: pathlib.Path | None = None
    error: str | None = None
