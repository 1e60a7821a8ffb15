"""What every backend module shares: the active backend's name, the trace counter, and the
settings a framework reads once when it loads."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys

SYSTEM_ALLOCATOR_ENV = "TF_ONEDNN_USE_SYSTEM_ALLOCATOR"
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"

JAX_CACHE_FOLDER = "jax-compiled"
"""Folder of JAX's persistent compilation cache inside kdream's cache dir."""


def set_framework_defaults() -> None:
    """Settings a framework reads once, when it first allocates: set before it loads
    (``kdream/__init__.py`` calls this); a value the user set is kept.

    TensorFlow's oneDNN CPU allocator pools every buffer over 256 KiB in a BFC arena that
    grows by doubling and never shrinks: a 4096 px step's image-sized buffers (192 MiB
    each) left a 2.8 GiB process. With the system allocator, glibc maps them on their
    own and unmaps them when freed, and :func:`kdream.backend.release_host_memory` returns
    the tile batch's activations after the network pass (4096 px: 2.1 GiB).

    TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX512_VNNI,
    AVX512_BF16 or AMX; elsewhere (AVX2 CPUs such as AMD Zen 3) its float32 convolutions
    run as Eigen's im2col + small GEMMs. oneDNN's AVX2 convolutions made the default
    dream 1.2x faster on a 2-core Zen 3 (whole process 35.5 -> 29.8 s), so kdream asks
    for them on every x86 CPU (a user's ``TF_ENABLE_ONEDNN_OPTS=0`` is kept). The switch
    changes which kernels run, so it is part of "the same backend" for bit-for-bit replays:
    :func:`kdream.backend.tensorflow.warn_if_kernels_differ` says so when TensorFlow
    loaded before kdream and missed it.
    """
    os.environ.setdefault(SYSTEM_ALLOCATOR_ENV, "1")
    if platform.machine().lower() in ("x86_64", "amd64"):
        os.environ.setdefault(ONEDNN_ENV, "1")


def framework_environment() -> dict[str, str]:
    """The defaults above as this process has them: what a worker process (Ray) needs so
    that it runs the same kernels as the driver."""
    return {key: os.environ[key] for key in (SYSTEM_ALLOCATOR_ENV, ONEDNN_ENV) if key in os.environ}


def import_keras_quietly() -> None:
    """Import Keras with the framework's start-up chatter kept off the user's terminal:
    TensorFlow's C++ lines (absl's "All log messages before absl::InitializeLog()" and
    oneDNN's INFO line) are written before any log level applies, so no environment
    variable silences them; stderr is closed to them while Keras loads. A no-op once Keras
    is loaded (whoever imported it first chose what to show)."""
    if "keras" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import keras  # noqa: F401
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def name() -> str:
    """The active Keras backend: ``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    import keras

    return keras.backend.backend()


@dataclasses.dataclass
class TraceCounter:
    """Counts how often compiled functions are traced (a retrace = a recompilation)."""

    traces: int = 0

    def tick(self) -> None:
        self.traces += 1


TRACES = TraceCounter()
"""Process-wide trace counter, read by tests and benchmarks."""


def caller_stacklevel() -> int:
    """``warnings.warn``'s ``stacklevel`` that names the first line outside kdream (and
    outside the framework that called back into it), so a warning raised deep in a trace
    points at the user's call. Python 3.12's ``skip_file_prefixes`` does this; kdream
    supports 3.10."""
    inside = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,)
    inside += tuple(_package_folder(name) for name in ("keras", "tensorflow", "jax", "torch"))
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(inside):
        frame, level = frame.f_back, level + 1
    # ``warnings.warn`` counts its caller as level 1: one more than the frames walked.
    return level


def _package_folder(name: str) -> str:
    """Where an imported package lives, or a prefix no file has."""
    module = sys.modules.get(name)
    folder = os.path.dirname(getattr(module, "__file__", None) or "") if module else ""
    return folder + os.sep if folder else "\0"


def images_of(inputs, data, prepare):
    """What the network sees: the differentiated inputs, or ``prepare(inputs, *data)``."""
    return inputs if prepare is None else prepare(inputs, *data)
