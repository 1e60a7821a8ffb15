"""One gradient-ascent step: roll -> tiles -> gradient -> smoothing -> normalise -> update.

Normalising is a division by the mean absolute value, preceded with ``--normalize lap``
by the Laplacian-pyramid normalisation of :mod:`~kdream.ascent.laplacian`.

The image stays on the device for a whole octave; the only host work per step
is drawing the random shift (from a seeded numpy generator, so every backend
sees the same shifts) and building the smoothing kernels.

Example:
    >>> step = AscentStep(extractor, objective)           # doctest: +SKIP
    >>> image, loss = step(image, shift=(3, -7), sigma=1.0, step_size=0.01, config=config)
"""

from __future__ import annotations

import dataclasses
import functools

import keras
import numpy as np
from keras import ops

from kdream import backend
from kdream.ascent.adam import adam_ascent
from kdream.ascent.laplacian import laplacian_normalize
from kdream.ascent.smoothing import cascade_kernels, kernel_radius, smooth
from kdream.ascent.tiling import TileLayout
from kdream.config import DreamConfig, laplacian_levels
from kdream.models.extractor import FeatureExtractor
from kdream.objectives.core import PIXELS, Objective

NORMALISE_EPSILON = 1e-8
MAX_DEVICE_CONSTANTS = 256
"""Update constants (kernels per sigma, step sizes) a step keeps on the device."""


def draw_shift(rng: np.random.Generator, image_hw, config: DreamConfig) -> tuple[int, int]:
    """Random roll for one step: jitter plus, when the image has several tiles, a random
    offset of the tile grid, so seams never stay in one place."""
    shift = []
    for length in image_hw:
        offset = int(rng.integers(-config.jitter, config.jitter + 1)) if config.jitter else 0
        if length > config.tile_size:
            offset += int(rng.integers(0, config.tile_size))
        shift.append(offset % length)
    return tuple(shift)


def sigma_at(step: int, steps: int, config: DreamConfig) -> float:
    """Smoothing sigma grows over each octave: coarse early patterns stay coherent,
    later steps sharpen them."""
    return config.smoothing * (0.2 + 0.8 * (step + 1) / steps)


