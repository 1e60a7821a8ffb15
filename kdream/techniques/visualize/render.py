"""Feature visualisation: pictures, grown from noise, that excite a channel, a neuron or
a class as much as possible.

The same machinery as a dream (objectives, ``backend.input_gradient``, compiled
functions, :class:`~kdream.dreamer.Progress`, cancel), with a different start (noise), a
different parameterisation of the image (:mod:`kdream.param`: a 1/f spectrum in
decorrelated colour) and random transforms every step (:mod:`kdream.transforms`),
optimised with Adam. Per step the host only draws the transforms; the parameters and the
optimiser state stay on the device.

Many channels of one layer render as one batch: which channel each image shows is data
(a one-hot selection), so the compiled step serves any channels of that layer.

Example:
    >>> visualizer = Visualizer(weights="inception2015")                  # doctest: +SKIP
    >>> pictures = visualizer.render("mixed4:97", VisualizeSettings(size=160))
    >>> pictures.shape                                                    # doctest: +SKIP
    (1, 160, 160, 3)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
from keras import ops
from PIL import Image

from kdream import backend
from kdream import recipe as recipe_parts
from kdream.ascent.adam import adam_ascent
from kdream.ascent.dreamer import DreamCancelled, Dreamer, Progress, cancel_requested
from kdream.models.extractor import FeatureExtractor
from kdream.models.families import check_channel_indices, check_layer_names
from kdream.network.build import spatial_size
from kdream.objectives.core import Objective
from kdream.objectives.recipes import from_recipe as objective_from_recipe
from kdream.objectives.text import parse_objective
from kdream.objectives.visual import (
    CHANNEL_SELECTION,
    ChannelBatchTerm,
    ClassTerm,
    NeuronTerm,
    channel_selection,
)
from kdream.techniques.visualize.param import PARAMETERISATIONS, ImageParam
from kdream.techniques.visualize.transforms import Transforms


@dataclasses.dataclass(frozen=True)
class VisualizeSettings:
    """How a visualisation is rendered (everything but the objective and the model)."""

    size: int = 224
    steps: int = 256
    seed: int = 0
    param: str = "fft"
    decay_power: float = 1.0
    learning_rate: float = 0.05
    pre_activation: bool = True
    """Optimise each layer's output before its ReLU (lucid's ``_pre_relu``)."""
    batch: int = 1
    """Images per objective (different seeds of noise; with a diversity term, different
    pictures). A channel batch sets it to its number of channels."""
    transforms: Transforms = Transforms()

    def __post_init__(self):
        if self.param not in PARAMETERISATIONS:
            raise ValueError(f"param: must be one of {', '.join(PARAMETERISATIONS)}")
        for name in ("size", "steps", "batch"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name}: must be a positive integer")
        if not 0 < self.learning_rate <= 10:
            raise ValueError("learning_rate: must be in (0, 10]")

    def replace(self, **changes) -> VisualizeSettings:
        return dataclasses.replace(self, **changes)

    def image_param(self, channels: int = 3) -> ImageParam:
        """The parameterisation of pictures of ``channels`` (the network's: 1 or 3)."""
        return ImageParam.create(self.param, (self.size, self.size), self.decay_power, channels)

    def to_dict(self) -> dict:
        return {
            "size": self.size,
            "steps": self.steps,
            "seed": self.seed,
            "param": self.param,
            "decay_power": self.decay_power,
            "learning_rate": self.learning_rate,
            "pre_activation": self.pre_activation,
            "batch": self.batch,
            "transforms": self.transforms.to_recipe(),
        }

    @classmethod
    def from_dict(cls, entry) -> VisualizeSettings:
        """Settings a recipe recorded, checked as data."""
        if not isinstance(entry, dict):
            raise ValueError("recipe: 'visualize' must be a table of settings")
        try:
            return cls(
                size=_recipe_int(entry, "size"),
                steps=_recipe_int(entry, "steps"),
                seed=_recipe_int(entry, "seed", minimum=0),
                param=str(entry["param"]),
                decay_power=float(entry["decay_power"]),
                learning_rate=float(entry["learning_rate"]),
                pre_activation=bool(entry["pre_activation"]),
                batch=_recipe_int(entry, "batch"),
                transforms=Transforms.from_recipe(entry["transforms"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"recipe: 'visualize' lacks a valid {error}") from None


def _recipe_int(entry: dict, key: str, minimum: int = 1) -> int:
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"recipe: 'visualize' {key} must be an integer >= {minimum}")
    return value


class Visualizer:
    """A network (as :class:`~kdream.dreamer.Dreamer` loads it) and its compiled
    visualisation steps, reused across objectives, sizes and channels.

    Example:
        >>> visualizer = Visualizer(weights="random")
        >>> pictures = visualizer.render("mixed2:3", VisualizeSettings(size=96, steps=2))
        >>> pictures.shape, pictures.dtype
        ((1, 96, 96, 3), dtype('uint8'))
    """

    def __init__(
        self,
        weights="auto",
        model=None,
        input_range=None,
        precision: str = "float32",
        dreamer: Dreamer | None = None,
    ):
        self.dreamer = dreamer or Dreamer(weights, model, input_range, precision)
        self.channels = self.dreamer.spec.channels
        """1 for a gray network (its pictures are (N, size, size, 1)), else 3."""
        self._steps: dict[tuple, _CompiledStep] = {}

    @property
    def head_layer(self) -> str | None:
        """The output layer when the model ends in a classifier (non-spatial output)."""
        output = self.dreamer.model.output
        if isinstance(output, (list, tuple)) or len(output.shape) != 2:
            return None
        return output._keras_history.operation.name  # no public accessor in Keras

    def default_settings(self) -> VisualizeSettings:
        """:class:`VisualizeSettings` defaults, at the one size a fixed-size network (an
        own model with a classifier head, say) takes once the transforms have padded the
        picture."""
        settings = VisualizeSettings()
        fixed = self.dreamer.spec.fixed_hw
        if fixed is None:
            return settings
        grow = settings.transforms.output_hw((0, 0))[0]
        return settings.replace(size=int(fixed[0]) - grow)

    def objective(self, objective: Objective | str) -> Objective:
        """``objective`` itself, or parsed from text (``"mixed4:97 - 0.5*mixed3:12"``)."""
        if isinstance(objective, Objective):
            return objective
        return parse_objective(objective, self.head_layer)

    def batch_size(self, objective: Objective, settings: VisualizeSettings) -> int:
        """Images rendered at once: a channel batch's channels, else ``settings.batch``."""
        batches = [t for t in objective.terms if isinstance(t, ChannelBatchTerm)]
        if len({t.layer for t in batches}) > 1 or len(batches) > 1:
            raise ValueError("objective: at most one channel batch per visualisation")
        if not batches or len(batches[0].channels) == 1:
            return settings.batch  # one channel: every picture of the batch shows it
        if settings.batch not in (1, len(batches[0].channels)):
            raise ValueError("diversity: renders many pictures of one channel, not of a batch")
        return len(batches[0].channels)

    def render(
        self,
        objective: Objective | str,
        settings: VisualizeSettings | None = None,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        cancel=None,
    ) -> np.ndarray:
        """uint8 pictures (N, size, size, 3) that maximise ``objective`` ((N, size, size, 1)
        for a gray network: :meth:`picture_of` turns one into what is saved).

        ``on_progress`` gets a :class:`~kdream.dreamer.Progress` after every step (its
        ``image()`` is the batch's first picture); ``cancel`` (an Event or a function) is
        checked between steps and raises :class:`~kdream.dreamer.DreamCancelled`.
        """
        settings = settings or VisualizeSettings()
        objective = self.objective(objective)
        param, transforms = settings.image_param(self.channels), settings.transforms
        count = self.batch_size(objective, settings)
        step = self.compiled_step(objective, settings)
        step.check(objective, transforms.output_hw(param.size_hw))
        rng = np.random.default_rng(settings.seed)
        parameters = ops.convert_to_tensor(param.initial(count, rng))
        moments = (ops.zeros_like(parameters), ops.zeros_like(parameters))
        fixed_data = [ops.convert_to_tensor(b) for b in param.bases()]
        fixed_data += [ops.convert_to_tensor(d) for d in step.objective_data(objective, count)]
        rate = ops.convert_to_tensor(np.float32(settings.learning_rate))
        started = time.perf_counter()
        for index in range(settings.steps):
            if cancel_requested(cancel):
                raise DreamCancelled("visualisation cancelled")
            matrices = transforms.draw(rng, count, param.size_hw)
            values, gradient = step.gradient(
                parameters, ops.convert_to_tensor(matrices), *fixed_data
            )
            iteration = ops.convert_to_tensor(np.float32(index + 1))
            parameters, *moments = step.adam(parameters, gradient, *moments, rate, iteration)
            if on_progress is not None:
                loss = float(ops.convert_to_numpy(ops.mean(values)))
                on_progress(
                    Progress(
                        1, 1, index + 1, settings.steps, loss, param.size_hw,
                        (index + 1) / settings.steps, time.perf_counter() - started,
                        _snapshot=lambda p=parameters: self._pictures(step, p, fixed_data)[0],
                    )
                )  # fmt: skip
        return _to_uint8(self._pictures(step, parameters, fixed_data))

    def _pictures(self, step, parameters, fixed_data) -> np.ndarray:
        """Float pictures in [-1, 1] (the model range :class:`Progress` expects)."""
        unit = step.pictures(parameters, *fixed_data[: step.base_count])
        return ops.convert_to_numpy(unit) * 2.0 - 1.0

    def compiled_step(self, objective: Objective, settings: VisualizeSettings) -> _CompiledStep:
        """The compiled step for this objective's structure (a channel batch's channels are
        data: any channels of its layer share one step)."""
        key = (_structure(objective), settings.param, settings.pre_activation, settings.transforms)
        if key not in self._steps:
            self._steps[key] = _CompiledStep(self.dreamer, objective, settings)
        return self._steps[key]

    def picture_of(self, objective, pictures: np.ndarray, cell_px: int | None = None):
        """What a render is saved as: its one picture, or a labelled sheet of them; gray
        (H, W) for a gray network, which PNGs store in L mode.

        Example:
            >>> pictures = visualizer.render("conv1:0")            # doctest: +SKIP
            >>> visualizer.picture_of("conv1:0", pictures).shape   # doctest: +SKIP
            (224, 224)
        """
        objective = self.objective(objective)
        picture = pictures[0] if len(pictures) == 1 else sheet_of(objective, pictures, cell_px)
        if self.channels == 1:
            picture = picture[..., 0] if picture.shape[-1] == 1 else _luminance(picture)
        return picture

    def recipe(self, objective: Objective | str, settings: VisualizeSettings) -> dict:
        """Everything needed to render the same pictures again (embedded in PNGs)."""
        return {
            **self.dreamer.provenance(),
            "visualize": {
                **settings.to_dict(),
                "objective": self.objective(objective).to_recipe(),
            },
        }


def settings_from_recipe(recipe: dict) -> tuple[Objective, VisualizeSettings]:
    """The objective and settings of a visualisation recipe, checked as data.

    Example:
        >>> recipe = visualizer.recipe("mixed4:1", VisualizeSettings())    # doctest: +SKIP
        >>> objective, settings = settings_from_recipe(recipe)              # doctest: +SKIP
    """
    entry = recipe_parts.section(recipe, "visualize") if isinstance(recipe, dict) else None
    if entry is None:
        raise ValueError("recipe: this PNG holds no visualisation recipe ('visualize')")
    return objective_from_recipe(entry.get("objective")), VisualizeSettings.from_dict(entry)


def _structure(objective: Objective) -> Objective:
    """The objective with a channel batch's channels blanked: what the compiled step sees."""
    return Objective(
        tuple(
            dataclasses.replace(t, channels=()) if isinstance(t, ChannelBatchTerm) else t
            for t in objective.terms
        )
    )


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """A sheet of gray pictures as gray (its cells and titles are gray already)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb), "RGB").convert("L"))


def _to_uint8(unit_or_model_range: np.ndarray) -> np.ndarray:
    return np.clip(np.rint((unit_or_model_range + 1.0) * 127.5), 0, 255).astype(np.uint8)


class _CompiledStep:
    """The gradient of the objective with respect to the image parameters (through the
    parameterisation and the transforms), Adam, and the map to pictures."""

    def __init__(self, dreamer: Dreamer, objective: Objective, settings: VisualizeSettings):
        self.model = dreamer.model
        self.spec = dreamer.spec
        self.extractor = FeatureExtractor.build(
            objective.layer_names,
            base=dreamer.model,
            spec=dreamer.spec,
            pre_activation=settings.pre_activation,
        )
        param, transforms = settings.image_param(dreamer.spec.channels), settings.transforms
        self.size = settings.size
        self.base_count = len(param.bases())
        self.data_keys = objective.data_keys
        names, base_count = self.extractor.layer_names, self.base_count

        def prepare(parameters, matrices, *data):
            pixels = param.to_unit_rgb(parameters, *data[:base_count])
            return transforms.apply(pixels, matrices) * 2.0 - 1.0

        def objective_of_outputs(outputs, matrices, *data):
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            named = dict(zip(self.data_keys, data[base_count:]))
            return objective(dict(zip(names, outputs)), named)

        self.gradient = backend.input_gradient(
            self.extractor.model, objective_of_outputs, prepare=prepare
        )
        self.adam = backend.compile_function(adam_ascent)
        self.pictures = backend.compile_function(param.to_unit_rgb)

    def objective_data(self, objective: Objective, count: int) -> list[np.ndarray]:
        """The data tensors the objective reads, in ``objective.data_keys`` order."""
        data = []
        for key in self.data_keys:
            if key != CHANNEL_SELECTION:
                raise ValueError(f"visualize: no data for objective input {key!r}")
            (term,) = [t for t in objective.terms if isinstance(t, ChannelBatchTerm)]
            channels = int(self.model.get_layer(term.layer).output.shape[-1])
            rows = term.channels if len(term.channels) == count else term.channels * count
            data.append(channel_selection(rows, channels))
        return data

    def check(self, objective: Objective, input_hw) -> None:
        """One clear error for a layer, channel, unit or position the model lacks, or an
        image too small for its layers."""
        check_layer_names(self.model, objective.layer_names, self.spec)
        if self.spec.fixed_hw is not None and tuple(input_hw) != tuple(self.spec.fixed_hw):
            fitting = self.spec.fixed_hw[0] - (int(input_hw[0]) - self.size)
            raise ValueError(
                f"size: {self.spec.display_name} takes {self.spec.fixed_hw[0]} px inputs only; "
                f"with these transforms that is --size {fitting}"
            )
        # A classifier's head has no positions: only spatial outputs bound the size.
        spatial = all(len(output.shape) == 4 for output in self.extractor.model.outputs)
        minimum = self.extractor.min_side() if spatial else self.spec.min_input_side
        if min(input_hw) < minimum:
            raise ValueError(f"size: these layers need images of at least {minimum} px")
        for term in objective.terms:
            indices = list(getattr(term, "channels", None) or ())
            indices += [term.channel] if isinstance(term, NeuronTerm) else []
            indices += [term.unit] if isinstance(term, ClassTerm) else []
            check_channel_indices(self.model, term.layer, indices)
            if isinstance(term, NeuronTerm):
                self._check_position(term, input_hw)

    def _check_position(self, term: NeuronTerm, input_hw) -> None:
        height, width = spatial_size(self.model, [term.layer], input_hw)[term.layer]
        if term.x >= width or term.y >= height:
            raise ValueError(
                f"neuron: {term.layer} is {width}x{height} positions at this size; "
                f"x must be below {width} and y below {height} (got {term.x},{term.y})"
            )


def cell_titles(objective, count: int) -> list[str]:
    """``layer:channel`` per picture of a channel batch; otherwise the objective's first
    term, numbered when there are several pictures of it.

    Example:
        >>> from kdream.objectives import channel_batch
        >>> cell_titles(channel_batch("mixed4", [3, 9]), 2)
        ['mixed4:3', 'mixed4:9']
    """
    for term in objective.terms:
        if term.kind == "channel_batch" and len(term.channels) == count:
            return [f"{term.layer}:{c}" for c in term.channels]
    first = objective.terms[0]
    name = first.layer
    if getattr(first, "channels", None):
        name += ":" + ",".join(map(str, first.channels))
    elif first.kind == "neuron":
        name += f":{first.channel}@{first.x},{first.y}"
    elif first.kind == "class":
        name = f"class:{first.unit}"
    return [name] if count == 1 else [f"{name} #{i + 1}" for i in range(count)]


def sheet_of(objective, pictures, cell_px: int | None = None) -> np.ndarray:
    """Several pictures of one render as one labelled contact sheet (``layer:channel``
    titles, see :func:`cell_titles`), as ``kdream visualize`` and the TUI write them.

    Example:
        >>> from kdream.objectives import channel_batch
        >>> sheet_of(channel_batch("mixed4", [3, 9]), np.zeros((2, 32, 32, 3), np.uint8)).shape
        (54, 76, 3)
    """
    from kdream.techniques.sheets import contact_sheet

    titles = cell_titles(objective, len(pictures))
    return contact_sheet(list(pictures), titles, cell_px or int(pictures.shape[1]))


def visualize(
    objective,
    size: int = 224,
    steps: int | None = None,
    seed: int = 0,
    *,
    model=None,
    weights="auto",
    on_progress=None,
    cancel=None,
    **settings,
) -> np.ndarray:
    """Render ``objective`` (text like ``"mixed4:97"`` or an :class:`Objective`) from noise:
    uint8 pictures (N, size, size, 3). Loads the model each call; use :class:`Visualizer`
    for many renders. ``settings`` are further :class:`VisualizeSettings` fields.

    Example:
        >>> import kdream
        >>> kdream.visualize("mixed3:5", size=96, steps=2, weights="random").shape
        (1, 96, 96, 3)
    """
    chosen = VisualizeSettings(size=size, seed=seed, **settings)
    if steps is not None:
        chosen = chosen.replace(steps=steps)
    visualizer = Visualizer(weights, model)
    return visualizer.render(objective, chosen, on_progress=on_progress, cancel=cancel)
