"""JAX: ``jax.value_and_grad`` over ``Model.stateless_call`` under ``jax.jit``, with the
weights as arguments, and compiled programs kept in kdream's cache across processes."""

from __future__ import annotations

import os
from collections.abc import Callable

import jax
import jax.numpy as jnp

from kdream._files import cache_dir
from kdream.backend.common import JAX_CACHE_FOLDER, images_of

_JAX_CACHE_FOLDERS_SET: set[str] = set()
"""The cache folders kdream gave JAX (any other one was configured by the user)."""


def on_cpu() -> bool:
    return jax.default_backend() == "cpu"


def has_gpu() -> bool:
    return not on_cpu()


def shape_free() -> bool:
    return False  # XLA compiles once per shape


COMPILES = True


def compile_function(traced: Callable, any_size: bool) -> Callable:
    use_compilation_cache()
    return jax.jit(traced)


def use_compilation_cache() -> str | None:
    """Keep JAX's compiled programs in ``<kdream cache dir>/jax-compiled`` (the cache dir of
    the weights: ``$KDREAM_HOME`` or its default), so a later process that dreams the same
    sizes loads them instead of compiling (XLA:CPU takes seconds per octave's gradient).

    Every program is kept, small ones too: loading beats compiling for all of them. A
    cache dir set through JAX's own configuration (``JAX_COMPILATION_CACHE_DIR``) wins;
    kdream's follows ``$KDREAM_HOME`` when it changes. Returns the folder in use, or None
    where none can be created (then JAX compiles as usual).

    Example:
        >>> use_compilation_cache()  # doctest: +SKIP
        '/home/me/.cache/kdream/jax-compiled'
    """
    configured = jax.config.jax_compilation_cache_dir
    if configured and configured not in _JAX_CACHE_FOLDERS_SET:
        return configured
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


def input_gradient(model, objective_of_outputs, counter, prepare):
    def total_objective(inputs, trainable, non_trainable, data):
        images = images_of(inputs, data, prepare)
        outputs, _ = model.stateless_call(trainable, non_trainable, images, training=False)
        values = objective_of_outputs(outputs, *data)
        return jnp.sum(values), values

    def gradient(inputs, trainable, non_trainable, data):
        counter.tick()
        (_, values), grads = jax.value_and_grad(total_objective, has_aux=True)(
            inputs, trainable, non_trainable, data
        )
        return values, grads

    use_compilation_cache()
    compiled = jax.jit(gradient)
    # Weights go in as arguments: closing over them would bake 22M constants into the
    # compiled program (slow to compile, duplicated in memory).
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    return lambda inputs, *data: compiled(_sharded(inputs), trainable, non_trainable, tuple(data))


def split_batches_over(count: int) -> None:
    """Split every tile batch over ``count`` local devices with Keras' ``DataParallel``:
    weights built from now on are replicated on each device, and a batch whose size the
    devices divide is sharded along its first axis (XLA runs the shards in parallel)."""
    import keras

    devices = keras.distribution.list_devices()
    if not 1 <= count <= len(devices):
        raise ValueError(
            f"--devices {count}: this machine has {len(devices)} {jax.default_backend()} device(s)"
        )
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices[:count]))


def _sharded(inputs):
    """``inputs`` laid out by the active distribution, when there is one and its devices
    divide the batch (a last, smaller batch runs whole, on the replicated weights)."""
    import keras

    distribution = keras.distribution.distribution()
    if distribution is None or inputs.shape[0] % distribution.device_mesh.devices.size:
        return inputs
    layout = distribution.get_data_layout(inputs.shape)
    return keras.distribution.distribute_tensor(inputs, layout)


def vector_jacobian(function, counter):
    def vjp(inputs, cotangent, *data):
        counter.tick()
        _, pull_back = jax.vjp(lambda x: function(x, *data), inputs)
        return pull_back(cotangent)[0]

    use_compilation_cache()
    return jax.jit(vjp)


def roll_shift(shift: tuple[int, int]):
    import keras
    import numpy as np

    return keras.ops.convert_to_tensor(np.asarray(shift, dtype="int32"))


def host_tensors_from_malloc(tensor) -> bool:
    return False  # XLA pools its own memory
