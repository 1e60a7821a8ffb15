"""What the workers hand the app: a finished picture and the numbers of one step.

Plain frozen data, free of Textual and Keras, so the messages that carry it
(:mod:`kdream_tui.messages`), the workers that make it (:mod:`kdream_tui.workers`) and
the app that keeps it all import this module and never each other.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kdream.config import DreamConfig


@dataclasses.dataclass(frozen=True)
class DreamResult:
    """A finished dream and everything needed to save it the way the CLI does."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    source: str
    config: DreamConfig
    recipe: dict
    seconds: float
    default_name: str | None = None
    """Where ``s`` saves without -o (None: ``<input stem>_dream.png``)."""


@dataclasses.dataclass(frozen=True)
class StepInfo:
    """The numbers of one progress report, copied off the worker's Progress object."""

    octave: int
    octaves: int
    step: int
    steps: int
    loss: float
    fraction: float
    eta: float
