"""``kdream dream``: photos (or the embedded sample) in, dreamed PNGs with their recipe out."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from kdream import recipe as recipe_parts
from kdream.cli.common import (
    EXIT_CANCELLED,
    EXIT_USAGE,
    UsageError,
    add_recipe_arguments,
    check_network_names,
    check_recipe_model,
    config_from_args,
    ctrl_c_sets,
    fail,
    import_keras_quietly,
    model_choice,
    progress_bar,
    recipe_config,
    recipe_weights,
    warn_if_recipe_differs,
)
from kdream.cli.folders import (
    add_folder_arguments,
    check_ray_arguments,
    dream_on_ray,
    report,
    summary,
    use_devices,
)
from kdream.io import images as imageio
from kdream.io.folder import FolderDream, dream_file
from kdream.io.images import IMAGE_SUFFIXES
from kdream.network.precision import INTERFACE_DEFAULT


def add_parser(commands, parents) -> None:
    parser = commands.add_parser(
        "dream", parents=parents, help="dream images (default: the embedded sample photo)"
    )
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="image files or directories")
    parser.add_argument(
        "-o", "--output",
        help="output file (one input) or directory (default: <input>_dream.png, -2, -3... "
        "when taken)",
    )  # fmt: skip
    recipe = add_recipe_arguments(parser, "recipe (defaults: kdream's recipe, or --recipe's)")
    recipe.add_argument("--recipe", metavar="PNG", help="start from the recipe of a kdream PNG")
    recipe.add_argument(
        "--guide",
        metavar="IMAGE",
        help="guided dream: pull the layers' features toward this image's",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or notices")
    add_folder_arguments(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    check_ray_arguments(args)
    recipe = imageio.read_recipe(args.recipe) if args.recipe else None
    config = config_from_args(args, recipe_config(recipe))
    max_side = args.max_side or recipe_parts.max_side_of(recipe)
    sources = _input_sources(args.inputs, recipe)
    replace = args.force or args.resume  # --resume decides per file (kdream.io.folder)
    jobs = _plan_outputs(sources, args.output, replace, [args.guide] if args.guide else [])
    guide_file = _guide_file(args.guide)
    weights = args.weights or recipe_weights(recipe)
    model, input_range = model_choice(args, recipe)
    check_network_names(model, [name for name, _ in config.layers], config.channels)

    failures = _unreadable_inputs(jobs)
    jobs = [(source, output) for source, output in jobs if source not in failures]
    if not jobs:  # nothing to dream: don't load a model
        return EXIT_USAGE

    import_keras_quietly()  # every check above ran without a framework: mistakes answer fast
    guide_reference = guide_file.reference() if guide_file else None
    objective = _recipe_objective(recipe, args)
    _check_recorded_guide(objective, guide_reference)
    precision = args.precision or recipe_parts.precision_of(recipe) or INTERFACE_DEFAULT
    settings = FolderDream(
        weights, model, input_range, precision, config, max_side, objective,
        guide_reference, args.resume, args.force,
    )  # fmt: skip
    if args.ray is not None:
        return dream_on_ray(args, settings, jobs, failures)
    return _dream_serially(args, recipe, settings, jobs, failures)


def _dream_serially(args, recipe, settings: FolderDream, jobs, failures) -> int:
    """The files one after the other in this process, with a bar per file."""
    from kdream.ascent.dreamer import DreamCancelled

    use_devices(args)
    dreamer = settings.load_dreamer()
    check_recipe_model(recipe, dreamer)
    objective = settings.objective_for(dreamer)
    warn_if_recipe_differs(recipe, dreamer, args.quiet)
    cancel, outcomes = threading.Event(), []
    with ctrl_c_sets(cancel):
        for source, output in jobs:
            try:
                with progress_bar(args.quiet, source) as on_progress:
                    outcome = dream_file(
                        dreamer, settings, source, output, objective,
                        on_progress=on_progress, cancel=cancel,
                    )  # fmt: skip
            except DreamCancelled:
                print(f"kdream: cancelled; {output} was not written", file=sys.stderr)
                return EXIT_CANCELLED
            report(outcome, args.quiet)
            outcomes.append(outcome)
    return summary(outcomes, failures)


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


def _input_sources(inputs: list[str], recipe: dict | None) -> list[str]:
    """Files to dream: given files, images inside given directories, or the sample."""
    if not inputs:
        source = recipe_parts.input_entry(recipe).get("source", imageio.SAMPLE_SOURCE)
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
    if not output:  # names kdream chose: a taken one gets the next number, never an error
        return [
            (source, imageio.pick_output_path(None, target, files, force))
            for source, target in zip(sources, targets)
        ]
    return [
        (source, imageio.check_output_path(target, files, force))
        for source, target in zip(sources, targets)
    ]


def _recipe_objective(recipe: dict | None, args):
    """A recipe's recorded objective (API dreams may have one beyond layers and channels),
    unless the command line gives layers or channels of its own."""
    if not recipe_parts.has_objective(recipe) or args.layers or args.channels:
        return None
    from kdream.objectives.recipes import from_recipe

    return from_recipe(recipe_parts.objective_entries(recipe))


def _guide_file(path: str | None):
    """``--guide``'s image, read (and checked) before any framework loads."""
    if path is None:
        return None
    from kdream.io.images.references import read_reference

    return read_reference(path)


def _check_recorded_guide(objective, reference) -> None:
    """A recipe's guide needs ``--guide``, and the very image: refused when its sha256
    differs from the recipe's (before the model loads)."""
    from kdream.objectives.references import references_of

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
