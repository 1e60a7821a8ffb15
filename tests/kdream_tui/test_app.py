"""The terminal UI: form logic, then the app driven through Textual's pilot.

Pilot tests run inside ``asyncio.run`` (no pytest-asyncio needed). They share the
session's random-weights Dreamer (deterministic, identical on every backend) and dream
96x96 images with one octave of two steps, so they stay fast on a small CPU.
"""

from __future__ import annotations

import asyncio
import inspect
import pathlib
import sys
import time

import numpy as np
import pytest

pytest.importorskip("textual")
pytest.importorskip("rich_pixels")

from PIL import Image  # noqa: E402
from textual.app import App  # noqa: E402
from textual.geometry import Region  # noqa: E402
from textual.widgets import Footer  # noqa: E402
from textual.widgets._toast import Toast  # noqa: E402

from kdream.cli.main import main  # noqa: E402
from kdream.config import DreamConfig  # noqa: E402
from kdream.io.images.metadata import read_recipe
from kdream.io.images.saving import save_image  # noqa: E402
from kdream.recipe import dream_config
from kdream_tui import graphics  # noqa: E402
from kdream_tui.app import KdreamApp, run_app  # noqa: E402
from kdream_tui.form import (  # noqa: E402
    LayerSelection,
    check_fields,
    check_layers,
    parse_value,
)
from kdream_tui.messages import DreamFinished, DreamStep  # noqa: E402
from kdream_tui.results import StepInfo  # noqa: E402
from kdream_tui.saving import choose_output_path  # noqa: E402
from kdream_tui.widgets import (  # noqa: E402
    HalfBlocks,
    ImagePreview,
    LayerList,
    ParamRow,
    fit_size,
    format_seconds,
)
from kdream_tui.workers import ProgressReporter  # noqa: E402

TINY_STEPS = {"octaves": "1", "steps": "2"}
"""Field texts that make a dream of a tiny image take a fraction of a second."""


# --------------------------------------------------------------------------- helpers


def tiny_image(size: int = 96) -> np.ndarray:
    """A deterministic colourful test card (gradients + a square)."""
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    rgb = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 255 - ramp[None, :]), -1)
    rgb = rgb.astype(np.uint8)
    rgb[size // 3 : 2 * size // 3, size // 3 : 2 * size // 3] = (250, 240, 20)
    return rgb


@pytest.fixture
def tiny_png(tmp_path) -> pathlib.Path:
    path = tmp_path / "tiny.png"
    save_image(path, tiny_image())
    return path


def run(coroutine):
    """Run a pilot scenario to the end (the tests are plain sync functions)."""
    return asyncio.run(coroutine)


async def wait_for(pilot, condition, timeout: float = 120.0) -> None:
    """Let the app work until ``condition()`` holds (worker messages need the loop)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; status: {pilot.app.status.text!r}")
        await pilot.pause(0.05)


async def ready(pilot) -> None:
    """Wait until the layers are listed and the (shared) model is announced."""
    await wait_for(pilot, lambda: pilot.app.model_ready)
    await pilot.pause()


async def finish_workers(pilot) -> None:
    """Wait for every worker, then let the app handle the messages they posted."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def type_into(pilot, name: str, text: str) -> None:
    """Replace a parameter field's text by typing, as a person would."""
    field = pilot.app.params.query_one(f"#param-{name}", ParamRow).field
    field.focus()
    await pilot.pause()
    field.value = ""
    await pilot.press(*text)
    await pilot.pause()


async def move_to_layer(pilot, name: str) -> None:
    """Move the layer cursor to ``name`` with the arrow keys."""
    layer_list = pilot.app.query_one(LayerList)
    layer_list.focus()
    target = pilot.app.selection.names.index(name)
    key = "down" if target > layer_list.cursor else "up"
    await pilot.press(*[key] * abs(target - layer_list.cursor))
    assert layer_list.current == name


def record_notifications(app) -> list[tuple[str, str]]:
    """Keep (severity, message) of every notification the app shows."""
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message, *args, severity="information", **kwargs):
        seen.append((severity, str(message)))
        return original(message, *args, severity=severity, **kwargs)

    app.notify = notify
    return seen


def footer_keys(app) -> dict[str, bool]:
    """The keys the footer draws, each with whether it is lit (False: dimmed)."""
    keys = app.query_one(Footer).query("FooterKey")
    return {key.key: not key.has_class("-disabled") for key in keys}


async def footer_shows(pilot, lit: str, dimmed: str) -> None:
    """Wait for the footer to redraw with the keys in ``lit`` lit and those in ``dimmed``
    dimmed, as the app's check_action has them now."""
    app = pilot.app
    wanted = {**dict.fromkeys(lit, True), **dict.fromkeys(dimmed, False)}
    assert {key: bool(app.check_action(action, ())) for key, action in ACTIONS.items()} == wanted
    deadline = time.monotonic() + 10
    while footer_keys(app) != wanted and time.monotonic() < deadline:
        await pilot.pause(0.05)
    assert footer_keys(app) == wanted


