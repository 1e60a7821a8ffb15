"""Guided dreams (the 2015 DeepDream notebook's ``objective_guide``): instead of amplifying
whatever a layer sees, every position's features move toward their best match among the
features of a guide picture.

With ``x`` a position's features and ``Y`` the guide's (one row per guide position), the
term's value is the mean over positions of ``max_j x . Y[j]``; its gradient at a position
is the best-matching guide feature ``Y[argmax]``, as in the notebook (``A = x^T y``,
``gradient = y[:, A.argmax(1)]``). The guide's features are computed once per octave,
from the guide resized by that octave's scale, and passed to the compiled step as data.

Example:
    >>> import numpy as np, kdream
    >>> flowers = np.zeros((160, 160, 3), np.uint8)
    >>> objective = kdream.layer("mixed3") + 2 * guide(flowers, layers="mixed4")
    >>> [term.kind for term in objective.terms]
    ['activation', 'guide']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from keras import ops

from kdream.objectives.core import Objective, recipe_weight, register_term
from kdream.objectives.references import ReferenceImage


@register_term
@dataclasses.dataclass(frozen=True)
class GuideTerm:
    """Match each position's features at ``layer`` with the guide's best-matching ones."""

    layer: str
    weight: float = 1.0
    references: tuple[ReferenceImage, ...] = ()
    mix: tuple[float, ...] = (1.0,)

    kind = "guide"

    @property
    def data_keys(self) -> tuple[str, ...]:
        return (f"guide:{self.layer}:{self.references[0].sha256[:16]}",)

    @staticmethod
    def target(activations):
        """The guide's features at this layer as a (positions, channels) matrix."""
        activations = ops.cast(activations, "float32")
        return ops.reshape(activations, (-1, int(activations.shape[-1])))

    def evaluate(self, activations, data):
        """Per-sample mean over positions of the best dot product with a guide feature."""
        activations = ops.cast(activations, "float32")
        matches = ops.einsum("nhwc,mc->nhwm", activations, data[self.data_keys[0]])
        return self.weight * ops.mean(ops.max(matches, axis=-1), axis=(1, 2))

    def to_recipe(self) -> dict:
        return {
            "kind": self.kind,
            "layer": self.layer,
            "weight": self.weight,
            "guide": self.references[0].to_recipe(),
        }

    @classmethod
    def from_recipe(cls, entry: dict) -> GuideTerm:
        """The term a recipe entry describes (its guide by sha256, pixels bound later)."""
        return cls(
            entry["layer"], recipe_weight(entry), (ReferenceImage.from_recipe(entry.get("guide")),)
        )


def guide(
    image, layers: str | Iterable[str] | Mapping[str, float] = "mixed4", name: str = ""
) -> Objective:
    """An objective that pulls the dream's features at ``layers`` toward ``image``'s.

    ``image`` is a uint8 RGB array or a :class:`~kdream.references.ReferenceImage`;
    ``layers`` one name, several names, or ``{name: weight}``. Composes with the other
    objectives (``kdream.layer("mixed3") + 2 * kdream.guide(flowers)``).

    Example:
        >>> import numpy as np
        >>> guide(np.zeros((160, 160, 3), np.uint8), {"mixed3": 1.0, "mixed4": 0.5}).layer_names
        ('mixed3', 'mixed4')
    """
    reference = image if isinstance(image, ReferenceImage) else ReferenceImage.of(image, name)
    if isinstance(layers, str):
        layers = {layers: 1.0}
    elif not isinstance(layers, Mapping):
        layers = {layer_name: 1.0 for layer_name in layers}
    if not layers:
        raise ValueError("guide: give at least one layer")
    return Objective(tuple(GuideTerm(str(n), float(w), (reference,)) for n, w in layers.items()))


def guided_objective(image, config) -> Objective:
    """A recipe's dream, guided: its layers become guide terms (with their weights) and its
    channel terms stay as they are. What ``kdream dream --guide`` and the TUI's ``g`` dream.

    Example:
        >>> import numpy as np
        >>> from kdream.config import DreamConfig
        >>> objective = guided_objective(np.zeros((96, 96, 3), np.uint8), DreamConfig())
        >>> [(term.kind, term.layer) for term in objective.terms]
        [('guide', 'mixed3'), ('guide', 'mixed5')]
    """
    from kdream.objectives.core import channel

    guided = guide(image, dict(config.layers))
    for name, indices, weight in config.channels:
        guided = guided + channel(name, indices, weight)
    return guided


def best_match_similarity(features, guide_features) -> float:
    """Mean over positions of the best cosine similarity with a guide feature: how close
    a picture's features are to a guide's (1 = every position has an exact match).

    Example:
        >>> import numpy as np
        >>> best_match_similarity(np.eye(3)[None, None], np.eye(3)[None, None])
        1.0
    """
    import numpy as np

    x = np.asarray(features, np.float64).reshape(-1, np.shape(features)[-1])
    y = np.asarray(guide_features, np.float64).reshape(-1, np.shape(guide_features)[-1])
    x = x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)
    y = y / (np.linalg.norm(y, axis=1, keepdims=True) + 1e-12)
    return float(np.mean(np.max(x @ y.T, axis=1)))
