"""TensorFlow: ``GradientTape`` inside ``tf.function`` (XLA only on a GPU); on a CPU, one
trace for images of any size."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable

import tensorflow as tf

from kdream.backend.common import ONEDNN_ENV, SYSTEM_ALLOCATOR_ENV, caller_stacklevel, images_of


def on_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def has_gpu() -> bool:
    return on_gpu()


def shape_free() -> bool:
    """TensorFlow on a CPU traces with free spatial sizes (as the TensorFlow tutorial
    does): a dream's octaves share one trace of each function instead of paying a
    retrace (2-3 s for the gradient) per octave. XLA wants static shapes."""
    return not on_gpu()


COMPILES = True


def compile_function(traced: Callable, any_size: bool) -> Callable:
    if any_size:
        return _tensorflow_function(traced, sized_free=range(1_000))
    return tf.function(traced, jit_compile=not shape_free(), autograph=False)


def _tensorflow_function(function: Callable, sized_free) -> Callable:
    """``tf.function(function)``; on a CPU traced once per argument shapes in which the
    arguments at the positions ``sized_free`` have free heights and widths.

    Without autograph: kdream's tensor code branches and loops through ``keras.ops``
    only, and converting the Python of every Keras layer the model calls took 3-4 s of
    the first step's 7-8 s (a profile of the trace on a 2-core CPU).
    """
    if not shape_free():
        return tf.function(function, jit_compile=True, autograph=False)
    by_signature: dict[tuple, Callable] = {}

    def call(*args):
        signature = tuple(
            _tensor_spec(argument, index in sized_free) for index, argument in enumerate(args)
        )
        if signature not in by_signature:
            by_signature[signature] = tf.function(
                function, input_signature=signature, autograph=False
            )
        return by_signature[signature](*args)

    return call


def _tensor_spec(argument, size_free: bool):
    """Images (H, W, C) and batches (N, H, W, C) with free H and W; the batch size and
    channels stay (objectives read them). Other tensors (kernels, shifts, layout
    vectors, scalars) keep their shapes."""
    if not hasattr(argument, "shape"):
        argument = tf.convert_to_tensor(argument)
    shape = tuple(argument.shape)
    if size_free and len(shape) in (3, 4):
        shape = shape[:-3] + (None, None) + shape[-1:]
    return tf.TensorSpec(shape, tf.as_dtype(argument.dtype))


def onednn_enabled() -> bool:
    """Whether this process's TensorFlow runs oneDNN's kernels (fixed when it loaded)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


@functools.cache
def warn_if_kernels_differ() -> None:
    """Once per process: TensorFlow loaded before kdream set its oneDNN default, so its
    kernels (and so the last bits of a picture) differ from the CLI's and a replay's."""
    if _switched_on(ONEDNN_ENV) and not onednn_enabled():
        warnings.warn(
            "TensorFlow was imported before kdream, so it runs without oneDNN's kernels: "
            "slower, and pictures differ in the last bits from the CLI's. Import kdream "
            f"first, or set {ONEDNN_ENV}=1 before TensorFlow loads.",
            RuntimeWarning,
            stacklevel=caller_stacklevel(),
        )


def input_gradient(model, objective_of_outputs, counter, prepare):
    warn_if_kernels_differ()

    def gradient(inputs, *data):
        counter.tick()
        # Only the input is watched: a tape that also watches the weights the network
        # reads records their casts and makes each bias sum's gradient, 400 graph nodes
        # the trace builds (~0.1 s of the first step) and the graph optimiser then prunes.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(inputs)
            images = images_of(inputs, data, prepare)
            values = objective_of_outputs(model(images, training=False), *data)
            total = tf.reduce_sum(values)
        return values, tape.gradient(total, inputs)

    # Only the tiles get free sizes: data keep theirs (objectives may read them), and so
    # do the inputs of a ``prepare`` step (a parameterisation may need its image size).
    return _tensorflow_function(gradient, sized_free=() if prepare else (0,))


def vector_jacobian(function, counter):
    def vjp(inputs, cotangent, *data):
        counter.tick()
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(inputs)
            outputs = function(inputs, *data)
        return tape.gradient(outputs, inputs, output_gradients=cotangent)

    return _tensorflow_function(vjp, sized_free=())


def roll_shift(shift: tuple[int, int]):
    import keras
    import numpy as np

    return keras.ops.convert_to_tensor(np.asarray(shift, dtype="int32"))


def host_tensors_from_malloc(tensor) -> bool:
    """With the system allocator, CPU tensors come from ``malloc``."""
    on_cpu = "CPU" in (tensor.device or "CPU:0").upper()
    return on_cpu and _switched_on(SYSTEM_ALLOCATOR_ENV)


def _switched_on(variable: str) -> bool:
    """TensorFlow's reading of a boolean environment variable."""
    return os.environ.get(variable, "").lower() in ("1", "true")
