"""A model spec: any Keras network as data.

A :class:`ModelSpec` says how to build a network, how the dream's pixels reach it
(preprocessing), which layers are worth dreaming and how small an image may get. Built-in
keras.applications families come from :mod:`kdream.models.families`, users' own ``.keras``
files from :mod:`kdream.models.own`; everything downstream (tiles, octaves, objectives, the
CLI and the TUI) only sees the spec.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable

import keras

from kdream.network import zoo
from kdream.network.layers import PixelMapping


class ModelError(ValueError):
    """A model that cannot be used (unknown name, unsafe or unreadable file, no spatial
    layers): the message is one line for the user."""


@dataclasses.dataclass(frozen=True, eq=False)
class ModelSpec:
    """Everything kdream needs to know about one network.

    ``build_network()`` returns the headless network without (or with its own) weights,
    built with canonical layer names; ``load_weights(model, spec_string)`` fills it and
    returns the resolved weights for the recipe.
    """

    name: str
    """``inceptionv3``, ``vgg19``, ... or the file name of an own model."""
    build_network: Callable[[], keras.Model]
    load_weights: Callable[[keras.Model, object], object]
    catalogue: dict[str, str]
    """Layers worth dreaming -> what they tend to produce, shallow to deep."""
    default_layers: dict[str, float]
    mapping: PixelMapping | None = None
    channels: int = 3
    fixed_hw: tuple[int, int] | None = None
    """Input size of a network that takes one size only; its tiles are that size."""
    min_input_side: int = 1
    file: pathlib.Path | None = None
    sha256: str | None = None
    input_range: tuple[float, float] | None = None
    build_reaching: Callable[[object, tuple[str, ...]], tuple[keras.Model, object]] | None = None
    """``(weights, layers) -> (network, resolved weights)``: the network only as deep as
    ``layers`` reach, where that is the whole network's first layers with the same weights
    (None: always whole)."""
    resolve_weights: Callable[[object], object] | None = None
    """``weights -> resolved weights`` without building anything, for a spec with
    ``build_reaching`` (its network can then be built when first needed)."""

    @property
    def display_name(self) -> str:
        return self.file.name if self.file else zoo.FAMILIES[self.name].builder

    def build(self, weights="auto", layers=()) -> tuple[keras.Model, object]:
        """The network with weights loaded, and the resolved weights (for the recipe).

        ``layers``: the layers the runs will read, when known; the network may then end
        after the deepest of them (see ``build_reaching``), which builds and loads faster.
        """
        if layers and self.build_reaching is not None:
            return self.build_reaching(weights, tuple(layers))
        model = self.build_network()
        return model, self.load_weights(model, weights)

    def recipe_entry(self) -> dict:
        """How the recipe names this model (a file also by its sha256)."""
        entry: dict = {"name": self.name}
        if self.file is not None:
            entry = {"file": self.file.name, "sha256": self.sha256}
        if self.input_range is not None:
            entry["input_range"] = list(self.input_range)
        return entry

    def with_defaults(self, config):
        """``config`` with this model's default layers where it still asks for the stock
        (InceptionV3) ones that this model does not have."""
        from kdream.config import DEFAULT_LAYERS

        stock = dict(config.layers) == dict(DEFAULT_LAYERS)
        if stock and self.name != zoo.DEFAULT_FAMILY and not config.channels:
            return config.replace(layers=dict(self.default_layers))
        return config
