"""Pretrained weights: sources, the verified cache, fetching, loading.

Example:
    >>> from kdream.weights import resolve_weights
    >>> resolve_weights("random").source
    'random'
"""

from __future__ import annotations

from kdream._files import cache_dir
from kdream.weights.info import cache_info
from kdream.weights.load import load_into
from kdream.weights.resolve import fetch, resolve_weights
from kdream.weights.sources import (
    MIXED10_NOTE,
    SOURCES,
    DownloadError,
    ResolvedWeights,
    WeightsError,
)

__all__ = [
    "MIXED10_NOTE",
    "SOURCES",
    "DownloadError",
    "ResolvedWeights",
    "WeightsError",
    "cache_dir",
    "cache_info",
    "fetch",
    "load_into",
    "resolve_weights",
]
