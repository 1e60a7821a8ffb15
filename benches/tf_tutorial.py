"""The reference kdream's default dream is compared with on TensorFlow: the loop of the
TensorFlow DeepDream tutorial (tensorflow.org/tutorials/generative/deepdream), in plain TF.

Also a plain script, the whole-process reference (``benches/test_whole_process.py``):
it imports TensorFlow, Keras, numpy and Pillow only (not kdream), builds InceptionV3 the
way the tutorial does (``keras.applications``, the extractor cut at the layers), loads a
weights file, dreams the tutorial's octaves and saves a PNG::

    python benches/tf_tutorial.py photo.png out.png --weights inception.weights.h5 \
        --layers mixed3,mixed5 --octaves 3 --octave-scale 1.3 --steps 10 --tile 512

What it keeps from the tutorial: one ``tf.function`` (shape-agnostic input
signature, traced once) that randomly rolls the image, loops over 512-pixel tiles
one by one, takes each tile's gradient with respect to the *whole* rolled image,
sums them, rolls back and normalises by the standard deviation; the update and
clipping run eagerly; octaves resize the image (``tf.image.resize``).

What it takes from kdream so the work compared is the same: the network and
weights (the extractor cut at the deepest layer), the layers and their weights
(mean of squares, as kdream's default objective), the octave sizes and steps per
octave.

``every_tile=True`` covers every pixel every step: the last tile of an axis is moved
inward to end at the border (the tutorial's own partial last tile can be a few pixels
wide, which InceptionV3 rejects), and every tile is a full 512 px. kdream splits each side
evenly instead (a 606 px octave is two 303 px tiles), so on the 3-octave 1024² recipe this
script differentiates ~1.5x kdream's pixels per step (3.1 against 2.0 Mpx): that is why
kdream looked 1.5x faster against it than against the team's shared peer
(``shared/peers/tf_tutorial_dream.py``, the tutorial's tiles as they fall, partial ones
included, i.e. each pixel once per step), which ``test_whole_process`` now also measures
against. The tutorial itself skips the last tile of each axis unless it is the only one
(``tf.range(0, size, tile)[:-1]``): on 1024 pixels it looks at one 512 tile of four per
step. ``every_tile=False`` reproduces that; it does less work per step, so it is timed as
an extra row, not as the reference.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

TUTORIAL_STEP_SIZE = 0.01


def tile_starts(length: int, tile_size: int, every_tile: bool) -> list[int]:
    """Start offsets the tutorial's loop visits along one axis."""
    starts = list(range(0, length, tile_size))
    if every_tile:
        return [min(start, max(length - tile_size, 0)) for start in starts]
    return starts[:-1] or [0]


def tile_shapes(image_hw, tile_size: int, every_tile: bool) -> list[tuple[int, int]]:
    """The (h, w) of every tile one tutorial step differentiates (for FLOP counting)."""
    height, width = image_hw
    tile_hw = (min(tile_size, height), min(tile_size, width))
    rows = len(tile_starts(height, tile_size, every_tile))
    columns = len(tile_starts(width, tile_size, every_tile))
    return [tile_hw] * (rows * columns)


