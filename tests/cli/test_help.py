"""Every ``--help`` names each flag's default, taken from the very objects the runs use."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from kdream.cli.main import build_parser
from kdream.config import VIDEO_RECIPE, ZOOM_RECIPE, DreamConfig
from kdream.techniques.style import StyleConfig
from kdream.techniques.visualize.settings import VisualizeSettings

RUN_DEFAULTS = {
    "dream": DreamConfig(),
    "zoom": DreamConfig().replace(**ZOOM_RECIPE),
    "video": DreamConfig().replace(**VIDEO_RECIPE),
    "style": StyleConfig(),
    "visualize": VisualizeSettings(),
}
"""Where a flag's default lives when argparse's is None (a recipe may replace it)."""
FLAGS = (argparse._HelpAction, argparse._StoreTrueAction, argparse._StoreConstAction)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


def written(value) -> str | None:
    """A default as help prints it; None for one that has no short form (e.g. 'the model's')."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return ",".join(f"{name}={weight:g}" for name, weight in value)
    if isinstance(value, tuple) and len(set(value)) == 1:  # a square size: its side
        return str(value[0])
    return None if value in ("", (), None) else str(value)


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_flag_is_described_and_names_its_default(command):
    run_defaults = RUN_DEFAULTS.get(command)
    for action in subcommands()[command]._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        flag = action.option_strings[-1]
        assert action.help, f"{command} {flag} has no description"
        if isinstance(action, FLAGS) or action.default is False:
            continue
        default = action.default
        if default is None and run_defaults is not None:
            default = getattr(run_defaults, action.dest, None)
        expected = written(default)
        if expected is not None:
            assert expected in action.help, f"{command} {flag}: {action.help!r} lacks {expected}"


def test_tui_help_lists_every_key_without_importing_textual(tmp_path):
    from kdream_tui.app import KdreamApp

    code = (
        "import sys\nfrom kdream.cli.main import main\n"
        "try:\n    main(['tui', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('textual' in sys.modules, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.stderr.strip() == "False", result.stderr
    for binding in KdreamApp.BINDINGS:
        assert f"  {binding.key}  " in result.stdout, (binding.key, result.stdout)
