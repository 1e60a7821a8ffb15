"""The kdream terminal UI: pick layers and parameters, watch the dream grow, save it.

Run it with ``kdream tui [INPUT] [-o OUTPUT] [--weights ...]`` or ``python -m kdream_tui``.
The Keras backend is whatever ``KERAS_BACKEND`` (or ``~/.keras/keras.json``) says when
the app starts; Keras is imported in a worker so the window shows up at once.

Example:
    >>> app = KdreamApp(weights="random")  # doctest: +SKIP
    >>> app.run()                          # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import var
from textual.widgets import Footer, Header
from textual.worker import Worker, WorkerState

from kdream import recipe as recipe_parts
from kdream.config import DreamConfig
from kdream.io.images.loading import SAMPLE_SOURCE, LoadedImage, load_image, load_sample
from kdream.io.images.messages import ImageInputError, OutputPathError
from kdream.io.images.metadata import read_recipe
from kdream.io.images.paths import default_output_path
from kdream.network.precision import resolve as resolve_precision

from .form import (
    LayerSelection,
    check_fields,
    check_layers,
    panel_values,
    selectable_weights,
)
from .graphics import HALF_BLOCKS, preview_choice, terminal_graphics
from .holder import ModelHolder
from .keys import KEYS
from .messages import DreamFinished, DreamStep, LayersKnown, ModelFailed, ModelReady, SaveFinished
from .prompt import PathPrompt, TextPrompt
from .results import DreamResult
from .saving import choose_output_path
from .widgets import DreamStatus, ImagePreview, LayerList, LayerPanel, ParamPanel, format_seconds
from .workers import describe_error, load_model, run_dream, run_visualisation, save_result


def load_input(path: str) -> LoadedImage:
    """An image path, or ``sample`` (or nothing) for the embedded coffee photo."""
    if path.strip() in ("", "sample", SAMPLE_SOURCE):
        return load_sample()
    return load_image(path)


def load_guide(path: str):
    """A guide image for the prompt (False when the field is empty: no guide)."""
    if not path.strip():
        return False
    from kdream.io.images.references import load_reference

    return load_reference(path)


def load_recipe_file(path: str) -> tuple[str, dict, DreamConfig]:
    """Read and check a recipe at once, so the prompt can show what is wrong with it."""
    recipe = read_recipe(path)
    return path, recipe, recipe_parts.dream_config(recipe)


def image_name(loaded: LoadedImage) -> str:
    """How an input is named in the title: the file name, or that it is the sample."""
    if loaded.source == SAMPLE_SOURCE:
        return f"{SAMPLE_SOURCE.removeprefix('sample:')} (sample)"
    return os.path.basename(loaded.source)


class KdreamApp(App[int]):
    """DeepDream in a terminal.

    ``dreamer`` lets tests (or a caller that has one) hand in a built
    :class:`kdream.Dreamer`; it is used for ``weights`` until the weights choice changes.

    What the screen shows follows the reactive attributes below: the footer re-asks
    :meth:`check_action` when one declared with ``bindings=True`` changes, and the
    ``watch_`` methods redraw what depends on the others. They change on the UI thread
    only (actions and message handlers); workers post messages instead.
    """

    CSS_PATH = "app.tcss"
    TITLE = "kdream"
    # Its footer entry would push "q Quit" off an 80-column terminal, and kdream has no
    # commands of its own to put in it.
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding(key.key, key.action, key.label) for key in KEYS]

    dreaming = var(False, bindings=True)
    """A dream or a visualisation is running: ``c`` works; ``o``, ``g`` and ``v`` wait."""
    result: var[DreamResult | None] = var(None, always_update=True, bindings=True)
    """The last finished picture, what ``s`` saves (None: nothing to save yet).
    ``always_update``: a result holds arrays, which ``!=`` cannot compare."""
    model_ready = var(False)
    """The model for the panel's weights is built: ``g`` and ``v`` may use it."""
    running = var("dream")
    """What ``d`` or ``v`` started last: ``dream`` or ``visualisation`` (captions, status)."""
    image: var[LoadedImage] = var(None, always_update=True, init=False)
    """The input picture (set in ``__init__``); a new one shows in the title and preview.
    ``init=False`` here and on ``guide``: on_mount shows the first one, once."""
    guide = var(None, always_update=True, init=False)
    """The guide image (a :class:`~kdream.objectives.references.ReferenceImage`) dreams pull
    layers' features toward (``g``); None: a plain dream. The title names it."""

    def __init__(
        self,
        input_path: str | None = None,
        output: str | None = None,
        weights: str = "auto",
        dreamer=None,
        model: str | None = None,
        input_range: tuple[float, float] | None = None,
        precision: str = "float32",
        visualize_settings=None,
        graphics: str = HALF_BLOCKS,
    ) -> None:
        super().__init__()
        # set_reactive: no watcher yet, the widgets it would redraw do not exist
        self.set_reactive(KdreamApp.image, load_input(input_path or ""))  # ImageInputError
        self.output = output
        self.base_config = DreamConfig()
        """Recipe fields the panels do not show (reduction, jitter, channels...) live here."""
        self.selection = LayerSelection((), dict(self.base_config.layers))
        self.holder = ModelHolder(weights, dreamer, model, input_range, precision)
        self.last_saved: str | None = None
        self.dream_worker = None
        self._initial_weights = weights
        self._requested_weights = weights
        self._weights_error: str | None = None
        self._cancel = threading.Event()
        self.visualised: str | None = None
        """The objective text of the last visualisation asked for (``v``)."""
        self.visualize_settings = visualize_settings
        """How ``v`` renders (a :class:`kdream.visualize.VisualizeSettings`; None: its
        defaults); the seed comes from the panel."""
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()
        self.graphics = graphics
        """How the preview draws (:func:`kdream_tui.graphics.terminal_graphics`, asked by
        ``run_app`` before the app starts; half-blocks need nothing from the terminal)."""

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield LayerPanel(self.selection, id="layers")
            yield ParamPanel(panel_values(self.base_config), self._initial_weights, id="params")
            yield ImagePreview(self.graphics, id="preview")
        yield DreamStatus(id="status")
        yield Footer()

    @property
    def params(self) -> ParamPanel:
        return self.query_one(ParamPanel)

    @property
    def layers(self) -> LayerPanel:
        return self.query_one(LayerPanel)

    @property
    def status(self) -> DreamStatus:
        return self.query_one(DreamStatus)

    @property
    def preview(self) -> ImagePreview:
        return self.query_one(ImagePreview)

    def on_mount(self) -> None:
        self._show_input()
        self.query_one(LayerList).focus()
        self.revalidate()
        self.status.say(f"loading model (weights: {self._initial_weights})…", "italic")
        self._load_model(self._initial_weights)

    def watch_image(self) -> None:
        self._show_input()

    def watch_guide(self) -> None:
        self._show_input()

    def _show_input(self) -> None:
        """Title, preview and the input's notices (a new input or a new guide)."""
        height, width = self.image.rgb.shape[:2]
        guided = f" · guide: {self.guide.name}" if self.guide is not None else ""
        self.sub_title = f"{image_name(self.image)} · {width}×{height}{guided}"
        self.preview.show(self.image.rgb, f"input {width}×{height}")
        for notice in self.image.notices:
            self.notify(notice, title="input")

    # ------------------------------------------------------------------ the recipe

    def current_config(self) -> DreamConfig:
        """The config a dream started now would use; ValueError listing what is wrong."""
        values, errors = check_fields(self.base_config, self.params.texts())
        layer_error = check_layers(self.base_config, self.selection.chosen())
        problems = [*errors.values(), *([layer_error] if layer_error else [])]
        if problems:
            raise ValueError("; ".join(problems))
        return self.base_config.replace(layers=self.selection.chosen(), **values)

    def revalidate(self) -> bool:
        """Mark every bad field with DreamConfig's reason; True when all are good."""
        _, errors = check_fields(self.base_config, self.params.texts())
        layer_error = check_layers(self.base_config, self.selection.chosen())
        shown = {**errors, "weights": self._weights_error} if self._weights_error else errors
        self.params.show_errors(shown)
        self.layers.show_error(layer_error)
        return not errors and layer_error is None

    def on_param_panel_changed(self) -> None:
        self.revalidate()
        weights = self.params.weights
        if weights != self._requested_weights:  # a new source: load it now, in the background
            self._requested_weights = weights
            self.model_ready = False
            if not self.dreaming:
                self.status.say(f"loading model (weights: {weights})…", "italic")
            self._load_model(weights)

    def on_layer_list_changed(self) -> None:
        self.revalidate()

    # ------------------------------------------------------------------ workers

    @contextlib.contextmanager
    def _busy_with(self, what: str):
        """Track running threads, so quitting can say what it still waits for."""
        with self._busy_lock:
            self._busy.add(what)
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy.discard(what)

    @property
    def busy(self) -> list[str]:
        with self._busy_lock:
            return sorted(self._busy)

    def post_from_worker(self, message) -> None:
        """post_message that tolerates the app having just quit (nobody is listening)."""
        with contextlib.suppress(RuntimeError):
            self.post_message(message)

    # The workers get the app's state as arguments, read on the UI thread when they start.

    @work(thread=True, group="model", exit_on_error=False)
    def _load_model(self, weights: str) -> bool:
        with self._busy_with("the model to finish loading"):
            return load_model(self.holder, weights, self.post_from_worker)

    @work(thread=True, group="dream", exit_on_error=False)
    def _dream(self, loaded: LoadedImage, config: DreamConfig, weights: str, cancel, guide) -> str:
        with self._busy_with("the current dream step"):
            return run_dream(
                self.holder, weights, loaded, config, cancel, self.post_from_worker, guide
            )

    @work(thread=True, group="dream", exit_on_error=False)
    def _visualise(self, objective_text: str, settings, weights: str, cancel) -> str:
        with self._busy_with("the current visualisation step"):
            return run_visualisation(
                self.holder, weights, objective_text, settings, cancel, self.post_from_worker
            )

    @work(thread=True, group="save", exit_on_error=False)
    def _save(self, result: DreamResult) -> str:
        with self._busy_with("the image to be saved"):
            return save_result(result, self.output, self.post_from_worker)

    # ------------------------------------------------------------------ worker messages

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Last line of defence: workers report their own failures, but if one still
        raised, say so and never stay stuck in "dreaming"."""
        if event.state != WorkerState.ERROR:
            return
        reason = describe_error(event.worker.error)
        self.notify(reason, title="unexpected error", severity="error", timeout=10)
        if event.worker is self.dream_worker and self.dreaming:
            self.post_message(DreamFinished(error=reason))

    def on_layers_known(self, message: LayersKnown) -> None:
        stock = dict(DreamConfig().layers)
        if self.selection.chosen() == stock and message.defaults not in ({}, stock):
            # Not InceptionV3: start from the model's own layers, as a dream of it would.
            self.selection.names = [n for n in self.selection.names if n in message.names]
            self.selection.load(message.defaults)
            self.base_config = self.base_config.replace(layers=message.defaults)
        self.layers.set_catalogue(message.names, message.hints)
        self.revalidate()

    def on_model_ready(self, message: ModelReady) -> None:
        self.model_ready = True
        self._weights_error = None
        self.revalidate()
        self.layers.set_channels(message.channels)
        self.params.show_backend(message.backend)
        if self.dreaming:
            self.status.say("dreaming: first step (compiling)…", "italic")
        else:
            self.status.say(f"ready · {message.weights} weights · press d to dream")

    def on_model_failed(self, message: ModelFailed) -> None:
        self.model_ready = False
        if message.weights:
            self._weights_error = message.reason
            self.revalidate()
        self.notify(message.reason, title="cannot load the model", severity="error", timeout=10)
        self.status.say(f"model failed: {message.reason}", "bold red")

    def _progress_line(self, info) -> str:
        """A dream's octave, step and loss; a visualisation has one octave, so it shows its
        objective and steps instead."""
        eta = f"ETA {format_seconds(info.eta)}"
        if self.running == "visualisation":
            return f"{self.visualised} · step {info.step}/{info.steps} · {eta}"
        return (
            f"octave {info.octave}/{info.octaves} · step {info.step}/{info.steps} · "
            f"loss {info.loss:.4g} · {eta}"
        )

    def on_dream_step(self, message: DreamStep) -> None:
        if not self.dreaming:  # a late report from a run that already ended
            return
        info = message.info
        self.status.set_fraction(info.fraction)
        if not self._cancel.is_set():
            self.status.say(self._progress_line(info))
        if message.image is not None:
            caption = f"dreaming · octave {info.octave}/{info.octaves}"
            if self.running == "visualisation":
                caption = f"visualising · step {info.step}/{info.steps}"
            self.preview.show(message.image, caption, live=True)

    def on_dream_finished(self, message: DreamFinished) -> None:
        self.dreaming = False
        if message.result is not None:
            self.result = message.result
            self.preview.show(message.result.rgb, self.running)
            self.status.set_fraction(1.0)
            self.status.say(f"done in {message.result.seconds:.1f} s · press s to save", "bold")
        elif message.cancelled:
            self.preview.show(self.image.rgb, "input (cancelled)")
            self.status.set_fraction(0.0)
            self.status.say(f"{self.running} cancelled · nothing to save", "bold yellow")
        else:
            self.preview.show(self.image.rgb, "input (failed)")
            self.status.set_fraction(0.0)
            self.status.say(f"{self.running} failed: {message.error}", "bold red")
            self.notify(
                message.error or "", title=f"{self.running} failed", severity="error", timeout=10
            )

    def on_save_finished(self, message: SaveFinished) -> None:
        if message.error:
            self.notify(message.error, title="not saved", severity="error", timeout=10)
            self.status.say(f"not saved: {message.error}", "bold red")
            return
        self.last_saved = str(message.path)
        self.notify(f"saved {message.path}", title="saved")
        self.status.say(f"saved {message.path}", "bold green")

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters) -> bool | None:
        """Dim the keys that do nothing right now (None = shown, but disabled)."""
        if action == "cancel":
            return True if self.dreaming else None
        if action == "save":
            return True if self.result is not None else None
        if action in ("open", "visualise", "guide"):
            return None if self.dreaming else True
        return True

    def action_dream(self) -> None:
        if self.dreaming:
            self.notify("already dreaming (c cancels)", severity="warning")
            return
        try:
            config = self.current_config()
        except ValueError as error:
            self.revalidate()
            self.notify(str(error), title="fix the marked values first", severity="error")
            return
        weights = self.params.weights
        self.result = None
        self.dreaming = True
        self.running = "dream"
        self._cancel = threading.Event()  # a fresh one: a late cancel must not stop the next run
        self.status.set_fraction(0.0)
        if self.holder.loaded_weights != weights:
            self.status.say(f"loading model (weights: {weights})…", "italic")
        else:
            self.status.say("dreaming: first step…", "italic")
        self.dream_worker = self._dream(self.image, config, weights, self._cancel, self.guide)

    def action_guide(self) -> None:
        """Pick a guide image for the next dreams (empty: dream without one again)."""
        if self.dreaming:
            return
        if not self.model_ready:
            self.notify("the model is still loading", severity="warning")
            return
        value = self.guide.name if self.guide is not None else ""
        title = "Guide image for the next dreams (empty: no guide)"
        self.push_screen(PathPrompt(title, value, load_guide), self._guide_chosen)

    def _guide_chosen(self, guide) -> None:
        if guide is None:  # escape: keep what there was
            return
        self.guide = guide or None  # False: the field was emptied; watch_guide shows it
        if self.guide is None:
            self.status.say("no guide · press d to dream")
        else:
            self.status.say(f"guide: {self.guide.name} · press d for a guided dream")

    def action_visualise(self) -> None:
        """Ask for a channel (``mixed4:97``, prefilled with the highlighted layer) or any
        objective, then grow its picture from noise, watched like a dream."""
        if self.dreaming:
            return
        if not self.model_ready:
            self.notify("the model is still loading", severity="warning")
            return
        layer = self.layers.layer_list.current or ""
        value = self.visualised or f"{layer}:0"
        if self.visualised and not self.visualised.startswith(f"{layer}:"):
            value = f"{layer}:0"  # the cursor moved to another layer since: start from it
        title = "Visualise from noise: layer:channel, or an objective"
        self.push_screen(TextPrompt(title, value, self._checked_objective), self._start_visualising)

    def _checked_objective(self, text: str) -> str:
        """The prompt's check: text the objective parser accepts (else its one-line error)."""
        from kdream.objectives.text import visualisation_objective  # the model is loaded

        visualisation_objective(text, self.holder.visualizer(self.params.weights).head_layer)
        return text

    def _start_visualising(self, objective_text: str | None) -> None:
        if objective_text is None or self.dreaming:
            return
        self.visualised = objective_text
        self.running = "visualisation"
        seed, errors = check_fields(self.base_config, {"seed": self.params.texts()["seed"]})
        defaults = (
            self.visualize_settings
            or self.holder.visualizer(self.params.weights).default_settings()
        )
        settings = defaults.replace(seed=seed.get("seed", 0) if not errors else 0)
        self.result = None
        self.dreaming = True
        self._cancel = threading.Event()
        self.status.set_fraction(0.0)
        self.status.say(f"visualising {objective_text}: first step (compiling)…", "italic")
        self.dream_worker = self._visualise(
            objective_text, settings, self.params.weights, self._cancel
        )

    def action_cancel(self) -> None:
        if self.dreaming and not self._cancel.is_set():
            self._cancel.set()
            self.status.say("cancelling after this step…", "italic")

    def action_save(self) -> None:
        if self.result is None:
            self.notify("nothing to save yet: press d to dream first", severity="warning")
            return
        self._save(self.result)

    def action_open(self) -> None:
        if self.dreaming:
            return
        value = "" if self.image.source == SAMPLE_SOURCE else self.image.source
        prompt = PathPrompt("Open an image (a path, or 'sample')", value, load_input)
        self.push_screen(prompt, self._opened)

    def _opened(self, loaded: LoadedImage | None) -> None:
        if loaded is None:
            return
        self.image = loaded  # watch_image shows it
        self.result = None
        self.status.set_fraction(0.0)
        self.status.say(f"opened {image_name(loaded)} · press d to dream")

    def action_recipe(self) -> None:
        value = self.last_saved or str(default_output_path(self.image.source))
        prompt = PathPrompt("Load the recipe of a kdream image", value, load_recipe_file)
        self.push_screen(prompt, self._apply_recipe)

    def _apply_recipe(self, loaded: tuple[str, dict, DreamConfig] | None) -> None:
        if loaded is None:
            return
        path, recipe, config = loaded
        self.base_config = config
        self.selection.load(dict(config.layers))
        self.layers.layer_list.refresh_rows()
        self.params.set_texts(panel_values(config))
        weights = selectable_weights(recipe)
        if weights is not None:
            self.params.set_weights(weights)
        self.revalidate()
        extra = f" (+{len(config.channels)} channel terms, not shown)" if config.channels else ""
        self.notify(f"recipe loaded from {path}{extra}", title="recipe")
        other_precision = recipe_parts.precision_of(recipe)
        mine = resolve_precision(self.holder.precision)  # "auto" before the first build
        if isinstance(other_precision, str) and other_precision != mine:
            self.notify(
                f"the recipe was dreamed in {other_precision}, this session computes in "
                f"{mine}; restart with --precision {other_precision} to match it",
                title="recipe", severity="warning", timeout=10,
            )  # fmt: skip
        other_model = self.holder.other_model(recipe)
        if other_model:
            self.notify(
                f"the recipe was dreamed with {other_model}; restart with --model to match it",
                title="recipe", severity="warning", timeout=10,
            )  # fmt: skip

    async def action_quit(self) -> None:
        self._cancel.set()  # a running dream stops after its current step
        self.exit(0)