class AscentStep:
    """Compiled pieces of one step for one extractor and objective; reusable across images.

    Shapes, not values, trigger compilation: step size, sigma and shift are tensors.
    """

    def __init__(self, extractor: FeatureExtractor, objective: Objective):
        self.extractor = extractor
        self.objective = objective
        model, names = _with_pixels(extractor, objective)
        self.layer_names = names
        keys = objective.data_keys

        def objective_of_outputs(outputs, *data):
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            return objective(dict(zip(names, outputs)), dict(zip(keys, data)))

        self.model = model
        self.gradient = backend.input_gradient(model, objective_of_outputs)
        # Smaller images or tiles would crash the network or collapse the deepest layer.
        self.min_side = extractor.min_side()
        self._functions = {}
        self._constants = {}
        self._forward = None

    def __call__(
        self,
        image,
        shift,
        sigma: float,
        step_size: float,
        config: DreamConfig,
        data=None,
        adam: AdamState | None = None,
    ):
        """One step on a device image (H, W, 3) in [-1, 1]: (new image, mean loss tensor).

        ``data`` (a :class:`~kdream.references.OctaveData`) holds what the objective
        reads besides activations; ``adam`` switches the update from DeepDream's
        normalised step to Adam (its state is updated in place; ``step_size`` is then
        the learning rate).
        """
        values, gradient = self.image_gradient(image, shift, config, data)
        backend.release_host_memory(image, collect_cycles=True)  # pasting, leftover cycles
        if adam is not None:
            return adam.step(image, gradient, step_size), ops.mean(values)
        radius = kernel_radius(config.smoothing) if config.smoothing > 0 else 0
        new_image = self._updater(radius, laplacian_levels(config.normalize))(
            image,
            gradient,
            self._on_device(("kernels", float(sigma), radius), _kernels, sigma, radius),
            self._on_device(("step size", float(step_size)), np.float32, step_size),
        )
        return new_image, ops.mean(values)

    def _on_device(self, key, make, *args):
        """A constant of the update, copied to the device once: every octave repeats the
        same sigmas, and on a GPU each copy from ordinary host memory waits for the
        device to finish the work queued before it (torch), stalling the step."""
        if key not in self._constants:
            if len(self._constants) >= MAX_DEVICE_CONSTANTS:  # a long session's old recipes
                self._constants.clear()
            self._constants[key] = ops.convert_to_tensor(make(*args))
        return self._constants[key]

    def image_gradient(self, image, shift, config: DreamConfig, data=None):
        """Per-tile objective values and the raw gradient of the whole image (H, W, 3).

        The image is rolled by ``shift``, cut into tiles, each tile differentiated on its
        own, and the tile gradients pasted and rolled back into place.
        """
        layout = self.tile_layout(tuple(int(d) for d in image.shape[:2]), config)
        shift_key = tuple(int(s) for s in shift)
        shift = backend.roll_shift(shift)
        tiles = self.cut(image, layout, shift)
        shared, per_tile = {}, {}
        if data is not None:
            shared = data.shared
            per_tile = data.for_tiles(layout, shift_key, shift, config.tile_batch)
        values, tile_grads = self.tile_gradients(tiles, config.tile_batch, shared, per_tile)
        del tiles  # an image's worth of memory, not needed while pasting
        return values, self._compiled("paste", layout)(tile_grads, shift)

    def cut(self, image, layout: TileLayout, shift):
        """``image`` rolled by ``shift`` (from :func:`backend.roll_shift`) and cut into
        ``layout``'s tiles, as the step cuts the dream."""
        return self._compiled("cut", layout)(image, shift)

    def features(self, images) -> dict:
        """Forward pass: {layer name: activations} of images (N, H, W, 3) in [-1, 1].

        Compiled once per shape; the weights are arguments, as in the gradient.
        """
        if self._forward is None:
            model = self.model

            def forward(images, trainable, non_trainable):
                outputs, _ = model.stateless_call(trainable, non_trainable, images, training=False)
                return outputs

            self._forward = backend.compile_function(forward)
        outputs = self._forward(
            images,
            [v.value for v in self.model.trainable_variables],
            [v.value for v in self.model.non_trainable_variables],
        )
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return dict(zip(self.layer_names, outputs))

    def tile_layout(self, image_hw, config: DreamConfig) -> TileLayout:
        """Tiles of at most ``tile_size`` (and at least the layers' minimum); a network of
        one input size gets tiles of exactly that size."""
        fixed = self.extractor.fixed_hw
        if fixed is not None:
            return TileLayout.for_image(image_hw, fixed, fixed)
        return TileLayout.for_image(image_hw, config.tile_size, self.min_side)

    def tile_gradients(self, tiles, tile_batch: int, shared=None, per_tile=None):
        """Per-tile objective values and gradients, ``tile_batch`` tiles per network pass:
        peak memory follows the batch, not the number of tiles.

        ``shared`` data go to every batch whole; ``per_tile`` data are sliced with the tiles.
        """
        shared, per_tile = shared or {}, per_tile or {}
        keys = self.objective.data_keys
        count = int(tiles.shape[0])
        values, grads = [], []
        for begin in range(0, count, tile_batch):
            end = begin + tile_batch
            data = [per_tile[k][begin:end] if k in per_tile else shared[k] for k in keys]
            batch_values, batch_grads = self.gradient(tiles[begin:end], *data)
            values.append(batch_values)
            grads.append(batch_grads)
        backend.release_host_memory(tiles)  # the network's activations
        if len(grads) == 1:
            return values[0], grads[0]
        return ops.concatenate(values, axis=0), ops.concatenate(grads, axis=0)

    def _compiled(self, kind: str, layout: TileLayout):
        # Where compiled code takes any image size (TensorFlow on a CPU), the layout is an
        # argument too: every octave's layout of one grid shares one trace.
        free = backend.shape_free()
        key = (kind, layout.grid if free else layout)
        if key not in self._functions:

            def where(vector) -> TileLayout:
                return TileLayout.from_vector(vector, layout.grid) if free else layout

            if kind == "cut":

                def function(image, shift, vector):
                    return where(vector).cut(ops.roll(image, shift, axis=(0, 1)))

            else:

                def function(tile_grads, shift, vector):
                    pasted = where(vector).paste(tile_grads)
                    return ops.roll(pasted, _negate(shift), axis=(0, 1))

            self._functions[key] = backend.compile_function(function, any_size=True)
        compiled = self._functions[key]
        vector = ops.convert_to_tensor(layout.as_vector()) if free else None
        return lambda first, shift: compiled(first, shift, vector)

    def _updater(self, radius: int, levels: int = 0):
        # The pyramid's depth sets which ops are traced: part of the key, a Python int.
        key = ("update", radius, levels)
        if key not in self._functions:

            def function(image, gradient, kernels, step_size):
                return update(image, gradient, kernels if radius else None, step_size, levels)

            self._functions[key] = backend.compile_function(function, any_size=True)
        return self._functions[key]


