"""The recipe: everything that made a picture, as plain JSON data. Its one home.

A recipe is built here (:func:`build`), bounded and checked here when it comes back from a
file (:func:`parse`), and read here: the rest of kdream asks this module for a recipe's
parts instead of indexing raw dicts. It is only ever data: nothing in it is imported,
called or loaded (a recipe never names a weights file for kdream to load).

Example:
    >>> recipe = parse('{"backend": "jax", "config": {"steps": 3}}')
    >>> config_entries(recipe)
    {'steps': 3}
    >>> backend_of(recipe)
    'jax'
"""

from __future__ import annotations

import json
import re
from pathlib import PurePath

from kdream.config import PRECISIONS, DreamConfig

__version__ = "0.1.0"
"""kdream's version, as recipes record it (``kdream.__version__``)."""


class RecipeError(ValueError):
    """A recipe that cannot be used; ``str(e)`` is one line saying what is wrong."""


# Recipes come from files strangers hand us, so they are bounded before they are parsed. A
# real recipe is ~1 KB of JSON, 5 levels deep; one whose objective names every channel of
# mixed0..mixed10 (in its config and again in its objective) is ~105 KB. 256 KiB stays well
# above that and parses in about a millisecond (Pillow itself reads an uncompressed text chunk
# of any size). json.loads recurses once per level: 100,000 '[' overflow the interpreter's
# stack guard, so depth is checked on the raw text first; 32 is far above 5, far below 1000.
MAX_RECIPE_CHARS = 256 * 1024


MAX_RECIPE_DEPTH = 32


# One JSON token that matters for nesting: a whole string (an unterminated one runs to the
# end: no backtracking, so the scan stays linear on hostile text) or a bracket.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


# The recipe sections kdream reads back, and the JSON type each must have when present, so
# that e.g. ``"input": [1]`` is a bad recipe here, not a crash in the code that reads it.
_RECIPE_SECTIONS = {
    "config": dict, "weights": dict, "input": dict, "objective": list, "backend": str,
}  # fmt: skip


_RECIPE_STRINGS = (("weights", "source"), ("weights", "sha256"), ("input", "source"))


_JSON_NAMES = {dict: "object", list: "array", str: "string"}


def to_json(recipe: dict) -> str:
    """The recipe as compact, sorted, 7-bit JSON; one too large to read back is refused."""
    if not isinstance(recipe, dict):
        raise TypeError(f"recipe must be a dict, got {type(recipe).__name__}")
    text = json.dumps(recipe, sort_keys=True)  # ensure_ascii (default) keeps it 7-bit safe
    if len(text) > MAX_RECIPE_CHARS:  # never write a recipe that read_recipe would refuse
        raise ValueError(
            f"recipe: {len(text)} characters of JSON, more than the {MAX_RECIPE_CHARS} "
            "kdream reads back"
        )
    return text


def _json_depth(text: str, limit: int) -> int:
    """How deep brackets nest outside strings; the scan stops once ``limit`` is passed.

    Example:
        >>> _json_depth('{"a": [1, {"b": "[[[["}]}', limit=32)
        3
    """
    depth = deepest = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def parse(text: str) -> dict:
    """JSON text -> recipe dict, bounded in size and depth first; never evaluates anything."""
    if len(text) > MAX_RECIPE_CHARS:
        raise RecipeError(
            f"kdream recipe too large ({len(text)} characters; the limit is {MAX_RECIPE_CHARS})",
        )
    if _json_depth(text, MAX_RECIPE_DEPTH) > MAX_RECIPE_DEPTH:
        raise RecipeError(f"kdream recipe nested too deeply (more than {MAX_RECIPE_DEPTH} levels)")
    try:
        recipe = json.loads(text)  # plain JSON: data only, nothing is imported or called
    except ValueError as exc:
        raise RecipeError(f"kdream recipe is not valid JSON ({exc})") from None
    if not isinstance(recipe, dict):
        raise RecipeError("kdream recipe is not a JSON object")
    _check_sections(recipe)
    return recipe


def _check_sections(recipe: dict) -> None:
    """Refuse a recipe whose known sections have the wrong JSON type (unknown keys pass)."""
    for key, kind in _RECIPE_SECTIONS.items():
        if key in recipe and not isinstance(recipe[key], kind):
            raise RecipeError(f"kdream recipe's {key!r} must be a JSON {_JSON_NAMES[kind]}")
    for section, key in _RECIPE_STRINGS:
        value = recipe.get(section, {}).get(key)
        if value is not None and not isinstance(value, str):
            raise RecipeError(f"kdream recipe's {section}.{key} must be a string")
    max_side = recipe.get("max_side")
    if max_side is not None and (type(max_side) is not int or max_side < 1):
        raise RecipeError("kdream recipe's 'max_side' must be a positive integer or null")
    _checked_precision(recipe.get("precision"))


def _checked_precision(value) -> str | None:
    """A recipe's precision: one kdream computes in, or None (absent or null)."""
    if value is not None and (not isinstance(value, str) or value not in PRECISIONS):
        raise RecipeError(
            f"kdream recipe's 'precision' must be one of {', '.join(PRECISIONS)} (got {value!r})"
        )
    return value


# --------------------------------------------------------------------------- reading
# Every part of a recipe the rest of kdream reads, by name: a recipe that lacks a part
# (or comes from a file with a part of the wrong type) gives the default, never a KeyError.

SAMPLE_PREFIX = "sample:"
"""How a recipe names a sample picture kdream ships (``sample:coffee.png``)."""

