"""Objectives written as text, with the algebra of :mod:`kdream.objectives`:

    mixed4:97 + mixed4:130 - 0.5*mixed3:12      channels of layers, weighted
    mixed4:97@3,4                               one position (x, y) of channel 97
    2 * (mixed4:97 + mixed5:3)                  parentheses and factors
    mixed4                                      a whole layer (mean of squares)
    class:3                                     output unit 3 of the model's head

A small recursive-descent parser: the text is data and never runs (no ``eval``). A
mistake is one line that names the position, e.g.
``objective: expected a channel index after ':' at position 8``.

Example:
    >>> objective = parse_objective("mixed4:97 - 0.5*mixed3:12")
    >>> [(t.layer, t.channels, t.weight) for t in objective.terms]
    [('mixed4', (97,), 1.0), ('mixed3', (12,), -0.5)]
"""

from __future__ import annotations

from kdream.config import parse_channel_list  # noqa: F401  (its old home: kept importable)
from kdream.objectives import core, visual
from kdream.objectives.core import Objective, Term
from kdream.objectives.syntax import CLASS_LAYER as CLASS_LAYER
from kdream.objectives.syntax import TOKEN as TOKEN
from kdream.objectives.syntax import ObjectiveSyntaxError as ObjectiveSyntaxError
from kdream.objectives.syntax import parse
from kdream.objectives.visual import single_channel


class _Terms:
    """The parser's algebra here: kdream's objective terms."""

    objective = Objective
    layer, channel = staticmethod(core.layer), staticmethod(core.channel)
    neuron, class_logit = staticmethod(visual.neuron), staticmethod(visual.class_logit)


def parse_objective(text: str, head_layer: str | None = None) -> Objective:
    """The objective ``text`` describes (see the module docstring for the grammar).

    ``head_layer``: the layer ``class:K`` refers to (the model's output layer).

    Example:
        >>> parse_objective("2*(a:1 + b:2)").terms[1].weight
        2.0
    """
    return parse(text, _Terms(), head_layer)


def visualisation_objective(text: str, head_layer: str | None = None) -> Objective:
    """What a picture of ``text`` optimises: a lone channel (``mixed4:97``) is rendered as
    ``kdream visualize --layer mixed4 --channel 97`` renders it (:func:`single_channel`),
    so the TUI and the CLI draw the same picture; anything else as :func:`parse_objective`.

    Example:
        >>> visualisation_objective("mixed4:97").terms[0].kind
        'channel_batch'
        >>> visualisation_objective("mixed4:97 + mixed3:1").terms[0].kind
        'activation'
    """
    objective = parse_objective(text, head_layer)
    term, *others = objective.terms
    lone = not others and type(term) is Term and term.weight == 1.0
    if lone and term.reduction == "mean" and len(term.channels or ()) == 1:
        return single_channel(term.layer, term.channels[0])
    return objective
