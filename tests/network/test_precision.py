"""Precision: the network in bfloat16 where asked (weights, objective and gradient stay
float32), ``auto`` as measured, recorded in recipes, and a dream as strong as in float32."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from kdream import DreamConfig, Dreamer
from kdream.models.extractor import FeatureExtractor
from kdream.network.precision import policy_name, resolve
from kdream.pixels import to_model_range
from tests.cli.test_cli import kdream, write_photo


@pytest.mark.parametrize(
    ("backend", "flags", "gpu", "expected"),
    [
        ("tensorflow", {"avx512_bf16"}, False, "bfloat16"),
        ("torch", {"amx_bf16"}, False, "bfloat16"),
        ("jax", {"avx512_bf16"}, False, "float32"),  # XLA:CPU is slower in bfloat16
        ("tensorflow", {"avx2"}, False, "float32"),
        ("jax", set(), True, "bfloat16"),
    ],
)
def test_auto_picks_bfloat16_only_where_it_was_measured_faster(backend, flags, gpu, expected):
    assert resolve("auto", backend=backend, cpu_flags=flags, gpu=gpu) == expected
    assert resolve("float16", backend=backend, cpu_flags=flags, gpu=gpu) == "float16"


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision: must be one of"):
        policy_name("int8")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    y, x = np.mgrid[0:128, 0:160]
    base = np.stack([np.sin(x / 9), np.cos(y / 7), np.sin((x + y) / 11)], -1)
    return ((base + 1) * 110 + 10).astype(np.uint8)


def test_bfloat16_network_keeps_float32_weights_and_gradients():
    dreamer = Dreamer(weights="random", precision="bfloat16")
    conv = dreamer.model.get_layer("conv2d")
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"
    step = dreamer.ascent_step(DreamConfig(layers={"mixed3": 1.0}))
    image = ops.convert_to_tensor(np.zeros((1, 96, 96, 3), "float32"))
    values, gradient = step.gradient(image)
    assert ops.convert_to_numpy(values).dtype == np.float32
    assert ops.convert_to_numpy(gradient).dtype == np.float32
    assert dreamer.recipe(DreamConfig(), (96, 96))["precision"] == "bfloat16"


def test_a_bfloat16_dream_is_as_strong_as_a_float32_one(photo):
    """Activation gain of mixed3 + mixed5, measured in float32, within 10% (real weights)."""
    config = DreamConfig(octaves=1, steps=6, tile_size=160)
    reference = Dreamer(weights="inception2015")
    low = Dreamer(weights="inception2015", precision="bfloat16")
    extractor = FeatureExtractor.build(["mixed3", "mixed5"], base=reference.model)

    def strength(picture):
        activations = extractor.activations(ops.convert_to_tensor(to_model_range(picture)[None]))
        return float(
            ops.mean(activations["mixed3"] ** 2) + 1.5 * ops.mean(activations["mixed5"] ** 2)
        )

    start = strength(photo)
    gain32 = strength(reference.dream(photo, config)) / start
    gain16 = strength(low.dream(photo, config)) / start
    print(f"activation gain: float32 {gain32:.3f}, bfloat16 {gain16:.3f}")
    assert gain32 > 1.2
    assert abs(gain16 - gain32) / gain32 < 0.1


def test_the_recipe_replays_in_its_precision(tmp_path):
    photo = write_photo(tmp_path / "photo.png")
    fast = ["--weights", "random", "--octaves", "1", "--steps", "2", "--tile-size", "96", "--quiet"]
    first = kdream("dream", photo, *fast, "--precision", "bfloat16", "-o", "a.png", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = kdream("dream", photo, "--recipe", "a.png", "-o", "b.png", "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    from PIL import Image

    from kdream.io.images.metadata import read_recipe

    assert read_recipe(tmp_path / "b.png")["precision"] == "bfloat16"
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png"))
    )
