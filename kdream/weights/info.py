"""``kdream weights info``: what the cache holds and what ``auto`` would pick."""

from __future__ import annotations

import os
import pathlib
from typing import Any

from kdream._files import ENV_HOME, PREPARED_FOLDER, PREPARED_KEPT, cache_dir, file_hash
from kdream.weights import imagenet
from kdream.weights.cache import entry_path, entry_status, read_manifest
from kdream.weights.resolve import describe_auto
from kdream.weights.sources import MIXED10_NOTE, size_text


def cache_info() -> list[str]:
    """Human-readable lines for ``kdream weights info`` (downloads nothing).

    Example:
        >>> cache_info()[0].startswith("cache dir: ")
        True
    """
    home = cache_dir()
    origin = f" (from ${ENV_HOME})" if os.environ.get(ENV_HOME, "").strip() else ""
    lines = [f"cache dir: {home}{origin}"]
    entries = read_manifest(home)["entries"]
    for source, entry in sorted(entries.items()):
        lines.extend(_entry_lines(home, source, entry))
    if "inception2015" not in entries:
        lines.append("inception2015: not cached (`kdream weights fetch inception2015`)")
    lines.extend(_imagenet_lines())
    lines.append(_prepared_line(home))
    lines.append(f"auto picks: {describe_auto()}")
    return lines


def _prepared_line(home: pathlib.Path) -> str:
    folder = home / PREPARED_FOLDER
    sizes = [path.stat().st_size for path in folder.glob("*.npz")] if folder.is_dir() else []
    return (
        f"prepared networks: {len(sizes)} in {folder} ({size_text(sum(sizes))}; "
        f"the {PREPARED_KEPT} last used are kept, each remade when missing)"
    )


def _entry_lines(home: pathlib.Path, source: str, entry: Any) -> list[str]:
    status = entry_status(home, entry)
    if status == "bad manifest entry":
        return [f"{source}: {status}"]
    path = entry_path(home, entry)
    size = size_text(entry["size"] if isinstance(entry.get("size"), int) else 0)
    lines = [
        f"{source}: {path} ({size}) [{status}]",
        f"  sha256 {entry.get('sha256')}, converter v{entry.get('converter_version')}, "
        f"from {entry.get('origin', '?')}",
    ]
    if source == "inception2015":
        lines.append(f"  note: {MIXED10_NOTE}")
    return lines


def _imagenet_lines() -> list[str]:
    path = imagenet.imagenet_path()
    if not path.is_file():
        return [f"imagenet: not cached at {path} (`kdream weights fetch imagenet`)"]
    cached = imagenet.cached_imagenet()
    status = "ok" if cached is not None else "corrupted (md5 mismatch)"
    return [
        f"imagenet: {path} ({size_text(path.stat().st_size)}) [{status}] (Keras' cache)",
        f"  sha256 {file_hash(path)}",
    ]
