"""An atlas as a static site to open from disk (``file://``, no network): ``index.html``
with every layer, a page per layer (a sortable grid of its channels), a page per channel
(its pictures, the crops of the photos it fires on, its statistics) and a page of classes.

Pages come from Jinja2 templates (``templates/``, autoescaped); the site's files are
written atomically, so a site being rewritten is never half a page.

Example:
    >>> histogram_svg(np.asarray([0.0, 0.05, 0.5, 1.0]), bins=4)[:40]
    '<svg class="histogram" width="160" heigh'
"""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path

import jinja2
import numpy as np

from kdream._files import atomic_write_text
from kdream.techniques.atlas.statistics import DUPLICATE_CORRELATION, LayerStatistics

TEMPLATES = Path(__file__).parent / "templates"
ASSETS = ("atlas.css", "atlas.js")


def slug(name: str) -> str:
    """A layer name as a file name (Keras names are mostly safe; this makes sure).

    Example:
        >>> slug("block1_conv1"), slug("a/b c")
        ('block1_conv1', 'a_b_c')
    """
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "layer"


def picture_path(layer: str, channel: int) -> str:
    return f"pictures/{slug(layer)}/{channel}.png"


def diverse_path(layer: str, channel: int, view: int) -> str:
    return f"pictures/{slug(layer)}/{channel}_view{view + 1}.png"


def example_path(layer: str, channel: int, rank: int) -> str:
    return f"examples/{slug(layer)}/{channel}_{rank + 1}.jpg"


def class_path(unit: int) -> str:
    return f"pictures/classes/{unit}.png"


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a template typo fails the build, not the page
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _number(value: float) -> str:
    return f"{float(value):.4g}"


def histogram_svg(values: np.ndarray, bins: int = 10, width: int = 160, height: int = 36) -> str:
    """Channels counted by the share of positions where they fire, as a small SVG."""
    counts, _ = np.histogram(np.clip(values, 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    top = max(int(counts.max()), 1)
    bar = width / bins
    rects = []
    for index, count in enumerate(counts):
        tall = 0 if count == 0 else max(1.0, count / top * (height - 2))
        low, high = index * 100 // bins, (index + 1) * 100 // bins
        rects.append(
            f'<rect x="{index * bar + 1:.1f}" y="{height - tall:.1f}" width="{bar - 2:.1f}" '
            f'height="{tall:.1f}"><title>{count} channels fire at {low}-{high}% of positions'
            "</title></rect>"
        )
    return (
        f'<svg class="histogram" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="histogram">{"".join(rects)}</svg>'
    )


def layer_view(statistics: LayerStatistics, site: Path, photo_names, diverse: int) -> dict:
    """What the layer and channel pages show of one layer (pictures only where written)."""
    twins: dict[int, list[dict]] = {}
    for a, b, correlation in statistics.duplicates:
        twins.setdefault(a, []).append({"channel": b, "correlation": f"{correlation:.3f}"})
        twins.setdefault(b, []).append({"channel": a, "correlation": f"{correlation:.3f}"})
    dead = set(statistics.dead)
    cells = []
    for row, channel in enumerate(statistics.channels):
        picture = picture_path(statistics.layer, channel)
        views = [diverse_path(statistics.layer, channel, v) for v in range(diverse)]
        examples = [
            {
                "file": example_path(statistics.layer, channel, rank),
                "photo": photo_names[example.photo],
                "value": _number(example.value),
            }
            for rank, example in enumerate(statistics.examples[row])
        ]
        cells.append(
            {
                "channel": channel,
                "picture": picture if (site / picture).is_file() else None,
                "diverse": [v for v in views if (site / v).is_file()],
                "examples": [e for e in examples if (site / e["file"]).is_file()],
                "mean": _number(statistics.mean[row]),
                "max": _number(statistics.max[row]),
                "active": f"{statistics.active[row]:.6f}",
                "active_percent": f"{100 * statistics.active[row]:.1f}%",
                "selectivity": f"{statistics.selectivity[row]:.3f}",
                "dead": channel in dead,
                "duplicate": channel in twins,
                "twins": twins.get(channel, []),
            }
        )
    return {
        "name": statistics.layer,
        "slug": slug(statistics.layer),
        "shown": len(statistics.channels),
        "total": statistics.total_channels,
        "dead": len(statistics.dead),
        "duplicates": len(statistics.duplicates),
        "receptive_field": statistics.receptive_field,
        "positions": statistics.positions,
        "histogram": histogram_svg(statistics.active),
        "cells": cells,
    }


def write_site(site: Path, atlas: dict, layers: list[dict]) -> list[Path]:
    """Write every page of the site under ``site``; returns the pages written.

    ``atlas``: the model, weights, photos and classes (see :mod:`kdream.io.atlas.builder`);
    ``layers``: :func:`layer_view` of each layer.
    """
    environment = _environment()
    (site / "assets").mkdir(parents=True, exist_ok=True)
    for asset in ASSETS:
        shutil.copyfile(TEMPLATES / asset, site / "assets" / asset)
    context = {**atlas, "layers": layers, "duplicate_correlation": DUPLICATE_CORRELATION}
    pages = [_write(site / "index.html", environment, "index.html", atlas=context, root="")]
    if atlas.get("classes"):
        pages.append(
            _write(site / "classes.html", environment, "classes.html", atlas=context, root="")
        )
    for layer in layers:
        pages.append(
            _write(
                site / "layers" / f"{layer['slug']}.html",
                environment,
                "layer.html",
                atlas=context,
                layer=layer,
                root="../",
            )  # fmt: skip
        )
        channels = [cell["channel"] for cell in layer["cells"]]
        for index, cell in enumerate(layer["cells"]):
            pages.append(
                _write(
                    site / "channels" / layer["slug"] / f"{cell['channel']}.html",
                    environment,
                    "channel.html",
                    atlas=context,
                    layer=layer,
                    cell=cell,
                    root="../../",
                    previous=channels[index - 1] if index > 0 else None,
                    next=channels[index + 1] if index + 1 < len(channels) else None,
                )  # fmt: skip
            )
    return pages


def _write(path: Path, environment, template: str, **context) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, environment.get_template(template).render(**context))
    return path
