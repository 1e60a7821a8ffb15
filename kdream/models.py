"""Model specs (any Keras network as data) and the feature extractor a dream differentiates.

A :class:`ModelSpec` says how to build a network, how the dream's pixels reach it
(preprocessing), which layers are worth dreaming and how small an image may get. Built-in
keras.applications families come from :mod:`kdream.zoo`, users' own ``.keras`` files from
:mod:`kdream.own_models`; everything downstream (tiles, octaves, objectives, the CLI and the
TUI) only sees the spec.

The dream works on pixels in [-1, 1] whatever the network; a :class:`PixelMapping` layer in
front of the network turns them into what the network was trained on.

Example:
    >>> spec = model_spec("inceptionv3")
    >>> extractor = FeatureExtractor.build(["mixed3", "mixed5"], weights="random", spec=spec)
    >>> extractor.layer_names
    ('mixed3', 'mixed5')
    >>> extractor.spatial_size((512, 512))["mixed5"]
    (30, 30)
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import hashlib
import pathlib
from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from kdream import _backend, zoo

MIN_LAYER_EXTENT = 2
"""A layer must keep at least this many positions a side, or its statistics degenerate."""

MODEL_MIN_SIDE = zoo.FAMILIES["inceptionv3"].min_input_side
"""Smallest input side InceptionV3 accepts."""

IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
IMAGENET_MEAN_UNIT_RGB = (0.485, 0.456, 0.406)
"""The [0, 1] mean of torch-style preprocessing (rounded, as Keras and torchvision use it)."""


class ModelError(ValueError):
    """A model that cannot be used (unknown name, unsafe or unreadable file, no spatial
    layers): the message is one line for the user."""


def uint8_picture(pixels, label: str = "image") -> np.ndarray:
    """A uint8 picture (H, W), (H, W, 1) or (H, W, 3) as (H, W, channels); anything else is
    refused with one line naming ``label``."""
    picture = np.asarray(pixels)
    if picture.ndim == 2:
        picture = picture[..., None]
    if picture.ndim != 3 or picture.shape[-1] not in (1, 3) or picture.dtype != np.uint8:
        raise ValueError(
            f"{label}: expected a uint8 array of shape (H, W, 3), (H, W, 1) or (H, W), "
            f"got {picture.dtype} {picture.shape}"
        )
    return picture


def rgb_picture(pixels, label: str = "image") -> np.ndarray:
    """:func:`uint8_picture` as (H, W, 3): a gray picture repeated three times."""
    picture = uint8_picture(pixels, label)
    return picture if picture.shape[-1] == 3 else np.repeat(picture, 3, axis=-1)


def to_model_range(pixels_uint8: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [-1, 1], the dream's working range."""
    image = pixels_uint8.astype(np.float32)
    image /= 127.5  # in place: a 4096 px photo's float copies are 192 MiB each
    image -= 1.0
    return image


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[-1, 1] floats -> uint8 pixels (rounded, clipped)."""
    pixels = np.asarray(image) + np.float32(1.0)  # one float copy, then in place
    pixels *= np.float32(127.5)
    np.rint(pixels, out=pixels)
    np.clip(pixels, 0, 255, out=pixels)
    return pixels.astype(np.uint8)


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


# --------------------------------------------------------------------------- preprocessing


@keras.saving.register_keras_serializable(package="kdream")
class PixelMapping(keras.layers.Layer):
    """Dream pixels in [-1, 1] -> the network's input: optional channel reversal (RGB to
    BGR), then ``x * scale + offset`` per channel. Every keras.applications
    ``preprocess_input`` mode and every ``--input-range`` is such a map."""

    def __init__(self, scale, offset, reverse_channels=False, **kwargs):
        super().__init__(**kwargs)
        self.scale = tuple(float(s) for s in scale)
        self.offset = tuple(float(o) for o in offset)
        self.reverse_channels = bool(reverse_channels)

    def call(self, inputs):
        if self.reverse_channels:
            inputs = ops.flip(inputs, axis=-1)
        scale = ops.convert_to_tensor(np.asarray(self.scale, "float32"))
        offset = ops.convert_to_tensor(np.asarray(self.offset, "float32"))
        return inputs * scale + offset

    def get_config(self):
        return {
            **super().get_config(),
            "scale": list(self.scale),
            "offset": list(self.offset),
            "reverse_channels": self.reverse_channels,
        }


def family_mapping(preprocessing: str) -> PixelMapping | None:
    """The map from [-1, 1] to what a keras.applications family expects (None: identity)."""
    if preprocessing == "tf":  # the network wants [-1, 1]: nothing to do
        return None
    if preprocessing == "raw":
        return PixelMapping((127.5,) * 3, (127.5,) * 3)
    if preprocessing == "caffe":  # BGR, 0..255 minus the ImageNet mean
        mean_bgr = IMAGENET_MEAN_RGB[::-1]
        return PixelMapping((127.5,) * 3, tuple(127.5 - m for m in mean_bgr), True)
    if preprocessing == "torch":  # [0, 1], then standardised per channel
        mean = IMAGENET_MEAN_UNIT_RGB
        scale = tuple(0.5 / s for s in IMAGENET_STD_RGB)
        return PixelMapping(scale, tuple((0.5 - m) / s for m, s in zip(mean, IMAGENET_STD_RGB)))
    raise ValueError(f"unknown preprocessing {preprocessing!r}")


def range_mapping(low: float, high: float, channels: int) -> PixelMapping | None:
    """[-1, 1] -> [low, high] (None when that is already the range)."""
    if (low, high) == (-1.0, 1.0):
        return None
    return PixelMapping(((high - low) / 2,) * channels, ((high + low) / 2,) * channels)


# --------------------------------------------------------------------------- specs


@dataclasses.dataclass(frozen=True, eq=False)
class ModelSpec:
    """Everything kdream needs to know about one network.

    ``build_network()`` returns the headless network without (or with its own) weights,
    built with canonical layer names; ``load_weights(model, spec_string)`` fills it and
    returns the resolved weights for the recipe.
    """

    name: str
    """``inceptionv3``, ``vgg19``, ... or the file name of an own model."""
    build_network: Callable[[], keras.Model]
    load_weights: Callable[[keras.Model, object], object]
    catalogue: dict[str, str]
    """Layers worth dreaming -> what they tend to produce, shallow to deep."""
    default_layers: dict[str, float]
    mapping: PixelMapping | None = None
    channels: int = 3
    fixed_hw: tuple[int, int] | None = None
    """Input size of a network that takes one size only; its tiles are that size."""
    min_input_side: int = 1
    file: pathlib.Path | None = None
    sha256: str | None = None
    input_range: tuple[float, float] | None = None

    @property
    def display_name(self) -> str:
        return self.file.name if self.file else zoo.FAMILIES[self.name].builder

    def build(self, weights="auto") -> tuple[keras.Model, object]:
        """The network with weights loaded, and the resolved weights (for the recipe)."""
        model = self.build_network()
        return model, self.load_weights(model, weights)

    def recipe_entry(self) -> dict:
        """How the recipe names this model (a file also by its sha256)."""
        entry: dict = {"name": self.name}
        if self.file is not None:
            entry = {"file": self.file.name, "sha256": self.sha256}
        if self.input_range is not None:
            entry["input_range"] = list(self.input_range)
        return entry

    def with_defaults(self, config):
        """``config`` with this model's default layers where it still asks for the stock
        (InceptionV3) ones that this model does not have."""
        from kdream.config import DEFAULT_LAYERS

        stock = dict(config.layers) == dict(DEFAULT_LAYERS)
        if stock and self.name != zoo.DEFAULT_FAMILY and not config.channels:
            return config.replace(layers=dict(self.default_layers))
        return config


def model_spec(model: str | ModelSpec | None = None, input_range=None) -> ModelSpec:
    """The spec for ``--model``: a family name (``vgg19``) or a path to a ``.keras`` file.

    ``input_range`` (``(low, high)``) is where an own model's pixels live (default (0, 1));
    keras.applications families use their own preprocessing and refuse it.

    Example:
        >>> model_spec("VGG19").catalogue["block4_conv4"]
        'ornaments, eyes and object parts'
    """
    if isinstance(model, ModelSpec):
        return model
    text = str(model or zoo.DEFAULT_FAMILY).strip()
    try:
        family = zoo.family_named(text)
    except KeyError:
        family = None
    if family is not None:
        if input_range is not None:
            raise ModelError(
                f"--input-range: {family.builder} has its own preprocessing; "
                "the option is for your own models"
            )
        return family_spec(family.name)
    if _looks_like_file(text):
        from kdream.own_models import own_model_spec

        return own_model_spec(pathlib.Path(text).expanduser(), input_range)
    raise ModelError(
        f"unknown model {text!r}; use one of {', '.join(zoo.FAMILIES)} or a path to a .keras file"
    )


def _looks_like_file(text: str) -> bool:
    return text.endswith((".keras", ".h5")) or "/" in text or pathlib.Path(text).exists()


@functools.cache
def family_spec(name: str) -> ModelSpec:
    """The spec of a built-in keras.applications family (one object per family)."""
    family = zoo.FAMILIES[name]
    return ModelSpec(
        name=family.name,
        build_network=functools.partial(new_family_network, family.name),
        load_weights=functools.partial(_load_family_weights, family.name),
        catalogue=dict(family.layers),
        default_layers=dict(family.default_layers),
        mapping=family_mapping(family.preprocessing),
        min_input_side=family.min_input_side,
    )


def new_family_network(name: str, weights=None) -> keras.Model:
    """A family's network without its head, for any image size, canonically named.

    Without ``weights`` its weights are zeros, to be set by the caller (see
    :func:`weights_set_later`); with ``weights`` Keras loads them.
    """
    family = zoo.FAMILIES[name]
    with canonical_layer_names(), weights_set_later():
        return getattr(keras.applications, family.builder)(
            include_top=False, weights=weights, input_shape=(None, None, 3)
        )


def new_inception() -> keras.Model:
    """InceptionV3 without its head, for any image size, with zero weights, canonically named.

    The one constructor every part of kdream uses (dreams, shapes, the 2015 converter).
    """
    return new_family_network("inceptionv3")


def _load_family_weights(name: str, model: keras.Model, weights) -> object:
    from kdream import weights as weight_sources

    if name == zoo.DEFAULT_FAMILY:  # InceptionV3 has the 2015 weights and the auto chain
        resolved = weights
        if not isinstance(weights, weight_sources.ResolvedWeights):
            resolved = weight_sources.resolve_weights(str(weights))
        weight_sources.load_into(model, resolved)
        return resolved
    from kdream.zoo_weights import load_family_weights

    return load_family_weights(name, model, weights)


def bare_inception() -> keras.Model:
    """An InceptionV3 without weights (no head, any input size), for shapes; built once."""
    return bare_network(family_spec(zoo.DEFAULT_FAMILY))


@functools.lru_cache(maxsize=4)
def bare_network(spec: ModelSpec) -> keras.Model:
    """A spec's network without weights, for shapes (own models: the loaded file)."""
    return spec.build_network()


