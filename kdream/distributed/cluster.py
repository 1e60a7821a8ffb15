"""Joining or starting Ray, and the actors that keep one network loaded each.

The cluster address comes only from the caller (the ``--ray ADDRESS`` flag) or from
``RAY_ADDRESS``: never from a recipe or another file.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

RAY_EXTRA = 'pip install "kdream[ray]"'


class RayNotInstalled(ImportError):
    """Ray is missing: the message names the extra to install."""

    def __init__(self):
        super().__init__(f"--ray needs Ray: {RAY_EXTRA}")


def ray_installed() -> bool:
    """Whether Ray can be imported (checked without importing it)."""
    return importlib.util.find_spec("ray") is not None


def import_ray():
    if not ray_installed():
        raise RayNotInstalled
    import ray

    return ray


@contextmanager
def connected(address: str | None = None):
    """Ray, ready: the running one if this process already called ``ray.init``, else the
    cluster at ``address`` (or ``RAY_ADDRESS``), else a new local Ray with this machine's
    CPUs. A Ray started here is shut down on leaving."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    options = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address is None:  # a private local Ray: no dashboard, this machine's cores
        options.update(num_cpus=os.cpu_count(), include_dashboard=False)
        options.update(short_temp_dir())
    ray.init(address=address, **options)
    try:
        yield ray
    finally:
        ray.shutdown()


RAY_SOCKET_ROOM = 40
"""Ray puts its sockets some 60 characters deep under its temporary folder, and a socket
path may not exceed 107 bytes."""


def short_temp_dir() -> dict:
    """``ray.init``'s ``_temp_dir`` when the system's temporary folder does not suit Ray: a
    folder under /tmp instead. Too deep (a long ``TMPDIR``, as test runners set) leaves no
    room for its sockets; inside the running virtual environment (nox's ``TMPDIR`` is
    ``<venv>/tmp``) its workers refuse to start, and a run would wait for them forever."""
    temporary = os.path.realpath(tempfile.gettempdir())
    inside_environment = temporary.startswith(os.path.realpath(sys.prefix) + os.sep)
    fits = len(temporary) <= RAY_SOCKET_ROOM and not inside_environment
    if fits or not os.path.isdir("/tmp"):
        return {}
    return {"_temp_dir": tempfile.mkdtemp(prefix="kdream-ray-", dir="/tmp")}


def absolute(path) -> str:
    """A path a worker can open whatever its working folder (on a cluster, the files must
    be on a file system every node mounts at the same place)."""
    return str(Path(path).absolute()) if path is not None else path


def model_for_workers(model: str | None) -> str | None:
    """A model file's absolute path (a family name such as ``vgg19`` stays as it is)."""
    return absolute(model) if model is not None and Path(model).is_file() else model


def raising_causes(ray, results):
    """``results``, but a worker's exception is raised as itself (a bad model file, say, is
    then one line for the user, as without Ray), not wrapped in Ray's traceback."""
    iterator = iter(results)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except ray.exceptions.RayTaskError as error:
            raise error.cause from None


def gpu_share(ray, requested: float | None) -> float:
    """GPUs per actor: as asked, else one on a cluster that has GPUs, else none."""
    if requested is not None:
        return requested
    return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0


def default_workers(ray, gpus_per_worker: float) -> int:
    """As many actors as the cluster has CPUs (or GPUs / ``gpus_per_worker``)."""
    resources = ray.cluster_resources()
    if gpus_per_worker > 0:
        return max(1, int(resources.get("GPU", 0) / gpus_per_worker))
    return max(1, int(resources.get("CPU", 1)))


def start_actors(ray, actor_class, count: int, gpus_per_worker: float, *args) -> list:
    """``count`` actors of ``actor_class(*args)``. A dead one is restarted (its constructor
    runs again) and the call it was running is retried there: no file is lost."""
    import keras

    from kdream import backend

    remote = ray.remote(
        num_cpus=1,
        num_gpus=gpus_per_worker,
        max_restarts=-1,
        max_task_retries=-1,
    )(actor_class)
    # The workers compute on this process's backend, with its kernels: the same backend
    # gives the same pixels.
    variables = {"KERAS_BACKEND": keras.backend.backend(), **backend.framework_environment()}
    environment = {"env_vars": variables}
    return [remote.options(runtime_env=environment).remote(*args) for _ in range(count)]
