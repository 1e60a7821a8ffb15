"""Adam, the optimiser of runs that are not DeepDream's normalised steps: style transfer
(on pixels) and feature visualisation (on an image's parameters). Written in ``keras.ops``,
so its state stays on the device; the callers compile it.

Example:
    >>> from keras import ops
    >>> x, m, v = adam_ascent(ops.zeros(3), ops.ones(3), ops.zeros(3), ops.zeros(3), 0.1, 1.0)
    >>> [round(float(value), 4) for value in ops.convert_to_numpy(x)]
    [0.1, 0.1, 0.1]
"""

from __future__ import annotations

from keras import ops

BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8
"""Kingma and Ba's defaults."""


def adam_ascent(parameters, gradient, first, second, rate, iteration):
    """One Adam step *up* the objective (``gradient`` of what is maximised):
    ``(parameters, first moment, second moment)``. ``iteration`` counts from 1; ``rate`` and
    ``iteration`` are tensors or numbers (tensors keep one compiled step for every step)."""
    first = BETA1 * first + (1 - BETA1) * gradient
    second = BETA2 * second + (1 - BETA2) * ops.square(gradient)
    corrected = rate * ops.sqrt(1 - ops.power(BETA2, iteration)) / (1 - ops.power(BETA1, iteration))
    return parameters + corrected * first / (ops.sqrt(second) + EPSILON), first, second
