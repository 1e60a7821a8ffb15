"""Files: kdream's cache folder, Keras' cache folder, memoised file hashes and the one
atomic write (a temp file beside the target, fsynced, renamed over it).

Example:
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> atomic_write_text(target, "hello")
    >>> target.read_text()
    'hello'
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

ENV_HOME = "KDREAM_HOME"
PREPARED_FOLDER = "prepared"
"""Inside the cache folder: networks kept in the form a dream runs them
(:mod:`kdream.models.prepared`)."""
PREPARED_KEPT = 8
"""Prepared networks kept: a few recipes' networks on each backend, ~5-20 MB each."""


def cache_dir() -> pathlib.Path:
    """kdream's cache: ``$KDREAM_HOME`` or the platform user cache dir.

    Example:
        >>> cache_dir().is_absolute()
        True
    """
    configured = os.environ.get(ENV_HOME, "").strip()
    if configured:
        return pathlib.Path(configured).expanduser().resolve()
    import platformdirs

    return pathlib.Path(platformdirs.user_cache_dir("kdream")).resolve()


def keras_home() -> pathlib.Path:
    """Keras' cache root, computed the way Keras does (and taken from Keras if imported)."""
    config = sys.modules.get("keras.src.backend.config")
    if config is not None and hasattr(config, "keras_home"):
        return pathlib.Path(config.keras_home()).expanduser()
    if "KERAS_HOME" in os.environ:
        return pathlib.Path(os.environ["KERAS_HOME"]).expanduser()
    base = os.path.expanduser("~")
    return pathlib.Path(base if os.access(base, os.W_OK) else "/tmp") / ".keras"


_hash_memo: dict[tuple[Any, ...], str] = {}


def _file_key(path: pathlib.Path, algorithm: str) -> tuple[Any, ...]:
    # ctime and inode change on any rewrite, so a tampered file never hits a stale memo entry.
    status = path.stat()
    return (
        str(path.resolve()),
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
        status.st_ino,
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


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which is racy in threads.
_UMASK = _current_umask()


def final_mode(target: pathlib.Path) -> int:
    """Permissions for the finished file: keep an overwritten file's, else honour the umask."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_UMASK  # mkstemp creates 0600; a normal new file would not be


def _fsync_directory(directory: pathlib.Path) -> None:
    """Make the rename durable; not every platform can open a directory, so best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def temporary_beside(target: pathlib.Path) -> Iterator[pathlib.Path]:
    """A temp file in ``target``'s folder (so the rename is atomic); gone afterwards unless
    :func:`move_into_place` moved it."""
    target = pathlib.Path(target)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield pathlib.Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)  # already renamed when all went well


def move_into_place(temporary: pathlib.Path, target: pathlib.Path, mode: int | None = None):
    """fsync ``temporary``, give it ``mode`` (default: :func:`final_mode`; mkstemp makes
    0600), rename it over ``target`` and make the rename durable."""
    target = pathlib.Path(target)
    with open(temporary, "rb") as stream:
        os.fsync(stream.fileno())
    os.chmod(temporary, final_mode(target) if mode is None else mode)
    os.replace(temporary, target)
    _fsync_directory(target.parent)


def write_atomically(
    target: pathlib.Path, write: Callable[[BinaryIO], None], mode: int | None = None
) -> None:
    """``write(stream)`` into a temp file beside ``target``, then move it into place.

    Readers see the old file or the new one, never half of it; on any failure (``write``
    raising included) the temp file is removed and ``target`` is left exactly as it was.
    """
    with temporary_beside(target) as temporary:
        with open(temporary, "wb") as stream:
            write(stream)
        move_into_place(temporary, target, mode)


def atomic_write_text(path: pathlib.Path, text: str, mode: int = 0o644) -> None:
    """:func:`write_atomically` for UTF-8 text, readable by all (a shared cache)."""
    write_atomically(pathlib.Path(path), lambda stream: stream.write(text.encode("utf-8")), mode)
