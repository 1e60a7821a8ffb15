"""Building an atlas folder: survey the photos, cut the dataset examples, render every
channel, write the site and ``atlas.json``; resumable at every step.

A run is a sequence of idempotent steps over files that are each written atomically:

1. the survey (one batched pass per photo), saved in ``atlas.json`` with a key naming
   everything it depends on (photos by sha256, model, weights, backend, layers, channels),
   so a second run of the same command reuses it;
2. the crops of each channel's strongest positions (``examples/``);
3. the pictures, batch after batch (``pictures/``): a batch whose every picture is on disk
   with the recipe this run would give it is skipped, so Ctrl-C loses one batch at most;
4. the pages, rewritten after each layer, so a long run can be browsed while it goes on.

Example:
    >>> options = AtlasOptions(layers=("mixed3",))
    >>> result = build_atlas(visualizer, ["a.jpg", "b.jpg"], "atlas/", options)  # doctest: +SKIP
    >>> result.layers["mixed3"].dead                                          # doctest: +SKIP
    (12, 140)
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kdream import recipe as recipe_parts
from kdream._files import atomic_write_text, file_hash
from kdream.io.atlas import site as pages
from kdream.io.atlas.options import (
    ATLAS_JSON,
    MAX_DEFAULT_CLASSES,
    AtlasOptions,
    photo_files,
)
from kdream.io.images import load_image, read_recipe, save_image
from kdream.pixels import fit_max_side
from kdream.techniques.atlas import pictures as renders
from kdream.techniques.atlas.receptive import crop
from kdream.techniques.atlas.statistics import LayerStatistics
from kdream.techniques.atlas.survey import spatial_layers, survey, surveyed_pictures
from kdream.techniques.visualize.settings import VisualizeSettings

EXAMPLE_PX = 128
"""Side of a dataset example's crop as the channel page shows it."""


@dataclasses.dataclass(frozen=True)
class Atlas:
    """What :func:`build_atlas` found: each layer's statistics, the classes' probabilities
    and where the site is (None when only the statistics were asked for)."""

    layers: dict[str, LayerStatistics]
    classes: dict[int, float]
    site: Path | None

    def to_dict(self) -> dict:
        return {
            "layers": {name: stats.to_dict() for name, stats in self.layers.items()},
            "classes": {str(unit): p for unit, p in self.classes.items()},
        }


@dataclasses.dataclass(frozen=True)
class Report:
    """Progress of a run: its phase (``photos``, ``examples``, ``channels``, ``classes``),
    how much of the phase is done, and of what."""

    phase: str
    done: int
    total: int
    started: float

    @property
    def eta(self) -> float | None:
        if self.done == 0:
            return None
        return (time.perf_counter() - self.started) / self.done * (self.total - self.done)


def chosen_layers(visualizer, options: AtlasOptions) -> list[str]:
    """The layers to survey: those asked for, else the model's catalogue; each must have
    maps (batch, height, width, channels)."""
    model, spec = visualizer.dreamer.model, visualizer.dreamer.spec
    names = list(options.layers or spec.catalogue)
    known = {layer.name for layer in model.layers}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"atlas: unknown layer(s) {', '.join(unknown)}; `kdream layers` lists them"
        )
    spatial = spatial_layers(model, names)
    if options.layers and len(spatial) < len(names):
        flat = ", ".join(n for n in names if n not in spatial)
        raise ValueError(f"atlas: {flat} has no spatial maps (height x width x channels)")
    if not spatial:
        raise ValueError(
            f"atlas: {spec.display_name} has no image layer (no layer with height x width x "
            "channels maps) to survey"
        )
    return spatial


def channels_of(visualizer, layers, channels) -> dict[str, tuple[int, ...]]:
    """``{layer: channel indices}``; indices past a layer's channel count are refused."""
    chosen = {}
    for name in layers:
        count = int(visualizer.dreamer.model.get_layer(name).output.shape[-1])
        wanted = tuple(range(count)) if channels is None else tuple(channels)
        too_big = [c for c in wanted if c >= count]
        if too_big:
            raise ValueError(
                f"channels: {name} has {count} channels (0..{count - 1}); "
                f"got {', '.join(map(str, too_big[:5]))}"
            )
        chosen[name] = wanted
    return chosen


