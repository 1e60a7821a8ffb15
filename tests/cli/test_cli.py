"""The ``kdream`` command, run as a user runs it: in a subprocess, on this backend."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kdream.io.images.metadata import read_recipe

FAST = ["--weights", "random", "--octaves", "1", "--steps", "2", "--tile-size", "96", "--quiet"]


def kdream(*args, cwd, timeout=600, **env_overrides):
    """``python -m kdream ARGS`` in ``cwd`` (never the checkout: ``-m`` would import the
    source tree before the installed package), with some environment variables changed."""
    env = dict(os.environ, **env_overrides)
    env.setdefault("KERAS_BACKEND", "tensorflow")
    return subprocess.run(
        [sys.executable, "-m", "kdream", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_photo(path: Path, size=(96, 112), seed=0, mode="RGB") -> Path:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[0], 0 : size[1]]
    base = np.stack([np.sin(x / 9 + seed), np.cos(y / 7), np.sin((x + y) / 11)], -1)
    pixels = ((base + 1) * 110 + rng.integers(0, 30, base.shape)).astype(np.uint8)
    Image.fromarray(pixels).convert(mode).save(path)
    return path


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge image (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, a phrase the error line must contain)."""
    folder.mkdir()
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    text = folder / "notes.png"
    text.write_text("this is not an image\n")
    good = write_photo(folder / "source.png", size=(200, 200))
    truncated = folder / "truncated.png"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    bomb = folder / "bomb.png"
    bomb.write_bytes(png_declaring(200_000, 200_000))
    empty_dir = folder / "nothing_here"
    empty_dir.mkdir()
    return {
        "missing": (folder / "missing.jpg", "no such file"),
        "empty": (empty, "empty"),
        "not an image": (text, "not an image"),
        "truncated": (truncated, "truncated"),
        "bomb": (bomb, "too large"),
        "empty directory": (empty_dir, "no images"),
    }


