"""The one place that knows which framework runs Keras.

Everything else in kdream speaks ``keras.ops``. Here live the things Keras 3 does not
abstract: the gradient of the objective with respect to the *input* image, how functions
are compiled, and giving host memory back. As in Keras' own ``keras/src/backend/``, each
framework has a module of the same functions (:mod:`kdream.backend.tensorflow`,
:mod:`~kdream.backend.jax`, :mod:`~kdream.backend.torch`), and the active one is picked
once. Frameworks are imported only then, so importing kdream never loads the others and
:func:`set_framework_defaults` runs before any of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from kdream.backend import memory
from kdream.backend.common import (
    ONEDNN_ENV,
    SYSTEM_ALLOCATOR_ENV,
    TRACES,
    TraceCounter,
    framework_environment,
    import_keras_quietly,
    name,
    set_framework_defaults,
)

if TYPE_CHECKING:
    import keras

__all__ = [
    "ONEDNN_ENV",
    "SYSTEM_ALLOCATOR_ENV",
    "TRACES",
    "TraceCounter",
    "framework_environment",
    "active",
    "compile_function",
    "has_gpu",
    "import_keras_quietly",
    "input_gradient",
    "name",
    "release_host_memory",
    "roll_shift",
    "set_framework_defaults",
    "shape_free",
    "split_batches_over",
    "vector_jacobian",
]


@functools.cache
def active():
    """The active framework's module (Keras' backend cannot change once it is loaded)."""
    backend = name()
    if backend == "tensorflow":
        from kdream.backend import tensorflow as module
    elif backend == "jax":
        from kdream.backend import jax as module
    elif backend == "torch":
        from kdream.backend import torch as module
    else:
        raise RuntimeError(f"kdream supports tensorflow, jax and torch, not {backend!r}")
    return module


def compile_function(
    function: Callable, counter: TraceCounter = TRACES, *, any_size: bool = False
) -> Callable:
    """Compile a pure tensor function (eager on torch).

    TensorFlow: ``tf.function``, once per shape; with ``any_size`` on a CPU, once for
    images (H, W, C) and batches (N, H, W, C) of any height and width (see
    :func:`shape_free`; the function must not need those sizes as Python numbers), and
    then every argument must be a tensor. On a GPU, XLA compiles once per shape. JAX:
    ``jax.jit``, once per shape, kept across processes in kdream's compilation cache.
    PyTorch stays eager: ``torch.compile`` costs minutes on a small CPU for little gain.

    Example:
        >>> double = compile_function(lambda x: x * 2)
        >>> [float(v) for v in double(keras.ops.ones((2,)))]
        [2.0, 2.0]
    """
    module = active()
    if not module.COMPILES:
        return function

    # functools.wraps: TensorFlow counts traces per wrapped function's code, so each of
    # kdream's functions is counted on its own, not all of them as one "traced" that
    # seems to retrace at every octave (a new tile grid is a new function, traced once).
    @functools.wraps(function)
    def traced(*args):
        counter.tick()  # Python code runs only while tracing
        return function(*args)

    return module.compile_function(traced, any_size)


def vector_jacobian(function: Callable, counter: TraceCounter = TRACES) -> Callable:
    """Build ``vjp(inputs, cotangent, *data)``: the cotangent pulled back through
    ``function(inputs, *data)``, i.e. ``d sum(cotangent * function(inputs)) / d inputs``.

    For a chain the gradient cannot run through in one piece: a visualisation that also
    needs the gradient with respect to its *pixels* (an importance map, a pixel-space
    penalty) differentiates the network with respect to the pixels, then pulls that
    gradient back through its parameterisation with this. Compiled as
    :func:`compile_function` compiles.

    Example:
        >>> square = vector_jacobian(lambda x: x * x)
        >>> [float(v) for v in square(keras.ops.ones((2,)) * 3, keras.ops.ones((2,)))]
        [6.0, 6.0]
    """
    return active().vector_jacobian(function, counter)


def shape_free() -> bool:
    """Whether compiled functions take images of any size without retracing.

    TensorFlow on a CPU traces with free spatial sizes: a dream's octaves share one trace
    of each function. XLA wants static shapes, so JAX and TensorFlow on a GPU compile once
    per shape.
    """
    return active().shape_free()


def split_batches_over(count: int) -> None:
    """Share one picture's tile batches among ``count`` local devices (JAX only: Keras'
    distribution API is JAX-only); call before the network is built.

    Example:
        >>> split_batches_over(1)  # doctest: +SKIP
    """
    if name() != "jax":
        raise ValueError(
            "--devices: only the JAX backend splits a picture over devices "
            "(Keras' distribution API is JAX-only)"
        )
    active().split_batches_over(count)


def has_gpu() -> bool:
    """Whether the active backend computes on a GPU (or another accelerator)."""
    return active().has_gpu()


def release_host_memory(image_sized, collect_cycles: bool = False) -> None:
    """On a CPU, give the memory a large step's temporaries used back to the OS.

    Torch, and TensorFlow with the system allocator (:func:`set_framework_defaults`),
    allocate host tensors with plain ``malloc``, and glibc soon raises its mmap
    threshold up to 32 MiB: the activations of a tile batch (~1 GiB at 2 x 512 px) come
    from the heap, which keeps their pages once they are freed. Image-sized buffers
    larger than that cannot reuse those pages, so without a trim a 4096 px step counts
    every one of them on top of the ~1 GiB (torch: 3.4 instead of 2.2 GiB peak).

    ``collect_cycles`` first runs a full garbage collection on torch. Keras' torch
    backend flattens structures with torch's pytree, whose recursive closures form
    reference cycles; some outlive the young-generation collections and keep a step's
    tensors alive until a rare full one: +200-400 MiB a step at 4096 px.

    Only when ``image_sized`` (a tensor the size of the buffers to come) is over the
    threshold: smaller buffers reuse the heap, a trim costs the next tile batch page
    faults (~0.3 s) and a full collection ~170 ms. XLA pools its own memory.
    """
    if not active().host_tensors_from_malloc(image_sized):
        return
    memory.trim_after(image_sized, collect_cycles=collect_cycles and name() == "torch")


def roll_shift(shift: tuple[int, int]):
    """The shift argument for ``ops.roll`` inside compiled functions.

    A tensor lets compiled code take any shift without retracing; eager torch's
    ``torch.roll`` only takes Python ints.
    """
    return active().roll_shift(shift)


def input_gradient(
    model: keras.Model,
    objective_of_outputs: Callable,
    counter=TRACES,
    prepare: Callable | None = None,
):
    """Build ``gradient(inputs, *data) -> (per_image_objective, d objective / d inputs)``.

    ``objective_of_outputs(outputs, *data)`` maps the model's outputs to one value per
    image (shape (N,)); their sum is differentiated, so each image in the batch gets the
    gradient of its own value only. Weights are constants: no weight gradient is ever
    computed.

    ``data`` are tensors the objective reads but does not differentiate (a guide's
    features, a style's Gram matrices, the channel each image of a batch shows). They are
    arguments, not constants, so new values never recompile the function; only new
    shapes do. ``prepare(inputs, *data)`` maps what is differentiated to the model's
    input images (an FFT spectrum to pixels, random transforms); without it the inputs
    are the images.

    Example:
        >>> mean = lambda out: ops.mean(out, axis=(1, 2, 3))
        >>> values, grads = input_gradient(model, mean)(images)  # doctest: +SKIP
    """
    return active().input_gradient(model, objective_of_outputs, counter, prepare)
