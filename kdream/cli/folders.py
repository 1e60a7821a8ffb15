"""Folder dreams in the CLI: ``--resume``, ``--ray [ADDRESS]``, ``--workers``,
``--gpus-per-worker``; one line per file as it ends, a summary that lists the failures,
and (on Ray) one progress bar over the files fed from the workers.

Like :mod:`kdream.cli.common`, commands import this module, never each other.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager

from kdream.cli.common import EXIT_OK, EXIT_USAGE, UsageError, fail, notify, positive_int
from kdream.io.folder import FAILED, KEPT, FileOutcome


def add_folder_arguments(parser) -> None:
    group = add_ray_arguments(parser, "folders, clusters and devices")
    group.add_argument(
        "--resume",
        action="store_true",
        help="keep outputs that already carry this run's recipe; dream the others",
    )
    group.add_argument(
        "--devices",
        type=positive_int,
        metavar="N",
        help="JAX: split each picture's tile batches over N local devices",
    )


def add_ray_arguments(parser, title: str = "clusters"):
    """``--ray [ADDRESS]``, ``--workers N``, ``--gpus-per-worker F``; returns the group."""
    group = parser.add_argument_group(title)
    group.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="spread the work over Ray actors: a local Ray, or the cluster at ADDRESS "
        "(default: $RAY_ADDRESS when set); needs pip install 'kdream[ray]'",
    )
    group.add_argument("--workers", type=positive_int, metavar="N", help="Ray actors")
    group.add_argument(
        "--gpus-per-worker",
        type=_gpu_share,
        metavar="F",
        help="GPUs per Ray actor, e.g. 0.5 (default: 1 on a cluster with GPUs, else 0)",
    )
    return group


def _gpu_share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def check_ray_arguments(args) -> None:
    """Refuse Ray-only flags without ``--ray``, ``--ray`` without Ray installed, and
    ``--devices`` off JAX (before any model loads)."""
    from kdream.distributed.cluster import RayNotInstalled, ray_installed

    _check_devices(args)
    if args.ray is None:
        given = [flag for flag, value in (("--workers", args.workers),
                 ("--gpus-per-worker", args.gpus_per_worker)) if value is not None]  # fmt: skip
        if given:
            raise UsageError(f"{given[0]} needs --ray")
        return
    if not ray_installed():
        raise UsageError(str(RayNotInstalled()))


def _check_devices(args) -> None:
    if getattr(args, "devices", None) is None:
        return
    from kdream.backend import name

    if name() != "jax":
        raise UsageError(
            f"--devices: only the JAX backend splits a picture over devices (this is "
            f"{name()}; Keras' distribution API is JAX-only)"
        )
    if args.ray is not None:
        raise UsageError("--devices splits one picture in this process: not with --ray")


def use_devices(args) -> None:
    """``--devices N``: from here on, the network's weights go to N devices."""
    if args.devices is not None:
        from kdream.backend import split_batches_over

        try:
            split_batches_over(args.devices)
        except ValueError as error:
            raise UsageError(str(error)) from None


def report(outcome: FileOutcome, quiet: bool) -> None:
    """The file's line: wrote, kept (``--resume``) or its error."""
    notify(quiet, *outcome.notices)
    if outcome.status == FAILED:
        fail(outcome.message, EXIT_USAGE)
    elif outcome.status == KEPT:
        notify(quiet, f"kept {outcome.output}: it already carries this recipe (--resume)")
    else:
        width, height = outcome.size
        print(f"wrote {outcome.output} ({width}x{height}) in {outcome.seconds:.1f} s")


def summary(outcomes: list[FileOutcome], unreadable: list[str]) -> int:
    """The run's last lines and exit code: 2 when any file failed, and which."""
    failed = unreadable + [outcome.source for outcome in outcomes if outcome.status == FAILED]
    kept = sum(outcome.status == KEPT for outcome in outcomes)
    total = len(outcomes) + len(unreadable)
    if total > 1:
        written = total - len(failed) - kept
        line = f"dreamed {written} of {total} images; {len(failed)} failed"
        print(line + (f"; {kept} kept (--resume)" if kept else ""))
    if failed and total > 1:
        print(f"kdream: failed: {', '.join(failed)}", file=sys.stderr)
    return EXIT_OK if not failed else EXIT_USAGE


def dream_on_ray(args, settings, jobs, unreadable: list[str]) -> int:
    """The folder's jobs over Ray actors, reported as they end."""
    from kdream.distributed import dream_jobs

    outcomes = []
    with files_bar(args.quiet, len(jobs)) as advance:

        def on_outcome(outcome: FileOutcome) -> None:
            outcomes.append(outcome)
            advance(outcome)
            report(outcome, args.quiet)

        dream_jobs(
            jobs,
            settings,
            workers=args.workers,
            gpus_per_worker=args.gpus_per_worker,
            address=args.ray or None,
            on_outcome=on_outcome,
        )
    return summary(outcomes, unreadable)


@contextmanager
def files_bar(quiet: bool, total: int):
    """One rich bar over the files: done, failed, files/s and time left."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield lambda outcome: None
        return
    columns = (
        TextColumn("[bold]files"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} done, {task.fields[failed]} failed"),
        TextColumn("{task.fields[rate]} files/s"),
        TimeRemainingColumn(),
    )
    started = time.perf_counter()
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("files", total=total, failed=0, rate="-")
        failed = 0

        def advance(outcome: FileOutcome) -> None:
            nonlocal failed
            failed += outcome.status == FAILED
            done = bar.tasks[task].completed + 1
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=done, failed=failed, rate=f"{rate:.2f}")

        yield advance


def render_on_ray(args, network: tuple, visualizer, objective, settings, photo):
    """``kdream visualize --ray``: the pictures rendered in parts over Ray actors, with one
    bar over them; what comes back is what the one-process render returns."""
    from kdream.distributed.visualize import render_parts

    if any(term.kind == "diversity" for term in objective.terms):
        raise UsageError("--diversity couples its pictures: render it without --ray")
    count = visualizer.batch_size(objective, settings)
    with pictures_bar(args.quiet, count) as advance:
        return render_parts(
            network,
            objective,
            settings,
            count,
            start=None if photo is None else photo.pixels,
            workers=args.workers,
            gpus_per_worker=args.gpus_per_worker,
            address=args.ray or None,
            on_part=advance,
        )


@contextmanager
def pictures_bar(quiet: bool, total: int):
    """One rich bar over a render's pictures, advanced as parts come back."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield lambda count: None
        return
    columns = (TextColumn("[bold]pictures"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("pictures", total=total)
        yield lambda count: bar.advance(task, count)
