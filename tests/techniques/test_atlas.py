"""The atlas' numbers on a small trained model with planted channels: a channel whose
kernel is zero and whose bias is negative is dead, a channel copied from another is its
duplicate; every statistic equals a plain numpy computation over the same activations;
receptive fields and crops land where they must; a cancelled run resumes to the very
files an uninterrupted run writes."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from kdream.ascent.dreamer import DreamCancelled
from kdream.io.atlas import ATLAS_JSON, AtlasOptions, build_atlas
from kdream.io.atlas.site import example_path, picture_path
from kdream.techniques.atlas.receptive import crop, crop_box, measure, square_holding
from kdream.techniques.atlas.statistics import DUPLICATE_CORRELATION
from kdream.techniques.atlas.survey import survey
from kdream.techniques.visualize.render import Visualizer

SIDE = 32
DEAD, ORIGINAL, COPY = 3, 1, 5
FAST = dict(steps=3, diversity=0, batch=4)


def shapes(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """32x32 RGB noise in [0, 1]; class 1 has a bright red square somewhere."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.4, (count, SIDE, SIDE, 3)).astype("float32")
    labels = np.arange(count) % 2
    for index in np.flatnonzero(labels):
        y, x = rng.integers(0, SIDE - 8, 2)
        images[index, y : y + 8, x : x + 8, 0] = 1.0
    return images, labels


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A trained classifier (RGB, 32x32, pixels in 0..1) whose conv2 has channel DEAD
    killed and channel COPY made a copy of ORIGINAL, saved as a user's .keras file; and
    photos (uint8) to survey it on."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIDE, SIDE, 3), name="pixels")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs, name="squares")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images, labels = shapes(256, seed=1)
    model.fit(images, labels, epochs=3, batch_size=32, verbose=0)
    kernel, bias = model.get_layer("conv2").get_weights()
    kernel[..., DEAD], bias[DEAD] = 0.0, -1.0
    kernel[..., COPY], bias[COPY] = kernel[..., ORIGINAL], bias[ORIGINAL]
    model.get_layer("conv2").set_weights([kernel, bias])
    folder = tmp_path_factory.mktemp("atlas_model")
    model.save(folder / "squares.keras")
    photos, _ = shapes(6, seed=2)
    return folder / "squares.keras", model, np.rint(photos * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def visualizer(planted):
    return Visualizer(weights="auto", model=str(planted[0]))


def reference_maps(model, photos: np.ndarray, layer: str) -> np.ndarray:
    """The layer's activations by Keras alone, as the model was trained (pixels / 255)."""
    features = keras.Model(model.input, model.get_layer(layer).output)
    scaled = photos.astype("float32") / 255.0
    return np.asarray(keras.ops.convert_to_numpy(features(scaled)), np.float64)


def test_planted_dead_and_duplicate_channels_are_found_exactly(planted, visualizer):
    _, model, photos = planted
    found = survey(visualizer.dreamer, list(photos), {"conv2": range(8)}, len(photos))
    stats = found["conv2"]
    maps = reference_maps(model, photos, "conv2").reshape(-1, 8)
    never = tuple(int(c) for c in np.flatnonzero((maps > 0).sum(axis=0) == 0))
    assert DEAD in stats.dead and stats.dead == never
    correlation = np.corrcoef(maps[:, [c for c in range(8) if c not in never]].T)
    expected = int((np.triu(correlation > DUPLICATE_CORRELATION, k=1)).sum())
    assert (ORIGINAL, COPY) in [(a, b) for a, b, _ in stats.duplicates]
    assert len(stats.duplicates) == expected
    assert all(DEAD not in pair[:2] for pair in stats.duplicates)


def test_statistics_equal_numpy_over_every_position(planted, visualizer):
    _, model, photos = planted
    stats = survey(visualizer.dreamer, list(photos), {"conv2": (0, 2, 4)}, len(photos))["conv2"]
    maps = reference_maps(model, photos, "conv2")[..., [0, 2, 4]].reshape(-1, 3)
    assert stats.positions == len(maps) == len(photos) * SIDE * SIDE
    np.testing.assert_allclose(stats.mean, maps.mean(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(stats.max, maps.max(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats.active, (maps > 0).mean(axis=0), atol=1e-9)
    positive = np.maximum(maps, 0)
    sparseness = 1 - positive.mean(0) ** 2 / (positive**2).mean(0)
    np.testing.assert_allclose(stats.selectivity, sparseness / (1 - 1 / len(maps)), rtol=1e-4)


def test_examples_are_the_strongest_positions_of_their_photos(planted, visualizer):
    _, model, photos = planted
    stats = survey(visualizer.dreamer, list(photos), {"conv2": [ORIGINAL]}, len(photos))["conv2"]
    maps = reference_maps(model, photos, "conv2")[..., ORIGINAL]
    examples = stats.examples[0]
    assert 1 <= len(examples) <= 9
    values = [e.value for e in examples]
    assert values == sorted(values, reverse=True)
    assert values[0] == pytest.approx(maps.max(), rel=1e-5)
    for example in examples:  # each is its photo's activation at its centre
        y, x = example.centre
        assert example.value == pytest.approx(maps[example.photo, y, x], rel=1e-5, abs=1e-6)
    per_photo = [e.photo for e in examples]
    assert max(per_photo.count(p) for p in per_photo) <= 2  # 6 photos: 2 each at most


def uniform_blur(folder) -> str:
    """One 5x5 'same' convolution averaging the picture: receptive field 5 px exactly."""
    inputs = keras.Input((None, None, 3))
    conv = keras.layers.Conv2D(1, 5, padding="same", use_bias=False, name="blur")
    model = keras.Model(inputs, conv(inputs), name="blur")
    conv.set_weights([np.full((5, 5, 3, 1), 1 / 75, np.float32)])
    model.save(folder / "blur.keras")
    return str(folder / "blur.keras")


def test_receptive_field_and_crops_land_on_the_feature(tmp_path):
    visualizer = Visualizer(model=uniform_blur(tmp_path))
    photo = np.zeros((40, 60, 3), np.uint8)
    photo[19:24, 40:45] = 255  # a bright 5x5 square, centre (21, 42): one position sees it all
    assert measure(visualizer.dreamer, ["blur"], photo) == {"blur": (5, (1.0, 1.0))}
    stats = survey(visualizer.dreamer, [photo], {"blur": [0]}, 1)["blur"]
    assert stats.receptive_field == 5
    assert stats.examples[0][0].centre == (21, 42)
    piece = crop(photo, stats.examples[0][0].centre, stats.receptive_field, 10)
    assert piece.shape == (10, 10, 3)
    assert crop_box((21, 42), 5, (40, 60)) == (19, 40, 24, 45)
    assert crop_box((1, 58), 5, (40, 60)) == (0, 55, 5, 60)  # moved inside the photo
    assert piece.min() == 255  # the crop is the square


def test_square_holding_a_share_of_the_mass():
    mass = np.zeros((11, 11))
    mass[5, 5], mass[5, 8] = 9.0, 1.0
    assert square_holding(mass, (5, 5), 0.9) == 1
    assert square_holding(mass, (5, 5), 0.95) == 7
    assert square_holding(np.zeros((4, 4)), (2, 2), 0.9) == 4


def site_files(folder) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in (".png", ".jpg")
    }


def test_a_cancelled_atlas_resumes_to_the_uninterrupted_files(planted, visualizer, tmp_path):
    model_file, _, photos = planted
    paths = []
    for index, photo in enumerate(photos[:3]):
        paths.append(tmp_path / f"photo{index}.png")
        keras.utils.save_img(paths[-1], photo, scale=False)
    options = AtlasOptions(layers=("conv1", "conv2"), **FAST)
    whole = build_atlas(visualizer, paths, tmp_path / "whole", options)
    assert set(whole.layers) == {"conv1", "conv2"} and whole.classes.keys() == {0, 1}

    def cancel_after_first_batch(report):
        if report.phase == "channels" and report.done >= 4:
            raise DreamCancelled("stop")

    with pytest.raises(DreamCancelled):
        build_atlas(visualizer, paths, tmp_path / "resumed", options, cancel_after_first_batch)
    partial = site_files(tmp_path / "resumed")
    assert picture_path("conv1", 3) in partial and picture_path("conv1", 4) not in partial
    saved = json.loads((tmp_path / "resumed" / ATLAS_JSON).read_text())
    assert saved["complete"] is False
    kept = {name: (tmp_path / "resumed" / name).stat().st_mtime_ns for name in partial}

    build_atlas(visualizer, paths, tmp_path / "resumed", options)
    assert site_files(tmp_path / "resumed") == site_files(tmp_path / "whole")
    assert all((tmp_path / "resumed" / n).stat().st_mtime_ns == t for n, t in kept.items())
    saved = json.loads((tmp_path / "resumed" / ATLAS_JSON).read_text())
    assert saved["complete"] is True and DEAD in saved["layers"]["conv2"]["dead"]
    assert [ORIGINAL, COPY] in [pair[:2] for pair in saved["layers"]["conv2"]["duplicates"]]
    assert example_path("conv2", ORIGINAL, 0) in site_files(tmp_path / "whole")
    assert 0.0 <= saved["classes"]["0"] <= 1.0 and 0.0 <= saved["classes"]["1"] <= 1.0
