"""When a step hands memory back: torch, and TensorFlow with the system allocator, on a
CPU, image-sized buffers over glibc's mmap threshold only (below it, later buffers reuse
the heap and a release would cost time)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from keras import ops

from kdream import backend


@pytest.fixture
def releases(monkeypatch):
    """Counts of full garbage collections and heap trims made by release_host_memory."""
    counts = {"collect": 0, "trim": 0}

    class FakeLibc:
        def malloc_trim(self, pad):
            assert pad == 0
            counts["trim"] += 1

    monkeypatch.setattr(
        backend.memory.gc, "collect", lambda: counts.__setitem__("collect", counts["collect"] + 1)
    )
    monkeypatch.setattr(backend.memory, "glibc", lambda: FakeLibc())
    return counts


def tensor_of(megabytes: int):
    side = int(np.sqrt(megabytes * 2**20 / 12))
    return ops.zeros((side, side, 3), dtype="float32")


def test_large_images_release_and_small_ones_do_not(releases):
    backend.release_host_memory(tensor_of(8), collect_cycles=True)
    assert releases == {"collect": 0, "trim": 0}
    backend.release_host_memory(tensor_of(48))
    backend.release_host_memory(tensor_of(48), collect_cycles=True)
    if backend.name() == "torch":
        assert releases == {"collect": 1, "trim": 2}
    elif backend.name() == "tensorflow":  # the system allocator (kdream's default)
        assert os.environ[backend.SYSTEM_ALLOCATOR_ENV] == "1"
        assert releases == {"collect": 0, "trim": 2}
    else:  # XLA pools its own memory
        assert releases == {"collect": 0, "trim": 0}


def test_tensorflow_pooling_its_memory_is_not_trimmed(releases, monkeypatch):
    monkeypatch.setenv(backend.SYSTEM_ALLOCATOR_ENV, "0")
    backend.release_host_memory(tensor_of(48))
    assert releases["trim"] == (1 if backend.name() == "torch" else 0)


@pytest.mark.parametrize("variable", [backend.SYSTEM_ALLOCATOR_ENV, backend.ONEDNN_ENV])
@pytest.mark.parametrize("preset", [None, "0"])
def test_importing_kdream_sets_tensorflow_defaults_and_keeps_the_users(variable, preset):
    env = {k: v for k, v in os.environ.items() if k != variable}
    if preset is not None:
        env[variable] = preset
    code = f"import os, kdream; print(os.environ[{variable!r}])"
    shown = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == (preset or "1")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc is Linux's")
def test_glibc_trim_is_found_on_linux():
    libc = backend.memory.glibc()
    assert libc is not None and callable(libc.malloc_trim)
