"""The wheel users install holds every module, the GPU extras, and is what the tests import.

nox builds the wheel once (``KDREAM_TEST_WHEEL``) and installs it without ``-e``; run
outside nox, the test builds its own from this checkout.
"""

from __future__ import annotations

import email.parser
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Source folder -> the import name it installs under (the folder is the import name).
PACKAGES = {"kdream": "kdream", "kdream_tui": "kdream_tui"}
GPU_EXTRAS = {
    "tensorflow-cuda": "tensorflow[and-cuda]",
    "jax-cuda": "jax[cuda12]",
    "torch-cuda": "torch",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    configured = os.environ.get("KDREAM_TEST_WHEEL")
    if configured:
        return pathlib.Path(configured)
    # A copy without build/ and .nox/: stale build files would hide a missing module.
    source = tmp_path_factory.mktemp("source") / "kdream"
    ignore = shutil.ignore_patterns(".git", ".nox", "build", "dist", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, source, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*command, "-w", str(out), str(source)], check=True, capture_output=True)
    (built,) = out.glob("kdream-*.whl")
    return built


def source_files(
    folder: str, suffixes=(".py", ".tcss", ".png", ".txt", ".npz", ".html", ".css", ".js")
) -> set[str]:
    """Files under ``folder`` a user needs, as the wheel names them."""
    base = ROOT / folder
    return {
        f"{PACKAGES[folder]}/{path.relative_to(base).as_posix()}"
        for path in base.rglob("*")
        if path.suffix in suffixes and "__pycache__" not in path.parts
    }


def wheel_metadata(wheel: pathlib.Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_wheel_holds_every_module(wheel, folder):
    with zipfile.ZipFile(wheel) as archive:
        packed = set(archive.namelist())
    expected = source_files(folder)
    assert f"{PACKAGES[folder]}/__init__.py" in expected
    assert expected - packed == set(), "missing from the wheel"


def test_wheel_installs_no_plain_tui_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert {"kdream", "kdream_tui"} <= tops
    assert "tui" not in tops


def test_gpu_extras_are_declared(wheel):
    metadata = wheel_metadata(wheel)
    extras = set(metadata.get_all("Provides-Extra"))
    assert set(GPU_EXTRAS) <= extras
    requirements = metadata.get_all("Requires-Dist")
    for extra, requirement in GPU_EXTRAS.items():
        mine = [r for r in requirements if f'extra == "{extra}"' in r]
        assert any(r.replace(" ", "").startswith(requirement) for r in mine), (extra, mine)
    # The plain extras stay CPU builds: CI machines must never pull CUDA packages.
    cpu = [r for r in requirements if 'extra == "tensorflow"' in r]
    assert any(r.startswith("tensorflow-cpu") for r in cpu)


@pytest.mark.skipif(not os.environ.get("KDREAM_TEST_WHEEL"), reason="only under nox")
def test_tests_import_the_installed_wheel():
    """Under nox, kdream and kdream_tui come from site-packages, not this source tree."""
    import kdream
    import kdream_tui

    for module, folder in ((kdream, "kdream"), (kdream_tui, "kdream_tui")):
        path = pathlib.Path(module.__file__).resolve()
        assert "site-packages" in path.parts, path
        assert ROOT / folder not in path.parents, path
