"""The one place that knows which framework runs Keras.

Everything else in kdream speaks ``keras.ops``. Here live the two things Keras 3
does not abstract: the gradient of the objective with respect to the *input*
image, and how functions are compiled. Frameworks (Keras included) are imported
lazily, inside the functions that need them, so importing kdream never loads the others
and :func:`set_framework_defaults` runs before any of them.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

SYSTEM_ALLOCATOR_ENV = "TF_ONEDNN_USE_SYSTEM_ALLOCATOR"


def set_framework_defaults() -> None:
    """Settings a framework reads once, when it first allocates: set before it loads
    (``kdream/__init__.py`` calls this); a value the user set is kept.

    TensorFlow's oneDNN CPU allocator pools every buffer over 256 KiB in a BFC arena that
    grows by doubling and never shrinks: a 4096 px step's image-sized buffers (192 MiB
    each) left a 2.8 GiB process. With the system allocator, glibc maps them on their
    own and unmaps them when freed, and :func:`release_host_memory` returns the tile
    batch's activations after the network pass (4096 px: 2.1 GiB).
    """
    os.environ.setdefault(SYSTEM_ALLOCATOR_ENV, "1")


def name() -> str:
    """The active Keras backend: ``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    import keras

    return keras.backend.backend()


@dataclasses.dataclass
class TraceCounter:
    """Counts how often compiled functions are traced (a retrace = a recompilation)."""

    traces: int = 0

    def tick(self) -> None:
        self.traces += 1


TRACES = TraceCounter()
"""Process-wide trace counter, read by tests and benchmarks."""


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

    def traced(*args):
        counter.tick()  # Python code runs only while tracing
        return function(*args)

    backend = name()
    if backend == "tensorflow":
        if any_size:
            return _tensorflow_function(traced, sized_free=range(1_000))
        import tensorflow as tf

        return tf.function(traced, jit_compile=not shape_free(), autograph=False)
    if backend == "jax":
        import jax

        use_jax_compilation_cache()
        return jax.jit(traced)
    return function


def shape_free() -> bool:
    """Whether compiled functions take images of any size without retracing.

    TensorFlow on a CPU traces with free spatial sizes (as the TensorFlow tutorial
    does): a dream's octaves share one trace of each function instead of paying a
    retrace (2-3 s for the gradient) per octave. XLA wants static shapes, so JAX and
    TensorFlow on a GPU compile once per shape.
    """
    return name() == "tensorflow" and not _tensorflow_on_gpu()


def _tensorflow_function(function: Callable, sized_free) -> Callable:
    """``tf.function(function)``; on a CPU traced once per argument shapes in which the
    arguments at the positions ``sized_free`` have free heights and widths.

    Without autograph: kdream's tensor code branches and loops through ``keras.ops``
    only, and converting the Python of every Keras layer the model calls took 3-4 s of
    the first step's 7-8 s (a profile of the trace on a 2-core CPU).
    """
    import tensorflow as tf

    if not shape_free():
        return tf.function(function, jit_compile=True, autograph=False)
    by_signature: dict[tuple, Callable] = {}

    def call(*args):
        signature = tuple(
            _tensor_spec(tf, argument, index in sized_free) for index, argument in enumerate(args)
        )
        if signature not in by_signature:
            by_signature[signature] = tf.function(
                function, input_signature=signature, autograph=False
            )
        return by_signature[signature](*args)

    return call


def _tensor_spec(tf, argument, size_free: bool):
    """Images (H, W, C) and batches (N, H, W, C) with free H and W; the batch size and
    channels stay (objectives read them). Other tensors (kernels, shifts, layout
    vectors, scalars) keep their shapes."""
    if not hasattr(argument, "shape"):
        argument = tf.convert_to_tensor(argument)
    shape = tuple(argument.shape)
    if size_free and len(shape) in (3, 4):
        shape = shape[:-3] + (None, None) + shape[-1:]
    return tf.TensorSpec(shape, tf.as_dtype(argument.dtype))


JAX_CACHE_FOLDER = "jax-compiled"
"""Folder of JAX's persistent compilation cache inside kdream's cache dir."""


_JAX_CACHE_FOLDERS_SET: set[str] = set()
"""The cache folders kdream gave JAX (any other one was configured by the user)."""


def use_jax_compilation_cache() -> str | None:
    """Keep JAX's compiled programs in ``<kdream cache dir>/jax-compiled`` (the cache dir of
    the weights: ``$KDREAM_HOME`` or its default), so a later process that dreams the same
    sizes loads them instead of compiling (XLA:CPU takes seconds per octave's gradient).

    Every program is kept, small ones too: loading beats compiling for all of them. A
    cache dir set through JAX's own configuration (``JAX_COMPILATION_CACHE_DIR``) wins;
    kdream's follows ``$KDREAM_HOME`` when it changes. Returns the folder in use, or None
    where none can be created (then JAX compiles as usual).

    Example:
        >>> use_jax_compilation_cache()  # doctest: +SKIP
        '/home/me/.cache/kdream/jax-compiled'
    """
    import jax

    configured = jax.config.jax_compilation_cache_dir
    if configured and configured not in _JAX_CACHE_FOLDERS_SET:
        return configured
    from kdream.weights import cache_dir

    folder = str(cache_dir() / JAX_CACHE_FOLDER)
    if configured == folder:
        return folder
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    _JAX_CACHE_FOLDERS_SET.add(folder)
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    if configured:  # the cache opened the previous folder: let it open this one
        from jax.experimental.compilation_cache import compilation_cache

        compilation_cache.reset_cache()
    return folder