def build_atlas(
    visualizer,
    photo_paths,
    output: str | Path | None,
    options: AtlasOptions | None = None,
    on_progress: Callable[[Report], None] | None = None,
    cancel=None,
    renderer=None,
) -> Atlas:
    """Survey ``photo_paths`` and, with ``output``, write the atlas site there.

    ``renderer(site, jobs, settings, options, cancel)`` renders :class:`RenderJob` s and
    yields each one as it is done, in any order (default: one after the other here;
    :mod:`kdream.distributed` spreads them over Ray actors).
    """
    options = options or AtlasOptions()
    photo_paths = [Path(p) for p in photo_paths]
    layers = chosen_layers(visualizer, options)
    choices = channels_of(visualizer, layers, options.channels)
    report = _reporter(on_progress)
    site = None if output is None else Path(output)
    key = _survey_key(visualizer, photo_paths, choices, options)
    statistics = _saved_survey(site, key)
    if statistics is None:
        report("photos", 0, len(photo_paths))
        statistics = survey(
            visualizer.dreamer,
            (_photo(path, options.max_side) for path in photo_paths),
            choices,
            len(photo_paths),
            options.tile_px,
            on_photo=lambda done: report("photos", done, len(photo_paths)),
            cancel=cancel,
        )
    if site is None:
        return Atlas(statistics, {}, None)
    site.mkdir(parents=True, exist_ok=True)
    context = _site_context(visualizer, site, photo_paths, options)
    _save_json(site, key, statistics, {}, complete=False)
    _write_examples(site, visualizer.dreamer, statistics, photo_paths, options.max_side, report)
    _write_pages(site, context, statistics, options)
    settings = render_settings(visualizer, options)
    jobs = [
        RenderJob(name, batch)
        for name in layers
        for batch in renders.batches(choices[name], options.batch)
    ]
    left = {name: sum(job.layer == name for job in jobs) for name in layers}
    done, total = 0, sum(len(c) for c in choices.values())
    report("channels", done, total)
    render = renderer or _serial_renderer(visualizer)
    for job in render(site, jobs, settings, options, cancel):
        done, left[job.layer] = done + len(job.channels), left[job.layer] - 1
        report("channels", done, total)
        if left[job.layer] == 0:  # a finished layer can be browsed while the rest renders
            _write_pages(site, context, statistics, options)
    classes = _render_classes(site, visualizer, settings, options, cancel, report)
    context = {**context, "classes": _class_views(site, classes)}
    _save_json(site, key, statistics, classes, complete=True)
    _write_pages(site, context, statistics, options)
    return Atlas(statistics, classes, site)


def _reporter(on_progress):
    started: dict[str, float] = {}

    def report(phase: str, done: int, total: int) -> None:
        begun = started.setdefault(phase, time.perf_counter())
        if on_progress is not None:
            on_progress(Report(phase, done, total, begun))

    return report


def _photo(path: Path, max_side: int) -> np.ndarray:
    """A photo as the atlas reads it: RGB, its longer side at most ``max_side``."""
    return fit_max_side(load_image(path).rgb, None, max_side)[0]


def _survey_key(visualizer, photo_paths, choices, options) -> dict:
    """Everything the survey depends on: equal keys, equal statistics."""
    provenance = visualizer.dreamer.provenance()
    return json.loads(
        json.dumps(
            {
                "kdream": provenance["kdream"],  # another version may survey otherwise
                "photos": [[p.name, file_hash(p)] for p in photo_paths],
                "layers": {name: list(channels) for name, channels in choices.items()},
                "model": provenance["model"],
                "weights": provenance["weights"]["sha256"],
                "backend": provenance["backend"],
                "precision": provenance["precision"],
                "max_side": options.max_side,
                "tile_px": options.tile_px,
            }
        )
    )


def _saved_survey(site: Path | None, key: dict) -> dict[str, LayerStatistics] | None:
    """The statistics of an earlier run of the same survey, if ``site`` has them."""
    path = None if site is None else site / ATLAS_JSON
    if path is None or not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("survey") != key:
            return None
        return {
            name: LayerStatistics.from_dict(name, entry) for name, entry in saved["layers"].items()
        }
    except (ValueError, KeyError, TypeError):
        return None  # damaged or older: survey again


