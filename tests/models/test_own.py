"""Users' own .keras models, as a user brings them: a small gray CNN trained here on
synthetic stripes, an RGB network of any input size on 0..255 pixels, and files kdream must
refuse (Python code in a Lambda, no spatial layers, missing files), through the CLI."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from kdream.config import DreamConfig
from kdream.io.images.metadata import read_recipe
from kdream.models.extractor import FeatureExtractor
from kdream.models.factory import model_spec
from kdream.models.families import bare_network
from kdream.models.spec import ModelError
from kdream.pixels import to_model_range
from tests.cli.test_cli import write_photo
from tests.models.test_models import in_process_cli, kdream

PHOTO_HW = (64, 80)
SIDE = 28
GRAY_FAST = ["--octaves", "1", "--steps", "10", "--quiet"]


@pytest.fixture
def cli(monkeypatch, capfd):
    return in_process_cli(monkeypatch, capfd)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# --------------------------------------------------------------------------- models


def stripes(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 gray images in [0, 1]: noise; class 1 also has a bright diagonal stripe."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.45, (count, SIDE, SIDE, 1)).astype("float32")
    labels = np.arange(count) % 2
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    for index in np.flatnonzero(labels):
        offset = rng.integers(-10, 11)
        stripe = np.abs(x - y - offset) <= 1
        images[index, stripe, 0] = rng.uniform(0.85, 1.0)
    return images, labels


def gray_cnn() -> keras.Model:
    inputs = keras.Input((SIDE, SIDE, 1), name="pixels")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="mnistlike")


def rgb_any_size_cnn() -> keras.Model:
    """Any input size, RGB pixels in 0..255 (the model rescales them itself)."""
    inputs = keras.Input((None, None, 3), name="rgb")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.ZeroPadding2D(1, name="pad")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="rgb_conv1")(x)
    x = keras.layers.Dropout(0.1, name="drop")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="rgb_conv2")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="rgb_conv3")(x)
    outputs = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, outputs, name="rgb255")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The model files, built (and the gray one trained) once for the module."""
    folder = tmp_path_factory.mktemp("own_models")
    keras.utils.set_random_seed(0)
    model = gray_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    images, labels = stripes(512, seed=1)
    model.fit(images, labels, epochs=3, batch_size=32, verbose=0)
    test_images, test_labels = stripes(128, seed=2)
    accuracy = np.mean(np.argmax(model.predict(test_images, verbose=0), -1) == test_labels)
    assert accuracy > 0.9, f"the stripe detector did not learn ({accuracy:.2f})"
    model.save(folder / "mnistlike.keras")

    # The same network trained one epoch longer, saved under the same name elsewhere.
    model.fit(images, labels, epochs=1, batch_size=32, verbose=0)
    (folder / "retrained").mkdir()
    model.save(folder / "retrained" / "mnistlike.keras")

    rgb_any_size_cnn().save(folder / "rgb255.keras")
    return {
        "gray": folder / "mnistlike.keras",
        "retrained": folder / "retrained" / "mnistlike.keras",
        "rgb": folder / "rgb255.keras",
    }


def conv2_energy(model_file: Path, gray: np.ndarray) -> float:
    """Mean squared conv2 activation over every 28x28 crop (stride 4) of a uint8 gray
    picture, preprocessed as the model was trained (pixels / 255)."""
    model = keras.saving.load_model(model_file, compile=False)
    features = keras.Model(model.input, model.get_layer("conv2").output)
    windows = np.lib.stride_tricks.sliding_window_view(gray, (SIDE, SIDE))[::4, ::4]
    crops = windows.reshape(-1, SIDE, SIDE, 1).astype("float32") / 255
    activations = keras.ops.convert_to_numpy(features(crops))
    return float(np.mean(np.square(activations)))


# --------------------------------------------------------------------------- in process