class TiledGradients(tf.Module):
    """The tutorial's ``TiledGradients``: gradient of the tiles' summed loss, image-sized."""

    def __init__(self, model, layer_weights, tile_size: int = 512, every_tile: bool = True):
        super().__init__()
        self.model = model
        self.layer_weights = [float(w) for w in layer_weights]
        self.tile_size = int(tile_size)
        self.every_tile = every_tile
        self.rng = tf.random.Generator.from_seed(0)
        self._compiled = tf.function(
            self._gradients,
            input_signature=(
                tf.TensorSpec(shape=[None, None, 3], dtype=tf.float32),
                tf.TensorSpec(shape=[2], dtype=tf.int32),
            ),
        )

    def __call__(self, image, image_size):
        return self._compiled(image, image_size)

    def _loss(self, tile):
        activations = self.model(tf.expand_dims(tile, axis=0), training=False)
        if not isinstance(activations, (list, tuple)):
            activations = [activations]
        losses = [
            weight * tf.reduce_mean(tf.square(layer))
            for weight, layer in zip(self.layer_weights, activations)
        ]
        return tf.reduce_sum(losses)

    def _axis_starts(self, length):
        starts = tf.range(0, length, self.tile_size)
        if self.every_tile:
            return tf.minimum(starts, tf.maximum(length - self.tile_size, 0))
        starts = starts[:-1]
        return tf.cond(tf.size(starts) > 0, lambda: starts, lambda: tf.constant([0]))

    def _gradients(self, image, image_size):
        tile = self.tile_size
        shift = self.rng.uniform(shape=[2], minval=-tile, maxval=tile, dtype=tf.int32)
        rolled = tf.roll(image, shift=shift, axis=[0, 1])
        gradients = tf.zeros_like(rolled)
        for x in self._axis_starts(image_size[1]):
            for y in self._axis_starts(image_size[0]):
                with tf.GradientTape() as tape:
                    tape.watch(rolled)
                    loss = self._loss(rolled[y : y + tile, x : x + tile])
                gradients = gradients + tape.gradient(loss, rolled)
        gradients = tf.roll(gradients, shift=-shift, axis=[0, 1])
        return gradients / (tf.math.reduce_std(gradients) + 1e-8)


def tutorial_octave_sizes(image_hw, octaves: int, octave_scale: float):
    """The tutorial's sizes: ``base * scale**octave`` for octave in ``-(octaves-1) .. 0``."""
    return [
        tuple(int(round(side * octave_scale**octave)) for side in image_hw)
        for octave in range(-(octaves - 1), 1)
    ]


def tutorial_dream(tiled: TiledGradients, image: np.ndarray, sizes, steps: int) -> np.ndarray:
    """The tutorial's ``run_deep_dream_with_octaves`` over kdream's octave ``sizes``.

    ``image``: float32 (H, W, 3) in [-1, 1]; returns the dream at the original size.
    """
    original_hw = image.shape[:2]
    dreamed = tf.convert_to_tensor(image)
    for size in sizes:
        dreamed = tf.image.resize(dreamed, size)
        size_tensor = tf.constant(size, dtype=tf.int32)
        for _ in range(steps):
            gradients = tiled(dreamed, size_tensor)
            dreamed = tf.clip_by_value(dreamed + gradients * TUTORIAL_STEP_SIZE, -1, 1)
    return tf.image.resize(dreamed, original_hw).numpy()


def main(argv=None) -> None:
    import argparse

    import keras
    from PIL import Image

    parser = argparse.ArgumentParser(description="The TF DeepDream tutorial's loop, plain.")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--weights", help="InceptionV3 weights file (default: random)")
    parser.add_argument("--layers", default="mixed3,mixed5")
    parser.add_argument("--octaves", type=int, default=3)
    parser.add_argument("--octave-scale", type=float, default=1.3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--tile", type=int, default=512)
    args = parser.parse_args(argv)

    base = keras.applications.InceptionV3(include_top=False, weights=None)
    if args.weights:
        base.load_weights(args.weights)
    names = args.layers.split(",")
    model = keras.Model(base.input, [base.get_layer(name).output for name in names])
    photo = np.asarray(Image.open(args.input).convert("RGB"), dtype=np.float32)
    image = photo / 127.5 - 1.0  # inception_v3.preprocess_input
    tiled = TiledGradients(model, [1.0] * len(names), args.tile, every_tile=True)
    sizes = tutorial_octave_sizes(image.shape[:2], args.octaves, args.octave_scale)
    dreamed = tutorial_dream(tiled, image, sizes, args.steps)
    pixels = np.clip(np.rint((dreamed + 1.0) * 127.5), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(args.output)


if __name__ == "__main__":
    main()