def _save_json(site: Path, key: dict, statistics, classes: dict, complete: bool) -> None:
    entry = {
        "kdream_atlas": 1,
        "complete": complete,
        "survey": key,
        "layers": {name: stats.to_dict() for name, stats in statistics.items()},
        "classes": {str(unit): round(p, 6) for unit, p in classes.items()},
    }
    atomic_write_text(site / ATLAS_JSON, json.dumps(entry, indent=1))


def _write_examples(site: Path, dreamer, statistics, photo_paths, max_side, report) -> None:
    """Each channel's dataset examples as crops, one photo read at a time."""
    wanted: dict[int, list] = {}
    for stats in statistics.values():
        for channel, examples in zip(stats.channels, stats.examples):
            for rank, example in enumerate(examples):
                path = site / pages.example_path(stats.layer, channel, rank)
                wanted.setdefault(example.photo, []).append((path, example, stats))
    missing = {
        photo: [(path, example, stats) for path, example, stats in crops if not path.is_file()]
        for photo, crops in sorted(wanted.items())
    }
    missing = {photo: crops for photo, crops in missing.items() if crops}
    photos = (_photo(photo_paths[photo], max_side) for photo in missing)
    seen = surveyed_pictures(dreamer, list(statistics), photos)
    for done, (crops, picture) in enumerate(zip(missing.values(), seen), start=1):
        for path, example, stats in crops:  # crops of what the network saw (gray: gray)
            path.parent.mkdir(parents=True, exist_ok=True)
            save_image(path, crop(picture, example.centre, stats.receptive_field, EXAMPLE_PX))
        report("examples", done, len(missing))


def render_settings(visualizer, options: AtlasOptions) -> VisualizeSettings:
    settings = visualizer.default_settings().replace(seed=options.seed)
    changes = {"size": options.size, "steps": options.steps}
    return settings.replace(**{k: v for k, v in changes.items() if v is not None})


def _is_written(path: Path, recipe: dict) -> bool:
    """Whether ``path`` holds a picture made by ``recipe`` (what a resumed run keeps)."""
    if not path.is_file():
        return False
    try:
        return read_recipe(path) == json.loads(recipe_parts.to_json(recipe))
    except Exception:  # unreadable or foreign: render it again
        return False


@dataclasses.dataclass(frozen=True)
class RenderJob:
    """One render batch of an atlas: channels of a layer, drawn together."""

    layer: str
    channels: tuple[int, ...]


def _serial_renderer(visualizer):
    def render(site, jobs, settings, options, cancel):
        for job in jobs:
            render_job(site, visualizer, job, settings, options, cancel)
            yield job

    return render


def render_job(site: Path, visualizer, job: RenderJob, settings, options, cancel=None) -> None:
    """Render one batch's pictures (and diversity views) into ``site``, unless they are on
    disk already with this run's recipes; every file is written atomically, so a job run
    twice (a Ray worker died and its job was retried) writes the same files."""
    _render_batch(site, visualizer, job.layer, job.channels, settings, options, cancel)


def _render_batch(site, visualizer, layer, batch, settings, options, cancel) -> None:
    from kdream.objectives.visual import channel_batch

    objective = channel_batch(layer, list(batch))
    planned = visualizer.recipe(objective, settings)
    pictures_done = all(
        _is_written(site / pages.picture_path(layer, c), renders.picked(planned, k))
        for k, c in enumerate(batch)
    )
    if not pictures_done:
        for channel, picture, recipe in renders.channel_pictures(
            visualizer, layer, batch, settings, cancel=cancel
        ):
            _save(site / pages.picture_path(layer, channel), picture, recipe)
    if options.diversity > 1:
        small = _view_settings(visualizer, objective, settings)
        for channel in batch:
            _render_views(site, visualizer, layer, channel, small, options.diversity, cancel)


