"""Child process of the start-up benchmark: where a fresh ``kdream dream`` process spends
its time before the dream runs at full speed, phase by phase, as one JSON line on stdout.

    python -m benches.startup_probe --weights inception2015 --side 512

Phases: importing kdream and the backend; the network as a dream gets it (the prepared
extractor from kdream's cache folder when an earlier process made it, as after the
warm-up process; else built, loaded and folded) with its step; the first step (trace +
compile + one run; on JAX from the persistent compilation cache when an earlier process
compiled the same shapes) and a second step (run only). Then, for comparison, what a
first run pays instead of the prepared extractor: building the network, loading the
weights (the sha256 check included) and cutting and folding the extractor.
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
    from kdream.models.extractor import FeatureExtractor
    from kdream.network.build import new_family_network

    phase("import")
    config = DreamConfig()
    # As the CLI makes it for the default recipe: only as deep as mixed5.
    dreamer = kdream.Dreamer(weights=args.weights, layers=config.layer_names)
    step = dreamer.ascent_step(config)
    phase("network as a dream gets it (prepared)")
    rng = np.random.default_rng(0)
    image = ops.convert_to_tensor(rng.uniform(-1, 1, (args.side, args.side, 3)).astype("float32"))
    for name in ("first step", "second step"):
        image, loss = step(image, (0, 0), 1.0, config.step_size, config)
        ops.convert_to_numpy(loss)
        phase(name)
    network = new_family_network("inceptionv3", up_to="mixed5")
    phase("first run only: build")
    weights.load_into(network, weights.resolve_weights(args.weights))
    phase("first run only: weights")
    FeatureExtractor.build(config.layer_names, base=network)
    phase("first run only: extractor")
    report = {"side": args.side, "weights": args.weights, "phases": phases}
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
