"""The keras.applications families (kdream.zoo), their pixel mappings and weights, on this
backend: catalogues that exist, minimum sides that hold, Keras' own preprocessing, a dream
with another network, and an offline imagenet download that fails at once in one line."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from kdream.config import DreamConfig
from kdream.models.extractor import FeatureExtractor
from kdream.models.factory import model_spec
from kdream.models.families import family_spec
from kdream.models.spec import ModelError
from kdream.network import zoo
from kdream.network.build import MIN_LAYER_EXTENT, new_family_network, spatial_size
from kdream.network.layers import PixelMapping, family_mapping, range_mapping
from kdream.pixels import to_model_range, to_uint8
from tests.cli.test_cli import kdream

FAMILY_NAMES = tuple(zoo.FAMILIES)

PREPROCESS_MODULE = {
    "inceptionv3": "inception_v3",
    "vgg16": "vgg16",
    "vgg19": "vgg19",
    "resnet50": "resnet50",
    "resnet50v2": "resnet_v2",
    "inceptionresnetv2": "inception_resnet_v2",
    "mobilenetv2": "mobilenet_v2",
    "efficientnetb0": "efficientnet",
    "convnexttiny": "convnext",
}
"""keras.applications module whose ``preprocess_input`` each family's network expects."""


def in_process_cli(monkeypatch, capfd):
    """``kdream`` in this process, for error paths that need no fresh process (each
    subprocess costs seconds of imports): ``run(*args, cwd=...)`` -> a CompletedProcess."""
    from kdream.cli.main import main

    def run(*args, cwd):
        monkeypatch.chdir(cwd)
        capfd.readouterr()
        code = main([str(arg) for arg in args])
        out, err = capfd.readouterr()
        return subprocess.CompletedProcess(["kdream", *map(str, args)], code, out, err)

    return run


@pytest.fixture
def cli(monkeypatch, capfd):
    return in_process_cli(monkeypatch, capfd)


def uint8_pixels(shape=(2, 5, 7, 3), seed=0) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    pixels.reshape(-1, 3)[:2] = [[0, 0, 0], [255, 255, 255]]  # both ends of the range
    return pixels


def mapped(mapping: PixelMapping | None, pixels: np.ndarray) -> np.ndarray:
    dream_pixels = to_model_range(pixels)
    if mapping is None:
        return dream_pixels
    return ops.convert_to_numpy(mapping(dream_pixels))


def test_pixel_range_conversions_round_trip_and_round_to_nearest():
    pixels = uint8_pixels((64, 48, 3))
    dream_pixels = to_model_range(pixels)
    assert dream_pixels.dtype == np.float32
    assert dream_pixels.min() == -1.0 and dream_pixels.max() == 1.0
    np.testing.assert_array_equal(to_uint8(dream_pixels), pixels)
    # Out-of-range values clip; a value 0.4 of a level off rounds back to that level.
    nudged = dream_pixels + np.float32(0.4 / 127.5) * np.sign(dream_pixels - 0.1)
    np.testing.assert_array_equal(to_uint8(nudged), pixels)
    assert to_uint8(np.float32([-3.0, 3.0])).tolist() == [0, 255]
    before = dream_pixels.copy()
    to_uint8(dream_pixels)
    np.testing.assert_array_equal(dream_pixels, before)  # the input is left as it was


# --------------------------------------------------------------------------- the networks


def _shape_only_network(name: str) -> keras.Model:
    """The family's real network (``new_family_network``), for shape inference only.

    On JAX every new kernel shape costs an XLA compilation of its random initialiser
    (~40 s for the nine families on two cores), so there the variables are created
    uninitialised (Keras' deferred initialisation) and never initialised: shape inference
    does not read them. The other backends initialise them as usual.
    """
    if keras.backend.backend() != "jax":
        return new_family_network(name)
    from keras.src.backend.common import global_state  # no public API for this list

    pending = list(global_state.get_global_attribute("uninitialized_variables") or [])
    with keras.StatelessScope(initialize_variables=False):
        network = new_family_network(name)
    # Forget this network's variables, or the next scope to close would initialise them.
    global_state.set_global_attribute("uninitialized_variables", pending)
    return network


@pytest.fixture(scope="module")
def networks():
    """Each family's network, built once for the module, on first use."""
    cache: dict[str, keras.Model] = {}

    def network(name: str) -> keras.Model:
        if name not in cache:
            cache[name] = _shape_only_network(name)
        return cache[name]

    return network


