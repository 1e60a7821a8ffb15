"""The terms of neural style transfer (Gatys, Ecker and Bethge, 2015), in the one objective
algebra. Each is a loss, so its value is ``-weight * loss`` and the loop, which maximises,
minimises it:

* :class:`ContentTerm`: mean squared difference of a layer's activations with the content
  image's, tile by tile (the content is cut with the same roll and tiles as the picture);
* :class:`GramTerm`: ``sum((G - A)^2) / (4 C^2)`` with ``G = F^T F / (H W)``, the Gram
  matrix normalised per position. With equal sizes this is Gatys' ``1 / (4 N^2 M^2)`` of
  raw Grams; per position it does not depend on the tile's size, so every tile's Gram is
  compared with the *whole* style image's target and the statistics stay global under
  tiling. Several style images mix by weight: their Grams are blended into one target
  (the same gradient as weighting the separate losses when the weights sum to 1);
* :class:`TotalVariationTerm`: mean squared difference of neighbouring pixels.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from typing import ClassVar

from keras import ops

from kdream.objectives.core import PIXELS, recipe_weight, register_term
from kdream.objectives.references import ReferenceImage


def is_number(value) -> bool:
    """A finite int or float (not a bool): what a recipe's weights and mixes must be."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def gram(activations):
    """Gram matrices normalised per position: (N, H, W, C) -> (N, C, C) of ``F^T F / (H W)``.

    Example:
        >>> ops.convert_to_numpy(gram(ops.ones((1, 2, 2, 3))))[0, 0, 0]
        1.0
    """
    activations = ops.cast(activations, "float32")
    # Spatial sizes may be unknown while TensorFlow traces: count positions as a tensor.
    shape = ops.shape(activations)
    positions = ops.cast(shape[1] * shape[2], "float32")
    return ops.einsum("nhwc,nhwd->ncd", activations, activations) / positions


@register_term
@dataclasses.dataclass(frozen=True)
class GramTerm:
    """Style at ``layer``: this layer's Gram matrix against the style images' (mixed)."""

    layer: str
    weight: float = 1.0
    references: tuple[ReferenceImage, ...] = ()
    mix: tuple[float, ...] = (1.0,)

    kind = "gram"

    @property
    def data_keys(self) -> tuple[str, ...]:
        names = ",".join(f"{r.sha256}={m!r}" for r, m in zip(self.references, self.mix))
        return (f"gram:{self.layer}:{hashlib.sha256(names.encode()).hexdigest()[:16]}",)

    @staticmethod
    def target(activations):
        """The style image's Gram matrix at this layer, (C, C)."""
        return gram(activations)[0]

    def evaluate(self, activations, data):
        channels = int(activations.shape[-1])
        difference = gram(activations) - ops.expand_dims(data[self.data_keys[0]], 0)
        loss = ops.sum(ops.square(difference), axis=(1, 2)) / (4.0 * channels**2)
        return -self.weight * loss

    def to_recipe(self) -> dict:
        return {
            "kind": self.kind,
            "layer": self.layer,
            "weight": self.weight,
            "styles": [r.to_recipe() for r in self.references],
            "mix": list(self.mix),
        }

    @classmethod
    def from_recipe(cls, entry: dict) -> GramTerm:
        styles, mix = entry.get("styles"), entry.get("mix")
        if not isinstance(styles, list) or not styles or not isinstance(mix, list):
            raise ValueError("recipe: a gram term needs 'styles' and 'mix' lists")
        if len(mix) != len(styles) or not all(is_number(m) for m in mix):
            raise ValueError("recipe: a gram term's 'mix' needs one number per style")
        references = tuple(ReferenceImage.from_recipe(s) for s in styles)
        return cls(entry["layer"], recipe_weight(entry), references, tuple(map(float, mix)))


@register_term
@dataclasses.dataclass(frozen=True)
class ContentTerm:
    """Content at ``layer``: mean squared difference with the content image's activations
    at the same tile."""

    layer: str
    weight: float = 1.0

    kind = "content"
    reads_tiles = True

    @property
    def data_keys(self) -> tuple[str, ...]:
        return (f"content:{self.layer}",)

    def evaluate(self, activations, data):
        content = ops.cast(data[self.data_keys[0]], "float32")
        difference = ops.cast(activations, "float32") - content
        return -self.weight * ops.mean(ops.square(difference), axis=(1, 2, 3))

    def to_recipe(self) -> dict:
        return {"kind": self.kind, "layer": self.layer, "weight": self.weight}

    @classmethod
    def from_recipe(cls, entry: dict) -> ContentTerm:
        return cls(entry["layer"], recipe_weight(entry))


@register_term
@dataclasses.dataclass(frozen=True)
class TotalVariationTerm:
    """Smoothness of the picture itself: mean squared difference of neighbouring pixels."""

    layer: str = PIXELS
    weight: float = 1.0

    kind = "total_variation"
    data_keys: ClassVar[tuple[str, ...]] = ()

    def evaluate(self, pixels, data=None):
        pixels = ops.cast(pixels, "float32")
        down = ops.mean(ops.square(pixels[:, 1:] - pixels[:, :-1]), axis=(1, 2, 3))
        right = ops.mean(ops.square(pixels[:, :, 1:] - pixels[:, :, :-1]), axis=(1, 2, 3))
        return -self.weight * (down + right)

    def to_recipe(self) -> dict:
        return {"kind": self.kind, "layer": self.layer, "weight": self.weight}

    @classmethod
    def from_recipe(cls, entry: dict) -> TotalVariationTerm:
        if entry["layer"] != PIXELS:
            raise ValueError(f"recipe: total variation reads the {PIXELS!r} layer")
        return cls(PIXELS, recipe_weight(entry))
