"""Laplacian-pyramid normalisation of the gradient, on the device, in ``keras.ops``.

The 2016 DeepDream notebook's ``lap_normalize``: split the gradient into frequency
bands, divide each band by its RMS, merge them back. A raw gradient is dominated by
fine detail; after this every octave of frequencies gets an equal share of the step,
so broad, colourful structures grow too ("smooth and colourful visuals at low cost").

The pyramid is built from one 5-tap binomial blur (1 4 6 4 1)/16 per axis with zero
padding as explicit shifted sums, so every backend computes the same numbers (no
convolution padding rules involved). Downsampling keeps every second sample;
upsampling inserts zeros and blurs with the kernel doubled per axis (4x in 2-D, which
restores the mean). A band is what the blurred coarser level misses, so
``laplacian_merge(laplacian_split(x, n)) == x`` up to float rounding by construction.
Heights and widths may be odd (bands halve rounding up; the coarsest may be 1 px)
and need not be known while tracing (TensorFlow's shape-free compilation).

Example:
    >>> image = ops.ones((37, 20, 3))
    >>> [tuple(band.shape) for band in laplacian_split(image, 2)]
    [(10, 5, 3), (19, 10, 3), (37, 20, 3)]
    >>> tuple(laplacian_normalize(image, levels=2).shape)
    (37, 20, 3)
"""

from __future__ import annotations

from keras import ops

BINOMIAL = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)
"""The notebook's separable 5-tap kernel, per axis."""

RMS_EPSILON = 1e-10
"""Floor of a band's RMS, so an all-zero gradient stays zero instead of NaN."""


def laplacian_split(image, levels: int) -> list:
    """Bands of an (H, W, C) image, coarsest first: the ``levels``-times downsampled
    image, then ``levels`` detail bands from coarse to fine (the last has the image's
    shape)."""
    bands = []
    for _ in range(levels):
        image, detail = _split_once(image)
        bands.append(detail)
    bands.append(image)
    return bands[::-1]


def laplacian_merge(bands) -> object:
    """Inverse of :func:`laplacian_split`: upsample the coarse image and add each band."""
    image = bands[0]
    for detail in bands[1:]:
        image = _upsample(image, detail) + detail
    return image


def laplacian_normalize(image, levels: int = 4):
    """The image with every band of its ``levels``-level pyramid scaled to RMS 1.

    ``levels`` is a Python int: it sets how many ops are traced.
    """
    return laplacian_merge([normalize_rms(band) for band in laplacian_split(image, levels)])


def normalize_rms(band):
    """``band`` divided by its root mean square (over all pixels and channels)."""
    rms = ops.sqrt(ops.mean(ops.square(band)))
    return band / ops.maximum(rms, RMS_EPSILON)


def _split_once(image):
    """(coarse, detail): the blurred image at half size, and what its upsampled
    version misses of ``image``."""
    coarse = _blur(image)[::2, ::2]
    return coarse, image - _upsample(coarse, image)


def _upsample(coarse, like):
    """``coarse`` at ``like``'s height and width: zeros between the samples, then the
    blur with a doubled kernel per axis (the zeros halve each axis' mean)."""
    spread = _insert_zeros(_insert_zeros(coarse, 0, ops.shape(like)[0]), 1, ops.shape(like)[1])
    return _blur(spread, gain=2.0)


def _insert_zeros(image, axis: int, length):
    """Samples of ``image`` at the even indices of ``axis``, zeros between, cropped to
    ``length`` (an odd length has one zero too many)."""
    pairs = ops.stack([image, ops.zeros_like(image)], axis=axis + 1)
    shape = ops.shape(image)
    # -1 for the doubled axis: the other sizes may be tensors while tracing.
    merged = ops.reshape(pairs, (*shape[:axis], -1, *shape[axis + 1 :]))
    return merged[:length] if axis == 0 else merged[:, :length]


def _blur(image, gain: float = 1.0):
    """Separable binomial blur of an (H, W, C) image, zero padded (``same`` size)."""
    return _blur_axis(_blur_axis(image, 1, gain), 0, gain)


def _blur_axis(image, axis: int, gain: float):
    # Shifted sums over the zero-padded axis; the slices end relative to the end, so no
    # size is needed as a number.
    taps = len(BINOMIAL)
    radius = taps // 2
    pad_width = [[0, 0]] * 3
    pad_width[axis] = [radius, radius]
    padded = ops.pad(image, pad_width)
    total = 0
    for tap, weight in enumerate(BINOMIAL):
        end = tap - taps + 1 or None
        window = padded[tap:end] if axis == 0 else padded[:, tap:end]
        total = total + (weight * gain) * window
    return total