WEIGHT_SOURCES = ("imagenet", "inception2015", "random")
"""Weights a recipe can name for a replay (a weights *file* is recorded by its hash only)."""


def _part(recipe: dict | None, key: str, kind: type, default=None):
    value = (recipe or {}).get(key)
    return value if isinstance(value, kind) else default


def backend_of(recipe: dict | None) -> str | None:
    """The backend a recipe was made on."""
    return _part(recipe, "backend", str)


def precision_of(recipe: dict | None) -> str | None:
    """The precision the network computed in, None when the recipe names none; one that
    kdream cannot compute in is a :class:`RecipeError` (:func:`parse` refuses it first).

    Example:
        >>> precision_of({"precision": "bfloat16"}), precision_of({}), precision_of(None)
        ('bfloat16', None, None)
    """
    return _checked_precision((recipe or {}).get("precision"))


def config_entries(recipe: dict | None) -> dict | None:
    """The dream's parameters (``DreamConfig.from_dict`` reads them), or None."""
    return _part(recipe, "config", dict)


def objective_entries(recipe: dict | None) -> list | None:
    """The objective's terms (``kdream.objectives.from_recipe`` reads them), or None."""
    return (recipe or {}).get("objective")


def has_objective(recipe: dict | None) -> bool:
    return "objective" in (recipe or {})


def input_entry(recipe: dict | None) -> dict:
    """What the picture was made from (``source``, ``height``, ``width``)."""
    return _part(recipe, "input", dict, {})


def max_side_of(recipe: dict | None) -> int | None:
    return _part(recipe, "max_side", int)


def model_entry(recipe: dict | None) -> dict:
    """How the recipe names its model: ``{"name": ...}`` or ``{"file": ..., "sha256": ...}``,
    with ``input_range`` for an own model."""
    return _part(recipe, "model", dict, {})


def weights_entry(recipe: dict | None) -> dict:
    """The weights: ``source`` and ``sha256``."""
    return _part(recipe, "weights", dict, {})


def weights_source(recipe: dict | None) -> str | None:
    """The named weights a replay can use: ``imagenet``, ``inception2015``, ``random``;
    ``"file"`` for a weights file (the user must pass it), None when the recipe names none.

    Example:
        >>> weights_source({"weights": {"source": "inception2015", "sha256": "ab"}})
        'inception2015'
        >>> weights_source({"weights": {"source": "file"}})
        'file'
    """
    source = weights_entry(recipe).get("source")
    return source if source in (*WEIGHT_SOURCES, "file") else None


def dream_config(recipe: dict | None) -> DreamConfig:
    """The dream's parameters as a :class:`~kdream.config.DreamConfig`.

    A recipe without them, or with entries of the wrong shape, is a :class:`RecipeError`;
    a value out of range is DreamConfig's ``ValueError`` naming the field.

    Example:
        >>> dream_config({"config": {"steps": 3}}).steps
        3
    """
    entries = config_entries(recipe)
    if entries is None:
        raise RecipeError("the recipe has no 'config' entry")
    try:
        return DreamConfig.from_dict(entries)
    except TypeError as error:  # e.g. a field of the wrong shape
        raise RecipeError(f"the recipe's config is not usable ({error})") from None


def replay_weights(recipe: dict | None) -> str:
    """The ``--weights`` that replays ``recipe``: the source it names, else ``auto``.

    A weights *file* is never taken from a recipe (it could point anywhere on this
    machine): that is a :class:`RecipeError` asking for ``--weights PATH``.

    Example:
        >>> replay_weights({"weights": {"source": "random"}}), replay_weights({})
        ('random', 'auto')
    """
    source = weights_source(recipe)
    if source == "file":
        raise RecipeError("the recipe was dreamed with a weights file: pass it with --weights PATH")
    return source or "auto"


def picked_picture(recipe: dict | None) -> int | None:
    """Which picture of a batch render a file shows (an atlas saves each channel of a
    channel batch alone): its index, or None for the whole render.

    Example:
        >>> picked_picture({"pick": {"picture": 3}}), picked_picture({})
        (3, None)
    """
    value = (_part(recipe, "pick", dict) or {}).get("picture")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 4096:
        raise RecipeError("kdream recipe's pick.picture must be an integer in [0, 4096)")
    return value


def section(recipe: dict | None, name: str) -> dict | None:
    """A technique's own section (``style``, ``visualize``, ``motion``, ``sheet``), or None."""
    return _part(recipe, name, dict)


# --------------------------------------------------------------------------- building


def with_parts(recipe: dict, **parts) -> dict:
    """A new recipe: ``recipe`` with ``parts`` set (a part given as None is kept as null).

    Example:
        >>> with_parts({"backend": "jax"}, max_side=512)
        {'backend': 'jax', 'max_side': 512}
    """
    return {**recipe, **parts}


def with_input_source(recipe: dict, source: str, max_side: int | None) -> dict:
    """``recipe`` naming what its picture was made from and the ``--max-side`` it was
    downsized to. ``source`` is a path or a sample's name; a recipe keeps the file name
    only (never a path: a recipe travels), so the CLI and the TUI record the same input.

    Example:
        >>> with_input_source({}, "photos/cat.jpg", None)
        {'input': {'source': 'cat.jpg'}, 'max_side': None}
    """
    name = source if source.startswith(SAMPLE_PREFIX) else PurePath(source).name
    return with_parts(recipe, input={**input_entry(recipe), "source": name}, max_side=max_side)
