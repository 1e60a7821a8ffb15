"""``--devices N`` (JAX): one picture's tile batches split over N local devices with Keras'
``DataParallel`` give the one-device picture bit for bit; other backends refuse in one line.
"""

from __future__ import annotations

import os
import subprocess
import sys

import keras

from kdream.cli.main import main

# In a fresh process: XLA reads the host device count once, when JAX starts.
SCRIPT = """
import sys
import keras, numpy as np
from kdream import DreamConfig, Dreamer
from kdream.backend import split_batches_over
from kdream.backend.jax import _sharded

config = DreamConfig(octaves=1, steps=3, tile_size=80, tile_batch=4, layers={"conv2": 1.0})
photo = np.random.default_rng(1).integers(0, 256, (192, 256, 3), dtype=np.uint8)
model = sys.argv[1]
one_device = Dreamer(model=model, input_range=(0, 255)).dream(photo, config)
split_batches_over(2)
dreamer = Dreamer(model=model, input_range=(0, 255))
two_devices = dreamer.dream(photo, config)
weight_devices = len(dreamer.model.weights[0].value.sharding.device_set)
shard_shapes = {s.data.shape for s in _sharded(keras.ops.zeros((4, 8, 8, 3))).addressable_shards}
print(weight_devices, sorted(shard_shapes), int(np.abs(one_device.astype(int) - two_devices).max()))
"""


def test_devices_split_a_picture_on_jax_and_are_refused_elsewhere(tiny_model, tmp_path, capsys):
    """Every backend checks its own side: JAX gives the one-device picture on two devices;
    the others refuse ``--devices`` in one line (Keras' distribution API is JAX-only)."""
    if keras.backend.backend() != "jax":
        photo = tmp_path / "photo.png"
        argv = ["dream", str(photo), "-o", str(tmp_path / "out.png"), "--devices", "2"]
        assert main(argv) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "only the JAX backend" in error
        return
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_model)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    # Weights on both devices, a batch of 4 tiles in halves of 2, the same pixels.
    assert result.stdout.split("\n")[-2] == "2 [(2, 8, 8, 3)] 0"