def half_block_picture(widget: HalfBlocks) -> np.ndarray:
    """The (2 * rows, columns, 3) picture the widget's cells draw: a ``▄`` cell shows its
    background colour above its foreground colour; the blank cells around are left out."""
    pixels = []
    for strip in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)):
        cells = [segment.style for segment in strip for _ in segment.text if segment.text == "▄"]
        if cells:
            pixels.append([tuple(style.bgcolor.triplet) for style in cells])
            pixels.append([tuple(style.color.triplet) for style in cells])
    return np.array(pixels, np.uint8)


def box_fitted(rgb: np.ndarray, box_wh: tuple[int, int]) -> np.ndarray:
    """``rgb`` box-filtered to the largest size with its aspect inside ``box_wh`` pixels."""
    size = fit_size((rgb.shape[1], rgb.shape[0]), box_wh)
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))


class PreviewApp(App):
    """The preview panel alone, styled as in the app: no model needed."""

    CSS_PATH = pathlib.Path(inspect.getfile(KdreamApp)).with_name(KdreamApp.CSS_PATH)

    def __init__(self, drawing: str) -> None:
        super().__init__()
        self.drawing = drawing

    def compose(self):
        yield ImagePreview(self.drawing, id="preview")


ACTIONS = {"d": "dream", "c": "cancel", "s": "save", "o": "open"}
ACTIONS.update({"r": "recipe", "g": "guide", "v": "visualise", "q": "quit"})


def config_error(**fields) -> str:
    """DreamConfig's own message for bad ``fields`` (what the panel must show)."""
    with pytest.raises(ValueError) as caught:
        DreamConfig(**fields)
    return str(caught.value)


# --------------------------------------------------------------------------- form logic


def test_parse_value_prefers_int_then_float_then_text():
    assert parse_value("12") == 12 and isinstance(parse_value("12"), int)
    assert parse_value(" 0.5 ") == 0.5
    assert parse_value("2e-3") == 0.002
    assert parse_value("four") == "four"


def test_check_fields_reports_dreamconfig_messages_per_field():
    values, errors = check_fields(
        DreamConfig(), {"octaves": "0", "steps": "3", "step_size": "x", "seed": "1.5"}
    )
    assert values == {"steps": 3}
    assert errors["octaves"] == config_error(octaves=0)
    assert errors["step_size"] == config_error(step_size="x")
    assert errors["seed"] == config_error(seed=1.5)
    assert set(errors) == {"octaves", "step_size", "seed"}


def test_check_layers_requires_one_layer():
    assert check_layers(DreamConfig(), {"mixed4": 1.0}) is None
    assert check_layers(DreamConfig(), {}) == config_error(layers={})


def test_layer_selection_keeps_weights_of_disabled_layers_and_skips_zero():
    selection = LayerSelection(["mixed0", "mixed1"], {"mixed1": 0.25})
    selection.nudge("mixed1", -1)  # 0.25 -> 0 would do nothing: goes to -0.25
    assert selection.chosen() == {"mixed1": -0.25}
    selection.toggle("mixed1")
    assert selection.chosen() == {}
    selection.toggle("mixed1")
    assert selection.chosen() == {"mixed1": -0.25}


def test_layer_selection_keeps_extra_recipe_layers_after_the_catalogue():
    selection = LayerSelection((), {"conv2d_5": 2.0, "mixed4": 1.0})
    selection.set_catalogue(["mixed3", "mixed4"])
    assert selection.names == ["mixed3", "mixed4", "conv2d_5"]
    assert selection.chosen() == {"mixed4": 1.0, "conv2d_5": 2.0}


def test_recipe_config_rejects_recipes_without_a_usable_config():
    assert dream_config({"config": DreamConfig(steps=3).to_dict()}) == DreamConfig(steps=3)
    with pytest.raises(ValueError, match="no 'config'"):
        dream_config({"weights": {}})
    with pytest.raises(ValueError, match="octaves"):
        dream_config({"config": {"octaves": 0}})


def test_output_path_never_overwrites(tmp_path):
    source = tmp_path / "photo.png"
    save_image(source, tiny_image(8))
    wanted = tmp_path / "photo_dream.png"
    assert choose_output_path(str(wanted), str(source)) == wanted
    wanted.write_bytes(b"taken")
    assert choose_output_path(str(wanted), str(source)) == tmp_path / "photo_dream-2.png"
    with pytest.raises(ValueError, match="input"):
        choose_output_path(str(source), str(source))
    with pytest.raises(ValueError, match="extension"):
        choose_output_path(str(tmp_path / "out.txt"), str(source))


def test_preview_fit_and_eta_format():
    assert fit_size((600, 400), (30, 40)) == (30, 20)
    assert fit_size((100, 400), (30, 40)) == (10, 40)
    assert fit_size((7, 7), (5, 3))[1] % 2 == 0
    assert format_seconds(59.6) == "1:00"


