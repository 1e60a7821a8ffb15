"""``kdream layers``: what one can dream with, and how big each layer is for an image."""

from __future__ import annotations

import argparse

from kdream.cli import EXIT_OK


def parse_size(text: str) -> tuple[int, int]:
    """``512`` or ``400x600`` (height x width) -> (h, w)."""
    height, _, width = text.lower().partition("x")
    try:
        size = (int(height), int(width or height))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PX or HxW, got {text!r}") from None
    if min(size) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return size


def add_parser(commands, parents) -> None:
    parser = commands.add_parser(
        "layers", parents=parents, help="the layers to dream with, their channels and sizes"
    )
    parser.add_argument(
        "--size", type=parse_size, default=(512, 512), metavar="PX|HxW",
        help="image size for the spatial extents (default 512)",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from kdream.models import CATALOGUE, LAYER_HINTS, FeatureExtractor, bare_inception
    from kdream.weights import MIXED10_NOTE

    model = bare_inception()  # shapes only: no weights needed
    extractors = {name: FeatureExtractor.build([name], base=model) for name in CATALOGUE}
    height, width = args.size
    table = Table(title=f"InceptionV3 layers for a {height}x{width} image")
    for column in ("layer", "channels", "size", "min side", "tends to produce"):
        table.add_column(column)
    for name, extractor in extractors.items():
        size = _spatial_size_or_none(extractor, args.size)
        table.add_row(
            name,
            str(model.get_layer(name).output.shape[-1]),
            f"{size[0]}x{size[1]}" if size else "too small",
            str(extractor.min_side()),
            LAYER_HINTS[name],
        )
    console = Console()
    console.print(table)
    console.print(
        "Any other InceptionV3 layer name works too (e.g. conv2d_40). "
        "Layers need >= 2x2 positions: smaller octaves are clamped to 'min side'."
    )
    console.print(f"Note: {MIXED10_NOTE}")
    return EXIT_OK


def _spatial_size_or_none(extractor, size):
    try:
        return extractor.spatial_size(size)[extractor.layer_names[0]]
    except Exception:  # below the network's minimum input size
        return None
