"""An atlas' channels rendered over Ray actors: each render batch
(:class:`~kdream.io.atlas.builder.RenderJob`) goes to whichever actor is free, which
renders it with the very function a one-process atlas uses
(:func:`~kdream.io.atlas.builder.render_job`) and writes its files atomically. A batch's
pictures depend on the batch only, never on the worker, so the site is the same files as
without Ray; a dead actor is restarted and its batch rendered again.

The survey, the crops and the pages stay in the calling process: they are a small part
of the work.

Example:
    >>> renderer = ray_renderer(("auto", None, None, "float32"), workers=4)  # doctest: +SKIP
    >>> build_atlas(visualizer, photos, "atlas/", options, renderer=renderer)  # doctest: +SKIP
"""

from __future__ import annotations

from kdream.distributed.cluster import (
    absolute,
    connected,
    default_workers,
    gpu_share,
    model_for_workers,
    raising_causes,
    start_actors,
)
from kdream.distributed.visualize import VisualizeWorker


class AtlasWorker(VisualizeWorker):
    """One Ray actor: loads the network once, renders one batch of an atlas per call."""

    def render_job(self, site: str, job, settings, options):
        from pathlib import Path

        from kdream.io.atlas.builder import render_job

        if self.failure is not None:
            raise self.failure
        render_job(Path(site), self.visualizer, job, settings, options)
        return job


def ray_renderer(
    network: tuple,
    *,
    workers: int | None = None,
    gpus_per_worker: float | None = None,
    address: str | None = None,
):
    """A ``renderer`` for :func:`~kdream.io.atlas.builder.build_atlas` that spreads the
    render batches over Ray actors. ``network``: the Visualizer's (weights, model,
    input_range, precision); the cluster address comes from the caller or ``RAY_ADDRESS``.
    """
    weights, model, *rest = network
    network = (weights, model_for_workers(model), *rest)

    def render(site, jobs, settings, options, cancel=None):
        from ray.util import ActorPool

        if not jobs:
            return
        with connected(address) as ray:
            share = gpu_share(ray, gpus_per_worker)
            count = min(workers or default_workers(ray, share), len(jobs))
            actors = start_actors(ray, AtlasWorker, count, share, network)
            try:
                pool = ActorPool(actors)
                calls = pool.map_unordered(
                    lambda actor, job: actor.render_job.remote(
                        absolute(site), job, settings, options
                    ),
                    jobs,
                )
                yield from raising_causes(ray, calls)
            finally:
                for actor in actors:
                    ray.kill(actor)

    return render