def test_progress_reporter_sends_at_most_one_preview_per_interval():
    class FakeProgress:
        octave, octaves, step, steps, loss, fraction, eta = 1, 1, 1, 3, 0.5, 0.3, 2.0
        copies = 0

        def image(self):
            FakeProgress.copies += 1
            return np.zeros((4, 4, 3), np.uint8)

    posted = []
    reporter = ProgressReporter(posted.append, interval=3600)
    for _ in range(3):
        reporter(FakeProgress())
    assert [message.image is not None for message in posted] == [True, False, False]
    assert FakeProgress.copies == 1  # no device copy for the throttled steps
    assert posted[-1].info.loss == 0.5


def test_run_app_reports_a_bad_input_without_starting(tmp_path, capsys):
    assert run_app(str(tmp_path / "missing.png"), weights="random") == 2
    assert "missing.png" in capsys.readouterr().err


def test_run_app_refuses_the_input_as_output(tiny_png, capsys):
    assert run_app(str(tiny_png), output=str(tiny_png), weights="random") == 2
    assert "input" in capsys.readouterr().err


# --------------------------------------------------------------------------- the app


def test_layer_keys_change_the_config(dreamer, tiny_png):
    async def scenario():
        app = KdreamApp(str(tiny_png), weights="random", dreamer=dreamer)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            expected = dict(DreamConfig().layers)
            assert app.current_config().layers == DreamConfig().layers
            assert app.query_one(LayerList).channels["mixed4"] == 768

            first = next(iter(expected))  # switch a default layer off...
            await move_to_layer(pilot, first)
            await pilot.press("space")
            del expected[first]
            # ...and another one on, two weight steps up
            extra = next(name for name in ("mixed4", "mixed6", "mixed2") if name not in expected)
            await move_to_layer(pilot, extra)
            await pilot.press("space", "plus", "plus")
            expected[extra] = 1.5
            following = app.selection.names[app.selection.names.index(extra) + 1]
            before = app.selection.weights[following]
            await pilot.press("down", "minus")  # a weight key also switches a layer on
            expected[following] = before - 0.25
            await pilot.pause()

            assert dict(app.current_config().layers) == expected
            assert "-invalid" not in app.layers.classes

            row = 2  # the mouse works too: a click toggles the row under it
            name = app.selection.names[row]
            was_on = name in app.selection.chosen()
            await pilot.click(LayerList, offset=(5, row))
            await pilot.pause()
            assert (name in app.current_config().layer_names) is not was_on

    run(scenario())


def test_bad_values_are_marked_and_explained(dreamer, tiny_png):
    async def scenario():
        app = KdreamApp(str(tiny_png), weights="random", dreamer=dreamer)
        async with app.run_test(size=(100, 30)) as pilot:
            notes = record_notifications(app)
            await ready(pilot)
            await type_into(pilot, "octaves", "99")
            await type_into(pilot, "step_size", "big")
            octaves = app.params.query_one("#param-octaves", ParamRow)
            step_size = app.params.query_one("#param-step_size", ParamRow)
            assert "-invalid" in octaves.classes and "-invalid" in step_size.classes
            shown = str(octaves.query_one(".param-error").render())
            assert shown == config_error(octaves=99)
            assert str(step_size.query_one(".param-error").render()) == config_error(
                step_size="big"
            )

            app.query_one(LayerList).focus()
            await pilot.press("d")  # refused, explained, no crash
            await pilot.pause()
            assert not app.dreaming and app.dream_worker is None
            assert any(sev == "error" and "octaves" in text for sev, text in notes)

            await type_into(pilot, "octaves", "2")
            assert "-invalid" not in octaves.classes
            assert "-invalid" in step_size.classes

            for name in list(app.selection.chosen()):  # no layer at all is also marked
                await move_to_layer(pilot, name)
                await pilot.press("space")
            await pilot.pause()
            assert "-invalid" in app.layers.classes
            with pytest.raises(ValueError, match="layers"):
                app.current_config()

    run(scenario())


