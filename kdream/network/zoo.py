"""The keras.applications families kdream dreams with, as data: builder, preprocessing,
the layers worth dreaming (with what they tend to produce) and the default objective.

Example:
    >>> FAMILIES["vgg19"].default_layers
    {'block4_conv4': 1.0}
    >>> family_named("ResNet50").name
    'resnet50'
"""

from __future__ import annotations

import dataclasses

PREPROCESSING = ("tf", "caffe", "torch", "raw")
"""How keras.applications' ``preprocess_input`` maps 0..255 RGB pixels:
``tf`` to [-1, 1]; ``caffe`` to BGR minus the ImageNet mean; ``torch`` to ImageNet-standardised
[0, 1]; ``raw`` leaves 0..255 (the network normalises inside, as EfficientNet and ConvNeXt do)."""


@dataclasses.dataclass(frozen=True)
class Family:
    """One keras.applications network, headless."""

    name: str
    """kdream's name (``--model``): lower case."""
    builder: str
    """The keras.applications constructor."""
    preprocessing: str
    layers: dict[str, str]
    """Catalogue: layer name -> what it tends to produce, shallow to deep."""
    default_layers: dict[str, float]
    min_input_side: int = 32
    """keras.applications' smallest accepted input side."""


def _stages(hints: tuple[str, ...], names: tuple[str, ...]) -> dict[str, str]:
    return dict(zip(names, hints))


EARLY_TO_LATE = (
    "edges and colour blobs",
    "fine textures and strokes",
    "patterns and repeated motifs",
    "ornaments, eyes and object parts",
    "object parts and whole objects (needs larger images)",
    "the most abstract features (needs larger images)",
)

INCEPTION_V3_HINTS = {
    "mixed0": "edges, fine strokes and simple textures",
    "mixed1": "brush strokes, wavy textures",
    "mixed2": "swirls, mesh and repeating textures",
    "mixed3": "patterns, scales and ornaments",
    "mixed4": "ornaments, feathers, first eyes",
    "mixed5": "eyes, fur, arches and pagodas",
    "mixed6": "animal parts, faces, buildings",
    "mixed7": "dogs, birds, architecture",
    "mixed8": "whole animals and objects (needs larger images)",
    "mixed9": "object parts, strong abstraction (needs larger images)",
    "mixed10": "the most abstract features (needs larger images)",
}

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            "inceptionv3", "InceptionV3", "tf", INCEPTION_V3_HINTS,
            {"mixed3": 1.0, "mixed5": 1.5}, min_input_side=75,
        ),
        Family(
            "vgg16", "VGG16", "caffe",
            _stages(EARLY_TO_LATE, ("block1_conv2", "block2_conv2", "block3_conv3",
                                    "block4_conv3", "block5_conv3", "block5_pool")),
            {"block4_conv3": 1.0},
        ),
        Family(
            "vgg19", "VGG19", "caffe",
            _stages(EARLY_TO_LATE, ("block1_conv2", "block2_conv2", "block3_conv4",
                                    "block4_conv4", "block5_conv4", "block5_pool")),
            {"block4_conv4": 1.0},
        ),
        Family(
            "resnet50", "ResNet50", "caffe",
            _stages(EARLY_TO_LATE, ("conv1_relu", "conv2_block3_out", "conv3_block4_out",
                                    "conv4_block3_out", "conv4_block6_out", "conv5_block3_out")),
            {"conv3_block4_out": 1.0, "conv4_block3_out": 1.0},
        ),
        Family(
            "resnet50v2", "ResNet50V2", "tf",
            _stages(EARLY_TO_LATE, ("conv1_conv", "conv2_block2_out", "conv3_block3_out",
                                    "conv4_block3_out", "conv4_block6_out", "post_relu")),
            {"conv3_block3_out": 1.0, "conv4_block3_out": 1.0},
        ),
        Family(
            "inceptionresnetv2", "InceptionResNetV2", "tf",
            _stages(EARLY_TO_LATE, ("max_pooling2d_1", "mixed_5b", "block35_10_ac",
                                    "mixed_6a", "block17_20_ac", "conv_7b_ac")),
            {"block35_10_ac": 1.0, "mixed_6a": 1.0}, min_input_side=75,
        ),
        Family(
            "mobilenetv2", "MobileNetV2", "tf",
            _stages(EARLY_TO_LATE, ("block_2_add", "block_5_add", "block_9_add",
                                    "block_12_add", "block_15_add", "out_relu")),
            {"block_5_add": 1.0, "block_9_add": 1.0},
        ),
        Family(
            "efficientnetb0", "EfficientNetB0", "raw",
            _stages(EARLY_TO_LATE, ("block2b_add", "block3b_add", "block4c_add",
                                    "block5c_add", "block6d_add", "top_activation")),
            {"block4c_add": 1.0, "block5c_add": 1.0},
        ),
        Family(
            "convnexttiny", "ConvNeXtTiny", "raw",
            _stages(EARLY_TO_LATE, ("convnext_tiny_stage_0_block_0_identity",
                                    "convnext_tiny_stage_0_block_2_identity",
                                    "convnext_tiny_stage_1_block_2_identity",
                                    "convnext_tiny_stage_2_block_4_identity",
                                    "convnext_tiny_stage_2_block_8_identity",
                                    "convnext_tiny_stage_3_block_2_identity")),
            {"convnext_tiny_stage_1_block_2_identity": 1.0,
             "convnext_tiny_stage_2_block_4_identity": 1.0},
        ),
    )
}  # fmt: skip
"""kdream's built-in families, by ``--model`` name."""

DEFAULT_FAMILY = "inceptionv3"


def family_named(name: str) -> Family:
    """The family called ``name`` (any case, e.g. ``VGG19`` or ``vgg19``)."""
    key = name.strip().lower().replace("-", "").replace("_", "")
    if key not in FAMILIES:
        raise KeyError(name)
    return FAMILIES[key]
