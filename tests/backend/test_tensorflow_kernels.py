"""TensorFlow runs oneDNN's kernels under kdream on any x86 CPU: TensorFlow reads the
switch once, when it loads, and by itself turns it on only for CPUs with AVX512_VNNI,
AVX512_BF16 or AMX (AVX2 CPUs stay on Eigen's slower convolutions). Collected only where
TensorFlow is installed (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

from kdream import backend

PROBE = (
    "import kdream, tensorflow\n"
    "from tensorflow.python.util import _pywrap_util_port as port\n"
    "print(port.IsMklEnabled())"
)


@pytest.mark.parametrize("preset", [None, "0"])
def test_tensorflow_runs_onednn_kernels_unless_the_user_says_not(preset):
    env = {k: v for k, v in os.environ.items() if k != backend.ONEDNN_ENV}
    if preset is not None:
        env[backend.ONEDNN_ENV] = preset
    shown = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip().splitlines()[-1] == ("True" if preset is None else "False")


LATE = (
    "import warnings, tensorflow, kdream, keras\n"
    "from kdream.backend import tensorflow as kernels\n"
    "model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)])\n"
    "with warnings.catch_warnings(record=True) as caught:\n"
    "    warnings.simplefilter('always')\n"
    "    kdream.backend.input_gradient(model, lambda out: keras.ops.mean(out, axis=(1, 2, 3)))\n"
    "where = [(w.filename, w.lineno) for w in caught]\n"
    "print(kernels.onednn_enabled(), where, [str(w.message) for w in caught])"
)


def test_a_tensorflow_imported_before_kdream_is_named_when_its_kernels_differ():
    """TensorFlow loaded first missed kdream's default: said only where it changes the
    kernels (CPUs where TensorFlow turns oneDNN on by itself need no word)."""
    env = {k: v for k, v in os.environ.items() if k != backend.ONEDNN_ENV}
    shown = subprocess.run(
        [sys.executable, "-c", LATE], env=env, capture_output=True, text=True, check=True
    )
    enabled, rest = shown.stdout.strip().splitlines()[-1].split(" ", 1)
    where, messages = rest.split("] ", 1)
    if enabled == "True":
        assert messages == "[]"
    else:
        # The warning names the user's line (line 6 of the script), not kdream's.
        assert where == "[('<string>', 6)"
        assert "TensorFlow was imported before kdream" in messages
        assert f"set {backend.ONEDNN_ENV}=1 before TensorFlow loads" in messages


def test_the_kernels_the_user_chose_are_not_questioned(monkeypatch):
    from kdream.backend import tensorflow as kernels

    monkeypatch.setattr(kernels, "onednn_enabled", lambda: False)
    for chosen, warned in (("0", False), ("1", True)):
        monkeypatch.setenv(backend.ONEDNN_ENV, chosen)
        kernels.warn_if_kernels_differ.cache_clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            kernels.warn_if_kernels_differ()
        assert len(caught) == int(warned), chosen
    kernels.warn_if_kernels_differ.cache_clear()
