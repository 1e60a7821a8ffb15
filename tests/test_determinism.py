"""One recipe, one picture: on a backend, the same recipe dreams the same bytes whatever the
process did before (a weights fetch, other Keras models), in the TUI or the CLI, and with
another dream running beside it on the same cores.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from PIL import Image

import kdream
from tests.cli.test_cli import kdream as kdream_cli
from tests.cli.test_cli import write_photo

RECIPE = {"octaves": 2, "steps": 3, "seed": 3}
CLI_RECIPE = ["--octaves", "2", "--steps", "3", "--seed", "3", "--quiet"]
SIZE_HW = (200, 240)

# Dreams one fixed image with random weights and writes the pixels to stdout; "dirty"
# builds another InceptionV3 first (as a weights fetch does), "dirtier" a small model too.
PROBE = """
import sys
import numpy as np
import keras

if sys.argv[1] in ("dirty", "dirtier"):
    keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(None, None, 3))
if sys.argv[1] == "dirtier":
    keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.Dense(2)])
import kdream

image = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
out = kdream.dream(image, weights="random", **RECIPE)
sys.stdout.buffer.write(out.tobytes())
""".replace("HEIGHT, WIDTH", ", ".join(map(str, SIZE_HW))).replace("RECIPE", repr(RECIPE))


def probe_image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (*SIZE_HW, 3), dtype=np.uint8)


def start_probe(kind: str, cwd) -> subprocess.Popen:
    # Not from the source tree: `python -c` puts the working directory first on sys.path.
    return subprocess.Popen(
        [sys.executable, "-c", PROBE, kind],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def probe_pixels(process: subprocess.Popen) -> np.ndarray:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err.decode()[-2000:]
    return np.frombuffer(out, np.uint8).reshape(*SIZE_HW, 3)


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_a_process_that_built_other_models_dreams_like_a_clean_one(tmp_path):
    clean_pixels = probe_pixels(start_probe("clean", tmp_path))
    assert not np.array_equal(clean_pixels, probe_image())  # it did dream
    for kind in ("dirty", "dirtier"):
        np.testing.assert_array_equal(probe_pixels(start_probe(kind, tmp_path)), clean_pixels, kind)
    # This test process has built many models by now (other tests, fixtures).
    here = kdream.dream(probe_image(), weights="random", **RECIPE)
    np.testing.assert_array_equal(here, clean_pixels)


def test_two_dreams_at_once_on_the_same_cores_give_the_solo_picture(tmp_path):
    solo = probe_pixels(start_probe("clean", tmp_path))
    together = [start_probe("clean", tmp_path), start_probe("dirtier", tmp_path)]
    for process in together:
        np.testing.assert_array_equal(probe_pixels(process), solo)


def test_the_first_run_after_a_fresh_fetch_equals_the_second(tmp_path):
    """The first run fetches and converts the 2015 weights (building an InceptionV3 in
    that process) into an empty cache; the second finds them cached."""
    photo = write_photo(tmp_path / "photo.png", size=SIZE_HW)
    env = {"KDREAM_HOME": str(tmp_path / "empty-cache")}
    args = ["dream", photo, "--weights", "inception2015", *CLI_RECIPE]
    first = kdream_cli(*args, "-o", "first.png", cwd=tmp_path, timeout=900, **env)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "empty-cache" / "manifest.json").is_file()  # the fetch happened there
    second = kdream_cli(*args, "-o", "second.png", cwd=tmp_path, timeout=900, **env)
    assert second.returncode == 0, second.stderr
    np.testing.assert_array_equal(pixels(tmp_path / "second.png"), pixels(tmp_path / "first.png"))
    assert not np.array_equal(pixels(tmp_path / "first.png"), pixels(photo))


def test_a_tui_saved_png_replays_with_the_cli(dreamer, tmp_path):
    from kdream.io.images.saving import save_image
    from kdream_tui.app import KdreamApp
    from kdream_tui.widgets import LayerList
    from tests.kdream_tui.test_app import (
        TINY_STEPS,
        finish_workers,
        ready,
        run,
        tiny_image,
        type_into,
    )

    photo, saved = tmp_path / "tiny.png", tmp_path / "tui.png"
    save_image(photo, tiny_image())

    async def scenario():
        app = KdreamApp(str(photo), output=str(saved), weights="random", dreamer=dreamer)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            for name, text in {**TINY_STEPS, "seed": "11"}.items():
                await type_into(pilot, name, text)
            app.query_one(LayerList).focus()  # keys go to the app, not a text field
            await pilot.press("d")
            await finish_workers(pilot)
            assert app.dream_worker.result == "done"
            await pilot.press("s")
            await finish_workers(pilot)

    run(scenario())
    replay = kdream_cli("dream", photo, "--recipe", saved, "-o", "cli.png", "--quiet", cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    np.testing.assert_array_equal(pixels(tmp_path / "cli.png"), pixels(saved))
    assert not np.array_equal(pixels(saved), tiny_image())
