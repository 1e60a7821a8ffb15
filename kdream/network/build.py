"""Building networks the same way every time: canonical layer names, weights that start as
host zeros, the keras.applications families without their heads, and shapes from shape
inference alone.

Example:
    >>> model = new_inception()
    >>> spatial_size(model, ["mixed5"], (512, 512))
    {'mixed5': (30, 30)}
"""

from __future__ import annotations

import collections
import contextlib
import hashlib

import keras
import numpy as np
from keras import ops

from kdream.network import zoo
from kdream.network.layers import as_list

MIN_LAYER_EXTENT = 2
"""A layer must keep at least this many positions a side, or its statistics degenerate."""


MODEL_MIN_SIDE = zoo.FAMILIES["inceptionv3"].min_input_side
"""Smallest input side InceptionV3 accepts."""


@contextlib.contextmanager
def canonical_layer_names():
    """Build Keras layers with the names a fresh process would give them.

    Keras numbers auto-generated layer names process-wide: ``conv2d``, ``conv2d_1``, ...
    in a fresh process, ``conv2d_94`` ... once another InceptionV3 exists (as after a
    weights fetch). TensorFlow's graph optimiser (grappler's arithmetic optimiser)
    orders the terms of the gradient's sums by node name, so the second network summed
    in another order and dreamed another picture from the same recipe. Numbering from
    zero while kdream builds gives the same names, hence the same graph and the same
    picture, whatever the process did before; the caller's counter comes back after.

    Example:
        >>> with canonical_layer_names():
        ...     keras.layers.Dense(2).name
        'dense'
    """
    from keras.src.backend.common import global_state  # the counter has no public API

    saved = global_state.get_global_attribute("object_name_uids")
    global_state.set_global_attribute("object_name_uids", collections.defaultdict(int))
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids", saved)


@contextlib.contextmanager
def weights_set_later():
    """Build layers whose every weight is assigned right after: they start as host zeros.

    A Keras initialiser runs on the backend; on JAX each random one of a new shape is an
    XLA compilation, and building InceptionV3 took 9.0 s of a 12 s start-up on 2 cores
    (1.1 s with zeros made by numpy). kdream loads, converts or draws every weight of a
    family network after building it (:meth:`ModelSpec.build`), or reads only its shapes.

    Example:
        >>> with weights_set_later():
        ...     layer = keras.layers.Dense(2)
        ...     layer.build((None, 3))
        >>> float(keras.ops.sum(keras.ops.abs(layer.kernel)))
        0.0
    """
    add_weight = keras.layers.Layer.add_weight

    def add_host_zeros(layer, *args, **kwargs):
        if len(args) >= 2:  # (shape, initializer, ...) given by position
            args = (args[0], _host_zeros, *args[2:])
        else:
            kwargs["initializer"] = _host_zeros
        return add_weight(layer, *args, **kwargs)

    # Patched on the class for the duration of one build: Keras applications take no
    # initialiser arguments. kdream builds networks from one thread at a time.
    keras.layers.Layer.add_weight = add_host_zeros
    try:
        yield
    finally:
        keras.layers.Layer.add_weight = add_weight


def _host_zeros(shape, dtype=None):
    return np.zeros(shape, dtype=keras.backend.standardize_dtype(dtype or "float32"))


def new_family_network(name: str, weights=None, up_to: str | None = None) -> keras.Model:
    """A family's network without its head, for any image size, canonically named.

    Without ``weights`` its weights are zeros, to be set by the caller (see
    :func:`weights_set_later`); with ``weights`` Keras loads them. ``up_to`` (a layer
    name; only without ``weights``) stops the build once that layer exists: the network
    ends there, and the layers after it are never made (InceptionV3 to ``mixed5``: 165
    of 311 layers, half the build and weights time).
    """
    family = zoo.FAMILIES[name]
    with canonical_layer_names(), weights_set_later():
        with _ending_at(up_to) as ending:
            return getattr(keras.applications, family.builder)(
                include_top=False, weights=weights, input_shape=(None, None, 3)
            )
        (image,) = ending.inputs  # keras.applications networks have one input
        return keras.Model(image, ending.output, name=f"{family.name}_to_{up_to}")


class _Ending(Exception):
    """Raised inside a family's builder once the layer it should end at has run."""

    def __init__(self):
        super().__init__("the network ends here")
        self.inputs: list = []
        self.output = None


@contextlib.contextmanager
def _ending_at(layer_name: str | None):
    """Within, calling the layer named ``layer_name`` ends a keras.applications builder:
    the :class:`_Ending` it raises (caught here) holds that layer's output and the
    network's input. Keras has no hook for this, so ``Layer.__call__`` and
    ``InputLayer.__init__`` are patched on their classes for the one build, as
    :func:`weights_set_later` patches ``add_weight``."""
    ending = _Ending()
    if layer_name is None:
        yield ending
        return
    call, make_input = keras.layers.Layer.__call__, keras.layers.InputLayer.__init__

    def calling(layer, *args, **kwargs):
        outputs = call(layer, *args, **kwargs)
        if layer.name == layer_name:
            ending.output = outputs
            raise ending
        return outputs

    def making_input(layer, *args, **kwargs):
        make_input(layer, *args, **kwargs)
        ending.inputs.append(layer.output)

    keras.layers.Layer.__call__, keras.layers.InputLayer.__init__ = calling, making_input
    try:
        yield ending
    except _Ending:
        pass
    finally:
        keras.layers.Layer.__call__, keras.layers.InputLayer.__init__ = call, make_input
    if ending.output is None:
        raise ValueError(f"layers: the network has no layer {layer_name!r}")


def new_inception() -> keras.Model:
    """InceptionV3 without its head, for any image size, with zero weights, canonically named.

    The one constructor every part of kdream uses (dreams, shapes, the 2015 converter).
    """
    return new_family_network("inceptionv3")


def weights_sha256(model: keras.Model) -> str:
    """sha256 over every weight's bytes in ``model.weights`` order: names the weights in a
    recipe where there is no file to hash (Keras' own download, a model built in memory)."""
    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(ops.convert_to_numpy(variable)).tobytes())
    return digest.hexdigest()


def spatial_size(model, layer_names, image_hw) -> dict[str, tuple[int, int]]:
    """Spatial extents from shape inference alone (no computation)."""
    channels = int(model.input.shape[-1])
    probe = keras.KerasTensor((1, int(image_hw[0]), int(image_hw[1]), channels))
    specs = as_list(model.compute_output_spec(probe))
    return {name: (int(s.shape[1]), int(s.shape[2])) for name, s in zip(layer_names, specs)}


def min_side(model, layer_names, floor: int = MODEL_MIN_SIDE) -> int:
    """Binary search for the smallest side keeping every layer >= 2x2 (and >= ``floor``)."""

    def big_enough(side: int) -> bool:
        try:
            sizes = spatial_size(model, layer_names, (side, side))
        except Exception:  # shape inference fails below the network's minimum
            return False
        return all(min(hw) >= MIN_LAYER_EXTENT for hw in sizes.values())

    low, high = floor, floor
    while not big_enough(high):
        if high > 1 << 14:
            raise ValueError(f"layers: {', '.join(layer_names)} never reach 2x2 positions")
        low, high = high, high * 2
    while low < high:
        middle = (low + high) // 2
        if big_enough(middle):
            high = middle
        else:
            low = middle + 1
    return high
