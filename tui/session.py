"""What runs off the UI thread: building the model, dreaming, and the messages they post.

Workers talk to the app only through ``post_message`` (thread-safe and non-blocking), never
``call_from_thread``: that one waits for the UI, and a worker still waiting when the app
quits would keep the process alive.

Keras (through ``kdream.models`` and ``kdream.dreamer``) is imported here lazily, inside
the worker, so the window appears before the seconds-long framework import.
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time
from collections.abc import Callable

import numpy as np
from textual.message import Message

from kdream.config import DreamConfig
from kdream.imageio import save_image
from kdream.weights import WeightsError

from .saving import choose_output_path

PREVIEW_INTERVAL_S = 0.25
"""At most ~4 previews a second: each one copies the image from the device."""


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


class LayersKnown(Message):
    """Keras is imported: the layer catalogue and its hints can be shown."""

    def __init__(
        self,
        names: tuple[str, ...],
        hints: dict[str, str],
        defaults: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.names = names
        self.hints = hints
        self.defaults = defaults or {}
        """The layers the model dreams for the stock recipe (InceptionV3: the stock ones)."""


class ModelReady(Message):
    """The Dreamer is built (or was reused)."""

    def __init__(self, backend: str, weights: str, channels: dict[str, int]) -> None:
        super().__init__()
        self.backend = backend
        self.weights = weights
        self.channels = channels


class ModelFailed(Message):
    """The Dreamer could not be built; ``reason`` is one line.

    ``weights`` is True when the weights choice is to blame (the panel marks that field).
    """

    def __init__(self, reason: str, weights: bool = False) -> None:
        super().__init__()
        self.reason = reason
        self.weights = weights


class DreamStep(Message):
    """One ascent step finished; ``image`` is a preview or None when throttled."""

    def __init__(self, info: StepInfo, image: np.ndarray | None) -> None:
        super().__init__()
        self.info = info
        self.image = image


class DreamFinished(Message):
    """A dream ended: ``result`` when it completed, else ``cancelled`` or ``error`` says why."""

    def __init__(
        self, result: DreamResult | None = None, cancelled: bool = False, error: str | None = None
    ) -> None:
        super().__init__()
        self.result = result
        self.cancelled = cancelled
        self.error = error


class ModelHolder:
    """One Dreamer, built on first use and reused; rebuilt only when the weights change.

    Thread-safe: the startup worker and a dream worker may ask at the same time; the
    second waits for the first build instead of building another model.
    """

    def __init__(
        self, weights: str, dreamer=None, model=None, input_range=None, precision="float32"
    ) -> None:
        self._lock = threading.Lock()
        self.precision = dreamer.precision if dreamer is not None else precision
        """What the network computes in (``--precision``; ``auto`` until the first build)."""
        self._weights = weights
        self._dreamer = dreamer
        self._model = dreamer.spec if dreamer is not None else model
        self._input_range = input_range
        self._channels: dict[str, int] | None = None
        self._visualizer = None

    def spec(self):
        """The model spec (``--model``): cheap for built-in families, loads an own file."""
        from kdream.models import model_spec

        with self._lock:
            self._model = model_spec(self._model, self._input_range)
            return self._model

    def other_model(self, recipe: dict) -> str | None:
        """The model a recipe names when it is not the one loaded (None: the same, or the
        model is not known yet)."""
        from kdream.models import ModelSpec

        entry = recipe.get("model") if isinstance(recipe.get("model"), dict) else {}
        named = entry.get("file") or entry.get("name") or "inceptionv3"
        if not isinstance(self._model, ModelSpec):
            return None
        mine = self._model.recipe_entry()
        if entry.get("sha256"):
            return None if entry.get("sha256") == mine.get("sha256") else str(named)
        return None if named == mine.get("name") else str(named)

    def get(self, weights: str):
        """The Dreamer for ``weights`` (building it if needed); raises WeightsError etc."""
        with self._lock:
            if self._dreamer is None or weights != self._weights:
                from kdream.dreamer import Dreamer

                # Build before replacing: weights that fail to load keep the old model.
                self._dreamer = Dreamer(
                    weights=weights, model=self._model, precision=self.precision
                )
                self.precision = self._dreamer.precision  # "auto", resolved for this machine
                self._weights = weights
                self._channels = None
            return self._dreamer

    def channels(self) -> dict[str, int]:
        """Channel count of every catalogue layer of the current model."""
        from kdream.models import layer_channels

        with self._lock:
            if self._channels is None:
                self._channels = layer_channels(self._dreamer.model, self._dreamer.spec)
            return self._channels

    def visualizer(self, weights: str):
        """A :class:`kdream.visualize.Visualizer` on the current Dreamer's network (its
        compiled steps are kept while the weights stay)."""
        from kdream.visualize import Visualizer

        dreamer = self.get(weights)
        with self._lock:
            if self._visualizer is None or self._visualizer.dreamer is not dreamer:
                self._visualizer = Visualizer(dreamer=dreamer)
            return self._visualizer

    @property
    def loaded_weights(self) -> str | None:
        """The weights spec of the model held now (None before the first build)."""
        return self._weights if self._dreamer is not None else None


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
            from kdream.guide import guided_objective

            objective = guided_objective(guide, dreamer.config_for(config))
        rgb = dreamer.dream(
            loaded.rgb,
            config,
            objective=objective,
            on_progress=ProgressReporter(post),
            cancel=cancel,
        )
        recipe = dreamer.recipe(config, loaded.rgb.shape[:2], objective)
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
        from kdream.visualize import sheet_of

        visualizer = holder.visualizer(weights)
        objective = visualizer.objective(objective_text)
        pictures = visualizer.render(
            objective, settings, on_progress=ProgressReporter(post), cancel=cancel
        )
        recipe = visualizer.recipe(objective, settings)
        rgb = pictures[0] if len(pictures) == 1 else sheet_of(objective, pictures)
        seconds = time.perf_counter() - started
        name = visualisation_name(objective_text)
        return DreamResult(rgb, None, objective_text, DreamConfig(), recipe, seconds, name)

    return _run_and_report(visualise, post)


def _run_and_report(run: Callable[[float], DreamResult], post) -> str:
    """Run a dream or a visualisation in the worker and post how it ended: "done",
    "cancelled" or "failed" (also returned, handy in tests). Never raises."""
    try:
        from kdream.dreamer import DreamCancelled
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


class SaveFinished(Message):
    """A save ended: ``path`` written, or ``error`` (one line) why not."""

    def __init__(self, path=None, error: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.error = error


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
