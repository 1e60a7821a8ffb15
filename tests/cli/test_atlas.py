"""``kdream atlas`` as a user runs it: InceptionV3 with its 2015 weights, a keras.applications
family and a user's .keras file, on real photos; the site checked in a real headless
browser (Debian's chromium, driven by Playwright): no console errors, every link and
picture resolves, the grid sorts, the layer page is not blank; any picture replays
byte for byte; bad input is one line and exit 2."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import keras
import numpy as np
import pytest
from PIL import Image

from kdream.io.images.metadata import read_recipe
from tests.cli.test_cli import kdream
from tests.data.make_natural_spectrum import photo_paths
from tests.models.test_models import in_process_cli

FAST = ["--steps", "3", "--quiet"]


@pytest.fixture
def cli(monkeypatch, capfd):
    return in_process_cli(monkeypatch, capfd)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Three of scikit-image's photos, at most 160 px (small: the tests stay fast)."""
    folder = tmp_path_factory.mktemp("photos")
    for path in photo_paths()[:3]:
        image = Image.open(path).convert("RGB")
        image.thumbnail((160, 160))
        image.save(folder / f"{path.stem}.png")
    return folder


@pytest.fixture(scope="module")
def inception_site(photos, tmp_path_factory) -> Path:
    """A real atlas: InceptionV3, 2015 weights, two channels of mixed3 and of mixed4."""
    folder = tmp_path_factory.mktemp("atlas")
    result = kdream(
        "atlas", "inceptionv3", "--weights", "inception2015", "--photos", photos,
        "-o", folder / "site", "--layers", "mixed3,mixed4", "--channels", "0-1",
        "--size", "80", "--diversity", "2", *FAST, cwd=folder,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "2 layers, 4 channels" in result.stdout, result.stdout
    return folder / "site"


def test_inception_atlas_json_holds_every_channels_statistics(inception_site):
    saved = json.loads((inception_site / "atlas.json").read_text())
    assert saved["complete"] is True and set(saved["layers"]) == {"mixed3", "mixed4"}
    for layer in saved["layers"].values():
        assert layer["channels"] == [0, 1] and layer["total_channels"] == 768
        assert layer["receptive_field"] > layer["stride"][0] > 1
        for name in ("mean", "max", "active", "selectivity"):
            assert len(layer["statistics"][name]) == 2
        assert all(0 < len(found) <= 9 for found in layer["examples"])
    pictures = sorted(p.name for p in (inception_site / "pictures" / "mixed4").iterdir())
    assert pictures == ["0.png", "0_view1.png", "0_view2.png", "1.png", "1_view1.png",
                        "1_view2.png"]  # fmt: skip


def test_an_atlas_picture_replays_byte_for_byte(inception_site, tmp_path):
    picture = inception_site / "pictures" / "mixed4" / "1.png"
    assert read_recipe(picture)["pick"] == {"picture": 1}
    result = kdream("visualize", "--recipe", picture, "-o", "again.png", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "again.png").read_bytes() == picture.read_bytes()


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("the atlas test needs a headless browser: apt-get install chromium")


def local_file(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def test_the_site_in_a_real_browser(inception_site):
    from playwright.sync_api import sync_playwright

    pages = [inception_site / "index.html", *sorted(inception_site.glob("layers/*.html"))]
    pages += sorted(inception_site.glob("channels/*/*.html"))
    assert len(pages) == 1 + 2 + 4
    problems, links = [], set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(),
            args=["--no-sandbox"],
            env={**os.environ, "TMPDIR": "/tmp"},  # a deep TMPDIR (nox's) is too long for
        )  # chromium's singleton socket path
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
        for path in pages:
            page.goto(path.as_uri())
            page.evaluate("Array.from(document.images).forEach(i => i.scrollIntoView())")
            page.wait_for_load_state("load")
            page.wait_for_function("Array.from(document.images).every(i => i.complete)")
            broken = page.evaluate(
                "Array.from(document.images).filter(i => !i.naturalWidth).map(i => i.src)"
            )
            assert not broken, f"{path.name}: {broken}"
            links.update(page.evaluate("Array.from(document.links).map(a => a.href)"))
            links.update(page.evaluate("Array.from(document.images).map(i => i.src)"))
        page.goto((inception_site / "layers" / "mixed4.html").as_uri())
        page.select_option("#order", "max")
        order = page.evaluate(
            "Array.from(document.querySelectorAll('#grid .cell'), c => +c.dataset.max)"
        )
        assert order == sorted(order, reverse=True)
        shot = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("L"), np.float64)
        browser.close()
    assert not problems, problems
    missing = [url for url in links if not local_file(url).is_file()]
    assert not missing and all(url.startswith("file://") for url in links), missing
    assert shot.std() > 20  # pictures and text, not a blank page


def test_a_keras_applications_family(photos, tmp_path, cli):
    result = cli(
        "atlas", "vgg16", "--weights", "random", "--photos", photos, "-o", "site",
        "--layers", "block2_conv2", "--channels", "5,7", "--size", "64", "--diversity", "0",
        *FAST, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "site" / "atlas.json").read_text())
    assert saved["layers"]["block2_conv2"]["channels"] == [5, 7]
    assert (tmp_path / "site" / "pictures" / "block2_conv2" / "7.png").is_file()


def own_model(path: Path) -> Path:
    """A user's model of any input size with a small classifier head."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="features")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, keras.layers.Dense(3, name="head")(x)).save(path)
    return path


def test_a_users_keras_model_with_its_classes(photos, tmp_path, cli):
    model = own_model(tmp_path / "mine.keras")
    result = cli("atlas", model, "--photos", photos, "--size", "48", "--diversity", "0",
                 *FAST, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "atlas" / "atlas.json").read_text())
    assert list(saved["layers"]) == ["features"]  # the head has no maps
    chances = saved["classes"]
    assert sorted(chances) == ["0", "1", "2"] and all(0 <= p <= 1 for p in chances.values())
    assert "p = " in (tmp_path / "atlas" / "classes.html").read_text()


def refused(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_bad_requests_are_one_line_and_write_nothing(photos, tmp_path, cli):
    (tmp_path / "empty").mkdir()
    line = refused(cli("atlas", "--photos", "empty", cwd=tmp_path))
    assert "no images in this folder" in line
    line = refused(cli("atlas", "--photos", photos, "--layers", "mixed4", "--channels",
                       "760-770", "--weights", "random", cwd=tmp_path))  # fmt: skip
    assert "mixed4 has 768 channels (0..767); got 768" in line
    inputs = keras.Input((8, 8, 1))
    flat = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    flat.save(tmp_path / "flat.keras")
    line = refused(cli("atlas", "flat.keras", "--photos", photos, cwd=tmp_path))
    assert "flat.keras" in line and "no spatial layers" in line
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    line = refused(cli("atlas", "--photos", photos, "-o", "taken", cwd=tmp_path))
    assert "holds other files" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "flat.keras", "taken"]
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
