"""``python -m kdream_tui [INPUT] [-o OUTPUT] [--weights SOURCE]``: the same as ``kdream tui``."""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kdream_tui",
        description="DeepDream in the terminal. The Keras backend comes from KERAS_BACKEND "
        "(changing it needs a restart).",
    )
    parser.add_argument("input", nargs="?", help="image to dream (default: the coffee sample)")
    parser.add_argument(
        "-o", "--output", help="where s saves (default: <input stem>_dream.png; never overwrites)"
    )
    parser.add_argument(
        "--weights",
        default="auto",
        help="auto, imagenet, inception2015, random, or a Keras weights file (default: auto)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="inceptionv3 (default), another keras.applications family or your own .keras file",
    )
    parser.add_argument(
        "--input-range", default=None, metavar="LOW,HIGH",
        help="pixel range your own model was trained on (default 0,1)",
    )  # fmt: skip
    parser.add_argument(
        "--precision", default="auto",
        choices=("float32", "bfloat16", "float16", "auto"),
        help="what the network computes in (default auto: bfloat16 where faster)",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from .app import run_app  # after parsing, so --help works without Textual installed

    input_range = None
    if args.input_range:
        from kdream.cli.common import parse_input_range

        try:
            input_range = parse_input_range(args.input_range)
        except argparse.ArgumentTypeError as error:
            print(f"kdream: error: --input-range: {error}", file=sys.stderr)
            return 2
    return run_app(
        args.input,
        args.output,
        args.weights,
        model=args.model,
        input_range=input_range,
        precision=args.precision,
    )


if __name__ == "__main__":
    sys.exit(main())
