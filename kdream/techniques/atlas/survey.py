"""One pass over the photos for every chosen layer at once: each photo is cut into tiles as
a dream cuts it (:class:`~kdream.ascent.tiling.TileLayout`, so a large photo fits), its
tiles go through the network as one batch, and every layer's channels are accumulated
(:mod:`~kdream.techniques.atlas.statistics`).

Example:
    >>> dreamer = Dreamer(weights="random")                                    # doctest: +SKIP
    >>> found = survey(dreamer, [photo], {"mixed3": range(288)})               # doctest: +SKIP
    >>> found["mixed3"].dead                                                   # doctest: +SKIP
    ()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from keras import ops

from kdream.ascent.dreamer import DreamCancelled, cancel_requested
from kdream.ascent.tiling import TileLayout, axis_ownership
from kdream.models.extractor import FeatureExtractor
from kdream.pixels import resize, to_model_range
from kdream.techniques.atlas import receptive
from kdream.techniques.atlas.statistics import TOP, LayerAccumulator, LayerStatistics, spacing_for

TILE_PX = 512
"""Tiles of a photo (one batch per photo); a network of one input size uses that size."""


def survey(
    dreamer,
    photos: Iterable[np.ndarray],
    choices: dict[str, Iterable[int]],
    photo_count: int,
    tile_px: int = TILE_PX,
    on_photo: Callable[[int], None] | None = None,
    cancel=None,
) -> dict[str, LayerStatistics]:
    """Statistics of the chosen channels (``{layer: channel indices}``) over ``photos``
    (uint8 pictures, read as the network reads them: see :func:`network_view`).

    ``on_photo(done)`` is called after each photo; ``cancel`` is checked between photos.
    """
    layers = list(choices)
    extractor = FeatureExtractor.build(layers, base=dreamer.model, spec=dreamer.spec)
    accumulators, fields = None, {}
    per_photo = -(-TOP // max(1, photo_count))  # many photos: examples from many of them
    for index, photo in enumerate(photos):
        if cancel_requested(cancel):
            raise DreamCancelled("atlas cancelled")
        picture = network_view(dreamer, extractor, photo)
        layout = tile_layout(extractor, picture.shape[:2], tile_px)
        if accumulators is None:
            probe = picture[: layout.tile_hw[0], : layout.tile_hw[1]]
            fields = {n: f[0] for n, f in receptive.measure(dreamer, layers, probe).items()}
            accumulators = {
                name: LayerAccumulator(
                    name,
                    choices[name],
                    spacing_for(fields[name], _stride(extractor, name, layout.tile_hw)),
                    per_photo,
                )
                for name in layers
            }
        tiles = layout.cut(ops.convert_to_tensor(to_model_range(picture)))
        activations = extractor.activations(tiles)
        starts = [(y, x) for y in layout.starts_y for x in layout.starts_x]
        owned = _owned_ranges(layout)
        for name, maps in activations.items():
            maps = ops.convert_to_numpy(ops.cast(maps, "float32"))
            accumulators[name].add(index, maps, layout.tile_hw, starts, owned)
        if on_photo is not None:
            on_photo(index + 1)
    if accumulators is None:
        raise ValueError("atlas: no photos to survey")
    total = {name: int(dreamer.model.get_layer(name).output.shape[-1]) for name in layers}
    return {name: acc.finish(total[name], fields[name]) for name, acc in accumulators.items()}


def surveyed_pictures(dreamer, layers, photos: Iterable[np.ndarray]):
    """Each photo as :func:`survey` read it (where its examples' centres are)."""
    extractor = FeatureExtractor.build(list(layers), base=dreamer.model, spec=dreamer.spec)
    for photo in photos:
        yield network_view(dreamer, extractor, photo)


def network_view(dreamer, extractor, photo: np.ndarray) -> np.ndarray:
    """The photo as the network reads it: its channels (gray or RGB), and enlarged when a
    side is below what the network takes (a network of one input size: that size)."""
    smallest = extractor.fixed_hw or (extractor.min_side(),) * 2
    height, width = photo.shape[:2]
    scale = max(smallest[0] / height, smallest[1] / width, 1.0)
    if scale > 1.0:
        size = (max(smallest[0], round(height * scale)), max(smallest[1], round(width * scale)))
        photo = resize(photo[..., 0] if photo.ndim == 3 and photo.shape[-1] == 1 else photo, size)
    return dreamer.pixels_for_model(photo)


def tile_layout(extractor, image_hw, tile_px: int) -> TileLayout:
    if extractor.fixed_hw is not None:
        return TileLayout.for_image(image_hw, extractor.fixed_hw, extractor.fixed_hw)
    return TileLayout.for_image(image_hw, tile_px, extractor.min_side())


def _owned_ranges(layout: TileLayout):
    own_y = axis_ownership(layout.starts_y, layout.tile_hw[0], layout.image_hw[0])
    own_x = axis_ownership(layout.starts_x, layout.tile_hw[1], layout.image_hw[1])
    return [(y, x) for y in own_y for x in own_x]


def _stride(extractor, layer: str, tile_hw) -> tuple[float, float]:
    height, width = extractor.spatial_size(tuple(tile_hw))[layer]
    return tile_hw[0] / height, tile_hw[1] / width


def layer_is_spatial(model, layer: str) -> bool:
    """Whether a layer has maps (batch, h, w, channels) an atlas can survey."""
    return len(model.get_layer(layer).output.shape) == 4


def spatial_layers(model, names) -> list[str]:
    return [name for name in names if layer_is_spatial(model, name)]
