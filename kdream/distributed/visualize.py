"""A visualisation's pictures (a sheet's channels) rendered in parts over Ray actors, then
put back in order: :meth:`Visualizer.render` draws every random number for the whole
batch and keeps its ``part``, so the parts add up to the one-process render (bit for bit
on TensorFlow and JAX; torch's CPU kernels may round a different batch size differently,
by at most one grey level in our tests).

Example:
    >>> objective = channel_batch("mixed4", range(64))  # doctest: +SKIP
    >>> pictures = render_parts(("auto", None, None, "float32"), objective,
    ...                         VisualizeSettings(size=128), 64, workers=4)  # doctest: +SKIP
    >>> pictures.shape  # doctest: +SKIP
    (64, 128, 128, 3)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from kdream.backend import import_keras_quietly
from kdream.distributed.cluster import (
    connected,
    default_workers,
    gpu_share,
    model_for_workers,
    raising_causes,
    start_actors,
)


class VisualizeWorker:
    """One Ray actor: loads the network once, renders parts of batches."""

    def __init__(self, network: tuple):
        import_keras_quietly()  # a worker's stderr reaches the user's terminal
        from kdream.techniques.visualize.render import Visualizer

        self.failure = None
        try:
            self.visualizer = Visualizer(*network)
        except Exception as error:  # raised by the calls: a constructor's would restart it
            self.failure = error

    def render(self, objective, settings, start, part: slice) -> tuple[slice, np.ndarray]:
        if self.failure is not None:
            raise self.failure
        return part, self.visualizer.render(objective, settings, start=start, part=part)

    def pid(self) -> int:
        return os.getpid()


def parts_of(count: int, workers: int, most: int = 16) -> list[slice]:
    """The batch cut into contiguous parts: at least one per worker, at most ``most``
    pictures each (so the progress bar moves).

    Example:
        >>> parts_of(10, 2, most=4)
        [slice(0, 4, None), slice(4, 8, None), slice(8, 10, None)]
    """
    size = max(1, min(most, math.ceil(count / max(1, workers))))
    return [slice(begin, min(begin + size, count)) for begin in range(0, count, size)]


def render_parts(
    network: tuple,
    objective,
    settings,
    count: int,
    *,
    start=None,
    workers: int | None = None,
    gpus_per_worker: float | None = None,
    address: str | None = None,
    on_part: Callable[[int], None] | None = None,
) -> np.ndarray:
    """The ``count`` pictures of ``objective`` rendered over Ray actors, in batch order.

    ``network``: the Visualizer's (weights, model, input_range, precision); ``on_part``
    gets the number of pictures of each part as it ends.
    """
    from ray.util import ActorPool

    weights, model, *rest = network
    network = (weights, model_for_workers(model), *rest)
    with connected(address) as ray:
        gpus_per_worker = gpu_share(ray, gpus_per_worker)
        actors_wanted = workers or default_workers(ray, gpus_per_worker)
        parts = parts_of(count, actors_wanted)
        actors = start_actors(
            ray, VisualizeWorker, min(actors_wanted, len(parts)), gpus_per_worker, network
        )
        try:
            pool = ActorPool(actors)
            calls = pool.map_unordered(
                lambda actor, part: actor.render.remote(objective, settings, start, part), parts
            )
            rendered = {}
            for part, pictures in raising_causes(ray, calls):
                rendered[part.start] = pictures
                if on_part is not None:
                    on_part(len(pictures))
        finally:
            for actor in actors:
                ray.kill(actor)
    return np.concatenate([rendered[part.start] for part in parts], axis=0)