def test_dream_then_save_embeds_the_panel_recipe(dreamer, tiny_png, tmp_path):
    output = tmp_path / "out.png"

    async def scenario():
        app = KdreamApp(str(tiny_png), output=str(output), weights="random", dreamer=dreamer)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            for name, text in {**TINY_STEPS, "seed": "7", "step_size": "0.02"}.items():
                await type_into(pilot, name, text)
            app.query_one(LayerList).focus()
            config = app.current_config()

            await pilot.press("d")
            await finish_workers(pilot)
            assert app.dream_worker.result == "done"
            assert app.result is not None and app.result.rgb.shape == (96, 96, 3)
            assert "done" in app.status.text
            assert app.preview.border_title == "dream"
            # The preview is the dream's picture, box-filtered into the panel's cells.
            assert np.array_equal(app.preview.picture, app.result.rgb)
            cells = app.preview.query_one(HalfBlocks)
            drawn = half_block_picture(cells)
            box = (cells.content_size.width, 2 * cells.content_size.height)
            assert drawn.shape[1] <= box[0] and drawn.shape[0] <= box[1]
            assert np.array_equal(drawn, box_fitted(app.result.rgb, box))

            await pilot.press("s")
            await finish_workers(pilot)
            await pilot.press("s")  # a second save never overwrites the first
            await finish_workers(pilot)
            return config, app.last_saved

    config, last_saved = run(scenario())
    assert output.is_file()
    assert last_saved == str(tmp_path / "out-2.png")
    recipe = read_recipe(output)
    assert recipe["config"] == config.to_dict()
    assert (recipe["config"]["octaves"], recipe["config"]["steps"]) == (1, 2)
    assert (recipe["config"]["seed"], recipe["config"]["step_size"]) == (7, 0.02)
    assert recipe["weights"]["source"] == "random"
    # The input is named as `kdream dream` names it, so the command line's replay of the
    # TUI's dream is the very same file.
    assert recipe["input"] == {"height": 96, "width": 96, "source": "tiny.png"}
    assert recipe["max_side"] is None
    replay = tmp_path / "replay.png"
    command = ["dream", str(tiny_png), "--recipe", str(output), "-o", str(replay), "--quiet"]
    assert main(command) == 0
    assert replay.read_bytes() == output.read_bytes()


