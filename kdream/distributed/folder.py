"""A folder dream over Ray actors: files go to whichever actor is free, outcomes come back
as they finish (for the progress bar), and a dead actor's file is dreamed again by its
restarted actor. Outputs are written atomically by the workers, named by the input only.

Example:
    >>> from kdream.io.folder import FolderDream
    >>> dream_folder("photos/", "dreams/", FolderDream(), workers=2)  # doctest: +SKIP
    [FileOutcome(source='photos/a.jpg', output='dreams/a_dream.png', status='written', ...)]
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from kdream.backend import import_keras_quietly
from kdream.distributed.cluster import (
    absolute,
    connected,
    default_workers,
    gpu_share,
    model_for_workers,
    raising_causes,
    start_actors,
)
from kdream.io.folder import FileOutcome, FolderDream, dream_file, folder_images
from kdream.io.images import check_output_path, default_output_path


class DreamWorker:
    """One Ray actor: loads the network once, then dreams one file per call."""

    def __init__(self, settings: FolderDream):
        import_keras_quietly()  # a worker's stderr reaches the user's terminal
        self.settings, self.failure = settings, None
        try:
            self.dreamer = settings.load_dreamer()
            self.objective = settings.objective_for(self.dreamer)
        except Exception as error:  # raised by the calls: a constructor's would restart it
            self.failure = error

    def dream(self, source: str, output: str) -> FileOutcome:
        if self.failure is not None:
            raise self.failure
        return dream_file(self.dreamer, self.settings, source, output, self.objective)

    def pid(self) -> int:
        return os.getpid()


def dream_folder(
    inputs,
    output_dir,
    settings: FolderDream | None = None,
    **options,
) -> list[FileOutcome]:
    """Dream a folder (or a list of files) into ``output_dir`` on Ray; the outcomes in
    input order. Existing outputs are refused unless ``settings.force`` or ``.resume``.

    ``options``: ``workers`` (default: one per CPU of the cluster, or per
    ``gpus_per_worker`` share of its GPUs), ``gpus_per_worker`` (default: 1 where the
    cluster has GPUs, else 0), ``address`` (a Ray cluster;
    default ``RAY_ADDRESS``, else a local Ray) and ``on_outcome`` (called as each file ends).
    """
    settings = settings or FolderDream()
    sources = folder_images(inputs) if Path(str(inputs)).is_dir() else [str(s) for s in inputs]
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    replace = settings.force or settings.resume
    jobs = [
        (source, check_output_path(default_output_path(source, output_dir), sources, replace))
        for source in sources
    ]
    return dream_jobs(jobs, settings, **options)


def dream_jobs(
    jobs: Sequence[tuple[str, os.PathLike | str]],
    settings: FolderDream,
    workers: int | None = None,
    gpus_per_worker: float | None = None,
    address: str | None = None,
    on_outcome: Callable[[FileOutcome], None] | None = None,
) -> list[FileOutcome]:
    """(source, output) pairs, already checked, dreamed over Ray: the outcomes in job order."""
    from ray.util import ActorPool

    if not jobs:
        return []
    settings = dataclasses.replace(settings, model=model_for_workers(settings.model))
    # Workers get absolute paths; outcomes name the files as the caller did.
    named = {absolute(source): (source, str(output)) for source, output in jobs}
    with connected(address) as ray:
        gpus_per_worker = gpu_share(ray, gpus_per_worker)
        count = min(len(jobs), workers or default_workers(ray, gpus_per_worker))
        actors = start_actors(ray, DreamWorker, count, gpus_per_worker, settings)
        try:
            pool = ActorPool(actors)
            calls = pool.map_unordered(
                lambda actor, job: actor.dream.remote(absolute(job[0]), absolute(job[1])),
                list(jobs),
            )
            outcomes = {}
            for outcome in raising_causes(ray, calls):
                source, output = named[outcome.source]
                outcome = dataclasses.replace(outcome, source=source, output=output)
                outcomes[source] = outcome
                if on_outcome is not None:
                    on_outcome(outcome)
        finally:
            for actor in actors:
                ray.kill(actor)
    return [outcomes[source] for source, _ in jobs]
