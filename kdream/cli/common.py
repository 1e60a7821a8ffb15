"""What the ``kdream`` subcommands share: exit codes and one-line errors, argument parsers,
the model and weights a recipe asks for, the progress bar and Ctrl-C.

:mod:`kdream.cli` wires the commands; the commands import this module, never the CLI or
each other, so nothing imports in a circle.

Example:
    >>> parse_layers("mixed3=1,mixed5=1.5")
    {'mixed3': 1.0, 'mixed5': 1.5}
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from kdream import recipe as recipe_parts
from kdream.config import OCTAVE_MODES, REDUCTIONS, DreamConfig
from kdream.io import images as imageio
from kdream.pixels import fit_max_side as fit_max_side  # the commands import it from here

BACKENDS = ("tensorflow", "jax", "torch")


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but errors are one line (and exit code 2)."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def import_keras_quietly() -> None:
    """Import Keras without the framework's start-up chatter (see
    :func:`kdream.backend.common.import_keras_quietly`)."""
    from kdream.backend.common import import_keras_quietly as import_quietly

    import_quietly()
    import keras

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
    from kdream.io.images.messages import ImageInputError, OutputPathError
    from kdream.weights.sources import WeightsError

    if isinstance(error, (ImageInputError, OutputPathError, WeightsError, ValueError)):
        return str(error)
    if isinstance(error, ModuleNotFoundError) and error.name in BACKENDS:
        return f"the {error.name} backend is not installed: pip install 'kdream[{error.name}]'"
    return None


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
        "normalize": "normalize",
    }  # fmt: skip
    changes = {field: getattr(args, dest) for dest, field in names.items()}
    changes = {field: value for field, value in changes.items() if value is not None}
    if args.channels is not None:
        changes["channels"] = args.channels
    return base.replace(**changes)


def recipe_weights(recipe: dict | None) -> str:
    """The weights a replay of ``recipe`` uses (``auto`` without one)."""
    try:
        return recipe_parts.replay_weights(recipe)
    except recipe_parts.RecipeError as error:
        raise UsageError(str(error)) from None


def recipe_config(recipe: dict | None) -> DreamConfig:
    """The recipe's dream parameters (the defaults without a recipe)."""
    if recipe is None:
        return DreamConfig()
    try:
        return recipe_parts.dream_config(recipe)
    except recipe_parts.RecipeError as error:
        raise UsageError(str(error)) from None


def model_choice(args, recipe: dict | None) -> tuple[str | None, tuple | None]:
    """``--model``/``--input-range``, else the recipe's model (an own model's file is looked
    for beside the recipe's PNG, then here)."""
    entry = recipe_parts.model_entry(recipe)
    recorded_range = tuple(entry["input_range"]) if "input_range" in entry else None
    input_range = args.input_range or recorded_range
    if args.model:
        return args.model, input_range
    if "file" in entry:
        name = Path(str(entry["file"])).name
        for folder in (Path(args.recipe).parent, Path.cwd()):
            if (folder / name).is_file():
                return str(folder / name), input_range
        raise UsageError(
            f"the recipe was dreamed with the model file {name} (sha256 {entry.get('sha256')}): "
            "pass it with --model PATH"
        )
    return entry.get("name"), input_range


def recorded_input(recipe: dict | None) -> str | None:
    """A replayed recipe's picture when no INPUT is given: None for the sample (or no
    recipe), else its file here (a recipe names a file, never a path)."""
    source = recipe_parts.input_entry(recipe).get("source")
    if source is None or source == imageio.SAMPLE_SOURCE:
        return None
    if not Path(str(source)).is_file():
        raise UsageError(f"the recipe's input {source!r} is not here: give INPUT")
    return str(source)


def check_network_names(model: str | None, layers=(), channels=()) -> None:
    """Layer names and channel indices of a built-in network, checked against its catalogue
    before any framework loads (an own .keras file's are checked once it is loaded)."""
    from kdream import catalogue

    family = catalogue.family_of(model)
    if family is None:
        return
    try:
        names = dict.fromkeys([*layers, *(entry[0] for entry in channels)])
        catalogue.check_layer_names(family, list(names))
        for layer, indices, *_ in channels:
            catalogue.check_channel_indices(family, layer, indices)
    except ValueError as error:
        raise UsageError(str(error)) from None