def build_inception(weights="random") -> tuple[keras.Model, object]:
    """InceptionV3 with real (or deterministic random) weights loaded.

    ``weights`` is anything :func:`kdream.weights.resolve_weights` accepts.
    Returns the model and the resolved weights (for the recipe).
    """
    return family_spec(zoo.DEFAULT_FAMILY).build(weights)


def layer_channels(model: keras.Model | None = None, spec: ModelSpec | None = None):
    """Channel count of every catalogue layer."""
    spec = spec or family_spec(zoo.DEFAULT_FAMILY)
    model = model or bare_network(spec)
    return {name: int(model.get_layer(name).output.shape[-1]) for name in spec.catalogue}


def check_layer_names(model: keras.Model, names, spec: ModelSpec | None = None) -> None:
    """Raise ``ValueError`` naming any layer the model does not have."""
    known = {layer.name for layer in model.layers}
    unknown = [name for name in names if name not in known]
    if unknown:
        spec = spec or family_spec(zoo.DEFAULT_FAMILY)
        raise ValueError(
            f"layers: unknown layer(s) {', '.join(unknown)}; use one of "
            f"{', '.join(spec.catalogue)} (or another {spec.display_name} layer name; "
            "`kdream layers` lists them)"
        )


def check_channel_indices(model: keras.Model, layer: str, indices) -> None:
    """Raise ``ValueError`` (one line) for channel indices past ``layer``'s channel count:
    a clear error instead of a graph error deep in the step.

    Example:
        >>> check_channel_indices(bare_inception(), "mixed4", [97, 900])  # doctest: +SKIP
        ValueError: channels: mixed4 has 768 channels (0..767); got 900
    """
    if not indices:
        return
    count = int(model.get_layer(layer).output.shape[-1])
    too_big = [index for index in indices if index >= count]
    if too_big:
        raise ValueError(
            f"channels: {layer} has {count} channels (0..{count - 1}); "
            f"got {', '.join(map(str, too_big))}"
        )


