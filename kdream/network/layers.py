"""Layers kdream puts into networks: the pixel mapping in front (dream pixels in [-1, 1]
to what the network was trained on) and the pre-activation outputs visualisations read.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)


IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


IMAGENET_MEAN_UNIT_RGB = (0.485, 0.456, 0.406)
"""The [0, 1] mean of torch-style preprocessing (rounded, as Keras and torchvision use it)."""


@keras.saving.register_keras_serializable(package="kdream")
class PixelMapping(keras.layers.Layer):
    """Dream pixels in [-1, 1] -> the network's input: optional channel reversal (RGB to
    BGR), then ``x * scale + offset`` per channel. Every keras.applications
    ``preprocess_input`` mode and every ``--input-range`` is such a map."""

    def __init__(self, scale, offset, reverse_channels=False, **kwargs):
        super().__init__(**kwargs)
        self.scale = tuple(float(s) for s in scale)
        self.offset = tuple(float(o) for o in offset)
        self.reverse_channels = bool(reverse_channels)

    def call(self, inputs):
        if self.reverse_channels:
            inputs = ops.flip(inputs, axis=-1)
        scale = ops.convert_to_tensor(np.asarray(self.scale, "float32"))
        offset = ops.convert_to_tensor(np.asarray(self.offset, "float32"))
        return inputs * scale + offset

    def get_config(self):
        return {
            **super().get_config(),
            "scale": list(self.scale),
            "offset": list(self.offset),
            "reverse_channels": self.reverse_channels,
        }


def family_mapping(preprocessing: str) -> PixelMapping | None:
    """The map from [-1, 1] to what a keras.applications family expects (None: identity)."""
    if preprocessing == "tf":  # the network wants [-1, 1]: nothing to do
        return None
    if preprocessing == "raw":
        return PixelMapping((127.5,) * 3, (127.5,) * 3)
    if preprocessing == "caffe":  # BGR, 0..255 minus the ImageNet mean
        mean_bgr = IMAGENET_MEAN_RGB[::-1]
        return PixelMapping((127.5,) * 3, tuple(127.5 - m for m in mean_bgr), True)
    if preprocessing == "torch":  # [0, 1], then standardised per channel
        mean = IMAGENET_MEAN_UNIT_RGB
        scale = tuple(0.5 / s for s in IMAGENET_STD_RGB)
        return PixelMapping(scale, tuple((0.5 - m) / s for m, s in zip(mean, IMAGENET_STD_RGB)))
    raise ValueError(f"unknown preprocessing {preprocessing!r}")


def range_mapping(low: float, high: float, channels: int) -> PixelMapping | None:
    """[-1, 1] -> [low, high] (None when that is already the range)."""
    if (low, high) == (-1.0, 1.0):
        return None
    return PixelMapping(((high - low) / 2,) * channels, ((high + low) / 2,) * channels)


def as_list(outputs) -> list:
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


RECTIFYING_ACTIVATIONS = ("relu", "softmax")
"""Activations whose input is what a visualisation optimises (a dead ReLU has no gradient,
a softmax unit competes with all the others)."""


def pre_activation_output(layer, taken: set[str] | None = None):
    """The symbolic tensor of ``layer``'s output before its rectifying activation.

    An ``Activation``/``ReLU``/``Softmax`` layer: its input. A ``Concatenate`` (InceptionV3's
    ``mixed`` blocks): the concatenation of its branches' pre-activations (a pooling branch
    stays as it is). A ``Conv2D`` or ``Dense`` with a built-in relu/softmax: its linear
    part, from a :class:`LinearPart` that computes it with the layer's own variables.
    Anything else: its output.

    ``taken``: the layer names of the network being built (new layers get other names);
    without it, those of the network ``layer`` is in are not known and only Keras' counter
    names them.

    Example:
        >>> model = new_inception()
        >>> tuple(pre_activation_output(model.get_layer("mixed4")).shape)
        (None, None, None, 768)
    """
    if _rectifier(layer):
        return layer.input
    if isinstance(layer, keras.layers.Concatenate):
        taken = set() if taken is None else taken
        branches = [pre_activation_output(_producer(t), taken) for t in as_list(layer.input)]
        return _concatenation_beside(layer, taken)(branches)
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and (
        _activation_name(layer) in RECTIFYING_ACTIVATIONS
    ):
        return LinearPart(layer)(layer.input)
    return layer.output


def _concatenation_beside(layer, taken: set[str]) -> keras.layers.Concatenate:
    """A new ``Concatenate`` like ``layer``, named so that it clashes with no name in
    ``taken`` (the network's layer names and the ones made so far, kept up to date).

    Networks are cut under canonical layer names (Keras' name counter starts from zero), so
    a new layer's automatic name can be one the network already has: InceptionV3's mixed9
    and mixed10 hold ``concatenate`` and ``concatenate_1``, and a model with two layers of
    one name cannot be built. Such a layer is named after the one it stands beside; the
    others keep their automatic names (and so the traces and pictures they had).
    """
    concatenation = keras.layers.Concatenate(axis=layer.axis)
    name, suffix = concatenation.name, 1
    while name in taken:
        name = f"{layer.name}_pre_activation" + (f"_{suffix}" if suffix > 1 else "")
        suffix += 1
    if name != concatenation.name:
        concatenation = keras.layers.Concatenate(axis=layer.axis, name=name)
    taken.add(name)
    return concatenation


def _producer(tensor):
    return tensor._keras_history.operation  # Keras keeps no public accessor for it


def _activation_name(layer) -> str | None:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None)


def _rectifier(layer) -> bool:
    if isinstance(layer, (keras.layers.ReLU, keras.layers.Softmax)):
        return True
    return isinstance(layer, keras.layers.Activation) and (
        _activation_name(layer) in RECTIFYING_ACTIVATIONS
    )


class LinearPart(keras.layers.Layer):
    """A ``Conv2D`` or ``Dense`` layer without its activation: the same kernel and bias
    (the layer is held, so its variables are the model's and JAX's stateless call sees
    them), without copying a weight."""

    def __init__(self, layer, **kwargs):
        super().__init__(name=f"{layer.name}_linear", **kwargs)
        self.layer = layer
        self.built = True

    def call(self, inputs):
        layer = self.layer
        kernel = ops.cast(layer.kernel, inputs.dtype)
        if isinstance(layer, keras.layers.Dense):
            outputs = ops.matmul(inputs, kernel)
        else:
            outputs = ops.conv(
                inputs,
                kernel,
                strides=layer.strides,
                padding=layer.padding,
                data_format=layer.data_format,
                dilation_rate=layer.dilation_rate,
            )
        if layer.use_bias:
            bias = ops.cast(layer.bias, inputs.dtype)
            if not isinstance(layer, keras.layers.Dense) and layer.data_format == "channels_first":
                bias = ops.reshape(bias, (-1,) + (1,) * (len(outputs.shape) - 2))  # (C, 1, 1)
            outputs = outputs + bias
        return outputs

    def compute_output_spec(self, inputs):
        return self.layer.compute_output_spec(inputs)
