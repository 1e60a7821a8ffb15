"""The precision a network runs in: float32, or bfloat16/float16 where the hardware is faster.

Only the network computes in the lower precision (Keras' ``mixed_*`` dtype policies: the
weights stay float32); the input gradient, the objective, normalisation and smoothing stay
float32. ``auto`` picks what was measured faster at the same dream strength: bfloat16 on a
GPU, and on CPUs with AVX512_BF16 or AMX on TensorFlow (1.4x a float32 step here) and
torch (1.2x); float32 elsewhere (XLA:CPU runs bfloat16 slower than float32).

Example:
    >>> policy_name("bfloat16")
    'mixed_bfloat16'
    >>> resolve("auto", backend="jax", cpu_flags=set(), gpu=False)
    'float32'
"""

from __future__ import annotations

import contextlib
import functools

from kdream.config import PRECISIONS

# What the CLI and the TUI compute in unless told: users run the defaults, so they get the
# fastest precision that dreams as strongly (a recipe records what ``auto`` resolved to,
# so a replay is bit for bit). The Python API keeps float32 unless asked, so a script's
# numbers do not move under it.
INTERFACE_DEFAULT = "auto"
FAST_BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}
BF16_FASTER_ON_CPU = ("tensorflow", "torch")


def check(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision: must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    return precision


def resolve(precision: str = "auto", *, backend=None, cpu_flags=None, gpu=None) -> str:
    """``auto`` -> the precision this machine runs fastest without a weaker dream."""
    if check(precision) != "auto":
        return precision
    from kdream import backend as active

    framework = backend or active.name()
    gpu = active.has_gpu() if gpu is None else gpu
    flags = cpu_flags if cpu_flags is not None else cpu_flags_here()
    if gpu or (framework in BF16_FASTER_ON_CPU and flags & FAST_BF16_CPU_FLAGS):
        return "bfloat16"
    return "float32"


def policy_name(precision: str) -> str:
    """Keras' dtype policy for a concrete precision."""
    return {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}[
        check(precision)
    ]


@contextlib.contextmanager
def building_in(precision: str):
    """Layers built inside compute in ``precision`` (the caller's policy comes back after)."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy_name(precision))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@functools.cache
def cpu_flags_here() -> frozenset[str]:
    """This CPU's feature flags from /proc/cpuinfo (x86 ``flags``, ARM ``Features``);
    empty where there is no such file."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, found, value = line.partition(":")
                if found and key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()
