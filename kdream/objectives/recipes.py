"""Objectives from recipes: every term kind is registered here, so a recipe can name any
of them (activation, neuron, class, channel batch, diversity, guide, Gram, content, total
variation).

Example:
    >>> from_recipe([{"layer": "mixed4", "weight": 2.0, "channels": [97]}]).terms[0].channels
    (97,)
"""

from __future__ import annotations

from kdream.objectives import guide, style, visual  # noqa: F401  (they register their kinds)
from kdream.objectives.core import TERM_KINDS, Objective, Term


def from_recipe(entries) -> Objective:
    """The objective a recipe recorded (``recipe["objective"]``: a list of terms), checked
    as data: each entry's ``kind`` (``activation`` when absent) must be a registered term
    kind, which checks the rest of the entry.

    Example:
        >>> from_recipe([{"layer": "mixed4", "weight": 2.0, "channels": [97]}]).terms[0].channels
        (97,)
    """
    if not isinstance(entries, list) or not entries:
        raise ValueError("recipe: 'objective' must be a non-empty list of terms")
    terms = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("layer"), str):
            raise ValueError("recipe: every objective term needs a 'layer' name")
        kind = entry.get("kind", Term.kind)
        if kind not in TERM_KINDS:
            known = ", ".join(sorted(TERM_KINDS))
            raise ValueError(f"recipe: unknown objective kind {kind!r} (known: {known})")
        terms.append(TERM_KINDS[kind].from_recipe(entry))
    return Objective(tuple(terms))
