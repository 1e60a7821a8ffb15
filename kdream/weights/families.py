"""Weights for the keras.applications families other than InceptionV3.

``imagenet`` (and ``auto``) lets Keras download its own file into Keras' cache (md5-checked
by Keras); offline that fails at once with one line, and Keras' download chatter never
reaches the terminal. ``random`` and weight files go through :mod:`kdream.weights`.

Example:
    >>> from kdream.models import new_family_network
    >>> model = new_family_network("vgg16")                        # doctest: +SKIP
    >>> load_family_weights("vgg16", model, "random").source       # doctest: +SKIP
    'random'
"""

from __future__ import annotations

import contextlib
import io
import socket

from kdream.network import zoo
from kdream.weights import imagenet
from kdream.weights.load import load_into
from kdream.weights.resolve import resolve_weights
from kdream.weights.sources import ResolvedWeights, WeightsError


def load_family_weights(name: str, model, weights) -> ResolvedWeights:
    """Fill ``model`` (a :func:`kdream.models.new_family_network`) and say what went in."""
    if isinstance(weights, ResolvedWeights):
        resolved = weights
    else:
        spec = str(weights or "auto").strip()
        if spec in ("auto", "imagenet"):
            return _load_imagenet(name, model)
        if spec == "inception2015":
            raise WeightsError("inception2015 weights are InceptionV3's; use --model inceptionv3")
        resolved = resolve_weights(spec)
    load_into(model, resolved)
    return resolved


def _load_imagenet(name: str, model) -> ResolvedWeights:
    from kdream.network.build import new_family_network, weights_sha256

    family = zoo.FAMILIES[name]
    try:
        with _quiet(), _socket_timeout(imagenet.DOWNLOAD_SOCKET_TIMEOUT_S):
            trained = new_family_network(name, weights="imagenet")
    except Exception as error:  # Keras raises bare Exception for URL failures
        lines = str(error).strip().splitlines()
        reason = lines[-1] if lines else type(error).__name__
        raise WeightsError(
            f"{family.builder}: Keras' imagenet weights are not cached and could not be "
            f"downloaded ({reason}); pass --weights random or a .weights.h5 file"
        ) from error
    model.set_weights(trained.get_weights())
    return ResolvedWeights("imagenet", None, weights_sha256(model))


@contextlib.contextmanager
def _quiet():
    """Keras prints 'Downloading data from ...' and a progress bar: kdream speaks for itself."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    # Keras' get_file has no timeout; a firewall that drops packets would hang forever.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds if previous is None else previous)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)