@pytest.mark.parametrize(
    "kind", ["missing", "empty", "not an image", "truncated", "bomb", "empty directory"]
)
def test_bad_input_gives_one_line_and_exit_code_2(tmp_path, kind):
    path, phrase = bad_inputs(tmp_path / "in")[kind]
    result = kdream("dream", path, *FAST, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert path.name in lines[0] and phrase in lines[0].lower()
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.png")), "an output file was left behind"


def test_bad_parameter_and_bad_flag_are_one_line_errors(tmp_path):
    photo = write_photo(tmp_path / "photo.png")
    for args, phrase in (
        (["--steps", "0"], "steps: must be in [1, 10000]"),
        (["--octave-mode", "zoom"], "invalid choice"),
        (["--layers", "mixed3=abc"], "bad weight"),
        (["--layers", "mixed42=1"], "unknown layer"),
        (["--weights", str(tmp_path / "nope.weights.h5")], "nope.weights.h5"),
    ):
        result = kdream("dream", photo, "--quiet", "--weights", "random", *args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert phrase in result.stderr, (args, result.stderr)
    assert not (tmp_path / "photo_dream.png").exists()


def test_dream_writes_a_png_with_its_recipe_and_the_recipe_replays_bit_for_bit(tmp_path):
    photo = write_photo(tmp_path / "photo.png")
    first = kdream("dream", photo, *FAST, "--seed", "4", "--layers", "mixed2=1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    output = tmp_path / "photo_dream.png"
    assert f"wrote {output.name}" in first.stdout or str(output) in first.stdout
    recipe = read_recipe(output)
    assert recipe["config"]["layers"] == {"mixed2": 1.0} and recipe["config"]["seed"] == 4
    assert recipe["backend"] == os.environ.get("KERAS_BACKEND", "tensorflow")
    assert recipe["weights"]["source"] == "random"
    assert recipe["input"] == {"height": 96, "width": 112, "source": "photo.png"}

    again = kdream("dream", photo, "--recipe", output, "-o", "again.png", "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    dreamed = np.asarray(Image.open(output))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "again.png")), dreamed)
    assert not np.array_equal(dreamed, np.asarray(Image.open(photo)))

    # Explicit flags override the recipe.
    other = kdream("dream", photo, "--recipe", output, "--seed", "5", "-o", "o.png", "--quiet",
                   cwd=tmp_path)  # fmt: skip
    assert other.returncode == 0, other.stderr
    assert read_recipe(tmp_path / "o.png")["config"]["seed"] == 5


def test_batch_skips_a_bad_file_and_reports_it(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    write_photo(folder / "a.png", seed=1)
    write_photo(folder / "b.png", seed=2, mode="L")
    (folder / "c.png").write_text("broken")
    out = tmp_path / "out"
    out.mkdir()
    result = kdream("dream", folder, "-o", out, *FAST, cwd=tmp_path)
    assert result.returncode == 2
    assert "c.png" in result.stderr and "not an image" in result.stderr
    assert "dreamed 2 of 3 images; 1 failed" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["a_dream.png", "b_dream.png"]


def test_refuses_to_overwrite_outputs_and_never_touches_the_input(tmp_path):
    photo = write_photo(tmp_path / "photo.png")
    original = photo.read_bytes()
    existing = tmp_path / "photo_dream.png"
    existing.write_bytes(b"keep me")
    result = kdream("dream", photo, "-o", existing, *FAST, cwd=tmp_path)
    assert result.returncode == 2 and "already exists" in result.stderr
    assert existing.read_bytes() == b"keep me"
    result = kdream("dream", photo, *FAST, cwd=tmp_path)  # kdream's own name: the next free one
    assert result.returncode == 0 and "wrote photo_dream-2.png" in result.stdout, result.stderr
    assert existing.read_bytes() == b"keep me"
    result = kdream("dream", photo, "-o", photo, "--force", *FAST, cwd=tmp_path)
    assert result.returncode == 2 and "input" in result.stderr
    assert photo.read_bytes() == original


def test_alpha_is_kept(tmp_path):
    rgba = write_photo(tmp_path / "plain.png")
    image = Image.open(rgba).convert("RGBA")
    alpha = np.zeros((96, 112), np.uint8)
    alpha[20:70, 30:90] = 255
    image.putalpha(Image.fromarray(alpha))
    image.save(tmp_path / "cutout.png")
    result = kdream("dream", "cutout.png", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = Image.open(tmp_path / "cutout_dream.png")
    assert out.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(out)[..., 3], alpha)


def test_layers_lists_the_catalogue_with_channels_and_sizes(tmp_path):
    result = kdream("layers", "--size", "299", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "768" in rows["mixed5"] and "17x17" in rows["mixed5"]
    assert "2048" in rows["mixed10"] and "8x8" in rows["mixed10"]
    assert all(f"mixed{i}" in rows for i in range(11))


def test_weights_info_and_unknown_source(tmp_path):
    info = kdream("weights", "info", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "auto" in info.stdout
    bad = kdream("dream", "--weights", "alexnet", "--quiet", cwd=tmp_path)
    assert bad.returncode == 2 and "alexnet" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_ctrl_c_stops_and_leaves_no_file(tmp_path):
    import signal
    import time

    photo = write_photo(tmp_path / "photo.png")
    env = dict(os.environ)
    env.setdefault("KERAS_BACKEND", "tensorflow")
    process = subprocess.Popen(
        [sys.executable, "-m", "kdream", "dream", str(photo), "--weights", "random",
         "--steps", "10000", "--octaves", "1", "--quiet"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # as in a terminal: a runner started in the background may hand down SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    time.sleep(12)  # model building or dreaming: either way Ctrl-C must leave nothing behind
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "cancelled" in stderr or "interrupted" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_jpeg_output_by_extension_carries_the_recipe(tmp_path):
    photo = write_photo(tmp_path / "photo.png")
    result = kdream("dream", photo, "-o", "out.jpg", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out.jpg").format == "JPEG"
    assert read_recipe(tmp_path / "out.jpg")["config"]["steps"] == 2


def test_layer_lists_refuse_empty_and_repeated_names():
    import argparse

    from kdream.cli.common import parse_layers

    for text, problem in (("=1", "without a name"), ("mixed3=1,mixed3=2", "mixed3 twice")):
        with pytest.raises(argparse.ArgumentTypeError, match=problem):
            parse_layers(text)


def test_weights_fetch_takes_the_source_as_its_hints_write_it():
    from kdream.cli.main import build_parser

    assert build_parser().parse_args(["weights", "fetch", "imagenet"]).source == "imagenet"
    assert build_parser().parse_args(["weights", "fetch"]).source is None  # inception2015


def test_recipe_replay_keeps_an_api_objective(tmp_path):
    from kdream import DreamConfig, Dreamer, channel, layer
    from kdream.io.images.saving import save_image

    photo = write_photo(tmp_path / "photo.png")
    pixels = np.asarray(Image.open(photo))
    dreamer = Dreamer(weights="random")
    config = DreamConfig(octaves=1, steps=2, tile_size=96, seed=7)
    objective = layer("mixed3") - 0.5 * channel("mixed4", [97])
    dreamed = dreamer.dream(pixels, config, objective=objective)
    recipe = dreamer.recipe(config, pixels.shape[:2], objective)
    recipe["input"]["source"] = "photo.png"
    save_image(tmp_path / "api.png", dreamed, recipe=recipe)
    again = kdream("dream", photo, "--recipe", "api.png", "-o", "cli.png", "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "cli.png")), dreamed)
    assert (
        read_recipe(tmp_path / "cli.png")["objective"]
        == read_recipe(tmp_path / "api.png")["objective"]
    )


def test_output_folder_is_made_for_several_inputs(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(2):
        write_photo(folder / f"p{index}.png", seed=index)
    result = kdream("dream", folder, "-o", "dreams/", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "dreams").iterdir()) == [
        "p0_dream.png", "p1_dream.png",
    ]  # fmt: skip


def test_weights_of_another_network_are_one_line(tmp_path):
    import keras

    inputs = keras.Input((None, None, 3))
    small = keras.Model(inputs, keras.layers.Conv2D(4, 3, name="c")(inputs))
    small.save_weights(str(tmp_path / "small.weights.h5"))
    photo = write_photo(tmp_path / "photo.png")
    result = kdream("dream", photo, "--weights", "small.weights.h5", "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "do not fit" in lines[0], result.stderr
