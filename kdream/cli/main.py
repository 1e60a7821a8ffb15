"""The ``kdream`` command: dream photos into PNGs that carry their own recipe.

    kdream dream photo.jpg --layers mixed3=1,mixed5=1.5 --steps 12 -o dream.png
    kdream dream                       # dreams the embedded sample photo
    kdream dream --recipe dream.png photo.jpg -o again.png   # same picture again
    kdream layers --size 512
    kdream weights fetch && kdream weights info
    kdream tui photo.jpg

Keras is imported only after ``--backend`` has set ``KERAS_BACKEND``. Bad input
gives one line on stderr and exit code 2; unexpected errors exit 1 (``--debug``
shows the traceback).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
import threading
import traceback
from typing import NoReturn

from kdream.cli.common import (
    BACKENDS,
    EXIT_CANCELLED,
    EXIT_OK,
    EXIT_USAGE,
    OneLineParser,
    UsageError,
    fail,
    import_keras_quietly,
    parse_input_range,
    user_error_message,
)
from kdream.config import PRECISIONS

COMMANDS = (
    "dream", "style", "zoom", "video", "inspect", "visualize", "atlas", "layers", "weights",
    "tui", "doctor", "info",
)  # fmt: skip


CHECKS_FIRST = (
    "kdream.cli.dream", "kdream.cli.visualize", "kdream.cli.atlas", "kdream.cli.inspect",
    "kdream.cli.style", "kdream.cli.motion",
)  # fmt: skip
"""Commands that check files, parameters and layer names before any framework loads."""

GC_ALLOCATIONS = 20_000
"""Net container allocations between two young-generation collections in a command."""


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` names; returns the exit code (:func:`run` is the console
    script: it also exits)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        argv.insert(0, "dream")  # `kdream photo.jpg` means `kdream dream photo.jpg`
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "backend", None):
            os.environ["KERAS_BACKEND"] = args.backend
        if not hasattr(args, "run"):
            build_parser().print_help()
            return EXIT_OK
        # weights needs no Keras; doctor first checks that the backend is installed; the
        # commands in CHECKS_FIRST check their input first and then load Keras themselves
        if args.run.__module__ not in ("kdream.cli.weights", "kdream.cli.doctor", *CHECKS_FIRST):
            import_keras_quietly()
        return args.run(args)
    except UsageError as error:
        return fail(str(error), EXIT_USAGE)
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_CANCELLED)
    except Exception as error:  # the last resort: never a traceback unless asked for
        if debug:
            traceback.print_exc()
        known = user_error_message(error)
        if known:
            return fail(known, EXIT_USAGE)
        return fail(f"internal error: {type(error).__name__}: {error} (rerun with --debug)", 1)


def run() -> NoReturn:
    """The ``kdream`` console script and ``python -m kdream``: :func:`main`, then a quick
    exit (see :func:`exit_quickly`). Call :func:`main` to get the code back instead."""
    # A command allocates hundreds of thousands of long-lived objects while a framework
    # imports and the network is built: at Python's default threshold (a collection every
    # 700 allocations) a TensorFlow dream ran ~750 collections, 0.45 s of serial start-up;
    # every 20,000 it runs ~25 (0.16 s). Cycles (torch's pytree closures) are still
    # collected, and the step collects them itself where they hold tensors.
    gc.set_threshold(GC_ALLOCATIONS, 10, 10)
    exit_quickly(main())


def exit_quickly(code: int) -> NoReturn:
    """End the process with ``code`` without tearing the interpreter down.

    Freeing a framework's modules and the network at interpreter shutdown took ~1 s of a
    one-step dream on TensorFlow (a 2-core CPU), after the output was already written. A
    process only ends here once its work is done: every output is written atomically and
    closed by then. The exit handlers still run (Ray's shutdown, logging, temporary
    folders); the standard streams are flushed. While another non-daemon thread is still
    running the usual exit waits for it, as Python does.
    """
    busy = [t for t in threading.enumerate() if t is not threading.current_thread()]
    if any(not thread.daemon for thread in busy):
        sys.exit(code)
    atexit._run_exitfuncs()  # what sys.exit would run first; os._exit skips it
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more to deliver
            pass
    os._exit(code)


def build_parser() -> argparse.ArgumentParser:
    from kdream.recipe import __version__

    parser = OneLineParser(
        prog="kdream",
        description="DeepDream with any Keras 3 image model (InceptionV3 by default).",
    )
    parser.add_argument("--version", action="version", version=f"kdream {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(title="commands", parser_class=OneLineParser)

    common = OneLineParser(add_help=False)
    common.add_argument("--backend", choices=BACKENDS, help="Keras backend (default: Keras')")
    common.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    weights = OneLineParser(add_help=False)
    weights.add_argument(
        "--weights",
        default=None,
        help="auto (default), imagenet, inception2015, random or a Keras weights file",
    )
    weights.add_argument(
        "--model",
        default=None,
        metavar="NAME|FILE.keras",
        help="inceptionv3 (default), vgg16, vgg19, resnet50, resnet50v2, inceptionresnetv2, "
        "mobilenetv2, efficientnetb0, convnexttiny, or your own .keras file (loaded safely)",
    )
    weights.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="what the network computes in (default auto: bfloat16 where measured faster at "
        "the same dream strength, i.e. TensorFlow and torch on AVX512_BF16/AMX CPUs, and "
        "GPUs; float32 elsewhere; the recipe records the one used)",
    )
    weights.add_argument(
        "--input-range",
        type=parse_input_range,
        default=None,
        metavar="LOW,HIGH",
        help="pixel range your own model was trained on (default 0,1)",
    )

    from kdream.cli import atlas, doctor, dream, inspect, layers, motion, style, tui, visualize
    from kdream.cli import weights as weights_command

    dream.add_parser(commands, [common, weights])
    style.add_parser(commands, [common, weights])
    motion.add_parsers(commands, [common, weights])
    inspect.add_parser(commands, [common, weights])
    visualize.add_parser(commands, [common, weights])
    atlas.add_parser(commands, [common, weights])
    layers.add_parser(commands, [common, weights])
    weights_command.add_parser(commands, [common])
    tui.add_parser(commands, [common, weights])
    doctor.add_parser(commands, [common])
    return parser
