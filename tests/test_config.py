"""The validated recipe."""

from __future__ import annotations

import pytest

from kdream.config import DreamConfig


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("octaves", 0, r"octaves: must be in \[1, 12\]"),
        ("octaves", 2.5, r"octaves: must be an integer"),
        ("octave_scale", 1.0, r"octave_scale: must be in \[1.01, 4.0\]"),
        ("steps", -3, r"steps: must be in"),
        ("step_size", float("nan"), r"step_size: must be a number"),
        ("tile_size", 32, r"tile_size: must be in \[75, 4096\]"),
        ("tile_batch", 0, r"tile_batch: must be in"),
        ("jitter", -1, r"jitter: must be in"),
        ("smoothing", 25.0, r"smoothing: must be in \[0.0, 20.0\]"),
        ("seed", -1, r"seed: must be in"),
        ("octave_mode", "zoom", r"octave_mode: must be one of detail, rescale"),
        ("reduction", "max", r"reduction: must be one of square, mean"),
        ("layers", {}, r"layers: give at least one layer"),
        ("layers", {"mixed3": float("inf")}, r"layers: weight of 'mixed3'"),
        ("channels", [("mixed4", [-1])], r"channels: indices of 'mixed4'"),
        ("steps", True, r"steps: must be an integer"),
        ("normalize", "lap:0", r"normalize: must be mean or lap\[:LEVELS\]"),
        ("normalize", "lap:9", r"normalize: .*LEVELS in \[1, 8\]"),
        ("normalize", "foo", r"normalize: .*\(got 'foo'\)"),
        ("normalize", None, r"normalize: "),
    ],
)
def test_bad_values_name_the_parameter_and_range(field, value, message):
    with pytest.raises(ValueError, match=message):
        DreamConfig(**{field: value})


def test_round_trip_through_a_dict():
    config = DreamConfig(
        layers={"mixed4": 2.0, "mixed6": -0.5}, channels=[("mixed5", [3, 9], 0.5)], seed=11
    )
    data = config.to_dict()
    assert data["layers"] == {"mixed4": 2.0, "mixed6": -0.5}
    assert data["channels"] == [["mixed5", [3, 9], 0.5]]
    assert DreamConfig.from_dict(data) == config


def test_unknown_recipe_keys_are_refused():
    with pytest.raises(ValueError, match="unknown recipe parameter"):
        DreamConfig.from_dict({"steps": 3, "colour": "red"})


def test_frozen_and_replace_validates():
    config = DreamConfig()
    with pytest.raises(AttributeError):
        config.steps = 3
    with pytest.raises(ValueError, match="steps"):
        config.replace(steps=0)
    assert config.replace(steps=3).steps == 3
    assert config.layer_names == ("mixed3", "mixed5")


@pytest.mark.parametrize(
    "text,canonical", [("mean", "mean"), ("lap", "lap:4"), ("lap:1", "lap:1"), (" LAP:8", "lap:8")]
)
def test_normalize_is_stored_canonically(text, canonical):
    assert DreamConfig(normalize=text).normalize == canonical
    assert DreamConfig(normalize=text) == DreamConfig(normalize=canonical)


def test_normalize_round_trips_and_old_recipes_default_to_mean():
    config = DreamConfig(normalize="lap", steps=3)
    data = config.to_dict()
    assert data["normalize"] == "lap:4"
    assert DreamConfig.from_dict(data) == config
    del data["normalize"]  # a recipe written before the field existed
    assert DreamConfig.from_dict(data).normalize == "mean"
