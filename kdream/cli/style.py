"""``kdream style``: a content photo painted in the style of one or more images (Gatys et
al. 2015), written as a PNG that carries its recipe.

    kdream style content.jpg style.jpg -o out.png --size 512 --steps 150
    kdream style content.jpg a.jpg b.jpg --style-mix 0.7,0.3 --preserve-color -o out.png
    kdream style --recipe out.png content.jpg style.jpg -o again.png   # the same picture
"""

from __future__ import annotations

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
    parse_layers,
    positive_int,
    progress_bar,
    recipe_weights,
    warn_if_recipe_differs,
)
from kdream.config import StyleConfig
from kdream.io import images as imageio
from kdream.network.precision import INTERFACE_DEFAULT

FLAGS = {
    "content_layer": "content_layer", "style_layers": "style_layers",
    "content_weight": "content_weight", "style_weight": "style_weight",
    "tv_weight": "tv_weight", "style_mix": "style_mix", "size": "size", "steps": "steps",
    "octaves": "octaves", "octave_scale": "octave_scale", "learning_rate": "learning_rate",
    "tile_size": "tile_size", "tile_batch": "tile_batch", "init": "init", "seed": "seed",
    "preserve_color": "preserve_color",
}  # fmt: skip
"""Command-line destinations -> :class:`~kdream.techniques.style.StyleConfig` fields."""


