"""Where a local Ray keeps its sockets: Ray refuses a temporary folder inside the running
virtual environment (its workers die at start and a run waits for them forever) and one
too deep for a socket path, so kdream then starts it under /tmp."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from kdream.distributed.cluster import RAY_SOCKET_ROOM, short_temp_dir


def chosen_with(monkeypatch, folder: str) -> dict:
    monkeypatch.setattr(tempfile, "tempdir", folder)
    options = short_temp_dir()
    if options:
        shutil.rmtree(options["_temp_dir"])
    return options


def test_a_short_temporary_folder_outside_the_environment_is_kept(monkeypatch, tmp_path):
    short = tempfile.mkdtemp(dir="/tmp")
    try:
        assert len(short) <= RAY_SOCKET_ROOM
        assert chosen_with(monkeypatch, short) == {}
    finally:
        os.rmdir(short)


def test_a_folder_inside_the_virtual_environment_is_replaced(monkeypatch):
    inside = os.path.join(sys.prefix, "tmp")  # nox's TMPDIR: short, but in the venv
    options = chosen_with(monkeypatch, inside)
    assert options["_temp_dir"].startswith("/tmp/kdream-ray-")


def test_a_deep_folder_is_replaced(monkeypatch, tmp_path):
    deep = tmp_path / ("d" * (RAY_SOCKET_ROOM + 5))
    deep.mkdir()
    assert chosen_with(monkeypatch, str(deep))["_temp_dir"].startswith("/tmp/kdream-ray-")
