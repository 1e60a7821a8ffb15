"""``--normalize``: recorded in the recipe, replayed, refused in one line when bad."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kdream.io.images.metadata import read_recipe
from tests.cli.test_cli import FAST, kdream, write_photo


@pytest.mark.parametrize("value", ["bogus", "lap:0", "lap:9"])
def test_bad_normalize_is_one_line_and_exit_code_2(tmp_path, value):
    photo = write_photo(tmp_path / "photo.png")
    result = kdream("dream", photo, "--quiet", "--weights", "random", "--normalize", value,
                    cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kdream: error: normalize:"), result.stderr
    assert not (tmp_path / "photo_dream.png").exists()


def test_laplacian_guided_dream_records_and_replays_its_normalisation(tmp_path):
    photo = write_photo(tmp_path / "photo.png")
    guide = write_photo(tmp_path / "guide.png", size=(80, 80), seed=3)
    first = kdream("dream", photo, *FAST, "--guide", guide, "--normalize", "lap", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    output = tmp_path / "photo_dream.png"
    assert read_recipe(output)["config"]["normalize"] == "lap:4"
    again = kdream("dream", photo, "--recipe", output, "--guide", guide, "-o", "again.png",
                   "--quiet", cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr
    dreamed = np.asarray(Image.open(output))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "again.png")), dreamed)
