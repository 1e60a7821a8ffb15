"""Guided dreams: the feature-matching term, its recipe, the run and the command."""

from __future__ import annotations

import functools

import keras
import numpy as np
import pytest
from keras import ops

import kdream
from kdream import DreamConfig, backend
from kdream.objectives.guide import GuideTerm, best_match_similarity, guide
from kdream.objectives.recipes import from_recipe
from kdream.objectives.references import ReferenceImage, bind
from tests.ascent.test_dreamer import photo
from tests.cli.test_cli import FAST, write_photo
from tests.cli.test_cli import kdream as run_kdream


def flowers(seed=3, size=(112, 112)) -> np.ndarray:
    """A guide with its own colours and stripes, unlike :func:`photo`."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[0], 0 : size[1]]
    stripes = np.stack([np.sin(x / 3.0), np.sin((x + y) / 4.0), np.cos(y / 2.5)], -1)
    return np.clip((stripes + 1) * 127 + rng.normal(0, 10, stripes.shape), 0, 255).astype(np.uint8)


def test_value_is_the_mean_best_dot_product_and_its_gradient_the_best_match():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 3, 4, 5)).astype("float32")
    guide_features = rng.normal(size=(7, 5)).astype("float32")
    term = GuideTerm("x", 1.5, (ReferenceImage.of(np.zeros((4, 4, 3), np.uint8)),))
    data = {term.data_keys[0]: ops.convert_to_tensor(guide_features)}

    identity = keras.Sequential([keras.Input((3, 4, 5)), keras.layers.Identity()])
    values, gradient = backend.input_gradient(
        identity, lambda out, g: term.evaluate(out, {term.data_keys[0]: g})
    )(ops.convert_to_tensor(features), data[term.data_keys[0]])

    dots = features @ guide_features.T  # (2, 3, 4, 7)
    np.testing.assert_allclose(
        ops.convert_to_numpy(values), 1.5 * dots.max(-1).mean((1, 2)), rtol=1e-5
    )
    best = guide_features[dots.argmax(-1)]  # the notebook's y[:, A.argmax(1)]
    np.testing.assert_allclose(ops.convert_to_numpy(gradient), 1.5 * best / 12, rtol=1e-5)


def test_guide_composes_and_its_recipe_names_the_image_by_sha256():
    image = flowers()
    objective = kdream.layer("mixed3") + 2 * guide(image, layers="mixed4", name="flowers.png")
    term = objective.terms[1]
    assert (term.kind, term.layer, term.weight) == ("guide", "mixed4", 2.0)
    recipe = objective.to_recipe()
    assert recipe[1]["guide"] == {"sha256": term.references[0].sha256, "name": "flowers.png"}

    replayed = from_recipe(recipe)
    assert replayed == objective and replayed.terms[1].references[0].pixels is None
    bound = bind(replayed, [ReferenceImage.of(image)])
    np.testing.assert_array_equal(bound.terms[1].references[0].pixels, image)
    with pytest.raises(ValueError, match="no given image matches"):
        bind(replayed, [ReferenceImage.of(photo())])
    with pytest.raises(ValueError, match="sha256"):
        from_recipe([{"kind": "guide", "layer": "mixed4", "guide": {"sha256": "12"}}])


@functools.cache
def inception2015_dreamer():
    """InceptionV3 with the real 2015 weights, built once for this module and test_style."""
    from kdream import Dreamer

    return Dreamer(weights="inception2015")


@pytest.fixture
def real_dreamer():
    return inception2015_dreamer()


def test_guided_dream_has_features_closer_to_the_guide_than_a_plain_dream(real_dreamer):
    image, guide_image = photo(128, 128), flowers()
    config = DreamConfig(octaves=1, steps=8, jitter=8, seed=1)
    plain = real_dreamer.dream(image, config, objective=kdream.layer("mixed4"))
    guided = real_dreamer.dream(image, config, objective=guide(guide_image, "mixed4"))

    step = real_dreamer.ascent_step(kdream.layer("mixed4"))

    def features(picture):
        pixels = picture.astype("float32")[None] / 127.5 - 1.0
        return ops.convert_to_numpy(step.features(ops.convert_to_tensor(pixels))["mixed4"])

    target = features(guide_image)
    plain_match = best_match_similarity(features(plain), target)
    guided_match = best_match_similarity(features(guided), target)
    start_match = best_match_similarity(features(image), target)
    assert guided_match > plain_match + 0.02 and guided_match > start_match + 0.02


def test_guided_dream_command_replays_and_refuses_another_guide(tmp_path):
    photo_file = write_photo(tmp_path / "photo.png")
    guide_file = write_photo(tmp_path / "flowers.png", size=(100, 100), seed=4)
    other = write_photo(tmp_path / "other.png", size=(100, 100), seed=5)
    args = ["--guide", guide_file, "--layers", "mixed4=1"]
    first = run_kdream("dream", photo_file, *args, *FAST, "-o", "g.png", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = run_kdream(
        "dream", "--recipe", "g.png", photo_file, "--guide", guide_file, "-o", "again.png",
        "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    from PIL import Image

    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "g.png")), np.asarray(Image.open(tmp_path / "again.png"))
    )
    wrong = run_kdream(
        "dream", "--recipe", "g.png", photo_file, "--guide", other, "-o", "x.png", cwd=tmp_path
    )
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1
    assert "other.png is not the recipe's guide" in wrong.stderr
    missing = run_kdream("dream", photo_file, "--guide", "nope.png", *FAST, cwd=tmp_path)
    assert missing.returncode == 2 and "nope.png" in missing.stderr
    assert missing.stderr.count("\n") == 1