def test_gray_model_spec_catalogue_and_tiles(models):
    from kdream import Dreamer

    spec = model_spec(str(models["gray"]))
    assert spec.name == "mnistlike.keras" and spec.display_name == "mnistlike.keras"
    assert spec.channels == 1 and spec.fixed_hw == (SIDE, SIDE)
    # Input, Flatten and the Dense head have no height x width: not in the catalogue.
    assert list(spec.catalogue) == ["conv1", "pool1", "conv2", "pool2"]
    assert spec.default_layers == {"conv2": 1.0}
    assert spec.input_range == (0.0, 1.0) and spec.sha256 == sha256_of(models["gray"])
    assert spec.recipe_entry() == {
        "file": "mnistlike.keras",
        "sha256": sha256_of(models["gray"]),
        "input_range": [0.0, 1.0],
    }

    dreamer = Dreamer(model=str(models["gray"]))
    assert dreamer.weights.source == "model-file"
    assert dreamer.weights.sha256 == sha256_of(models["gray"])
    config = DreamConfig(layers={"conv2": 1.0}, octaves=1, steps=1)
    step = dreamer.ascent_step(config)
    assert step.tile_layout(PHOTO_HW, config).tile_hw == (SIDE, SIDE)
    assert step.tile_layout((SIDE, SIDE), config).count == 1
    # The stock InceptionV3 layers become the model's default layer.
    assert dict(dreamer.config_for(DreamConfig()).layers) == {"conv2": 1.0}
    # The model gets [0, 1] pixels: the mapping undoes [-1, 1].
    pixels = np.arange(0, 256, 5, dtype=np.uint8).reshape(1, 1, -1, 1)
    mapped = keras.ops.convert_to_numpy(spec.mapping(to_model_range(pixels)))
    np.testing.assert_allclose(mapped, pixels / 255.0, atol=1e-6)


def test_gray_model_sees_the_photos_luminance(models, tmp_path):
    from kdream import Dreamer

    dreamer = Dreamer(model=str(models["gray"]))
    photo = write_photo(tmp_path / "photo.png", size=PHOTO_HW)
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    gray = dreamer.pixels_for_model(rgb)
    assert gray.shape == (*PHOTO_HW, 1) and gray.dtype == np.uint8
    pillow = np.asarray(Image.open(photo).convert("L")).astype(int)
    assert np.abs(gray[..., 0].astype(int) - pillow).max() <= 1
    # A gray model's dream comes back as (H, W).
    dreamed = dreamer.dream(rgb, DreamConfig(octaves=1, steps=1))
    assert dreamed.shape == PHOTO_HW and dreamed.dtype == np.uint8


def test_rgb_model_of_any_size_catalogue_skips_shape_only_layers(models):
    spec = model_spec(str(models["rgb"]), input_range=(0.0, 255.0))
    assert spec.channels == 3 and spec.fixed_hw is None
    # ZeroPadding2D and Dropout only repeat their input; pooling to a vector is not spatial.
    assert list(spec.catalogue) == ["rescale", "rgb_conv1", "rgb_conv2", "rgb_conv3"]
    assert all(spec.catalogue.values())
    assert spec.recipe_entry()["input_range"] == [0.0, 255.0]
    # Own models have no floor but the layers' own 2x2: padding 1, a 3x3 convolution,
    # a strided one (side 5 -> 2) and another valid one (side 9 -> 4 -> 2).
    network = bare_network(spec)
    min_sides = {
        name: FeatureExtractor.build([name], base=network, spec=spec).min_side()
        for name in spec.catalogue
    }
    assert min_sides == {"rescale": 2, "rgb_conv1": 2, "rgb_conv2": 5, "rgb_conv3": 9}
    pixels = np.random.default_rng(0).integers(0, 256, (1, 2, 3, 3), dtype=np.uint8)
    mapped = keras.ops.convert_to_numpy(spec.mapping(to_model_range(pixels)))
    np.testing.assert_allclose(mapped, pixels.astype("float32"), atol=1e-4)


def test_bad_model_files_are_refused_in_one_line(models, tmp_path):
    shutil.copy(models["gray"], tmp_path / "weights.h5")
    flat = keras.Sequential([keras.Input((16,)), keras.layers.Dense(2)])
    flat.save(tmp_path / "vector.keras")
    (tmp_path / "garbage.keras").write_bytes(b"not a zip file")
    cases = {
        tmp_path / "missing.keras": "model file not found",
        tmp_path / "weights.h5": "saved as .keras files",
        tmp_path / "vector.keras": "expected one image input",
        tmp_path / "garbage.keras": "not a .keras file",
    }
    for path, phrase in cases.items():
        with pytest.raises(ModelError) as caught:
            model_spec(str(path))
        message = str(caught.value)
        assert phrase in message and path.name in message and "\n" not in message, message
    with pytest.raises(ModelError, match="LOW must be below HIGH"):
        model_spec(str(models["rgb"]), input_range=(5.0, 1.0))


