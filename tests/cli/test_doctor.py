"""``kdream doctor``: the facts it reports are the ones the running process really has."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import pytest
from rich.console import Console

import kdream
from kdream._files import cache_dir
from kdream.cli import doctor
from kdream.cli.common import BACKENDS
from kdream.cli.main import main

ACTIVE = keras.backend.backend()
MISSING = [name for name in BACKENDS if importlib.util.find_spec(name) is None]


def doctor_json(capsys, *args) -> dict:
    code = main(["doctor", "--json", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)  # the whole of stdout is one JSON object


def kdream_cli(*args, env=None, timeout=300):
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "kdream", *args],
        # Not the checkout: `python -m` would import its kdream/ before the installed one.
        cwd=tempfile.gettempdir(),
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_json_names_the_active_backend_and_the_real_versions(capsys):
    report = doctor_json(capsys)
    assert report["keras"]["backend"] == ACTIVE
    assert report["keras"]["version"] == keras.__version__
    assert report["keras"]["image_data_format"] == keras.config.image_data_format()
    assert report["keras"]["floatx"] == keras.config.floatx()
    assert report["kdream"]["version"] == kdream.__version__
    assert report["python"]["version"] == platform.python_version()

    active = report["frameworks"][ACTIVE]
    assert active["importable"] and active["active"]
    assert active["version"] == importlib.metadata.version(active["distribution"])
    # The active framework is already loaded by Keras: its own idea of its version agrees.
    assert active["version"] == importlib.import_module(ACTIVE).__version__
    for name in set(BACKENDS) - {ACTIVE}:
        facts = report["frameworks"][name]
        assert not facts["active"]
        if name in MISSING:
            assert facts == {
                "importable": False,
                "active": False,
                "distribution": None,
                "version": None,
            }


def test_exactly_one_device_runs_and_it_is_the_frameworks_default(capsys):
    report = doctor_json(capsys)
    devices = report["devices"]
    running = [device for device in devices if device["runs"]]
    assert devices and len(running) == 1, devices
    assert report["runs_on"] == running[0]["kind"]
    assert running[0]["name"] == _framework_default_device()
    if report["runs_on"] == "cpu":
        assert "dreams run on the CPU" in report["hints"]
    if report["runs_on"] == "cpu" and not report["gpu_build"] and sys.platform != "darwin":
        extra = "from PyPI" if ACTIVE == "torch" else f"pip install 'kdream[{ACTIVE}-cuda]'"
        assert any(extra in hint for hint in report["hints"]), report["hints"]


def _framework_default_device() -> str:
    """The device the framework itself places work on, asked in the framework's terms."""
    if ACTIVE == "jax":
        import jax

        first = jax.devices()[0]
        return f"{first.platform}:{first.id}"
    if ACTIVE == "tensorflow":
        import tensorflow as tf

        return "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"
    import torch

    return f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu"


def test_weights_cache_is_kdreams_and_nothing_is_downloaded(capsys, monkeypatch, tmp_path):
    home = tmp_path / "kdream-home"
    monkeypatch.setenv("KDREAM_HOME", str(home))
    report = doctor_json(capsys)
    assert report["weights"]["cache_dir"] == str(cache_dir()) == str(home.resolve())
    assert report["weights"]["info"][0].startswith(f"cache dir: {home.resolve()}")
    assert any("not cached" in line for line in report["weights"]["info"])
    assert not home.exists(), "doctor must not create or fill the cache"


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="no /proc/cpuinfo")
def test_cpu_flags_are_read_from_proc_cpuinfo(capsys):
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith(("flags", "Features")):
            flags = set(line.partition(":")[2].split())
            break
    report = doctor_json(capsys)
    assert report["cpu"]["flags"] == {flag: flag in flags for flag in doctor.CPU_FLAGS}
    assert report["cpu"]["logical_cpus"] == os.cpu_count()


