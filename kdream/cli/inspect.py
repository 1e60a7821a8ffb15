"""``kdream inspect``: a photo's feature maps at a layer, or a first layer's filters, as a
labelled sheet (PNG with its recipe; ``--recipe`` draws the same sheet again)."""

from __future__ import annotations

from pathlib import Path

from kdream import recipe as recipe_parts
from kdream.cli.common import (
    EXIT_OK,
    UsageError,
    check_network_names,
    check_recipe_model,
    fit_max_side,
    import_keras_quietly,
    model_choice,
    positive_int,
    recipe_weights,
    recorded_input,
)
from kdream.io import images as imageio
from kdream.network.precision import INTERFACE_DEFAULT

DEFAULTS = {"top": 32, "cell": 96, "max_side": 512}
"""The sheet's defaults (a --recipe's values replace them, given flags replace both)."""


def add_parser(commands, parents) -> None:
    parser = commands.add_parser(
        "inspect", parents=parents, help="feature maps of a photo, or a first layer's filters"
    )
    parser.add_argument("input", nargs="?", metavar="INPUT", help="image (default: the sample)")
    parser.add_argument("--layer", help="layer whose feature maps to show (e.g. mixed2)")
    parser.add_argument(
        "--filters", nargs="?", const="", metavar="LAYER",
        help="show a convolution's filters instead (default: the first convolution)",
    )  # fmt: skip
    parser.add_argument("--top", type=positive_int, help="most active channels (32)")
    parser.add_argument("--cell", type=positive_int, metavar="PX", help="cell size (96)")
    parser.add_argument("--max-side", type=positive_int, metavar="PX",
                        help="downsize the photo first (512)")  # fmt: skip
    parser.add_argument("--recipe", metavar="PNG", help="draw the sheet of a kdream PNG again")
    parser.add_argument("-o", "--output", help="sheet PNG (default: <input>_<layer>_maps.png)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    parser.set_defaults(run=run)


def run(args) -> int:
    recipe = imageio.read_recipe(args.recipe) if args.recipe else None
    recorded = _recorded(recipe, args.recipe)
    sheet = {name: getattr(args, name) or recorded.get(name) or DEFAULTS[name] for name in DEFAULTS}
    filters_of, layer = args.filters, args.layer
    if recipe is not None and filters_of is None and layer is None:
        filters_of = recorded["layer"] if recorded.get("what") == "filters" else None
        layer = None if filters_of is not None else recorded.get("layer")
    if filters_of is None and not layer:
        raise UsageError("give --layer LAYER (feature maps) or --filters [LAYER]")
    input_path = args.input or recorded_input(recipe)
    source = input_path or imageio.SAMPLE_SOURCE
    files = [path for path in (input_path, args.recipe) if path]
    model, input_range = model_choice(args, recipe)
    loaded, output = None, None
    if filters_of is None:  # the photo, the layer and the output, in the order they are used
        loaded = imageio.load_image(input_path) if input_path else imageio.load_sample()
        check_network_names(model, [layer])
        default_name = f"{Path(source).stem}_{layer}_maps.png"
        output = imageio.pick_output_path(args.output, default_name, files, args.force)
    else:
        _check_filters_layer(model, filters_of)
        if args.output:  # without -o, the name waits for the network's and its layer's names
            output = imageio.pick_output_path(args.output, "", files, args.force)

    import_keras_quietly()  # every check above ran without a framework: mistakes answer fast
    from kdream.ascent.dreamer import Dreamer
    from kdream.techniques.inspection import feature_maps, filters, first_convolution
    from kdream.techniques.sheets import contact_sheet

    weights = args.weights or recipe_weights(recipe)
    precision = args.precision or recipe_parts.precision_of(recipe) or INTERFACE_DEFAULT
    # A named filters layer needs the network only that deep; feature maps take the
    # dream's cut (built to their layer, or read from the prepared cache).
    dreamer = Dreamer(
        weights, model, input_range, precision, layers=[filters_of] if filters_of else None
    )
    check_recipe_model(recipe, dreamer)
    if filters_of is not None:
        layer = filters_of or first_convolution(dreamer.model)
        bgr = bool(dreamer.spec.mapping is not None and dreamer.spec.mapping.reverse_channels)
        panels = filters(dreamer.model, layer, bgr=bgr)
        default_name, what = f"{dreamer.spec.name}_{layer}_filters.png", "filters"
        output = output or imageio.pick_output_path(None, default_name, files, args.force)
    else:
        photo, _ = fit_max_side(loaded.rgb, None, sheet["max_side"])
        panels = feature_maps(dreamer, photo, layer, sheet["top"])
        what = "feature maps"
    picture = contact_sheet([p.picture for p in panels], [p.title for p in panels], sheet["cell"])
    channels = [p.channel for p in panels]
    recipe_out = {
        **dreamer.provenance(),
        "inspect": {"what": what, "layer": layer, "channels": channels, **sheet},
        "input": {"source": Path(source).name if input_path else source},
    }
    path = imageio.save_image(output, picture, recipe=recipe_out)
    print(f"wrote {path}: {len(panels)} {what} of {layer}")
    return EXIT_OK


def _check_filters_layer(model: str | None, name: str) -> None:
    """``--filters LAYER`` of a built-in network, checked against its catalogue (the
    message :func:`kdream.techniques.inspection.filters` gives once the network is built)."""
    from kdream import catalogue

    family = catalogue.family_of(model)
    if name and family is not None and name not in catalogue.layer_channels(family):
        raise UsageError(catalogue.unknown_layer_message(name))


def _recorded(recipe: dict | None, name: str | None) -> dict:
    """The ``inspect`` section of a replayed sheet ({} without --recipe)."""
    if recipe is None:
        return {}
    entry = recipe_parts.section(recipe, "inspect")
    if entry is None or not isinstance(entry.get("layer"), str):
        raise UsageError(f"{name}: not the recipe of a kdream inspect sheet")
    return {k: v for k, v in entry.items() if k in ("what", "layer") or _positive(v)}


def _positive(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 100_000
