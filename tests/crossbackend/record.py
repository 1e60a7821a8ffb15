"""Record what this backend dreams, for the cross-backend comparison.

Run once per backend (the nox ``tests`` sessions do it):

    KERAS_BACKEND=jax python tests/crossbackend/record.py .nox/_shared/crossbackend/jax.npz

It writes the image after one ascent step and after a short full run, both from
the embedded photo, real weights and a fixed seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from kdream import DreamConfig, Dreamer
from kdream.io.images.loading import load_sample
from kdream.pixels import resize as resize_rgb
from kdream.pixels import to_model_range
from kdream.weights.resolve import fetch

CONFIG = DreamConfig(octaves=2, octave_scale=1.4, steps=4, tile_size=160, seed=3)
SIZE_HW = (150, 225)


def record(path: Path) -> None:
    from keras import ops

    dreamer = Dreamer(weights=fetch("inception2015"))
    photo = resize_rgb(load_sample().rgb, SIZE_HW)
    step = dreamer.ascent_step(CONFIG)
    one_step, _ = step(
        ops.convert_to_tensor(to_model_range(photo)), (11, -23), 1.0, CONFIG.step_size, CONFIG
    )
    np.savez(
        path,
        backend=dreamer.backend,
        one_step=ops.convert_to_numpy(one_step),
        full_run=dreamer.dream(photo, CONFIG),
        photo=photo,
    )


if __name__ == "__main__":
    record(Path(sys.argv[1]))
