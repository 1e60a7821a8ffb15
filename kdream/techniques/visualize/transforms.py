"""Transformation robustness: every step sees the picture padded, shifted, scaled and
rotated a little (:class:`Transforms`), or a random crop of it (:class:`Crops`, MACO's),
so the optimiser cannot hide the feature in pixel-exact noise.

lucid's ``standard_transforms`` (pad 12 px of grey, jitter 8, scale 0.9..1.1, rotate
-10..10 degrees, jitter 4), as one bilinear affine resampling per image on the device. The
random draws come from a seeded numpy generator on the host and enter the compiled step
as data (an (N, 8) transform tensor, as ``ascent.draw_shift`` draws a dream's shifts), so
every backend sees the same transforms and shapes never change.

Example:
    >>> transforms = Transforms()
    >>> matrices = transforms.draw(np.random.default_rng(0), batch=2, size_hw=(64, 64))
    >>> matrices.shape
    (2, 8)
    >>> tuple(transforms.apply(ops.ones((2, 64, 64, 3)) * 0.5, matrices).shape)
    (2, 76, 76, 3)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from keras import ops

GREY = 0.5


@dataclasses.dataclass(frozen=True)
class Transforms:
    """Pad ``pad`` px of grey, then per image a random shift of up to ``jitter`` px, a
    scale from ``scales`` and an angle (degrees) from ``angles``; ``crop`` px come off
    every side afterwards (lucid's jitter crops). ``Transforms.none()`` does nothing."""

    pad: int = 12
    jitter: int = 6
    scales: tuple[float, ...] = tuple(1 + (i - 5) / 50 for i in range(11))
    angles: tuple[float, ...] = tuple(range(-10, 11)) + (0.0,) * 5
    crop: int = 6

    @classmethod
    def none(cls) -> Transforms:
        """No padding, no randomness: the network sees the picture as it is."""
        return cls(pad=0, jitter=0, scales=(1.0,), angles=(0.0,), crop=0)

    def output_hw(self, size_hw) -> tuple[int, int]:
        """What the network sees for a picture of ``size_hw``."""
        grow = 2 * (self.pad - self.crop)
        return int(size_hw[0]) + grow, int(size_hw[1]) + grow

    def draw(self, rng: np.random.Generator, batch: int, size_hw) -> np.ndarray:
        """(batch, 8) float32 affine transforms (Keras' ``affine_transform`` layout: each
        maps an output pixel to the input point it samples)."""
        height, width = (side + 2 * self.pad for side in size_hw)
        centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
        matrices = []
        for _ in range(batch):
            shift_x, shift_y = (int(rng.integers(-self.jitter, self.jitter + 1)) for _ in "xy")
            scale = float(self.scales[int(rng.integers(len(self.scales)))])
            angle = math.radians(float(self.angles[int(rng.integers(len(self.angles)))]))
            cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
            offset_x = centre_x - cos * centre_x + sin * centre_y + shift_x
            offset_y = centre_y - sin * centre_x - cos * centre_y + shift_y
            matrices.append([cos, -sin, offset_x, sin, cos, offset_y, 0.0, 0.0])
        return np.asarray(matrices, "float32")

    def apply(self, images, matrices):
        """(N, H, W, C) images in [0, 1] -> (N, H', W', C) transformed (see ``output_hw``)."""
        if self.pad:
            padding = ((0, 0), (self.pad, self.pad), (self.pad, self.pad), (0, 0))
            images = ops.pad(images, padding, constant_values=GREY)
        images = ops.image.affine_transform(
            images, matrices, interpolation="bilinear", fill_mode="constant", fill_value=GREY
        )
        if self.crop:
            images = images[:, self.crop : -self.crop, self.crop : -self.crop, :]
        return images

    def to_recipe(self) -> dict:
        return {
            "pad": self.pad,
            "jitter": self.jitter,
            "scales": list(self.scales),
            "angles": list(self.angles),
            "crop": self.crop,
        }

    @classmethod
    def from_recipe(cls, entry) -> Transforms:
        """The transforms a recipe recorded, checked as data."""
        try:
            transforms = cls(
                int(entry["pad"]),
                int(entry["jitter"]),
                tuple(float(s) for s in entry["scales"]),
                tuple(float(a) for a in entry["angles"]),
                int(entry["crop"]),
            )
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                "recipe: 'transforms' must hold pad, jitter, scales, angles, crop"
            ) from None
        if min(transforms.pad, transforms.jitter, transforms.crop) < 0 or not all(
            0.1 <= s <= 10 for s in transforms.scales
        ):
            raise ValueError("recipe: 'transforms' values are out of range")
        if not transforms.scales or not transforms.angles:
            raise ValueError("recipe: 'transforms' needs at least one scale and one angle")
        return transforms


@dataclasses.dataclass(frozen=True)
class Crops:
    """MACO's robustness transform: each step the network sees, per picture, one random
    square crop resampled (bilinear) to the picture's size. Its side is a fraction of the
    picture's drawn uniformly from ``box``; its centre is drawn around the middle with
    deviation ``spread`` (a fraction of the side) and kept inside the picture.

    horama crops 0.25-0.3 of a 1280 px picture for a 224 px network; kdream's pictures
    are the network's size, so the crops are larger: the network sees the picture's
    features 1.2-2x enlarged, which makes them finer in the picture.
    """

    box: tuple[float, float] = (0.5, 0.85)
    spread: float = 0.15

    kind = "crops"

    def output_hw(self, size_hw) -> tuple[int, int]:
        return int(size_hw[0]), int(size_hw[1])

    def draw(self, rng: np.random.Generator, batch: int, size_hw) -> np.ndarray:
        """(batch, 8) float32 affine transforms, as :meth:`Transforms.draw`."""
        height, width = (int(side) for side in size_hw)
        matrices = []
        for _ in range(batch):
            side = float(rng.uniform(*self.box))
            centre = np.clip(0.5 + self.spread * rng.standard_normal(2), side / 2, 1 - side / 2)
            left, top = (centre[0] - side / 2) * width, (centre[1] - side / 2) * height
            matrices.append([side, 0.0, left, 0.0, side, top, 0.0, 0.0])
        return np.asarray(matrices, "float32")

    def apply(self, images, matrices):
        return ops.image.affine_transform(
            images, matrices, interpolation="bilinear", fill_mode="constant", fill_value=GREY
        )

    def to_recipe(self) -> dict:
        return {"kind": self.kind, "box": list(self.box), "spread": self.spread}

    @classmethod
    def from_recipe(cls, entry) -> Crops:
        try:
            low, high = (float(value) for value in entry["box"])
            crops = cls((low, high), float(entry["spread"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError("recipe: crop 'transforms' must hold box and spread") from None
        if not (0.05 <= low <= high <= 1.0 and 0 <= crops.spread <= 1):
            raise ValueError("recipe: crop 'transforms' values are out of range")
        return crops


def transforms_from_recipe(entry) -> Transforms | Crops:
    """The transforms a recipe recorded (a plain table is :class:`Transforms`: recipes
    before crops existed read back)."""
    if isinstance(entry, dict) and entry.get("kind") == Crops.kind:
        return Crops.from_recipe(entry)
    return Transforms.from_recipe(entry)


def default_transforms(param: str) -> Transforms | Crops:
    """MACO's pictures are seen through random crops; lucid's through its transforms."""
    return Crops() if param == "maco" else Transforms()