def _view_settings(visualizer, objective, settings: VisualizeSettings) -> VisualizeSettings:
    """Diversity views at half the size where the layer allows it (they are many: half
    the side is a quarter of the work)."""
    if visualizer.dreamer.spec.fixed_hw is not None:
        return settings
    small = settings.replace(size=max(1, settings.size // 2))
    seen = small.transforms.output_hw((small.size, small.size))
    step = visualizer.compiled_step(objective, small)
    return small if min(seen) >= step.extractor.min_side() else settings


def _render_views(site, visualizer, layer, channel, settings, count, cancel) -> None:
    plan = renders.diverse_recipe(visualizer, layer, channel, settings, count)
    paths = [site / pages.diverse_path(layer, channel, v) for v in range(count)]
    if all(_is_written(p, renders.picked(plan, v)) for v, p in enumerate(paths)):
        return
    views, recipe = renders.diverse_pictures(
        visualizer, layer, channel, settings, count, cancel=cancel
    )
    for view, (path, picture) in enumerate(zip(paths, views)):
        _save(path, picture, renders.picked(recipe, view))


def _render_classes(site, visualizer, settings, options, cancel, report) -> dict[int, float]:
    head = visualizer.head_layer
    if head is None or options.classes == ():
        return {}
    count = int(visualizer.dreamer.model.get_layer(head).output.shape[-1])
    units = options.classes or tuple(range(min(count, MAX_DEFAULT_CLASSES)))
    too_big = [u for u in units if u >= count]
    if too_big:
        raise ValueError(
            f"classes: the head has {count} classes (0..{count - 1}); got {too_big[0]}"
        )
    found = {}
    for done, batch in enumerate(renders.batches(units, options.batch), start=1):
        for unit, picture, recipe, probability in renders.class_pictures(
            visualizer, batch, settings, cancel=cancel
        ):
            _save(site / pages.class_path(unit), picture, recipe)
            found[unit] = probability
        report("classes", min(done * options.batch, len(units)), len(units))
    return found


def _class_views(site: Path, classes: dict[int, float]) -> list[dict]:
    return [
        {
            "unit": unit,
            "picture": pages.class_path(unit)
            if (site / pages.class_path(unit)).is_file()
            else None,
            "probability": f"{probability:.3f}",
        }
        for unit, probability in sorted(classes.items())
    ]


def _save(path: Path, picture: np.ndarray, recipe: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(path, picture, recipe=recipe)


def _site_context(visualizer, site: Path, photo_paths, options) -> dict:
    provenance = visualizer.dreamer.provenance()
    return {
        "folder": site.name,  # the replay command names the picture as seen beside the site
        "model": visualizer.dreamer.spec.display_name,
        "kdream": provenance["kdream"],
        "backend": provenance["backend"],
        "weights": provenance["weights"]["source"],
        "photos": [p.name for p in photo_paths],
        "photo_count": len(photo_paths),
        "head": visualizer.head_layer,
        "classes": [],
    }


def _write_pages(site: Path, context: dict, statistics, options: AtlasOptions) -> None:
    names = context["photos"]
    diverse = options.diversity if options.diversity > 1 else 0
    layers = [pages.layer_view(stats, site, names, diverse) for stats in statistics.values()]
    pages.write_site(site, context, layers)


def atlas(
    model=None,
    photos=(),
    output: str | Path | None = None,
    *,
    weights="auto",
    input_range=None,
    precision: str = "float32",
    on_progress=None,
    cancel=None,
    **options,
) -> Atlas:
    """The statistics of every channel of ``model``'s layers over ``photos`` (a folder or
    a list of image files) and, with ``output``, the whole atlas site written there.
    ``options`` are :class:`AtlasOptions` fields (``layers=("mixed4",)``,
    ``channels=range(64)``, ``steps=128``).

    Example:
        >>> import kdream
        >>> found = kdream.atlas("inceptionv3", "photos/", layers=("mixed4",))  # doctest: +SKIP
        >>> found.layers["mixed4"].dead, found.layers["mixed4"].duplicates     # doctest: +SKIP
        ((), ((12, 140, 0.991),))
    """
    from kdream.techniques.visualize.render import Visualizer

    paths = photo_files(photos) if isinstance(photos, (str, Path)) else [Path(p) for p in photos]
    if not paths:
        raise ValueError("atlas: no photos (give a folder of images or a list of files)")
    for name in ("layers", "channels", "classes"):
        if options.get(name) is not None:
            options[name] = tuple(options[name])
    chosen = AtlasOptions(**options)
    visualizer = Visualizer(weights, model, input_range, precision)
    return build_atlas(visualizer, paths, output, chosen, on_progress, cancel)
