"""Arithmetic cost of a dream step, counted from the network's convolution shapes.

Only the convolutions are counted: they are nearly all of InceptionV3's work
(batch norm, ReLU, pooling and concatenation add a few percent and no
multiply-adds worth a roofline). The input gradient of a convolution is a
transposed convolution with the same multiply-adds as the forward pass, and no
weight gradient is ever taken, so one forward + input-gradient pass costs twice
the forward pass.

Example:
    >>> extractor = Dreamer(weights="random").ascent_step(DreamConfig()).extractor  # doctest: +SKIP
    >>> forward_macs(extractor.model, (512, 512)) / 1e9                             # doctest: +SKIP
    10.99...
"""

from __future__ import annotations

import functools

import keras

FLOPS_PER_MAC = 2
PASSES_PER_GRADIENT = 2
"""Forward pass plus the input-gradient (transposed convolution) pass."""


def conv_layers(model: keras.Model) -> list[keras.layers.Conv2D]:
    """The Conv2D layers the model actually runs (a cut model holds only its subgraph)."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def network_of(model: keras.Model) -> keras.Model:
    """The model whose layers are the convolutions: ``model``, or the one network nested in
    it (torch's channels-first rebuild wraps it between two permutations)."""
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not conv_layers(model) and len(nested) == 1:
        return network_of(nested[0])
    return model


@functools.lru_cache(maxsize=64)
def _forward_macs_cached(model: keras.Model, tile_hw: tuple[int, int]) -> int:
    network = network_of(model)
    layers = conv_layers(network)
    channels_first = layers[0].data_format == "channels_first"
    # One symbolic pass (no computation) gives every convolution's output shape at this size.
    probe = keras.Model(network.input, [layer.output for layer in layers])
    image = (1, 3, *tile_hw) if channels_first else (1, *tile_hw, 3)
    specs = probe.compute_output_spec(keras.KerasTensor(image))
    total = 0
    for layer, spec in zip(layers, specs):
        kernel_h, kernel_w, in_channels, out_channels = (int(n) for n in layer.kernel.shape)
        spatial = spec.shape[2:4] if channels_first else spec.shape[1:3]
        out_h, out_w = (int(n) for n in spatial)
        total += out_h * out_w * out_channels * kernel_h * kernel_w * in_channels
    return total


def forward_macs(model: keras.Model, tile_hw: tuple[int, int]) -> int:
    """Multiply-adds of the model's convolutions for one image of ``tile_hw``."""
    return _forward_macs_cached(model, (int(tile_hw[0]), int(tile_hw[1])))


def gradient_flops(model: keras.Model, tile_hw: tuple[int, int], tiles: int = 1) -> int:
    """FLOPs of forward + input gradient for ``tiles`` inputs of ``tile_hw``."""
    return forward_macs(model, tile_hw) * FLOPS_PER_MAC * PASSES_PER_GRADIENT * tiles


def step_flops(model: keras.Model, image_hw: tuple[int, int], tile_size: int) -> int:
    """FLOPs of one ascent step: every tile of kdream's layout (overlaps counted twice)."""
    from kdream.ascent.tiling import TileLayout

    layout = TileLayout.for_image(tuple(image_hw), tile_size)
    return gradient_flops(model, layout.tile_hw, layout.count)


def dream_flops(dreamer, image_hw: tuple[int, int], config) -> int:
    """FLOPs of a whole dream: every step of every octave."""
    extractor = dreamer.ascent_step(config).extractor
    sizes = dreamer.octave_sizes(image_hw, config)
    return sum(config.steps * step_flops(extractor.model, size, config.tile_size) for size in sizes)
