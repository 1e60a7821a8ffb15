"""``kdream doctor`` (alias ``kdream info``): one screen of facts to paste into a bug report.

    kdream doctor                    # versions, CPU, backend, devices, weights cache
    kdream doctor --backend jax      # the same, for another installed backend
    kdream doctor --json             # one JSON object (what tests and bug templates read)

Example:
    >>>     >>> main(["doctor", "--json"])                                   # doctest: +SKIP
    {"kdream": {"version": "0.1.0", ...}, "keras": {"backend": "jax", ...}, ...}

Only the active backend's framework is imported; the others are looked up with
``importlib.util.find_spec`` and ``importlib.metadata`` (importing TensorFlow next to torch
can crash, and each import costs seconds). Nothing is downloaded and no model is built.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import platform
import sys
import tempfile

from kdream.cli.common import BACKENDS, EXIT_OK, UsageError, import_keras_quietly
from kdream.recipe import __version__

# Where a framework's version lives when its module name is not its distribution name.
TENSORFLOWS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel", "tf-nightly")
DISTRIBUTIONS = {"tensorflow": TENSORFLOWS, "jax": ("jax",), "torch": ("torch",)}
GPU_EXTRAS = {
    "tensorflow": "pip install 'kdream[tensorflow-cuda]'",
    "jax": "pip install 'kdream[jax-cuda]'",
    # PyPI's Linux torch wheels already are CUDA builds; only a +cpu wheel lacks CUDA.
    "torch": "reinstall torch from PyPI (its Linux wheels are CUDA builds), not a +cpu wheel",
}
# bf16/AMX decide whether a bfloat16 dtype policy could pay off on this CPU.
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")
# Variables that change which backend, cache, device or thread count a dream gets.
ENVIRONMENT = (
    "KERAS_BACKEND", "KERAS_HOME", "KDREAM_HOME", "KDREAM_WEIGHTS", "CUDA_VISIBLE_DEVICES",
    "KERAS_TORCH_DEVICE", "XLA_FLAGS", "OMP_NUM_THREADS", "TF_ENABLE_ONEDNN_OPTS",
)  # fmt: skip


def add_parser(commands, parents) -> None:
    help_text = "versions, backend, devices and weights cache, for bug reports"
    parser = commands.add_parser("doctor", aliases=["info"], parents=parents, help=help_text)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args) -> int:
    backend, source = requested_backend(args.backend)
    check_installed(backend, source)
    import_keras_quietly()  # after the check: a missing framework is a one-line error
    report = collect(backend, source)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        from rich.console import Console

        render(report, Console(highlight=False))
    return EXIT_OK


# --------------------------------------------------------------------------- the backend


def requested_backend(flag: str | None) -> tuple[str, str]:
    """(backend, where it comes from), resolved the way Keras does, without importing it.

    Example:
        >>> requested_backend("jax")
        ('jax', '--backend')
    """
    if flag:
        return flag, "--backend"
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"], "KERAS_BACKEND"
    path = keras_config_file()
    try:
        configured = json.loads(path.read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        configured = None
    if isinstance(configured, str) and configured:
        return configured, str(path)
    return "tensorflow", "Keras' default"


def keras_config_file() -> pathlib.Path:
    from kdream._files import keras_home  # Keras' own rule for KERAS_HOME / ~/.keras

    return keras_home() / "keras.json"


def check_installed(backend: str, source: str) -> None:
    """A backend kdream cannot run is bad input: one line naming what to install or use."""
    installed = [name for name in BACKENDS if importlib.util.find_spec(name) is not None]
    others = f"; or use --backend {'|'.join(installed)}" if installed else "; none is installed"
    if backend not in BACKENDS:
        raise UsageError(
            f"kdream runs on {', '.join(BACKENDS)}, not {backend!r} (from {source}){others}"
        )
    if backend not in installed:
        raise UsageError(
            f"the {backend} backend (from {source}) is not installed: "
            f"pip install 'kdream[{backend}]'{others}"
        )


# --------------------------------------------------------------------------- collecting


def collect(backend: str, source: str) -> dict:
    """Every fact ``kdream doctor`` shows, as plain JSON-able data."""
    import keras

    actual = keras.backend.backend()
    if actual != backend:  # Keras was imported earlier in this process: it wins
        source = "Keras was already imported in this process"
    config = keras_config_file()
    cpu = cpu_facts()
    devices = probe_devices(actual)
    for device in devices["devices"]:
        if device["kind"] == "cpu":  # frameworks only say "cpu"
            device["description"] = cpu["model"]
    return {
        "kdream": {
            "version": __version__,
            "path": str(pathlib.Path(__file__).parents[1]),  # the kdream package
        },
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": platform_facts(),
        "cpu": cpu,
        "keras": {
            "version": keras.__version__,
            "backend": actual,
            "backend_source": source,
            "config_file": str(config) if config.is_file() else None,
            "image_data_format": keras.config.image_data_format(),
            "floatx": keras.config.floatx(),
            "dtype_policy": keras.config.dtype_policy().name,
        },
        **devices,
        "frameworks": {name: framework_facts(name, actual) for name in BACKENDS},
        "environment": {name: os.environ[name] for name in ENVIRONMENT if name in os.environ},
        "weights": weights_facts(),
    }


def framework_facts(name: str, active: str) -> dict:
    """Installed or not, and its version, from package metadata alone (no import).

    Example:
        >>> framework_facts("torch", active="jax")                   # doctest: +SKIP
        {'importable': False, 'active': False, 'distribution': None, 'version': None}
    """
    importable = importlib.util.find_spec(name) is not None
    distribution, version = None, None
    for candidate in DISTRIBUTIONS[name] if importable else ():
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            distribution, version = candidate, importlib.metadata.version(candidate)
            break
    return {
        "importable": importable,
        "active": name == active,
        "distribution": distribution,
        "version": version,
    }


def platform_facts() -> dict:
    try:
        os_name = platform.freedesktop_os_release().get("PRETTY_NAME")
    except (OSError, AttributeError):  # not Linux, or no /etc/os-release
        os_name = platform.mac_ver()[0] and f"macOS {platform.mac_ver()[0]}"
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "os": os_name or platform.platform(),
    }


def cpu_facts() -> dict:
    """Model, CPU counts (a container may use fewer than it sees) and the flags that matter."""
    from kdream.network.precision import cpu_flags_here

    info = _key_values("/proc/cpuinfo", ":")
    flags = cpu_flags_here()
    memory = _key_values("/proc/meminfo", ":").get("MemTotal", "").split()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "model": info.get("model name") or platform.processor() or platform.machine(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "cgroup_cpu_limit": _cgroup_cpu_limit(),
        "flags": {flag: (flag in flags) if flags else None for flag in CPU_FLAGS},
        "memory_gib": round(int(memory[0]) / 2**20, 1) if memory else None,
    }


def _key_values(path: str, separator: str) -> dict[str, str]:
    """``key: value`` lines of a /proc file (the first CPU's block); {} where it is absent."""
    values: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in pathlib.Path(path).read_text(errors="replace").splitlines():
            key, found, value = line.partition(separator)
            if found:
                values.setdefault(key.strip(), value.strip())
    return values


def _cgroup_cpu_limit() -> float | None:
    """CPUs a cgroup v2 quota allows ("200000 100000" -> 2.0); None if unlimited/unknown."""
    with contextlib.suppress(OSError, ValueError):
        quota, period = pathlib.Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else round(int(quota) / int(period), 2)
    return None


def weights_facts() -> dict:
    from kdream._files import cache_dir
    from kdream.weights.info import cache_info

    try:
        lines = cache_info()  # downloads nothing
    except OSError as error:  # an unreadable cache is a finding, not a crash
        lines = [f"cache dir: {cache_dir()}", f"cannot read the cache: {error}"]
    return {"cache_dir": str(cache_dir()), "info": lines}


# --------------------------------------------------------------------------- devices


def probe_devices(backend: str) -> dict:
    """The devices ``backend`` sees, which one runs the dreams, and GPU hints.

    The framework's own start-up messages (a missing CUDA library, "falling back to cpu")
    are caught and reported rather than printed over the screen.
    """
    probe = {"tensorflow": _tensorflow_devices, "jax": _jax_devices, "torch": _torch_devices}
    with _captured_stderr() as messages:
        try:
            devices, gpu_build, build = probe[backend]()
            error = None
        except Exception as failure:  # a broken CUDA setup is what a doctor must report
            devices, gpu_build, build = [], False, "unknown"
            error = f"{type(failure).__name__}: {failure}"
    running = next((device for device in devices if device["runs"]), None)
    runs_on = running["kind"] if running else "unknown"
    nvidia = nvidia_gpus()
    hints = []
    if running and runs_on != "cpu":
        hints.append(f"dreams run on the GPU {running['name']} ({running['description']})")
    if runs_on == "cpu":
        hints.append("dreams run on the CPU")
        if nvidia and gpu_build:
            hints.append(f"{backend} can use a GPU but sees none: driver? CUDA_VISIBLE_DEVICES?")
        elif not gpu_build and sys.platform != "darwin":
            present = f"an NVIDIA GPU is present ({nvidia[0]}); " if nvidia else ""
            hints.append(f"{present}for an NVIDIA GPU: {GPU_EXTRAS[backend]}")
    return {
        "devices": devices,
        "runs_on": runs_on,
        "gpu_build": gpu_build,
        "build": build,
        "nvidia_gpus": nvidia,
        "hints": hints,
        "device_error": error,
        "framework_messages": messages[-5:],
    }


def _device(name: str, kind: str, description: str, runs: bool) -> dict:
    return {"name": name, "kind": kind, "description": description, "runs": runs}


def _tensorflow_devices():
    import tensorflow as tf

    gpus = tf.config.get_visible_devices("GPU")
    runner = gpus[0] if gpus else tf.config.get_visible_devices("CPU")[0]  # TF's placement
    devices = []
    for device in tf.config.list_physical_devices():
        details = tf.config.experimental.get_device_details(device) if device in gpus else {}
        name = device.name.replace("/physical_device:", "")
        kind = device.device_type.lower()
        devices.append(_device(name, kind, details.get("device_name", kind), device == runner))
    cuda = tf.test.is_built_with_cuda() or tf.test.is_built_with_rocm()
    return devices, cuda, f"tensorflow {tf.__version__}, {'GPU' if cuda else 'CPU-only'} build"


def _jax_devices():
    import jax

    default = jax.devices()  # jax runs on the default backend's first device
    extra = [] if jax.default_backend() == "cpu" else jax.devices("cpu")
    devices = []
    for device in default + extra:
        kind = "cpu" if device.platform == "cpu" else "gpu"
        name = f"{device.platform}:{device.id}"
        devices.append(_device(name, kind, device.device_kind, device == default[0]))
    # CUDA jax comes as a plugin package next to jaxlib: present or not, without importing it.
    plugins = [f"jax_cuda{v}_plugin" for v in (12, 13)]
    plugins = [name for name in plugins if importlib.util.find_spec(name) is not None]
    gpu_build = bool(plugins) or jax.default_backend() != "cpu"
    jaxlib = importlib.metadata.version("jaxlib")
    build = f"jaxlib {jaxlib}, default backend {jax.default_backend()}"
    return devices, gpu_build, build + (f", {', '.join(plugins)}" if plugins else "")


def _torch_devices():
    import torch

    try:  # the device Keras puts every tensor on (KERAS_TORCH_DEVICE, mps, cuda or cpu)
        from keras.src.backend.torch.core import get_device

        runner = str(get_device())
    except ImportError:
        runner = "cuda" if torch.cuda.is_available() else "cpu"
    if runner == "cuda":
        runner = f"cuda:{torch.cuda.current_device()}"
    devices = [_device("cpu", "cpu", "cpu", runner == "cpu")]
    for index in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        name = f"cuda:{index}"
        devices.append(_device(name, "gpu", torch.cuda.get_device_name(index), runner == name))
    if torch.backends.mps.is_available():
        devices.append(_device("mps", "gpu", "Apple Metal", runner.startswith("mps")))
    gpu = torch.version.cuda or torch.version.hip
    build = f"torch {torch.__version__}, " + (f"GPU build ({gpu})" if gpu else "CPU-only build")
    return devices, bool(gpu), build


def nvidia_gpus() -> list[str]:
    """NVIDIA GPUs the driver lists (Linux), whatever the framework build can use."""
    names = []
    for info in sorted(pathlib.Path("/proc/driver/nvidia/gpus").glob("*/information")):
        model = _key_values(str(info), ":").get("Model")
        names.append(model or "NVIDIA GPU")
    return names


@contextlib.contextmanager
def _captured_stderr():
    """Collect what is written to file descriptor 2 (C++ logs included) into a list."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+", errors="replace") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(line.strip() for line in capture if line.strip())


# --------------------------------------------------------------------------- showing


def sections(report: dict) -> list[tuple[str, list[tuple[str, str]]]]:
    """The report as titled (label, value) rows: the screen and the piped text share them."""
    cpu, keras, flags = report["cpu"], report["keras"], report["cpu"]["flags"]
    system = report["platform"]
    flag_text = ", ".join(f"{name} {_yes_no(value)}" for name, value in flags.items())
    counts = f"{cpu['usable_cpus'] or cpu['logical_cpus']} usable of {cpu['logical_cpus']}"
    if cpu["cgroup_cpu_limit"]:
        counts += f", cgroup limit {cpu['cgroup_cpu_limit']}"
    memory = f"{cpu['memory_gib']} GiB" if cpu["memory_gib"] else "unknown"
    devices = [
        (("* " if d["runs"] else "  ") + d["name"], d["description"] + (" (runs)" * d["runs"]))
        for d in report["devices"]
    ]
    if report["device_error"]:
        devices.append(("error", report["device_error"]))
    devices += [("", hint) for hint in report["hints"]]
    devices += [("message", message) for message in report["framework_messages"]]
    frameworks = [
        (name, f"{f['version']} ({f['distribution']})" + (", active" if f["active"] else "")
         if f["importable"] else "not installed")
        for name, f in report["frameworks"].items()
    ]  # fmt: skip
    return [
        ("System", [
            ("kdream", f"{report['kdream']['version']} ({report['kdream']['path']})"),
            ("python", f"{report['python']['version']} {report['python']['implementation']} "
                       f"({report['python']['executable']})"),
            ("os", f"{system['os']} ({system['system']} {system['release']}, {system['machine']})"),
            ("cpu", f"{cpu['model']}, {counts} CPUs"),
            ("cpu flags", flag_text),
            ("memory", memory),
        ]),
        ("Keras", [
            ("keras", keras["version"]),
            ("backend", f"{keras['backend']} (from {keras['backend_source']})"),
            ("keras.json", keras["config_file"] or "none"),
            ("data format", keras["image_data_format"]),
            ("precision", f"floatx {keras['floatx']}, dtype policy {keras['dtype_policy']}"),
        ]),
        (f"Devices ({report['build']})", devices),
        ("Frameworks", frameworks),
        ("Environment", list(report["environment"].items()) or [("", "no relevant variables")]),
        ("Weights", [_label_value(line) for line in report["weights"]["info"]]),
    ]  # fmt: skip


def _label_value(line: str) -> tuple[str, str]:
    """``cache_info``'s "source: details" lines as a row; indented lines continue a row."""
    label, found, value = line.partition(": ")
    if not found or line[:1].isspace():
        return "", line.strip()
    return label, value


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def render(report: dict, console) -> None:
    """Tables on a terminal; aligned plain lines when piped (nothing to wrap or strip)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    titled = sections(report)
    if not console.is_terminal:
        for title, rows in titled:
            console.print(Text(title), soft_wrap=True)
            width = max(len(label) for label, _ in rows)
            gap = "  " if width else ""
            for label, value in rows:
                line = f"  {label:<{width}}{gap}{value}".rstrip()
                console.print(Text(line), soft_wrap=True)
        return
    width = max(len(label) for _, rows in titled for label, _ in rows)  # one column edge
    for title, rows in titled:
        table = Table(
            title=title,
            title_style="bold",
            title_justify="left",
            show_header=False,
            box=box.ROUNDED,
        )
        table.add_column(style="cyan", min_width=width, no_wrap=True)
        table.add_column(overflow="fold")
        for label, value in rows:
            table.add_row(Text(label), Text(value))
        console.print(table)
