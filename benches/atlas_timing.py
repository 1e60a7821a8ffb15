"""How long a full atlas of one layer takes: one render batch of a layer, timed phase by
phase with the default settings, then scaled to every channel of the layer (rendering is
batch after batch, so the time grows linearly with the channels; the survey does not).

    python benches/atlas_timing.py --photos PHOTOS --layer mixed4 -o docs/atlas_timing.json

Run it on a quiet machine: the numbers are wall-clock times.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import kdream
from kdream.io.atlas.builder import photo_files


def timed_phases(photos, layer: str, channels: int, diversity: int, steps) -> dict[str, float]:
    """Seconds each phase of one atlas run took (from its progress reports)."""
    first, last = {}, {}

    def on_progress(report) -> None:
        first.setdefault(report.phase, report.started)
        last[report.phase] = time.perf_counter()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        kdream.atlas(
            "inceptionv3", photos, Path(folder) / "site", weights="inception2015",
            layers=(layer,), channels=range(channels), diversity=diversity, steps=steps,
            on_progress=on_progress,
        )  # fmt: skip
    phases = {phase: last[phase] - first[phase] for phase in first}
    phases["total"] = time.perf_counter() - started
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", required=True)
    parser.add_argument("--layer", default="mixed4")
    parser.add_argument("--channels", type=int, default=8, help="channels timed (one batch)")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("-o", "--output", default="docs/atlas_timing.json")
    args = parser.parse_args()
    photos = photo_files(args.photos)
    plain = timed_phases(photos, args.layer, args.channels, 0, args.steps)
    varied = timed_phases(photos, args.layer, args.channels, 4, args.steps)
    total_channels = 768 if args.layer in ("mixed3", "mixed4", "mixed5", "mixed6") else None
    per_channel = plain["channels"] / args.channels
    views_per_channel = (varied["channels"] - plain["channels"]) / args.channels
    result = {
        "backend": kdream.backend.name(),
        "machine": f"{platform.processor() or platform.machine()}, {_cores()} cores",
        "layer": args.layer,
        "photos": len(photos),
        "timed_channels": args.channels,
        "survey_s": round(plain.get("photos", 0.0), 1),
        "picture_s_per_channel": round(per_channel, 2),
        "diversity_s_per_channel": round(views_per_channel, 2),
    }
    if total_channels:
        result["full_layer_h_without_diversity"] = round(total_channels * per_channel / 3600, 2)
        result["full_layer_h_with_diversity"] = round(
            total_channels * (per_channel + views_per_channel) / 3600, 2
        )
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    main()