def add_parser(commands, parents) -> None:
    parser = commands.add_parser(
        "style", parents=parents, help="style transfer: a photo in the style of other images"
    )
    parser.add_argument("content", metavar="CONTENT", help="the photo to paint")
    parser.add_argument("styles", nargs="+", metavar="STYLE", help="one or more style images")
    parser.add_argument("-o", "--output", help="output file (default: <content>_styled.png)")
    recipe = parser.add_argument_group("recipe (defaults: kdream's, or --recipe's)")
    recipe.add_argument("--recipe", metavar="PNG", help="replay the recipe of a kdream PNG")
    recipe.add_argument("--content-layer", metavar="LAYER", help="default: the model's")
    recipe.add_argument("--style-layers", type=parse_layers, metavar="LAYER[=W],...",
                        help="default: the model's")  # fmt: skip
    recipe.add_argument("--content-weight", type=float, metavar="ALPHA", help="default: 1")
    recipe.add_argument("--style-weight", type=float, metavar="BETA", help="default: 10")
    recipe.add_argument("--tv-weight", type=float, metavar="T",
                        help="total variation, 0: off (default: 10)")  # fmt: skip
    recipe.add_argument("--style-mix", type=parse_mix, metavar="W,W,...",
                        help="per style image (default: equal)")  # fmt: skip
    recipe.add_argument("--size", type=positive_int, metavar="PX",
                        help="long side of the output (default: 512)")  # fmt: skip
    recipe.add_argument("--steps", type=positive_int, help="Adam steps per octave (default: 150)")
    recipe.add_argument("--octaves", type=positive_int, help="default: 2")
    recipe.add_argument("--octave-scale", type=float, help="default: 2")
    recipe.add_argument("--learning-rate", type=float, metavar="LR", help="default: 0.02")
    recipe.add_argument("--tile-size", type=positive_int, metavar="PX", help="default: 512")
    recipe.add_argument("--tile-batch", type=positive_int, metavar="N", help="default: 2")
    recipe.add_argument("--init", choices=("content", "noise"), help="default: content")
    recipe.add_argument("--seed", type=int, help="default: 0")
    recipe.add_argument(
        "--preserve-color", action="store_true", default=None, help="keep the photo's colours"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def parse_mix(text: str) -> tuple[float, ...]:
    """``0.7,0.3`` -> (0.7, 0.3)."""
    import argparse

    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 0.7,0.3, got {text!r}") from None


def run(args) -> int:
    from kdream.io.images.references import read_reference

    recipe = imageio.read_recipe(args.recipe) if args.recipe else None
    config = _config(args, recipe)
    default = f"{Path(args.content).stem}_styled.png"
    inputs = [args.content, *args.styles]
    output = imageio.pick_output_path(args.output, default, inputs, args.force)
    content = read_reference(args.content)
    styles = [read_reference(path) for path in args.styles]
    _check_recipe_images(recipe, content, styles)
    if config.style_mix and len(config.style_mix) != len(styles):
        raise UsageError(f"--style-mix: {len(config.style_mix)} weights for {len(styles)} styles")
    model, input_range = model_choice(args, recipe)
    layers = [config.content_layer, *(name for name, _ in config.style_layers)]
    check_network_names(model, [name for name in layers if name])  # empty: the model's

    import_keras_quietly()  # every check above ran without a framework: mistakes answer fast
    from kdream.ascent.dreamer import DreamCancelled, Dreamer
    from kdream.techniques.style import StyleTransfer

    content, styles = content.reference(), [style.reference() for style in styles]
    weights = args.weights or recipe_weights(recipe)
    precision = args.precision or recipe_parts.precision_of(recipe) or INTERFACE_DEFAULT
    read = layers if all(layers) else None  # an empty name: the model's own choice
    dreamer = Dreamer(weights, model, input_range, precision, read)
    check_recipe_model(recipe, dreamer)
    warn_if_recipe_differs(recipe, dreamer, args.quiet)
    transfer = StyleTransfer(dreamer, config)
    cancel = threading.Event()
    try:
        with ctrl_c_sets(cancel), progress_bar(args.quiet, args.content) as on_progress:
            styled = transfer.run(content.pixels, styles, on_progress, cancel)
    except DreamCancelled:
        print(f"kdream: cancelled; {output} was not written", file=sys.stderr)
        return EXIT_CANCELLED
    path = imageio.save_image(output, styled, recipe=_recipe(transfer, styled, content, styles))
    print(f"wrote {path} ({styled.shape[1]}x{styled.shape[0]})")
    return EXIT_OK


def _config(args, recipe: dict | None) -> StyleConfig:
    """The recipe's (or the default) style parameters with the given flags on top."""
    base = StyleConfig()
    if recipe is not None:
        entries = recipe_parts.section(recipe, "style")
        if entries is None:
            raise UsageError(f"{args.recipe}: not a style transfer's recipe (no 'style')")
        base = StyleConfig.from_dict(entries)
    changes = {field: getattr(args, dest) for dest, field in FLAGS.items()}
    return base.replace(**{key: value for key, value in changes.items() if value is not None})


def _check_recipe_images(recipe: dict | None, content, styles) -> None:
    """A replay needs the very images of the recipe: refuse one whose sha256 differs."""
    if recipe is None:
        return
    recorded = recipe_parts.input_entry(recipe)
    expected = [recorded.get("sha256")] + [
        (entry or {}).get("sha256") if isinstance(entry, dict) else None
        for entry in recorded.get("styles") or []
    ]
    given = [content, *styles]
    if len(expected) != len(given):
        raise UsageError(f"the recipe has {len(expected) - 1} style images; {len(styles)} given")
    for role, image, sha256 in zip(["content"] + ["style"] * len(styles), given, expected):
        if image.sha256 != sha256:
            raise UsageError(
                f"{image.name} is not the recipe's {role} image: its sha256 is {image.sha256}, "
                f"the recipe's is {sha256}"
            )


def _recipe(transfer, styled, content, styles) -> dict:
    """What made the picture: provenance, parameters, objective, both images' sha256."""
    _, objective = transfer.prepare(content.pixels, styles)
    height, width = styled.shape[:2]
    return {
        **transfer.dreamer.provenance(),
        "style": transfer.config.to_dict(),
        "objective": objective.to_recipe(),
        "input": {
            "source": content.name,
            "sha256": content.sha256,
            "height": int(height),
            "width": int(width),
            "styles": [style.to_recipe() for style in styles],
        },
    }
