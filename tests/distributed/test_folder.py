"""Folder dreams over a real local Ray: the same files as the serial run, bit for bit;
a killed worker's file redone; a bad file reported among good ones; ``--resume``."""

from __future__ import annotations

import os
import signal

import pytest

from kdream.cli.main import main
from kdream.config import DreamConfig
from kdream.distributed import dream_folder
from kdream.io.folder import FolderDream, dream_file
from kdream.io.images import default_output_path, read_recipe
from tests.distributed.conftest import write_photos

RECIPE = ["--octaves", "1", "--steps", "2", "--layers", "conv2=1", "--input-range", "0,255"]


def settings_for(model, **changes) -> FolderDream:
    config = DreamConfig(octaves=1, steps=2, layers={"conv2": 1.0})
    return FolderDream(model=str(model), input_range=(0.0, 255.0), config=config, **changes)


def dream_serially(photos, folder, settings):
    """The serial run's files, made by the function the serial CLI uses."""
    folder.mkdir()
    dreamer = settings.load_dreamer()
    objective = settings.objective_for(dreamer)
    for photo in sorted(photos.iterdir()):
        dream_file(dreamer, settings, str(photo), default_output_path(photo, folder), objective)
    return {path.name: path.read_bytes() for path in folder.iterdir()}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("photos"), 4)


@pytest.fixture(scope="module")
def serial_files(photos, tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("serial") / "out"
    return dream_serially(photos, folder, settings_for(tiny_model))


def test_cli_ray_run_writes_the_serial_files_bit_for_bit(
    photos, tiny_model, ray_cluster, serial_files, tmp_path, capsys
):
    serial, distributed = tmp_path / "serial", tmp_path / "ray"
    common = [str(photos), "--model", str(tiny_model), *RECIPE, "--quiet"]
    assert main(["dream", *common, "-o", f"{serial}/"]) == 0
    assert main(["dream", *common, "-o", f"{distributed}/", "--ray", "--workers", "2"]) == 0
    serial_bytes = {path.name: path.read_bytes() for path in serial.iterdir()}
    assert len(serial_bytes) == 4 and serial_bytes == serial_files  # CLI and function agree
    assert {path.name: path.read_bytes() for path in distributed.iterdir()} == serial_bytes
    lines = capsys.readouterr().out.splitlines()
    assert lines.count("dreamed 4 of 4 images; 0 failed") == 2
    assert sum(line.startswith(f"wrote {distributed}") for line in lines) == 4


def test_a_killed_worker_is_replaced_and_its_file_redone(
    photos, tiny_model, ray_cluster, serial_files, tmp_path
):
    killed = []

    def kill_the_first_worker(outcome):
        if not killed:  # that worker has taken its next file: it dies in the middle of it
            os.kill(outcome.worker, signal.SIGKILL)
            killed.append(outcome.worker)

    outcomes = dream_folder(
        photos, tmp_path, settings_for(tiny_model), workers=2, on_outcome=kill_the_first_worker
    )
    assert [outcome.status for outcome in outcomes] == ["written"] * 4
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == serial_files
    # The other worker's files, and the killed one's file redone by its restarted process.
    assert len({outcome.worker for outcome in outcomes} - set(killed)) == 2
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)


def test_a_bad_file_is_reported_and_the_others_are_dreamed(
    photos, tiny_model, ray_cluster, serial_files, tmp_path, capsys
):
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in sorted(photos.iterdir())[:2]:
        (folder / photo.name).write_bytes(photo.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    outcomes = dream_folder(folder, tmp_path / "out", settings_for(tiny_model), workers=2)
    assert [outcome.status for outcome in outcomes] == ["failed", "written", "written"]
    assert "broken.png" in outcomes[0].message
    for outcome in outcomes[1:]:
        assert open(outcome.output, "rb").read() == serial_files[os.path.basename(outcome.output)]

    # The CLI: the run goes on, the summary lists the bad file, the exit code says so.
    argv = [str(folder), "-o", f"{tmp_path / 'cli'}/", "--model", str(tiny_model), *RECIPE]
    assert main(["dream", *argv, "--quiet", "--ray"]) == 2
    captured = capsys.readouterr()
    assert "dreamed 2 of 3 images; 1 failed" in captured.out
    assert f"kdream: failed: {folder / 'broken.png'}" in captured.err
    assert len(list((tmp_path / "cli").iterdir())) == 2


@pytest.mark.parametrize("use_ray", [False, True], ids=["serial", "ray"])
def test_resume_keeps_only_outputs_with_the_runs_recipe(
    use_ray, photos, tiny_model, ray_cluster, serial_files, tmp_path, capsys
):
    out = tmp_path / "out"
    out.mkdir()
    names = sorted(serial_files)
    for name in names:
        (out / name).write_bytes(serial_files[name])
    (out / names[0]).unlink()  # never written
    other = ["--model", str(tiny_model), *RECIPE[:3], "1", *RECIPE[4:]]  # --steps 1
    assert main(["dream", str(sorted(photos.iterdir())[1]), "-o", str(out / names[1]),
                 *other, "--force", "--quiet"]) == 0  # fmt: skip
    assert read_recipe(out / names[1])["config"]["steps"] == 1  # another recipe's output
    before = {name: (out / name).stat().st_mtime_ns for name in names[2:]}

    argv = [str(photos), "-o", f"{out}/", "--model", str(tiny_model), *RECIPE, "--resume"]
    assert main(["dream", *argv, *(["--ray"] if use_ray else [])]) == 0
    captured = capsys.readouterr()
    assert "dreamed 2 of 4 images; 0 failed; 2 kept (--resume)" in captured.out
    assert {name: (out / name).read_bytes() for name in names} == serial_files
    assert {name: (out / name).stat().st_mtime_ns for name in names[2:]} == before


def test_resume_does_not_replace_a_file_without_a_recipe(photos, tiny_model, tmp_path, capsys):
    photo = sorted(photos.iterdir())[0]
    target = tmp_path / "mine.png"
    target.write_bytes(photo.read_bytes())  # a picture kdream did not make
    argv = [str(photo), "-o", str(target), "--model", str(tiny_model), *RECIPE, "--resume"]
    assert main(["dream", *argv, "--quiet"]) == 2
    assert "holds no kdream recipe" in capsys.readouterr().err
    assert target.read_bytes() == photo.read_bytes()


def test_ray_flags_are_checked_before_any_model_loads(photos, tmp_path, capsys, monkeypatch):
    assert main(["dream", str(photos), "-o", f"{tmp_path}/", "--workers", "2"]) == 2
    assert capsys.readouterr().err.strip() == "kdream: error: --workers needs --ray"
    import kdream.distributed.cluster as cluster

    monkeypatch.setattr(cluster, "ray_installed", lambda: False)
    assert main(["dream", str(photos), "-o", f"{tmp_path}/", "--ray"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == 'kdream: error: --ray needs Ray: pip install "kdream[ray]"'
    assert list(tmp_path.iterdir()) == []


def test_a_model_the_workers_cannot_load_is_one_line(photos, ray_cluster, tmp_path, capsys):
    argv = [str(photos), "-o", f"{tmp_path}/", "--model", str(tmp_path / "missing.keras")]
    assert main(["dream", *argv, *RECIPE, "--quiet", "--ray", "--workers", "1"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("kdream: error: model file not found") and "\n" not in error
    assert list(tmp_path.iterdir()) == []
