"""The feature extractor a dream differentiates: a network cut after the deepest requested
layer, with the spec's pixel mapping in front.

Example:
    >>> from kdream.models.factory import model_spec
    >>> spec = model_spec()
    >>> extractor = FeatureExtractor.build(["mixed3", "mixed5"], weights="random", spec=spec)
    >>> extractor.layer_names
    ('mixed3', 'mixed5')
    >>> extractor.spatial_size((512, 512))["mixed5"]
    (30, 30)
"""

from __future__ import annotations

import dataclasses

import keras

from kdream.models.families import check_layer_names, family_spec
from kdream.models.spec import ModelSpec
from kdream.network import zoo
from kdream.network.build import (
    MODEL_MIN_SIDE,
    canonical_layer_names,
    min_side,
    spatial_size,
    weights_set_later,
)
from kdream.network.fast import fast_model
from kdream.network.layers import as_list, pre_activation_output


@dataclasses.dataclass(frozen=True)
class FeatureExtractor:
    """A network cut after the deepest requested layer, returning those layers' activations
    for dream pixels in [-1, 1] (the spec's preprocessing is its first layer).

    Keras' functional model keeps only the part of the graph the outputs depend on,
    so the network ends at the deepest requested layer.
    """

    model: keras.Model
    layer_names: tuple[str, ...]
    weights: object = None
    fixed_hw: tuple[int, int] | None = None
    min_input_side: int = MODEL_MIN_SIDE

    @classmethod
    def build(
        cls,
        layer_names,
        weights="random",
        base=None,
        spec: ModelSpec | None = None,
        pre_activation: bool = False,
    ):
        """Cut ``base`` (or a freshly built network with ``weights``) at ``layer_names``.

        ``pre_activation``: each layer's output before its ReLU (or softmax), as lucid's
        ``_pre_relu`` layers: a channel that is zero on every input still has a gradient
        there (see :func:`pre_activation_output`).
        """
        spec = spec or family_spec(zoo.DEFAULT_FAMILY)
        resolved = None
        if base is None:
            base, resolved = spec.build(weights)
        names = tuple(dict.fromkeys(layer_names))
        check_layer_names(base, names, spec)
        # fast_model's new layers get their weights from the network's (host zeros first).
        taken = {layer.name for layer in base.layers}
        with canonical_layer_names(), weights_set_later():
            outputs = [
                pre_activation_output(base.get_layer(name), taken)
                if pre_activation
                else base.get_layer(name).output
                for name in names
            ]
            cut = fast_model(keras.Model(base.input, outputs, name="kdream_features"))
            model = cut if spec.mapping is None else _behind_mapping(cut, spec)
        return cls(model, names, resolved, spec.fixed_hw, spec.min_input_side)

    def activations(self, images) -> dict[str, object]:
        """Forward pass: images (N, H, W, C) in [-1, 1] -> {layer name: activations}."""
        outputs = self.model(images, training=False)
        return dict(zip(self.layer_names, as_list(outputs)))

    def channel_counts(self) -> dict[str, int]:
        """{layer name: channels} of the requested layers."""
        outputs = as_list(self.model.outputs)
        return {name: int(out.shape[-1]) for name, out in zip(self.layer_names, outputs)}

    def spatial_size(self, image_hw: tuple[int, int]) -> dict[str, tuple[int, int]]:
        """Spatial extent (h, w) of each requested layer for an image of ``image_hw``."""
        return spatial_size(self.model, self.layer_names, image_hw)

    def min_side(self) -> int:
        """Smallest image side at which every requested layer is at least 2x2 (a network
        of one input size: that size)."""
        if self.fixed_hw is not None:
            return max(self.fixed_hw)
        return min_side(self.model, self.layer_names, self.min_input_side)


def _behind_mapping(cut: keras.Model, spec: ModelSpec) -> keras.Model:
    inputs = keras.Input(tuple(cut.input.shape[1:]), name="dream_pixels")
    return keras.Model(inputs, cut(spec.mapping(inputs)), name="kdream_features_mapped")
