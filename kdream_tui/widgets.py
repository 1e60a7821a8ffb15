"""The panels of the kdream TUI: layers, parameters, preview and the progress line.

Widgets hold and show state; the app decides what a change means (validation, dreams).
"""

from __future__ import annotations

import time

import numpy as np
from PIL import Image
from rich.align import Align
from rich.text import Text
from rich_pixels import Pixels
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Label, ProgressBar, Select, Static

from kdream.pixels import rgb_picture

from .form import MODE_FIELD, TEXT_FIELDS, LayerSelection, weights_choices
from .graphics import HALF_BLOCKS, SIXEL

# --------------------------------------------------------------------------- layers


class LayerList(Widget, can_focus=True):
    """One row per layer: on/off, channel count, weight. Keys move, toggle and weigh."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("space,enter", "toggle", "On/off", show=False),
        Binding("plus,equals_sign,right", "nudge(1)", "Weight +", show=False),
        Binding("minus,left", "nudge(-1)", "Weight -", show=False),
    ]

    cursor = reactive(0)

    class Changed(Message):
        """The set of enabled layers or a weight changed."""

    class Highlighted(Message):
        """The cursor moved to another layer."""

    NAME_CELLS = 7
    """Cells of the name column for InceptionV3's names (``mixed10``); longer catalogues
    widen the panel up to MAX_NAME_CELLS and cut longer names with an ellipsis."""
    MAX_NAME_CELLS = 26
    OTHER_CELLS = 16  # cursor, check box, channels, weight and the gaps between them

    def __init__(self, selection: LayerSelection, **kwargs) -> None:
        super().__init__(**kwargs)
        self.selection = selection
        self.channels: dict[str, int] = {}
        self.name_cells = self.NAME_CELLS

    def fit_names(self) -> int:
        """Size the name column to the longest row name; returns the row width in cells."""
        longest = max(map(len, self.selection.names), default=self.NAME_CELLS)
        self.name_cells = max(self.NAME_CELLS, min(longest, self.MAX_NAME_CELLS))
        return self.OTHER_CELLS + self.name_cells

    @property
    def current(self) -> str | None:
        """The layer under the cursor (None while the list is empty)."""
        names = self.selection.names
        return names[self.cursor] if names else None

    def refresh_rows(self) -> None:
        """Redraw after the selection, its rows or the channel counts changed."""
        self.cursor = min(self.cursor, max(len(self.selection.names) - 1, 0))
        self.refresh(layout=True)
        self.post_message(self.Highlighted())

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(len(self.selection.names), 1)

    def render(self) -> Text:
        if not self.selection.names:
            return Text("importing Keras…", style="italic")
        lines = Text(no_wrap=True, overflow="ellipsis")
        for index, name in enumerate(self.selection.names):
            if index:
                lines.append("\n")
            lines.append_text(self._row(index, name))
        return lines

    def _row(self, index: int, name: str) -> Text:
        on_ = name in self.selection.enabled
        channels = self.channels.get(name)
        cells = [
            ("▸" if index == self.cursor else " ", "bold"),
            ("[x] " if on_ else "[ ] ", "bold green" if on_ else "dim"),
            (f"{_cut(name, self.name_cells):<{self.name_cells}} ", "" if on_ else "dim"),
            (f"{channels if channels else '…':>4} ", "dim"),
            (f"{self.selection.weights[name]:>5.2f}", "bold" if on_ else "dim"),
        ]
        row = Text.assemble(*cells)
        if index == self.cursor and self.has_focus:
            row.stylize("reverse")
        return row

    def watch_cursor(self) -> None:
        self.post_message(self.Highlighted())
        self.call_after_refresh(self.scroll_cursor_into_view)

    def scroll_cursor_into_view(self) -> None:
        """Long catalogues (VGG's 18 rows, an own model's dozens) scroll with the cursor:
        the panel shows only what fits under the terminal's height."""
        container = self.parent
        if isinstance(container, VerticalScroll):
            container.scroll_to_region(
                Region(0, self.cursor, max(self.size.width, 1), 1), animate=False
            )

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def action_move(self, delta: int) -> None:
        if self.selection.names:
            self.cursor = (self.cursor + delta) % len(self.selection.names)
            self.refresh()

    def action_toggle(self) -> None:
        if self.current is not None:
            self.selection.toggle(self.current)
            self._changed()

    def action_nudge(self, direction: int) -> None:
        if self.current is not None:
            self.selection.nudge(self.current, direction)
            self._changed()

    def on_click(self, event: events.Click) -> None:
        """A click on a row moves there and toggles it (the mouse way to choose)."""
        offset = event.get_content_offset(self)
        if offset is not None and 0 <= offset.y < len(self.selection.names):
            self.cursor = offset.y
            self.action_toggle()

    def _changed(self) -> None:
        self.refresh()
        self.post_message(self.Changed())