def run_app(
    input_path: str | None = None,
    output: str | None = None,
    weights: str = "auto",
    model: str | None = None,
    input_range: tuple[float, float] | None = None,
    precision: str = "float32",
) -> int:
    """Start the TUI; returns the process exit code (2 for a bad input, output or model)."""
    try:
        choice = preview_choice()  # a bad KDREAM_PREVIEW is a bad input too
        if model is not None or input_range is not None:
            model = _checked_model(model, input_range)
        app = KdreamApp(
            input_path, output, weights, model=model, input_range=input_range, precision=precision
        )
        if output:
            choose_output_path(output, app.image.source)
    except (ImageInputError, OutputPathError, ValueError) as error:
        print(f"kdream: error: {error}", file=sys.stderr)
        return 2
    # Asked last: once Textual runs, its input thread would swallow the terminal's answers.
    app.graphics = terminal_graphics(choice)
    return asyncio.run(_run(app))


def _checked_model(model, input_range):
    """An unknown name, an unsafe or unreadable file: refused before the app starts, like a
    bad input (ModelError is a ValueError). Imports Keras, as a model needs it anyway."""
    from kdream.models.factory import model_spec

    return model_spec(model, input_range)


async def _run(app: KdreamApp) -> int:
    await app.run_async()
    # Threads cannot be killed: say what the exit still waits for (at most one dream
    # step, or the model build) instead of looking hung.
    if app.busy:
        print(f"kdream: waiting for {' and '.join(app.busy)}…", file=sys.stderr)
    return app.return_code or 0
