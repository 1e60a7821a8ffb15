"""``kdream atlas --ray``: the channels' render batches over Ray actors write the very files
a one-process atlas writes (each batch is whole on one worker), and the same atlas.json."""

from __future__ import annotations

import json
import shutil

from kdream.cli.main import main
from tests.distributed.conftest import write_photos


def site_files(folder) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in (".png", ".jpg")
    }


def test_ray_atlas_equals_the_one_process_atlas(tiny_model, ray_cluster, tmp_path, monkeypatch):
    shutil.copy(tiny_model, tmp_path / "tiny.keras")
    write_photos(tmp_path / "photos", 2)
    monkeypatch.chdir(tmp_path)  # relative paths, as a user types them: workers must find them
    common = ["atlas", "tiny.keras", "--input-range", "0,255", "--photos", "photos",
              "--size", "40", "--steps", "2", "--batch", "3", "--diversity", "2",
              "--quiet"]  # fmt: skip
    assert main([*common, "-o", "here"]) == 0
    assert main([*common, "-o", "ray", "--ray", "--workers", "2"]) == 0
    here, ray = site_files(tmp_path / "here"), site_files(tmp_path / "ray")
    saved = json.loads((tmp_path / "here" / "atlas.json").read_text())
    channels = sum(len(layer["channels"]) for layer in saved["layers"].values())
    assert channels >= 16 and sum(name.endswith(".png") for name in here) == 3 * channels
    assert ray == here  # every picture, view and crop, byte for byte
    assert json.loads((tmp_path / "ray" / "atlas.json").read_text()) == saved
