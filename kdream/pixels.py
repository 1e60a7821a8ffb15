"""Pictures as arrays: uint8 pictures checked, the dream's [-1, 1] range and back, and
the one Lanczos resize (uint8 pictures and float images alike).

Example:
    >>> to_uint8(to_model_range(np.full((2, 2, 3), 200, np.uint8)))[0, 0].tolist()
    [200, 200, 200]
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def uint8_picture(pixels, label: str = "image") -> np.ndarray:
    """A uint8 picture (H, W), (H, W, 1) or (H, W, 3) as (H, W, channels); anything else is
    refused with one line naming ``label``."""
    picture = np.asarray(pixels)
    if picture.ndim == 2:
        picture = picture[..., None]
    if picture.ndim != 3 or picture.shape[-1] not in (1, 3) or picture.dtype != np.uint8:
        raise ValueError(
            f"{label}: expected a uint8 array of shape (H, W, 3), (H, W, 1) or (H, W), "
            f"got {picture.dtype} {picture.shape}"
        )
    return picture


def rgb_picture(pixels, label: str = "image") -> np.ndarray:
    """:func:`uint8_picture` as (H, W, 3): a gray picture repeated three times."""
    picture = uint8_picture(pixels, label)
    return picture if picture.shape[-1] == 3 else np.repeat(picture, 3, axis=-1)


def to_model_range(pixels_uint8: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [-1, 1], the dream's working range."""
    image = pixels_uint8.astype(np.float32)
    image /= 127.5  # in place: a 4096 px photo's float copies are 192 MiB each
    image -= 1.0
    return image


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[-1, 1] floats -> uint8 pixels (rounded, clipped)."""
    pixels = np.asarray(image) + np.float32(1.0)  # one float copy, then in place
    pixels *= np.float32(127.5)
    np.rint(pixels, out=pixels)
    np.clip(pixels, 0, 255, out=pixels)
    return pixels.astype(np.uint8)


def resize(image: np.ndarray, size_hw) -> np.ndarray:
    """Resize with Lanczos filtering: the one resize of kdream.

    A uint8 picture (H, W) or (H, W, 3) is resized as Pillow resizes pictures and stays
    uint8 (a new C-contiguous array, also at the same size); a float (H, W, C) image, in
    float32 channel by channel (the dream's octaves). Anything else is refused.

    Example:
        >>> resize(np.zeros((40, 60, 3), np.uint8), (20, 30)).shape
        (20, 30, 3)
        >>> resize(np.zeros((40, 60, 3), np.float32), (20, 30)).dtype
        dtype('float32')
    """
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.floating):
        return _resize_float(image, size_hw)
    if image.dtype != np.uint8 or not (
        image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)
    ):
        raise ValueError(
            f"expected a uint8 HxW or HxWx3 array or a float HxWxC image, got {image.dtype} "
            f"{image.shape}"
        )
    height, width = (int(v) for v in size_hw)
    if height < 1 or width < 1:
        raise ValueError(f"target size must be positive, got {size_hw}")
    if (height, width) == image.shape[:2]:
        return np.array(image, order="C")
    resized = Image.fromarray(np.ascontiguousarray(image)).resize(
        (width, height), Image.Resampling.LANCZOS
    )
    return np.array(resized, dtype=np.uint8)


def fit_max_side(rgb: np.ndarray, alpha: np.ndarray | None, max_side: int | None):
    """``rgb`` (and its ``alpha``) downsized so the longer side is at most ``max_side``
    (unchanged when it already fits, or without a ``max_side``).

    Example:
        >>> fit_max_side(np.zeros((40, 80, 3), np.uint8), None, 20)[0].shape
        (10, 20, 3)
    """
    if not max_side or max(rgb.shape[:2]) <= max_side:
        return rgb, alpha
    factor = max_side / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[0] * factor)), max(1, round(rgb.shape[1] * factor)))
    alpha = None if alpha is None else resize(alpha, size)
    return resize(rgb, size), alpha


def _resize_float(image: np.ndarray, size_hw) -> np.ndarray:
    height, width = size_hw
    if image.shape[:2] == (height, width):
        return image.astype(np.float32, copy=False)
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), "F").resize(
                (width, height), Image.Resampling.LANCZOS
            )
        )
        for c in range(image.shape[-1])
    ]
    return np.stack(channels, axis=-1)
