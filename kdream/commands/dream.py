"""``kdream dream``: photos (or the embedded sample) in, dreamed PNGs with their recipe out."""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from kdream import imageio
from kdream.cli import (
    EXIT_CANCELLED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    config_from_args,
    fail,
    parse_channels,
    parse_layers,
    positive_int,
    user_error_message,
)
from kdream.config import OCTAVE_MODES, REDUCTIONS, DreamConfig

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def add_parser(commands, parents) -> None:
    parser = commands.add_parser(
        "dream", parents=parents, help="dream images (default: the embedded sample photo)"
    )
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="image files or directories")
    parser.add_argument("-o", "--output", help="output file (one input) or directory")
    recipe = add_recipe_arguments(parser, "recipe (defaults: kdream's recipe, or --recipe's)")
    recipe.add_argument("--recipe", metavar="PNG", help="start from the recipe of a kdream PNG")
    recipe.add_argument(
        "--guide",
        metavar="IMAGE",
        help="guided dream: pull the layers' features toward this image's",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or notices")
    parser.set_defaults(run=run)


def add_recipe_arguments(parser, title: str):
    """The dream's recipe flags (also taken by ``zoom`` and ``video``); returns the group."""
    recipe = parser.add_argument_group(title)
    recipe.add_argument("--layers", type=parse_layers, help="e.g. mixed3=1.0,mixed5=1.5")
    recipe.add_argument(
        "--channels", type=parse_channels, action="append", metavar="LAYER:IDX[,IDX][=W]"
    )
    recipe.add_argument("--reduction", choices=REDUCTIONS)
    recipe.add_argument("--octaves", type=int)
    recipe.add_argument("--octave-scale", type=float)
    recipe.add_argument("--octave-mode", choices=OCTAVE_MODES)
    recipe.add_argument("--steps", type=int, help="ascent steps per octave")
    recipe.add_argument("--step-size", type=float)
    recipe.add_argument("--tile-size", type=int, metavar="PX")
    recipe.add_argument("--tile-batch", type=int, metavar="N", help="tiles per network pass")
    recipe.add_argument("--jitter", type=int, metavar="PX")
    recipe.add_argument("--smoothing", type=float, metavar="SIGMA", help="0 turns it off")
    recipe.add_argument("--seed", type=int)
    recipe.add_argument("--max-side", type=positive_int, metavar="PX", help="downsize inputs")
    return recipe


def run(args) -> int:
    recipe = imageio.read_recipe(args.recipe) if args.recipe else None
    config = config_from_args(args, _recipe_config(recipe))
    max_side = args.max_side or (recipe or {}).get("max_side")
    sources = _input_sources(args.inputs, recipe)
    jobs = _plan_outputs(sources, args.output, args.force, [args.guide] if args.guide else [])
    guide_reference = _guide_reference(args.guide)
    weights = args.weights or _recipe_weights(recipe)
    model, input_range = model_choice(args, recipe)

    failures, written = _unreadable_inputs(jobs), []
    jobs = [(source, output) for source, output in jobs if source not in failures]
    if not jobs:  # nothing to dream: don't load a model
        return EXIT_USAGE

    from kdream import DreamCancelled, Dreamer

    objective = _recipe_objective(recipe, args)
    _check_recorded_guide(objective, guide_reference)
    precision = args.precision or (recipe or {}).get("precision") or "float32"
    dreamer = Dreamer(weights, model, input_range, precision=precision)
    _check_recipe_model(recipe, dreamer)
    objective = _guided_objective(objective, guide_reference, dreamer.config_for(config))
    _warn_if_recipe_differs(recipe, dreamer, args.quiet)
    cancel = threading.Event()
    with _ctrl_c_sets(cancel):
        for source, output in jobs:
            try:
                written.append(
                    _dream_one(
                        dreamer, source, output, config, max_side, args.quiet, cancel, objective
                    )
                )
            except DreamCancelled:
                print(f"kdream: cancelled; {output} was not written", file=sys.stderr)
                return EXIT_CANCELLED
            except Exception as error:
                message = user_error_message(error)
                if message is None:
                    raise
                fail(message, EXIT_USAGE)
                failures.append(source)
    total = len(written) + len(failures)
    if total > 1:
        print(f"dreamed {len(written)} of {total} images; {len(failures)} failed")
    return EXIT_OK if not failures else EXIT_USAGE


RECIPE_WEIGHT_SOURCES = ("imagenet", "inception2015", "random")
"""Weights a recipe may name by itself. A weights file is never taken from a recipe (it
could point anywhere on this machine): replaying one needs --weights PATH."""


def _recipe_weights(recipe: dict | None) -> str:
    recorded = (recipe or {}).get("weights", {}).get("source")
    if recorded == "file":
        raise UsageError("the recipe was dreamed with a weights file: pass it with --weights PATH")
    return recorded if recorded in RECIPE_WEIGHT_SOURCES else "auto"


def model_choice(args, recipe: dict | None) -> tuple[str | None, tuple | None]:
    """``--model``/``--input-range``, else the recipe's model (an own model's file is looked
    for beside the recipe's PNG, then here)."""
    entry = (recipe or {}).get("model") or {}
    recorded_range = tuple(entry["input_range"]) if "input_range" in entry else None
    input_range = args.input_range or recorded_range
    if args.model:
        return args.model, input_range
    if "file" in entry:
        name = Path(str(entry["file"])).name
        for folder in (Path(args.recipe).parent, Path.cwd()):
            if (folder / name).is_file():
                return str(folder / name), input_range
        raise UsageError(
            f"the recipe was dreamed with the model file {name} (sha256 {entry.get('sha256')}): "
            "pass it with --model PATH"
        )
    return entry.get("name"), input_range


def _check_recipe_model(recipe: dict | None, dreamer) -> None:
    """A replay must use the very model file the recipe names: refuse another one."""
    expected = ((recipe or {}).get("model") or {}).get("sha256")
    if expected and dreamer.spec.sha256 and expected != dreamer.spec.sha256:
        raise UsageError(
            f"{dreamer.spec.name} is not the model file of the recipe: its sha256 is "
            f"{dreamer.spec.sha256}, the recipe's is {expected}"
        )


def _unreadable_inputs(jobs) -> list[str]:
    """Read every input once before the model loads, so bad files are reported up front
    (the images are read again, one at a time, when dreamed: memory stays small)."""
    failures = []
    for source, _ in jobs:
        if source == imageio.SAMPLE_SOURCE:
            continue
        try:
            imageio.load_image(source)
        except imageio.ImageInputError as error:
            fail(str(error), EXIT_USAGE)
            failures.append(source)
    return failures


def _recipe_config(recipe: dict | None) -> DreamConfig:
    if recipe is None:
        return DreamConfig()
    try:
        return DreamConfig.from_dict(recipe["config"])
    except (KeyError, TypeError) as error:
        raise UsageError(f"the recipe has no valid 'config' ({error})") from None


def _input_sources(inputs: list[str], recipe: dict | None) -> list[str]:
    """Files to dream: given files, images inside given directories, or the sample."""
    if not inputs:
        source = (recipe or {}).get("input", {}).get("source", imageio.SAMPLE_SOURCE)
        if source != imageio.SAMPLE_SOURCE and not Path(source).exists():
            raise UsageError(f"the recipe's input {source!r} is not here: give INPUT")
        return [source]
    sources = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise UsageError(f"{item}: no images in this directory")
            sources.extend(str(p) for p in found)
        else:
            sources.append(item)  # a bad file is reported when it is read
    return sources


def _plan_outputs(sources, output, force, references=()) -> list[tuple[str, Path]]:
    """Pair every input with its output path; refuse clobbering before any work starts
    (``references``: other files the run reads, never to be overwritten either)."""
    files = [s for s in sources if s != imageio.SAMPLE_SOURCE] + list(references)
    wants_folder = bool(output) and (len(sources) > 1 or output.endswith(("/", "\\")))
    if wants_folder:
        directory = Path(output)
        if directory.exists() and not directory.is_dir():
            raise UsageError(f"{output}: with several inputs, -o must be a directory")
        directory.mkdir(parents=True, exist_ok=True)
        targets = [imageio.default_output_path(s, directory) for s in sources]
    elif output and Path(output).is_dir():
        targets = [imageio.default_output_path(sources[0], output)]
    elif output:
        targets = [Path(output)]
    else:
        targets = [imageio.default_output_path(s) for s in sources]
    if len(set(map(str, targets))) < len(targets):
        raise UsageError("two inputs would write the same output name: use separate runs")
    return [
        (source, imageio.check_output_path(target, files, force))
        for source, target in zip(sources, targets)
    ]


def _recipe_objective(recipe: dict | None, args):
    """A recipe's recorded objective (API dreams may have one beyond layers and channels),
    unless the command line gives layers or channels of its own."""
    if not recipe or "objective" not in recipe or args.layers or args.channels:
        return None
    from kdream.objectives import from_recipe

    return from_recipe(recipe["objective"])


def _guide_reference(path: str | None):
    """``--guide``'s image, read (and checked) before the model loads."""
    if path is None:
        return None
    from kdream.references import ReferenceImage

    return ReferenceImage.from_file(path)


def _check_recorded_guide(objective, reference) -> None:
    """A recipe's guide needs ``--guide``, and the very image: refused when its sha256
    differs from the recipe's (before the model loads)."""
    from kdream.references import references_of

    recorded = references_of(objective) if objective is not None else ()
    if not recorded:
        return
    if reference is None:
        raise UsageError(
            f"the recipe's dream is guided by {recorded[0].name or 'an image'} "
            f"(sha256 {recorded[0].sha256}): pass it with --guide IMAGE"
        )
    if reference.sha256 != recorded[0].sha256:
        raise UsageError(
            f"{reference.name} is not the recipe's guide: its sha256 is {reference.sha256}, "
            f"the recipe's is {recorded[0].sha256}"
        )


def _guided_objective(objective, reference, config: DreamConfig):
    """The run's objective with ``--guide``: the recipe's guide terms get the given image
    (checked by :func:`_check_recorded_guide`); without a recorded guide, the config's
    layers become guide terms."""
    from kdream.references import bind, references_of

    if reference is None:
        return objective
    if objective is not None and references_of(objective):
        return bind(objective, [reference])
    from kdream.guide import guided_objective

    return guided_objective(reference, config)


def _dream_one(dreamer, source, output, config, max_side, quiet, cancel, objective=None) -> Path:
    started = time.perf_counter()
    loaded = (
        imageio.load_sample() if source == imageio.SAMPLE_SOURCE else imageio.load_image(source)
    )
    _notify(quiet, *(f"{source}: {notice}" for notice in loaded.notices))
    rgb, alpha = _fit_max_side(loaded.rgb, loaded.alpha, max_side)
    if alpha is not None and not imageio.supports_alpha(output):
        _notify(quiet, f"{output}: this format has no transparency; alpha dropped")
        alpha = None
    with _progress_bar(quiet, source) as on_progress:
        dreamed = dreamer.dream(
            rgb, config, objective=objective, on_progress=on_progress, cancel=cancel
        )
    recipe = dreamer.recipe(config, rgb.shape[:2], objective)
    recipe["input"]["source"] = source if source == imageio.SAMPLE_SOURCE else Path(source).name
    recipe["max_side"] = max_side
    path = imageio.save_image(output, dreamed, alpha, recipe=recipe)
    height, width = dreamed.shape[:2]
    print(f"wrote {path} ({width}x{height}) in {time.perf_counter() - started:.1f} s")
    return path


def _fit_max_side(rgb, alpha, max_side):
    if not max_side or max(rgb.shape[:2]) <= max_side:
        return rgb, alpha
    factor = max_side / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[0] * factor)), max(1, round(rgb.shape[1] * factor)))
    alpha = None if alpha is None else imageio.resize_rgb(alpha, size)
    return imageio.resize_rgb(rgb, size), alpha


