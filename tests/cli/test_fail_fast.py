"""Mistakes are refused before any framework loads: the same one line and exit code 2, with
neither Keras nor a framework imported (``python -X importtime`` lists every import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image, PngImagePlugin

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
    "missing guide": (["photo.png", "--guide", "gone.jpg"], "error: gone.jpg: no such file"),
    "visualize: missing photo to start from": (
        ["visualize", "--layer", "mixed3", "--channel", "1", "--from", "gone.jpg"],
        "kdream: error: gone.jpg: no such file",
    ),
    "visualize: mistyped layer in an objective": (
        ["visualize", "--objective", "2 * (mixed3:1 - mixed9x)"],
        "kdream: error: layers: unknown layer(s) mixed9x; use one of mixed0",
    ),
    "visualize: channel past the layer in an objective": (
        ["visualize", "--objective", "mixed4:3@1,2 + mixed5:2000"],
        "kdream: error: channels: mixed5 has 768 channels (0..767); got 2000",
    ),
    "visualize: an objective's class of a headless network": (
        ["visualize", "--objective", "class:3"],
        "kdream: error: objective: class:K needs a model with a classification head at "
        "position 8 of 'class:3'",
    ),
    "inspect: mistyped layer": (
        ["inspect", "photo.png", "--layer", "mixed42"],
        "kdream: error: layers: unknown layer(s) mixed42; use one of mixed0",
    ),
    "inspect: mistyped layer of --filters": (
        ["inspect", "--filters", "mixed42"],
        "kdream: error: unknown layer 'mixed42'; `kdream layers` lists them",
    ),
    "inspect: output taken": (
        ["inspect", "photo.png", "--layer", "mixed2", "-o", "taken.png"],
        "kdream: error: taken.png: already exists (use --force to overwrite)",
    ),
    "style: missing style image": (
        ["style", "photo.png", "missing.jpg"],
        "kdream: error: missing.jpg: no such file",
    ),
    "style: octave scale out of range": (
        ["style", "photo.png", "photo.png", "--octave-scale", "9"],
        "kdream: error: octave_scale: must be in [1.01, 4.0] (got 9.0)",
    ),
    "style: mistyped style layer of vgg16": (
        ["style", "photo.png", "photo.png", "--model", "vgg16", "--style-layers", "mixed3"],
        "kdream: error: layers: unknown layer(s) mixed3; use one of block1_conv2",
    ),
    "style: more weights than styles": (
        ["style", "photo.png", "photo.png", "--style-mix", "0.5,0.5"],
        "kdream: error: --style-mix: 2 weights for 1 styles",
    ),
    "zoom: negative steps": (
        ["zoom", "photo.png", "--steps", "-1"],
        "kdream: error: steps: must be in [1, 10000] (got -1)",
    ),
    "zoom: zoom out of range": (
        ["zoom", "photo.png", "--zoom", "3"],
        "kdream: error: zoom: must be in [0.5, 2.0] (got 3.0)",
    ),
    "zoom: channel past the layer": (
        ["zoom", "photo.png", "--channels", "mixed4:900"],
        "kdream: error: channels: mixed4 has 768 channels (0..767); got 900",
    ),
    "zoom: output taken": (
        ["zoom", "photo.png", "-o", "taken.mp4"],
        "kdream: error: taken.mp4 exists: --force replaces it",
    ),
    "video: missing input": (
        ["video", "missing.mp4"],
        "kdream: error: missing.mp4: no such file or folder",
    ),
    "video: blend out of range": (
        ["video", "frames", "--blend", "2"],
        "kdream: error: blend: must be in [0.0, 1.0] (got 2.0)",
    ),
    "video: mistyped layer": (
        ["video", "frames", "--layers", "mixed42=1"],
        "kdream: error: layers: unknown layer(s) mixed42; use one of mixed0",
    ),
}
"""Arguments (``kdream dream`` unless they start with another command) -> the error line."""

COMMANDS = ("visualize", "inspect", "style", "zoom", "video")


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_mistake_is_refused_before_any_framework_loads(mistake, tmp_path):
    args, message = MISTAKES[mistake]
    write_photo(tmp_path / "photo.png")
    (tmp_path / "frames").mkdir()
    write_photo(tmp_path / "frames" / "0001.png", size=(48, 64))
    for taken in ("taken.png", "taken.mp4"):
        (tmp_path / taken).write_bytes(b"taken")
    before = sorted(tmp_path.rglob("*"))
    result = subprocess_with_imports(args, tmp_path)
    lines = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, no work folder left
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}  # fmt: skip
    assert not {name for name in imported if name.split(".")[0] in FRAMEWORKS}


RECIPE_ARGS = {
    # command: its arguments with --recipe (a PNG's recipe; zoom and video: a folder's)
    "dream": ["photo.png", "--recipe", "bad.png"],
    "style": ["style", "photo.png", "photo.png", "--recipe", "bad.png"],
    "visualize": ["visualize", "--recipe", "bad.png"],
    "inspect": ["inspect", "photo.png", "--recipe", "bad.png"],
    "zoom": ["zoom", "photo.png", "--recipe", "bad/"],
    "video": ["video", "frames", "--recipe", "bad/"],
}


@pytest.mark.parametrize("precision", [5, "float8"])
@pytest.mark.parametrize("command", RECIPE_ARGS)
def test_a_recipes_unknown_precision_is_refused_before_any_framework_loads(
    command, precision, tmp_path
):
    recipe = json.dumps({"precision": precision})
    info = PngImagePlugin.PngInfo()
    info.add_text("kdream", recipe)
    write_photo(tmp_path / "photo.png")
    Image.open(tmp_path / "photo.png").save(tmp_path / "bad.png", pnginfo=info)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "recipe.json").write_text(recipe)
    (tmp_path / "frames").mkdir()
    write_photo(tmp_path / "frames" / "0001.png", size=(48, 64))
    before = sorted(tmp_path.rglob("*"))
    result = subprocess_with_imports(RECIPE_ARGS[command], tmp_path)
    lines = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    message = (
        "kdream recipe's 'precision' must be one of float32, bfloat16, float16, auto "
        f"(got {precision!r})"
    )
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr
    assert sorted(tmp_path.rglob("*")) == before
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}  # fmt: skip
    assert not {name for name in imported if name.split(".")[0] in FRAMEWORKS}


def subprocess_with_imports(args, cwd):
    """``python -X importtime -m kdream [dream] ARGS``, as :func:`tests.cli.test_cli.kdream` runs
    the command otherwise."""
    env = dict(os.environ)
    env.setdefault("KERAS_BACKEND", "tensorflow")
    args = args if args[0] in COMMANDS else ["dream", *args]
    command = [sys.executable, "-X", "importtime", "-m", "kdream", *args]
    return subprocess.run(
        [*command, "--weights", "random"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
