"""``kdream video --ray``: a clip's shots dreamed in parallel over Ray actors.

Within a shot each frame carries the last one's dream along the optical flow, so a shot is
one job, dreamed in order by one actor; across a cut nothing is carried (see
:mod:`kdream.techniques.motion.shots`), so shots are independent. With ``--blend 0`` every
frame is independent and the jobs are runs of frames cut to keep every actor busy. An
actor decodes its job's frames itself and writes each dreamed frame atomically, with the
very recipe the serial run gives it, into the run's frames folder; the caller assembles
the video from that folder as without Ray. A dead actor is restarted and its job dreamed
again: the frames come out the same bytes.

Example:
    >>> jobs = video_jobs(job, [(0, 40), (40, 90)], workers=2)  # doctest: +SKIP
    >>> dream_video_jobs(("auto", None, None, "float32"), jobs, workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator

import numpy as np

from kdream.backend import import_keras_quietly
from kdream.config import DreamConfig
from kdream.distributed.cluster import (
    absolute,
    connected,
    default_workers,
    gpu_share,
    model_for_workers,
    raising_causes,
    start_actors,
)
from kdream.distributed.visualize import parts_of

WAIT_SECONDS = 0.5
"""How often the caller hears about frames written while jobs run (the progress bar)."""


@dataclasses.dataclass(frozen=True)
class VideoJob:
    """Frames ``first`` .. ``end - 1`` (0-based) of one video run: what an actor needs."""

    source: str
    """The input video (an absolute path: every node must see it at the same place)."""
    max_side: int | None
    work: str
    """The frames folder (absolute), shared with the caller."""
    config: DreamConfig
    run_recipe: dict
    """The run's recipe, with its motion (blend, flow, cuts and the shot starts)."""
    resume: bool = False
    """Keep the job's frames already written with this recipe and go on after them."""
    first: int = 0
    end: int = 0


def video_jobs(job: VideoJob, shots: list[tuple[int, int]], workers: int, independent: bool):
    """One job per shot; with ``independent`` frames (no blend), runs of frames instead,
    at least one per worker and short enough that the progress bar moves."""
    if not independent:
        return [dataclasses.replace(job, first=first, end=end) for first, end in shots]
    total = shots[-1][1] if shots else 0
    return [
        dataclasses.replace(job, first=part.start, end=part.stop)
        for part in parts_of(total, workers, most=8)
    ]


def dream_job(dreamer, job: VideoJob) -> int:
    """Dream and write a job's frames in order; the number dreamed (frames kept by
    ``resume`` are not)."""
    from kdream.io import images as imageio
    from kdream.io import video as video_io
    from kdream.recipe import section
    from kdream.techniques.motion.sequence import MotionConfig, video_frame_recipe, video_frames

    motion_part = section(job.run_recipe, "motion")
    motion = MotionConfig.from_dict(motion_part, "video")
    start = job.first + (_written_from(job.work, job.first, job.end) if job.resume else 0)
    if start == job.end:
        return 0
    sources = video_io.read_frames(job.source, max(job.first, start - 1), job.max_side)
    previous = None
    if start > job.first:  # resumed inside the shot: carry the last written frame's dream
        last = imageio.load_image(video_io.frame_path(job.work, start)).rgb
        previous = (next(sources), np.asarray(last))
    dreamed = 0
    frames = video_frames(
        dreamer, _first(sources, job.end - start), motion, job.config, start, previous,
        shot_starts=motion_part["shots"],
    )  # fmt: skip
    for index, frame in enumerate(frames, start=start):
        size_hw = frame.shape[:2]
        frame_recipe = video_frame_recipe(dreamer, job.config, job.run_recipe, index, size_hw)
        video_io.write_frame(job.work, index + 1, frame, frame_recipe)
        dreamed += 1
    return dreamed


def _first(frames: Iterator[np.ndarray], count: int) -> Iterator[np.ndarray]:
    """The next ``count`` frames; the reader is closed then (its file shuts at once)."""
    try:
        for _, frame in zip(range(count), frames, strict=False):
            yield frame
    finally:
        frames.close()


def _written_from(work: str, first: int, end: int) -> int:
    """How many of the frames ``first`` .. ``end - 1`` are on disk, in a row from ``first``."""
    from kdream.io.video import frame_path

    count = 0
    while first + count < end and frame_path(work, first + count + 1).is_file():
        count += 1
    return count


def frames_on_disk(work: str | os.PathLike) -> int:
    """Frames written to ``work`` so far, whoever wrote them."""
    from kdream.io.video import frame_files

    return len(frame_files(work))


@dataclasses.dataclass(frozen=True)
class JobDone:
    """What an actor reports as it ends a job."""

    first: int
    end: int
    dreamed: int
    """Frames dreamed (not those a resumed run kept)."""
    worker: int
    """The actor's process id."""


class VideoWorker:
    """One Ray actor: loads the network once, then dreams one job (a shot) per call."""

    def __init__(self, network: tuple):
        import_keras_quietly()  # a worker's stderr reaches the user's terminal
        from kdream.ascent.dreamer import Dreamer

        self.failure = None
        try:
            weights, model, input_range, precision = network
            self.dreamer = Dreamer(weights, model, input_range, precision=precision)
        except Exception as error:  # raised by the calls: a constructor's would restart it
            self.failure = error

    def dream(self, job: VideoJob) -> JobDone:
        if self.failure is not None:
            raise self.failure
        return JobDone(job.first, job.end, dream_job(self.dreamer, job), os.getpid())

    def pid(self) -> int:
        return os.getpid()


def dream_video_jobs(
    network: tuple,
    jobs: list[VideoJob],
    *,
    workers: int | None = None,
    gpus_per_worker: float | None = None,
    address: str | None = None,
    on_wait: Callable[[], None] | None = None,
    on_job: Callable[[JobDone], None] | None = None,
) -> int:
    """Dream ``jobs`` over Ray actors; the number of frames dreamed. ``network``: the
    Dreamer's (weights, model, input_range, precision). ``on_wait`` is called every
    :data:`WAIT_SECONDS` and as each job ends (progress, Ctrl-C), ``on_job`` with each
    job's :class:`JobDone`."""
    from ray.util import ActorPool

    if not jobs:
        return 0
    weights, model, *rest = network
    network = (weights, model_for_workers(model), *rest)
    jobs = [dataclasses.replace(job, source=absolute(job.source), work=absolute(job.work))
            for job in jobs]  # fmt: skip
    with connected(address) as ray:
        share = gpu_share(ray, gpus_per_worker)
        count = min(len(jobs), workers or default_workers(ray, share))
        actors = start_actors(ray, VideoWorker, count, share, network)
        try:
            pool = ActorPool(actors)
            for job in jobs:
                pool.submit(lambda actor, job: actor.dream.remote(job), job)
            dreamed = 0
            for done in raising_causes(ray, _as_they_end(pool, on_wait)):
                dreamed += done.dreamed
                if on_job is not None:
                    on_job(done)
            return dreamed
        finally:
            for actor in actors:
                ray.kill(actor)


def _as_they_end(pool, on_wait: Callable[[], None] | None) -> Iterator:
    """The pool's results as they come, calling ``on_wait`` while waiting."""
    while pool.has_next():
        try:
            result = pool.get_next_unordered(timeout=WAIT_SECONDS)
        except TimeoutError:
            result = None
        if on_wait is not None:
            on_wait()
        if result is not None:
            yield result