@pytest.mark.parametrize(
    "probe, nvidia, expected",
    [
        ((["cuda:0"], True), ["H100"], ["dreams run on the GPU cuda:0 (H100)"]),
        (([], False), ["H100"], ["dreams run on the CPU", "an NVIDIA GPU is present (H100)"]),
        (([], True), ["H100"], ["dreams run on the CPU", "sees none"]),
        (([], False), [], ["dreams run on the CPU", "for an NVIDIA GPU"]),
        (RuntimeError("CUDA driver too old"), ["H100"], []),
    ],
)
def test_device_hints_follow_what_the_framework_sees(monkeypatch, probe, nvidia, expected):
    """GPU machines are rare here: the hint logic runs on canned framework answers."""

    def fake_probe():
        if isinstance(probe, Exception):
            raise probe
        gpus, gpu_build = probe
        devices = [doctor._device("cpu", "cpu", "cpu", not gpus)]
        devices += [doctor._device(name, "gpu", "H100", True) for name in gpus]
        return devices, gpu_build, "fake build"

    monkeypatch.setattr(doctor, f"_{ACTIVE}_devices", fake_probe)
    monkeypatch.setattr(doctor, "nvidia_gpus", lambda: nvidia)
    monkeypatch.setattr(sys, "platform", "linux")
    found = doctor.probe_devices(ACTIVE)
    if isinstance(probe, Exception):
        assert found["devices"] == [] and "CUDA driver too old" in found["device_error"]
        return
    assert sum(device["runs"] for device in found["devices"]) == 1
    assert found["runs_on"] == ("gpu" if probe[0] else "cpu")
    text = " | ".join(found["hints"])
    assert all(phrase in text for phrase in expected), text
    assert ("dreams run on the CPU" in text) == (found["runs_on"] == "cpu")


def test_piped_text_is_plain_and_shows_the_versions(capsys, monkeypatch):
    for variable in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(variable, raising=False)  # they would make rich draw a terminal
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    report = doctor.collect(ACTIVE, "test")
    framework = report["frameworks"][ACTIVE]["version"]
    for fact in (kdream.__version__, keras.__version__, framework, platform.python_version()):
        assert fact in text
    assert "\x1b[" not in text and "╭" not in text, "no colours or boxes when piped"
    # Paths stay whole on one line (nothing wrapped at 80 columns), ready to paste.
    assert any(line.strip().endswith(report["weights"]["cache_dir"]) for line in text.splitlines())


def test_terminal_table_shows_the_same_facts():
    report = doctor.collect(ACTIVE, "test")
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, color_system=None, width=120)
    doctor.render(report, console)
    text = screen.getvalue()
    assert "╭" in text and "Devices" in text
    for fact in (kdream.__version__, keras.__version__, report["frameworks"][ACTIVE]["version"]):
        assert fact in text


def test_backend_flag_wins_over_keras_backend_and_info_is_an_alias():
    other = next(name for name in BACKENDS if name != ACTIVE)
    result = kdream_cli("info", "--json", "--backend", ACTIVE, env={"KERAS_BACKEND": other})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["keras"]["backend"] == ACTIVE
    assert report["keras"]["backend_source"] == "--backend"
    assert report["frameworks"][ACTIVE]["active"]


def test_keras_json_is_read_when_nothing_else_names_a_backend(tmp_path):
    config = tmp_path / "keras.json"
    config.write_text(json.dumps({"backend": ACTIVE}))
    env = {"KERAS_HOME": str(tmp_path), "KERAS_BACKEND": ""}  # "" is unset for Keras too
    result = kdream_cli("doctor", "--json", env=env)
    assert result.returncode == 0, result.stderr
    keras_facts = json.loads(result.stdout)["keras"]
    assert keras_facts["backend"] == ACTIVE
    assert keras_facts["backend_source"] == keras_facts["config_file"] == str(config)


@pytest.mark.skipif(not MISSING, reason="every backend is installed here")
def test_a_missing_backend_is_a_one_line_error_naming_the_extra():
    missing = MISSING[0]
    for args, env in ((["--backend", missing], {}), ([], {"KERAS_BACKEND": missing})):
        result = kdream_cli("doctor", *args, env=env)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"pip install 'kdream[{missing}]'" in lines[0]
        assert f"--backend {ACTIVE}" in lines[0]  # and what would work instead
        assert result.stdout == ""


def test_an_unsupported_backend_is_a_one_line_error():
    result = kdream_cli("doctor", env={"KERAS_BACKEND": "numpy"})
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'numpy'" in result.stderr and "KERAS_BACKEND" in result.stderr


def test_inactive_frameworks_are_not_imported():
    probe = (
        "import sys, io, contextlib, keras\n"
        "before = set(sys.modules)\n"
        "from kdream.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['doctor', '--json']) == 0\n"
        f"print(sorted(m for m in {BACKENDS!r} if m in sys.modules and m not in before))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().replace("'", '"')) == []
