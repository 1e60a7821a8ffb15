"""The naive baseline: kdream's algorithm without tile batching and without compilation.

Same roll, same equal tiles, same objective, smoothing, normalisation and update
as :class:`kdream.ascent.AscentStep`, but every tile goes through the network on
its own and every operation runs eagerly:

* TensorFlow: ``tf.GradientTape`` outside ``tf.function``;
* JAX: ``jax.value_and_grad`` without ``jax.jit`` (op-by-op dispatch: slow, so the
  suite times it at a small size only);
* PyTorch: kdream is eager on torch already, so naive only drops the batching.

It lives here, not in kdream, because nobody should run it except to measure
what batching and compilation buy.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from kdream import backend
from kdream.ascent.smoothing import cascade_kernels, kernel_radius
from kdream.ascent.step import update
from kdream.ascent.tiling import TileLayout
from kdream.config import DreamConfig
from kdream.models.extractor import FeatureExtractor
from kdream.objectives.core import Objective


def eager_input_gradient(model, objective_of_outputs):
    """``gradient(images) -> (values, d sum(values) / d images)``, never compiled."""
    framework = backend.name()
    if framework == "tensorflow":
        return _tensorflow_eager_gradient(model, objective_of_outputs)
    if framework == "jax":
        return _jax_eager_gradient(model, objective_of_outputs)
    return backend.input_gradient(model, objective_of_outputs)  # torch: already eager


def _tensorflow_eager_gradient(model, objective_of_outputs):
    import tensorflow as tf

    def gradient(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            values = objective_of_outputs(model(images, training=False))
            total = tf.reduce_sum(values)
        return values, tape.gradient(total, images)

    return gradient


def _jax_eager_gradient(model, objective_of_outputs):
    import jax
    import jax.numpy as jnp

    def total_objective(images, trainable, non_trainable):
        outputs, _ = model.stateless_call(trainable, non_trainable, images, training=False)
        values = objective_of_outputs(outputs)
        return jnp.sum(values), values

    value_and_grad = jax.value_and_grad(total_objective, has_aux=True)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    def gradient(images):
        (_, values), grads = value_and_grad(images, trainable, non_trainable)
        return values, grads

    return gradient


class NaiveStep:
    """Drop-in for ``AscentStep.__call__``: one tile per network pass, nothing compiled."""

    def __init__(self, extractor: FeatureExtractor, objective: Objective):
        names = extractor.layer_names

        def objective_of_outputs(outputs):
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            return objective(dict(zip(names, outputs)))

        self.extractor = extractor
        self.gradient = eager_input_gradient(extractor.model, objective_of_outputs)

    def __call__(self, image, shift, sigma: float, step_size: float, config: DreamConfig):
        layout = TileLayout.for_image(tuple(int(d) for d in image.shape[:2]), config.tile_size)
        shift = tuple(int(s) for s in shift)
        tiles = layout.cut(ops.roll(image, shift, axis=(0, 1)))
        values, tile_grads = [], []
        for index in range(layout.count):
            tile_values, tile_grad = self.gradient(tiles[index : index + 1])
            values.append(tile_values)
            tile_grads.append(tile_grad[0])
        gradient = ops.roll(layout.paste(tile_grads), tuple(-s for s in shift), axis=(0, 1))
        radius = kernel_radius(config.smoothing) if config.smoothing > 0 else 0
        kernels = ops.convert_to_tensor(cascade_kernels(sigma, radius)) if radius else None
        new_image = update(image, gradient, kernels, ops.convert_to_tensor(np.float32(step_size)))
        return new_image, ops.mean(ops.concatenate(values, axis=0))
