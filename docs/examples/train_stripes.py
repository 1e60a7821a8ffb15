"""Train a tiny CNN that tells diagonal stripes from blobs, and save it as ``stripes.keras``.

The README's own-model example: ``kdream dream photo.jpg --model stripes.keras --layers
conv3=1`` then shows what the network learned to look for (stripes, at its scale).

    python docs/examples/train_stripes.py stripes.keras     # ~20 s on a 2-core CPU
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up lines
import keras  # noqa: E402
import numpy as np  # noqa: E402

SIZE = 48


def pictures(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class 1: diagonal stripes of random period, phase and colour; class 0: soft blobs."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype("float32")
    images, labels = [], []
    for index in range(count):
        colour = rng.uniform(0.3, 1.0, 3)
        if index % 2:
            period, phase = rng.uniform(5, 10), rng.uniform(0, 6.3)
            angle = rng.choice([1.0, -1.0])
            pattern = 0.5 + 0.5 * np.sin((x + angle * y) * 2 * np.pi / period + phase)
        else:
            cx, cy = rng.uniform(8, 40, 2)
            pattern = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / rng.uniform(30, 120))
        noise = rng.normal(0, 0.05, (SIZE, SIZE, 3))
        images.append(np.clip(pattern[..., None] * colour + noise, 0, 1))
        labels.append(index % 2)
    return np.asarray(images, "float32"), np.asarray(labels)


def build() -> keras.Model:
    inputs = keras.Input((None, None, 3))  # any size: kdream tiles big photos
    x = keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(32, 3, activation="relu", padding="same", name="conv2")(x)
    x = keras.layers.MaxPooling2D(name="pool2")(x)
    x = keras.layers.Conv2D(32, 3, activation="relu", padding="same", name="conv3")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="stripes")(x)
    return keras.Model(inputs, outputs)


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    images, labels = pictures(1200, np.random.default_rng(0))
    model = build()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images, labels, epochs=4, batch_size=32, validation_split=0.2, verbose=2)
    model.save(sys.argv[1] if len(sys.argv) > 1 else "stripes.keras")