def _with_pixels(extractor: FeatureExtractor, objective: Objective):
    """The model the step differentiates and the names of its outputs: the extractor's,
    plus its input pixels when a term reads the :data:`PIXELS` pseudo-layer."""
    names = extractor.layer_names
    if PIXELS not in objective.layer_names:
        return extractor.model, names
    model = extractor.model
    wrapped = keras.Model(
        model.inputs, [model.inputs[0], *model.outputs], name="kdream_with_pixels"
    )
    return wrapped, (PIXELS, *names)


class Adam:
    """Adam instead of DeepDream's normalised steps, for runs that minimise a loss (style
    transfer); ``start(image)`` gives one octave's state, kept on the device.

    Example:
        >>> state = Adam().start(ops.zeros((64, 64, 3)))     # doctest: +SKIP
        >>> image = state.step(image, gradient, learning_rate=0.02)
    """

    def start(self, image) -> AdamState:
        return AdamState(ops.zeros_like(image), ops.zeros_like(image))


@dataclasses.dataclass
class AdamState:
    """Adam's moments for one octave's image (device tensors) and its step count."""

    first: object
    second: object
    count: int = 0

    def step(self, image, gradient, learning_rate: float):
        """Ascend ``gradient`` (of the objective to maximise) by one Adam step, clipped to
        the pixel range. The moments stay on the device."""
        self.count += 1
        image, self.first, self.second = _pixel_adam()(
            image,
            gradient,
            self.first,
            self.second,
            ops.convert_to_tensor(np.float32(learning_rate)),
            ops.convert_to_tensor(np.float32(self.count)),
        )
        return image


@functools.cache
def _pixel_adam():
    def pixel_adam(image, gradient, first, second, rate, iteration):
        image, first, second = adam_ascent(image, gradient, first, second, rate, iteration)
        return ops.clip(image, -1.0, 1.0), first, second

    return backend.compile_function(pixel_adam, any_size=True)


def _kernels(sigma: float, radius: int) -> np.ndarray:
    """The smoothing cascade's kernels for ``sigma`` (a placeholder without smoothing)."""
    return cascade_kernels(sigma, radius) if radius else np.zeros((1, 1), "float32")


def _negate(shift):
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


def update(image, gradient, kernels, step_size, levels: int = 0):
    """Smooth, normalise once for the whole image (per-tile normalising leaves seams),
    step, and clip to the valid pixel range.

    ``levels`` > 0 first gives each band of a Laplacian pyramid that deep RMS 1; the
    mean-abs division still follows, so ``step_size`` keeps its meaning.
    """
    if kernels is not None:
        gradient = smooth(gradient, kernels)
    if levels:
        gradient = laplacian_normalize(gradient, levels)
    gradient = gradient / (ops.mean(ops.abs(gradient)) + NORMALISE_EPSILON)
    return ops.clip(image + step_size * gradient, -1.0, 1.0)
