"""A network built only as deep as a run's layers: the whole network's first layers, with
the whole network's weights, and the same pictures."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kdream import DreamConfig, Dreamer
from kdream.io.folder import FolderDream
from kdream.network.build import new_family_network
from kdream.weights.load import random_weight_values

PHOTO = np.random.default_rng(3).integers(0, 256, (90, 110, 3)).astype(np.uint8)
SHORT = DreamConfig(layers={"mixed2": 1.0, "mixed1": 0.5}, octaves=1, steps=2)


def names(model) -> list[str]:
    return [layer.name for layer in model.layers]


def host_weights(model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(variable) for variable in model.weights]


@pytest.fixture(scope="module")
def whole():
    return new_family_network("inceptionv3")


@pytest.mark.parametrize("block", ["mixed0", "mixed5"])
def test_a_network_ending_at_a_block_is_the_whole_ones_first_layers(whole, block):
    part = new_family_network("inceptionv3", up_to=block)
    assert names(part)[-1] == block
    assert names(part) == names(whole)[: len(part.layers)]
    assert len(part.layers) < len(whole.layers)
    drawn = random_weight_values(part)  # drawn in weights order: the same prefix
    assert all(np.array_equal(a, b) for a, b in zip(drawn, random_weight_values(whole)))


def test_a_weights_file_of_the_whole_network_fills_the_part(whole, tmp_path):
    for variable, value in zip(whole.weights, random_weight_values(whole)):
        variable.assign(value * 1.5 + 0.25)  # not the values the part would draw itself
    path = tmp_path / "whole.weights.h5"
    whole.save_weights(str(path))
    part = Dreamer(weights=str(path), layers=["mixed1"]).model
    assert names(part)[-1] == "mixed1"
    expected = host_weights(whole)[: len(part.weights)]
    assert all(np.array_equal(a, b) for a, b in zip(host_weights(part), expected))


def test_a_missing_layer_to_end_at_is_one_clear_error():
    with pytest.raises(ValueError, match="no layer 'mixed42'"):
        new_family_network("inceptionv3", up_to="mixed42")


def test_the_part_dreams_the_whole_networks_picture(dreamer):
    partial = Dreamer(weights="random", layers=SHORT.layer_names)
    assert "mixed3" not in names(partial.model) and "mixed2" in names(partial.model)
    assert np.array_equal(partial.dream(PHOTO, SHORT), dreamer.dream(PHOTO, SHORT))


def test_a_deeper_objective_later_gets_the_whole_network(dreamer):
    partial = Dreamer(weights="random", layers=["mixed0"])
    deeper = SHORT.replace(layers={"mixed4": 1.0})
    assert np.array_equal(partial.dream(PHOTO, deeper), dreamer.dream(PHOTO, deeper))
    assert names(partial.model)[-1] == names(dreamer.model)[-1]


def test_other_layers_and_weights_get_the_whole_network(dreamer):
    # Not a mixed block: the layers before it need not all feed it.
    assert len(Dreamer(weights="random", layers=["conv2d_5"]).model.layers) == len(
        dreamer.model.layers
    )


def test_a_folder_dream_builds_only_as_deep_as_its_recipe():
    run = FolderDream(weights="random", config=SHORT.replace(channels=[("mixed3", 5)]))
    assert run.layers_read() == ("mixed2", "mixed1", "mixed3")
    assert names(run.load_dreamer().model)[-1] == "mixed3"
