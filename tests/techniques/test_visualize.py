"""Feature visualisation with the real 2015 InceptionV3 weights and a classifier trained
here: the pictures excite what they visualise, every channel is reachable, sheets are
labelled, and a seed (or a PNG's recipe) renders the same pixels again."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops
from PIL import Image

from kdream.cli.main import main
from kdream.io.images.loading import load_sample
from kdream.io.images.metadata import read_recipe
from kdream.models.extractor import FeatureExtractor
from kdream.network.layers import pre_activation_output
from kdream.objectives.visual import channel_batch, class_logit, diversity, neuron
from kdream.techniques.sheets import GAP_PX, TITLE_PX
from kdream.techniques.visualize.render import Visualizer, VisualizeSettings, cell_titles
from tests.cli.test_cli import kdream

ROOT = Path(__file__).resolve().parents[2]
LAYER = "mixed4"
SPECIFIC_CHANNELS = (500, 700)
DEAD_CHANNEL = 5
"""Exactly zero after its ReLU on grey and on noise: only its pre-activation has a gradient."""
SMALL = VisualizeSettings(size=112, steps=40)


@pytest.fixture(scope="module")
def visualizer():
    return Visualizer(weights="inception2015")


@pytest.fixture(scope="module")
def layer_output(visualizer):
    extractor = FeatureExtractor.build([LAYER], base=visualizer.dreamer.model)

    def channel_means(pixels_uint8):
        pixels = np.asarray(pixels_uint8, np.float32) / 127.5 - 1.0
        return ops.convert_to_numpy(extractor.model(ops.convert_to_tensor(pixels))).mean((1, 2))

    return channel_means


def photo_crops(side: int) -> np.ndarray:
    """Nine crops of the sample photo at three scales: the natural-image baseline."""
    photo = Image.fromarray(load_sample().rgb)
    crops = []
    for fraction in (1.0, 0.7, 0.5):
        crop_side = int(min(photo.size) * fraction)
        for left in np.linspace(0, photo.width - crop_side, 3).astype(int):
            box = (left, 0, left + crop_side, crop_side)
            crops.append(np.asarray(photo.crop(box).resize((side, side), Image.BILINEAR)))
    return np.stack(crops)


def edge_energy(pictures: np.ndarray) -> float:
    pictures = np.asarray(pictures, np.float32) / 255
    return float(
        np.abs(np.diff(pictures, axis=1)).mean() + np.abs(np.diff(pictures, axis=2)).mean()
    )


def test_channel_pictures_excite_their_own_channel_beyond_photos(visualizer, layer_output):
    channels = (*SPECIFIC_CHANNELS, DEAD_CHANNEL)
    grey_and_noise = np.stack(
        [
            np.full((112, 112, 3), 128, np.uint8),
            np.random.default_rng(0).integers(0, 256, (112, 112, 3)),
        ]
    )
    assert np.all(layer_output(grey_and_noise)[:, DEAD_CHANNEL] == 0.0)
    photos = photo_crops(SMALL.size)
    photo_means = layer_output(photos).mean(0)
    pictures = visualizer.render(channel_batch(LAYER, channels), SMALL)
    assert pictures.shape == (len(channels), 112, 112, 3)
    excitation = layer_output(pictures) / np.maximum(photo_means, 0.02)
    for index, chosen in enumerate(channels[:-1]):
        assert np.argmax(excitation[index]) == chosen
    dead = excitation[-1]
    assert dead[DEAD_CHANNEL] > 3.0  # alive, far beyond its mean on photos
    assert (dead > dead[DEAD_CHANNEL]).sum() < 0.05 * dead.size  # among the most excited
    # Structure, not blur or grey: contrast and edges at least a natural photo's.
    assert pictures.std(axis=(1, 2, 3)).min() > 0.3 * photos.std(axis=(1, 2, 3)).mean()
    assert edge_energy(pictures) > edge_energy(photos)


def luminance(pictures) -> np.ndarray:
    return np.asarray(pictures[..., :3], np.float64) @ [0.299, 0.587, 0.114]


def test_maco_pictures_excite_their_channel_and_map_where_it_looked(visualizer, layer_output):
    settings = SMALL.replace(param="maco", alpha=True)
    pictures = visualizer.render(channel_batch(LAYER, SPECIFIC_CHANNELS), settings)
    assert pictures.shape == (2, 112, 112, 4)  # the importance map as a fourth channel
    photos = photo_crops(SMALL.size)
    excitation = layer_output(pictures[..., :3]) / np.maximum(layer_output(photos).mean(0), 0.02)
    for index, chosen in enumerate(SPECIFIC_CHANNELS):
        # MACO's background keeps the photos' spectrum; in 40 steps its channel still
        # ranks among the layer's top 3 of 768, tens of times its mean on photos.
        assert (excitation[index] > excitation[index, chosen]).sum() < 3
        assert excitation[index, chosen] > 20
    # Every crop holds the middle; the borders are seen less often.
    alpha = pictures[..., 3].astype(np.float64)
    assert alpha[:, 28:84, 28:84].mean() > 1.5 * alpha[:, :12].mean()
    assert alpha.max() == 255 and alpha.std() > 20


def test_accentuation_stays_near_the_photo_while_its_channel_rises(visualizer, layer_output):
    photo = load_sample().rgb
    channel = 97  # fires a little on the photo (0.55 at 128 px), so "3x" has a base
    settings = VisualizeSettings(size=128, steps=48)  # the default closeness
    accented = visualizer.render(channel_batch(LAYER, [channel]), settings, start=photo)
    start = np.rint(visualizer.start_picture(photo, 128) * 255).astype(np.uint8)
    assert accented.shape == (1, *start.shape)  # the photo's aspect, longer side 128
    correlation = np.corrcoef(luminance(start).ravel(), luminance(accented[0]).ravel())[0, 1]
    assert correlation >= 0.6
    before, after = layer_output(np.stack([start, accented[0]]))[:, channel]
    assert after >= 3 * before > 0
    noise = visualizer.render(channel_batch(LAYER, [channel]), settings.replace(size=96))
    assert (
        np.corrcoef(luminance(start[:72, :96]).ravel(), luminance(noise[0, :72]).ravel())[0, 1]
        < 0.3
    )  # from noise, nothing of the photo


def test_a_seed_renders_the_same_pixels_and_another_seed_others(visualizer):
    settings = VisualizeSettings(size=96, steps=3, seed=4, batch=2)
    objective = channel_batch("mixed3", [7]) + diversity("mixed3", 100.0)
    first = visualizer.render(objective, settings)
    np.testing.assert_array_equal(first, visualizer.render(objective, settings))
    assert not np.array_equal(first[0], first[1])  # a batch of different pictures
    other = visualizer.render(objective, settings.replace(seed=5))
    assert np.abs(first.astype(int) - other.astype(int)).mean() > 1.0


def test_every_catalogue_layer_cuts_and_the_deepest_renders(visualizer):
    """mixed9 and mixed10 hold layers named as a pre-activation cut names its own (Keras'
    counter starts from zero there): once two layers shared a name and mixed10 could not
    be visualised at all."""
    catalogue = list(visualizer.dreamer.spec.catalogue)
    assert catalogue[-2:] == ["mixed9", "mixed10"]
    extractor = FeatureExtractor.build(
        catalogue, base=visualizer.dreamer.model, pre_activation=True
    )
    names = [layer.name for layer in extractor.model.layers]
    assert len(names) == len(set(names))
    images = ops.zeros((1, 160, 160, 3))
    channels = [int(output.shape[-1]) for output in extractor.model(images)]
    assert channels[-2:] == [2048, 2048]
    pictures = visualizer.render("mixed10:7", VisualizeSettings(size=160, steps=2))
    assert pictures.shape == (1, 160, 160, 3) and pictures.std() > 0


def test_neuron_positions_are_checked_against_the_layer_grid(visualizer):
    with pytest.raises(
        ValueError, match=r"neuron: mixed3 is (\d+)x\1 positions at this size; x must be below"
    ):
        visualizer.render(neuron("mixed3", 1, 9, 0), VisualizeSettings(size=96, steps=1))
    with pytest.raises(ValueError, match=r"channels: mixed3 has 768 channels \(0..767\); got 800"):
        visualizer.render("mixed3:800", VisualizeSettings(size=96, steps=1))


def stripes_circles_checkers(count: int, rng: np.random.Generator, size: int = 32):
    """Three classes of synthetic pictures in [0, 1]: stripes, rings, one disc."""
    y, x = np.mgrid[0:size, 0:size].astype("float32")
    images, labels = [], []
    for index in range(count):
        label, period, phase = index % 3, rng.uniform(5, 9), rng.uniform(0, 6.3)
        if label == 0:
            pattern = np.sin(x * 2 * np.pi / period + phase)
        elif label == 1:
            cx, cy = rng.uniform(8, size - 8, 2)
            pattern = np.sin(np.hypot(x - cx, y - cy) * 2 * np.pi / period + phase)
        else:
            cx, cy = rng.uniform(4, size - 4, 2)
            pattern = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / rng.uniform(20, 80)) - 0.5
        pattern = 0.5 + 0.4 * np.sign(pattern) + rng.normal(0, 0.05, (size, size))
        images.append(np.repeat(pattern[..., None], 3, -1))
        labels.append(label)
    return np.clip(np.asarray(images, "float32"), 0, 1), np.asarray(labels)


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    return trained_classifier(tmp_path_factory, channels=3)


@pytest.fixture(scope="module")
def gray_classifier_file(tmp_path_factory):
    """The same classifier on one channel: as users' X-ray, scan or spectrogram models."""
    return trained_classifier(tmp_path_factory, channels=1)


