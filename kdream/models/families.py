"""The built-in keras.applications families as specs, and the checks of layer names and
channel indices against a spec's network.

Example:
    >>> family_spec("vgg19").catalogue["block4_conv4"]
    'ornaments, eyes and object parts'
"""

from __future__ import annotations

import functools

import keras

from kdream.catalogue import channel_range_message, unknown_layers_message
from kdream.models.spec import ModelSpec
from kdream.network import zoo
from kdream.network.build import new_family_network
from kdream.network.layers import family_mapping
from kdream.weights.families import load_family_weights
from kdream.weights.load import load_into
from kdream.weights.resolve import resolve_weights
from kdream.weights.sources import ResolvedWeights


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
        build_reaching=_build_inception_reaching if name == zoo.DEFAULT_FAMILY else None,
        resolve_weights=_resolved if name == zoo.DEFAULT_FAMILY else None,
    )


def _load_family_weights(name: str, model: keras.Model, weights) -> object:
    if name == zoo.DEFAULT_FAMILY:  # InceptionV3 has the 2015 weights and the auto chain
        resolved = _resolved(weights)
        load_into(model, resolved)
        return resolved
    return load_family_weights(name, model, weights)


def _build_inception_reaching(weights, layers: tuple[str, ...]) -> tuple[keras.Model, object]:
    """InceptionV3 ending at the deepest of ``layers`` when they are all ``mixed`` blocks.

    Every layer built before a block feeds it (each block is a cut of the network), so
    the network is the whole one's first layers, in the same order: a ``.weights.h5``
    file (matched by that order) and the random weights (drawn in that order) fill them
    with the whole network's values. Other layers and weights get the whole network.
    """
    resolved = _resolved(weights)
    blocks = list(zoo.FAMILIES[zoo.DEFAULT_FAMILY].layers)  # mixed0..mixed10, in order
    by_order = resolved.source == "random" or (
        resolved.path is not None and resolved.path.name.endswith(".weights.h5")
    )
    deepest = None
    if by_order and layers and set(layers) <= set(blocks):
        deepest = max(layers, key=blocks.index)
    model = new_family_network(zoo.DEFAULT_FAMILY, up_to=deepest)
    load_into(model, resolved)
    return model, resolved


def _resolved(weights) -> ResolvedWeights:
    """A ``--weights`` value as InceptionV3's weights (fetched if need be), or as given."""
    return weights if isinstance(weights, ResolvedWeights) else resolve_weights(str(weights))


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
        raise ValueError(unknown_layers_message(unknown, spec.catalogue, spec.display_name))


def check_channel_indices(model: keras.Model, layer: str, indices) -> None:
    """Raise ``ValueError`` (one line) for channel indices past ``layer``'s channel count:
    a clear error instead of a graph error deep in the step.

    Example:
        >>> check_channel_indices(bare_inception(), "mixed4", [97, 900])  # doctest: +SKIP
        ValueError: channels: mixed4 has 768 channels (0..767); got 900
    """
    if indices:
        check_channel_count(layer, int(model.get_layer(layer).output.shape[-1]), indices)


def check_channel_count(layer: str, count: int, indices) -> None:
    """:func:`check_channel_indices` for a layer whose channel count is known.

    Example:
        >>> check_channel_count("mixed4", 768, [97, 900])
        Traceback (most recent call last):
        ...
        ValueError: channels: mixed4 has 768 channels (0..767); got 900
    """
    too_big = [index for index in indices if index >= count]
    if too_big:
        raise ValueError(channel_range_message(layer, count, too_big))
