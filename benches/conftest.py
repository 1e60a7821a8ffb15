"""Fixtures of the benchmark suite; it runs on the backend KERAS_BACKEND names.

Full sizes: ``pytest benches --benchmark-json .benchmarks/jax.json``; tiny sizes, to
check the suite: ``pytest benches --quick``.
"""

from __future__ import annotations

import os
import platform

# kdream before Keras: it sets the defaults TensorFlow reads when it loads (its oneDNN
# kernels), so the in-process benchmarks time what `kdream` commands run.
import kdream  # noqa: F401

# isort: split
import keras
import pytest

from benches import settings as suite_settings
from benches.roofline import RooflineTracker

LOAD_AT_START = pytest.StashKey[float]()

# Parameters whose values depend on the run's settings (and on the backend for the
# naive baseline): test functions name them and are parametrised here.
PARAMETERS = {
    "ascent_side": lambda s: s.ascent_sides,
    "naive_side": lambda s: s.naive_sides[keras.backend.backend()],
    "tile_batch": lambda s: s.tile_batches,
    "memory_side": lambda s: s.memory_sides,
}


def pytest_addoption(parser):
    parser.addoption(
        "--quick",
        action="store_true",
        default=False,
        help=f"tiny sizes and rounds, to check the suite (same as {suite_settings.QUICK_ENV}=1)",
    )


def _settings(config) -> suite_settings.Settings:
    return suite_settings.settings(suite_settings.quick_requested(config.getoption("quick")))


def pytest_generate_tests(metafunc):
    settings = _settings(metafunc.config)
    for name, values in PARAMETERS.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, values(settings), ids=lambda value: f"{value}")


def pytest_report_header(config):
    mode = "quick" if _settings(config).quick else "full"
    backend = keras.backend.backend()
    return f"kdream benchmarks ({mode}): keras {keras.__version__}, backend {backend}"


def pytest_sessionstart(session):
    session.config.stash[LOAD_AT_START] = _load_average()


def _load_average() -> float | None:
    """1-minute load average: other work on the machine skews every number (and makes
    torch's OpenMP threads wait on each other), so the table shows it."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def pytest_benchmark_update_machine_info(config, machine_info):
    """What compare.py prints above the table: CPU model, usable cores, library versions,
    machine load when the session started and ended."""
    machine_info["kdream"] = {
        "load_average": [config.stash.get(LOAD_AT_START, None), _load_average()],
        "cpu_model": cpu_model(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "backend": keras.backend.backend(),
        "versions": backend_versions(),
        "quick": _settings(config).quick,
        "python": platform.python_version(),
    }


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def backend_versions() -> dict[str, str]:
    versions = {"keras": keras.__version__}
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    elif backend == "jax":
        import jax
        import jaxlib

        versions["jax"] = jax.__version__
        versions["jaxlib"] = jaxlib.__version__
    elif backend == "torch":
        import torch

        versions["torch"] = torch.__version__
        versions["torch_threads"] = str(torch.get_num_threads())
    return versions


@pytest.fixture(scope="session")
def settings(request) -> suite_settings.Settings:
    return _settings(request.config)


@pytest.fixture(scope="session")
def dreamer():
    """InceptionV3 with deterministic random weights: speed does not depend on weight values,
    and nothing is downloaded."""
    from kdream import Dreamer

    return Dreamer(weights="random")


@pytest.fixture(scope="session")
def roofline(settings):
    """fp32 matmul roofline of this backend: best of a burst when first used and another
    when the session ends (before the JSON is written)."""
    tracker = RooflineTracker(side=settings.roofline_side)
    yield tracker
    tracker.remeasure()