def weights_sha256(model: keras.Model) -> str:
    """sha256 over every weight's bytes in ``model.weights`` order: names the weights in a
    recipe where there is no file to hash (Keras' own download, a model built in memory)."""
    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(ops.convert_to_numpy(variable)).tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- extractor


@dataclasses.dataclass(frozen=True)
class FeatureExtractor:
    """A network cut after the deepest requested layer, returning those layers' activations
    for dream pixels in [-1, 1] (the spec's preprocessing is its first layer).

    Keras' functional model keeps only the part of the graph the outputs depend on,
    so the network ends at the deepest requested layer.
    """

    model: keras.Model
    layer_names: tuple[str, ...]
    weights: object = None
    fixed_hw: tuple[int, int] | None = None
    min_input_side: int = MODEL_MIN_SIDE

    @classmethod
    def build(
        cls,
        layer_names,
        weights="random",
        base=None,
        spec: ModelSpec | None = None,
        pre_activation: bool = False,
    ):
        """Cut ``base`` (or a freshly built network with ``weights``) at ``layer_names``.

        ``pre_activation``: each layer's output before its ReLU (or softmax), as lucid's
        ``_pre_relu`` layers: a channel that is zero on every input still has a gradient
        there (see :func:`pre_activation_output`).
        """
        spec = spec or family_spec(zoo.DEFAULT_FAMILY)
        resolved = None
        if base is None:
            base, resolved = spec.build(weights)
        names = tuple(dict.fromkeys(layer_names))
        check_layer_names(base, names, spec)
        # fast_model's new layers get their weights from the network's (host zeros first).
        with canonical_layer_names(), weights_set_later():
            outputs = [
                pre_activation_output(base.get_layer(name))
                if pre_activation
                else base.get_layer(name).output
                for name in names
            ]
            cut = _backend.fast_model(keras.Model(base.input, outputs, name="kdream_features"))
            model = cut if spec.mapping is None else _behind_mapping(cut, spec)
        return cls(model, names, resolved, spec.fixed_hw, spec.min_input_side)

    def activations(self, images) -> dict[str, object]:
        """Forward pass: images (N, H, W, C) in [-1, 1] -> {layer name: activations}."""
        outputs = self.model(images, training=False)
        return dict(zip(self.layer_names, _as_list(outputs)))

    def spatial_size(self, image_hw: tuple[int, int]) -> dict[str, tuple[int, int]]:
        """Spatial extent (h, w) of each requested layer for an image of ``image_hw``."""
        return spatial_size(self.model, self.layer_names, image_hw)

    def min_side(self) -> int:
        """Smallest image side at which every requested layer is at least 2x2 (a network
        of one input size: that size)."""
        if self.fixed_hw is not None:
            return max(self.fixed_hw)
        return min_side(self.model, self.layer_names, self.min_input_side)


