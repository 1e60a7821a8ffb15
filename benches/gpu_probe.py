"""The GPU checks in one process, one JSON file per run: the GPU target (a default 1024²
dream, warm), one step's time, the host syncs inside a step, and whether two dreams of
one recipe give one picture.

    KERAS_BACKEND=torch python -m benches.gpu_probe OUT_DIR [--side 1024] [--deterministic]

Per precision (``auto`` and ``float32``): the network's build, a first dream (compiles
every octave), ``--rounds`` warm dreams (median: the target is under 1 s on an H100-class
card), the warm dreams' md5s (equal: one picture per recipe in one process), a
full-size step's time, and every host sync in two steps: torch's CUDA sync debug mode
names each with its kdream frames; on JAX a device-to-host transfer raises inside
``jax.transfer_guard_device_to_host("disallow")``. ``--deterministic`` asks the framework
for deterministic kernels first (torch: ``use_deterministic_algorithms(warn_only=True)``,
whose warnings name the nondeterministic ops; JAX: ``$KDREAM_PROBE_XLA_FLAG``, by default
``--xla_gpu_deterministic_ops=true``), to compare speed and pictures with and without.
The dream photo is kdream's sample resized to ``--side``; weights are ``--weights``
(default ``inception2015``, from ``$KDREAM_HOME``). On a CPU the sync checks say nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
import traceback
import warnings

XLA_FLAG_ENV = "KDREAM_PROBE_XLA_FLAG"


def arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder for probe_<backend>.json and the dream's PNG")
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--precisions", default="auto,float32")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--weights", default="inception2015")
    parser.add_argument("--deterministic", action="store_true")
    return parser.parse_args(argv)


def ask_for_determinism(backend: str) -> None:
    """Before the framework loads: its switches for deterministic GPU kernels."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if backend == "jax":
        flag = os.environ.get(XLA_FLAG_ENV, "--xla_gpu_deterministic_ops=true")
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()


def md5(array) -> str:
    import numpy as np

    return hashlib.md5(np.ascontiguousarray(array).tobytes()).hexdigest()


def synchronise(backend: str) -> None:
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    elif backend == "jax":
        import jax

        jax.effects_barrier()
        (jax.numpy.zeros(()) + 1).block_until_ready()


def device_name(backend: str) -> str:
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    if backend == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name") if gpus else "cpu"


def steps(step, image, count: int, side: int, config):
    """``count`` steps of the default recipe's schedule on a full-size image."""
    import numpy as np

    from kdream.ascent.step import draw_shift, sigma_at

    rng = np.random.default_rng(0)
    for index in range(count):
        shift = draw_shift(rng, (side, side), config)
        image, _ = step(image, shift, sigma_at(index, config.steps, config), 0.012, config)
    return image


def kdream_frames() -> str:
    frames = [f for f in traceback.extract_stack() if "/kdream/" in f.filename]
    return " < ".join(f"{f.filename.split('/kdream/')[-1]}:{f.lineno}" for f in frames[::-1][:3])


def host_syncs(backend: str, step, image, side: int, config) -> dict[str, int]:
    """Each host sync in two steps, with where kdream asked for it."""
    found: dict[str, int] = {}
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return found
        shown = warnings.showwarning

        def record(message, *args, **kwargs):
            where = f"{str(message)[:60]} @ {kdream_frames()}"
            found[where] = found.get(where, 0) + 1

        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = record
            torch.cuda.set_sync_debug_mode("warn")
            try:
                steps(step, image, 2, side, config)
            finally:
                torch.cuda.set_sync_debug_mode(0)
                warnings.showwarning = shown
    elif backend == "jax":
        import jax

        try:
            with jax.transfer_guard_device_to_host("disallow"):
                jax.block_until_ready(steps(step, image, 2, side, config))
        except Exception as error:  # noqa: BLE001 - the guard's error is the finding
            tail = traceback.extract_tb(error.__traceback__)
            where = " > ".join(f"{f.filename}:{f.lineno}" for f in tail if "/kdream/" in f.filename)
            found[f"{type(error).__name__}: {str(error)[:100]} @ {where}"] = 1
    return found


def probe_precision(precision: str, args, backend: str, photo, report: dict) -> None:
    import numpy as np
    from keras import ops
    from PIL import Image

    from kdream import DreamConfig, Dreamer

    config = DreamConfig()
    entry: dict = {}
    report[precision] = entry
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        dreamer = Dreamer(weights=args.weights, precision=precision, layers=config.layer_names)
        entry["resolved"] = dreamer.precision
        entry["build_s"] = time.perf_counter() - started
        started = time.perf_counter()
        pictures = [dreamer.dream(photo, config)]
        entry["first_dream_s"] = time.perf_counter() - started
    messages = {str(warning.message)[:160] for warning in caught}
    report["nondeterministic_ops"] |= {text for text in messages if "determinis" in text}
    times = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        pictures.append(dreamer.dream(photo, config))
        times.append(time.perf_counter() - started)
    hashes = [md5(picture) for picture in pictures]
    entry.update(warm_dream_s=times, warm_dream_median_s=statistics.median(times))
    entry.update(md5=hashes, one_picture=len(set(hashes)) == 1)
    if len(set(hashes)) > 1:
        difference = np.abs(pictures[0].astype(int) - pictures[-1].astype(int))
        entry["differing_pixels"] = int((difference > 0).sum())
        entry["max_difference"] = int(difference.max())
    if precision == "auto":
        name = f"dream_{backend}{'_deterministic' if args.deterministic else ''}.png"
        Image.fromarray(pictures[-1]).save(os.path.join(args.out, name))
    step = dreamer.ascent_step(config)
    image = ops.convert_to_tensor(photo.astype("float32") / 127.5 - 1)
    image = steps(step, image, 3, args.side, config)
    synchronise(backend)
    started = time.perf_counter()
    image = steps(step, image, 10, args.side, config)
    synchronise(backend)
    entry["step_s"] = (time.perf_counter() - started) / 10
    entry["host_syncs_in_2_steps"] = host_syncs(backend, step, image, args.side, config)
    print(json.dumps({precision: entry}), flush=True)


def main(argv=None) -> dict:
    args = arguments(argv)
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if args.deterministic:
        ask_for_determinism(backend)
    import keras

    from kdream.io.images.loading import load_sample
    from kdream.pixels import resize

    if args.deterministic and backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)
    report: dict = {"backend": backend, "device": device_name(backend), "keras": keras.__version__}
    report.update(side=args.side, deterministic=args.deterministic, nondeterministic_ops=set())
    photo = resize(load_sample().rgb, (args.side, args.side))
    for precision in args.precisions.split(","):
        probe_precision(precision, args, backend, photo, report)
    report["nondeterministic_ops"] = sorted(report["nondeterministic_ops"])
    name = f"probe_{backend}{'_deterministic' if args.deterministic else ''}.json"
    with open(os.path.join(args.out, name), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    return report


if __name__ == "__main__":
    main()
