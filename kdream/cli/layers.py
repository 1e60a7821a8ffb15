"""``kdream layers``: what one can dream with, and how big each layer is for an image."""

from __future__ import annotations

import argparse

from kdream.cli.common import EXIT_OK


def parse_size(text: str) -> tuple[int, int]:
    """``512`` or ``600x400`` (width x height, as image sizes are written) -> (h, w)."""
    width, _, height = text.lower().partition("x")
    try:
        size = (int(height or width), int(width))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PX or WxH, got {text!r}") from None
    if min(size) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return size


def add_parser(commands, parents) -> None:
    parser = commands.add_parser(
        "layers", parents=parents, help="the layers to dream with, their channels and sizes"
    )
    parser.add_argument(
        "--size", type=parse_size, default=(512, 512), metavar="PX|WxH",
        help="image size for the spatial extents (default 512)",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from kdream.models.extractor import FeatureExtractor
    from kdream.models.factory import model_spec
    from kdream.models.families import bare_network
    from kdream.weights.sources import MIXED10_NOTE

    spec = model_spec(args.model, args.input_range)
    model = bare_network(spec)  # shapes only: no weights needed
    height, width = args.size
    title = f"{spec.display_name} layers for a {width}x{height} image"
    if spec.fixed_hw is not None:
        title += f" (in {spec.fixed_hw[0]}x{spec.fixed_hw[1]} tiles)"
    table = Table(title=title)
    for column in ("layer", "kind", "channels", "size", "min side", "tends to produce"):
        table.add_column(column)
    for name, hint in spec.catalogue.items():
        extractor = FeatureExtractor.build([name], base=model, spec=spec)
        # A network of one input size sees the image as tiles of that size.
        size = _spatial_size_or_none(extractor, spec.fixed_hw or args.size)
        table.add_row(
            name,
            type(model.get_layer(name)).__name__,
            str(model.get_layer(name).output.shape[-1]),
            f"{size[0]}x{size[1]}" if size else "too small",
            str(extractor.min_side()),
            hint,
        )
    console = Console()
    console.print(table)
    console.print(
        f"Any other {spec.display_name} layer name works too. Layers need >= 2x2 positions: "
        "smaller octaves are clamped to 'min side'."
    )
    if spec.fixed_hw is not None:
        console.print(f"The network takes {spec.fixed_hw[0]}x{spec.fixed_hw[1]} inputs only: "
                      "the image is dreamed in tiles of that size.")  # fmt: skip
    if spec.name == "inceptionv3":
        console.print(f"Note: {MIXED10_NOTE}")
    return EXIT_OK


def _spatial_size_or_none(extractor, size):
    try:
        return extractor.spatial_size(size)[extractor.layer_names[0]]
    except Exception:  # below the network's minimum input size
        return None
