"""Style transfer: the Gram, content and total-variation terms against numpy, the run on
real InceptionV3 weights and on VGG19's shapes, colour preservation, recipes, the command."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops
from PIL import Image

from kdream.objectives.recipes import from_recipe
from kdream.objectives.references import ReferenceImage
from kdream.objectives.style import ContentTerm, GramTerm, TotalVariationTerm, gram
from kdream.techniques.style import StyleConfig, StyleTransfer, luminance, with_colours_of
from tests.ascent.test_dreamer import photo
from tests.cli.test_cli import kdream as run_kdream
from tests.cli.test_cli import write_photo
from tests.objectives.test_guide import flowers, inception2015_dreamer

RNG = np.random.default_rng(0)


def numpy_gram(features):
    count, height, width, channels = features.shape
    flat = features.reshape(count, height * width, channels)
    return np.einsum("npc,npd->ncd", flat, flat) / (height * width)


def test_gram_term_is_gatys_loss_with_grams_normalised_per_position():
    features = RNG.normal(size=(2, 3, 4, 5)).astype("float32")
    target = RNG.normal(size=(5, 5)).astype("float32")
    term = GramTerm("x", 2.0, (ReferenceImage.of(np.zeros((4, 4, 3), np.uint8)),))
    value = term.evaluate(ops.convert_to_tensor(features), {term.data_keys[0]: target})
    expected = ((numpy_gram(features) - target) ** 2).sum((1, 2)) / (4 * 5**2)
    np.testing.assert_allclose(ops.convert_to_numpy(value), -2.0 * expected, rtol=1e-5)
    # Per position, a tile's Gram does not depend on the tile's size: a map made of four
    # copies of a tile has that tile's Gram (so tiles compare with the whole style's).
    tile = features[:1]
    repeated = np.tile(tile, (1, 2, 2, 1))
    np.testing.assert_allclose(
        ops.convert_to_numpy(gram(ops.convert_to_tensor(repeated))),
        ops.convert_to_numpy(gram(ops.convert_to_tensor(tile))),
        rtol=1e-5,
    )


def test_content_and_total_variation_terms_against_numpy():
    features = RNG.normal(size=(2, 3, 4, 5)).astype("float32")
    content = RNG.normal(size=(2, 3, 4, 5)).astype("float32")
    term = ContentTerm("x", 3.0)
    value = term.evaluate(ops.convert_to_tensor(features), {term.data_keys[0]: content})
    expected = -3.0 * ((features - content) ** 2).mean((1, 2, 3))
    np.testing.assert_allclose(ops.convert_to_numpy(value), expected, rtol=1e-5)
    pixels = RNG.normal(size=(2, 6, 7, 3)).astype("float32")
    tv = TotalVariationTerm(weight=0.5).evaluate(ops.convert_to_tensor(pixels))
    down = ((pixels[:, 1:] - pixels[:, :-1]) ** 2).mean((1, 2, 3))
    right = ((pixels[:, :, 1:] - pixels[:, :, :-1]) ** 2).mean((1, 2, 3))
    np.testing.assert_allclose(ops.convert_to_numpy(tv), -0.5 * (down + right), rtol=1e-5)


def test_style_config_checks_values_and_round_trips():
    config = StyleConfig(style_layers={"a": 1.0, "b": 2.0}, style_mix=(0.7, 0.3), seed=3)
    assert StyleConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="init"):
        StyleConfig(init="zeros")
    with pytest.raises(ValueError, match="style_weight"):
        StyleConfig(style_weight=-1.0)
    with pytest.raises(ValueError, match="unknown style parameter"):
        StyleConfig.from_dict({"sizes": 3})


def test_preserved_colour_keeps_the_contents_chroma_and_the_styles_luminance():
    # Mid-range pictures: Y of one with CbCr of the other stays inside the RGB cube.
    content, styled = (photo(40, 50, seed=seed) // 2 + 64 for seed in (1, 2))
    mixed = with_colours_of(styled, content)
    chroma = lambda rgb: np.asarray(Image.fromarray(rgb).convert("YCbCr"))[..., 1:].astype(int)  # noqa: E731
    assert np.abs(chroma(mixed) - chroma(content)).mean() < 1.5
    assert np.abs(luminance(mixed).astype(int) - luminance(styled)).mean() < 1.5


@pytest.fixture
def real_transfer():
    return StyleTransfer(inception2015_dreamer())


def test_style_loss_falls_and_content_stays_on_real_weights(real_transfer):
    content, style = photo(96, 128), flowers(size=(128, 128))
    config = StyleConfig(size=128, steps=40, octaves=1, style_weight=1.0, tv_weight=0.0)
    transfer = StyleTransfer(real_transfer.dreamer, config)
    prepared = transfer.prepare(content, [style])[0]
    start = transfer.losses(prepared, content, [style])
    styled = transfer.run(content, [style])
    end = transfer.losses(styled, content, [style])
    # The style image itself, as a picture: the content loss of having lost the content.
    lost = transfer.losses(np.asarray(Image.fromarray(style).resize((128, 96))), content, [style])
    assert start["content"] == 0.0 and end["style"] < start["style"] / 3
    assert end["content"] < 0.3 * lost["content"]


def test_vgg19_mix_of_two_styles_tiled_and_colour_preserved():
    from kdream import Dreamer

    content, styles = photo(90, 120), [flowers(seed=1), flowers(seed=2)]
    config = StyleConfig(
        size=176, steps=3, octaves=2, tile_size=96, style_mix=(0.7, 0.3), preserve_color=True
    )
    transfer = StyleTransfer(Dreamer(weights="random", model="vgg19"), config)
    _, objective = transfer.prepare(content, styles)
    assert objective.layer_names[0] == "block4_conv2" and len(objective.terms) == 7
    assert objective.terms[-1].kind == "total_variation" and objective.terms[-1].weight == 10.0
    assert objective.terms[1].mix == pytest.approx((0.7, 0.3))
    first = transfer.run(content, styles)
    assert first.shape == (132, 176, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, transfer.run(content, styles))
    from_noise = StyleTransfer(transfer.dreamer, config.replace(init="noise"))
    assert not np.array_equal(from_noise.run(content, styles), first)
    with pytest.raises(ValueError, match="too small"):
        transfer.run(content, [styles[0], np.zeros((20, 20, 3), np.uint8)])
    with pytest.raises(ValueError, match="style_mix"):
        StyleTransfer(transfer.dreamer, config.replace(style_mix=(1.0,))).run(content, styles)
    with pytest.raises(ValueError, match="unknown layer"):
        StyleTransfer(transfer.dreamer, config.replace(content_layer="nope")).run(content, styles)


def test_style_command_writes_replays_and_refuses_other_images(tmp_path):
    content = write_photo(tmp_path / "content.png", size=(80, 96))
    style = write_photo(tmp_path / "style.png", size=(90, 90), seed=7)
    fast = ["--weights", "random", "--size", "96", "--steps", "2", "--octaves", "1", "--quiet"]
    first = run_kdream("style", content, style, "-o", "s.png", *fast, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    from kdream.io.images.metadata import read_recipe

    recipe = read_recipe(tmp_path / "s.png")
    assert recipe["style"]["steps"] == 2 and recipe["input"]["styles"][0]["name"] == "style.png"
    assert {term["kind"] for term in recipe["objective"]} == {"content", "gram", "total_variation"}
    assert (
        from_recipe(recipe["objective"]).terms[1].references[0].sha256
        == (recipe["input"]["styles"][0]["sha256"])
    )
    again = run_kdream(
        "style", "--recipe", "s.png", content, style, "-o", "again.png", "--quiet", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "s.png")), np.asarray(Image.open(tmp_path / "again.png"))
    )
    wrong = run_kdream("style", "--recipe", "s.png", content, content, "-o", "x.png", cwd=tmp_path)
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1
    assert "is not the recipe's style image" in wrong.stderr
    missing = run_kdream("style", content, "missing.png", "-o", "y.png", *fast, cwd=tmp_path)
    assert missing.returncode == 2 and "missing.png" in missing.stderr
    assert missing.stderr.count("\n") == 1