def fast_model(model: keras.Model) -> keras.Model:
    """``model`` rebuilt in a form the active backend runs faster: the same function.

    - JAX on a CPU swaps some layers for variants XLA's CPU compiler runs faster (see
      ``kdream._xla_cpu``: ~30% faster steps); the other layers, and the weights, are
      shared with ``model``.
    - torch computes the network channels-first inside (see ``kdream._channels_first``:
      no permuted copies around every convolution and pooling), on weights copied into
      the new layers.
    - TensorFlow, and any graph neither rewrite knows, get ``model`` back unchanged.
    """
    import keras

    backend = name()
    if backend == "torch":
        from kdream import _channels_first

        if _channels_first.convertible(model):
            return _channels_first.channels_first(model)
        return model
    if backend != "jax" or not _jax_on_cpu():
        return model
    from kdream import _xla_cpu

    return keras.models.clone_model(model, clone_function=_xla_cpu.replace_layer)


def has_gpu() -> bool:
    """Whether the active backend computes on a GPU (or another accelerator)."""
    backend = name()
    if backend == "tensorflow":
        return _tensorflow_on_gpu()
    if backend == "jax":
        return not _jax_on_cpu()
    import torch

    return bool(torch.cuda.is_available())


def _jax_on_cpu() -> bool:
    import jax

    return jax.default_backend() == "cpu"


GLIBC_MMAP_THRESHOLD_MAX = 32 * 2**20
"""glibc serves a ``malloc`` larger than this with its own ``mmap``, never from the heap."""


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
    if not _host_tensors_from_malloc(image_sized):
        return
    import keras
    import numpy as np

    itemsize = np.dtype(keras.backend.standardize_dtype(image_sized.dtype)).itemsize
    if math.prod(image_sized.shape) * itemsize <= GLIBC_MMAP_THRESHOLD_MAX:
        return
    if collect_cycles and name() == "torch":
        gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def _host_tensors_from_malloc(tensor) -> bool:
    backend = name()
    if backend == "torch":
        return tensor.device.type == "cpu"
    if backend == "tensorflow":
        on_cpu = "CPU" in (tensor.device or "CPU:0").upper()
        return on_cpu and os.environ.get(SYSTEM_ALLOCATOR_ENV, "").lower() in ("1", "true")
    return False


@functools.cache
def _glibc():
    import ctypes
    import ctypes.util

    path = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(path) if path else None
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def roll_shift(shift: tuple[int, int]):
    """The shift argument for ``ops.roll`` inside compiled functions.

    A tensor lets compiled code take any shift without retracing; eager torch's
    ``torch.roll`` only takes Python ints.
    """
    if name() == "torch":
        return tuple(int(s) for s in shift)
    import keras
    import numpy as np

    return keras.ops.convert_to_tensor(np.asarray(shift, dtype="int32"))


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
    backend = name()
    if backend == "tensorflow":
        return _tensorflow_gradient(model, objective_of_outputs, counter, prepare)
    if backend == "jax":
        return _jax_gradient(model, objective_of_outputs, counter, prepare)
    if backend == "torch":
        return _torch_gradient(model, objective_of_outputs, prepare)
    raise RuntimeError(f"kdream supports tensorflow, jax and torch, not {backend!r}")


def _images_of(inputs, data, prepare):
    return inputs if prepare is None else prepare(inputs, *data)


def _tensorflow_on_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _tensorflow_gradient(model, objective_of_outputs, counter, prepare):
    import tensorflow as tf

    def gradient(inputs, *data):
        counter.tick()
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            images = _images_of(inputs, data, prepare)
            values = objective_of_outputs(model(images, training=False), *data)
            total = tf.reduce_sum(values)
        return values, tape.gradient(total, inputs)

    # Only the tiles get free sizes: data keep theirs (objectives may read them), and so
    # do the inputs of a ``prepare`` step (a parameterisation may need its image size).
    return _tensorflow_function(gradient, sized_free=() if prepare else (0,))


def _jax_gradient(model, objective_of_outputs, counter, prepare):
    import jax
    import jax.numpy as jnp

    def total_objective(inputs, trainable, non_trainable, data):
        images = _images_of(inputs, data, prepare)
        outputs, _ = model.stateless_call(trainable, non_trainable, images, training=False)
        values = objective_of_outputs(outputs, *data)
        return jnp.sum(values), values

    def gradient(inputs, trainable, non_trainable, data):
        counter.tick()
        (_, values), grads = jax.value_and_grad(total_objective, has_aux=True)(
            inputs, trainable, non_trainable, data
        )
        return values, grads

    use_jax_compilation_cache()
    compiled = jax.jit(gradient)
    # Weights go in as arguments: closing over them would bake 22M constants into the
    # compiled program (slow to compile, duplicated in memory).
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    return lambda inputs, *data: compiled(inputs, trainable, non_trainable, tuple(data))


def _torch_gradient(model, objective_of_outputs, prepare):
    import torch

    for variable in model.variables:
        variable.value.requires_grad_(False)

    def gradient(inputs, *data):
        with torch.enable_grad():
            inputs = inputs.detach().requires_grad_(True)
            images = _images_of(inputs, data, prepare)
            values = objective_of_outputs(model(images, training=False), *data)
            (grads,) = torch.autograd.grad(values.sum(), inputs)
        return values.detach(), grads

    return gradient
