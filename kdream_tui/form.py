"""The parameter form's logic, free of widgets: field list, text <-> value, validation.

Validation is :class:`kdream.config.DreamConfig` itself: a field's text is parsed as
leniently as possible and handed to ``DreamConfig``, whose ``ValueError`` message (which
starts with the field name) is what the form shows. So the TUI can never disagree with
the CLI or the API about what is valid.

Example:
    >>> from kdream.config import DreamConfig
    >>> values, errors = check_fields(DreamConfig(), {"steps": "3", "octaves": "99"})
    >>> values["steps"], errors["octaves"]
    (3, 'octaves: must be in [1, 12] (got 99)')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from kdream import recipe as recipe_parts
from kdream.config import OCTAVE_MODES, DreamConfig


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One row of the parameter panel."""

    name: str
    """The DreamConfig field it sets."""
    label: str
    choices: tuple[str, ...] = ()
    """Non-empty for fields picked from a list (no free text)."""


TEXT_FIELDS = (
    FieldSpec("octaves", "octaves"),
    FieldSpec("octave_scale", "oct scale"),
    FieldSpec("steps", "steps"),
    FieldSpec("step_size", "step size"),
    FieldSpec("tile_size", "tile size"),
    FieldSpec("smoothing", "smoothing"),
    FieldSpec("seed", "seed"),
)
"""Fields typed as text, in panel order."""

MODE_FIELD = FieldSpec("octave_mode", "oct mode", OCTAVE_MODES)

WEIGHT_SOURCES = ("auto", "imagenet", "inception2015", "random")
"""Named weight sources offered in the panel (a path given with --weights is added)."""


def parse_value(text: str) -> int | float | str:
    """The most specific Python value a field text denotes: int, then float, else the text.

    Anything that is not a number stays a string, so DreamConfig reports it with its own
    message (``... (got 'abc')``) instead of the form inventing one.

    Example:
        >>> parse_value(" 4 "), parse_value("1.5"), parse_value("1e-3"), parse_value("x")
        (4, 1.5, 0.001, 'x')
    """
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def field_text(value: object) -> str:
    """How a config value is written into its field (the inverse of :func:`parse_value`).

    Example:
        >>> field_text(4), field_text(0.012), field_text(2.0)
        ('4', '0.012', '2.0')
    """
    return str(value)


def check_fields(
    base: DreamConfig, texts: Mapping[str, str]
) -> tuple[dict[str, object], dict[str, str]]:
    """Parse and validate each field on its own against ``base``.

    Returns ``(values, errors)``: the parsed value of every valid field, and the
    ``DreamConfig`` message of every invalid one. Checking one field at a time puts each
    message next to the field that caused it, even when several are wrong.
    """
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name, text in texts.items():
        value = parse_value(text) if isinstance(text, str) else text
        try:
            base.replace(**{name: value})
        except ValueError as error:
            errors[name] = str(error)
        else:
            values[name] = value
    return values, errors


def check_layers(base: DreamConfig, layers: Mapping[str, float]) -> str | None:
    """The DreamConfig message for a layer selection, or None when it is usable.

    Example:
        >>> check_layers(DreamConfig(), {})
        'layers: give at least one layer (or a channel objective)'
    """
    try:
        base.replace(layers=dict(layers))
    except ValueError as error:
        return str(error)
    return None


def panel_values(config: DreamConfig) -> dict[str, str]:
    """Field texts (and the mode choice) showing ``config``, keyed by field name."""
    texts = {spec.name: field_text(getattr(config, spec.name)) for spec in TEXT_FIELDS}
    texts[MODE_FIELD.name] = config.octave_mode
    return texts


def weights_choices(requested: str) -> tuple[str, ...]:
    """The weights options: the named sources plus ``requested`` when it is a path.

    Example:
        >>> weights_choices("random")
        ('auto', 'imagenet', 'inception2015', 'random')
        >>> weights_choices("w.weights.h5")[-1]
        'w.weights.h5'
    """
    return WEIGHT_SOURCES if requested in WEIGHT_SOURCES else (*WEIGHT_SOURCES, requested)


def selectable_weights(recipe: Mapping[str, object]) -> str | None:
    """The weights a recipe names, if the panel can select them (a recipe made from a
    weights *file* only records its hash, so it names none the panel offers).

    Example:
        >>> selectable_weights({"weights": {"source": "inception2015", "sha256": "ab"}})
        'inception2015'
        >>> selectable_weights({"weights": {"source": "file"}}) is None
        True
    """
    source = recipe_parts.weights_source(recipe)
    return source if source in WEIGHT_SOURCES else None


WEIGHT_STEP = 0.25
"""How much one +/- key press changes a layer's weight."""
WEIGHT_LIMIT = 10.0
"""Largest weight magnitude the keys reach (a recipe may hold any finite weight)."""


class LayerSelection:
    """Which layers are on, with what weight; disabled layers keep their weight for later.

    Rows are the catalogue (known once Keras is imported) followed by any other layer a
    recipe named, so nothing a recipe asks for is silently dropped.

    Example:
        >>> selection = LayerSelection(["mixed3", "mixed4"], {"mixed3": 1.0})
        >>> selection.toggle("mixed4"); selection.nudge("mixed4", +1)
        >>> selection.chosen()
        {'mixed3': 1.0, 'mixed4': 1.25}
    """

    def __init__(self, names=(), layers: Mapping[str, float] | None = None) -> None:
        self.names: list[str] = []
        self.weights: dict[str, float] = {}
        self.enabled: set[str] = set()
        self.add_names(names)
        self.load(layers or {})

    def add_names(self, names) -> None:
        """Add rows (the catalogue, or a recipe's extra layers), keeping existing order."""
        for name in names:
            if name not in self.weights:
                self.names.append(name)
                self.weights[name] = 1.0

    def set_catalogue(self, names) -> None:
        """Put the catalogue rows first, in catalogue order (rows known before stay after)."""
        names = list(names)
        self.add_names(names)
        self.names = [*names, *(name for name in self.names if name not in names)]

    def load(self, layers: Mapping[str, float]) -> None:
        """Show exactly ``layers`` as the enabled set (other rows switch off)."""
        self.add_names(layers)
        self.weights.update({name: float(weight) for name, weight in layers.items()})
        self.enabled = set(layers)

    def toggle(self, name: str) -> None:
        self.enabled ^= {name}

    def nudge(self, name: str, direction: int) -> None:
        """Step a weight up (+1) or down (-1), jumping over 0 (a zero term does nothing).

        Switching a layer's weight also switches the layer on: that is what the user wants.
        """
        weight = round(self.weights[name] + direction * WEIGHT_STEP, 6)
        if weight == 0:
            weight = direction * WEIGHT_STEP
        self.weights[name] = max(-WEIGHT_LIMIT, min(WEIGHT_LIMIT, weight))
        self.enabled.add(name)

    def chosen(self) -> dict[str, float]:
        """Enabled layers and weights, in row order (what DreamConfig.layers gets)."""
        return {name: self.weights[name] for name in self.names if name in self.enabled}
