"""The catalogues kdream checks names against before a framework loads are the networks'."""

from __future__ import annotations

import json

import pytest

from kdream import catalogue
from kdream.models.families import bare_inception, check_channel_indices, check_layer_names
from kdream.network import zoo


def test_inceptionv3s_catalogue_is_the_built_network():
    shipped = json.loads(catalogue.CATALOGUE_FILE.read_text())
    assert sorted(shipped) == sorted(zoo.FAMILIES)
    assert catalogue.network_entry(bare_inception()) == shipped["inceptionv3"]
    assert shipped["inceptionv3"]["layers"]["mixed10"] == 2048
    assert shipped["inceptionv3"]["classes"] is None  # kdream loads the families headless


def test_every_family_lists_its_catalogue_layers_with_channels():
    for name, family in zoo.FAMILIES.items():
        channels = catalogue.layer_channels(name)
        assert all(channels[layer] > 0 for layer in family.layers), name


@pytest.mark.parametrize(
    "check", [lambda: check_layer_names(bare_inception(), ["mixed42"]),
              lambda: check_channel_indices(bare_inception(), "mixed4", [97, 900])],
)  # fmt: skip
def test_the_data_gives_the_built_networks_messages(check):
    with pytest.raises(ValueError) as built:
        check()
    with pytest.raises(ValueError) as from_data:
        if "layers" in str(built.value):
            catalogue.check_layer_names("inceptionv3", ["mixed42"])
        else:
            catalogue.check_channel_indices("inceptionv3", "mixed4", [97, 900])
    assert str(from_data.value) == str(built.value)
