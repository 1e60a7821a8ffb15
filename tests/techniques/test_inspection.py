"""Looking inside: feature-map and filter sheets (kdream.techniques.inspection,
kdream.techniques.sheets) and the
``kdream inspect`` command."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops
from PIL import Image

from kdream.io.images.metadata import read_recipe
from kdream.models.extractor import FeatureExtractor
from kdream.pixels import to_model_range
from kdream.techniques.inspection import feature_maps, filters, first_convolution
from kdream.techniques.sheets import (
    BACKGROUND,
    GAP_PX,
    TITLE_PX,
    contact_sheet,
    grid_shape,
    normalised,
)
from tests.cli.test_cli import kdream, write_photo


def test_grid_is_near_square_and_wider_than_tall():
    assert [grid_shape(n) for n in (1, 2, 4, 5, 16, 17)] == [
        (1, 1), (1, 2), (2, 2), (2, 3), (4, 4), (4, 5),
    ]  # fmt: skip


def test_sheet_layout_puts_each_cell_under_its_title():
    cells = [np.full((10, 20), 255, np.uint8) for _ in range(5)]
    sheet = contact_sheet(cells, [f"layer:{i}" for i in range(5)], cell_px=40)
    rows, columns = 2, 3
    assert sheet.shape == (rows * (40 + TITLE_PX + GAP_PX) + GAP_PX, columns * 44 + GAP_PX, 3)
    # A 20x10 cell fills its 40 px width, centred vertically: white at the cell's middle.
    top = GAP_PX + TITLE_PX
    assert (sheet[top + 20, GAP_PX + 5] == 255).all()
    # The title band of the first cell has text; the empty sixth slot is all background.
    assert (sheet[GAP_PX : GAP_PX + TITLE_PX, GAP_PX : GAP_PX + 40] != BACKGROUND).any()
    empty = sheet[top + 58 :, GAP_PX + 2 * 44 :][:40, :40]
    assert (empty == BACKGROUND).all()


def test_normalised_spans_the_full_range_and_a_constant_is_grey():
    assert normalised(np.array([[-2.0, 0.0], [1.0, 2.0]])).tolist() == [[0, 128], [191, 255]]
    assert (normalised(np.full((3, 3), 7.0)) == 128).all()


def test_feature_maps_are_the_most_active_channels_strongest_first(dreamer):
    photo = write_photo_array(80, 112)
    panels = feature_maps(dreamer, photo, "mixed2", top=6)
    extractor = FeatureExtractor.build(["mixed2"], base=dreamer.model, spec=dreamer.spec)
    maps = ops.convert_to_numpy(
        extractor.activations(ops.convert_to_tensor(to_model_range(photo)[None]))["mixed2"]
    )[0]
    means = maps.mean(axis=(0, 1))
    assert [p.channel for p in panels] == list(np.argsort(-means, kind="stable")[:6])
    assert [p.strength for p in panels] == sorted((p.strength for p in panels), reverse=True)
    for panel in panels:
        assert panel.picture.shape == maps.shape[:2] and panel.picture.dtype == np.uint8
        np.testing.assert_array_equal(panel.picture, normalised(maps[..., panel.channel]))
    assert panels[0].title == f"mixed2:{panels[0].channel}"


def test_first_layer_filters_are_pictures_centred_on_grey(dreamer):
    layer = first_convolution(dreamer.model)
    panels = filters(dreamer.model, layer)
    kernel = ops.convert_to_numpy(dreamer.model.get_layer(layer).kernel)
    assert len(panels) == kernel.shape[3] == 32
    first = kernel[..., 0]
    picture = panels[0].picture
    assert picture.shape == (3, 3, 3)
    # Symmetric about 0: the largest |weight| is 0 or 255, and the sign decides which.
    extreme = np.unravel_index(np.abs(first).argmax(), first.shape)
    assert picture[extreme] == (255 if first[extreme] > 0 else 0)
    assert abs(int(normalised(np.array([-1.0, 0.0, 1.0]))[1]) - 128) <= 1
    flipped = filters(dreamer.model, layer, bgr=True)[0].picture
    np.testing.assert_array_equal(flipped, picture[..., ::-1])


def test_deeper_and_non_convolution_layers_are_refused(dreamer):
    with pytest.raises(ValueError, match="192 channels: only a first layer"):
        filters(dreamer.model, "conv2d_5")
    with pytest.raises(ValueError, match="not a convolution"):
        filters(dreamer.model, "mixed2")
    with pytest.raises(ValueError, match="unknown layer"):
        filters(dreamer.model, "nope")


def write_photo_array(height, width) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([np.sin(x / 7), np.cos(y / 5), np.sin((x + y) / 9)], -1)
    return ((base + 1) * 120).astype(np.uint8)


def test_inspect_command_writes_a_labelled_sheet_with_its_recipe(tmp_path):
    photo = write_photo(tmp_path / "photo.png", size=(96, 128))
    result = kdream("inspect", photo, "--layer", "mixed2", "--top", "4", "--cell", "48",
                    "--weights", "random", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = tmp_path / "photo_mixed2_maps.png"
    recipe = read_recipe(output)
    assert recipe["inspect"]["what"] == "feature maps" and len(recipe["inspect"]["channels"]) == 4
    with Image.open(output) as sheet:
        assert sheet.size == (2 * (48 + GAP_PX) + GAP_PX, 2 * (48 + TITLE_PX + GAP_PX) + GAP_PX)
    refused = kdream("inspect", photo, "--weights", "random", cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "--layer" in refused.stderr
    deep = kdream("inspect", "--filters", "conv2d_5", "--weights", "random", cwd=tmp_path)
    assert deep.returncode == 2 and "only a first layer" in deep.stderr
