"""``kdream weights fetch|info``: get real pretrained weights, see what is cached."""

from __future__ import annotations

import argparse

from kdream.cli.common import EXIT_OK


def add_parser(commands, parents) -> None:
    parser = commands.add_parser("weights", parents=parents, help="fetch or inspect weights")
    actions = parser.add_subparsers(title="actions", parser_class=type(parser))
    fetch = actions.add_parser("fetch", help="download (and convert) weights into the cache")
    sources = ("inception2015", "imagenet")
    fetch.add_argument("source", nargs="?", choices=sources, help="inception2015 (default)")
    fetch.add_argument("--source", dest="source_flag", choices=sources, help=argparse.SUPPRESS)
    fetch.add_argument("--force", action="store_true", help="fetch again even if cached")
    fetch.set_defaults(run=run_fetch)
    info = actions.add_parser("info", help="what is cached, where, and what `auto` picks")
    info.set_defaults(run=run_info)


def run_fetch(args) -> int:
    from kdream.weights.resolve import fetch

    resolved = fetch(args.source or args.source_flag or "inception2015", force=args.force)
    print(f"{resolved.source}: {resolved.path}")
    print(f"sha256 {resolved.sha256}")
    return EXIT_OK


def run_info(args) -> int:
    from kdream.weights.info import cache_info

    for line in cache_info():
        print(line)
    return EXIT_OK
