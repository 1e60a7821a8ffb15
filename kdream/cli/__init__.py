"""The ``kdream`` command: :mod:`kdream.cli.main` wires one module per subcommand, and
:mod:`kdream.cli.common` holds what they share (exit codes, one-line errors, argument
parsers, the recipe's model and weights, the progress bar, Ctrl-C), and
:mod:`kdream.cli.folders` the folder, Ray and device flags several commands take. Subcommand
modules import only those two, never each other.
"""

from __future__ import annotations

from kdream.cli.common import (
    BACKENDS,
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    OneLineParser,
    UsageError,
    config_from_args,
    fail,
    import_keras_quietly,
    parse_channels,
    parse_input_range,
    parse_layers,
    positive_int,
    user_error_message,
)
from kdream.cli.main import main

__all__ = [
    "BACKENDS",
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "OneLineParser",
    "UsageError",
    "config_from_args",
    "fail",
    "import_keras_quietly",
    "main",
    "parse_channels",
    "parse_input_range",
    "parse_layers",
    "positive_int",
    "user_error_message",
]
