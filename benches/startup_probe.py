"""Child process of the start-up benchmark: where a fresh ``kdream dream`` process spends
its time before the dream runs at full speed, phase by phase, as one JSON line on stdout.

    python -m benches.startup_probe --weights inception2015 --side 512

Phases: importing kdream and the backend, building the network, resolving and loading
the weights (the sha256 check included), building the extractor and the step, the
first step (trace + compile + one run; on JAX from the persistent compilation cache
when an earlier process compiled the same shapes) and a second step (run only).
"""

from __future__ import annotations

import argparse
import json
import time


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="random")
    parser.add_argument("--side", type=int, default=512)
    args = parser.parse_args(argv)
    phases = {}
    clock = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = now - clock
        clock = now

    import numpy as np
    from keras import ops

    import kdream
    from kdream import DreamConfig, weights
    from kdream.network.build import new_family_network

    phase("import")
    config = DreamConfig()
    # As the CLI builds it for the default recipe: only as deep as mixed5.
    network = new_family_network("inceptionv3", up_to="mixed5")
    phase("build")
    weights.load_into(network, weights.resolve_weights(args.weights))
    phase("weights")
    dreamer = kdream.Dreamer(weights=args.weights, layers=config.layer_names)  # the same again
    clock = time.perf_counter()
    step = dreamer.ascent_step(config)
    phase("extractor")
    rng = np.random.default_rng(0)
    image = ops.convert_to_tensor(rng.uniform(-1, 1, (args.side, args.side, 3)).astype("float32"))
    for name in ("first step", "second step"):
        image, loss = step(image, (0, 0), 1.0, config.step_size, config)
        ops.convert_to_numpy(loss)
        phase(name)
    report = {"side": args.side, "weights": args.weights, "phases": phases}
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
