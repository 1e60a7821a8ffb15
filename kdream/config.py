"""The dream recipe: every parameter of a run in one validated, frozen object.

The defaults ARE the recipe printed in the README; the CLI, the TUI, the API and
the benchmarks all build their runs from a :class:`DreamConfig`. Zoom and video add a
:class:`MotionConfig`, style transfer has its :class:`StyleConfig`. Nothing here imports a
framework: the CLI checks every parameter before Keras loads.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

OCTAVE_MODES = ("detail", "rescale")
REDUCTIONS = ("square", "mean")
LAPLACIAN_LEVELS = (1, 8)
"""Allowed pyramid depths of ``lap:N``; ``lap`` alone means the notebook's 4."""
DEFAULT_LAPLACIAN_LEVELS = 4

DEFAULT_LAYERS = (("mixed3", 1.0), ("mixed5", 1.5))


ZOOM_RECIPE = {"octaves": 1, "steps": 3, "jitter": 16, "smoothing": 1.0}
"""Per-frame defaults of ``kdream zoom``: each frame adds a little to the last dream."""
VIDEO_RECIPE = {"octaves": 2, "steps": 6, "jitter": 16, "smoothing": 1.0}
"""Per-frame defaults of ``kdream video``: enough to dream a fresh frame, fast."""
FLOW_METHODS = ("dis", "farneback", "off")
INITS = ("content", "noise")
"""How a style transfer starts: from the content photo or from noise."""
PRECISIONS = ("float32", "bfloat16", "float16", "auto")
"""What a network can compute in (:mod:`kdream.network.precision`); here, below the network,
so that ``--precision`` and a recipe's ``precision`` are checked before any framework loads."""
VIDEO_CUT_THRESHOLD = 27.0
"""``kdream video``'s shot cuts: PySceneDetect's default for its content detector, the mean
change of hue, saturation and luma (0..255) from one frame to the next that makes a cut."""


def _freeze_layers(layers: Mapping[str, float] | Any) -> tuple[tuple[str, float], ...]:
    items = layers.items() if isinstance(layers, Mapping) else layers
    return tuple((str(name), float(weight)) for name, weight in items)


def _freeze_channels(channels: Any) -> tuple[tuple[str, tuple[int, ...], float], ...]:
    frozen = []
    for entry in channels:
        layer, indices, *rest = entry
        if isinstance(indices, int):
            indices = (indices,)
        weight = float(rest[0]) if rest else 1.0
        frozen.append((str(layer), tuple(int(i) for i in indices), weight))
    return tuple(frozen)


