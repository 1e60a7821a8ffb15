"""Neural style transfer (Gatys, Ecker and Bethge, 2015) on the one dream loop.

The picture keeps the *content* of one image (one layer's activations) and takes the
*style* of others (the Gram matrices of several layers), through the terms of
:mod:`kdream.objectives.style`. :class:`StyleTransfer` runs it: Adam steps
(``Dreamer.dream(..., optimizer=Adam())``), octaves from coarse to fine, tiles where the
picture exceeds ``tile_size``, colour preservation by luminance-only transfer.

Example:
    >>> import kdream
    >>> picture = kdream.style(content, style, size=256, steps=50)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
from keras import ops

from kdream.ascent.step import PIXELS, Adam
from kdream.config import INITS as INITS  # its old home: kept importable
from kdream.config import StyleConfig as StyleConfig  # its old home: kept importable
from kdream.objectives.core import Objective
from kdream.objectives.references import OctaveData, ReferenceImage
from kdream.objectives.style import ContentTerm, GramTerm, TotalVariationTerm
from kdream.pixels import resize, rgb_picture, to_model_range

STYLE_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "inceptionv3": ("mixed3", ("activation_2", "activation_4", "mixed0", "mixed2", "mixed4")),
    "vgg16": (
        "block4_conv2",
        ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"),
    ),
    "vgg19": (
        "block4_conv2",
        ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"),
    ),
}
"""Family -> (content layer, style layers shallow to deep), after Gatys et al. for VGG.
Other networks (own models included) follow :func:`default_layers`' catalogue rule."""


