"""Feature visualisation: pictures, grown from noise, that excite a channel, a neuron or
a class as much as possible.

The same machinery as a dream (objectives, ``backend.input_gradient``, compiled
functions, :class:`~kdream.dreamer.Progress`, cancel), with a different start (noise, or
a photo to accentuate), a different parameterisation of the image
(:mod:`~kdream.techniques.visualize.param`: a 1/f spectrum in decorrelated colour, or
MACO's phases over natural magnitudes) and random transforms every step
(:mod:`~kdream.techniques.visualize.transforms`), optimised with Adam
(:mod:`~kdream.techniques.visualize.step`). Per step the host only draws the transforms;
the parameters and the optimiser state stay on the device.

Many channels of one layer render as one batch: which channel each image shows is data
(a one-hot selection), so the compiled step serves any channels of that layer.

Example:
    >>> visualizer = Visualizer(weights="inception2015")                  # doctest: +SKIP
    >>> pictures = visualizer.render("mixed4:97", VisualizeSettings(size=160))  # doctest: +SKIP
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

from kdream import recipe as recipe_parts
from kdream.ascent.dreamer import DreamCancelled, Dreamer, Progress, cancel_requested
from kdream.objectives.core import Objective
from kdream.objectives.recipes import from_recipe as objective_from_recipe
from kdream.objectives.text import visualisation_objective
from kdream.objectives.visual import ChannelBatchTerm
from kdream.pixels import resize, rgb_picture
from kdream.techniques.visualize.settings import VisualizeSettings
from kdream.techniques.visualize.step import VisualizeStep


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
        self._steps: dict[tuple, VisualizeStep] = {}

    @property
    def head_layer(self) -> str | None:
        """The output layer when the model ends in a classifier (non-spatial output)."""
        if self.dreamer.spec.file is None:
            return None  # the built-in families are built without their classifiers
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
        """``objective`` itself, or parsed from text (``"mixed4:97 - 0.5*mixed3:12"``) as
        every interface renders text (:func:`~kdream.objectives.text.visualisation_objective`:
        a lone channel is :func:`~kdream.objectives.visual.single_channel`, so
        ``--objective mixed4:97``, ``--layer mixed4 --channel 97`` and the TUI draw one
        picture)."""
        if isinstance(objective, Objective):
            return objective
        return visualisation_objective(objective, self.head_layer)

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
        start: np.ndarray | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        cancel=None,
        part: slice | None = None,
    ) -> np.ndarray:
        """uint8 pictures (N, size, size, 3) that maximise ``objective`` ((N, size, size, 1)
        for a gray network: :meth:`picture_of` turns one into what is saved). With
        ``settings.alpha`` each picture has one more channel: its importance map
        (:meth:`importance_of`).

        ``start``: a photo (uint8 (H, W, 3) or (H, W)) to accentuate instead of noise
        (Hamblin et al., 2024): the pictures start as the photo, resized so its longer
        side is ``settings.size``, and ``settings.closeness`` holds them near it.

        ``on_progress`` gets a :class:`~kdream.dreamer.Progress` after every step (its
        ``image()`` is the batch's first picture); ``cancel`` (an Event or a function) is
        checked between steps and raises :class:`~kdream.dreamer.DreamCancelled`.

        ``part``: render only these pictures of the batch (a channel batch's channels
        ``part``), exactly as the whole render would: every random draw is the whole
        batch's, then sliced, so the parts of a render spread over machines
        (:mod:`kdream.distributed`) add up to it.
        """
        settings = settings or VisualizeSettings()
        objective = self.objective(objective)
        photo = None if start is None else self.start_picture(start, settings.size)
        size_hw = None if photo is None else photo.shape[:2]
        param, transforms = settings.image_param(self.channels, size_hw), settings.transforms
        count = self.batch_size(objective, settings)
        picked = slice(None) if part is None else part
        step = self.compiled_step(objective, settings, split=photo is not None or settings.alpha)
        step.check(objective, transforms.output_hw(param.size_hw), settings.size)
        rng = np.random.default_rng(settings.seed)
        if photo is None:
            parameters = ops.convert_to_tensor(param.initial(count, rng)[picked])
        else:
            photos = np.repeat(photo[None], count, axis=0)[picked]
            parameters = ops.convert_to_tensor(param.initial_from(photos))
            photo = ops.convert_to_tensor(photos)
        moments = (ops.zeros_like(parameters), ops.zeros_like(parameters))
        fixed_data = [ops.convert_to_tensor(b) for b in param.bases()]
        fixed_data += [
            ops.convert_to_tensor(d[picked]) for d in step.objective_data(objective, count)
        ]
        rate = ops.convert_to_tensor(np.float32(settings.learning_rate))
        closeness = ops.convert_to_tensor(np.float32(settings.closeness))
        importance = None
        started = time.perf_counter()
        for index in range(settings.steps):
            if cancel_requested(cancel):
                raise DreamCancelled("visualisation cancelled")
            matrices = ops.convert_to_tensor(transforms.draw(rng, count, param.size_hw)[picked])
            if step.split:
                values, gradient, on_pixels = step.split_gradient(
                    parameters, matrices, fixed_data, photo, closeness
                )
                if settings.alpha:
                    magnitude = ops.sum(ops.abs(on_pixels), axis=-1)
                    importance = magnitude if importance is None else importance + magnitude
            else:
                values, gradient = step.gradient(parameters, matrices, *fixed_data)
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
        pictures = _to_uint8(self._pictures(step, parameters, fixed_data))
        if importance is None:
            return pictures
        alpha = importance_alpha(ops.convert_to_numpy(importance))
        return np.concatenate([pictures, alpha[..., None]], axis=-1)

    def start_picture(self, photo: np.ndarray, size: int) -> np.ndarray:
        """A photo as a render starts from it: float32 (h, w, channels) in [0, 1], its
        longer side ``size`` (gray networks see its luminance)."""
        rgb = rgb_picture(photo, "--from photo")
        height, width = rgb.shape[:2]
        scale = size / max(height, width)
        size_hw = (max(1, round(height * scale)), max(1, round(width * scale)))
        picture = resize(rgb, size_hw)
        if self.channels == 1:
            picture = _luminance(picture)
        return np.asarray(picture, np.float32).reshape(*size_hw, self.channels) / 255.0

    def _pictures(self, step, parameters, fixed_data) -> np.ndarray:
        """Float pictures in [-1, 1] (the model range :class:`Progress` expects)."""
        unit = step.pictures(parameters, *fixed_data[: step.base_count])
        return ops.convert_to_numpy(unit) * 2.0 - 1.0

    def compiled_step(
        self, objective: Objective, settings: VisualizeSettings, split: bool = False
    ) -> VisualizeStep:
        """The compiled step for this objective's structure (a channel batch's channels are
        data: any channels of its layer share one step)."""
        structure = _structure(objective)
        key = (structure, settings.param, settings.pre_activation, settings.transforms, split)
        if key not in self._steps:
            self._steps[key] = VisualizeStep(self.dreamer, objective, settings, split)
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
        pictures = pictures[..., : self.channels]  # without an importance map
        picture = pictures[0] if len(pictures) == 1 else sheet_of(objective, pictures, cell_px)
        if self.channels == 1:
            picture = picture[..., 0] if picture.shape[-1] == 1 else _luminance(picture)
        return picture

    def importance_of(self, objective, pictures: np.ndarray, cell_px: int | None = None):
        """The importance maps of a render made with ``alpha`` as saved beside
        :meth:`picture_of`: one picture's (H, W) alpha channel, or a labelled gray sheet
        of them; None for a render without them."""
        if pictures.shape[-1] == self.channels:
            return None
        maps = pictures[..., -1:]
        if len(maps) == 1:
            return maps[0, ..., 0]
        return _luminance(sheet_of(self.objective(objective), maps, cell_px))

    def recipe(self, objective: Objective | str, settings: VisualizeSettings, start=None) -> dict:
        """Everything needed to render the same pictures again (embedded in PNGs);
        ``start``: the photo a render started from, as a
        :class:`~kdream.objectives.references.ReferenceImage` (its sha256 is recorded)."""
        entry = {**settings.to_dict(), "objective": self.objective(objective).to_recipe()}
        if start is not None:
            entry["from"] = start.to_recipe()
        return {**self.dreamer.provenance(), "visualize": entry}

    def picture_recipe(self, objective, settings: VisualizeSettings, start=None, cell_px=None):
        """The recipe a saved picture or sheet carries: :meth:`recipe` and the sheet's cell
        size (a lone picture's: its size). ``kdream visualize`` and the TUI save it, so the
        replay of either's picture writes the same file.

        Example:
            >>> visualizer.picture_recipe("mixed4:97", settings)["sheet"]  # doctest: +SKIP
            {'cell': 224}
        """
        recipe = self.recipe(objective, settings, start)
        return recipe_parts.with_parts(recipe, sheet={"cell": cell_px or settings.size})


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


def importance_alpha(importance: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) alpha from summed gradient magnitudes: each picture's map over its
    99th percentile, clipped (MACO's transparency, robust to a few hot pixels)."""
    top = np.percentile(importance, 99, axis=(1, 2), keepdims=True)
    unit = np.clip(importance / np.maximum(top, 1e-12), 0.0, 1.0)
    return np.rint(unit * 255).astype(np.uint8)


def _to_uint8(unit_or_model_range: np.ndarray) -> np.ndarray:
    return np.clip(np.rint((unit_or_model_range + 1.0) * 127.5), 0, 255).astype(np.uint8)


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
    start=None,
    on_progress=None,
    cancel=None,
    **settings,
) -> np.ndarray:
    """Render ``objective`` (text like ``"mixed4:97"`` or an :class:`Objective`) from noise,
    or accentuate it in the photo ``start`` (uint8 RGB): uint8 pictures (N, H, W, 3). Loads
    the model each call; use :class:`Visualizer` for many renders. ``settings`` are further
    :class:`VisualizeSettings` fields (``param="maco"``, ``alpha=True``, ``closeness=50``).

    Example:
        >>> import kdream
        >>> kdream.visualize("mixed3:5", size=96, steps=2, weights="random").shape
        (1, 96, 96, 3)
        >>> kdream.visualize("mixed3:5", size=96, steps=2, weights="random", param="maco",
        ...                  alpha=True).shape
        (1, 96, 96, 4)
    """
    chosen = VisualizeSettings(size=size, seed=seed, **settings)
    if steps is not None:
        chosen = chosen.replace(steps=steps)
    visualizer = Visualizer(weights, model)
    return visualizer.render(objective, chosen, start=start, on_progress=on_progress, cancel=cancel)