def _behind_mapping(cut: keras.Model, spec: ModelSpec) -> keras.Model:
    inputs = keras.Input(tuple(cut.input.shape[1:]), name="dream_pixels")
    return keras.Model(inputs, cut(spec.mapping(inputs)), name="kdream_features_mapped")


def _as_list(outputs) -> list:
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def spatial_size(model, layer_names, image_hw) -> dict[str, tuple[int, int]]:
    """Spatial extents from shape inference alone (no computation)."""
    channels = int(model.input.shape[-1])
    probe = keras.KerasTensor((1, int(image_hw[0]), int(image_hw[1]), channels))
    specs = _as_list(model.compute_output_spec(probe))
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


# --------------------------------------------------------------------------- pre-activations

RECTIFYING_ACTIVATIONS = ("relu", "softmax")
"""Activations whose input is what a visualisation optimises (a dead ReLU has no gradient,
a softmax unit competes with all the others)."""


def pre_activation_output(layer):
    """The symbolic tensor of ``layer``'s output before its rectifying activation.

    An ``Activation``/``ReLU``/``Softmax`` layer: its input. A ``Concatenate`` (InceptionV3's
    ``mixed`` blocks): the concatenation of its branches' pre-activations (a pooling branch
    stays as it is). A ``Conv2D`` or ``Dense`` with a built-in relu/softmax: its linear
    part, from a :class:`LinearPart` that computes it with the layer's own variables.
    Anything else: its output.

    Example:
        >>> model = new_inception()
        >>> tuple(pre_activation_output(model.get_layer("mixed4")).shape)
        (None, None, None, 768)
    """
    if _rectifier(layer):
        return layer.input
    if isinstance(layer, keras.layers.Concatenate):
        branches = [pre_activation_output(_producer(t)) for t in _as_list(layer.input)]
        return keras.layers.Concatenate(axis=layer.axis)(branches)
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and (
        _activation_name(layer) in RECTIFYING_ACTIVATIONS
    ):
        return LinearPart(layer)(layer.input)
    return layer.output


