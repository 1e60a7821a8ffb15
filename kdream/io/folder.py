"""A folder dream, one file at a time: the work the serial ``kdream dream photos/ -o dreams/``
and :mod:`kdream.distributed`'s workers share, so both write the same files bit for bit.

:class:`FolderDream` is what every file of a run shares (plain data: it pickles to a Ray
worker); :func:`dream_file` reads one photo, dreams it and writes its output atomically
with its recipe, and returns a :class:`FileOutcome` instead of printing, so a worker on
another machine can report it. Nothing here imports Keras: the Dreamer is passed in (or
built by :meth:`FolderDream.load_dreamer` where it runs).

Example:
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from kdream.io.images import save_image
    >>> folder = Path(tempfile.mkdtemp())
    >>> photo = save_image(folder / "photo.png", np.zeros((48, 64, 3), np.uint8))
    >>> settings = FolderDream(weights="random", config=DreamConfig(octaves=1, steps=1))
    >>> dreamer = settings.load_dreamer()
    >>> outcome = dream_file(dreamer, settings, str(photo), folder / "dream.png")
    >>> outcome.status, outcome.size
    ('written', (64, 48))
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kdream import recipe as recipe_parts
from kdream.config import DreamConfig
from kdream.io.images import (
    IMAGE_SUFFIXES,
    SAMPLE_SOURCE,
    ImageInputError,
    OutputPathError,
    load_image,
    load_sample,
    output_error,
    read_recipe,
    save_image,
    supports_alpha,
)
from kdream.pixels import fit_max_side

WRITTEN, KEPT, FAILED = "written", "kept", "failed"
FILE_ERRORS = (ImageInputError, OutputPathError, ValueError)
"""What one bad file raises: reported in its outcome, the run goes on (anything else is a
bug and ends the run)."""


def folder_images(directory) -> list[str]:
    """The pictures in ``directory``, sorted by name (subfolders are not searched)."""
    found = (p for p in Path(directory).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return [str(path) for path in sorted(found)]


@dataclass(frozen=True)
class FolderDream:
    """What every file of a folder dream shares: the network and how to load it, the
    recipe, the objective (a recipe's recorded one, or None for the config's layers), the
    ``--guide`` image, and the ``--resume``/``--force`` choices.

    Example:
        >>> FolderDream(config=DreamConfig(steps=2)).config.steps
        2
    """

    weights: str = "auto"
    model: str | None = None
    input_range: tuple | None = None
    precision: str = "float32"
    config: DreamConfig = field(default_factory=DreamConfig)
    max_side: int | None = None
    objective: Any = None
    guide: Any = None
    resume: bool = False
    force: bool = False

    def load_dreamer(self):
        """The network, loaded once per process (an own ``.keras`` file in safe mode)."""
        from kdream.ascent.dreamer import Dreamer

        return Dreamer(
            self.weights, self.model, self.input_range, self.precision, self.layers_read()
        )

    def layers_read(self) -> tuple[str, ...]:
        """The layers the run reads (its network may end after the deepest of them)."""
        if self.objective is not None:
            return self.objective.layer_names
        return self.config.layer_names

    def objective_for(self, dreamer):
        """The run's objective on ``dreamer``'s model: with ``--guide``, the recorded guide
        terms get the image, or else the config's layers become guide terms."""
        from kdream.objectives.references import bind, references_of

        if self.guide is None:
            return self.objective
        if self.objective is not None and references_of(self.objective):
            return bind(self.objective, [self.guide])
        from kdream.objectives.guide import guided_objective

        return guided_objective(self.guide, dreamer.config_for(self.config))


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file: ``written``, ``kept`` (``--resume`` found its recipe in the
    output) or ``failed`` (``message`` says why); ``size`` is (width, height)."""

    source: str
    output: str
    status: str
    message: str = ""
    notices: tuple[str, ...] = ()
    size: tuple[int, int] | None = None
    seconds: float = 0.0
    worker: int = field(default_factory=os.getpid)
    """The process that did the work (never part of the recipe)."""

    @property
    def failed(self) -> bool:
        return self.status == FAILED


def dream_file(
    dreamer, settings: FolderDream, source: str, output, objective=None, **dream_options
) -> FileOutcome:
    """Dream ``source`` into ``output`` (written atomically, with its recipe).

    ``objective``: the run's objective (``settings.objective_for(dreamer)``, computed once
    per run by the caller); ``dream_options`` go to :meth:`Dreamer.dream` (``on_progress``,
    ``cancel``). A bad file gives a ``failed`` outcome; a cancel raises ``DreamCancelled``.
    """
    started = time.perf_counter()
    output = Path(output)
    try:
        loaded = load_sample() if source == SAMPLE_SOURCE else load_image(source)
        notices = [f"{source}: {notice}" for notice in loaded.notices]
        rgb, alpha = fit_max_side(loaded.rgb, loaded.alpha, settings.max_side)
        if alpha is not None and not supports_alpha(output):
            notices.append(f"{output}: this format has no transparency; alpha dropped")
            alpha = None
        recipe = _file_recipe(dreamer, settings, source, rgb.shape[:2], objective)
        if settings.resume and _made_by(output, recipe, settings.force):
            return FileOutcome(source, str(output), KEPT, notices=tuple(notices))
        dreamed = dreamer.dream(rgb, settings.config, objective=objective, **dream_options)
        path = save_image(output, dreamed, alpha, recipe=recipe)
    except FILE_ERRORS as error:
        return FileOutcome(source, str(output), FAILED, message=str(error))
    height, width = dreamed.shape[:2]
    seconds = time.perf_counter() - started
    return FileOutcome(source, str(path), WRITTEN, "", tuple(notices), (width, height), seconds)


def _file_recipe(dreamer, settings: FolderDream, source: str, image_hw, objective) -> dict:
    """The recipe the output will carry: the same wherever the file is dreamed (the input
    is named by its file name, never by a path or a machine)."""
    recipe = dreamer.recipe(settings.config, image_hw, objective)
    return recipe_parts.with_input_source(recipe, source, settings.max_side)


def _made_by(output: Path, recipe: dict, force: bool) -> bool:
    """``--resume``: whether ``output`` already holds this very recipe's picture. An output
    with another kdream recipe is redone; a file without one is not kdream's to replace
    unless ``--force``."""
    if not output.exists():
        return False
    try:
        found = read_recipe(output)
    except ImageInputError:
        if force:
            return False
        raise output_error(
            output, "already exists and holds no kdream recipe (use --force to overwrite)"
        ) from None
    return found == recipe_parts.parse(recipe_parts.to_json(recipe))