def default_layers(spec) -> tuple[str, tuple[str, ...]]:
    """A model's content layer and style layers: :data:`STYLE_DEFAULTS`, else from its
    catalogue (content: the middle layer; style: up to five from shallow to deep).

    Example:
        >>> from kdream.models import model_spec
        >>> default_layers(model_spec("resnet50"))[0]
        'conv4_block3_out'
    """
    if spec.file is None and spec.name in STYLE_DEFAULTS:
        return STYLE_DEFAULTS[spec.name]
    catalogue = list(spec.catalogue)
    count = min(5, len(catalogue))
    style = tuple(
        catalogue[round(i * (len(catalogue) - 1) / max(count - 1, 1))] for i in range(count)
    )
    return catalogue[len(catalogue) // 2], tuple(dict.fromkeys(style))


def style_objective(config: StyleConfig, styles: Sequence[ReferenceImage], spec) -> Objective:
    """``alpha * content + beta * style (+ tv)`` as an objective (the loop maximises
    ``-J``). Style layer weights are normalised to sum 1, the mix likewise.

    Example:
        >>> from kdream.models import model_spec
        >>> painting = ReferenceImage.of(np.zeros((96, 96, 3), np.uint8))
        >>> style_objective(StyleConfig(), [painting], model_spec()).layer_names
        ('mixed3', 'activation_2', 'activation_4', 'mixed0', 'mixed2', 'mixed4')
    """
    if not styles:
        raise ValueError("style: give at least one style image")
    mix = config.style_mix or (1.0,) * len(styles)
    if len(mix) != len(styles):
        raise ValueError(f"style_mix: {len(mix)} weights for {len(styles)} style images")
    if sum(mix) <= 0:
        raise ValueError("style_mix: the weights must not all be 0")
    mix = tuple(m / sum(mix) for m in mix)
    content_layer, style_names = default_layers(spec)
    content_layer = config.content_layer or content_layer
    layers = config.style_layers or tuple((name, 1.0) for name in style_names)
    total = sum(weight for _, weight in layers)
    if total <= 0:
        raise ValueError("style layers: the weights must not all be 0")
    terms = [ContentTerm(content_layer, config.content_weight)]
    terms += [
        GramTerm(name, config.style_weight * weight / total, tuple(styles), mix)
        for name, weight in layers
    ]
    if config.tv_weight:
        terms.append(TotalVariationTerm(PIXELS, config.tv_weight))
    return Objective(tuple(terms))


def luminance(rgb: np.ndarray) -> np.ndarray:
    """The luminance (ITU-R 601 Y, as Pillow's ``YCbCr``) of a uint8 picture, (H, W)."""
    from PIL import Image

    return np.asarray(Image.fromarray(rgb, "RGB").convert("YCbCr"))[..., 0]


def luminance_like(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The style's luminance as a gray RGB picture, its mean and spread matched to the
    content's (Gatys et al. 2016, luminance-only transfer)."""
    style_y, content_y = luminance(style).astype(np.float32), luminance(content)
    matched = (style_y - style_y.mean()) * (content_y.std() / max(style_y.std(), 1e-6))
    matched = np.clip(np.rint(matched + content_y.mean()), 0, 255).astype(np.uint8)
    return np.repeat(matched[..., None], 3, axis=-1)


def with_colours_of(styled: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The styled picture's luminance with the content's colour (Cb, Cr)."""
    from PIL import Image

    y = Image.fromarray(luminance(styled), "L")
    _, cb, cr = Image.fromarray(content, "RGB").convert("YCbCr").split()
    return np.asarray(Image.merge("YCbCr", (y, cb, cr)).convert("RGB"))


def fit_long_side(rgb: np.ndarray, size: int) -> np.ndarray:
    """``rgb`` resized (Lanczos) so that its long side is ``size``."""
    height, width = rgb.shape[:2]
    factor = size / max(height, width)
    target = (max(1, round(height * factor)), max(1, round(width * factor)))
    return rgb if target == (height, width) else resize(rgb, target)


class StyleTransfer:
    """Style transfer with one loaded network: ``run(content, styles)`` returns the picture.

    Example:
        >>> from kdream.dreamer import Dreamer
        >>> dreamer = Dreamer(weights="random", model="vgg19")
        >>> transfer = StyleTransfer(dreamer, StyleConfig(size=96, steps=2))
        >>> painting = np.full((64, 64, 3), 200, np.uint8)
        >>> transfer.run(np.zeros((64, 80, 3), np.uint8), [painting]).shape
        (77, 96, 3)
    """

    def __init__(self, dreamer, config: StyleConfig | None = None):
        self.dreamer = dreamer
        self.config = config or StyleConfig()

    def prepare(self, content, styles):
        """The content at the output size, the style references at the same long side
        (luminance only when colours are preserved) and the objective."""
        content = rgb_picture(content)
        self._check_sizes(content, styles)
        content = fit_long_side(content, self.config.size)
        references = []
        for style in styles:
            reference = style if isinstance(style, ReferenceImage) else ReferenceImage.of(style)
            pixels = fit_long_side(rgb_picture(reference.pixels), self.config.size)
            if self.config.preserve_color:
                pixels = luminance_like(pixels, content)
            references.append(dataclasses.replace(reference, pixels=pixels))
        if self.config.preserve_color:
            content = np.repeat(luminance(content)[..., None], 3, axis=-1)
        objective = style_objective(self.config, references, self.dreamer.spec)
        return content, objective

    def _check_sizes(self, content: np.ndarray, styles) -> None:
        """Images smaller than the layers need are refused (one line), not upsized."""
        from kdream.objectives.references import check_reference_sizes

        unscaled = [s if isinstance(s, ReferenceImage) else ReferenceImage.of(s) for s in styles]
        objective = style_objective(self.config, unscaled, self.dreamer.spec)
        min_side = self.dreamer.ascent_step(objective).min_side
        check_reference_sizes(objective, min_side)
        if min(content.shape[:2]) < min_side:
            raise ValueError(
                f"content image: {content.shape[1]}x{content.shape[0]} px is too small for "
                f"{', '.join(objective.layer_names)} (at least {min_side} px a side)"
            )

    def start_image(self, content: np.ndarray) -> np.ndarray | None:
        """Where the run starts: the content (None) or seeded noise."""
        if self.config.init == "content":
            return None
        rng = np.random.default_rng([self.config.seed, 1])
        return rng.integers(0, 256, content.shape, dtype=np.uint8)

    def run(
        self,
        content,
        styles: Sequence,
        on_progress: Callable | None = None,
        cancel=None,
    ) -> np.ndarray:
        """The styled picture (uint8, long side ``config.size``)."""
        original = rgb_picture(content)
        prepared, objective = self.prepare(original, styles)
        styled = self.dreamer.dream(
            prepared,
            self.config.dream_config(),
            objective=objective,
            on_progress=on_progress,
            cancel=cancel,
            start=self.start_image(prepared),
            optimizer=Adam(),
        )
        if self.config.preserve_color:
            styled = with_colours_of(styled, fit_long_side(original, self.config.size))
        return styled

    def losses(self, picture, content, styles) -> dict[str, float]:
        """J_content, J_style and J_tv of ``picture`` (uint8, the output's size), whole
        (untiled) and unweighted (style layers weighted as configured): to measure a run.

        Example:
            >>> transfer.losses(picture, content, [style])["style"]  # doctest: +SKIP
            0.0123
        """

        unweighted = self.config.replace(content_weight=1.0, style_weight=1.0, tv_weight=1.0)
        prepared, objective = StyleTransfer(self.dreamer, unweighted).prepare(content, styles)
        step = self.dreamer.ascent_step(objective)
        original = to_model_range(prepared)
        data = OctaveData(step, original, 1.0, objective)
        whole = ops.convert_to_tensor(to_model_range(rgb_picture(picture))[None])
        activations = step.features(whole)
        content_data = step.features(ops.convert_to_tensor(original[None]))
        totals = {"content": 0.0, "style": 0.0, "tv": 0.0}
        names = {"content": "content", "gram": "style", "total_variation": "tv"}
        for term in objective.terms:
            entry = dict(data.shared)
            if getattr(term, "reads_tiles", False):
                entry[term.data_keys[0]] = content_data[term.layer]
            value = term.evaluate(activations[term.layer], entry)
            totals[names[term.kind]] -= float(ops.convert_to_numpy(value)[0])
        return totals


def style(content, style_images, *, weights="auto", model=None, **parameters) -> np.ndarray:
    """Paint ``content`` (uint8 RGB) in the style of ``style_images`` (one array or a list).

    ``parameters`` are :class:`StyleConfig` fields (``size``, ``steps``, ``style_weight``,
    ``style_mix``, ``preserve_color``, ...). Loads the network each call; keep a
    :class:`StyleTransfer` to paint many.

    Example:
        >>> import numpy as np, kdream
        >>> photo, painting = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 90, np.uint8)
        >>> kdream.style(photo, painting, weights="random", size=80, steps=1).shape
        (80, 80, 3)
    """
    from kdream.ascent.dreamer import Dreamer

    if isinstance(style_images, (np.ndarray, ReferenceImage)):
        style_images = [style_images]
    transfer = StyleTransfer(Dreamer(weights=weights, model=model), StyleConfig(**parameters))
    return transfer.run(content, list(style_images))
