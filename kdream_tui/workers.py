"""What runs in worker threads: building the model, dreaming, visualising, saving.

Each function reports only by posting :mod:`kdream_tui.messages` through ``post`` (the
app's thread-safe ``post_message``) and never touches the app's state or widgets: those
belong to the UI thread, which changes them when it handles the messages.

Keras (through ``kdream.models`` and ``kdream.ascent``) is imported here lazily, inside
the worker, so the window appears before the seconds-long framework import.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable

from textual.message import Message

from kdream import recipe as recipe_parts
from kdream.config import DreamConfig
from kdream.io.images.saving import save_image
from kdream.weights.sources import WeightsError

from .holder import ModelHolder
from .messages import DreamFinished, DreamStep, LayersKnown, ModelFailed, ModelReady, SaveFinished
from .results import DreamResult, StepInfo
from .saving import choose_output_path

PREVIEW_INTERVAL_S = 0.25
"""At most ~4 previews a second: each one copies the image from the device."""


def describe_error(error: BaseException) -> str:
    """One line for a notification: kdream's errors already are, others get their type."""
    text = " ".join(str(error).split())
    if type(error).__module__.startswith("kdream") or isinstance(error, ValueError):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def describe_import_error(error: ImportError) -> str:
    """Keras failed to import: most often KERAS_BACKEND names a framework not installed."""
    backend = os.environ.get("KERAS_BACKEND", "the default")
    return (
        f"cannot import Keras with {backend} backend ({describe_error(error)}); "
        "set KERAS_BACKEND to an installed one and restart"
    )


def load_model(holder: ModelHolder, weights: str, post: Callable[[Message], object]) -> bool:
    """Import Keras, announce the layers, build the model, announce it. Returns success."""
    try:
        import kdream.models  # noqa: F401  (imports Keras)
    except ImportError as error:
        post(ModelFailed(describe_import_error(error)))
        return False
    try:
        spec = holder.spec()
        # The layers the model dreams when asked for the stock recipe (Dreamer.config_for).
        defaults = dict(spec.with_defaults(DreamConfig()).layers)
        post(LayersKnown(tuple(spec.catalogue), dict(spec.catalogue), defaults))
        dreamer = holder.get(weights)
        post(ModelReady(dreamer.backend, dreamer.weights.source, holder.channels()))
    except Exception as error:  # any failure is shown in the UI, never a crash
        post(ModelFailed(describe_error(error), weights=isinstance(error, WeightsError)))
        return False
    return True


class ProgressReporter:
    """The ``on_progress`` callback: posts every step, with a preview at most 4 times a second."""

    def __init__(
        self, post: Callable[[Message], object], interval: float = PREVIEW_INTERVAL_S
    ) -> None:
        self._post = post
        self._interval = interval
        self._last_preview = -float("inf")

    def __call__(self, progress) -> None:
        now = time.monotonic()
        image = None
        if now - self._last_preview >= self._interval:
            self._last_preview = now
            image = progress.image()  # the device copy happens here, in the worker
        info = StepInfo(
            progress.octave,
            progress.octaves,
            progress.step,
            progress.steps,
            progress.loss,
            progress.fraction,
            progress.eta,
        )
        self._post(DreamStep(info, image))


