"""``kdream atlas``: a browsable site of every channel of a model's layers, with the crops
of your photos that excite each one, and the channels that are dead or duplicates.

    kdream atlas inceptionv3 --photos photos/ -o atlas/ --layers mixed3,mixed4
    kdream atlas my_model.keras --photos photos/ --channels 0-63

Ctrl-C, then the same command again, resumes: finished channels are kept.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from kdream.cli.common import (
    EXIT_CANCELLED,
    EXIT_OK,
    UsageError,
    check_network_names,
    ctrl_c_sets,
    fail,
    import_keras_quietly,
    notify,
    positive_int,
)
from kdream.cli.folders import add_ray_arguments, check_ray_arguments
from kdream.network.precision import INTERFACE_DEFAULT

DEFAULT_OUTPUT = "atlas"


def add_parser(commands, parents) -> None:
    parser = commands.add_parser(
        "atlas",
        parents=parents,
        help="a browsable site of every channel: pictures, photo crops, dead and duplicates",
        description="Survey a model's channels over your photos and write a static site "
        "(open index.html from disk) plus atlas.json for scripts.",
    )
    parser.add_argument(
        "model_name", nargs="?", metavar="MODEL",
        help="a family name (inceptionv3, vgg16, ...) or your own .keras file "
        "(default: --model, else inceptionv3)",
    )  # fmt: skip
    parser.add_argument("--photos", required=True, metavar="DIR",
                        help="a folder of photos the channels are surveyed on")  # fmt: skip
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT, metavar="DIR",
                        help=f"the site's folder (default: {DEFAULT_OUTPUT}/)")  # fmt: skip
    what = parser.add_argument_group("what the atlas shows")
    what.add_argument("--layers", metavar="LIST",
                      help="layers, comma-separated (default: the model's catalogue, "
                      "see `kdream layers`)")  # fmt: skip
    what.add_argument("--channels", metavar="LIST",
                      help="the same channels of every layer, as for visualize: 0-63,100 "
                      "(default: all)")  # fmt: skip
    what.add_argument("--classes", metavar="LIST",
                      help="classes of a model with a head (default: all, up to 100; "
                      "'none' for none)")  # fmt: skip
    how = parser.add_argument_group("rendering")
    how.add_argument("--size", type=positive_int, metavar="PX",
                     help="picture side (default 224; a fixed-size model: its size)")  # fmt: skip
    how.add_argument("--steps", type=positive_int, help="optimisation steps (default 256)")
    how.add_argument("--seed", type=int, default=0, help="noise and transforms (default 0)")
    how.add_argument("--diversity", type=_views, default=4, metavar="N",
                     help="diverse views per channel, half size (default 4; 0: none)")  # fmt: skip
    how.add_argument("--batch", type=positive_int, default=8, metavar="N",
                     help="channels rendered together (default 8)")  # fmt: skip
    how.add_argument("--max-side", type=positive_int, default=512, metavar="PX",
                     help="photos are surveyed with their longer side at most this "
                     "(default 512)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_ray_arguments(parser, "clusters: the channels' render batches over Ray actors")
    parser.set_defaults(run=run)


def _views(text: str) -> int:
    import argparse

    if not text.strip().isdigit() or int(text) == 1 or int(text) > 16:
        raise argparse.ArgumentTypeError(f"expected 0 (none) or 2..16 views, got {text!r}")
    return int(text)


def run(args) -> int:
    check_ray_arguments(args)
    photos = _photo_files(args.photos)
    site = _site_folder(args.output)
    options = _options(args)
    if args.model_name and args.model and args.model_name != args.model:
        raise UsageError(f"give the model once: MODEL {args.model_name} or --model {args.model}")
    model = args.model_name or args.model
    if model and model.endswith(".keras") and not Path(model).is_file():
        raise UsageError(f"{model}: no such model file")
    _check_names(model, options)
    photos = _readable(photos, args.quiet)
    import_keras_quietly()  # the checks above ran without a framework: mistakes answer fast

    from kdream.ascent.dreamer import DreamCancelled
    from kdream.io.atlas import build_atlas
    from kdream.techniques.visualize.render import Visualizer

    started = time.perf_counter()
    visualizer = Visualizer(
        args.weights or "auto", model, args.input_range, args.precision or INTERFACE_DEFAULT
    )
    cancel = threading.Event()
    try:
        with ctrl_c_sets(cancel), _progress(args.quiet) as on_progress:
            found = build_atlas(
                visualizer, photos, site, options, on_progress, cancel, _renderer(args, model)
            )
    except DreamCancelled:
        print(
            f"kdream: cancelled; finished channels are kept in {site}/: "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_CANCELLED
    except ValueError as error:
        raise UsageError(str(error)) from None
    channels = sum(len(s.channels) for s in found.layers.values())
    dead = sum(len(s.dead) for s in found.layers.values())
    pairs = sum(len(s.duplicates) for s in found.layers.values())
    print(
        f"wrote {site / 'index.html'}: {_count(len(found.layers), 'layer')}, {channels} channels "
        f"({dead} dead, {pairs} near-duplicate pairs) over {len(photos)} photos "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return EXIT_OK


def _renderer(args, model):
    """With ``--ray``, the render batches go to Ray actors (None: rendered here)."""
    if args.ray is None:
        return None
    from kdream.distributed.atlas import ray_renderer

    network = (args.weights or "auto", model, args.input_range, args.precision or INTERFACE_DEFAULT)
    return ray_renderer(
        network, workers=args.workers, gpus_per_worker=args.gpus_per_worker,
        address=args.ray or None,
    )  # fmt: skip


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _check_names(model: str | None, options) -> None:
    """A built-in network's layers and channels, checked against its catalogue before any
    framework loads (a .keras file's are checked once it is loaded)."""
    from kdream import catalogue
    from kdream.network import zoo

    family = catalogue.family_of(model)
    if family is None:
        return
    layers = options.layers or tuple(zoo.FAMILIES[family].layers)
    check_network_names(model, layers, [(name, options.channels or ()) for name in layers])


def _photo_files(folder: str) -> list[Path]:
    from kdream.io.atlas import photo_files

    path = Path(folder)
    if not path.is_dir():
        raise UsageError(f"--photos {folder}: not a folder")
    found = photo_files(path)
    if not found:
        raise UsageError(f"--photos {folder}: no images in this folder")
    return found


def _readable(photos: list[Path], quiet: bool) -> list[Path]:
    """The photos that open, each bad one reported in one line; none at all is an error."""
    from kdream.io.images import ImageInputError, load_image

    good = []
    for path in photos:
        try:
            load_image(path)
            good.append(path)
        except ImageInputError as error:
            fail(f"{error}; skipped", 2)
    if not good:
        raise UsageError("--photos: none of the photos could be read")
    notify(
        quiet,
        *([f"surveying {len(good)} of {len(photos)} photos"] if len(good) < len(photos) else []),
    )
    return good


def _site_folder(output: str) -> Path:
    """The site's folder: new, empty, or an atlas already (which a run resumes)."""
    from kdream.io.atlas import ATLAS_JSON

    site = Path(output)
    if site.exists() and not site.is_dir():
        raise UsageError(f"-o {output}: a file, not a folder")
    if site.is_dir() and any(site.iterdir()) and not (site / ATLAS_JSON).is_file():
        raise UsageError(f"-o {output}: a folder that holds other files; give a new or empty one")
    return site


def _options(args):
    from kdream.config import parse_channel_list
    from kdream.io.atlas import AtlasOptions

    def indices(flag: str, text: str | None):
        if text is None:
            return None
        try:
            return parse_channel_list(text)
        except ValueError as error:
            raise UsageError(str(error).replace("channels:", f"{flag}:", 1)) from None

    layers = None
    if args.layers is not None:
        layers = tuple(name.strip() for name in args.layers.split(",") if name.strip())
        if not layers:
            raise UsageError("--layers: give at least one layer name")
    classes = (
        () if (args.classes or "").strip().lower() == "none" else indices("--classes", args.classes)
    )
    return AtlasOptions(
        layers=layers,
        channels=indices("--channels", args.channels),
        size=args.size,
        steps=args.steps,
        seed=args.seed,
        diversity=args.diversity,
        classes=classes,
        max_side=args.max_side,
        batch=args.batch,
    )


PHASES = {
    "photos": "surveying photos",
    "examples": "cutting examples",
    "channels": "rendering channels",
    "classes": "rendering classes",
}


@contextmanager
def _progress(quiet: bool):
    """One bar per phase (photos, examples, channels, classes) with done/total and ETA."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    tasks: dict[str, int] = {}
    with Progress(*columns, console=console) as bar:

        def on_progress(report) -> None:
            if report.phase not in tasks:
                tasks[report.phase] = bar.add_task(
                    PHASES.get(report.phase, report.phase), total=report.total
                )
            bar.update(tasks[report.phase], completed=report.done, total=report.total)

        yield on_progress