def trained_classifier(tmp_path_factory, channels: int):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, channels))
    hidden = keras.layers.Conv2D(12, 3, activation="relu", padding="same", name="conv1")(inputs)
    hidden = keras.layers.MaxPooling2D()(hidden)
    hidden = keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="conv2")(hidden)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    outputs = keras.layers.Dense(3, activation="softmax", name="shapes")(hidden)
    model = keras.Model(inputs, outputs)
    images, labels = stripes_circles_checkers(600, np.random.default_rng(0))
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(images[..., :channels], labels, epochs=6, batch_size=32, verbose=0)
    test_images, test_labels = stripes_circles_checkers(90, np.random.default_rng(1))
    predicted = model.predict(test_images[..., :channels], verbose=0).argmax(-1)
    assert (predicted == test_labels).mean() > 0.9  # it works: its class pictures mean something
    path = tmp_path_factory.mktemp("classifier") / f"shapes_{channels}.keras"
    model.save(path)
    return path, model


def test_class_pictures_make_a_trained_classifier_sure_of_their_class(classifier_file):
    path, model = classifier_file
    visualizer = Visualizer(weights="auto", model=str(path))
    assert visualizer.head_layer == "shapes"
    logits = pre_activation_output(visualizer.dreamer.model.get_layer("shapes"))
    assert tuple(logits.shape) == (None, 3)
    settings = VisualizeSettings(size=48, steps=64)
    # Every class at once (the unit is data), then one through the class term of --class.
    pictures = visualizer.render(channel_batch("shapes", [0, 1, 2], cosine_power=0), settings)
    probabilities = model.predict(pictures.astype("float32") / 255, verbose=0)
    assert np.all(np.diag(probabilities) >= 0.9), probabilities
    picture = visualizer.render(class_logit("shapes", 2), settings)
    assert model.predict(picture.astype("float32") / 255, verbose=0)[0, 2] >= 0.9