def run_dream(
    holder: ModelHolder,
    weights: str,
    loaded,
    config: DreamConfig,
    cancel: threading.Event,
    post: Callable[[Message], object],
    guide=None,
) -> str:
    """Dream ``loaded`` (a LoadedImage) and post the outcome. Returns "done", "cancelled"
    or "failed" (also the worker's result, handy in tests). With a ``guide`` (a
    :class:`~kdream.references.ReferenceImage`) the recipe's layers pull toward its
    features, as ``kdream dream --guide`` does."""

    def dream(started: float) -> DreamResult:
        rebuild = holder.loaded_weights != weights
        dreamer = holder.get(weights)
        if rebuild:  # the app said "loading model": say it is ready again
            post(ModelReady(dreamer.backend, dreamer.weights.source, holder.channels()))
        objective = None
        if guide is not None:
            from kdream.objectives.guide import guided_objective

            objective = guided_objective(guide, dreamer.config_for(config))
        rgb = dreamer.dream(
            loaded.rgb,
            config,
            objective=objective,
            on_progress=ProgressReporter(post),
            cancel=cancel,
        )
        # Named as ``kdream dream`` names it (the file name, no --max-side in the TUI), so
        # the CLI's replay of a saved dream writes the very same file.
        recipe = recipe_parts.with_input_source(
            dreamer.recipe(config, loaded.rgb.shape[:2], objective), loaded.source, None
        )
        seconds = time.perf_counter() - started
        return DreamResult(rgb, loaded.alpha, loaded.source, config, recipe, seconds)

    return _run_and_report(dream, post)


def visualisation_name(objective_text: str) -> str:
    """The default file of a visualisation, as ``kdream visualize`` names them.

    Example:
        >>> visualisation_name("mixed4:97 + 0.5*mixed3:12")
        'visualize_mixed4_97_0_5_mixed3_12.png'
    """
    slug = re.sub(r"[^A-Za-z0-9]+", "_", objective_text).strip("_")[:60] or "objective"
    return f"visualize_{slug}.png"


def run_visualisation(
    holder: ModelHolder,
    weights: str,
    objective_text: str,
    settings,
    cancel: threading.Event,
    post: Callable[[Message], object],
) -> str:
    """Render ``objective_text`` from noise (:class:`kdream.visualize.Visualizer`), with
    the same progress, cancel and outcome messages as a dream. Several pictures (a channel
    batch) come back as one labelled sheet, as on the command line."""

    def visualise(started: float) -> DreamResult:
        from kdream.objectives.text import visualisation_objective  # Keras: in the worker

        visualizer = holder.visualizer(weights)
        objective = visualisation_objective(objective_text, visualizer.head_layer)
        pictures = visualizer.render(
            objective, settings, on_progress=ProgressReporter(post), cancel=cancel
        )
        recipe = visualizer.picture_recipe(objective, settings)
        rgb = visualizer.picture_of(objective, pictures)  # (H, W) for a gray network
        seconds = time.perf_counter() - started
        name = visualisation_name(objective_text)
        return DreamResult(rgb, None, objective_text, DreamConfig(), recipe, seconds, name)

    return _run_and_report(visualise, post)


def _run_and_report(run: Callable[[float], DreamResult], post) -> str:
    """Run a dream or a visualisation in the worker and post how it ended: "done",
    "cancelled" or "failed" (also returned, handy in tests). Never raises."""
    try:
        from kdream.ascent.dreamer import DreamCancelled
    except ImportError as error:
        post(DreamFinished(error=describe_import_error(error)))
        return "failed"
    try:
        result = run(time.perf_counter())
    except DreamCancelled:
        post(DreamFinished(cancelled=True))
        return "cancelled"
    except Exception as error:  # shown as a notification; the app keeps running
        post(DreamFinished(error=describe_error(error)))
        return "failed"
    post(DreamFinished(result))
    return "done"


_SAVE_LOCK = threading.Lock()
"""Pressing ``s`` twice quickly must give two files: choosing a free name and writing it
happen together, one save at a time."""


def save_result(result: DreamResult, requested: str | None, post) -> str:
    """Write ``result`` with its recipe to the -o path or a free default name; post the outcome.

    Returns the path written, or "" when it failed (the worker's result)."""
    try:
        with _SAVE_LOCK:
            target = choose_output_path(requested or result.default_name, result.source)
            path = save_image(target, result.rgb, result.alpha, recipe=result.recipe)
    except (ValueError, TypeError, OSError) as error:  # OutputPathError is a ValueError
        post(SaveFinished(error=describe_error(error)))
        return ""
    post(SaveFinished(path=path))
    return str(path)
