"""The one model of a TUI session: built on first use, reused, rebuilt when the weights change.

Its methods run in worker threads (the startup load, a dream, a visualisation) and on
the UI thread (the recipe key, the visualise prompt's check); a lock keeps them from
building two models at once.

Keras (through ``kdream.models`` and ``kdream.ascent``) is imported lazily, inside the
methods, so the window appears before the seconds-long framework import.
"""

from __future__ import annotations

import threading

from kdream import recipe as recipe_parts


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
        from kdream.models.factory import model_spec

        with self._lock:
            self._model = model_spec(self._model, self._input_range)
            return self._model

    def other_model(self, recipe: dict) -> str | None:
        """The model a recipe names when it is not the one loaded (None: the same, or the
        model is not known yet)."""
        from kdream.models.spec import ModelSpec

        entry = recipe_parts.model_entry(recipe)
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
                from kdream.ascent.dreamer import Dreamer

                # Build before replacing: weights that fail to load keep the old model.
                dreamer = Dreamer(weights=weights, model=self._model, precision=self.precision)
                dreamer.model  # noqa: B018  (built here: a Dreamer builds on first use)
                self._dreamer = dreamer
                self.precision = self._dreamer.precision  # "auto", resolved for this machine
                self._weights = weights
                self._channels = None
            return self._dreamer

    def channels(self) -> dict[str, int]:
        """Channel count of every catalogue layer of the current model."""
        from kdream.models.families import layer_channels

        with self._lock:
            if self._channels is None:
                self._channels = layer_channels(self._dreamer.model, self._dreamer.spec)
            return self._channels

    def visualizer(self, weights: str):
        """A :class:`kdream.visualize.Visualizer` on the current Dreamer's network (its
        compiled steps are kept while the weights stay)."""
        from kdream.techniques.visualize.render import Visualizer

        dreamer = self.get(weights)
        with self._lock:
            if self._visualizer is None or self._visualizer.dreamer is not dreamer:
                self._visualizer = Visualizer(dreamer=dreamer)
            return self._visualizer

    @property
    def loaded_weights(self) -> str | None:
        """The weights spec of the model held now (None before the first build)."""
        return self._weights if self._dreamer is not None else None
