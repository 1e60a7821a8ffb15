"""The pictures of an atlas: every chosen channel's visualisation, rendered as channel
batches (one compiled step per layer: which channel each picture shows is data), a few
diverse views of each channel, and a classifier's classes with the probability the model
gives each picture.

Each picture comes with the recipe that renders it again: the batch's recipe plus which
picture of the batch it is (``pick``), so ``kdream visualize --recipe`` redraws the very
picture (a channel rendered alone would draw other noise and transforms).

Example:
    >>> visualizer = Visualizer(weights="random")
    >>> settings = VisualizeSettings(size=96, steps=2)
    >>> [(c, p.shape) for c, p, _ in channel_pictures(visualizer, "mixed3", (4, 9), settings)]
    [(4, (96, 96, 3)), (9, (96, 96, 3))]
"""

from __future__ import annotations

import numpy as np
from keras import ops

from kdream import recipe as recipe_parts
from kdream.models.extractor import FeatureExtractor
from kdream.objectives.visual import channel_batch, diversity
from kdream.pixels import resize, to_model_range
from kdream.techniques.visualize.render import Visualizer
from kdream.techniques.visualize.settings import VisualizeSettings

CHANNELS_PER_BATCH = 8
"""Channels rendered together: large enough to amortise each step's overhead, small enough
that a cancelled batch loses little work."""

DIVERSITY_WEIGHT = 100.0
"""lucid's ``channel - 1e2 * diversity``, as ``kdream visualize --diversity``."""


def batches(channels, size: int = CHANNELS_PER_BATCH) -> list[tuple[int, ...]]:
    """The chosen channels cut into render batches, in order (the cut is part of every
    picture's recipe, so it depends on nothing but the channels and ``size``).

    Example:
        >>> batches(range(5), 2)
        [(0, 1), (2, 3), (4,)]
    """
    channels = tuple(int(c) for c in channels)
    return [channels[i : i + size] for i in range(0, len(channels), size)]


def channel_pictures(
    visualizer: Visualizer, layer: str, batch, settings: VisualizeSettings, **render
) -> list[tuple[int, np.ndarray, dict]]:
    """(channel, picture, recipe) for each channel of one render batch."""
    objective = channel_batch(layer, list(batch))
    pictures = visualizer.render(objective, settings, **render)
    recipe = visualizer.recipe(objective, settings)
    return [
        (channel, visualizer.picture_of(objective, pictures[k : k + 1]), picked(recipe, k))
        for k, channel in enumerate(batch)
    ]


def diverse_pictures(
    visualizer: Visualizer, layer: str, channel: int, settings: VisualizeSettings, count: int,
    **render,
) -> tuple[list[np.ndarray], dict]:  # fmt: skip
    """``count`` different pictures of one channel (lucid's diversity term), and the
    recipe that renders them again as a sheet."""
    objective, settings = _diverse(layer, channel, settings, count)
    pictures = visualizer.render(objective, settings, **render)
    views = [visualizer.picture_of(objective, pictures[k : k + 1]) for k in range(len(pictures))]
    return views, visualizer.recipe(objective, settings)


def diverse_recipe(visualizer: Visualizer, layer, channel, settings, count: int) -> dict:
    """The recipe :func:`diverse_pictures` gives its sheet, without rendering."""
    return visualizer.recipe(*_diverse(layer, channel, settings, count))


def _diverse(layer: str, channel: int, settings: VisualizeSettings, count: int):
    objective = channel_batch(layer, [channel]) + diversity(layer, DIVERSITY_WEIGHT)
    return objective, settings.replace(batch=count)


def class_pictures(
    visualizer: Visualizer, units, settings: VisualizeSettings, **render
) -> list[tuple[int, np.ndarray, dict, float]]:
    """(unit, picture, recipe, probability) for classes of a model with a head: each
    picture maximises its class's logit; the probability is what the model then gives
    that class for the picture."""
    head = visualizer.head_layer
    if head is None:
        raise ValueError("atlas: this model has no classification head")
    objective = channel_batch(head, list(units), cosine_power=0.0)
    pictures = visualizer.render(objective, settings, **render)
    recipe = visualizer.recipe(objective, settings)
    chances = probabilities(visualizer, pictures)
    return [
        (
            unit,
            visualizer.picture_of(objective, pictures[k : k + 1]),
            picked(recipe, k),
            float(chances[k, unit]),
        )
        for k, unit in enumerate(units)
    ]


def probabilities(visualizer: Visualizer, pictures: np.ndarray) -> np.ndarray:
    """(N, classes) probabilities the model gives uint8 pictures: its outputs when they
    are a distribution already (a softmax head), else their softmax."""
    dreamer, head = visualizer.dreamer, visualizer.head_layer
    extractor = FeatureExtractor.build([head], base=dreamer.model, spec=dreamer.spec)
    fixed = dreamer.spec.fixed_hw  # a network of one input size sees the picture at it
    flat = [p[..., 0] if p.shape[-1] == 1 else p for p in pictures[..., : visualizer.channels]]
    seen = [p if fixed is None else resize(p, fixed) for p in flat]
    pixels = np.stack([to_model_range(dreamer.pixels_for_model(p)) for p in seen])
    outputs = extractor.activations(ops.convert_to_tensor(pixels))[head]
    values = np.asarray(ops.convert_to_numpy(ops.cast(outputs, "float32")), np.float64)
    is_distribution = values.min() >= 0 and np.allclose(values.sum(axis=1), 1.0, atol=1e-3)
    if is_distribution:
        return values
    shifted = np.exp(values - values.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def picked(recipe: dict, index: int) -> dict:
    """The recipe of picture ``index`` of a batch render."""
    return recipe_parts.with_parts(recipe, pick={"picture": int(index)})