def _notify(quiet: bool, *lines: str) -> None:
    for line in lines if not quiet else ():
        print(f"kdream: note: {line}", file=sys.stderr)


@contextmanager
def _progress_bar(quiet: bool, source: str):
    """A rich progress bar (octave, step, loss, ETA) fed by the run's reports."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if quiet or not console.is_terminal:  # a log file gets no bar (nor its blank line)
        yield None
        return

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("octave {task.fields[octave]} step {task.fields[step]}"),
        TextColumn("loss {task.fields[loss]}"),
        TimeRemainingColumn(),
    )
    name = Path(source).name if source != imageio.SAMPLE_SOURCE else "sample"
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(name, total=1.0, octave="-", step="-", loss="-")

        def on_progress(report):
            bar.update(
                task,
                completed=report.fraction,
                octave=f"{report.octave}/{report.octaves}",
                step=f"{report.step}/{report.steps}",
                loss=f"{report.loss:.4g}",
            )

        yield on_progress


@contextmanager
def _ctrl_c_sets(cancel: threading.Event):
    """First Ctrl-C: stop after the current step (nothing is written). Second: abort now."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nkdream: stopping after this step (Ctrl-C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _warn_if_recipe_differs(recipe, dreamer, quiet) -> None:
    if not recipe:
        return
    if recipe.get("backend") not in (None, dreamer.backend):
        _notify(quiet, f"recipe made on {recipe['backend']}, running on {dreamer.backend}: "
                "the picture will be close, not bit-identical")  # fmt: skip
    sha = recipe.get("weights", {}).get("sha256")
    if sha and dreamer.weights.sha256 and sha != dreamer.weights.sha256:
        _notify(quiet, "the recipe was made with other weights (sha256 differs)")
