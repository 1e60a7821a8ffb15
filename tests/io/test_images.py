"""Tests for kdream.imageio: tolerant loading, one-line errors, atomic saving, recipes."""

from __future__ import annotations

import io
import json
import os
import pathlib
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image, features

import kdream
from kdream import recipe as recipe_limits
from kdream.io import images as imageio
from kdream.io.images import loading as images_loading
from kdream.io.images.loading import load_image, load_sample
from kdream.io.images.messages import ImageInputError, OutputPathError
from kdream.io.images.metadata import read_recipe
from kdream.io.images.paths import check_output_path, default_output_path, pick_output_path
from kdream.io.images.saving import save_image, supports_alpha
from kdream.pixels import resize as resize_rgb

RECIPE = {"layers": {"mixed4": 1.0, "mixed5": 0.5}, "octaves": 4, "note": "café ☕", "seed": 7}

# --------------------------------------------------------------------------- helpers


def _gradient_rgb(height: int = 24, width: int = 32) -> np.ndarray:
    """A small, non-constant RGB image: red ramps across, green down, blue fixed."""
    rows, cols = np.mgrid[0:height, 0:width]
    red = cols * 255 // max(width - 1, 1)
    green = rows * 255 // max(height - 1, 1)
    blue = np.full_like(red, 128)
    return np.dstack([red, green, blue]).astype(np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _raw_png(width: int, height: int, bit_depth: int, color_type: int, scanlines: bytes) -> bytes:
    """A PNG built by hand, for layouts Pillow cannot write (16-bit RGB, absurd sizes)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(scanlines))
        + _png_chunk(b"IEND", b"")
    )


def _png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def _listing(directory: pathlib.Path) -> list[str]:
    return sorted(entry.name for entry in directory.iterdir())


def _assert_one_line_naming(error: Exception, path: os.PathLike | str) -> str:
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{os.fspath(path)}: ")
    return message


# --------------------------------------------------------------------------- sample


def test_sample_is_a_real_photo():
    sample = load_sample()
    assert sample.source == "sample:coffee.png"
    assert sample.rgb.shape == (400, 600, 3)
    assert sample.rgb.dtype == np.uint8
    assert sample.rgb.flags["C_CONTIGUOUS"]
    assert sample.alpha is None
    assert sample.notices == ()
    assert sample.rgb.std() > 20  # a photo, not a flat placeholder
    assert len(np.unique(sample.rgb.reshape(-1, 3), axis=0)) > 1000


def test_sample_license_ships_next_to_it():
    data_dir = pathlib.Path(kdream.__file__).parent / "data"
    credit = (data_dir / "SAMPLE_LICENSE.txt").read_text(encoding="utf-8")
    assert "coffee.png" in credit and "CC0" in credit and "Rachel Michetti" in credit


# --------------------------------------------------------------------------- bad inputs


def _make_truncated_png(path: pathlib.Path) -> None:
    noisy = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = _png_bytes(noisy)
    path.write_bytes(data[: len(data) // 2])


def _make_truncated_jpeg(path: pathlib.Path) -> None:
    noisy = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, format="JPEG", quality=90)
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) // 2])


BAD_INPUTS = {
    "missing": ("nothere.png", None, "no such file"),
    "directory": ("folder.png", lambda p: p.mkdir(), "is a directory"),
    "empty": ("empty.png", lambda p: p.write_bytes(b""), "empty file"),
    "text": ("notes.jpg", lambda p: p.write_text("hello, not a picture\n"), "not an image"),
    "garbage_png": (
        "garbage.png",
        lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),
        "",
    ),
    "truncated_png": ("cut.png", _make_truncated_png, "truncated"),
    "truncated_jpeg": ("cut.jpg", _make_truncated_jpeg, "truncated"),
    "bomb": (
        "bomb.png",
        lambda p: p.write_bytes(_raw_png(100_000, 100_000, 8, 2, b"\x00" * 301)),
        "too large",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_error_naming_the_file(tmp_path, kind):
    name, make, expected = BAD_INPUTS[kind]
    path = tmp_path / name
    if make is not None:
        make(path)
    with pytest.raises(ImageInputError) as caught:
        load_image(path)
    message = _assert_one_line_naming(caught.value, path)
    assert expected in message


def test_error_names_the_path_as_given_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pathlib.Path("photo.jpg").write_text("nope")
    with pytest.raises(ImageInputError) as caught:
        load_image("photo.jpg")
    assert str(caught.value) == "photo.jpg: not an image (cannot identify image file)"


def test_bomb_is_refused_without_pillows_own_limit(tmp_path, monkeypatch):
    # Another library may have disabled Pillow's guard; ours must still refuse, and fast.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    path = tmp_path / "bomb.png"
    path.write_bytes(_raw_png(100_000, 100_000, 8, 2, b"\x00" * 301))
    started = time.perf_counter()
    with pytest.raises(ImageInputError, match="too large"):
        load_image(path)
    assert time.perf_counter() - started < 1.0


def test_pillow_bomb_warning_is_an_error(tmp_path, monkeypatch):
    # Between Pillow's limit and twice it Pillow only warns; we refuse.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    path = tmp_path / "medium.png"
    path.write_bytes(_png_bytes(_gradient_rgb(12, 12)))  # 144 pixels: over 100, under 200
    with pytest.raises(ImageInputError, match="too large"):
        load_image(path)


def test_our_pixel_limit_applies(tmp_path, monkeypatch):
    monkeypatch.setattr(images_loading, "MAX_PIXELS", 100)
    path = tmp_path / "small.png"
    path.write_bytes(_png_bytes(_gradient_rgb(20, 20)))
    with pytest.raises(ImageInputError, match=r"20x20"):
        load_image(path)


def test_permission_denied_is_reported(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    path.write_bytes(_png_bytes(_gradient_rgb()))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", os.fspath(path))

    # root ignores file modes, so simulate the refusal at the open() the module performs
    monkeypatch.setattr(images_loading, "open", refuse, raising=False)
    with pytest.raises(ImageInputError) as caught:
        load_image(path)
    assert "permission denied" in _assert_one_line_naming(caught.value, path)


def _valid_files() -> dict[str, bytes]:
    rgb = _gradient_rgb(16, 16)
    files = {}
    for fmt, suffix in (("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif"), ("WEBP", "webp")):
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, format=fmt)
        files[suffix] = buffer.getvalue()
    return files


@pytest.mark.parametrize("suffix", ["png", "jpg", "gif", "webp"])
def test_damaged_files_never_raise_anything_but_image_input_error(tmp_path, suffix):
    data = _valid_files()[suffix]
    rng = np.random.default_rng(42)
    variants = [data[:cut] for cut in np.linspace(1, len(data) - 1, 12).astype(int)]
    for _ in range(12):
        corrupted = bytearray(data)
        for index in rng.integers(0, len(data), 4):
            corrupted[index] ^= 0xFF
        variants.append(bytes(corrupted))
    path = tmp_path / f"damaged.{suffix}"
    for variant in variants:
        path.write_bytes(variant)
        try:
            loaded = load_image(path)
        except ImageInputError as error:
            _assert_one_line_naming(error, path)
        else:
            assert loaded.rgb.dtype == np.uint8 and loaded.rgb.ndim == 3


# --------------------------------------------------------------------------- input modes


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)  # 20 high, 40 wide as stored
    stored[:, :20] = (255, 0, 0)  # left half red
    stored[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif)
    loaded = load_image(path)
    assert loaded.rgb.shape == (40, 20, 3)
    # After a clockwise quarter turn the stored left (red) half is on top.
    top, bottom = loaded.rgb[5, 10].astype(int), loaded.rgb[35, 10].astype(int)
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_16bit_grayscale_png(tmp_path):
    values = np.linspace(0, 65535, 16 * 32).reshape(16, 32).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    loaded = load_image(path)
    assert loaded.rgb.shape == (16, 32, 3) and loaded.rgb.dtype == np.uint8
    expected = np.rint(values / 257.0).astype(np.uint8)
    for channel in range(3):
        np.testing.assert_array_equal(loaded.rgb[:, :, channel], expected)
    assert "16-bit image converted to 8-bit" in loaded.notices


def test_16bit_rgb_png_gets_a_notice(tmp_path):
    height, width = 4, 5
    pixels = np.zeros((height, width, 3), ">u2")
    pixels[..., 0] = 65535
    pixels[..., 1] = 0x8000
    rows = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))
    path = tmp_path / "deep_rgb.png"
    path.write_bytes(_raw_png(width, height, 16, 2, rows))
    loaded = load_image(path)
    assert loaded.rgb.shape == (height, width, 3)
    assert tuple(loaded.rgb[0, 0]) == (255, 128, 0)
    assert "16-bit image converted to 8-bit" in loaded.notices


def test_32bit_integer_image(tmp_path):
    values = (np.arange(8 * 8).reshape(8, 8) * 1000).astype(np.int32)
    path = tmp_path / "deep.tif"
    Image.fromarray(values, mode="I").save(path)
    loaded = load_image(path)
    assert loaded.rgb.shape == (8, 8, 3)
    assert loaded.rgb[0, 0, 0] == 0 and loaded.rgb[-1, -1, 0] == round(63000 / 257)
    assert any("8-bit" in notice for notice in loaded.notices)


def test_grayscale_and_grayscale_alpha(tmp_path):
    gray = np.arange(16 * 16, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(gray, mode="L").save(tmp_path / "gray.png")
    loaded = load_image(tmp_path / "gray.png")
    assert loaded.alpha is None
    np.testing.assert_array_equal(loaded.rgb, np.dstack([gray] * 3))

    alpha = np.full_like(gray, 255)
    alpha[:4] = 0
    Image.fromarray(np.dstack([gray, alpha]), mode="LA").save(tmp_path / "gray_alpha.png")
    loaded = load_image(tmp_path / "gray_alpha.png")
    np.testing.assert_array_equal(loaded.alpha, alpha)
    np.testing.assert_array_equal(loaded.rgb[:, :, 1], gray)


def _palette_image() -> Image.Image:
    indices = np.zeros((8, 8), np.uint8)
    indices[:, 4:] = 1
    indices[0, 0] = 2
    image = Image.fromarray(indices, mode="P")
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (253 * 3))
    return image


def test_palette_without_transparency(tmp_path):
    path = tmp_path / "palette.png"
    _palette_image().save(path)
    loaded = load_image(path)
    assert loaded.alpha is None
    assert tuple(loaded.rgb[3, 1]) == (255, 0, 0)
    assert tuple(loaded.rgb[3, 6]) == (0, 255, 0)
    assert tuple(loaded.rgb[0, 0]) == (0, 0, 255)


@pytest.mark.parametrize("suffix", ["png", "gif"])
def test_palette_with_transparency(tmp_path, suffix):
    path = tmp_path / f"palette.{suffix}"
    _palette_image().save(path, transparency=2)
    loaded = load_image(path)
    assert loaded.alpha is not None
    assert loaded.alpha[0, 0] == 0
    assert loaded.alpha[3, 3] == 255 and loaded.alpha.sum() == 255 * 63
    assert tuple(loaded.rgb[3, 6]) == (0, 255, 0)


def test_cmyk_jpeg(tmp_path):
    cmyk = np.zeros((16, 16, 4), np.uint8)
    cmyk[:, :8, 0] = 255  # left: pure cyan ink
    cmyk[:, 8:, 3] = 255  # right: pure black ink
    path = tmp_path / "print.jpg"
    Image.fromarray(cmyk, mode="CMYK").save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    loaded = load_image(path)
    assert loaded.rgb.shape == (16, 16, 3)
    cyan, black = loaded.rgb[8, 3].astype(int), loaded.rgb[8, 12].astype(int)
    assert cyan[0] < 40 and cyan[1] > 215 and cyan[2] > 215
    assert black.max() < 40


def test_rgba_keeps_alpha_and_drops_opaque_alpha(tmp_path):
    rgb = _gradient_rgb()
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "opaque.png")
    assert load_image(tmp_path / "opaque.png").alpha is None

    alpha[::2, ::3] = 17
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "see_through.png")
    loaded = load_image(tmp_path / "see_through.png")
    np.testing.assert_array_equal(loaded.alpha, alpha)
    np.testing.assert_array_equal(loaded.rgb, rgb)
    assert loaded.rgb.flags["C_CONTIGUOUS"] and loaded.alpha.flags["C_CONTIGUOUS"]


def _two_frames() -> list[Image.Image]:
    red = Image.new("RGB", (10, 8), (255, 0, 0))
    blue = Image.new("RGB", (10, 8), (0, 0, 255))
    return [red, blue]


ANIMATED_FORMATS = ["gif", "png"] + (["webp"] if features.check("webp") else [])


@pytest.mark.parametrize("suffix", ANIMATED_FORMATS)
def test_animated_image_gives_first_frame_and_a_notice(tmp_path, suffix):
    first, second = _two_frames()
    path = tmp_path / f"anim.{suffix}"
    options = {"lossless": True} if suffix == "webp" else {}
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0, **options)
    assert getattr(Image.open(path), "is_animated", False)
    loaded = load_image(path)
    assert loaded.rgb.shape == (8, 10, 3)
    assert tuple(loaded.rgb[4, 5]) == (255, 0, 0)
    assert "animated image: using the first frame" in loaded.notices


def test_loaded_image_source_is_the_path_as_given(tmp_path):
    path = tmp_path / "plain.png"
    path.write_bytes(_png_bytes(_gradient_rgb()))
    assert load_image(str(path)).source == str(path)
    assert load_image(path).source == str(path)


# --------------------------------------------------------------------------- saving


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".jpeg", ".webp", ".PNG"])
def test_recipe_round_trip(tmp_path, suffix):
    rgb = _gradient_rgb()
    path = save_image(tmp_path / f"dream{suffix}", rgb, recipe=RECIPE)
    assert path == tmp_path / f"dream{suffix}"
    assert read_recipe(path) == RECIPE
    loaded = load_image(path)
    if suffix in (".jpg", ".jpeg"):
        assert np.abs(loaded.rgb.astype(int) - rgb).mean() < 3
    else:
        np.testing.assert_array_equal(loaded.rgb, rgb)  # PNG and lossless WebP are exact


def test_png_recipe_is_an_itxt_chunk_with_sorted_json(tmp_path):
    path = save_image(tmp_path / "dream.png", _gradient_rgb(), recipe={"b": 1, "a": 2})
    with Image.open(path) as image:
        assert image.text["kdream"] == '{"a": 2, "b": 1}'
    assert b"iTXt" in path.read_bytes()


def test_jpeg_recipe_is_in_the_comment(tmp_path):
    path = save_image(tmp_path / "dream.jpg", _gradient_rgb(), recipe={"a": 1})
    with Image.open(path) as image:
        assert image.info["comment"] == b'kdream:{"a": 1}'


def test_read_recipe_without_one(tmp_path):
    path = save_image(tmp_path / "plain.png", _gradient_rgb())
    with pytest.raises(ImageInputError) as caught:
        read_recipe(path)
    assert "no kdream recipe" in _assert_one_line_naming(caught.value, path)


def test_read_recipe_ignores_foreign_jpeg_comments(tmp_path):
    path = tmp_path / "camera.jpg"
    Image.fromarray(_gradient_rgb()).save(path, comment=b"taken with a camera")
    with pytest.raises(ImageInputError, match="no kdream recipe"):
        read_recipe(path)


@pytest.mark.parametrize("content", [b"", b"not an image"])
def test_read_recipe_of_a_bad_file(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageInputError) as caught:
        read_recipe(path)
    _assert_one_line_naming(caught.value, path)


def test_read_recipe_with_invalid_json(tmp_path):
    path = tmp_path / "odd.png"
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("kdream", "{not json")
    Image.fromarray(_gradient_rgb()).save(path, pnginfo=info)
    with pytest.raises(ImageInputError, match="not valid JSON"):
        read_recipe(path)


def _with_recipe_text(path: pathlib.Path, text: str) -> pathlib.Path:
    """An image whose recipe field holds ``text`` as is, in the place its format keeps it."""
    image = Image.fromarray(_gradient_rgb())
    if path.suffix == ".png":
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_itxt("kdream", text)
        image.save(path, pnginfo=info)
    elif path.suffix == ".jpg":
        image.save(path, comment=b"kdream:" + text.encode())
    else:
        image.save(path, lossless=True, exif=imageio.recipe_exif(text))
    return path


def test_read_recipe_refuses_100000_nested_brackets(tmp_path):
    """json.loads would recurse 100,000 times (RecursionError): refused before parsing."""
    path = _with_recipe_text(tmp_path / "deep.png", "[" * 100_000)
    with pytest.raises(ImageInputError) as caught:
        read_recipe(path)
    message = _assert_one_line_naming(caught.value, path)
    assert "nested too deeply" in message and str(recipe_limits.MAX_RECIPE_DEPTH) in message


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_every_recipe_carrier_has_the_depth_limit(tmp_path, suffix):
    deep = '{"a": ' + "[" * 30_000 + "]" * 30_000 + "}"  # valid JSON; fits a JPEG comment
    path = _with_recipe_text(tmp_path / f"deep{suffix}", deep)
    with pytest.raises(ImageInputError, match="nested too deeply"):
        read_recipe(path)


def test_recipe_depth_limit_counts_brackets_outside_strings_only(tmp_path):
    limit = recipe_limits.MAX_RECIPE_DEPTH
    at_limit = '{"a": ' + "[" * (limit - 1) + "]" * (limit - 1) + "}"
    assert read_recipe(_with_recipe_text(tmp_path / "ok.png", at_limit))["a"]
    over = '{"a": ' + "[" * limit + "]" * limit + "}"
    with pytest.raises(ImageInputError, match="nested too deeply"):
        read_recipe(_with_recipe_text(tmp_path / "over.png", over))
    in_strings = {"note": "[" * 1000 + '\\"{' * 100, "q": '"[[["'}
    text = json.dumps(in_strings)
    assert read_recipe(_with_recipe_text(tmp_path / "strings.png", text)) == in_strings


def test_read_recipe_refuses_an_oversized_recipe(tmp_path):
    text = '{"note": "' + "x" * recipe_limits.MAX_RECIPE_CHARS + '"}'
    path = _with_recipe_text(tmp_path / "huge.png", text)
    with pytest.raises(ImageInputError) as caught:
        read_recipe(path)
    message = _assert_one_line_naming(caught.value, path)
    assert "too large" in message and str(recipe_limits.MAX_RECIPE_CHARS) in message


def test_save_refuses_a_recipe_it_could_not_read_back(tmp_path):
    huge = {"note": "x" * recipe_limits.MAX_RECIPE_CHARS}
    with pytest.raises(ValueError, match="reads back"):
        save_image(tmp_path / "dream.png", _gradient_rgb(), recipe=huge)
    assert _listing(tmp_path) == []


@pytest.mark.parametrize(
    "text, phrase",
    [
        ('{"input": [1]}', "'input' must be a JSON object"),
        ('{"weights": "imagenet"}', "'weights' must be a JSON object"),
        ('{"config": null}', "'config' must be a JSON object"),
        ('{"objective": {}}', "'objective' must be a JSON array"),
        ('{"input": {"source": 5}}', "input.source must be a string"),
        ('{"weights": {"sha256": []}}', "weights.sha256 must be a string"),
        ('{"max_side": "abc"}', "'max_side' must be a positive integer"),
        ('{"max_side": true}', "'max_side' must be a positive integer"),
        ('{"max_side": 0}', "'max_side' must be a positive integer"),
    ],
)
def test_read_recipe_refuses_sections_of_the_wrong_type(tmp_path, text, phrase):
    path = _with_recipe_text(tmp_path / "odd.png", text)
    with pytest.raises(ImageInputError) as caught:
        read_recipe(path)
    assert phrase in _assert_one_line_naming(caught.value, path)


def test_recipe_text_is_data_never_code(tmp_path):
    marker = tmp_path / "pwned"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    recipe = {"note": code, "config": {"layers": {code: 1.0}}, "max_side": None}
    path = _with_recipe_text(tmp_path / "code.png", json.dumps(recipe))
    assert read_recipe(path) == recipe
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".png", ".webp"])
def test_alpha_is_reattached_on_save(tmp_path, suffix):
    rgb = _gradient_rgb()
    alpha = np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1))
    path = save_image(tmp_path / f"alpha{suffix}", rgb, alpha=alpha, recipe=RECIPE)
    assert Image.open(path).mode == "RGBA"
    loaded = load_image(path)
    np.testing.assert_array_equal(loaded.alpha, alpha)
    np.testing.assert_array_equal(loaded.rgb, rgb)
    assert read_recipe(path) == RECIPE


def test_jpeg_drops_alpha(tmp_path):
    alpha = np.zeros((24, 32), np.uint8)
    path = save_image(tmp_path / "flat.jpg", _gradient_rgb(), alpha=alpha)
    assert Image.open(path).mode == "RGB"
    assert not supports_alpha(path) and supports_alpha("x.png") and supports_alpha("x.webp")


def test_save_rejects_bad_arrays_before_writing(tmp_path):
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        save_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="alpha"):
        save_image(tmp_path / "x.png", _gradient_rgb(), alpha=np.zeros((3, 3), np.uint8))
    with pytest.raises(OutputPathError, match="unsupported output extension"):
        save_image(tmp_path / "x.gif", _gradient_rgb())
    with pytest.raises(OutputPathError, match="directory does not exist"):
        save_image(tmp_path / "nope" / "x.png", _gradient_rgb())
    assert _listing(tmp_path) == []


def _explode_midway(self, fp, *args, **kwargs):
    fp.write(b"\x89PNG half an image")
    raise RuntimeError("disk on fire")


def test_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(Image.Image, "save", _explode_midway)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_image(tmp_path / "dream.png", _gradient_rgb(), recipe=RECIPE)
    assert _listing(tmp_path) == []


def test_failed_save_does_not_touch_an_existing_file(tmp_path, monkeypatch):
    target = tmp_path / "dream.png"
    target.write_bytes(b"precious")
    monkeypatch.setattr(Image.Image, "save", _explode_midway)
    with pytest.raises(RuntimeError):
        save_image(target, _gradient_rgb())
    assert target.read_bytes() == b"precious"
    assert _listing(tmp_path) == ["dream.png"]


def test_os_error_while_saving_becomes_output_path_error(tmp_path, monkeypatch):
    def no_space(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", no_space)
    with pytest.raises(OutputPathError) as caught:
        save_image(tmp_path / "dream.webp", _gradient_rgb())
    message = _assert_one_line_naming(caught.value, tmp_path / "dream.webp")
    assert "No space left on device" in message
    assert _listing(tmp_path) == []


def test_saved_file_permissions(tmp_path):
    fresh = save_image(tmp_path / "fresh.png", _gradient_rgb())
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600

    kept = tmp_path / "kept.png"
    kept.write_bytes(b"old")
    kept.chmod(0o640)
    save_image(kept, _gradient_rgb())
    assert kept.stat().st_mode & 0o777 == 0o640
    assert load_image(kept).rgb.shape == (24, 32, 3)


# --------------------------------------------------------------------------- output paths


def test_default_output_path():
    assert default_output_path("holiday/beach.jpg") == pathlib.Path("beach_dream.png")
    assert default_output_path("sample:coffee.png") == pathlib.Path("coffee_dream.png")
    assert default_output_path("a.b.tif", "out", ".webp") == pathlib.Path("out/a.b_dream.webp")
    assert default_output_path(pathlib.Path("x/y.png"), suffix="jpg").name == "y_dream.jpg"


def test_check_output_path_accepts_a_fresh_path(tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"x")
    out = tmp_path / "photo_dream.PNG"
    assert check_output_path(out, [photo], force=False) == out


def test_check_output_path_refuses_an_input_even_with_force(tmp_path, monkeypatch):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.png"
    link.symlink_to(photo)
    monkeypatch.chdir(tmp_path / "sub")
    for alias in (photo, "../photo.png", link):
        with pytest.raises(OutputPathError) as caught:
            check_output_path(alias, ["sample:coffee.png", str(photo)], force=True)
        assert "input" in _assert_one_line_naming(caught.value, alias)


def test_check_output_path_refuses_hard_links_to_an_input(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"x")
    twin = tmp_path / "twin.png"
    os.link(photo, twin)
    with pytest.raises(OutputPathError, match="input"):
        check_output_path(twin, [photo], force=True)


def test_check_output_path_refusals(tmp_path):
    existing = tmp_path / "old_dream.png"
    existing.write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    cases = {
        existing: "already exists",
        tmp_path / "missing" / "out.png": "directory does not exist",
        tmp_path / "out.gif": "unsupported output extension",
        tmp_path / "out": "unsupported output extension",
        tmp_path / "folder.png": "is a directory",
    }
    for output, expected in cases.items():
        with pytest.raises(OutputPathError) as caught:
            check_output_path(output, [], force=False)
        assert expected in _assert_one_line_naming(caught.value, output)
    assert check_output_path(existing, [], force=True) == existing


def test_default_names_take_the_next_free_number_and_chosen_names_are_refused(tmp_path):
    photo = tmp_path / "coffee.jpg"
    photo.write_bytes(b"x")
    default = tmp_path / "coffee_dream.png"
    assert pick_output_path(None, default, [photo], force=False) == default
    default.write_bytes(b"first")
    (tmp_path / "coffee_dream-2.png").write_bytes(b"second")
    assert pick_output_path(None, default, [photo], force=False) == tmp_path / "coffee_dream-3.png"
    assert pick_output_path(None, default, [photo], force=True) == default
    with pytest.raises(OutputPathError, match="already exists"):
        pick_output_path(default, "ignored.png", [photo], force=False)
    assert pick_output_path(default, "ignored.png", [photo], force=True) == default
    with pytest.raises(OutputPathError, match="input"):  # a default name is still checked
        pick_output_path(None, photo, [photo], force=False)


# --------------------------------------------------------------------------- resize


def test_resize_rgb_and_alpha():
    rgb = _gradient_rgb(40, 60)
    small = resize_rgb(rgb, (20, 30))
    assert small.shape == (20, 30, 3) and small.dtype == np.uint8
    assert small.flags["C_CONTIGUOUS"] and small.flags["WRITEABLE"]
    assert abs(int(small[:, :, 0].mean()) - int(rgb[:, :, 0].mean())) <= 2

    alpha = np.full((40, 60), 200, np.uint8)
    np.testing.assert_array_equal(resize_rgb(alpha, (81, 7)), np.full((81, 7), 200, np.uint8))
    same = resize_rgb(rgb, (40, 60))
    np.testing.assert_array_equal(same, rgb)
    assert same is not rgb

    with pytest.raises(ValueError, match="expected a uint8"):
        resize_rgb(rgb.astype(np.int32), (10, 10))
    as_float = resize_rgb(rgb.astype(np.float32), (20, 30))  # the octaves' float path
    assert as_float.dtype == np.float32 and np.abs(as_float - small).max() <= 1.0
    with pytest.raises(ValueError):
        resize_rgb(rgb, (0, 10))


# --------------------------------------------------------------------------- isolation


def test_module_imports_no_deep_learning_framework():
    # Pictures, recipes and pixels load before a backend is chosen: no framework with them.
    code = (
        "import sys\n"
        "import kdream.io.images, kdream.imageio, kdream.recipe, kdream.pixels\n"
        "heavy = {'keras', 'tensorflow', 'jax', 'torch'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
