"""Batch normalisation folded into the convolution before it: the same function, less work.

kdream never trains: every ``BatchNormalization`` runs in inference mode, where it is a
fixed per-channel affine map, ``(x - mean) / sqrt(var + eps) * gamma + beta``. After a
linear ``Conv2D`` that map folds into the convolution's kernel and bias, and the
normalisation disappears from the forward and the backward pass. Under a mixed
precision policy Keras computes each normalisation in float32 (a cast to float32 and
back around an image-sized affine map), so the saving is largest there. Measured on a
2-core CPU (TensorFlow, InceptionV3 to mixed5, 2 x 512 px, forward + input gradient):
bfloat16 0.347 -> 0.266 s a step, float32 0.587 -> 0.567 s.

Only a ``Conv2D`` without activation whose output feeds only the normalisation (not
another layer, not the model's outputs) is folded: InceptionV3, ResNet50,
InceptionResNetV2, MobileNetV2 and EfficientNetB0 have such pairs. Any other normalisation
(after an addition or a depthwise convolution, ResNet50V2's pre-activation ones) stays. The
folded weights are computed from the network's weights when the model is rebuilt, so
the network must hold its final weights by then (kdream loads them first).

When the normalisation's only reader is a ReLU ``Activation`` (InceptionV3's
conv-norm-ReLU blocks) and its output is not one of the model's, the ReLU moves into
the folded convolution too (``activation="relu"``): the same operations, one Keras
layer fewer per block, which every rebuild and every trace paid for (50 of the 115
layers of InceptionV3 to mixed5).

Example:
    >>> folded = fold_batch_norms(extractor_model)  # doctest: +SKIP
    >>> np.allclose(folded(images), extractor_model(images), atol=1e-4)  # doctest: +SKIP
    True
"""

from __future__ import annotations

import keras
import numpy as np


def fold_batch_norms(model: keras.Model) -> keras.Model:
    """``model`` with every foldable normalisation folded (see the module); ``model``
    itself when there is none. Unchanged layers are shared, not copied.

    A folded normalisation leaves nothing behind: the layers that read it read the
    folded convolution. An identity layer in its place cost a Keras call per
    normalisation (94 in InceptionV3) when the network was rebuilt and in every trace,
    and under a mixed policy any dtype but the convolution's cast each activation.
    """
    pairs = _foldable_pairs(model)
    if not pairs:
        return model
    rectifiers = _rectifiers_after(model, pairs)
    folded_away = {id(norm) for norm in pairs.values()} | {id(r) for r in rectifiers.values()}

    def replace(layer):
        if id(layer) in pairs:
            return _folded_convolution(layer, pairs[id(layer)], id(layer) in rectifiers)
        return layer  # a folded normalisation or ReLU too: it is never called (below)

    def call(layer, *args, **kwargs):
        if id(layer) in folded_away:
            return args[0]  # the folded convolution's output: the normalised values
        return layer(*args, **kwargs)

    return keras.models.clone_model(model, clone_function=replace, call_function=call)


def _foldable_pairs(model: keras.Model) -> dict[int, keras.layers.Layer]:
    """{id(convolution): the normalisation it folds into} for every foldable pair."""
    pairs = {}
    exposed = {id(tensor) for tensor in model.outputs}  # a cut may end at a convolution
    for layer in model.layers:
        if type(layer) is not keras.layers.BatchNormalization or not _channel_axis(layer):
            continue
        if len(layer._inbound_nodes) != 1:  # Keras keeps no public accessor for the graph
            continue
        producer = layer.input._keras_history.operation
        if _foldable_convolution(producer) and id(producer.output) not in exposed:
            pairs[id(producer)] = layer
    return pairs


def _rectifiers_after(model: keras.Model, pairs) -> dict[int, keras.layers.Layer]:
    """{id(convolution): the ReLU ``Activation`` that alone reads its normalisation}, for
    the pairs whose normalised (pre-ReLU) values nothing else needs."""
    exposed = {id(tensor) for tensor in model.outputs}
    in_model = {id(layer) for layer in model.layers}
    rectifiers = {}
    for conv_id, norm in pairs.items():
        if id(norm.output) in exposed or len(norm._outbound_nodes) != 1:
            continue
        reader = norm._outbound_nodes[0].operation
        if (
            type(reader) is keras.layers.Activation  # exact type, as for the convolution
            and keras.activations.serialize(reader.activation) == "relu"
            and id(reader) in in_model
            and len(reader._inbound_nodes) == 1
        ):
            rectifiers[conv_id] = reader
    return rectifiers


def _foldable_convolution(layer) -> bool:
    return (
        type(layer) is keras.layers.Conv2D  # exact type: a subclass may compute otherwise
        and keras.activations.serialize(layer.activation) in ("linear", None)
        and len(layer._inbound_nodes) == 1
        and len(layer._outbound_nodes) == 1  # the normalisation is its only consumer
    )


def _channel_axis(norm) -> bool:
    axis = norm.axis[0] if isinstance(norm.axis, (list, tuple)) else norm.axis
    return axis in (-1, len(norm.input.shape) - 1)


def _folded_convolution(conv, norm, rectified: bool = False) -> keras.layers.Conv2D:
    """A ``Conv2D`` computing ``norm(conv(x))`` (``relu(norm(conv(x)))`` when
    ``rectified``): kernel scaled per output channel, a bias."""
    scale = 1.0 / np.sqrt(_value(norm.moving_variance) + norm.epsilon)
    if norm.scale:
        scale = scale * _value(norm.gamma)
    shift = -_value(norm.moving_mean) * scale
    if norm.center:
        shift = shift + _value(norm.beta)
    if conv.use_bias:
        shift = shift + _value(conv.bias) * scale
    config = conv.get_config()
    config["use_bias"] = True
    if rectified:
        config["activation"] = "relu"
    policy = conv.dtype_policy
    if policy.compute_dtype != policy.variable_dtype:
        # A mixed policy casts each float32 weight to the compute dtype in every call
        # (100 casts a step and in the trace for InceptionV3 to mixed5): the folded
        # weights are stored in that dtype instead, the same values rounded once.
        config["dtype"] = policy.compute_dtype
    folded = keras.layers.Conv2D.from_config(config)
    folded.build(conv.input.shape)
    kernel = _value(conv.kernel) * scale  # the output channel is the kernel's last axis
    folded.set_weights([kernel.astype("float32"), shift.astype("float32")])
    return folded


def _value(variable) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype="float64")
