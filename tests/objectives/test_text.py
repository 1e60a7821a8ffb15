"""The objective algebra as text: terms, weights, parentheses, and one-line errors."""

from __future__ import annotations

import pytest

from kdream.objectives.core import channel, layer
from kdream.objectives.syntax import named_units
from kdream.objectives.text import parse_channel_list, parse_objective
from kdream.objectives.visual import class_logit, neuron


def test_sums_and_weights_build_the_same_objective_as_the_python_algebra():
    parsed = parse_objective("mixed4:97 + mixed4:130 - 0.5*mixed3:12")
    assert parsed == channel("mixed4", 97) + channel("mixed4", 130) - 0.5 * channel("mixed3", 12)


def test_parentheses_factors_neurons_layers_and_classes():
    parsed = parse_objective("2*(mixed4:97@3,4 - mixed5) + class:7 * 1.5", head_layer="logits")
    expected = 2 * (neuron("mixed4", 97, 3, 4) - layer("mixed5")) + 1.5 * class_logit("logits", 7)
    assert parsed == expected
    assert [t.weight for t in parsed.terms] == [2.0, -2.0, 1.5]


def test_unary_minus_and_scientific_weights():
    parsed = parse_objective("-mixed3:1 + 1e-1*mixed3:2")
    assert [(t.channels, t.weight) for t in parsed.terms] == [((1,), -1.0), ((2,), 0.1)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mixed4:", "expected a channel index after ':' at position 8"),
        ("mixed4:97 +", "expected a layer, a number or '(' at position 12"),
        ("mixed4:97 $ 2", "unexpected '$' at position 11"),
        ("(mixed4:1", "expected ')', found the end at position 10"),
        ("mixed4:1 * mixed4:2", "two objectives cannot be multiplied at position 1"),
        ("3 + mixed4:1", "only objectives can be added"),
        ("2.5", "a number alone is no objective"),
        ("mixed4:1@2", "expected ',' between x and y"),
        ("class:3", "class:K needs a model with a classification head"),
        ("mixed4:1.5", "expected a channel index"),
    ],
)
def test_bad_text_is_one_line_naming_the_position(text, message):
    with pytest.raises(ValueError, match="^objective: ") as caught:
        parse_objective(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError) as early:  # what the CLI says before any framework loads
        named_units(text, head_layer=None)
    assert str(early.value) == str(caught.value)


def test_named_units_are_the_layers_and_channels_of_the_parsed_objective():
    text = "2*(mixed4:97@3,4 - mixed5) + class:7 * 1.5 - mixed3:12"
    named = named_units(text)
    assert named == (("mixed4", 97), ("mixed5", None), ("mixed3", 12))
    terms = parse_objective(text, head_layer="logits").terms
    assert [name for name, _ in named] == [t.layer for t in terms if t.layer != "logits"]


def test_channel_lists_take_ranges_and_lists_in_order_without_repeats():
    assert parse_channel_list("0-3") == (0, 1, 2, 3)
    assert parse_channel_list("9, 1-2,2,40") == (9, 1, 2, 40)
    for bad in ("3-1", "a", "1,,2", "-4"):
        with pytest.raises(ValueError, match="^channels: "):
            parse_channel_list(bad)
