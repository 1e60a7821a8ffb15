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
import os
import sys
import traceback

from kdream.config import DreamConfig

BACKENDS = ("tensorflow", "jax", "torch")
COMMANDS = (
    "dream", "style", "zoom", "video", "inspect", "visualize", "layers", "weights", "tui",
    "doctor", "info",
)  # fmt: skip
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but errors are one line (and exit code 2)."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kdream`` console script; returns the exit code."""
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
        # weights needs no Keras; doctor first checks that the backend is installed
        if args.run.__module__ not in ("kdream.commands.weights", "kdream.commands.doctor"):
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


def import_keras_quietly() -> None:
    """Import Keras with the framework's start-up chatter (TensorFlow's C++ log lines,
    which no environment variable silences) kept off the user's terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import keras
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    if keras.backend.backend() == "tensorflow":
        # tf.function's retracing advice counts every kdream function as one (a new image
        # size per octave is expected): not for the user's terminal.
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")


def fail(message: str, code: int) -> int:
    print(f"kdream: error: {_one_line(message)}", file=sys.stderr)
    return code


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def user_error_message(error: Exception) -> str | None:
    """The message of errors caused by the user's input or setup (exit code 2)."""
    from kdream.imageio import ImageInputError, OutputPathError
    from kdream.weights import WeightsError

    if isinstance(error, (ImageInputError, OutputPathError, WeightsError, ValueError)):
        return str(error)
    if isinstance(error, ModuleNotFoundError) and error.name in BACKENDS:
        return f"the {error.name} backend is not installed: pip install 'kdream[{error.name}]'"
    return None


def build_parser() -> argparse.ArgumentParser:
    from kdream import __version__

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
        choices=("float32", "bfloat16", "float16", "auto"),
        default=None,
        help="what the network computes in (default float32; auto: bfloat16 where measured "
        "faster, e.g. TensorFlow and torch on AVX512_BF16 CPUs, and GPUs)",
    )
    weights.add_argument(
        "--input-range",
        type=parse_input_range,
        default=None,
        metavar="LOW,HIGH",
        help="pixel range your own model was trained on (default 0,1)",
    )

    from kdream.commands import doctor, dream, inspect, layers, motion, style, tui, visualize
    from kdream.commands import weights as weights_command

    dream.add_parser(commands, [common, weights])
    style.add_parser(commands, [common, weights])
    motion.add_parsers(commands, [common, weights])
    inspect.add_parser(commands, [common, weights])
    visualize.add_parser(commands, [common, weights])
    layers.add_parser(commands, [common, weights])
    weights_command.add_parser(commands, [common])
    tui.add_parser(commands, [common, weights])
    doctor.add_parser(commands, [common])
    return parser


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_input_range(text: str) -> tuple[float, float]:
    """``0,1`` or ``-1,1`` or ``0,255`` -> (low, high)."""
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}") from None
    if not low < high:
        raise argparse.ArgumentTypeError(f"LOW must be below HIGH, got {text!r}")
    return low, high


def parse_layers(text: str) -> dict[str, float]:
    """``mixed3=1.0,mixed5=1.5`` (a bare name means weight 1) -> {name: weight}."""
    layers = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, weight = item.partition("=")
        name = name.strip()
        if not name or name in layers:
            problem = "a layer without a name" if not name else f"{name} twice"
            raise argparse.ArgumentTypeError(f"{problem} in {text!r} (use NAME=NUMBER,...)")
        try:
            layers[name] = float(weight) if weight else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad weight in {item!r} (use NAME=NUMBER)") from None
    if not layers:
        raise argparse.ArgumentTypeError("give at least one layer, e.g. mixed3=1.0,mixed5=1.5")
    return layers


def parse_channels(text: str) -> tuple[str, tuple[int, ...], float]:
    """``mixed4:12,40`` or ``mixed4:97=2.0`` -> (layer, channel indices, weight)."""
    layer, _, rest = text.partition(":")
    indices, _, weight = rest.partition("=")
    try:
        channels = tuple(int(i) for i in indices.split(",") if i.strip())
        value = float(weight) if weight else 1.0
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad channel spec {text!r} (use LAYER:IDX[,IDX...][=WEIGHT])"
        ) from None
    if not layer or not channels:
        raise argparse.ArgumentTypeError(f"bad channel spec {text!r} (use LAYER:IDX[,IDX...])")
    return layer.strip(), channels, value


def config_from_args(args, base: DreamConfig) -> DreamConfig:
    """The base recipe with every explicitly given flag applied on top."""
    names = {
        "layers": "layers", "octaves": "octaves", "octave_scale": "octave_scale",
        "octave_mode": "octave_mode", "steps": "steps", "step_size": "step_size",
        "tile_size": "tile_size", "tile_batch": "tile_batch", "jitter": "jitter",
        "smoothing": "smoothing", "seed": "seed", "reduction": "reduction",
    }  # fmt: skip
    changes = {field: getattr(args, dest) for dest, field in names.items()}
    changes = {field: value for field, value in changes.items() if value is not None}
    if args.channels is not None:
        changes["channels"] = args.channels
    return base.replace(**changes)
