"""Giving a large step's host memory back to the OS (glibc's ``malloc_trim``)."""

from __future__ import annotations

import functools
import gc
import math

GLIBC_MMAP_THRESHOLD_MAX = 32 * 2**20
"""glibc serves a ``malloc`` larger than this with its own ``mmap``, never from the heap."""


def trim_after(image_sized, collect_cycles: bool) -> None:
    """Trim the heap when ``image_sized`` (a host tensor from ``malloc``) is over glibc's
    mmap threshold; ``collect_cycles`` first runs a full garbage collection."""
    import keras
    import numpy as np

    itemsize = np.dtype(keras.backend.standardize_dtype(image_sized.dtype)).itemsize
    if math.prod(image_sized.shape) * itemsize <= GLIBC_MMAP_THRESHOLD_MAX:
        return
    if collect_cycles:
        gc.collect()
    libc = glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def glibc():
    """The C library when it has ``malloc_trim`` (glibc), else None."""
    import ctypes
    import ctypes.util

    path = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(path) if path else None
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None
