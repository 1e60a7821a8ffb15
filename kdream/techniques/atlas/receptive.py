"""How much of a photo one position of a layer sees, and the crops of the photos that show
it: the dataset examples of an atlas.

A deep layer's theoretical receptive field is most of the picture (InceptionV3's mixed4
sees 300+ px), but the pixels that matter gather near its centre (Luo et al., 2016,
"effective receptive field"). The side of a crop is therefore measured, once per layer:
the gradient of one central position (all its channels) with respect to a photo, and the
smallest centred square that holds :data:`MASS` of its magnitude.

Example:
    >>> square_holding(np.ones((9, 9)), (4, 4), 1.0)
    9
    >>> crop_box((50, 10), 20, (100, 100))
    (40, 0, 60, 20)
"""

from __future__ import annotations

import numpy as np
from keras import ops
from PIL import Image

from kdream import backend
from kdream.models.extractor import FeatureExtractor
from kdream.network.layers import as_list
from kdream.pixels import to_model_range

MASS = 0.9
"""Share of the gradient's magnitude inside the receptive field."""


def measure(dreamer, layers, probe: np.ndarray) -> dict[str, tuple[int, tuple[float, float]]]:
    """``{layer: (receptive field side in px, stride (y, x) in px)}`` for ``layers``,
    measured on ``probe`` (a uint8 picture the size of the photos' tiles).

    The layers are read before their ReLU: a position whose every channel is off on the
    probe still has a gradient there. One compiled pull-back serves every layer: which
    position of which layer is pulled back is data (a one-hot cotangent per layer, zeros
    for the others).
    """
    extractor = FeatureExtractor.build(
        layers, base=dreamer.model, spec=dreamer.spec, pre_activation=True
    )
    pixels = ops.convert_to_tensor(to_model_range(dreamer.pixels_for_model(probe))[None])
    maps = [ops.convert_to_numpy(m) for m in extractor.activations(pixels).values()]

    def weighted(inputs, *selections):
        outputs = as_list(extractor.model(inputs, training=False))
        return sum(ops.sum(ops.cast(o, "float32") * s) for o, s in zip(outputs, selections))

    pull_back = backend.vector_jacobian(weighted)
    found = {}
    for index, name in enumerate(extractor.layer_names):
        height, width = (int(side) for side in maps[index].shape[1:3])
        stride = (probe.shape[0] / height, probe.shape[1] / width)
        centre = (height // 2, width // 2)
        selections = [np.zeros(m.shape, np.float32) for m in maps]
        selections[index][0, centre[0], centre[1], :] = 1.0
        gradient = pull_back(
            pixels, ops.ones((), "float32"), *(ops.convert_to_tensor(s) for s in selections)
        )
        magnitude = np.abs(np.asarray(ops.convert_to_numpy(gradient), np.float64)[0]).sum(-1)
        in_pixels = (int((centre[0] + 0.5) * stride[0]), int((centre[1] + 0.5) * stride[1]))
        side = square_holding(magnitude, in_pixels, MASS)
        found[name] = (max(side, round(max(stride))), stride)
    return found


def square_holding(magnitude: np.ndarray, centre: tuple[int, int], mass: float) -> int:
    """Side of the smallest square centred on ``centre`` holding ``mass`` of the total
    (clipped at the picture's borders; the whole picture when nothing is found)."""
    total = float(magnitude.sum())
    height, width = magnitude.shape
    if total <= 0:
        return max(height, width)
    for radius in range(max(height, width)):
        top, left = max(0, centre[0] - radius), max(0, centre[1] - radius)
        inside = magnitude[top : centre[0] + radius + 1, left : centre[1] + radius + 1].sum()
        if inside >= mass * total:
            return 2 * radius + 1
    return max(height, width)


def crop_box(centre: tuple[int, int], side: int, photo_hw) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of a ``side`` square around ``centre``, moved inside the
    photo (and no larger than it)."""
    height, width = photo_hw
    side_y, side_x = min(side, height), min(side, width)
    top = int(np.clip(centre[0] - side_y // 2, 0, height - side_y))
    left = int(np.clip(centre[1] - side_x // 2, 0, width - side_x))
    return top, left, top + side_y, left + side_x


def crop(photo: np.ndarray, centre, side: int, shown_px: int) -> np.ndarray:
    """The square of ``photo`` a unit at ``centre`` sees, resized to ``shown_px``."""
    top, left, bottom, right = crop_box(centre, side, photo.shape[:2])
    piece = np.ascontiguousarray(photo[top:bottom, left:right])
    image = Image.fromarray(piece[..., 0] if piece.shape[-1] == 1 else piece)
    resample = Image.Resampling.LANCZOS if image.width > shown_px else Image.Resampling.NEAREST
    return np.asarray(image.resize((shown_px, shown_px), resample))
