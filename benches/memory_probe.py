"""Child process of the peak-memory benchmark: dream steps on a large image, then its
own peak resident set size (VmHWM) after each step, as one JSON line on stdout.

A fresh process per size, so each peak is that size's alone (a high-water mark never
goes down). It covers everything a real run holds: the framework, the network and
its weights, the image, the compiled step and the step's temporaries.

    python -m benches.memory_probe --side 4096 --tile 512 --tile-batch 2 --steps 3

The first step's peak is the target's; later steps show whether memory creeps up
from step to step (a dream takes dozens).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

KIB_PER_MIB = 1024


def peak_rss_mib() -> float:
    """This process's own peak RSS so far: ``VmHWM``, the high-water mark of its memory map.

    Not ``ru_maxrss``: Linux carries it across ``execve``, and Python starts children with
    vfork + exec, so a child's ``ru_maxrss`` starts at its *parent's* peak (here: the
    pytest process, gigabytes after a full dream). ``ru_maxrss`` (KiB) is the fallback
    where ``/proc`` is missing.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / KIB_PER_MIB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_MIB


def current_rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * resource.getpagesize() / 2**20


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, required=True)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--tile-batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1, help="the first one also compiles")
    args = parser.parse_args(argv)

    import numpy as np
    from keras import ops

    from kdream import DreamConfig, Dreamer

    config = DreamConfig(tile_size=args.tile, tile_batch=args.tile_batch)
    step = Dreamer(weights="random").ascent_step(config)
    rng = np.random.default_rng(0)
    host = rng.uniform(-1, 1, (args.side, args.side, 3)).astype("float32")
    image = ops.convert_to_tensor(host)
    del host  # a dream keeps only the device image during an octave
    before_step = current_rss_mib()
    durations, peaks = [], []
    for index in range(args.steps):
        started = time.perf_counter()
        image, loss = step(image, (index * 37, index * 11), 1.0, config.step_size, config)
        ops.convert_to_numpy(loss)
        durations.append(time.perf_counter() - started)
        peaks.append(peak_rss_mib())
    report = {
        "side": args.side,
        "tile": args.tile,
        "tile_batch": args.tile_batch,
        "rss_before_step_mib": before_step,
        "peak_rss_mib": peaks[0],
        "peak_rss_by_step_mib": peaks,
        "step_seconds": durations,
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
