"""When a step hands memory back: torch on a CPU, image-sized buffers over glibc's mmap
threshold only (below it, later buffers reuse the heap and a release would cost time)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from keras import ops

from kdream import _backend


@pytest.fixture
def releases(monkeypatch):
    """Counts of full garbage collections and heap trims made by release_host_memory."""
    counts = {"collect": 0, "trim": 0}

    class FakeLibc:
        def malloc_trim(self, pad):
            assert pad == 0
            counts["trim"] += 1

    monkeypatch.setattr(
        _backend.gc, "collect", lambda: counts.__setitem__("collect", counts["collect"] + 1)
    )
    monkeypatch.setattr(_backend, "_glibc", lambda: FakeLibc())
    return counts


def tensor_of(megabytes: int):
    side = int(np.sqrt(megabytes * 2**20 / 12))
    return ops.zeros((side, side, 3), dtype="float32")


def test_large_torch_images_release_and_small_ones_do_not(releases):
    _backend.release_host_memory(tensor_of(8), collect_cycles=True)
    assert releases == {"collect": 0, "trim": 0}
    _backend.release_host_memory(tensor_of(48))
    _backend.release_host_memory(tensor_of(48), collect_cycles=True)
    if _backend.name() == "torch":
        assert releases == {"collect": 1, "trim": 2}
    else:  # TensorFlow and XLA pool their own memory
        assert releases == {"collect": 0, "trim": 0}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc is Linux's")
def test_glibc_trim_is_found_on_linux():
    libc = _backend._glibc()
    assert libc is not None and callable(libc.malloc_trim)
