"""A stranger's recipe is data: through the CLI a bad one is one line, exit code 2, no output."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from kdream import cli
from kdream import recipe as recipe_limits
from kdream.io import images as imageio

BAD_RECIPES = {
    "deep": ("[" * 100_000, "nested too deeply"),
    "huge": ('{"note": "' + "x" * recipe_limits.MAX_RECIPE_CHARS + '"}', "too large"),
    "wrong type": ('{"config": {}, "input": [1]}', "'input' must be a JSON object"),
    "not json": ("{not json", "not valid JSON"),
}


def _png_with_recipe(path, text: str):
    info = PngImagePlugin.PngInfo()
    info.add_itxt(imageio.RECIPE_KEY, text)
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(path, pnginfo=info)
    return path


@pytest.mark.parametrize("kind", sorted(BAD_RECIPES))
def test_bad_recipe_is_one_line_exit_2_and_writes_nothing(tmp_path, capfd, kind):
    text, phrase = BAD_RECIPES[kind]
    recipe = _png_with_recipe(tmp_path / "stranger.png", text)
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((32, 32, 3), 150, np.uint8)).save(photo)
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = ["dream", str(photo), "--recipe", str(recipe), "-o", str(tmp_path / "out.png")]
    code = cli.main([*argv, "--weights", "random", "--quiet"])
    out, err = capfd.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kdream: error: ") and "stranger.png" in lines[0]
    assert phrase in lines[0] and "internal error" not in lines[0]
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before
