"""How a visualisation is rendered: everything but the objective and the model, as one
frozen value that recipes record and replay.

Example:
    >>> settings = VisualizeSettings(size=96, param="maco")
    >>> settings.transforms.kind
    'crops'
    >>> VisualizeSettings.from_dict(settings.to_dict()) == settings
    True
"""

from __future__ import annotations

import dataclasses
import math

from kdream.techniques.visualize.param import PARAMETERISATIONS, ImageParam
from kdream.techniques.visualize.transforms import (
    Crops,
    Transforms,
    default_transforms,
    transforms_from_recipe,
)

LEARNING_RATES = {"fft": 0.05, "maco": 0.1, "pixels": 0.05}
"""Adam's default step per parameterisation: MACO's parameters are phases (radians)."""

DEFAULT_CLOSENESS = 100.0
"""Feature accentuation's default pull toward the photo: the weight of the mean squared
pixel difference (pixels in [0, 1]) against the objective."""


@dataclasses.dataclass(frozen=True)
class VisualizeSettings:
    """How a visualisation is rendered (everything but the objective and the model)."""

    size: int = 224
    """The picture's side; with a photo to start from, its longer side."""
    steps: int = 256
    seed: int = 0
    param: str = "fft"
    """``fft`` (lucid), ``maco`` (phase only, natural magnitudes) or ``pixels``."""
    decay_power: float = 1.0
    learning_rate: float | None = None
    """None: the parameterisation's own (:data:`LEARNING_RATES`)."""
    pre_activation: bool = True
    """Optimise each layer's output before its ReLU (lucid's ``_pre_relu``)."""
    batch: int = 1
    """Images per objective (different seeds of noise; with a diversity term, different
    pictures). A channel batch sets it to its number of channels."""
    transforms: Transforms | Crops | None = None
    """None: the parameterisation's own (:func:`default_transforms`)."""
    alpha: bool = False
    """Also sum the magnitude of the objective's gradient on the pixels over the steps:
    MACO's importance map, saved as the picture's alpha channel."""
    closeness: float = DEFAULT_CLOSENESS
    """With a photo to start from: how strongly the picture is held near it."""

    def __post_init__(self):
        if self.param not in PARAMETERISATIONS:
            raise ValueError(f"param: must be one of {', '.join(PARAMETERISATIONS)}")
        for name in ("size", "steps", "batch"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name}: must be a positive integer")
        if self.learning_rate is None:
            object.__setattr__(self, "learning_rate", LEARNING_RATES.get(self.param, 0.05))
        if not 0 < self.learning_rate <= 10:
            raise ValueError("learning_rate: must be in (0, 10]")
        if not (math.isfinite(self.closeness) and 0 <= self.closeness <= 1e7):
            raise ValueError("closeness: must be a number in [0, 10000000]")
        if self.transforms is None:
            object.__setattr__(self, "transforms", default_transforms(self.param))

    def replace(self, **changes) -> VisualizeSettings:
        """A copy with ``changes``; a new ``param`` brings its own default transforms and
        learning rate unless those were chosen."""
        new_param = changes.get("param", self.param)
        if "transforms" not in changes and self.transforms == default_transforms(self.param):
            changes["transforms"] = default_transforms(new_param)
        if "learning_rate" not in changes and self.learning_rate == LEARNING_RATES[self.param]:
            changes["learning_rate"] = LEARNING_RATES[new_param]
        return dataclasses.replace(self, **changes)

    def image_param(self, channels: int = 3, size_hw=None) -> ImageParam:
        """The parameterisation of pictures of ``channels`` (the network's: 1 or 3), square
        unless ``size_hw`` is given (a photo's shape)."""
        size_hw = size_hw or (self.size, self.size)
        return ImageParam.create(self.param, size_hw, self.decay_power, channels)

    def to_dict(self) -> dict:
        return {
            "size": self.size,
            "steps": self.steps,
            "seed": self.seed,
            "param": self.param,
            "decay_power": self.decay_power,
            "learning_rate": self.learning_rate,
            "pre_activation": self.pre_activation,
            "batch": self.batch,
            "transforms": self.transforms.to_recipe(),
            "alpha": self.alpha,
            "closeness": self.closeness,
        }

    @classmethod
    def from_dict(cls, entry) -> VisualizeSettings:
        """Settings a recipe recorded, checked as data."""
        if not isinstance(entry, dict):
            raise ValueError("recipe: 'visualize' must be a table of settings")
        try:
            return cls(
                size=_recipe_int(entry, "size"),
                steps=_recipe_int(entry, "steps"),
                seed=_recipe_int(entry, "seed", minimum=0),
                param=str(entry["param"]),
                decay_power=float(entry["decay_power"]),
                learning_rate=float(entry["learning_rate"]),
                pre_activation=bool(entry["pre_activation"]),
                batch=_recipe_int(entry, "batch"),
                transforms=transforms_from_recipe(entry["transforms"]),
                alpha=bool(entry.get("alpha", False)),
                closeness=float(entry.get("closeness", DEFAULT_CLOSENESS)),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"recipe: 'visualize' lacks a valid {error}") from None


def _recipe_int(entry: dict, key: str, minimum: int = 1) -> int:
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"recipe: 'visualize' {key} must be an integer >= {minimum}")
    return value
