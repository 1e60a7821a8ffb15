"""Prepared extractors (``kdream.models.prepared``): a dream started from the cache folder's
entry paints the same picture as one that built, loaded and folded the network, and an
entry is used only for exactly the network it was made from."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pytest

from kdream import DreamConfig, Dreamer
from kdream.models import prepared
from kdream.models.extractor import FeatureExtractor
from kdream.models.families import family_spec
from kdream.weights.info import cache_info
from kdream.weights.sources import RANDOM

PHOTO = np.random.default_rng(5).integers(0, 256, (80, 96, 3)).astype(np.uint8)
RECIPE = DreamConfig(layers={"mixed1": 1.0, "mixed2": 0.5}, octaves=1, steps=2)
LAYERS = ("mixed1", "mixed2")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KDREAM_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def entries(home) -> list:
    return sorted((home / prepared.FOLDER).glob("*.npz"))


def dream_once(precision="float32"):
    dreamer = Dreamer(weights="random", layers=RECIPE.layer_names, precision=precision)
    return dreamer, dreamer.dream(PHOTO, RECIPE)


def refuse_building(monkeypatch):
    """From here on, building InceptionV3 or cutting an extractor fails the test."""

    def refused(*args, **kwargs):
        raise AssertionError("the network was built although the cache holds it")

    monkeypatch.setattr(keras.applications, "InceptionV3", refused)
    monkeypatch.setattr(FeatureExtractor, "build", refused)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_a_dream_from_the_entry_is_the_built_networks_picture(home, monkeypatch, precision):
    built_dreamer, built = dream_once(precision)
    assert prepared.savable(built_dreamer.ascent_step(RECIPE).extractor.model)
    assert len(entries(home)) == 1
    assert any(line.startswith("prepared networks: 1 in ") for line in cache_info())
    refuse_building(monkeypatch)
    _, again = dream_once(precision)  # neither built nor loaded: the entry is enough
    assert np.array_equal(again, built)


def test_every_input_of_the_network_names_another_entry():
    spec = family_spec("inceptionv3")
    base = prepared.entry_key(spec, RANDOM, LAYERS, "float32")
    other_weights = dataclasses.replace(RANDOM, source="file", sha256="ab" * 32)
    changed = [
        prepared.entry_key(spec, other_weights, LAYERS, "float32"),
        prepared.entry_key(spec, RANDOM, ("mixed1",), "float32"),
        prepared.entry_key(spec, RANDOM, ("mixed2", "mixed1"), "float32"),  # output order
        prepared.entry_key(spec, RANDOM, LAYERS, "bfloat16"),
        prepared.entry_key(spec, RANDOM, LAYERS, "float32", pre_activation=True),
    ]
    assert base == prepared.entry_key(spec, RANDOM, LAYERS, "float32")
    assert len({base, *changed}) == 6
    unnamed = dataclasses.replace(RANDOM, source="file", sha256=None)
    assert prepared.entry_key(spec, unnamed, LAYERS, "float32") is None
    assert prepared.entry_key(family_spec("vgg16"), RANDOM, ("block1_conv1",), "float32") is None


def test_a_damaged_entry_is_rebuilt_and_written_anew(home):
    _, built = dream_once()
    (entry,) = entries(home)
    entry.write_bytes(b"not an npz file")
    _, again = dream_once()
    assert np.array_equal(again, built)
    assert entry.stat().st_size > 1000  # saved again, whole
    assert (
        prepared.load_extractor(entry.stem, family_spec("inceptionv3"), RANDOM, LAYERS) is not None
    )


def test_an_entry_that_would_run_code_is_refused(home):
    """An entry is data: a configuration naming a Lambda layer is not deserialised."""
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    key = "f" * 40
    path = home / prepared.FOLDER / f"{key}.npz"
    path.parent.mkdir(parents=True)
    config = json.dumps(keras.saving.serialize_keras_object(model))
    np.savez(path, config=np.asarray(config), dtypes=np.asarray([], dtype="<U8"))
    assert not prepared.savable(model)
    assert prepared.load_extractor(key, family_spec("inceptionv3"), RANDOM, ("lambda",)) is None


def test_a_cache_folder_that_cannot_be_written_only_costs_the_saving(tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("kdream's cache cannot live under a file")
    monkeypatch.setenv("KDREAM_HOME", str(blocker / "home"))
    _, first = dream_once()
    _, second = dream_once()
    assert np.array_equal(first, second)


def test_the_folder_keeps_the_most_recently_used_entries(home, monkeypatch):
    monkeypatch.setattr(prepared, "KEPT_ENTRIES", 2)
    for layers in (("mixed0",), ("mixed1",), ("mixed0", "mixed1")):
        dreamer = Dreamer(weights="random", layers=layers)
        dreamer.ascent_step(DreamConfig(layers=dict.fromkeys(layers, 1.0)))
    kept = entries(home)
    spec = family_spec("inceptionv3")
    newest = {
        prepared.entry_key(spec, RANDOM, ("mixed1",), "float32"),
        prepared.entry_key(spec, RANDOM, ("mixed0", "mixed1"), "float32"),
    }
    assert {path.stem for path in kept} == newest


@pytest.mark.parametrize("pre_activation", [False, True])
def test_a_visualisation_cuts_only_what_it_reads_and_next_time_reads_the_entry(
    home, monkeypatch, pre_activation
):
    """A visualisation builds the network only as deep as its layers and keeps the cut:
    the next process neither builds nor loads, and every path gives the picture of the
    whole network."""
    from kdream.techniques.visualize.render import Visualizer
    from kdream.techniques.visualize.settings import VisualizeSettings

    settings = VisualizeSettings(size=64, steps=2, pre_activation=pre_activation)
    whole = Dreamer(weights="random")
    assert len(whole.model.layers) > 250  # built whole before the visualisation's cut
    monkeypatch.setenv("KDREAM_HOME", str(home.parent / "elsewhere"))
    from_whole = Visualizer(dreamer=whole).render("mixed2:3", settings)
    monkeypatch.setenv("KDREAM_HOME", str(home))

    cut = Visualizer(weights="random")
    first = cut.render("mixed2:3", settings)
    assert cut.dreamer._model is None  # the cut was built for the step alone
    assert len(entries(home)) == 1
    refuse_building(monkeypatch)
    again = Visualizer(weights="random").render("mixed2:3", settings)
    assert np.array_equal(first, from_whole)
    assert np.array_equal(again, from_whole)


def test_feature_maps_take_the_dreams_cut_and_next_time_read_the_entry(home, monkeypatch):
    """``kdream inspect``'s feature maps: a cut as deep as the layer, kept for the next
    process, with the maps of the whole network."""
    from kdream.techniques.inspection import feature_maps

    def maps(dreamer):
        return [(p.channel, p.picture) for p in feature_maps(dreamer, PHOTO, "mixed2", top=4)]

    whole = Dreamer(weights="random")
    assert len(whole.model.layers) > 250
    monkeypatch.setenv("KDREAM_HOME", str(home.parent / "elsewhere"))
    from_whole = maps(whole)
    monkeypatch.setenv("KDREAM_HOME", str(home))

    cut = Dreamer(weights="random")
    first = maps(cut)
    assert cut._model is None
    assert len(entries(home)) == 1
    refuse_building(monkeypatch)
    again = maps(Dreamer(weights="random"))
    for panels in (first, again):
        assert [c for c, _ in panels] == [c for c, _ in from_whole]
        assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(panels, from_whole))