def catalogue_extractor(network: keras.Model, family: zoo.Family) -> FeatureExtractor:
    outputs = [network.get_layer(name).output for name in family.layers]
    return FeatureExtractor(
        keras.Model(network.input, outputs),
        tuple(family.layers),
        min_input_side=family.min_input_side,
    )


def layer_sizes(extractor: FeatureExtractor, side: int) -> dict[str, tuple[int, int]] | None:
    """Every catalogue layer's (h, w) at a square side, or None when the network refuses."""
    try:
        return extractor.spatial_size((side, side))
    except Exception:  # shape inference fails below the network's minimum
        return None


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_family_catalogue_layers_exist_and_are_spatial(networks, name):
    family = zoo.FAMILIES[name]
    network = networks(name)
    assert family.name == name and zoo.family_named(family.builder) is family
    assert len(family.layers) >= 3 and all(family.layers.values())
    for layer_name in family.layers:
        output = network.get_layer(layer_name).output  # raises if the layer is missing
        assert len(output.shape) == 4, (layer_name, output.shape)
        assert output.shape[-1] and int(output.shape[-1]) > 0
    assert family.default_layers, name
    assert set(family.default_layers) <= set(family.layers)
    assert all(weight > 0 for weight in family.default_layers.values())
    spec = family_spec(name)
    assert spec.catalogue == family.layers and spec.default_layers == family.default_layers
    assert spec.min_input_side == family.min_input_side and spec.fixed_hw is None


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_every_catalogue_layer_cuts_before_its_activation_and_runs(name):
    """What ``kdream visualize`` cuts: every catalogue layer at once, before its activation,
    in one network whose layer names stay unique (InceptionV3's mixed10 once clashed), and
    it runs (torch's channels-first rebuild once added a biased convolution's bias along
    the wrong axis: VGG's layers failed)."""
    family = zoo.FAMILIES[name]
    extractor = FeatureExtractor.build(
        list(family.layers), weights="random", spec=family_spec(name), pre_activation=True
    )
    names = [layer.name for layer in extractor.model.layers]
    assert len(names) == len(set(names))
    side = extractor.min_side()
    outputs = extractor.model(ops.zeros((1, side, side, 3)))
    expected = extractor.spatial_size((side, side))
    assert [tuple(output.shape[1:3]) for output in outputs] == list(expected.values())
    assert all(min(hw) >= MIN_LAYER_EXTENT for hw in expected.values()), expected
    assert all(np.isfinite(ops.convert_to_numpy(output)).all() for output in outputs)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_family_catalogue_is_ordered_shallow_to_deep(networks, name):
    family = zoo.FAMILIES[name]
    extractor = catalogue_extractor(networks(name), family)
    sizes = extractor.spatial_size((224, 224))
    areas = [sizes[layer][0] * sizes[layer][1] for layer in family.layers]
    assert areas == sorted(areas, reverse=True), sizes


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_family_layer_min_sides_are_tight(networks, name):
    family = zoo.FAMILIES[name]
    extractor = catalogue_extractor(networks(name), family)

    def fits(one: FeatureExtractor, side: int) -> bool:
        sizes = layer_sizes(one, side)
        return sizes is not None and all(min(hw) >= MIN_LAYER_EXTENT for hw in sizes.values())

    sides = {}
    for layer_name in family.layers:
        one = FeatureExtractor(
            _cut(extractor, layer_name), (layer_name,), min_input_side=family.min_input_side
        )
        side = sides[layer_name] = one.min_side()
        assert isinstance(side, int) and side >= family.min_input_side > 0, (layer_name, side)
        assert fits(one, side), (layer_name, side, layer_sizes(one, side))
        if side > family.min_input_side:  # the floor aside, one pixel less is too small
            assert not fits(one, side - 1), (layer_name, side, layer_sizes(one, side - 1))
    # All layers together need the largest of their sides; at that side every one fits.
    together = extractor.min_side()
    assert together == max(sides.values())
    assert fits(extractor, together)
    if together > family.min_input_side:
        assert not fits(extractor, together - 1)
    # The default objective's side is what a dream with this family clamps octaves to.
    network = networks(name)
    outputs = [network.get_layer(layer).output for layer in family.default_layers]
    default = FeatureExtractor(
        keras.Model(network.input, outputs),
        tuple(family.default_layers),
        min_input_side=family.min_input_side,
    )
    assert default.min_side() == max(sides[layer] for layer in family.default_layers)


def _cut(extractor: FeatureExtractor, layer_name: str) -> keras.Model:
    index = extractor.layer_names.index(layer_name)
    return keras.Model(extractor.model.input, extractor.model.outputs[index])


