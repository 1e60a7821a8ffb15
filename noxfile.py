"""Test and benchmark sessions, one virtual environment per Keras backend.

nox -s tests crossbackend      # the full test suite (what CI runs)
nox -s "tests(backend='jax')"  # one backend
nox -s bench bench_compare     # benchmarks, then the comparison table
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests", "crossbackend"]

ROOT = Path(__file__).parent
BACKENDS = ["tensorflow", "jax", "torch"]
CONSTRAINTS = str(ROOT / "constraints.txt")
SHARED = ROOT / ".nox" / "_shared"
CROSSBACKEND_DIR = SHARED / "crossbackend"


DIST = SHARED / "dist"
_built_wheel: list[Path] = []


def built_wheel(session: nox.Session) -> Path:
    """This checkout as users get it: one regular wheel, built once per nox run.

    Tests run against the installed wheel, never the source tree (an editable install
    once hid a subpackage the wheel left out). ``build/`` is removed first: setuptools
    would copy stale files from an earlier build into the wheel.
    """
    if not _built_wheel:
        shutil.rmtree(ROOT / "build", ignore_errors=True)
        shutil.rmtree(DIST, ignore_errors=True)
        session.run("python", "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(DIST), str(ROOT))
        (wheel,) = DIST.glob("kdream-*.whl")
        _built_wheel.append(wheel)
    return _built_wheel[0]


def install(session: nox.Session, backend: str) -> None:
    """The wheel with its extras; torch==2.13.0 comes through the constraints file (an
    unpinned torch pulls CUDA builds)."""
    wheel = built_wheel(session)
    session.install("-c", CONSTRAINTS, f"kdream[{backend},tui,dev,ray] @ {wheel.as_uri()}")
    # pip keeps an installed kdream of the same version: replace it with this build.
    session.install("--no-deps", "--force-reinstall", str(wheel))


def backend_env(session: nox.Session, backend: str) -> dict[str, str]:
    """KERAS_BACKEND plus a private KERAS_HOME whose keras.json says channels_last, and
    one weights cache shared by all sessions (fetched once)."""
    # Absolute: tests run the CLI in other working directories.
    keras_home = Path(session.create_tmp()).resolve() / "keras_home"
    keras_home.mkdir(parents=True, exist_ok=True)
    settings = {"backend": backend, "image_data_format": "channels_last", "floatx": "float32"}
    (keras_home / "keras.json").write_text(json.dumps(settings))
    SHARED.mkdir(parents=True, exist_ok=True)
    return {
        "KERAS_BACKEND": backend,
        "KERAS_HOME": str(keras_home),
        "KDREAM_HOME": os.environ.get("KDREAM_TEST_HOME", str(SHARED / "kdream_home")),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KDREAM_TEST_WHEEL": str(built_wheel(session)),  # tests check what went into it
    }


@nox.session
@nox.parametrize("backend", BACKENDS)
def tests(session: nox.Session, backend: str) -> None:
    """The test suite on one backend, then this backend's cross-backend recording."""
    install(session, backend)
    env = backend_env(session, backend)
    session.run("pytest", *(session.posargs or ["tests"]), env=env)
    CROSSBACKEND_DIR.mkdir(parents=True, exist_ok=True)
    session.run(
        "python", "tests/crossbackend/record.py", str(CROSSBACKEND_DIR / f"{backend}.npz"), env=env
    )


@nox.session
def crossbackend(session: nox.Session) -> None:
    """Compare what the three backends recorded: same seed, same picture."""
    session.install("numpy", "pytest")
    # --noconftest: the comparison needs numpy only, not tests/conftest.py's Keras.
    session.run(
        "pytest",
        "--noconftest",
        "tests/crossbackend",
        env={"KDREAM_CROSSBACKEND_DIR": str(CROSSBACKEND_DIR)},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff format --check and ruff check."""
    session.install("ruff==0.17.6")  # formatting changes between releases
    session.run("ruff", "format", "--check", ".")
    session.run("ruff", "check", ".")


BENCHMARKS_DIR = ROOT / ".benchmarks"


@nox.session
@nox.parametrize("backend", BACKENDS)
def bench(session: nox.Session, backend: str) -> None:
    """The benchmark suite on one backend -> .benchmarks/<backend>.json (not run by default).

    Extra arguments go to pytest, e.g. ``nox -s bench -- --quick``.
    """
    install(session, backend)
    BENCHMARKS_DIR.mkdir(parents=True, exist_ok=True)
    env = backend_env(session, backend)
    # The whole-process comparison runs the tutorial script with TensorFlow: on the other
    # backends, the interpreter of this session's TensorFlow venv (set up first).
    tutorial_python = Path(session.virtualenv.location).parent / "bench-backend-tensorflow"
    env["KDREAM_BENCH_TUTORIAL_PYTHON"] = str(tutorial_python / "bin" / "python")
    session.run(
        "pytest",
        "benches",
        f"--benchmark-json={BENCHMARKS_DIR / f'{backend}.json'}",
        *session.posargs,
        env=env,
    )


@nox.session(venv_backend="none")
def bench_compare(session: nox.Session) -> None:
    """One table of .benchmarks/*.json: printed, and written to .benchmarks/table.md.

    The comparison is standard-library Python: nox's own interpreter runs it, no venv.
    """
    session.run(sys.executable, "benches/compare.py", str(BENCHMARKS_DIR), external=True)