@dataclasses.dataclass(frozen=True)
class DreamConfig:
    """All parameters of a dream. Invalid values raise ``ValueError`` naming the field.

    Example:
        >>> cfg = DreamConfig(layers={"mixed4": 1.0}, steps=5, seed=7)
        >>> cfg.octaves
        4
        >>> cfg.replace(steps=3).steps
        3
    """

    layers: tuple[tuple[str, float], ...] = DEFAULT_LAYERS
    """Layer name -> weight; negative weights suppress a layer."""
    channels: tuple[tuple[str, tuple[int, ...], float], ...] = ()
    """Extra channel terms: (layer, channel indices, weight)."""
    reduction: str = "square"
    """How a layer's activations become a number: mean of squares or plain mean."""
    octaves: int = 4
    octave_scale: float = 1.4
    octave_mode: str = "detail"
    steps: int = 12
    """Gradient-ascent steps per octave."""
    step_size: float = 0.012
    """Per-step change in [-1, 1] pixel units, applied to the mean-abs-normalised gradient."""
    tile_size: int = 512
    tile_batch: int = 4
    """How many equal-size tiles go through the network in one pass. Four: a 1024² dream's
    octaves then take one or two passes a step instead of two to four, a TensorFlow dream
    process 3% faster for ~0.3 GiB more peak memory (bfloat16, 512 px tiles)."""
    jitter: int = 64
    """Largest random roll in pixels (each step), so tile seams move around."""
    smoothing: float = 2.0
    """Final sigma (px) of the gradient smoothing, reached at the end of each octave; 0 = off."""
    seed: int = 0
    normalize: str = "mean"
    """``mean``: the gradient is divided by its mean absolute value; ``lap:N``: first each
    band of an N-level Laplacian pyramid is divided by its RMS (the 2016 notebook's
    ``lap_normalize``). Stored canonically (``lap`` becomes ``lap:4``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", _freeze_layers(self.layers))
        object.__setattr__(self, "channels", _freeze_channels(self.channels))
        # Canonical form, so a recipe written with "lap" replays as the same "lap:4".
        object.__setattr__(self, "normalize", parse_normalize(self.normalize))
        self._validate()

    def _validate(self) -> None:
        if not self.layers and not self.channels:
            raise ValueError("layers: give at least one layer (or a channel objective)")
        for name, weight in self.layers:
            if not math.isfinite(weight):
                raise ValueError(f"layers: weight of {name!r} must be a finite number")
        for layer, indices, weight in self.channels:
            if not indices or min(indices) < 0:
                raise ValueError(f"channels: indices of {layer!r} must be >= 0 and not empty")
            if not math.isfinite(weight):
                raise ValueError(f"channels: weight of {layer!r} must be a finite number")
        check_choice("reduction", self.reduction, REDUCTIONS)
        check_choice("octave_mode", self.octave_mode, OCTAVE_MODES)
        check_range("octaves", self.octaves, 1, 12, integer=True)
        check_range("octave_scale", self.octave_scale, 1.01, 4.0)
        check_range("steps", self.steps, 1, 10_000, integer=True)
        check_range("step_size", self.step_size, 1e-5, 1.0)
        check_range("tile_size", self.tile_size, 75, 4096, integer=True)
        check_range("tile_batch", self.tile_batch, 1, 64, integer=True)
        check_range("jitter", self.jitter, 0, 4096, integer=True)
        check_range("smoothing", self.smoothing, 0.0, 20.0)
        check_range("seed", self.seed, 0, 2**63 - 1, integer=True)

    def replace(self, **changes: Any) -> DreamConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, used in the recipe embedded in output PNGs."""
        return {
            "layers": {name: weight for name, weight in self.layers},
            "channels": [[layer, list(idx), weight] for layer, idx, weight in self.channels],
            **{
                field.name: getattr(self, field.name)
                for field in dataclasses.fields(self)
                if field.name not in ("layers", "channels")
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DreamConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown recipe parameter(s): {', '.join(unknown)}")
        return cls(**dict(data))

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Every layer the objective reads, in first-use order."""
        names = [name for name, _ in self.layers] + [layer for layer, _, _ in self.channels]
        return tuple(dict.fromkeys(names))


def parse_normalize(text: Any) -> str:
    """The canonical normalisation mode: ``mean`` or ``lap:N`` (``ValueError`` naming
    ``normalize`` otherwise). Pure Python: the config must not import Keras.

    Example:
        >>> parse_normalize("lap"), parse_normalize(" LAP:2 "), parse_normalize("mean")
        ('lap:4', 'lap:2', 'mean')
    """
    low, high = LAPLACIAN_LEVELS
    problem = (
        f"normalize: must be mean or lap[:LEVELS] with LEVELS in [{low}, {high}] (got {text!r})"
    )
    if not isinstance(text, str):
        raise ValueError(problem)
    match = re.fullmatch(r"(mean)|lap(?::([0-9]+))?", text.strip().lower())
    if match is None:
        raise ValueError(problem)
    if match.group(1):
        return "mean"
    levels = int(match.group(2) or DEFAULT_LAPLACIAN_LEVELS)
    if not low <= levels <= high:
        raise ValueError(problem)
    return f"lap:{levels}"


def laplacian_levels(normalize: str) -> int:
    """Pyramid depth of a canonical mode: N for ``lap:N``, 0 for ``mean``.

    Example:
        >>> laplacian_levels("lap:3"), laplacian_levels("mean")
        (3, 0)
    """
    return int(normalize.partition(":")[2]) if normalize.startswith("lap:") else 0


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: must be one of {', '.join(allowed)} (got {value!r})")


def check_range(name: str, value: Any, low: float, high: float, integer: bool = False) -> None:
    kind = "an integer" if integer else "a number"
    valid_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not valid_type or not math.isfinite(value):
        raise ValueError(f"{name}: must be {kind} in [{low}, {high}] (got {value!r})")
    if not low <= value <= high:
        raise ValueError(f"{name}: must be in [{low}, {high}] (got {value!r})")


def parse_channel_list(text: str) -> tuple[int, ...]:
    """``0-63`` or ``1,5,9-12`` -> channel indices in the order given (no repeats).

    Example:
        >>> parse_channel_list("3,0-2")
        (3, 0, 1, 2)
    """
    indices: list[int] = []
    for part in (piece.strip() for piece in str(text).split(",")):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if match is None:
            raise ValueError(f"channels: {part!r} in {text!r} is not N or N-M (e.g. 0-15,40)")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise ValueError(f"channels: range {part!r} runs backwards")
        indices.extend(i for i in range(first, last + 1) if i not in indices)
    return tuple(indices)


@dataclasses.dataclass(frozen=True)
class MotionConfig:
    """How frames follow each other (the dream itself is a :class:`DreamConfig`)."""

    frames: int = 120
    """Zoom: how many frames to make (video: every frame of the input)."""
    zoom: float = 1.02
    """Zoom: scale factor from one frame to the next (> 1 flies in)."""
    rotate: float = 0.0
    """Zoom: degrees of rotation per frame."""
    fps: float = 30.0
    blend: float = 0.7
    """Video: share of the previous dream carried into the next frame (0 = independent)."""
    flow: str = "dis"
    """Video: ``dis`` or ``farneback`` optical flow, or ``off`` (plain blending)."""
    cuts: float = VIDEO_CUT_THRESHOLD
    """Video: PySceneDetect's content threshold for a shot cut, where the dream starts
    afresh (0: no cuts)."""

    def __post_init__(self) -> None:
        check_range("frames", self.frames, 1, 100_000, integer=True)
        check_range("zoom", self.zoom, 0.5, 2.0)
        check_range("rotate", self.rotate, -45.0, 45.0)
        check_range("fps", self.fps, 0.1, 240.0)
        check_range("blend", self.blend, 0.0, 1.0)
        check_choice("flow", self.flow, FLOW_METHODS)
        check_range("cuts", self.cuts, 0.0, 255.0)

    ZOOM_FIELDS = ("frames", "zoom", "rotate", "fps")
    VIDEO_FIELDS = ("blend", "flow", "fps", "cuts")

    def to_dict(self, kind: str = "zoom") -> dict:
        """The fields a ``zoom`` or a ``video`` uses (for its recipe)."""
        fields = self.ZOOM_FIELDS if kind == "zoom" else self.VIDEO_FIELDS
        return {name: getattr(self, name) for name in fields}

    @classmethod
    def from_dict(cls, entries: Mapping[str, Any], kind: str = "zoom") -> MotionConfig:
        """The inverse of :meth:`to_dict`: a recipe's motion part (other keys ignored).

        Example:
            >>> MotionConfig.from_dict({"blend": 0.5, "flow": "off", "fps": 24, "cuts": 0,
            ...                         "frame": 3}, "video").blend
            0.5
        """
        fields = cls.ZOOM_FIELDS if kind == "zoom" else cls.VIDEO_FIELDS
        return cls(**{name: entries[name] for name in fields})


@dataclasses.dataclass(frozen=True)
class StyleConfig:
    """Every parameter of a style transfer (layers empty: the model's defaults).

    Example:
        >>> StyleConfig(size=256, steps=50).octaves
        2
    """

    content_layer: str = ""
    style_layers: tuple[tuple[str, float], ...] = ()
    """Layer -> weight (their sum is normalised to 1)."""
    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 10.0
    style_mix: tuple[float, ...] = ()
    """One weight per style image (empty: equal weights)."""
    size: int = 512
    """Long side of the output, in pixels."""
    steps: int = 150
    """Adam steps per octave."""
    octaves: int = 2
    octave_scale: float = 2.0
    learning_rate: float = 0.02
    """Adam's step in [-1, 1] pixel units."""
    tile_size: int = 512
    tile_batch: int = 2
    init: str = "content"
    preserve_color: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        layers = self.style_layers
        items = layers.items() if isinstance(layers, Mapping) else layers
        object.__setattr__(self, "style_layers", tuple((str(n), float(w)) for n, w in items))
        object.__setattr__(self, "style_mix", tuple(float(m) for m in self.style_mix))
        for name in ("content_weight", "style_weight", "tv_weight"):
            check_range(name, getattr(self, name), 0.0, 1e12)
        for name, weight in self.style_layers:
            check_range(f"style layer {name}", weight, 0.0, 1e12)
        for weight in self.style_mix:
            check_range("style_mix", weight, 0.0, 1e12)
        check_range("size", self.size, 32, 8192, integer=True)
        check_range("steps", self.steps, 1, 10_000, integer=True)
        check_range("octaves", self.octaves, 1, 12, integer=True)
        check_range("octave_scale", self.octave_scale, 1.01, 4.0)
        check_range("learning_rate", self.learning_rate, 1e-5, 1.0)
        check_range("tile_size", self.tile_size, 75, 4096, integer=True)
        check_range("tile_batch", self.tile_batch, 1, 64, integer=True)
        check_range("seed", self.seed, 0, 2**63 - 1, integer=True)
        check_choice("init", self.init, INITS)
        if not isinstance(self.preserve_color, bool):
            raise ValueError("preserve_color: must be true or false")

    def replace(self, **changes) -> StyleConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["style_layers"] = {name: weight for name, weight in self.style_layers}
        data["style_mix"] = list(self.style_mix)
        return data

    @classmethod
    def from_dict(cls, data) -> StyleConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        if not isinstance(data, Mapping):
            raise ValueError("recipe: 'style' must be an object")
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown style parameter(s): {', '.join(unknown)}")
        data = dict(data)
        if "style_layers" in data and not isinstance(data["style_layers"], Mapping):
            raise ValueError("recipe: 'style_layers' must be an object")
        return cls(**data)

    def dream_config(self) -> DreamConfig:
        """The run as the dream loop sees it: no jitter, no smoothing, octaves rescaled."""
        return DreamConfig(
            octaves=self.octaves,
            octave_scale=self.octave_scale,
            octave_mode="rescale",
            steps=self.steps,
            step_size=self.learning_rate,
            tile_size=self.tile_size,
            tile_batch=self.tile_batch,
            jitter=0,
            smoothing=0.0,
            seed=self.seed,
        )
