"""A real local Ray with two CPUs, started once for the session, and a tiny own model
(loaded by every actor in safe mode, as the CLI does) so that the actors start fast."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest
import ray  # nox installs the ray extra for the tests
from PIL import Image

from kdream.distributed.cluster import short_temp_dir


@pytest.fixture(scope="session")
def ray_cluster():
    """Ray on this machine with 2 CPUs; its address, for a CLI run that joins it."""
    context = ray.init(
        num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, **short_temp_dir()
    )  # nox's TMPDIR is too deep for Ray's sockets
    yield context.address_info["address"]
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """An RGB CNN of any input size (pixels 0..255), saved as a .keras file."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3), name="rgb")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    keras.Model(inputs, x, name="tiny").save(path)
    return path


def write_photos(folder, count: int, size=(48, 64)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    for index in range(count):
        pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"photo{index}.png")
    return folder