def _producer(tensor):
    return tensor._keras_history.operation  # Keras keeps no public accessor for it


def _activation_name(layer) -> str | None:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None)


def _rectifier(layer) -> bool:
    if isinstance(layer, (keras.layers.ReLU, keras.layers.Softmax)):
        return True
    return isinstance(layer, keras.layers.Activation) and (
        _activation_name(layer) in RECTIFYING_ACTIVATIONS
    )


class LinearPart(keras.layers.Layer):
    """A ``Conv2D`` or ``Dense`` layer without its activation: the same kernel and bias
    (the layer is held, so its variables are the model's and JAX's stateless call sees
    them), without copying a weight."""

    def __init__(self, layer, **kwargs):
        super().__init__(name=f"{layer.name}_linear", **kwargs)
        self.layer = layer
        self.built = True

    def call(self, inputs):
        layer = self.layer
        kernel = ops.cast(layer.kernel, inputs.dtype)
        if isinstance(layer, keras.layers.Dense):
            outputs = ops.matmul(inputs, kernel)
        else:
            outputs = ops.conv(
                inputs,
                kernel,
                strides=layer.strides,
                padding=layer.padding,
                data_format=layer.data_format,
                dilation_rate=layer.dilation_rate,
            )
        if layer.use_bias:
            outputs = outputs + ops.cast(layer.bias, inputs.dtype)
        return outputs

    def compute_output_spec(self, inputs):
        return self.layer.compute_output_spec(inputs)
