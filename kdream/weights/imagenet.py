"""Keras' official ImageNet InceptionV3 weights, downloaded by kdream into Keras' cache
(md5-checked, atomically, with one line of notice and a short reason when it fails).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import pathlib
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from kdream._files import file_hash, keras_home, write_atomically
from kdream.weights.sources import (
    DOWNLOAD_BLOCK,
    ENV_IMAGENET_URL,
    DownloadError,
    ResolvedWeights,
    WeightsError,
    notice,
    size_text,
)

IMAGENET_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"


IMAGENET_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + IMAGENET_FILE
)


IMAGENET_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"  # the hash Keras itself checks


# Per socket operation (connect, each read): a black-holed host fails after this long; a
# refused connection or an unknown host fails at once.
DOWNLOAD_SOCKET_TIMEOUT_S = 60


def imagenet_path() -> pathlib.Path:
    return keras_home() / "models" / IMAGENET_FILE


def cached_imagenet() -> ResolvedWeights | None:
    """Keras' imagenet notop file if present and matching the hash Keras publishes."""
    path = imagenet_path()
    if not path.is_file() or file_hash(path, "md5") != IMAGENET_MD5:
        return None
    return ResolvedWeights("imagenet", path, file_hash(path))


def _imagenet_url() -> str:
    """Keras' URL for the imagenet file, or the mirror in ``$KDREAM_IMAGENET_URL``."""
    return os.environ.get(ENV_IMAGENET_URL, "").strip() or IMAGENET_URL


def fetch_imagenet(force: bool) -> ResolvedWeights:
    """Download Keras' imagenet file into Keras' cache, md5-checked as Keras checks it.

    Not ``keras.utils.get_file``: that prints its own lines and progress bar, has no timeout,
    and writes in place, where a killed download would leave half a file.
    """
    if not force and (cached := cached_imagenet()) is not None:
        return cached
    _download(_imagenet_url(), imagenet_path(), IMAGENET_MD5)
    cached = cached_imagenet()
    if cached is None:
        raise WeightsError(f"the download did not produce a valid {imagenet_path()}")
    return cached


def _download(url: str, target: pathlib.Path, md5: str) -> None:
    """Stream ``url`` to ``target`` atomically; announce it once connected; DownloadError.

    Example:
        >>> try:
        ...     _download("http://127.0.0.1:9/x.h5", pathlib.Path("x.h5"), "0" * 32)
        ... except DownloadError as error:
        ...     print(error.reason)
        connection refused
    """
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_SOCKET_TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0)
            size = f" ({size_text(total)})" if total else ""
            host = urllib.parse.urlsplit(url).hostname or url
            notice(f"downloading imagenet weights{size} from {host} into Keras' cache")
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_checked(response, target, total, md5)
    except (OSError, ValueError, http.client.HTTPException) as error:  # URLError is an OSError
        raise DownloadError(_failure_reason(error)) from error


def _failure_reason(error: BaseException) -> str:
    """A few words for why a download failed: 'connection refused', 'HTTP 404 Not Found'."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    cause = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(cause, TimeoutError):
        return f"no answer in {DOWNLOAD_SOCKET_TIMEOUT_S} s"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return " ".join(str(cause).split()) or type(cause).__name__


def _write_checked(response: Any, target: pathlib.Path, total: int, md5: str) -> None:
    """Copy to a temp file next to ``target``, check the md5, then move it into place
    (readable by all, as Keras' cache normally is); a bad download leaves nothing."""

    def copy_and_check(stream) -> None:
        digest = _copy_with_progress(response, stream, total)
        if digest != md5:
            raise DownloadError(f"damaged or incomplete download: md5 {digest}, expected {md5}")

    write_atomically(target, copy_and_check, mode=0o644)


def _copy_with_progress(response: Any, stream: Any, total: int, console: Any = None) -> str:
    """Copy blocks, returning their md5; a terminal sees a bar with the size, the speed and
    the time left (a log file sees nothing)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = console or Console(stderr=True)
    columns = (TextColumn("kdream: imagenet weights"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())  # fmt: skip
    digest = hashlib.md5()
    shown = console.is_terminal
    with Progress(*columns, console=console, disable=not shown) as bar:
        task = bar.add_task("download", total=total or None)
        for block in iter(lambda: response.read(DOWNLOAD_BLOCK), b""):
            digest.update(block)
            stream.write(block)
            bar.advance(task, len(block))
    return digest.hexdigest()