# --------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def gray_dream(models, tmp_path_factory):
    """One dream of a 64x80 RGB photo on conv2 of the trained gray model, via the CLI."""
    folder = tmp_path_factory.mktemp("gray_dream")
    run = folder / "run"
    run.mkdir()
    model = shutil.copy(models["gray"], run / "mnistlike.keras")
    photo = write_photo(folder / "photo.png", size=PHOTO_HW, seed=3)
    result = kdream(
        "dream", photo, "--model", model, "--layers", "conv2=1", *GRAY_FAST,
        "-o", run / "out.png", cwd=folder,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return {"folder": folder, "photo": photo, "model": Path(model), "out": run / "out.png"}


def test_own_model_dream_grows_its_features(gray_dream):
    before = np.asarray(Image.open(gray_dream["photo"]).convert("L"))
    after = np.asarray(Image.open(gray_dream["out"]))
    assert after.shape == before.shape
    energy_before = conv2_energy(gray_dream["model"], before)
    energy_after = conv2_energy(gray_dream["model"], after)
    assert energy_after > 1.1 * energy_before, (energy_before, energy_after)


def test_own_model_dream_is_gray_and_records_the_model_file(gray_dream):
    out = Image.open(gray_dream["out"])
    assert out.mode == "L" and out.size == (PHOTO_HW[1], PHOTO_HW[0])
    recipe = read_recipe(gray_dream["out"])
    assert recipe["model"] == {
        "file": "mnistlike.keras",
        "sha256": sha256_of(gray_dream["model"]),
        "input_range": [0.0, 1.0],
    }
    assert recipe["weights"]["source"] == "model-file"
    assert recipe["config"]["layers"] == {"conv2": 1.0}
    assert recipe["input"] == {"height": 64, "width": 80, "source": "photo.png"}


def test_own_model_recipe_replays_with_the_file_beside_the_png(gray_dream):
    folder = gray_dream["folder"]
    # The recipe names mnistlike.keras; it lies beside run/out.png, not in the cwd.
    assert not (folder / "mnistlike.keras").exists()
    again = kdream("dream", "--recipe", "run/out.png", "photo.png", "-o", "again.png",
                   "--quiet", cwd=folder)  # fmt: skip
    assert again.returncode == 0, again.stderr
    dreamed = np.asarray(Image.open(gray_dream["out"]))
    np.testing.assert_array_equal(np.asarray(Image.open(folder / "again.png")), dreamed)
    assert read_recipe(folder / "again.png")["model"] == read_recipe(gray_dream["out"])["model"]


def test_own_model_recipe_refuses_another_file_naming_both_hashes(gray_dream, models):
    folder = gray_dream["folder"]
    other = models["retrained"]
    assert other.name == gray_dream["model"].name  # same name, other weights
    result = kdream("dream", "--recipe", "run/out.png", "photo.png", "--model", other,
                    "-o", "other.png", "--quiet", cwd=folder)  # fmt: skip
    assert result.returncode == 2, result.stderr
    line = one_line(result)
    assert sha256_of(other) in line and sha256_of(gray_dream["model"]) in line, line
    assert not (folder / "other.png").exists()


def test_own_model_recipe_without_the_file_says_which_file(gray_dream, tmp_path, cli):
    shutil.copy(gray_dream["out"], tmp_path / "out.png")
    shutil.copy(gray_dream["photo"], tmp_path / "photo.png")
    result = cli("dream", "--recipe", "out.png", "photo.png", "-o", "again.png", "--quiet",
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stderr
    line = one_line(result)
    assert "mnistlike.keras" in line and "--model" in line, line
    assert sha256_of(gray_dream["model"]) in line, line
    assert not (tmp_path / "again.png").exists()


def test_layers_lists_an_own_models_catalogue(models, tmp_path):
    model = shutil.copy(models["gray"], tmp_path / "mnistlike.keras")
    result = kdream("layers", "--model", model, "--size", "80x64", cwd=tmp_path, COLUMNS="200")
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert {"conv1", "pool1", "conv2", "pool2"} <= set(rows), result.stdout
    assert "flatten" not in rows and "head" not in rows
    assert "Conv2D" in rows["conv2"] and "16" in rows["conv2"], rows["conv2"]
    assert "28x28" in result.stdout  # the fixed input size is said
    # The network only ever sees 28x28 tiles: its layers' sizes are the tile's, whatever
    # the image size (a 64x80 image dreams fine, so no layer is "too small").
    assert "28x28" in rows["conv1"] and "14x14" in rows["conv2"] and "7x7" in rows["pool2"]
    assert "too small" not in result.stdout, result.stdout


def test_input_range_is_recorded_for_an_rgb_model(models, tmp_path):
    photo = write_photo(tmp_path / "photo.png", size=PHOTO_HW)
    result = kdream(
        "dream", photo, "--model", models["rgb"], "--input-range", "0,255",
        "--layers", "rgb_conv2=1", "--octaves", "1", "--steps", "2", "-o", "rgb.png",
        "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = Image.open(tmp_path / "rgb.png")
    assert out.mode == "RGB" and out.size == (PHOTO_HW[1], PHOTO_HW[0])
    assert not np.array_equal(np.asarray(out), np.asarray(Image.open(photo)))
    model = read_recipe(tmp_path / "rgb.png")["model"]
    assert model == {
        "file": "rgb255.keras",
        "sha256": sha256_of(models["rgb"]),
        "input_range": [0.0, 255.0],
    }


def test_bad_input_range_is_one_line(models, tmp_path, cli):
    photo = write_photo(tmp_path / "photo.png", size=PHOTO_HW)
    for value in ("5,1", "0;255", "1,1"):
        result = cli("dream", photo, "--model", models["rgb"], "--input-range", value,
                     "--quiet", cwd=tmp_path)  # fmt: skip
        assert result.returncode == 2, (value, result.stderr)
        line = one_line(result)
        assert "--input-range" in line and value in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_missing_model_file_is_one_line(tmp_path, cli):
    photo = write_photo(tmp_path / "photo.png", size=PHOTO_HW)
    result = cli("dream", photo, "--model", "nowhere/mine.keras", "--quiet", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = one_line(result)
    assert "mine.keras" in line and "not found" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_model_without_spatial_layers_is_one_line(tmp_path, cli):
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "flat.keras")
    photo = write_photo(tmp_path / "photo.png", size=PHOTO_HW)
    result = cli("dream", photo, "--model", "flat.keras", "--quiet", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = one_line(result)
    assert "flat.keras" in line and "no spatial layers" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.keras", "photo.png"]


# --------------------------------------------------------------------------- Lambda refusal

MARKER_ENV = "KDREAM_TEST_LAMBDA_MARKER"


def write_marker(tensor):
    """A named function in a Lambda layer: leaves a trace wherever it runs."""
    Path(os.environ[MARKER_ENV]).write_text("ran")
    return tensor


def evil_model(path: Path, marker: Path, kind: str) -> Path:
    """A model whose Lambda layer carries Python code that writes ``marker``: a lambda
    (Keras stores its bytecode) or a named function (Keras stores its module and name)."""
    target = str(marker)  # travels in the lambda's closure
    function = {
        "lambda": lambda t: (__import__("pathlib").Path(target).write_text("ran"), t)[1],
        "function": write_marker,
    }[kind]
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.Lambda(function, name="evil")(x)
    keras.Model(inputs, x).save(path)
    assert marker.read_text() == "ran"  # building ran it once, here
    marker.unlink()
    return path


@pytest.mark.parametrize("kind", ["lambda", "function"])
def test_lambda_with_python_code_is_refused_before_it_runs(tmp_path, monkeypatch, cli, kind):
    marker = (tmp_path / "marker.txt").resolve()
    monkeypatch.setenv(MARKER_ENV, str(marker))  # the CLI's processes inherit it
    evil_model(tmp_path / "evil.keras", marker, kind)
    photo = write_photo(tmp_path / "photo.png", size=PHOTO_HW)
    commands = [["dream", photo, "-o", "out.png", "--quiet"]]
    if kind == "lambda":
        commands.append(["layers"])
    # A named function is looked for by its module, which this process has imported: here
    # is where it could be found and run, if it ever were.
    run = kdream if kind == "lambda" else cli
    for command in commands:
        result = run(*command, "--model", "evil.keras", cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        line = one_line(result)
        assert "evil.keras" in line and "refused" in line, line
        assert "Lambda" in line and "Python code" in line, line
        assert not marker.exists(), f"{command[0]}: the Lambda's code ran"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.keras", "photo.png"]
    if kind == "lambda":
        # The file does carry code that runs on an unsafe load: the refusal above is what
        # kept it from running.
        keras.saving.load_model(tmp_path / "evil.keras", safe_mode=False)
        assert marker.read_text() == "ran"
