"""``kdream tui``: the terminal UI (needs the ``tui`` extra)."""

from __future__ import annotations

import argparse

from kdream.cli.common import UsageError
from kdream.network.precision import INTERFACE_DEFAULT
from kdream_tui.keys import keys_help


def add_parser(commands, parents) -> None:
    parser = commands.add_parser(
        "tui",
        parents=parents,
        help="pick layers and dream, live",
        epilog=keys_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", nargs="?", metavar="INPUT", help="image (default: the sample)")
    parser.add_argument("-o", "--output", help="where `s` saves (default: <input>_dream.png)")
    parser.set_defaults(run=run)


def run(args) -> int:
    try:
        from kdream_tui.app import run_app
    except ModuleNotFoundError as error:
        raise UsageError(f"the TUI needs {error.name}: pip install 'kdream[tui]'") from None
    return run_app(
        input_path=args.input,
        output=args.output,
        weights=args.weights or "auto",
        model=args.model,
        input_range=args.input_range,
        precision=args.precision or INTERFACE_DEFAULT,
    )
