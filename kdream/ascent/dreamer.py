"""The run: octaves of ascent steps over one image, with progress reports and cancel.

The CLI, the TUI and the benchmarks all drive this one loop.

Example:
    >>> dreamer = Dreamer(weights="inception2015")                   # doctest: +SKIP
    >>> picture = dreamer.dream(photo, DreamConfig(layers={"mixed4": 1.0}))
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
from keras import ops

from kdream import backend
from kdream.ascent.octaves import next_octave_image, octave_sizes
from kdream.ascent.step import PIXELS, Adam, AscentStep, draw_shift, sigma_at
from kdream.config import DreamConfig
from kdream.models import prepared
from kdream.models.extractor import FeatureExtractor
from kdream.models.factory import model_spec
from kdream.models.families import check_channel_count
from kdream.models.spec import ModelSpec
from kdream.network.precision import building_in
from kdream.network.precision import resolve as resolve_precision
from kdream.objectives.core import Objective, from_config
from kdream.objectives.references import OctaveData, check_reference_sizes
from kdream.pixels import resize, rgb_picture, to_model_range, to_uint8, uint8_picture
from kdream.recipe import __version__, with_parts


class DreamCancelled(Exception):
    """Raised by :meth:`Dreamer.dream` when its ``cancel`` signal was set between steps."""


@dataclasses.dataclass(frozen=True)
class Progress:
    """What the run reports after every step. ``image()`` copies the current dream to
    the host (uint8, at the current octave's size) only when asked."""

    octave: int
    octaves: int
    step: int
    steps: int
    loss: float
    size_hw: tuple[int, int]
    fraction: float
    """Share of the run's work done (octaves weighted by their pixel count)."""
    elapsed: float
    _snapshot: Callable[[], np.ndarray] = dataclasses.field(repr=False, compare=False)

    def image(self) -> np.ndarray:
        return to_uint8(self._snapshot())

    @property
    def eta(self) -> float:
        """Seconds left, extrapolated from the work done so far."""
        return self.elapsed * (1.0 - self.fraction) / max(self.fraction, 1e-9)


class Dreamer:
    """Loads a network (InceptionV3 unless ``model`` says otherwise) and its weights once,
    then dreams any number of images.

    ``model`` is a family name (``"vgg19"``), a path to your own ``.keras`` file or a
    :class:`~kdream.models.ModelSpec`; ``input_range`` is where an own model's pixels live
    (default (0, 1)). ``precision`` is what the network computes in: ``float32``
    (default), ``bfloat16``, ``float16`` or ``auto`` (see :mod:`kdream.precision`).
    ``layers``, when the runs' layers are known (a recipe's), lets the network end after
    the deepest of them: a faster start, the same pictures; a run that reads deeper
    layers later gets the whole network then. A built-in network is built (or its cut
    read from the prepared cache) on first use, not here.
    Compiled steps are cached per objective and image shape, so a
    second image of the same size starts at full speed.

    Example:
        >>> dreamer = Dreamer(weights="random")
        >>> photo = np.zeros((96, 128, 3), np.uint8)
        >>> dreamer.dream(photo, DreamConfig(octaves=1, steps=2)).shape
        (96, 128, 3)
        >>> Dreamer(weights="random", model="vgg16").dream(photo, steps=1).shape  # doctest: +SKIP
        (96, 128, 3)
    """

    def __init__(
        self,
        weights="auto",
        model: str | ModelSpec | None = None,
        input_range=None,
        precision: str = "float32",
        layers=None,
    ):
        self.spec = model_spec(model, input_range)
        self.precision = self._precision_for(precision)
        """float32, bfloat16 or float16 (``auto`` resolved for this machine)."""
        self._layers = tuple(name for name in layers or () if name != PIXELS)
        self._model = None
        self._partial = True
        self._ascent_steps: dict[Objective, AscentStep] = {}
        if self.spec.resolve_weights is not None:
            # Built on first use: a prepared extractor (kdream.models.prepared) spares a
            # dream or a visualisation building the network, loading its weights and
            # folding it.
            self.weights = self.spec.resolve_weights(weights)
        else:
            self._build(weights, self._layers)

    @property
    def model(self):
        """The network with its weights, ending after the deepest layer the runs were said
        to read (the whole one otherwise); built on first use."""
        if self._model is None:
            self._build(self.weights, self._layers)
        return self._model

    def _build(self, weights, layers) -> None:
        with building_in(self.precision):
            self._model, self.weights = self.spec.build(weights, layers)
        known = {layer.name for layer in self._model.layers}
        self._partial = not set(self.spec.catalogue) <= known

    def _network_reaching(self, layer_names) -> None:
        """Rebuild the whole network when it was built for shallower layers than these."""
        known = {layer.name for layer in self.model.layers}
        if self._partial and not set(layer_names) <= known:
            self._build(self.weights, ())

    def extractor_for(self, layer_names, pre_activation: bool = False) -> FeatureExtractor:
        """The network cut after ``layer_names`` in its fast form: a prepared one when the
        cache has it, else cut from the network (and kept for the next process).

        Where the runs' layers were not given, the network is built only as deep as these
        layers reach, for this cut alone: :attr:`model` stays the whole network.
        ``pre_activation``: see :meth:`FeatureExtractor.build`.
        """
        key = prepared.entry_key(
            self.spec, self.weights, layer_names, self.precision, pre_activation
        )
        if key is not None:
            with building_in(self.precision):
                extractor = prepared.load_extractor(key, self.spec, self.weights, layer_names)
            if extractor is not None:
                return extractor
        extractor = FeatureExtractor.build(
            layer_names,
            base=self._network_for(layer_names),
            spec=self.spec,
            pre_activation=pre_activation,
        )
        if key is not None:
            prepared.save_extractor(key, extractor)
        return extractor

    def _network_for(self, layer_names):
        """A network that has ``layer_names``: the one built, else one ending after them."""
        if self._model is None and not self._layers and self.spec.build_reaching is not None:
            with building_in(self.precision):
                network, _ = self.spec.build(self.weights, layer_names)
            return network
        self._network_reaching(layer_names)
        return self.model

    def _precision_for(self, precision: str) -> str:
        resolved = resolve_precision(precision)
        if self.spec.file is None or resolved == "float32":
            return resolved
        if precision != "auto":
            raise ValueError(
                "precision: your own model runs in the precision it was saved with; "
                "--precision applies to the built-in networks"
            )
        return "float32"

    @property
    def backend(self) -> str:
        return backend.name()

    def ascent_step(self, objective: Objective | DreamConfig) -> AscentStep:
        """The compiled step for an objective (or a recipe's objective), built on first use."""
        if isinstance(objective, DreamConfig):
            objective = from_config(self.config_for(objective))
        if objective not in self._ascent_steps:
            network_layers = [name for name in objective.layer_names if name != PIXELS]
            extractor = self.extractor_for(network_layers)
            _check_channels(objective, extractor)
            self._ascent_steps[objective] = AscentStep(extractor, objective)
        return self._ascent_steps[objective]

    def config_for(self, config: DreamConfig | None) -> DreamConfig:
        """The recipe as this model runs it: the stock layers become the model's defaults
        when the model has no such layers (InceptionV3's ``mixed3`` on VGG19, say)."""
        return self.spec.with_defaults(config or DreamConfig())

    def octave_sizes(self, image_hw, config: DreamConfig, objective=None):
        """The sizes a dream of an ``image_hw`` image visits, smallest first."""
        min_side = self.ascent_step(objective or config).min_side
        return octave_sizes(image_hw, config.octaves, config.octave_scale, min_side)

    def dream(
        self,
        image: np.ndarray,
        config: DreamConfig | None = None,
        *,
        objective: Objective | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | object | None = None,
        start: np.ndarray | None = None,
        optimizer: Adam | None = None,
    ) -> np.ndarray:
        """Dream an RGB uint8 image (H, W, 3); returns a uint8 image of the same size.

        ``objective`` overrides the config's layers and channels; its reference images (a
        guide, styles) are read at every octave's scale, and terms that compare with the
        picture's content compare with ``image``. ``start`` (uint8, same size) is where
        the run starts instead of ``image`` (noise, for style transfer); ``optimizer``
        (:class:`~kdream.ascent.Adam`) replaces DeepDream's normalised steps, with
        ``config.step_size`` as its learning rate. ``on_progress`` gets a
        :class:`Progress` after every step. ``cancel`` (a ``threading.Event`` or a
        function returning bool) is checked between steps; when set,
        :class:`DreamCancelled` is raised.
        """
        config = self.config_for(config)
        original = to_model_range(self.pixels_for_model(image))
        objective = objective or from_config(config)
        step = self.ascent_step(objective)
        full_hw = original.shape[:2]
        sizes = self.octave_sizes(full_hw, config, objective)
        check_reference_sizes(objective, step.min_side)
        rng = np.random.default_rng(config.seed)
        total_work = sum(h * w for h, w in sizes) * config.steps
        done_work, started = 0, time.perf_counter()
        first = original if start is None else to_model_range(self.pixels_for_model(start))
        base = current = resize(first, sizes[0])
        for octave, size in enumerate(sizes):
            if octave:
                new_base = resize(first, size)
                current = next_octave_image(current, base, new_base, config.octave_mode)
                base = new_base
            device_image = ops.convert_to_tensor(current)
            data = self._octave_data(step, objective, original, size)
            if octave == len(sizes) - 1:  # no host copy is read again: free them (a 4096 px
                original = first = base = current = None  # photo's floats are 192 MiB each)
            adam = optimizer.start(device_image) if optimizer is not None else None
            for index in range(config.steps):
                if cancel_requested(cancel):
                    raise DreamCancelled("dream cancelled")
                shift = draw_shift(rng, size, config)
                sigma = sigma_at(index, config.steps, config)
                device_image, loss = step(
                    device_image, shift, sigma, config.step_size, config, data, adam
                )
                done_work += size[0] * size[1]
                if on_progress is not None:
                    on_progress(
                        Progress(
                            octave + 1,
                            len(sizes),
                            index + 1,
                            config.steps,
                            float(ops.convert_to_numpy(loss)),
                            size,
                            done_work / total_work,
                            time.perf_counter() - started,
                            _snapshot=lambda image=device_image: ops.convert_to_numpy(image),
                        )
                    )
            current = ops.convert_to_numpy(device_image)
            device_image = None  # the host copy replaces it (image-sized buffers add up)
        dreamed = to_uint8(resize(current, full_hw))
        return dreamed[..., 0] if self.spec.channels == 1 else dreamed

    @staticmethod
    def _octave_data(step: AscentStep, objective, original, size) -> OctaveData | None:
        """What the objective reads at this octave besides activations (None: nothing).

        ``objective`` is this run's: it equals the step's (references compare by sha256)
        but carries this run's reference pixels (resized, or luminance only, for a style).
        """
        if not objective.data_keys:
            return None
        return OctaveData(step, resize(original, size), size[0] / original.shape[0], objective)

    def pixels_for_model(self, image) -> np.ndarray:
        """A uint8 picture (H, W), (H, W, 1) or (H, W, 3) as (H, W, channels) for the model:
        a gray network gets the photo's luminance (ITU-R 601, as Pillow's ``L``), an RGB
        network gets a gray photo repeated three times."""
        if self.spec.channels == 3:
            return rgb_picture(image)
        image = uint8_picture(image)
        if image.shape[-1] == 1:
            return image
        luma = image.astype(np.float32) @ np.asarray([0.299, 0.587, 0.114], np.float32)
        return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None]

    def provenance(self) -> dict:
        """What made a picture: kdream, backend, model, precision and weights (the part of
        a recipe every output of this Dreamer shares)."""
        return {
            "kdream": __version__,
            "backend": self.backend,
            "model": self.spec.recipe_entry(),
            "precision": self.precision,
            "weights": {"source": self.weights.source, "sha256": self.weights.sha256},
        }

    def recipe(self, config: DreamConfig, image_hw, objective: Objective | None = None) -> dict:
        """Everything needed to dream the same picture again (embedded in output PNGs)."""
        recipe = {
            **self.provenance(),
            "config": self.config_for(config).to_dict(),
            "input": {"height": int(image_hw[0]), "width": int(image_hw[1])},
        }
        if objective is not None:
            recipe = with_parts(recipe, objective=objective.to_recipe())
        return recipe


def _check_channels(objective: Objective, extractor: FeatureExtractor) -> None:
    """Channel indices past a layer's channel count: one clear error, not a graph error."""
    counts = extractor.channel_counts()
    for term in objective.terms:
        indices = getattr(term, "channels", None)
        if indices and term.layer in counts:
            check_channel_count(term.layer, counts[term.layer], indices)


def cancel_requested(cancel) -> bool:
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())
