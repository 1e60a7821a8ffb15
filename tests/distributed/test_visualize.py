"""``kdream visualize --channels ... --ray``: the channels rendered in parts over Ray
actors, the sheet assembled at the end, the same sheet as one process renders."""

from __future__ import annotations

import shutil

import keras
import numpy as np
from PIL import Image

from kdream.cli.main import main
from kdream.io.images import read_recipe


def test_ray_sheet_equals_the_one_process_sheet(tiny_model, ray_cluster, tmp_path, monkeypatch):
    shutil.copy(tiny_model, tmp_path / "tiny.keras")
    monkeypatch.chdir(tmp_path)  # relative paths, as a user types them: workers must find them
    common = ["visualize", "--model", "tiny.keras", "--input-range", "0,255", "--layer", "conv2",
              "--channels", "0-4", "--size", "48", "--steps", "3", "--quiet"]  # fmt: skip
    assert main([*common, "-o", "here.png"]) == 0
    assert main([*common, "-o", "ray.png", "--ray", "--workers", "2"]) == 0
    assert read_recipe("ray.png") == read_recipe("here.png")
    here, ray = (np.asarray(Image.open(name), dtype=int) for name in ("here.png", "ray.png"))
    assert here.shape == ray.shape and here.std() > 10  # a sheet of 5 pictures, not blank
    if keras.backend.backend() == "torch":
        # torch's CPU kernels round a batch of 2 and one of 5 differently: a grey level.
        assert np.abs(here - ray).max() <= 1
    else:
        assert (tmp_path / "ray.png").read_bytes() == (tmp_path / "here.png").read_bytes()


def test_diversity_is_refused_on_ray(tiny_model, ray_cluster, tmp_path, capsys):
    argv = ["visualize", "--model", str(tiny_model), "--input-range", "0,255", "--layer",
            "conv2", "--channel", "1", "--diversity", "2", "--size", "48", "--steps", "1",
            "-o", str(tmp_path / "out.png"), "--ray"]  # fmt: skip
    assert main(argv) == 2
    assert "--diversity couples its pictures" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()
