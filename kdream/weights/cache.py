"""kdream's weights cache: a JSON manifest of verified files, written atomically under a
file lock.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
from collections.abc import Iterator
from typing import Any

from kdream._files import atomic_write_text, file_hash
from kdream.weights.sources import (
    CONVERTER_VERSION,
    LOCK_NAME,
    LOCK_TIMEOUT_S,
    MANIFEST_NAME,
    WeightsError,
)


def _empty_manifest() -> dict[str, Any]:
    return {"version": 1, "entries": {}}


def read_manifest(home: pathlib.Path) -> dict[str, Any]:
    """The manifest, or an empty one when missing or unreadable (entries then get rebuilt)."""
    try:
        manifest = json.loads((home / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _empty_manifest()
    if not isinstance(manifest, dict) or not isinstance(manifest.get("entries"), dict):
        return _empty_manifest()
    return manifest


def write_manifest_entry(home: pathlib.Path, source: str, entry: dict[str, Any]) -> None:
    """Update one entry; the caller holds the cache lock."""
    manifest = read_manifest(home)
    manifest["entries"][source] = entry
    atomic_write_text(home / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def cache_lock(home: pathlib.Path) -> Iterator[None]:
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


def entry_path(home: pathlib.Path, entry: dict[str, Any]) -> pathlib.Path:
    # Only the base name: a manifest must not point outside the cache dir.
    return home / pathlib.Path(entry["file"]).name


def entry_status(home: pathlib.Path, entry: Any) -> str:
    """'ok', or why a manifest entry is unusable ('missing', 'corrupted', 'stale converter')."""
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        return "bad manifest entry"
    if entry.get("converter_version") != CONVERTER_VERSION:
        return "stale converter"
    path = entry_path(home, entry)
    if not path.is_file():
        return "missing"
    if path.stat().st_size != entry.get("size") or file_hash(path) != entry.get("sha256"):
        return "corrupted (sha256 mismatch)"
    return "ok"