def test_inception_min_sides_match_the_known_architecture(networks):
    # InceptionV3 refuses inputs under 75 px; mixed0..2 are 35x35 at 299, mixed8..10 8x8.
    extractor = catalogue_extractor(networks("inceptionv3"), zoo.FAMILIES["inceptionv3"])
    sizes = extractor.spatial_size((299, 299))
    assert sizes["mixed2"] == (35, 35) and sizes["mixed7"] == (17, 17)
    assert sizes["mixed10"] == (8, 8)
    assert layer_sizes(extractor, 74) is None or min(layer_sizes(extractor, 74)["mixed0"]) < 2
    assert spatial_size(extractor.model, extractor.layer_names, (75, 75))["mixed0"] == (7, 7)


# --------------------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_family_mapping_equals_keras_preprocess_input(name):
    family = zoo.FAMILIES[name]
    module = getattr(keras.applications, PREPROCESS_MODULE[name])
    pixels = uint8_pixels(seed=len(name))
    expected = np.asarray(module.preprocess_input(pixels.astype("float32")), "float32")
    ours = mapped(family_spec(name).mapping, pixels)
    assert ours.shape == pixels.shape
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=1e-5)
    if family.preprocessing == "raw":  # the network normalises inside: plain 0..255
        np.testing.assert_allclose(ours, pixels.astype("float32"), atol=1e-4)


@pytest.mark.parametrize(
    "mode, reference",
    [
        ("tf", lambda x: keras.applications.resnet_v2.preprocess_input(x)),
        ("caffe", lambda x: keras.applications.vgg16.preprocess_input(x)),
        ("raw", lambda x: keras.applications.efficientnet.preprocess_input(x)),
        (
            "torch",
            lambda x: keras.applications.imagenet_utils.preprocess_input(x, mode="torch"),
        ),
    ],
)
def test_every_preprocessing_mode_equals_keras(mode, reference):
    assert mode in zoo.PREPROCESSING
    pixels = uint8_pixels(shape=(3, 4, 6, 3), seed=11)
    expected = np.asarray(reference(pixels.astype("float32")), "float32")
    np.testing.assert_allclose(mapped(family_mapping(mode), pixels), expected, atol=1e-4)


def test_unknown_preprocessing_is_refused():
    with pytest.raises(ValueError, match="unknown preprocessing 'zca'"):
        family_mapping("zca")


def test_pixel_mapping_reverses_channels_and_round_trips_its_config():
    mapping = PixelMapping((1.0, 2.0, 3.0), (0.5, 0.0, -1.0), reverse_channels=True)
    x = np.arange(12, dtype="float32").reshape(1, 2, 2, 3) / 12
    expected = x[..., ::-1] * np.float32([1, 2, 3]) + np.float32([0.5, 0, -1])
    np.testing.assert_allclose(ops.convert_to_numpy(mapping(x)), expected, rtol=1e-6)
    clone = PixelMapping.from_config(mapping.get_config())
    assert (clone.scale, clone.offset, clone.reverse_channels) == (
        (1.0, 2.0, 3.0),
        (0.5, 0.0, -1.0),
        True,
    )
    np.testing.assert_allclose(ops.convert_to_numpy(clone(x)), expected, rtol=1e-6)


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (0.0, 255.0), (-0.5, 0.5)])
def test_range_mapping_sends_pixels_to_the_range(low, high):
    pixels = uint8_pixels(shape=(1, 3, 5, 1), seed=3)
    expected = low + pixels.astype("float32") / 255 * (high - low)
    np.testing.assert_allclose(
        mapped(range_mapping(low, high, 1), pixels), expected, atol=1e-4 * (high - low)
    )
    assert range_mapping(-1.0, 1.0, 3) is None


# --------------------------------------------------------------------------- model_spec


def test_model_spec_names_are_case_insensitive_and_one_object_per_family():
    assert model_spec("VGG19") is model_spec("vgg19") is family_spec("vgg19")
    assert model_spec(None).name == zoo.DEFAULT_FAMILY == "inceptionv3"
    assert model_spec("ResNet50V2").name == "resnet50v2"
    assert family_spec("vgg19").display_name == "VGG19"


def test_unknown_model_lists_the_families():
    with pytest.raises(ModelError) as caught:
        model_spec("nosuchnet")
    message = str(caught.value)
    assert "\n" not in message and "'nosuchnet'" in message
    assert all(name in message for name in zoo.FAMILIES), message