def test_cancel_stops_the_dream_and_saves_nothing(dreamer, tiny_png, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the default output name would land

    async def scenario():
        app = KdreamApp(str(tiny_png), weights="random", dreamer=dreamer)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await type_into(pilot, "octaves", "1")
            await type_into(pilot, "steps", "5000")  # minutes: only a cancel ends it soon
            app.query_one(LayerList).focus()
            await pilot.press("d")
            await wait_for(pilot, lambda: app.status.text.startswith("octave"))
            assert app.dreaming
            await pilot.press("c")
            await finish_workers(pilot)
            assert app.dream_worker.result == "cancelled"
            assert not app.dreaming and app.result is None
            assert "cancelled" in app.status.text
            assert "cancelled" in app.preview.border_title
            await pilot.press("s")
            await finish_workers(pilot)

    run(scenario())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tiny.png"]


def test_the_footer_follows_the_dream_without_focus_changes(dreamer, tiny_png):
    """Starting, cancelling and finishing a dream light and dim keys by themselves (the
    reactive state refreshes the bindings; no focus change does it for them)."""

    async def scenario():
        app = KdreamApp(str(tiny_png), weights="random", dreamer=dreamer)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await type_into(pilot, "octaves", "1")
            await type_into(pilot, "steps", "5000")  # runs until cancelled
            app.query_one(LayerList).focus()
            await footer_shows(pilot, lit="dorgvq", dimmed="cs")
            await pilot.press("d")
            await wait_for(pilot, lambda: app.status.text.startswith("octave"))
            await footer_shows(pilot, lit="dcrq", dimmed="sogv")
            await pilot.press("c")
            await finish_workers(pilot)
            await footer_shows(pilot, lit="dorgvq", dimmed="cs")  # nothing to save
            await type_into(pilot, "steps", "2")
            app.query_one(LayerList).focus()
            await pilot.press("d")
            await finish_workers(pilot)
            assert app.dream_worker.result == "done"
            await footer_shows(pilot, lit="dsorgvq", dimmed="c")

    run(scenario())


def test_a_queued_dream_step_gives_way_to_a_newer_one(dreamer, monkeypatch):
    """A UI that lags behind a dream handles only the newest of the steps waiting in its
    queue (DreamStep.can_replace), but never drops a preview for a step without one; an
    outcome never gives way."""
    handled = []
    on_dream_step = KdreamApp.on_dream_step

    def recording(app, message: DreamStep) -> None:
        handled.append(message.info.step)
        on_dream_step(app, message)

    monkeypatch.setattr(KdreamApp, "on_dream_step", recording)

    def step(number: int, image=None) -> DreamStep:
        return DreamStep(StepInfo(1, 1, number, 9, 0.5, number / 9, 1.0), image)

    picture = np.zeros((4, 4, 3), np.uint8)
    assert not step(1).can_replace(DreamFinished()) and not step(1, picture).can_replace(step(2))
    assert not DreamFinished().can_replace(DreamFinished(cancelled=True))

    async def scenario():
        app = KdreamApp(weights="random", dreamer=dreamer)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            for message in (step(1), step(2), step(3, picture), step(4), step(5)):
                app.post_message(message)  # all queued before the app handles one
            await wait_for(pilot, lambda: 5 in handled)
            await pilot.pause()

    run(scenario())
    assert handled == [3, 5]


def test_bad_weights_are_marked_and_a_failed_dream_is_notified(dreamer, tiny_png, tmp_path):
    missing = str(tmp_path / "missing.weights.h5")

    async def scenario():
        app = KdreamApp(str(tiny_png), weights="random", dreamer=dreamer)
        async with app.run_test(size=(100, 30)) as pilot:
            notes = record_notifications(app)
            await ready(pilot)
            app.params.set_weights(missing)  # as if passed with --weights
            weights_row = app.params.query_one("#param-weights", ParamRow)
            await wait_for(pilot, lambda: "-invalid" in weights_row.classes)
            assert "missing.weights.h5" in str(weights_row.query_one(".param-error").render())
            assert not app.model_ready

            app.query_one(LayerList).focus()
            await pilot.press("d")
            await finish_workers(pilot)
            assert app.dream_worker.result == "failed"
            assert app.status.text.startswith("dream failed")
            assert any(sev == "error" and "missing.weights.h5" in text for sev, text in notes)

            app.params.set_weights("random")  # back to a usable source: all good again
            await wait_for(pilot, lambda: app.model_ready)
            await pilot.pause()
            assert "-invalid" not in weights_row.classes
            assert app.holder.get("random") is dreamer  # the model was never rebuilt

    run(scenario())


def test_recipe_key_loads_layers_and_parameters(dreamer, tiny_png, tmp_path):
    wanted = DreamConfig(
        layers={"mixed1": 0.5, "mixed6": -1.0},
        octaves=2,
        octave_mode="rescale",
        steps=3,
        seed=9,
        smoothing=0.5,
        jitter=8,
    )
    dreamed = tmp_path / "before_dream.png"
    save_image(dreamed, tiny_image(), recipe=dreamer.recipe(wanted, (96, 96)))

    async def scenario():
        app = KdreamApp(str(tiny_png), weights="random", dreamer=dreamer)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press("r")
            await pilot.pause()
            prompt_input = app.screen.query_one("#prompt-input")
            prompt_input.value = str(tiny_png)  # no recipe in it: the prompt says so
            await pilot.press("enter")
            await pilot.pause()
            assert "no kdream recipe" in str(app.screen.query_one("#prompt-error").render())

            prompt_input.value = str(dreamed)
            await pilot.press("enter")
            await pilot.pause()
            await pilot.pause()
            assert app.current_config() == wanted  # jitter too: kept though not shown
            assert app.params.texts()["octave_mode"] == "rescale"
            assert app.params.texts()["steps"] == "3"
            assert app.selection.chosen() == {"mixed1": 0.5, "mixed6": -1.0}

    run(scenario())


def test_open_key_switches_the_input(dreamer, tiny_png, tmp_path):
    other = tmp_path / "other.png"
    save_image(other, tiny_image(120)[:, :100])

    async def scenario():
        app = KdreamApp(str(tiny_png), weights="random", dreamer=dreamer)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press("o")
            await pilot.pause()
            app.screen.query_one("#prompt-input").value = str(tmp_path / "nope.png")
            await pilot.press("enter")
            await pilot.pause()
            assert "nope.png" in str(app.screen.query_one("#prompt-error").render())
            app.screen.query_one("#prompt-input").value = str(other)
            await pilot.press("enter")
            await pilot.pause()
            assert app.image.source == str(other)
            assert app.image.rgb.shape == (120, 100, 3)
            assert app.preview.border_title == "input 100×120"

    run(scenario())


def test_main_screen_snapshot(snap_compare, dreamer):
    """The sample photo, model loaded, at 80x24. The backend name is masked: it is the
    only thing that differs between TensorFlow, JAX and PyTorch."""
    app = KdreamApp(weights="random", dreamer=dreamer)

    async def settle(pilot):
        await ready(pilot)
        app.params.show_backend("(backend)")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_a_recipe_of_another_model_is_told_apart(dreamer):
    from kdream_tui.holder import ModelHolder

    holder = ModelHolder("random", dreamer)
    assert holder.other_model({"model": {"name": "vgg16"}}) == "vgg16"
    assert holder.other_model({"model": {"name": "inceptionv3"}}) is None
    assert holder.other_model({}) is None  # recipes from before models were recorded
    own = {"model": {"file": "mine.keras", "sha256": "ab" * 32}}
    assert holder.other_model(own) == "mine.keras"


def test_another_model_lists_its_own_layers_one_row_each(tiny_png):
    from kdream.network.zoo import FAMILIES

    family = FAMILIES["vgg16"]

    async def scenario():
        app = KdreamApp(str(tiny_png), weights="random", model="vgg16")
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            layer_list = app.query_one(LayerList)
            assert app.selection.names == list(family.layers)
            assert app.selection.chosen() == family.default_layers
            assert app.current_config().layers == tuple(family.default_layers.items())
            longest = max(map(len, family.layers))
            assert layer_list.size.width >= layer_list.OTHER_CELLS + longest
            assert layer_list.size.height == len(family.layers)  # no row wraps

    run(scenario())


def test_run_app_refuses_an_unknown_model_before_starting(tiny_png, capsys):
    assert run_app(str(tiny_png), weights="random", model="nosuchnet") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "unknown model 'nosuchnet'" in error[0]


def test_a_long_catalogue_scrolls_with_the_cursor(tiny_png, dreamer):
    """A catalogue taller than the panel (InceptionV3's 11 layers in an 80x18 terminal, an
    own model's dozens in any): the list scrolls so the cursor's row is always on screen,
    and scrolls back when the cursor wraps to the top."""

    async def scenario():
        app = KdreamApp(str(tiny_png), weights="random", dreamer=dreamer)
        async with app.run_test(size=(80, 18)) as pilot:
            await ready(pilot)
            layer_list = app.query_one(LayerList)
            scroller = app.query_one("#layer-scroll")
            rows = len(app.selection.names)
            assert scroller.size.height < rows  # the premise: it does not fit
            assert scroller.scroll_offset.y == 0
            await move_to_layer(pilot, app.selection.names[-1])
            await pilot.pause()
            top = scroller.scroll_offset.y
            assert top > 0 and top <= rows - 1 < top + scroller.size.height
            await pilot.press("down")  # wraps to the first layer
            await pilot.pause()
            assert layer_list.current == app.selection.names[0]
            assert scroller.scroll_offset.y == 0

    run(scenario())


def test_precision_reaches_the_dream_and_its_recipe(tiny_png):
    """``kdream tui --precision bfloat16`` builds the network in bfloat16, the saved recipe
    says so, and loading a float32 recipe warns that the session computes otherwise."""

    async def scenario():
        app = KdreamApp(str(tiny_png), weights="random", precision="bfloat16")
        notes = record_notifications(app)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            for name, text in TINY_STEPS.items():
                await type_into(pilot, name, text)
            app.query_one(LayerList).focus()
            await pilot.press("d")
            await finish_workers(pilot)
            assert app.dream_worker.result == "done"
            app._apply_recipe(("x.png", {"precision": "float32"}, DreamConfig()))
            await pilot.pause()
            return app.holder.get("random"), app.result.recipe, notes

    dreamer, recipe, notes = run(scenario())
    assert dreamer.precision == "bfloat16" and dreamer.model.dtype_policy.name == "mixed_bfloat16"
    assert recipe["precision"] == "bfloat16"
    assert any("dreamed in float32" in message for _, message in notes)


def test_visualise_mode_grows_a_channel_from_noise_and_saves_its_recipe(dreamer, tmp_path):
    """``v`` asks for a channel (prefilled with the highlighted layer), refuses bad text in
    the prompt, shows the picture growing, and ``s`` writes a PNG whose recipe replays
    through the API to the same pixels."""
    from kdream.techniques.visualize.render import (
        Visualizer,
        VisualizeSettings,
        settings_from_recipe,
    )

    small = VisualizeSettings(size=96, steps=3)

    async def scenario():
        app = KdreamApp(weights="random", dreamer=dreamer, visualize_settings=small)
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await ready(pilot)
            await move_to_layer(pilot, "mixed2")
            await type_into(pilot, "seed", "5")
            app.query_one(LayerList).focus()
            await pilot.press("v")
            await pilot.pause()
            field = app.screen.query_one("#prompt-input")
            assert field.value == "mixed2:0"
            field.value = "mixed2:"  # no channel: the prompt says why and stays open
            await pilot.press("enter")
            await pilot.pause()
            assert str(app.screen.query_one("#prompt-error").render()).strip()
            app.screen.query_one("#prompt-input").value = "mixed2:7"
            await pilot.press("enter")
            await finish_workers(pilot)
            assert app.dream_worker.result == "done"
            assert app.preview.border_title == "visualisation"
            assert app.result.default_name == "visualize_mixed2_7.png"
            shown = app.result.rgb.copy()
            line = app._progress_line(StepInfo(1, 1, 2, 3, 0.5, 0.7, 1.0))
            assert "mixed2:7" in line and "step 2/3" in line and "octave" not in line
            await pilot.press("s")
            await finish_workers(pilot)
            await pilot.pause()
            toasts = list(app.screen.query(Toast))
            assert toasts, "saving shows a notification"
            assert all(toast.region.bottom <= app.status.region.y for toast in toasts)
            return shown, app.last_saved

    import os

    previous = os.getcwd()
    os.chdir(tmp_path)  # the default name is relative to the working directory
    try:
        shown, saved = run(scenario())
    finally:
        os.chdir(previous)
    assert saved == str(pathlib.Path("visualize_mixed2_7.png"))
    saved_path = tmp_path / saved
    objective, settings = settings_from_recipe(read_recipe(saved_path))
    assert (settings.size, settings.steps, settings.seed) == (96, 3, 5)
    again = Visualizer(dreamer=dreamer).render(objective, settings)
    assert shown.shape == (96, 96, 3)
    np.testing.assert_array_equal(again[0], shown)
    # The command line draws the same picture for the same channel and settings.
    cli = tmp_path / "cli.png"
    command = ["visualize", "--layer", "mixed2", "--channel", "7", "--size", "96", "--steps", "3",
               "--seed", "5", "--weights", "random", "--quiet", "-o", str(cli),
               "--precision", dreamer.precision]  # the TUI's (a fixture's) precision  # fmt: skip
    assert main(command) == 0
    with Image.open(cli) as from_cli, Image.open(saved_path) as from_tui:
        np.testing.assert_array_equal(np.asarray(from_cli), np.asarray(from_tui))
    # And the command line's replay of the TUI's picture is the very same file.
    replay = tmp_path / "replay.png"
    assert main(["visualize", "--recipe", str(saved_path), "--weights", "random", "--quiet",
                 "-o", str(replay)]) == 0  # fmt: skip
    assert replay.read_bytes() == saved_path.read_bytes()


def test_visualise_mode_works_on_a_gray_model(tmp_path, monkeypatch):
    """A 1-channel own model: ``v`` grows a gray picture, the preview shows it and ``s``
    writes an L-mode PNG."""
    import keras
    from PIL import Image

    from kdream.ascent.dreamer import Dreamer
    from kdream.techniques.visualize.render import VisualizeSettings

    inputs = keras.Input((None, None, 1))
    hidden = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    outputs = keras.layers.Conv2D(6, 3, activation="relu", name="conv2")(hidden)
    path = tmp_path / "gray.keras"
    keras.Model(inputs, outputs).save(path)
    gray = Dreamer(model=str(path))

    async def scenario():
        app = KdreamApp(dreamer=gray, visualize_settings=VisualizeSettings(size=48, steps=3))
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            app.query_one(LayerList).focus()
            await pilot.press("v")
            await pilot.pause()
            app.screen.query_one("#prompt-input").value = "conv2:4"
            await pilot.press("enter")
            await finish_workers(pilot)
            assert app.dream_worker.result == "done"
            assert app.preview.border_title == "visualisation"
            shown = app.result.rgb.copy()
            await pilot.press("s")
            await finish_workers(pilot)
            return shown, app.last_saved

    monkeypatch.chdir(tmp_path)  # the default name is relative to the working directory
    shown, saved = run(scenario())
    assert shown.shape == (48, 48) and shown.std() > 0
    with Image.open(tmp_path / saved) as picture:
        assert picture.mode == "L"
        np.testing.assert_array_equal(np.asarray(picture), shown)


def test_a_guide_picked_in_the_tui_guides_the_dream_and_its_recipe(dreamer, tiny_png, tmp_path):
    """``g`` picks a guide image: the title names it, the dream is guided (its recipe's
    objective is the guide's, with its sha256) and equals the API's guided dream; an empty
    field goes back to plain dreams."""
    from kdream.io.images.references import load_reference
    from kdream.objectives.guide import guided_objective
    from kdream.objectives.recipes import from_recipe
    from kdream.objectives.references import bind

    guide_path = tmp_path / "guide.png"
    save_image(guide_path, np.ascontiguousarray(tiny_image()[::-1, :, ::-1]))

    async def scenario():
        app = KdreamApp(str(tiny_png), weights="random", dreamer=dreamer)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            for name, text in TINY_STEPS.items():
                await type_into(pilot, name, text)
            app.query_one(LayerList).focus()
            await pilot.press("g")
            await pilot.pause()
            app.screen.query_one("#prompt-input").value = str(guide_path)
            await pilot.press("enter")
            await pilot.pause()
            assert "guide: guide.png" in app.sub_title
            config = app.current_config()
            await pilot.press("d")
            await finish_workers(pilot)
            assert app.dream_worker.result == "done"
            guided = app.result
            await pilot.press("g")
            await pilot.pause()
            app.screen.query_one("#prompt-input").value = ""
            await pilot.press("enter")
            await pilot.pause()
            return config, guided, app.guide, app.sub_title

    config, guided, guide_after, title_after = run(scenario())
    assert guide_after is None and "guide" not in title_after
    reference = load_reference(guide_path)
    (term,) = [t for t in guided.recipe["objective"] if t.get("kind") == "guide"][:1]
    assert term["guide"]["sha256"] == reference.sha256
    objective = bind(from_recipe(guided.recipe["objective"]), [reference])
    assert objective == guided_objective(reference, dreamer.config_for(config))
    again = dreamer.dream(tiny_image(), config, objective=objective)
    np.testing.assert_array_equal(again, guided.rgb)
    # Saved as the TUI saves it, the command line's replay is the very same file.
    saved, replay = tmp_path / "guided.png", tmp_path / "replay.png"
    save_image(saved, guided.rgb, guided.alpha, recipe=guided.recipe)
    command = ["dream", str(tiny_png), "--recipe", str(saved), "--guide", str(guide_path),
               "-o", str(replay), "--quiet"]  # fmt: skip
    assert main(command) == 0
    assert replay.read_bytes() == saved.read_bytes()


# --------------------------------------------------------------------------- the preview


def test_the_preview_protocol_follows_the_terminal(monkeypatch):
    """Sixel or kitty's protocol when textual-image found the terminal speaks it; kdream's
    half-blocks otherwise, when asked to, or when stdin/stdout are not a terminal."""
    from textual_image import renderable

    monkeypatch.setattr(graphics, "_on_a_terminal", lambda: True)
    detected = {
        renderable.SixelImage: "sixel",
        renderable.TGPImage: "tgp",
        renderable.HalfcellImage: "half-blocks",
        renderable.UnicodeImage: "half-blocks",  # textual-image's gray fallback: ours instead
    }
    for renderer, expected in detected.items():
        monkeypatch.setattr(renderable, "Image", renderer)
        assert graphics.terminal_graphics() == expected
        assert graphics.terminal_graphics("half-blocks") == "half-blocks"
        assert graphics.terminal_graphics("tgp") == "tgp"  # KDREAM_PREVIEW wins
    monkeypatch.setitem(sys.modules, "textual_image", None)  # not installed
    assert graphics.terminal_graphics() == "half-blocks"
    monkeypatch.setattr(graphics, "_on_a_terminal", lambda: False)
    assert graphics.terminal_graphics("sixel") == "half-blocks"


def test_run_app_refuses_a_bad_preview_setting(monkeypatch, capsys):
    monkeypatch.setenv("KDREAM_PREVIEW", "ascii")
    assert run_app(weights="random") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == ["kdream: error: KDREAM_PREVIEW='ascii': expected one of auto, sixel, tgp, "
                     "half-blocks"]  # fmt: skip


def test_terminal_pictures_fit_the_panel_and_follow_the_frames(monkeypatch):
    """With Sixel or kitty's protocol the panel holds textual-image's widget showing the
    picture, as large as fits (aspect kept); every new frame replaces the last, and kitty is
    told to delete each picture it no longer shows (none leak, not even at exit)."""
    from textual_image.renderable import tgp
    from textual_image.widget import SixelImage, TGPImage

    sent, deleted = [], []

    def send(**fields):
        if fields.get("a") == "d":
            deleted.append(fields["I"])
        elif "f" in fields and not fields.get("m"):  # the last chunk of a picture
            sent.append(fields["i"])

    monkeypatch.setattr(tgp, "_send_tgp_message", send)
    frames = [tiny_image(96)[:, :64], tiny_image(96)[::-1, :64]]  # 64 wide, 96 tall

    async def scenario(drawing: str):
        app = PreviewApp(drawing)
        async with app.run_test(size=(50, 20)) as pilot:
            preview = app.query_one(ImagePreview)
            for number, frame in enumerate(frames):
                preview.show(frame, f"frame {number}")
                await pilot.pause()
                await pilot.pause()
                picture = preview.query_one("#preview-picture")
                assert np.array_equal(np.asarray(picture.image), frame)
                assert np.array_equal(preview.picture, frame)
                inside = preview.content_region
                assert inside.contains_region(picture.region)
                assert picture.region.height == inside.height  # tall: fills the height
                cell_width, cell_height = 10, 20  # textual-image's size without a terminal
                width_px = picture.region.width * cell_width
                assert abs(width_px - inside.height * cell_height * 64 / 96) <= cell_width
            if drawing == "tgp":
                assert sent and set(sent) - set(deleted) == {sent[-1]}
            return type(picture)

    assert issubclass(run(scenario("sixel")), SixelImage)
    assert issubclass(run(scenario("tgp")), TGPImage)
    assert len(sent) >= 2 and sorted(sent) == sorted(deleted)


def test_live_frames_wait_while_the_last_one_is_drawn():
    """A dream's frame that comes before the last one had its share of drawing time is
    skipped (a slow Sixel encode must not freeze the keys); a final picture never is."""
    first, second, final = (tiny_image(32) // divisor for divisor in (1, 2, 3))

    async def scenario():
        app = PreviewApp("half-blocks")
        async with app.run_test(size=(50, 20)) as pilot:
            preview = app.query_one(ImagePreview)
            preview.show(first, "frame", live=True)
            await pilot.pause()
            shown_first = preview.picture.copy()
            preview._next_live = time.monotonic() + 60  # as after a one-minute drawing
            preview.show(second, "frame", live=True)
            skipped = preview.picture.copy()
            preview.show(final, "dream")
            await pilot.pause()
            return shown_first, skipped, preview.picture, preview.border_title

    shown_first, skipped, last, title = run(scenario())
    assert np.array_equal(shown_first, first)
    assert np.array_equal(skipped, first)
    assert np.array_equal(last, final) and title == "dream"
