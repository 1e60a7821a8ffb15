"""A folder of 8 photos as a user runs it: ``kdream dream photos/ -o dreams/`` as a whole
process (import, network, every photo, the PNGs), serially and with ``--ray`` over 1 and
2 workers, on this machine.

Ray pays for itself only when the per-file work outweighs its start (a local Ray, one
network load per actor) and the machine has the cores or GPUs for the actors: on 2 CPUs,
two actors share the cores a serial run uses alone. Each case is checked by the files it
wrote (8 PNGs); the serial case is the baseline of the others in compare.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benches.recording import measure

PHOTOS = 8
CASES = {"serial": [], "ray 1 worker": ["--ray", "--workers", "1"],
         "ray 2 workers": ["--ray", "--workers", "2"]}  # fmt: skip
RECIPE = ["--weights", "random", "--octaves", "2", "--steps", "5", "--quiet"]
CHILD_TIMEOUT_S = 1800


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for index in range(PHOTOS):
        pixels = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"photo{index}.png")
    return folder


@pytest.mark.parametrize("case", list(CASES))
def test_folder_of_8_photos(benchmark, photos, tmp_path, case):
    out = tmp_path / "dreams"

    def run():
        command = [sys.executable, "-m", "kdream", "dream", str(photos), "-o", f"{out}/"]
        subprocess.run(
            [*command, *RECIPE, "--force", *CASES[case]],
            check=True,
            capture_output=True,
            timeout=CHILD_TIMEOUT_S,
            cwd=tmp_path,
        )
        return sorted(Path(out).iterdir())

    written = measure(
        benchmark,
        run,
        case=f"folder of {PHOTOS} photos 224 px, whole process",
        rounds=1,
        warmup=0,
        variant=case,
        baseline=None if case == "serial" else "serial",
    )
    assert len(written) == PHOTOS
