"""A channels-last network rebuilt channels-first inside, for PyTorch.

Keras' torch backend computes every channels-last convolution and pooling by permuting
its input to torch's (N, C, H, W), then permuting the result back. The permuted views
are not contiguous: the convolutions' backward passes copy them, and pooling takes a
slow strided path. Profiled on a 2-core CPU (InceptionV3 to mixed5, 2 x 512 px,
bfloat16, forward + input gradient): a quarter of a step was ``copy_`` and pooling took
as long as the 50 convolutions. Built channels-first, the network's tensors stay
(N, C, H, W) from the first convolution to the last layer.

The rebuilt model takes and returns the same channels-last tensors as the original (one
permutation at the input, one per output) and computes the same function with the same
weights (copied: the layers are new). Only graphs made of the layers below are rebuilt
(InceptionV3, VGG, ResNet, DenseNet); any other (depthwise or separable convolutions,
squeeze-and-excitation, a user's own layers) comes back unchanged.

Example:
    >>> fast = channels_first(extractor_model)     # doctest: +SKIP
    >>> fast(images).shape == extractor_model(images).shape  # doctest: +SKIP
    True
"""

from __future__ import annotations

import keras

from kdream.network.layers import LinearPart

_DATA_FORMAT_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.ZeroPadding2D,
)
_AXIS_LAYERS = (keras.layers.BatchNormalization, keras.layers.Concatenate)
_ELEMENTWISE_LAYERS = (
    keras.layers.InputLayer,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.Add,
)


def convertible(model: keras.Model) -> bool:
    """Whether every layer of ``model`` has a channels-first form here (a 4-D input)."""
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        return False
    known = (*_DATA_FORMAT_LAYERS, *_AXIS_LAYERS, *_ELEMENTWISE_LAYERS, LinearPart)
    for layer in model.layers:
        if type(layer) not in known:  # exact types: a subclass may compute otherwise
            return False
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            return False
        if isinstance(layer, _AXIS_LAYERS) and _axis(layer) not in (-1, 3):
            return False
    return True


def channels_first(model: keras.Model) -> keras.Model:
    """``model`` computed channels-first inside, channels-last outside (see the module)."""
    converted: dict[int, keras.layers.Layer] = {}

    def convert(layer):
        if id(layer) not in converted:
            converted[id(layer)] = _converted(layer, convert)
        return converted[id(layer)]

    height, width, channels = model.inputs[0].shape[1:]
    inner_input = keras.Input((channels, height, width), name="channels_first_pixels")
    inner = keras.models.clone_model(model, input_tensors=inner_input, clone_function=convert)
    pixels = keras.Input(tuple(model.inputs[0].shape[1:]), name=model.inputs[0].name)
    outputs = inner(keras.layers.Permute((3, 1, 2))(pixels))
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    outputs = [keras.layers.Permute((2, 3, 1))(output) for output in outputs]
    return keras.Model(pixels, outputs if len(outputs) > 1 else outputs[0], name=model.name)


def _converted(layer, convert) -> keras.layers.Layer:
    if isinstance(layer, LinearPart):
        return LinearPart(convert(layer.layer))
    if isinstance(layer, _ELEMENTWISE_LAYERS):
        return layer  # no channel axis, no weights: the same layer serves both
    config = layer.get_config()
    if isinstance(layer, _DATA_FORMAT_LAYERS):
        config["data_format"] = "channels_first"
    else:
        config["axis"] = 1
    replacement = type(layer).from_config(config)
    if layer.weights:
        replacement.build(_first_channel_shape(layer.input.shape))
        replacement.set_weights(layer.get_weights())
    return replacement


def _first_channel_shape(shape):
    return (shape[0], shape[-1], *shape[1:-1])


def _axis(layer) -> int:
    axis = layer.axis
    return axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
