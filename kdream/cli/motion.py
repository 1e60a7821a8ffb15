"""``kdream zoom`` and ``kdream video``: dreams that move, written frame by frame.

Frames go atomically, one PNG each with its recipe, into a work folder beside the output
(``zoom.mp4.frames/``) or into the folder given with ``-o frames/``. ``--resume`` continues
from the frames already there (same recipe only); the video is assembled at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from kdream import recipe as recipe_parts
from kdream._files import atomic_write_text as atomic_write_text
from kdream.cli.common import (
    EXIT_CANCELLED,
    EXIT_OK,
    UsageError,
    add_recipe_arguments,
    check_network_names,
    check_recipe_model,
    config_from_args,
    ctrl_c_sets,
    fit_max_side,
    import_keras_quietly,
    model_choice,
    positive_int,
    recipe_config,
    recipe_weights,
    recorded_input,
    warn_if_recipe_differs,
)
from kdream.cli.folders import add_ray_arguments, check_ray_arguments
from kdream.config import (
    VIDEO_CUT_THRESHOLD,
    VIDEO_RECIPE,
    ZOOM_RECIPE,
    DreamConfig,
    MotionConfig,
)
from kdream.io import images as imageio
from kdream.network.precision import INTERFACE_DEFAULT

RUN_RECIPE = "run.json"
"""The work folder's record of the run's recipe: --resume refuses a different one."""
VIDEO_MAX_SIDE = 720


def add_parsers(commands, parents) -> None:
    zoom = commands.add_parser("zoom", parents=parents, help="the infinite zoom into a picture")
    zoom.add_argument("input", nargs="?", metavar="INPUT", help="image (default: the sample)")
    _output_arguments(zoom, "<input>_zoom.mp4")
    # motion defaults are None here, so that a --recipe's values stay unless a flag is given
    zoom.add_argument("--frames", type=positive_int, help="frames to make (120)")
    zoom.add_argument("--zoom", type=float, help="scale per frame (1.02)")
    zoom.add_argument("--rotate", type=float, metavar="DEG", help="per frame (0)")
    zoom.add_argument("--fps", type=float, help="frames per second (30)")
    add_recipe_arguments(zoom, "per-frame recipe", DreamConfig().replace(**ZOOM_RECIPE))
    zoom.set_defaults(run=run_zoom)

    video = commands.add_parser("video", parents=parents, help="dream every frame of a video")
    video.add_argument("input", metavar="INPUT", help="a video file or a folder of frames")
    _output_arguments(video, "<input>_dream.mp4")
    video.add_argument("--blend", type=float, help="previous dream carried (0.7)")
    video.add_argument(
        "--flow", choices=("dis", "farneback", "off"),
        help="optical flow that moves the previous dream with the picture: dis (OpenCV's "
        "DIS, fast), farneback, or off (default: dis)",
    )  # fmt: skip
    video.add_argument("--fps", type=float, help="output frame rate (default: the input's)")
    video.add_argument(
        "--cuts", type=_cut_threshold, metavar="T",
        help="shot cuts, where the dream starts afresh: PySceneDetect's content threshold "
        f"(default: {VIDEO_CUT_THRESHOLD:g}; lower finds more), or off",
    )  # fmt: skip
    base = DreamConfig().replace(**VIDEO_RECIPE)
    add_recipe_arguments(video, "per-frame recipe", base, max_side=VIDEO_MAX_SIDE)
    add_ray_arguments(video)
    video.set_defaults(run=run_video)


def _cut_threshold(text: str) -> float:
    """``--cuts``: a threshold, or ``off`` (recorded as 0: no cuts)."""
    if text == "off":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or off, got {text!r}") from None
    if not 0 < value <= 255:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 255] or off, got {text!r}")
    return value


def _output_arguments(parser, default: str) -> None:
    parser.add_argument(
        "-o", "--output", help=f"{default} (.mp4/.mov/.mkv/.gif/.webp), or a folder/ for PNG frames"
    )
    parser.add_argument(
        "--recipe", metavar="FILE",
        help="replay the recipe of a kdream video, animation or frames folder",
    )  # fmt: skip
    parser.add_argument("--resume", action="store_true", help="continue from written frames")
    parser.add_argument("--force", action="store_true", help="start over, replacing outputs")
    parser.add_argument("--keep-frames", action="store_true", help="keep the PNG frames")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


# --------------------------------------------------------------------------- zoom


def run_zoom(args) -> int:
    replayed = _replayed_recipe(args, "zoom")
    motion = _motion(args, replayed, "zoom")
    max_side = args.max_side or recipe_parts.max_side_of(replayed)
    input_path = args.input or recorded_input(replayed)
    loaded = imageio.load_image(input_path) if input_path else imageio.load_sample()
    photo, _ = fit_max_side(loaded.rgb, None, max_side)
    source = input_path or imageio.SAMPLE_SOURCE  # the recipe keeps its file name
    plan = _plan(args, Path(input_path or "sample").stem + "_zoom.mp4")
    config = config_from_args(args, _base_config(replayed, ZOOM_RECIPE))
    _check_names_then_load_keras(args, replayed, config)
    from kdream.techniques.motion.sequence import zoom_frames

    dreamer = _dreamer(args, replayed, config.layer_names)
    recipe = _run_recipe(dreamer, config, photo.shape[:2], source, max_side, motion, "zoom")
    start, last = plan.prepare(recipe, args.resume)
    frames = zoom_frames(dreamer, photo, motion, config, start, last, plan.cancel)
    return plan.run(frames, motion.frames, start, dreamer, config, recipe, audio_from=None)


# --------------------------------------------------------------------------- video


def run_video(args) -> int:
    from kdream.io import video as video_io

    check_ray_arguments(args)
    replayed = _replayed_recipe(args, "video")
    info = video_io.probe(args.input)
    max_side = args.max_side or recipe_parts.max_side_of(replayed) or VIDEO_MAX_SIDE
    motion = _motion(args, replayed, "video", fps=info.fps)
    plan = _plan(args, Path(args.input).stem + "_dream.mp4")
    config = config_from_args(args, _base_config(replayed, VIDEO_RECIPE))
    _check_names_then_load_keras(args, replayed, config)
    from kdream.techniques.motion.sequence import video_frames

    dreamer = _dreamer(args, replayed, config.layer_names)
    first = next(video_io.read_frames(args.input, 0, max_side))
    recipe = _run_recipe(dreamer, config, first.shape[:2], args.input, max_side, motion, "video")
    frame_count, starts = _shots(args.input, max_side, motion.cuts, info.frame_count)
    motion_part = {**recipe_parts.section(recipe, "motion"), "frames": frame_count,
                   "shots": starts}  # fmt: skip
    recipe = recipe_parts.with_parts(recipe, motion=motion_part)
    start, last = plan.prepare(recipe, args.resume)
    audio = Path(args.input) if info.has_audio else None
    if args.ray is not None:
        network = (*_network(args, replayed)[:3], dreamer.precision)  # the recipe's precision
        return plan.run_on_ray(args, network, config, recipe, max_side, audio)
    previous = None
    if start:
        previous = (next(video_io.read_frames(args.input, start - 1, max_side)), last)
    sources = video_io.read_frames(args.input, start, max_side)
    frames = video_frames(dreamer, sources, motion, config, start, previous, plan.cancel, starts)
    return plan.run(frames, frame_count, start, dreamer, config, recipe, audio_from=audio)


def _shots(source, max_side: int | None, threshold: float, frame_count: int | None):
    """(frames in the clip, the frames that begin a shot), from one pass over the frames
    as they will be dreamed; without cuts the probed ``frame_count`` stands when there is
    one, else the frames are only counted."""
    from kdream.io import video as video_io
    from kdream.techniques.motion.shots import shot_starts

    if threshold <= 0 and frame_count is not None:
        return frame_count, [0]
    seen = 0

    def counted(frames):
        nonlocal seen
        for frame in frames:
            seen += 1
            yield frame

    frames = counted(video_io.read_frames(source, 0, max_side))
    starts = shot_starts(frames, threshold) if threshold > 0 else [0]
    for _ in frames:  # no cuts to find: the frames are only counted
        pass
    return seen, starts


# --------------------------------------------------------------------------- shared


def _replayed_recipe(args, kind: str) -> dict | None:
    """The run recipe of ``--recipe`` (a zoom's for zoom, a video's for video), or None."""
    if not args.recipe:
        return None
    from kdream.io import video as video_io

    recipe = video_io.read_video_recipe(args.recipe)
    if (recipe_parts.section(recipe, "motion") or {}).get("kind") != kind:
        raise UsageError(f"{args.recipe}: not the recipe of a kdream {kind}")
    return recipe


def _motion(args, recipe: dict | None, kind: str, fps: float | None = None):
    """The motion settings: the flags given, else the recipe's, else the defaults
    (a video's frame rate: its input's)."""
    recorded = recipe_parts.section(recipe, "motion") or {}
    fields = MotionConfig.ZOOM_FIELDS if kind == "zoom" else MotionConfig.VIDEO_FIELDS
    chosen = {name: getattr(args, name) for name in fields}
    chosen = {
        name: recorded.get(name) if value is None else value for name, value in chosen.items()
    }
    if chosen.get("fps") is None and fps is not None:
        chosen["fps"] = fps
    if kind == "video" and recipe is not None and "cuts" not in recorded and args.cuts is None:
        chosen["cuts"] = 0.0  # a recipe from before shot cuts were found: none, as it was made
    try:
        return MotionConfig(**{name: value for name, value in chosen.items() if value is not None})
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None


def _base_config(recipe: dict | None, defaults: dict) -> DreamConfig:
    """The replayed recipe's dream parameters, else the command's per-frame defaults."""
    return recipe_config(recipe) if recipe is not None else DreamConfig().replace(**defaults)


def _check_names_then_load_keras(args, recipe: dict | None, config: DreamConfig) -> None:
    """The last check without a framework (a built-in network's layer and channel names),
    then Keras, quietly: every mistake before this line answers fast."""
    model, _ = model_choice(args, recipe)
    check_network_names(model, [name for name, _ in config.layers], config.channels)
    import_keras_quietly()


def _network(args, recipe: dict | None = None) -> tuple:
    """The Dreamer's (weights, model, input_range, precision) from the flags or recipe."""
    model, input_range = model_choice(args, recipe)
    weights = args.weights or recipe_weights(recipe)
    precision = args.precision or recipe_parts.precision_of(recipe) or INTERFACE_DEFAULT
    return weights, model, input_range, precision


def _dreamer(args, recipe: dict | None, layers: tuple[str, ...]):
    from kdream.ascent.dreamer import Dreamer

    weights, model, input_range, precision = _network(args, recipe)
    dreamer = Dreamer(weights, model, input_range, precision, layers)
    check_recipe_model(recipe, dreamer)
    warn_if_recipe_differs(recipe, dreamer, args.quiet)
    return dreamer


def _run_recipe(dreamer, config, size_hw, source, max_side, motion, kind: str) -> dict:
    recipe = recipe_parts.with_input_source(dreamer.recipe(config, size_hw), source, max_side)
    motion_part = {"kind": kind, **motion.to_dict(kind), "frame_seed": "seed + frame - 1"}
    return recipe_parts.with_parts(recipe, motion=motion_part)


def _plan(args, default_name: str) -> MotionPlan:
    from kdream.io.video import OUTPUT_SUFFIXES

    output = Path(args.output or default_name)
    if not (args.output or args.force or args.resume):  # kdream's name: a taken one gets a number
        output = imageio.free_path(output)
    into_folder = output.is_dir() or str(args.output or "").endswith(("/", "\\"))
    if not into_folder and output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(
            f"{output}: unsupported output; use {', '.join(OUTPUT_SUFFIXES)} or a folder/"
        )
    if args.input and output.resolve() == Path(args.input).resolve():
        raise UsageError(f"{output}: the output would overwrite the input")
    if not into_folder and output.exists() and not args.force:
        raise UsageError(f"{output} exists: --force replaces it")
    work = output if into_folder else output.with_name(output.name + ".frames")
    return MotionPlan(output, work, into_folder, args)


class MotionPlan:
    """Where frames go, resuming, progress, Ctrl-C and the final assembly."""

    def __init__(self, output: Path, work: Path, into_folder: bool, args) -> None:
        self.output, self.work, self.into_folder, self.args = output, work, into_folder, args
        self.cancel = threading.Event()

    def prepare(self, recipe: dict, resume: bool) -> tuple[int, np.ndarray | None]:
        """Start fresh, or find where an interrupted run of the same recipe stopped:
        (frames already written, the last of them)."""
        from kdream.io import video as video_io

        existing = video_io.frame_files(self.work)  # also after gaps: --ray dreams shots apart
        if existing and not resume and not self.args.force:
            raise UsageError(
                f"{self.work} holds {len(existing)} frames of an earlier run: "
                "--resume continues it, --force starts over"
            )
        if existing and not resume:
            for frame in existing:
                frame.unlink()
        if existing and resume:
            self._check_same_recipe(recipe)
        done = video_io.written_frames(self.work) if resume and existing else []
        self.work.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.work / RUN_RECIPE, json.dumps(recipe, indent=1, sort_keys=True))
        last = np.asarray(imageio.load_image(done[-1]).rgb) if done else None
        return len(done), last

    def _check_same_recipe(self, recipe: dict) -> None:
        path = self.work / RUN_RECIPE
        earlier = json.loads(path.read_text()) if path.is_file() else None
        if _comparable(earlier) != _comparable(recipe):
            raise UsageError(
                f"{self.work}: its frames were dreamed with another recipe; "
                "use the same flags to --resume, or --force to start over"
            )

    def frame_recipe(self, dreamer, config, recipe, index: int, frame) -> dict:
        """The recipe frame ``index`` was dreamed with, as its PNG records it."""
        from kdream.techniques.motion.sequence import frame_config, video_frame_recipe

        if self.motion.get("kind") == "video":
            return video_frame_recipe(dreamer, config, recipe, index, frame.shape[:2])
        return recipe_parts.with_parts(
            dreamer.recipe(frame_config(config, index), frame.shape[:2]),
            input=recipe_parts.input_entry(recipe),
            max_side=recipe_parts.max_side_of(recipe),
            motion={**self.motion, "frame": index + 1},
        )

    def run(self, frames, total, start, dreamer, config, recipe, audio_from) -> int:
        from kdream.ascent.dreamer import DreamCancelled
        from kdream.io import video as video_io
        from kdream.techniques.motion.sequence import run_frames

        self.motion = recipe_parts.section(recipe, "motion")

        def save(index: int, frame: np.ndarray) -> None:
            frame_recipe = self.frame_recipe(dreamer, config, recipe, index, frame)
            video_io.write_frame(self.work, index + 1, frame, frame_recipe)

        try:
            with ctrl_c_sets(self.cancel), _frame_bar(self.args.quiet, total, start) as report:
                done = run_frames(frames, total, start, on_frame=save, on_progress=report)
        except DreamCancelled:
            return self._stopped()
        return self._assemble(done, recipe, audio_from)

    def run_on_ray(self, args, network, config, recipe, max_side, audio_from) -> int:
        """The video's shots dreamed over Ray actors into the frames folder, then assembled
        as without Ray; the bar counts the frames the workers have written."""
        import time

        from kdream.ascent.dreamer import DreamCancelled
        from kdream.distributed.video import VideoJob, dream_video_jobs, frames_on_disk, video_jobs
        from kdream.techniques.motion.sequence import FrameProgress
        from kdream.techniques.motion.shots import shot_ranges

        self.motion = recipe_parts.section(recipe, "motion")
        total = self.motion["frames"]
        job = VideoJob(args.input, max_side, str(self.work), config, recipe, args.resume)
        shots = shot_ranges(self.motion["shots"], total)
        independent = self.motion["blend"] == 0  # nothing carried from frame to frame
        jobs = video_jobs(job, shots, args.workers or len(shots), independent)
        before, started = frames_on_disk(self.work), time.perf_counter()
        try:
            with ctrl_c_sets(self.cancel), _frame_bar(args.quiet, total, before) as report:

                def on_wait() -> None:
                    if self.cancel.is_set():
                        raise DreamCancelled
                    if report is not None:
                        done, elapsed = frames_on_disk(self.work), time.perf_counter() - started
                        report(FrameProgress(done, total, elapsed, done - before))

                dream_video_jobs(network, jobs, workers=args.workers,
                                 gpus_per_worker=args.gpus_per_worker,
                                 address=args.ray or None, on_wait=on_wait)  # fmt: skip
        except DreamCancelled:
            return self._stopped()
        return self._assemble(total, recipe, audio_from)

    def _stopped(self) -> int:
        from kdream.io import video as video_io

        written = len(video_io.frame_files(self.work))  # --ray: some after gaps
        print(f"kdream: stopped after {written} frames in {self.work}; run the same command "
              "with --resume to continue", file=sys.stderr)  # fmt: skip
        return EXIT_CANCELLED

    def _assemble(self, done: int, recipe: dict, audio_from) -> int:
        from kdream.io import video as video_io

        written = video_io.written_frames(self.work)[:done]
        path = video_io.assemble(written, self.output, self.motion["fps"], recipe,
                                 audio_from=audio_from)  # fmt: skip
        if not self.into_folder and not self.args.keep_frames:
            shutil.rmtree(self.work, ignore_errors=True)
        print(f"wrote {path} ({done} frames)")
        return EXIT_OK


def _comparable(recipe: dict | None) -> dict | None:
    """A run's recipe without what may change between a run and its resumption: the
    version, and how many frames a zoom makes (resuming may extend it)."""
    if recipe is None:
        return None
    kept = {key: value for key, value in recipe.items() if key != "kdream"}
    if "motion" in kept:
        kept["motion"] = {k: v for k, v in kept["motion"].items() if k != "frames"}
    return kept


@contextmanager
def _frame_bar(quiet: bool, total: int | None, start: int):
    """Frames done, frames per second and ETA."""
    from rich.console import Console

    console = Console(stderr=True)
    if quiet or not console.is_terminal:  # a log file gets no bar (nor its blank line)
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]frames"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[fps]} fps"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("frames", total=total, completed=start, fps="-")

        def report(progress) -> None:
            bar.update(task, completed=progress.frame, fps=f"{progress.fps:.2f}")

        yield report