def _cut(name: str, cells: int) -> str:
    """``name`` in at most ``cells`` cells: the start and the end (where the layer numbers
    are) around an ellipsis."""
    if len(name) <= cells:
        return name
    tail = cells // 2
    return f"{name[: cells - tail - 1]}…{name[-tail:]}"


class LayerPanel(Vertical):
    """The layer list plus a line about the highlighted layer (or what is wrong)."""

    def __init__(self, selection: LayerSelection, **kwargs) -> None:
        super().__init__(**kwargs)
        self.hints: dict[str, str] = {}
        self.error: str | None = None
        self._selection = selection

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="layer-scroll", can_focus=False):
            yield LayerList(self._selection, id="layer-list")
        yield Static(id="layer-hint")
        yield Static("space: on/off\n+/- or ←/→: weight", id="layer-keys")

    def on_mount(self) -> None:
        self.border_title = "Layers"

    @property
    def layer_list(self) -> LayerList:
        return self.query_one(LayerList)

    def set_catalogue(self, names, hints: dict[str, str]) -> None:
        """Show the catalogue rows (known once Keras is imported) and their hints."""
        self.hints = hints
        layer_list = self.layer_list
        current = layer_list.current
        self._selection.set_catalogue(names)
        if current in self._selection.names:  # keep the cursor on the layer it was on
            layer_list.cursor = self._selection.names.index(current)
        row_cells = layer_list.fit_names()
        if row_cells > layer_list.OTHER_CELLS + layer_list.NAME_CELLS:
            # padding, border and a scrollbar: rows stay one line
            self.styles.width = row_cells + 5
        layer_list.refresh_rows()

    def set_channels(self, channels: dict[str, int]) -> None:
        self.layer_list.channels = channels
        self.layer_list.refresh()

    def show_error(self, error: str | None) -> None:
        """Mark the layer choice invalid (e.g. none enabled) with DreamConfig's message."""
        self.error = error
        self.set_class(error is not None, "-invalid")
        self._update_hint()

    @on(LayerList.Highlighted)
    def _update_hint(self) -> None:
        hint = self.query_one("#layer-hint", Static)
        if self.error:
            hint.update(Text(self.error, style="bold red"))
            return
        name = self.layer_list.current
        text = self.hints.get(name, "") if name else ""
        hint.update(Text(f"{name}: {text}" if text else "", style="italic"))


# --------------------------------------------------------------------------- parameters


class ParamRow(Vertical):
    """A label, its field, and (only when the value is bad) the reason under it."""

    def __init__(self, name: str, label: str, field: Widget) -> None:
        super().__init__(id=f"param-{name}", classes="param-row")
        self.field_name = name
        self.field = field
        self._label = label

    def compose(self) -> ComposeResult:
        with Horizontal(classes="param-line"):
            yield Label(self._label, classes="param-label")
            yield self.field
        yield Static(classes="param-error")

    def show_error(self, error: str | None) -> None:
        self.set_class(error is not None, "-invalid")
        self.query_one(".param-error", Static).update(error or "")


