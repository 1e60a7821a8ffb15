"""One gradient-ascent step: roll -> tiles -> gradient -> smoothing -> normalise -> update.

The image stays on the device for a whole octave; the only host work per step
is drawing the random shift (from a seeded numpy generator, so every backend
sees the same shifts) and building the smoothing kernels.

Example:
    >>> step = AscentStep(extractor, objective)           # doctest: +SKIP
    >>> image, loss = step(image, shift=(3, -7), sigma=1.0, step_size=0.01, config=config)
"""

from __future__ import annotations

import numpy as np
from keras import ops

from kdream import _backend
from kdream.config import DreamConfig
from kdream.models import FeatureExtractor
from kdream.objectives import Objective
from kdream.smoothing import cascade_kernels, kernel_radius, smooth
from kdream.tiling import TileLayout

NORMALISE_EPSILON = 1e-8


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
        names = extractor.layer_names

        def objective_of_outputs(outputs):
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            return objective(dict(zip(names, outputs)))

        self.gradient = _backend.input_gradient(extractor.model, objective_of_outputs)
        # Smaller images or tiles would crash the network or collapse the deepest layer.
        self.min_side = extractor.min_side()
        self._functions = {}

    def __call__(self, image, shift, sigma: float, step_size: float, config: DreamConfig):
        """One step on a device image (H, W, 3) in [-1, 1]: (new image, mean loss tensor)."""
        values, gradient = self.image_gradient(image, shift, config)
        _backend.release_host_memory(image, collect_cycles=True)  # pasting, leftover cycles
        radius = kernel_radius(config.smoothing) if config.smoothing > 0 else 0
        kernels = cascade_kernels(sigma, radius) if radius else np.zeros((1, 1), "float32")
        new_image = self._updater(radius)(
            image,
            gradient,
            ops.convert_to_tensor(kernels),
            ops.convert_to_tensor(np.float32(step_size)),
        )
        return new_image, ops.mean(values)

    def image_gradient(self, image, shift, config: DreamConfig):
        """Per-tile objective values and the raw gradient of the whole image (H, W, 3).

        The image is rolled by ``shift``, cut into tiles, each tile differentiated on its
        own, and the tile gradients pasted and rolled back into place.
        """
        layout = self.tile_layout(tuple(int(d) for d in image.shape[:2]), config)
        shift = _backend.roll_shift(shift)
        tiles = self._compiled("cut", layout)(image, shift)
        values, tile_grads = self.tile_gradients(tiles, config.tile_batch)
        return values, self._compiled("paste", layout)(tile_grads, shift)

    def tile_layout(self, image_hw, config: DreamConfig) -> TileLayout:
        """Tiles of at most ``tile_size`` (and at least the layers' minimum); a network of
        one input size gets tiles of exactly that size."""
        fixed = self.extractor.fixed_hw
        if fixed is not None:
            return TileLayout.for_image(image_hw, fixed, fixed)
        return TileLayout.for_image(image_hw, config.tile_size, self.min_side)

    def tile_gradients(self, tiles, tile_batch: int):
        """Per-tile objective values and gradients, ``tile_batch`` tiles per network pass:
        peak memory follows the batch, not the number of tiles."""
        count = int(tiles.shape[0])
        values, grads = [], []
        for begin in range(0, count, tile_batch):
            batch_values, batch_grads = self.gradient(tiles[begin : begin + tile_batch])
            values.append(batch_values)
            grads.append(batch_grads)
        _backend.release_host_memory(tiles)  # the network's activations
        if len(grads) == 1:
            return values[0], grads[0]
        return ops.concatenate(values, axis=0), ops.concatenate(grads, axis=0)

    def _compiled(self, kind: str, layout: TileLayout):
        key = (kind, layout)
        if key not in self._functions:
            if kind == "cut":

                def function(image, shift):
                    return layout.cut(ops.roll(image, shift, axis=(0, 1)))

            else:

                def function(tile_grads, shift):
                    return ops.roll(layout.paste(tile_grads), _negate(shift), axis=(0, 1))

            self._functions[key] = _backend.compile_function(function)
        return self._functions[key]

    def _updater(self, radius: int):
        key = ("update", radius)
        if key not in self._functions:

            def function(image, gradient, kernels, step_size):
                return update(image, gradient, kernels if radius else None, step_size)

            self._functions[key] = _backend.compile_function(function)
        return self._functions[key]


def _negate(shift):
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


def update(image, gradient, kernels, step_size):
    """Smooth, normalise once for the whole image (per-tile normalising leaves seams),
    step, and clip to the valid pixel range."""
    if kernels is not None:
        gradient = smooth(gradient, kernels)
    gradient = gradient / (ops.mean(ops.abs(gradient)) + NORMALISE_EPSILON)
    return ops.clip(image + step_size * gradient, -1.0, 1.0)
