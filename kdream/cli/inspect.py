"""``kdream inspect``: a photo's feature maps at a layer, or a first layer's filters, as a
labelled sheet (PNG with its recipe)."""

from __future__ import annotations

from pathlib import Path

from kdream.cli.common import (
    EXIT_OK,
    UsageError,
    fit_max_side,
    model_choice,
    positive_int,
)
from kdream.io import images as imageio


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
    parser.add_argument("--top", type=positive_int, default=32, help="most active channels (32)")
    parser.add_argument(
        "--cell", type=positive_int, default=96, metavar="PX", help="cell size (96)"
    )
    parser.add_argument("--max-side", type=positive_int, default=512, metavar="PX",
                        help="downsize the photo first (512)")  # fmt: skip
    parser.add_argument("-o", "--output", help="sheet PNG (default: <input>_<layer>_maps.png)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    parser.set_defaults(run=run)


def run(args) -> int:
    from kdream.ascent.dreamer import Dreamer
    from kdream.techniques.inspection import feature_maps, filters, first_convolution
    from kdream.techniques.sheets import contact_sheet

    if args.filters is None and not args.layer:
        raise UsageError("give --layer LAYER (feature maps) or --filters [LAYER]")
    model, input_range = model_choice(args, None)
    dreamer = Dreamer(args.weights or "auto", model, input_range, args.precision or "float32")
    source = args.input or imageio.SAMPLE_SOURCE
    if args.filters is not None:
        layer = args.filters or first_convolution(dreamer.model)
        bgr = bool(dreamer.spec.mapping is not None and dreamer.spec.mapping.reverse_channels)
        panels = filters(dreamer.model, layer, bgr=bgr)
        default_name, what = f"{dreamer.spec.name}_{layer}_filters.png", "filters"
    else:
        loaded = imageio.load_image(args.input) if args.input else imageio.load_sample()
        photo, _ = fit_max_side(loaded.rgb, None, args.max_side)
        layer = args.layer
        panels = feature_maps(dreamer, photo, layer, args.top)
        default_name, what = f"{Path(source).stem}_{layer}_maps.png", "feature maps"
    files = [args.input] if args.input else []
    output = imageio.pick_output_path(args.output, default_name, files, args.force)
    sheet = contact_sheet([p.picture for p in panels], [p.title for p in panels], args.cell)
    recipe = {
        **dreamer.provenance(),
        "inspect": {"what": what, "layer": layer, "channels": [p.channel for p in panels]},
        "input": {"source": Path(source).name if args.input else source},
    }
    path = imageio.save_image(output, sheet, recipe=recipe)
    print(f"wrote {path}: {len(panels)} {what} of {layer}")
    return EXIT_OK
