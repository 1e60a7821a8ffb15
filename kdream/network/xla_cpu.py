"""InceptionV3 layers rewritten into shapes XLA's CPU compiler runs fast (JAX on a CPU only).

Same arithmetic, same weights, same outputs (to float rounding); only the operations
XLA is given change. Measured on a 2-core CPU with jax 0.10 (forward + input gradient):

- convolutions with ``padding="valid"`` take a slow path in XLA:CPU (a 3x3, 32 -> 32
  convolution at 255 px: 41 ms, against 6 ms for the same convolution with one row and
  column of padding whose extra output is cropped);
- max pooling's gradient (``select_and_scatter``) costs 15x its forward pass; the max
  of strided slices, taken rows first then columns, has the same value and gradient
  and costs 10x less;
- ``"same"`` average pooling runs as ``reduce_window`` twice (sums and counts); shifted
  slices and a constant count map do it at a fraction of the cost.

Together one 512 px step (mixed3 + mixed5) goes from 323 to 240 ms.
:func:`kdream.network.fast.fast_model` applies them.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kdream")
class PaddedValidConv2D(keras.layers.Conv2D):
    """``Conv2D(padding="valid")`` computed with ``stride`` rows/columns of high-side
    zero padding, then cropped to the valid output (the padding only adds outputs)."""

    def convolution_op(self, inputs, kernel):
        kernel_h, kernel_w = kernel.shape[:2]
        plain = self.padding != "valid" or kernel_h * kernel_w == 1
        if plain or self.dilation_rate != (1, 1) or self.data_format != "channels_last":
            return super().convolution_op(inputs, kernel)
        from jax import lax

        stride_h, stride_w = self.strides
        out_h = (inputs.shape[1] - kernel_h) // stride_h + 1
        out_w = (inputs.shape[2] - kernel_w) // stride_w + 1
        outputs = lax.conv_general_dilated(
            inputs,
            ops.convert_to_tensor(kernel),
            window_strides=(stride_h, stride_w),
            padding=((0, stride_h), (0, stride_w)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        return outputs[:, :out_h, :out_w]


@keras.saving.register_keras_serializable(package="kdream")
class SlicedMaxPooling2D(keras.layers.MaxPooling2D):
    """Valid max pooling as a maximum of strided slices: rows first, then columns."""

    def call(self, inputs):
        if self.padding != "valid" or self.data_format != "channels_last":
            return super().call(inputs)
        rows = _window_reduce(inputs, 1, self.pool_size[0], self.strides[0], ops.maximum)
        return _window_reduce(rows, 2, self.pool_size[1], self.strides[1], ops.maximum)


@keras.saving.register_keras_serializable(package="kdream")
class SlicedAveragePooling2D(keras.layers.AveragePooling2D):
    """Stride-1 ``"same"`` average pooling as shifted sums of a zero-padded input,
    divided by how many real pixels each window holds (padding is not counted)."""

    def call(self, inputs):
        pool_h, pool_w = self.pool_size
        centred = self.padding == "same" and pool_h % 2 and pool_w % 2
        if not centred or self.strides != (1, 1) or self.data_format != "channels_last":
            return super().call(inputs)
        pad_h, pad_w = pool_h // 2, pool_w // 2
        padded = ops.pad(inputs, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]])
        sums = _window_reduce(padded, 1, pool_h, 1, ops.add)
        sums = _window_reduce(sums, 2, pool_w, 1, ops.add)
        height, width = ops.shape(inputs)[1], ops.shape(inputs)[2]
        counts = _window_counts(height, pool_h)[:, None] * _window_counts(width, pool_w)[None, :]
        return sums / ops.cast(counts, inputs.dtype)[None, :, :, None]


def _window_reduce(tensor, axis: int, window: int, stride: int, combine):
    """Combine the ``window`` strided slices along ``axis`` (valid windows only).

    The length may be unknown while tracing (TensorFlow traces images of any size once):
    ``ops.shape`` gives it as a tensor then, and the slices take tensor bounds."""
    count = (ops.shape(tensor)[axis] - window) // stride + 1
    result = None
    for offset in range(window):
        index = [slice(None)] * len(tensor.shape)
        index[axis] = slice(offset, offset + stride * (count - 1) + 1, stride)
        piece = tensor[tuple(index)]
        result = piece if result is None else combine(result, piece)
    return result


def _window_counts(length, window: int):
    """How many in-range positions a centred ``window`` covers at each position (int32;
    ``length`` may be a tensor, see :func:`_window_reduce`)."""
    half = window // 2
    positions = ops.arange(length, dtype="int32")
    return ops.minimum(positions + half, length - 1) - ops.maximum(positions - half, 0) + 1


REPLACEMENTS = {
    keras.layers.Conv2D: PaddedValidConv2D,
    keras.layers.MaxPooling2D: SlicedMaxPooling2D,
    keras.layers.AveragePooling2D: SlicedAveragePooling2D,
}
"""Exact Keras layer class -> its fast variant."""


def replace_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
    """The fast variant of ``layer`` carrying the same weights, or ``layer`` itself."""
    variant = REPLACEMENTS.get(type(layer))
    if variant is None:
        return layer
    replacement = variant.from_config(layer.get_config())
    if layer.weights:
        replacement.build(layer.input.shape)
        replacement.set_weights(layer.get_weights())
    return replacement