def test_input_range_is_for_own_models_only():
    with pytest.raises(ModelError, match="--input-range: VGG16 has its own preprocessing"):
        model_spec("vgg16", input_range=(0.0, 255.0))


# --------------------------------------------------------------------------- a dream


@pytest.fixture(scope="module")
def vgg16_dreamer():
    from kdream import Dreamer

    return Dreamer(weights="random", model="vgg16")


def test_vgg16_dreams_with_its_own_default_layers(vgg16_dreamer):
    family = zoo.FAMILIES["vgg16"]
    config = vgg16_dreamer.config_for(DreamConfig())
    assert dict(config.layers) == family.default_layers == {"block4_conv3": 1.0}
    # Layers that VGG16 has are kept as asked.
    asked = DreamConfig(layers={"block3_conv3": 2.0})
    assert dict(vgg16_dreamer.config_for(asked).layers) == {"block3_conv3": 2.0}
    assert vgg16_dreamer.weights.source == "random"

    # block4_conv3 is 2x2 from 16 px on (three 2x2 poolings); VGG16's floor is 32.
    assert vgg16_dreamer.ascent_step(DreamConfig()).min_side == 32

    photo = uint8_pixels(shape=(96, 112, 3), seed=5)
    dreamed = vgg16_dreamer.dream(photo, DreamConfig(octaves=1, steps=2, tile_size=128))
    assert dreamed.shape == photo.shape and dreamed.dtype == np.uint8
    changed = np.mean(dreamed != photo)
    assert changed > 0.5, changed

    recipe = vgg16_dreamer.recipe(DreamConfig(), photo.shape[:2])
    assert recipe["model"] == {"name": "vgg16"}
    assert recipe["config"]["layers"] == {"block4_conv3": 1.0}
    assert recipe["weights"] == {"source": "random", "sha256": None}


def test_mixed_layers_are_refused_on_vgg16_naming_its_catalogue(vgg16_dreamer):
    with pytest.raises(ValueError) as caught:
        vgg16_dreamer.ascent_step(DreamConfig(layers={"mixed4": 1.0}))
    message = str(caught.value)
    assert "mixed4" in message and "block4_conv3" in message and "VGG16" in message


# --------------------------------------------------------------------------- imagenet offline


def refused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_imagenet_download_refused_fails_at_once_in_one_line(tmp_path, monkeypatch, capfd):
    from keras.src.applications import vgg16 as keras_vgg16
    from keras.src.backend import config as keras_config

    from kdream import Dreamer
    from kdream.weights.sources import WeightsError

    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()
    port = refused_port()
    url = f"http://127.0.0.1:{port}/vgg16_notop.h5"
    monkeypatch.setattr(keras_vgg16, "WEIGHTS_PATH_NO_TOP", url)
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    # Keras read KERAS_HOME when it was imported: point its cache there too.
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(keras_home))
    capfd.readouterr()

    started = time.monotonic()
    with pytest.raises(WeightsError) as caught:
        Dreamer(weights="imagenet", model="vgg16")
    elapsed = time.monotonic() - started

    message = str(caught.value)
    assert elapsed < 10, elapsed
    assert "\n" not in message.strip(), message
    assert message.startswith("VGG16") and "--weights random" in message, message
    assert f"127.0.0.1:{port}" in message and "refused" in message.lower(), message
    out, err = capfd.readouterr()
    assert out == "", out
    assert "Downloading data from" not in out + err
    assert not list(keras_home.rglob("*.h5")), "a partial download was left behind"


# --------------------------------------------------------------------------- the CLI


def test_layers_lists_another_familys_catalogue(tmp_path):
    result = kdream("layers", "--model", "vgg19", "--size", "224", cwd=tmp_path, COLUMNS="200")
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    catalogue = zoo.FAMILIES["vgg19"].layers
    assert set(catalogue) <= set(rows), result.stdout
    assert "mixed3" not in result.stdout
    assert "VGG19" in result.stdout
    # VGG19 at 224: block4 convolutions are 28x28 with 512 channels, block5_pool 7x7.
    assert "512" in rows["block4_conv4"] and "28x28" in rows["block4_conv4"], rows
    assert "7x7" in rows["block5_pool"] and "112x112" in rows["block2_conv2"], rows


def test_unknown_model_is_one_line_naming_it_and_the_families(tmp_path, cli):
    for command in (["layers"], ["dream", "--weights", "random", "--quiet"]):
        result = cli(*command, "--model", "nosuchnet", cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "nosuchnet" in lines[0] and all(name in lines[0] for name in zoo.FAMILIES)
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == []
