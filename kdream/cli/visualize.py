"""``kdream visualize``: pictures grown from noise that excite a channel, a neuron, a class
or any objective; many channels at once as a labelled sheet (PNG with its recipe)."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from kdream import recipe as recipe_parts
from kdream.cli.common import (
    EXIT_CANCELLED,
    EXIT_OK,
    UsageError,
    check_network_names,
    check_recipe_model,
    ctrl_c_sets,
    import_keras_quietly,
    model_choice,
    positive_int,
    progress_bar,
    recipe_weights,
    warn_if_recipe_differs,
)
from kdream.cli.folders import add_ray_arguments, check_ray_arguments, render_on_ray
from kdream.io import images as imageio
from kdream.network.precision import INTERFACE_DEFAULT

DEFAULT_DIVERSITY_WEIGHT = 100.0
"""lucid's ``channel - 1e2 * diversity``."""


def add_parser(commands, parents) -> None:
    parser = commands.add_parser(
        "visualize",
        parents=parents,
        help="feature visualisation: what a channel, neuron or class responds to, from noise",
    )
    what = parser.add_argument_group("what to visualise")
    what.add_argument("--layer", help="layer of --channel/--channels/--neuron (e.g. mixed4)")
    what.add_argument("--channel", type=_index, metavar="C", help="one channel of --layer")
    what.add_argument("--neuron", type=_position, metavar="X,Y",
                      help="only the channel at position X,Y of the layer's grid")  # fmt: skip
    what.add_argument("--channels", metavar="LIST", help="many channels as one sheet: 0-15,40")
    what.add_argument("--class", dest="class_unit", metavar="K",
                      help="output unit K (or units: 0-9) of a model with a head")  # fmt: skip
    what.add_argument("--objective", metavar="TEXT",
                      help='e.g. "mixed4:97 + mixed4:130 - 0.5*mixed3:12"')  # fmt: skip
    what.add_argument("--diversity", type=positive_int, metavar="N",
                      help="N different pictures of the objective, as a sheet")  # fmt: skip
    what.add_argument("--diversity-weight", type=float, metavar="W",
                      help=f"diversity's strength ({DEFAULT_DIVERSITY_WEIGHT:g})")  # fmt: skip
    how = parser.add_argument_group("rendering")
    how.add_argument("--size", type=positive_int, metavar="PX", help="picture side (224)")
    how.add_argument("--steps", type=positive_int, help="optimisation steps (256)")
    how.add_argument("--seed", type=int, help="noise and transforms (0)")
    how.add_argument("--param", choices=("fft", "maco", "pixels"),
                     help="image parameterisation: fft (lucid, default), maco (phase only, "
                     "natural magnitudes: for deep layers), pixels")  # fmt: skip
    how.add_argument("--learning-rate", type=float, metavar="LR",
                     help="Adam's step (0.05; maco: 0.1)")  # fmt: skip
    how.add_argument(
        "--alpha",
        action="store_true",
        help="save where the objective looked (summed pixel gradients) as the PNG's alpha "
        "channel (a sheet's, or a JPEG's, as NAME_importance.png)",
    )
    how.add_argument(
        "--from",
        dest="photo",
        metavar="PHOTO",
        help="feature accentuation: start from this photo instead of noise",
    )
    how.add_argument(
        "--closeness",
        type=float,
        metavar="W",
        help="with --from: how strongly the picture stays near the photo (100)",
    )
    how.add_argument("--post-relu", action="store_true",
                     help="optimise the layer's output, not its pre-activation")  # fmt: skip
    how.add_argument("--cell", type=positive_int, metavar="PX", help="sheet cell size (--size)")
    how.add_argument("--recipe", metavar="PNG", help="render the recipe of a kdream PNG again")
    parser.add_argument("-o", "--output", help="output PNG (default: visualize_<what>.png)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_ray_arguments(parser)
    parser.set_defaults(run=run)


def _index(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected an index >= 0, got {text!r}")
    return int(text)


def _position(text: str) -> tuple[int, int]:
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected X,Y (indices >= 0), got {text!r}")
    return int(parts[0]), int(parts[1])


def run(args) -> int:
    check_ray_arguments(args)
    recipe = imageio.read_recipe(args.recipe) if args.recipe else None
    _check_photo_flags(args)
    if recipe is None:
        _check_names(args)
    inputs = [path for path in (args.recipe, args.photo) if path]
    default = f"visualize_{_slug(args, recipe)}.png"
    output = imageio.pick_output_path(args.output, default, inputs, args.force)
    importance_path = output.with_name(f"{output.stem}_importance.png")
    if args.alpha and (not imageio.supports_alpha(output) or _may_be_sheet(args)):
        imageio.check_output_path(importance_path, inputs, args.force)
    photo_file = _photo_file(args.photo)
    import_keras_quietly()  # the checks above ran without a framework: mistakes answer fast
    described = _described_objective(args) if recipe is None else None
    photo = photo_file.reference() if photo_file else None
    _check_recorded_photo(recipe, photo)

    from kdream.techniques.visualize.render import Visualizer

    model, input_range = model_choice(args, recipe)
    weights = args.weights or recipe_weights(recipe)
    precision = args.precision or recipe_parts.precision_of(recipe) or INTERFACE_DEFAULT
    visualizer = Visualizer(weights, model, input_range, precision)
    if recipe is not None:
        check_recipe_model(recipe, visualizer.dreamer)
        warn_if_recipe_differs(recipe, visualizer.dreamer, args.quiet)
    objective, settings, cell = _plan(args, recipe, described, visualizer)
    if args.ray is not None:
        network = (weights, model, input_range, precision)
        pictures = render_on_ray(args, network, visualizer, objective, settings, photo)
    else:
        pictures = _render_here(args, visualizer, objective, settings, photo, output)
    if pictures is None:
        return EXIT_CANCELLED
    pick = _picked_picture(recipe, len(pictures))
    return _write(args, output, inputs, importance_path, visualizer, objective, settings,
                  cell, photo, pictures, pick)  # fmt: skip


def _render_here(args, visualizer, objective, settings, photo, output):
    """The pictures rendered in this process (None when cancelled)."""
    from kdream.ascent.dreamer import DreamCancelled

    cancel = threading.Event()
    try:
        with ctrl_c_sets(cancel), progress_bar(args.quiet, "visualize") as on_progress:
            pictures = visualizer.render(
                objective,
                settings,
                start=None if photo is None else photo.pixels,
                on_progress=on_progress,
                cancel=cancel,
            )
    except DreamCancelled:
        print(f"kdream: cancelled; {output} was not written", file=sys.stderr)
        return None
    return pictures


def _write(args, output, inputs, importance_path, visualizer, objective, settings, cell,
           photo, pictures, pick) -> int:  # fmt: skip
    """The picture (or sheet) with its recipe, and its importance map if asked for;
    ``pick``: the one picture of the render a recipe keeps (an atlas' channel)."""
    from kdream.techniques.visualize.render import cell_titles

    titles = cell_titles(objective, len(pictures))
    if pick is not None:  # one picture of a batch render (an atlas' channel)
        pictures, titles = pictures[pick : pick + 1], titles[pick : pick + 1]
    if pick is None:
        recipe_out = visualizer.picture_recipe(objective, settings, photo, cell)
    else:  # one picture, as the atlas saved it: no sheet
        recipe_out = recipe_parts.with_parts(
            visualizer.recipe(objective, settings, photo), pick={"picture": pick}
        )
    picture = visualizer.picture_of(objective, pictures, cell)
    importance = visualizer.importance_of(objective, pictures, cell)
    as_alpha = importance is not None and importance.shape == picture.shape[:2]
    as_alpha = as_alpha and len(pictures) == 1 and imageio.supports_alpha(output)
    alpha = importance if as_alpha else None
    if importance is not None and not as_alpha:
        imageio.check_output_path(importance_path, inputs, args.force)
    path = imageio.save_image(output, picture, alpha=alpha, recipe=recipe_out)
    what = titles[0] if len(titles) == 1 else f"{len(titles)} pictures"
    if args.objective is not None and len(titles) == 1:
        what = " ".join(args.objective.split())  # the objective as written, every term
    print(f"wrote {path}: {what}, {settings.size} px, {settings.steps} steps")
    if importance is not None and not as_alpha:
        imageio.save_image(importance_path, importance, recipe=recipe_out)
        print(f"wrote {importance_path}: where the objective looked")
    return EXIT_OK


def _picked_picture(recipe, count: int) -> int | None:
    """The one picture of the render a recipe keeps (an atlas saves each channel of a
    batch alone), or None for all of them."""
    try:
        pick = recipe_parts.picked_picture(recipe)
    except recipe_parts.RecipeError as error:
        raise UsageError(str(error)) from None
    if pick is not None and pick >= count:
        raise UsageError(f"the recipe picks picture {pick} of a render of {count}")
    return pick


NO_HEAD = (
    "--class: {} (as kdream loads it) has no classification head; use a model that ends in "
    "one, e.g. your own .keras file"
)


def _check_names(args) -> None:
    """``--layer``, ``--channel`` and ``--class`` of a built-in network, checked against its
    catalogue before any framework loads."""
    from kdream import catalogue

    model, _ = model_choice(args, None)
    layers = [args.layer] if args.layer else []
    channel = args.channel is not None and args.layer
    check_network_names(model, layers, [(args.layer, (args.channel,))] if channel else [])
    family = catalogue.family_of(model)
    if args.class_unit is not None and family and catalogue.head_classes(family) is None:
        raise UsageError(NO_HEAD.format(zoo_name(family)))
    if args.objective is not None and _only_objective(args):
        _check_objective_names(args.objective, model, family)


def _only_objective(args) -> bool:
    """Whether ``--objective`` is the one choice of what to render (several are refused
    later, with one line naming them)."""
    return args.class_unit is None and args.channels is None and args.channel is None


def _check_objective_names(text: str, model: str | None, family: str | None) -> None:
    """The syntax of ``--objective`` and a built-in network's layers and channels it names
    (the same one line as the built network's, without a framework)."""
    from kdream import catalogue
    from kdream.objectives.syntax import CLASS_LAYER, named_units

    headless = family is not None and catalogue.head_classes(family) is None
    units = named_units(text, head_layer=None if headless else CLASS_LAYER)
    channels = [(name, (index,)) for name, index in units if index is not None]
    check_network_names(model, [name for name, _ in units], channels)


def zoo_name(family: str) -> str:
    from kdream.network import zoo

    return zoo.FAMILIES[family].builder


def _check_photo_flags(args) -> None:
    """Flags of feature accentuation that cannot work, refused before anything loads."""
    if args.closeness is not None and not args.photo:
        raise UsageError("--closeness goes with --from PHOTO")
    if args.closeness is not None and not 0 <= args.closeness <= 1e7:
        raise UsageError(f"--closeness: must be in [0, 10000000] (got {args.closeness:g})")
    if args.photo and args.param == "maco":
        raise UsageError("--from: starts from a photo with --param fft or pixels, not maco")


def _may_be_sheet(args) -> bool:
    """Whether the request may render several pictures (whose importance maps then go
    to a second file, checked before anything loads)."""
    classes = args.class_unit is not None and any(c in args.class_unit for c in ",-")
    return bool(args.channels or classes or (args.diversity or 1) > 1 or args.recipe)


def _photo_file(path: str | None):
    """``--from``'s photo, read (and checked) before any framework loads."""
    if path is None:
        return None
    from kdream.io.images.references import read_reference

    return read_reference(path)


def _check_recorded_photo(recipe, photo) -> None:
    """A recipe that started from a photo needs ``--from`` with that very photo."""
    entry = (recipe_parts.section(recipe, "visualize") or {}) if recipe else {}
    recorded = entry.get("from") if isinstance(entry, dict) else None
    if not isinstance(recorded, dict):
        return
    name, sha256 = recorded.get("name") or "a photo", recorded.get("sha256")
    if photo is None:
        raise UsageError(
            f"the recipe's picture started from {name} (sha256 {sha256}): pass it with --from PHOTO"
        )
    if photo.sha256 != sha256:
        raise UsageError(
            f"{photo.name} is not the recipe's photo: its sha256 is {photo.sha256}, "
            f"the recipe's is {sha256}"
        )


def _described_objective(args):
    """What the flags ask for, as a function of the loaded visualiser (the text is checked
    now, before any model loads)."""
    from kdream.objectives.text import CLASS_LAYER, parse_channel_list, parse_objective

    chosen = [
        flag
        for flag, value in (
            ("--objective", args.objective),
            ("--class", args.class_unit),
            ("--channels", args.channels),
            ("--channel", args.channel),
        )
        if value is not None
    ]
    if len(chosen) > 1:
        raise UsageError(f"give one of {', '.join(chosen)}, not several")
    if args.objective is not None:
        parse_objective(args.objective, head_layer=CLASS_LAYER)  # syntax errors, early
        return lambda visualizer: visualizer.objective(args.objective)
    if args.class_unit is not None:
        units = parse_channel_list(args.class_unit)
        return lambda visualizer: _class_objective(visualizer, units)
    if args.layer is None:
        raise UsageError(
            "give --layer LAYER with --channel C or --channels LIST, or --class K, "
            "or --objective TEXT"
        )
    if args.neuron is not None and args.channel is None:
        raise UsageError("--neuron X,Y needs --channel C")
    from kdream.objectives.core import layer
    from kdream.objectives.visual import channel_batch, neuron, single_channel

    if args.channels is not None:
        indices = parse_channel_list(args.channels)
        return lambda visualizer: channel_batch(args.layer, indices)
    if args.channel is None:
        return lambda visualizer: layer(args.layer)
    if args.neuron is not None:
        return lambda visualizer: neuron(args.layer, args.channel, *args.neuron)
    return lambda visualizer: single_channel(args.layer, args.channel)


def _class_objective(visualizer, units: tuple[int, ...]):
    """One unit: its logit. Several: one picture each, in one batch (the unit is data)."""
    from kdream.objectives.visual import channel_batch, class_logit

    head = visualizer.head_layer
    if head is None:
        raise UsageError(NO_HEAD.format(visualizer.dreamer.spec.display_name))
    if len(units) == 1:
        return class_logit(head, units[0])
    return channel_batch(head, units, cosine_power=0.0)


def _plan(args, recipe, described, visualizer):
    """(objective, settings, sheet cell size) from the recipe or the flags."""
    from kdream.objectives.visual import diversity
    from kdream.techniques.visualize.render import settings_from_recipe

    if recipe is not None:
        objective, settings = settings_from_recipe(recipe)
        cell = (recipe_parts.section(recipe, "sheet") or {}).get("cell")
    else:
        objective, settings = described(visualizer), visualizer.default_settings()
        cell = None
        if args.diversity is not None and args.diversity > 1:
            weight = args.diversity_weight
            weight = DEFAULT_DIVERSITY_WEIGHT if weight is None else weight
            objective = objective + diversity(objective.layer_names[0], weight)
            settings = settings.replace(batch=args.diversity)
        if args.post_relu:
            settings = settings.replace(pre_activation=False)
    changes = {
        "size": args.size,
        "steps": args.steps,
        "seed": args.seed,
        "param": args.param,
        "learning_rate": args.learning_rate,
        "alpha": args.alpha or None,
        "closeness": args.closeness,
    }
    settings = settings.replace(**{k: v for k, v in changes.items() if v is not None})
    cell = args.cell or (cell if isinstance(cell, int) and 0 < cell <= 4096 else None)
    return objective, settings, cell or settings.size


def _slug(args, recipe) -> str:
    if recipe is not None:
        return Path(args.recipe).stem + "_again"
    if args.photo:
        return f"{Path(args.photo).stem}_{_what(args)}"
    return _what(args)


def _what(args) -> str:
    if args.objective is not None:
        return "objective"
    if args.class_unit is not None:
        return f"class{args.class_unit.replace(',', '_')}"
    what = args.channels or args.channel
    parts = [args.layer or "layer"] + ([str(what).replace(",", "_")] if what is not None else [])
    return "_".join(parts)