class ParamPanel(VerticalScroll, can_focus=False):
    """Every dream parameter the CLI takes (as text fields or choices) plus the backend.

    Not focusable itself (Tab goes straight to the fields); the mouse wheel still scrolls.
    """

    # Letter keys type into a field, so the footer hides d/s/q there: show the way back.
    BINDINGS = [Binding("escape", "leave", "Back to d/s/q keys")]

    class Changed(Message):
        """A field changed: the app revalidates."""

    def __init__(self, texts: dict[str, str], weights: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._texts = texts
        self._weights = weights
        self._weight_choices = weights_choices(weights)

    def compose(self) -> ComposeResult:
        for spec in TEXT_FIELDS:
            field = Input(self._texts[spec.name], compact=True, select_on_focus=True)
            yield ParamRow(spec.name, spec.label, field)
            if spec.name == "octaves":  # the mode belongs with the octave settings
                yield self._choice(
                    MODE_FIELD.name,
                    MODE_FIELD.label,
                    MODE_FIELD.choices,
                    self._texts[MODE_FIELD.name],
                )
        yield self._choice("weights", "weights", self._weight_choices, self._weights)
        with Horizontal(classes="param-line"):
            yield Label("backend", classes="param-label")
            yield Static("…", id="backend-name")
        yield Static("set KERAS_BACKEND and restart to change", id="backend-note")

    @staticmethod
    def _choice(name: str, label: str, choices, value: str) -> ParamRow:
        select = Select(
            [(choice, choice) for choice in choices], value=value, allow_blank=False, compact=True
        )
        return ParamRow(name, label, select)

    def on_mount(self) -> None:
        self.border_title = "Parameters"

    def _field(self, name: str) -> Input | Select:
        return self.query_one(f"#param-{name}", ParamRow).field

    def texts(self) -> dict[str, str]:
        """Current text of every DreamConfig field in the panel (mode included)."""
        texts = {spec.name: self._field(spec.name).value for spec in TEXT_FIELDS}
        texts[MODE_FIELD.name] = self._field(MODE_FIELD.name).value
        return texts

    @property
    def weights(self) -> str:
        return self._field("weights").value

    def set_texts(self, texts: dict[str, str]) -> None:
        """Write values in (a loaded recipe); each write revalidates through Changed."""
        for name, text in texts.items():
            self._field(name).value = text

    def set_weights(self, weights: str) -> None:
        select = self._field("weights")
        if weights not in self._weight_choices:  # a path: offer it as one more choice
            self._weight_choices = (*self._weight_choices, weights)
            select.set_options([(choice, choice) for choice in self._weight_choices])
        select.value = weights

    def show_errors(self, errors: dict[str, str]) -> None:
        for row in self.query(ParamRow):
            row.show_error(errors.get(row.field_name))

    def show_backend(self, backend: str) -> None:
        self.query_one("#backend-name", Static).update(backend)

    @on(Input.Changed)
    @on(Select.Changed)
    def _field_changed(self, event: Message) -> None:
        event.stop()
        self.post_message(self.Changed())

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        """Enter accepts a value the way Tab does: on to the next field."""
        event.stop()
        self.screen.focus_next()

    def action_leave(self) -> None:
        """Escape hands the keyboard back to the layer list, where d/s/q work."""
        self.app.query_one(LayerList).focus()


# --------------------------------------------------------------------------- preview


def fit_size(image_wh: tuple[int, int], box_wh: tuple[int, int]) -> tuple[int, int]:
    """Largest (width, height) with the image's aspect inside the box; height even
    because one terminal cell shows two pixel rows.

    Example:
        >>> fit_size((600, 400), (30, 40))
        (30, 20)
    """
    width, height = image_wh
    box_width, box_height = box_wh
    scale = min(box_width / width, box_height / height)
    fitted_width = max(1, min(box_width, round(width * scale)))
    fitted_height = max(2, min(box_height, round(height * scale)) // 2 * 2)
    return fitted_width, fitted_height


class HalfBlocks(Widget):
    """An RGB picture drawn with half-block cells (two pixels a cell), fitted and centred.

    Works in every terminal. The downscale is a plain box filter (Pillow), so the same
    picture and size always give the same cells: snapshot tests rely on it.
    """

    DEFAULT_CSS = """
    HalfBlocks {
        width: 100%;
        height: 100%;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.picture: np.ndarray | None = None
        self._cache: tuple[tuple[int, int], Pixels] | None = None

    def set_picture(self, rgb: np.ndarray) -> None:
        self.picture = rgb
        self._cache = None
        self.refresh()

    def render(self):
        if self.picture is None:
            return Text("no image", style="dim")
        box = (self.content_size.width, self.content_size.height * 2)
        if min(box) < 2:
            return Text("")
        if self._cache is None or self._cache[0] != box:
            height, width = self.picture.shape[:2]
            size = fit_size((width, height), box)
            picture = Image.fromarray(self.picture).resize(size, Image.Resampling.BOX)
            self._cache = (box, Pixels.from_image(picture))
        return Align.center(self._cache[1], vertical="middle")


def terminal_picture(graphics: str) -> Widget:
    """textual-image's widget for ``graphics`` (sixel or tgp): the picture at the pixel
    size of the cells it covers, keeping its aspect inside the panel."""
    from textual_image.widget import SixelImage, TGPImage  # detected already (run_app)

    widget_class = SixelImage if graphics == SIXEL else TGPImage
    return widget_class(id="preview-picture")


class ImagePreview(Container):
    """The preview panel: its caption on the border, the picture drawn by ``graphics``
    (:mod:`kdream_tui.graphics`: sixel, tgp, or half-blocks)."""

    DRAW_SHARE = 3
    """A dream's frames come every 0.25 s; one that comes sooner than this many times what
    the last one took to draw is skipped, so keys stay responsive while frames are slow to
    draw: Sixel is encoded on the UI thread (0.5 s for a 1300x975 panel, seconds on a busy
    CPU), half-blocks of a 200x60 terminal take a few hundred milliseconds."""
    PROBE_S = 0.1
    """The drawing is timed by a timer set this long after a frame: it fires once the UI
    thread is free again (the screen update that draws the frame comes well before)."""

    def __init__(self, graphics: str = HALF_BLOCKS, **kwargs) -> None:
        super().__init__(**kwargs)
        self.graphics = graphics
        self.picture: np.ndarray | None = None
        """The uint8 RGB picture shown (the input, the dream's latest frame, its result)."""
        self._drawn: Widget | None = None
        self._shown_at = 0.0
        self._next_live = 0.0

    def compose(self) -> ComposeResult:
        drawn = HalfBlocks() if self.graphics == HALF_BLOCKS else terminal_picture(self.graphics)
        self._drawn = drawn
        yield drawn

    def show(self, rgb: np.ndarray, caption: str, live: bool = False) -> None:
        """Show a uint8 picture: RGB, or gray ((H, W) or (H, W, 1): a gray network's).
        ``live``: a frame of a running dream, skipped while the last one is still fresh."""
        now = time.monotonic()
        if live and now < self._next_live:
            return
        self.picture = rgb_picture(rgb, "preview")
        self.border_title = caption
        if isinstance(self._drawn, HalfBlocks):
            self._drawn.set_picture(self.picture)
        else:  # textual-image frees the terminal's copy of the picture it replaces
            self._drawn.image = Image.fromarray(self.picture)
        self._shown_at = now
        self.set_timer(self.PROBE_S, self._time_drawing)

    def _time_drawing(self) -> None:
        took = max(time.monotonic() - self._shown_at - self.PROBE_S, 0.0)
        self._next_live = self._shown_at + self.DRAW_SHARE * took

    def on_unmount(self) -> None:
        if not isinstance(self._drawn, HalfBlocks):
            self._drawn.image = None  # kitty keeps pictures until told to delete them


# --------------------------------------------------------------------------- progress


def format_seconds(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for an ETA.

    Example:
        >>> format_seconds(75.4), format_seconds(3725)
        ('1:15', '1:02:05')
    """
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class DreamStatus(Horizontal):
    """The progress bar and one line saying what is going on."""

    text = ""
    """The status line as plain text (tests read it)."""

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=1.0, show_eta=False, id="dream-bar")
        yield Static(id="status-text")

    def say(self, text: str, style: str = "") -> None:
        self.text = text
        self.query_one("#status-text", Static).update(Text(text, style=style))

    def set_fraction(self, fraction: float) -> None:
        self.query_one(ProgressBar).update(progress=fraction)