def check_recipe_model(recipe: dict | None, dreamer) -> None:
    """A replay must use the very model file the recipe names: refuse another one."""
    expected = recipe_parts.model_entry(recipe).get("sha256")
    if expected and dreamer.spec.sha256 and expected != dreamer.spec.sha256:
        raise UsageError(
            f"{dreamer.spec.name} is not the model file of the recipe: its sha256 is "
            f"{dreamer.spec.sha256}, the recipe's is {expected}"
        )


def notify(quiet: bool, *lines: str) -> None:
    for line in lines if not quiet else ():
        print(f"kdream: note: {line}", file=sys.stderr)


@contextmanager
def progress_bar(quiet: bool, source: str):
    """A rich progress bar (octave, step, loss, ETA) fed by the run's reports."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if quiet or not console.is_terminal:  # a log file gets no bar (nor its blank line)
        yield None
        return

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("octave {task.fields[octave]} step {task.fields[step]}"),
        TextColumn("loss {task.fields[loss]}"),
        TimeRemainingColumn(),
    )
    name = Path(source).name if source != imageio.SAMPLE_SOURCE else "sample"
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(name, total=1.0, octave="-", step="-", loss="-")

        def on_progress(report):
            bar.update(
                task,
                completed=report.fraction,
                octave=f"{report.octave}/{report.octaves}",
                step=f"{report.step}/{report.steps}",
                loss=f"{report.loss:.4g}",
            )

        yield on_progress


@contextmanager
def ctrl_c_sets(cancel: threading.Event):
    """First Ctrl-C: stop after the current step (nothing is written). Second: abort now."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nkdream: stopping after this step (Ctrl-C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def warn_if_recipe_differs(recipe, dreamer, quiet) -> None:
    if not recipe:
        return
    made_on = recipe_parts.backend_of(recipe)
    if made_on not in (None, dreamer.backend):
        notify(quiet, f"recipe made on {made_on}, running on {dreamer.backend}: "
                "the picture will be close, not bit-identical")  # fmt: skip
    sha = recipe_parts.weights_entry(recipe).get("sha256")
    if sha and dreamer.weights.sha256 and sha != dreamer.weights.sha256:
        notify(quiet, "the recipe was made with other weights (sha256 differs)")


def add_recipe_arguments(parser, title: str, base: DreamConfig | None = None, max_side=None):
    """The dream's recipe flags (also taken by ``zoom`` and ``video``, whose per-frame
    defaults are ``base`` and ``max_side``); every help line names the flag's default.
    Returns the group."""
    base = base or DreamConfig()
    layers = ",".join(f"{name}={weight:g}" for name, weight in base.layers)
    recipe = parser.add_argument_group(title)
    recipe.add_argument("--layers", type=parse_layers, help=f"default: {layers}")
    recipe.add_argument(
        "--channels", type=parse_channels, action="append", metavar="LAYER:IDX[,IDX][=W]",
        help="channel terms added to the layers' (default: none)",
    )  # fmt: skip
    recipe.add_argument("--reduction", choices=REDUCTIONS, help=f"default: {base.reduction}")
    recipe.add_argument("--octaves", type=int, help=f"default: {base.octaves}")
    recipe.add_argument("--octave-scale", type=float, help=f"default: {base.octave_scale:g}")
    recipe.add_argument("--octave-mode", choices=OCTAVE_MODES, help=f"default: {base.octave_mode}")
    recipe.add_argument(
        "--steps", type=int, help=f"ascent steps per octave (default: {base.steps})"
    )
    recipe.add_argument("--step-size", type=float, help=f"default: {base.step_size:g}")
    recipe.add_argument("--tile-size", type=int, metavar="PX", help=f"default: {base.tile_size}")
    recipe.add_argument("--tile-batch", type=int, metavar="N",
                        help=f"tiles per network pass (default: {base.tile_batch})")  # fmt: skip
    recipe.add_argument("--jitter", type=int, metavar="PX",
                        help=f"largest random roll per step (default: {base.jitter})")  # fmt: skip
    recipe.add_argument("--smoothing", type=float, metavar="SIGMA",
                        help=f"0 turns it off (default: {base.smoothing:g})")  # fmt: skip
    recipe.add_argument(
        "--normalize",
        metavar="MODE",
        help=f"mean or lap[:LEVELS] (LEVELS 1..8, lap = lap:4), the 2016 notebook's "
        f"Laplacian-pyramid normalisation (default: {base.normalize})",
    )
    recipe.add_argument("--seed", type=int, help=f"default: {base.seed}")
    recipe.add_argument("--max-side", type=positive_int, metavar="PX",
                        help=f"downsize inputs (default: {max_side or 'no limit'})")  # fmt: skip
    return recipe
