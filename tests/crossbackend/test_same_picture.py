"""Same seed, same picture on every backend (run by ``nox -s crossbackend`` after ``tests``)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

BACKENDS = ("tensorflow", "jax", "torch")


def psnr(first: np.ndarray, second: np.ndarray, peak: float) -> float:
    error = np.mean((first.astype(np.float64) - second.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else 10 * np.log10(peak**2 / error)


@pytest.fixture(scope="module")
def recordings():
    folder = Path(os.environ["KDREAM_CROSSBACKEND_DIR"])
    missing = [b for b in BACKENDS if not (folder / f"{b}.npz").exists()]
    assert not missing, f"no recording for {missing}: run `nox -s tests` first"
    return {b: dict(np.load(folder / f"{b}.npz")) for b in BACKENDS}


@pytest.mark.parametrize("first,second", list(itertools.combinations(BACKENDS, 2)))
def test_one_step_matches_across_backends(recordings, first, second):
    a, b = recordings[first], recordings[second]
    assert str(a["backend"]) == first and str(b["backend"]) == second
    np.testing.assert_array_equal(a["photo"], b["photo"])
    step_change = np.abs(a["one_step"] - (a["photo"] / 127.5 - 1)).mean()
    assert step_change > 1e-3, "the step did nothing: the comparison would be vacuous"
    assert psnr(a["one_step"], b["one_step"], peak=2.0) >= 40.0


@pytest.mark.parametrize("first,second", list(itertools.combinations(BACKENDS, 2)))
def test_full_run_is_the_same_picture(recordings, first, second):
    a, b = recordings[first]["full_run"], recordings[second]["full_run"]
    photo = recordings[first]["photo"]
    dream_change = psnr(a, photo, peak=255.0)
    between_backends = psnr(a, b, peak=255.0)
    # The backends agree far more closely with each other than the dream differs from the photo.
    assert between_backends >= 35.0
    assert between_backends > dream_change + 10.0