def test_a_gray_classifier_visualises_in_one_channel(gray_classifier_file, tmp_path, capsys):
    """A 1-channel model: one spectrum, no colour decorrelation, gray pictures its classifier
    is sure of, and L-mode PNGs from the command line (a channel and a sheet)."""
    path, model = gray_classifier_file
    visualizer = Visualizer(model=str(path))
    settings = VisualizeSettings(size=48, steps=64)
    assert settings.image_param(1).parameter_shape(2) == (2, 1, 48, 25, 2)
    pictures = visualizer.render(channel_batch("shapes", [0, 1, 2], cosine_power=0), settings)
    assert pictures.shape == (3, 48, 48, 1)
    probabilities = model.predict(pictures.astype("float32") / 255, verbose=0)
    assert np.all(np.diag(probabilities) >= 0.9), probabilities
    for args, size in (
        (["--layer", "conv2", "--channel", "3"], (48, 48)),
        (["--class", "0-2"], None),
    ):
        out = tmp_path / f"{args[1]}.png"
        assert main(["visualize", "--model", str(path), *args, "--size", "48", "--steps", "4",
                     "-o", str(out)]) == 0  # fmt: skip
        with Image.open(out) as saved:
            assert saved.mode == "L"
            assert size is None or saved.size == size
            assert np.asarray(saved).std() > 0
        assert read_recipe(out)["visualize"]["objective"]
    capsys.readouterr()


