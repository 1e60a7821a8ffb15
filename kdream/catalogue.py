"""The built-in networks' layers as data: every layer's channel count and the head's class
count, so that a mistyped layer or a channel past a layer is refused before Keras or a
framework loads (in well under a second, not after 7-14 s of imports).

``kdream/data/catalogues.json`` is generated once from the real networks by
``tests/data/make_catalogues.py``; ``tests/models/test_catalogue.py`` builds InceptionV3 again
and checks the data against it. The messages here are the ones the built network gives
(:mod:`kdream.models.families` uses them too).

Example:
    >>> layer_channels("inceptionv3")["mixed4"]
    768
    >>> check_channel_indices("inceptionv3", "mixed4", [900])
    Traceback (most recent call last):
    ValueError: channels: mixed4 has 768 channels (0..767); got 900
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path

from kdream.network import zoo

CATALOGUE_FILE = Path(__file__).parent / "data" / "catalogues.json"


@functools.cache
def _catalogues() -> dict:
    return json.loads(CATALOGUE_FILE.read_text())


def network_entry(model) -> dict:
    """A built network's entry: every layer's channel count (None where the output is not
    an image), and the class count of its head (None without one)."""
    layers = {}
    for layer in model.layers:
        shape = getattr(layer, "output", None)
        shape = getattr(shape, "shape", None)
        layers[layer.name] = int(shape[-1]) if shape is not None and len(shape) == 4 else None
    head = model.outputs[0].shape if len(model.outputs) == 1 else None
    classes = int(head[-1]) if head is not None and len(head) == 2 else None
    return {"layers": layers, "classes": classes}


def family_of(model: str | None) -> str | None:
    """The built-in family ``--model`` names (None: the default), else None (a file)."""
    if model is None:
        return zoo.DEFAULT_FAMILY
    try:
        return zoo.family_named(model).name
    except KeyError:
        return None


def layer_channels(family: str) -> dict[str, int | None]:
    """Every layer of ``family``'s network (as kdream builds it) and its channel count."""
    return _catalogues()[family]["layers"]


def head_classes(family: str) -> int | None:
    """The class count of ``family``'s head as kdream loads it (None: headless)."""
    return _catalogues()[family]["classes"]


def unknown_layers_message(unknown: Iterable[str], catalogue: Iterable[str], display: str) -> str:
    return (
        f"layers: unknown layer(s) {', '.join(unknown)}; use one of "
        f"{', '.join(catalogue)} (or another {display} layer name; `kdream layers` lists them)"
    )


def unknown_layer_message(name: str) -> str:
    """One layer that is not there, where no list of names helps (``inspect --filters``)."""
    return f"unknown layer {name!r}; `kdream layers` lists them"


def channel_range_message(layer: str, count: int, too_big: Iterable[int]) -> str:
    return (
        f"channels: {layer} has {count} channels (0..{count - 1}); "
        f"got {', '.join(map(str, too_big))}"
    )


def check_layer_names(family: str, names: Iterable[str]) -> None:
    """``ValueError`` naming every layer ``family``'s network does not have."""
    unknown = [name for name in names if name not in layer_channels(family)]
    if unknown:
        entry = zoo.FAMILIES[family]
        raise ValueError(unknown_layers_message(unknown, entry.layers, entry.builder))


def check_channel_indices(family: str, layer: str, indices: Iterable[int]) -> None:
    """``ValueError`` (one line) for channel indices past ``layer``'s channel count."""
    count = layer_channels(family).get(layer)
    too_big = [index for index in indices if count is not None and index >= count]
    if too_big:
        raise ValueError(channel_range_message(layer, count, too_big))
