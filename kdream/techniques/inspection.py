"""Looking inside a network without dreaming: a photo's feature maps at a layer, and a first
layer's filters, as pictures.

Example:
    >>> dreamer = Dreamer(weights="random")                              # doctest: +SKIP
    >>> maps = feature_maps(dreamer, photo, "mixed2", top=8)            # doctest: +SKIP
    >>> [m.channel for m in maps][:3], maps[0].picture.dtype            # doctest: +SKIP
    ([113, 7, 250], dtype('uint8'))
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import ops

from kdream.catalogue import unknown_layer_message
from kdream.pixels import to_model_range
from kdream.techniques.sheets import normalised


@dataclasses.dataclass(frozen=True)
class Panel:
    """One cell of a sheet: which channel, how strongly it fired, and its picture."""

    layer: str
    channel: int
    strength: float
    picture: np.ndarray

    @property
    def title(self) -> str:
        return f"{self.layer}:{self.channel}"


def feature_maps(dreamer, image: np.ndarray, layer: str, top: int = 32) -> list[Panel]:
    """The ``top`` most active channels of ``layer`` for ``image`` (by mean activation),
    strongest first, each map normalised to its own range."""
    # The dream's cut: built only as deep as ``layer`` (or read from the prepared cache).
    extractor = dreamer.extractor_for([layer])
    pixels = to_model_range(dreamer.pixels_for_model(image))
    activations = extractor.activations(ops.convert_to_tensor(pixels[None]))[layer]
    maps = np.asarray(ops.convert_to_numpy(activations))[0]  # (h, w, channels)
    if maps.ndim != 3:
        raise ValueError(f"layer {layer!r} has no spatial maps (output shape {maps.shape})")
    strength = maps.mean(axis=(0, 1))
    order = np.argsort(-strength, kind="stable")[: max(1, top)]
    return [Panel(layer, int(c), float(strength[c]), normalised(maps[..., c])) for c in order]


def first_convolution(model: keras.Model) -> str:
    """The name of the model's first convolution (what ``--filters`` shows by default)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D) and not isinstance(
            layer, keras.layers.DepthwiseConv2D
        ):
            return layer.name
    raise ValueError("the model has no Conv2D layer whose filters could be shown")


def filters(model: keras.Model, layer_name: str, bgr: bool = False) -> list[Panel]:
    """A convolution's filters as pictures: RGB for 3 input channels, gray for 1 (``bgr``:
    the network reads BGR, as VGG and ResNet50 do, so the filters are flipped to show).

    The filters of deeper layers have hundreds of input channels, which no picture shows:
    those are refused. Each filter is normalised symmetrically about 0, so mid-grey is 0.
    """
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        raise ValueError(unknown_layer_message(layer_name)) from None
    if not isinstance(layer, keras.layers.Conv2D) or isinstance(
        layer, keras.layers.DepthwiseConv2D
    ):
        raise ValueError(f"{layer_name} is a {type(layer).__name__}, not a convolution")
    kernel = np.asarray(ops.convert_to_numpy(layer.kernel))  # (kh, kw, in, out)
    if kernel.shape[2] not in (1, 3):
        raise ValueError(
            f"{layer_name}'s filters read {kernel.shape[2]} channels: only a first layer's "
            "(1 or 3 input channels) can be shown as pictures"
        )
    panels = []
    for index in range(kernel.shape[3]):
        weights = kernel[..., index]
        bound = float(np.abs(weights).max()) or 1.0
        picture = normalised(np.concatenate([weights.ravel(), [-bound, bound]]))[:-2]
        picture = picture.reshape(weights.shape)
        if bgr and picture.shape[-1] == 3:
            picture = picture[..., ::-1]
        strength = float(np.sqrt((weights**2).sum()))
        panels.append(Panel(layer_name, index, strength, picture))
    return panels