def test_a_keras_applications_network_with_its_head_visualises_classes(tmp_path, capsys):
    """keras.applications with include_top, saved as a .keras file, is an own model with a
    head: --class works on it, at the one size its fixed input takes once the transforms
    pad the picture, and another size is refused with the size that fits."""
    network = keras.applications.MobileNetV2(
        input_shape=(96, 96, 3), alpha=0.35, include_top=True, weights=None, classes=10
    )
    path = tmp_path / "mobilenet_head.keras"
    network.save(path)
    visualizer = Visualizer(model=str(path), input_range=(-1.0, 1.0))
    settings = visualizer.default_settings().replace(steps=2)
    grow = settings.transforms.output_hw((0, 0))[0]
    assert settings.size == 96 - grow
    pictures = visualizer.render(class_logit(visualizer.head_layer, 7), settings)
    assert pictures.shape == (1, 96 - grow, 96 - grow, 3)
    common = ["visualize", "--model", str(path), "--input-range=-1,1", "--class", "7"]
    out = tmp_path / "c7.png"
    assert main([*common, "--steps", "1", "--size", "96", "-o", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith(f"that is --size {96 - grow}") and not out.exists()


def test_sheet_cells_are_titled_layer_channel_in_a_grid(tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    code = main([
        "visualize", "--layer", "mixed3", "--channels", "1-3,9", "--size", "80", "--steps", "2",
        "--weights", "inception2015", "--quiet", "-o", str(sheet),
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "4 pictures" in capsys.readouterr().out
    pixels = np.asarray(Image.open(sheet))
    # 4 cells: 2 x 2 grid of 80 px cells, each with a title row above it.
    assert pixels.shape == (2 * (80 + TITLE_PX + GAP_PX) + GAP_PX, 2 * (80 + GAP_PX) + GAP_PX, 3)
    recipe = read_recipe(sheet)
    objective = recipe["visualize"]["objective"]
    assert objective[0]["channels"] == [1, 2, 3, 9]
    assert cell_titles(channel_batch("mixed3", [1, 2, 3, 9]), 4) == [
        "mixed3:1", "mixed3:2", "mixed3:3", "mixed3:9",
    ]  # fmt: skip
    assert cell_titles(channel_batch("mixed3", [5]), 2) == ["mixed3:5 #1", "mixed3:5 #2"]
    # The recipe replays in a fresh process: the same pixels.
    again = tmp_path / "again.png"
    replay = kdream("visualize", "--recipe", sheet, "--quiet", "-o", again, cwd=tmp_path,
                    KERAS_BACKEND=keras.backend.backend())  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    np.testing.assert_array_equal(np.asarray(Image.open(again)), pixels)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--channel", "3"], "give --layer LAYER with --channel C"),
        (["--layer", "mixed3", "--channel", "900"], "channels: mixed3 has 768 channels"),
        (["--layer", "nolayer", "--channel", "1"], "layers: unknown layer(s) nolayer"),
        (["--objective", "mixed3:1 +"], "objective: expected a layer, a number or '('"),
        (["--class", "2"], "--class: InceptionV3 (as kdream loads it) has no classification head"),
        (
            ["--layer", "mixed3", "--channel", "1", "--closeness", "5"],
            "--closeness goes with --from",
        ),
        (
            ["--layer", "mixed3", "--channel", "1", "--from", "docs/coffee.jpg", "--param", "maco"],
            "--from: starts from a photo with --param fft or pixels, not maco",
        ),
        (
            ["--layer", "mixed3", "--channel", "1", "--from", "missing.jpg"],
            "missing.jpg: no such file",
        ),
    ],
)
def test_bad_requests_are_one_line_and_exit_2(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = main(["visualize", *args, "--weights", "inception2015", "--size", "80",
                 "--steps", "1", "--quiet", "-o", str(tmp_path / "x.png")])  # fmt: skip
    error = capsys.readouterr().err
    assert code == 2
    assert message in error
    assert error.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_alpha_is_the_pngs_alpha_and_a_sheets_second_picture(tmp_path, capsys):
    common = ["--layer", "mixed3", "--size", "80", "--steps", "2", "--weights", "random",
              "--alpha", "--quiet"]  # fmt: skip
    single, sheet = tmp_path / "one.png", tmp_path / "sheet.png"
    assert main(["visualize", *common, "--channel", "3", "--param", "maco", "-o", str(single)]) == 0
    with Image.open(single) as picture:
        assert picture.mode == "RGBA" and picture.size == (80, 80)
        alpha = np.asarray(picture)[..., 3]
    assert alpha.max() == 255 and alpha.min() < 128
    assert main(["visualize", *common, "--channels", "3-4", "-o", str(sheet)]) == 0
    assert "sheet_importance.png: where the objective looked" in capsys.readouterr().out
    with Image.open(sheet) as pictures, Image.open(tmp_path / "sheet_importance.png") as maps:
        assert pictures.mode == "RGB" and maps.mode == "L" and maps.size == pictures.size
    code = main(["visualize", *common, "--channels", "3-4", "-o", str(sheet), "--force"])
    assert code == 0  # --force also covers the second picture


def test_an_accentuation_replays_byte_for_byte_only_from_its_photo(tmp_path, capsys):
    photo, other = ROOT / "docs" / "coffee.jpg", ROOT / "docs" / "chelsea.jpg"
    first, again = tmp_path / "first.png", tmp_path / "again.png"
    args = ["--layer", "mixed3", "--channel", "3", "--size", "96", "--steps", "2", "--quiet",
            "--weights", "random", "--from", str(photo), "--closeness", "50"]  # fmt: skip
    assert main(["visualize", *args, "-o", str(first)]) == 0
    recipe = read_recipe(first)["visualize"]
    assert recipe["from"]["name"] == "coffee.jpg" and recipe["closeness"] == 50
    with Image.open(first) as picture, Image.open(photo) as source:
        assert (
            picture.width == 96 and abs(picture.height / 96 - source.height / source.width) < 0.02
        )
    replay = ["visualize", "--recipe", str(first), "--quiet", "-o", str(again)]
    assert main(replay) == 2
    assert "pass it with --from PHOTO" in capsys.readouterr().err
    assert main([*replay, "--from", str(other)]) == 2
    assert "chelsea.jpg is not the recipe's photo" in capsys.readouterr().err
    assert main([*replay, "--from", str(photo)]) == 0
    assert first.read_bytes() == again.read_bytes()


def test_the_wrote_line_names_an_objective_as_written(tmp_path, capsys):
    output = tmp_path / "objective.png"
    objective = "mixed3:1 +  mixed3:2 - 0.5*mixed3:7"
    code = main(["visualize", "--objective", objective, "--size", "80", "--steps", "1",
                 "--weights", "random", "--quiet", "-o", str(output)])  # fmt: skip
    assert code == 0
    assert f"wrote {output}: mixed3:1 + mixed3:2 - 0.5*mixed3:7, 80 px" in capsys.readouterr().out


def test_an_objective_of_one_channel_is_that_channels_picture(tmp_path, capsys):
    """``--objective L:C`` renders what ``--layer L --channel C`` (and the TUI) render, and
    its recipe replays byte for byte; an objective of two channels is another picture."""
    common = ["--size", "80", "--steps", "2", "--seed", "3", "--weights", "random", "--quiet"]
    runs = {
        "objective.png": ["--objective", " mixed3:5 "],
        "channel.png": ["--layer", "mixed3", "--channel", "5"],
        "two.png": ["--objective", "mixed3:5 + mixed3:9"],
    }
    for name, what in runs.items():
        assert main(["visualize", *what, *common, "-o", str(tmp_path / name)]) == 0
    assert f"wrote {tmp_path / 'objective.png'}: mixed3:5, 80 px" in capsys.readouterr().out
    pixels = {name: np.asarray(Image.open(tmp_path / name)) for name in runs}
    np.testing.assert_array_equal(pixels["objective.png"], pixels["channel.png"])
    assert not np.array_equal(pixels["objective.png"], pixels["two.png"])
    recorded = read_recipe(tmp_path / "objective.png")["visualize"]["objective"]
    assert [term["kind"] for term in recorded] == ["channel_batch"]
    again = tmp_path / "again.png"
    assert main(["visualize", "--recipe", str(tmp_path / "objective.png"), "-o", str(again),
                 "--quiet"]) == 0  # fmt: skip
    assert again.read_bytes() == (tmp_path / "objective.png").read_bytes()
