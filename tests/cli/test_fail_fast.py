"""Mistakes are refused before any framework loads: the same one line and exit code 2, with
neither Keras nor a framework imported (``python -X importtime`` lists every import)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cli.test_cli import write_photo

FRAMEWORKS = ("keras", "tensorflow", "jax", "torch")

MISTAKES = {
    "missing file": (["missing.jpg"], "kdream: error: missing.jpg: no such file"),
    "negative steps": (["photo.png", "--steps", "-1"], "steps: must be in [1, 10000] (got -1)"),
    "mistyped layer": (["photo.png", "--layers", "mixed42=1"], "unknown layer(s) mixed42; use"),
    "channel past the layer": (
        ["photo.png", "--channels", "mixed4:97,900"],
        "kdream: error: channels: mixed4 has 768 channels (0..767); got 900",
    ),
    "mistyped layer of vgg19": (
        ["photo.png", "--model", "vgg19", "--layers", "mixed4=1"],
        "unknown layer(s) mixed4; use one of block1_conv2",
    ),
    "visualize: mistyped layer": (
        ["visualize", "--layer", "mixed42", "--channel", "1"],
        "kdream: error: layers: unknown layer(s) mixed42; use one of mixed0",
    ),
    "visualize: channel past the layer": (
        ["visualize", "--layer", "mixed4", "--channel", "900"],
        "kdream: error: channels: mixed4 has 768 channels (0..767); got 900",
    ),
    "visualize: a class of a headless network": (
        ["visualize", "--class", "3"],
        "kdream: error: --class: InceptionV3 (as kdream loads it) has no classification head",
    ),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_mistake_is_refused_before_any_framework_loads(mistake, tmp_path):
    args, message = MISTAKES[mistake]
    write_photo(tmp_path / "photo.png")
    result = subprocess_with_imports(args, tmp_path)
    lines = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}  # fmt: skip
    assert not {name for name in imported if name.split(".")[0] in FRAMEWORKS}


def subprocess_with_imports(args, cwd):
    """``python -X importtime -m kdream dream ARGS``, as :func:`tests.cli.test_cli.kdream` runs
    the command otherwise."""
    env = dict(os.environ)
    env.setdefault("KERAS_BACKEND", "tensorflow")
    args = args if args[0] == "visualize" else ["dream", *args]
    command = [sys.executable, "-X", "importtime", "-m", "kdream", *args]
    return subprocess.run(
        [*command, "--weights", "random"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
