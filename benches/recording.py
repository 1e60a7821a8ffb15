"""Timing one case with pytest-benchmark and recording what the comparison table needs.

Every benchmark goes through :func:`measure`: warm-up calls (compilation, first
touch of memory) run before the timed rounds and are never timed; each timed
call must itself synchronise (copy its result to the host), so asynchronous
backends cannot return early.

``extra_info`` keys read by ``benches/compare.py``:

* ``backend``, ``case`` (what is measured, the table's row), ``variant``
  (``kdream``, or a baseline: ``naive``, ``tf-tutorial``) and ``baseline`` (the
  variant this row's speed-up is computed against, if any);
* ``gflop`` (work of one timed call), ``gflops_per_s``, ``roofline_gflops_per_s``
  and ``roofline_percent`` (at the median time);
* ``note`` (shown under the table), ``peak_rss_mib`` for memory cases.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from benches.roofline import RooflineTracker


def measure(
    benchmark,
    function: Callable[[], object],
    *,
    case: str,
    rounds: int,
    roofline: RooflineTracker | None = None,
    flops: float | None = None,
    variant: str = "kdream",
    baseline: str | None = None,
    warmup: int = 1,
    setup: Callable | None = None,
    **info,
):
    """Warm up ``warmup`` times, then time ``rounds`` calls of ``function``.

    ``setup`` (untimed, run before every timed call) returns the call's arguments the
    way ``benchmark.pedantic`` expects; without it ``function`` takes none.
    """
    benchmark.extra_info.update(backend=keras.backend.backend(), case=case, variant=variant, **info)
    if baseline:
        benchmark.extra_info["baseline"] = baseline
    for _ in range(warmup):
        arguments, keywords = setup() if setup else ((), {})
        function(*arguments, **keywords)
    result = benchmark.pedantic(function, setup=setup, rounds=rounds, iterations=1)
    median = median_seconds(benchmark)
    if flops:
        benchmark.extra_info["gflop"] = flops / 1e9
    if flops and median:
        achieved = flops / median / 1e9
        benchmark.extra_info["gflops_per_s"] = achieved
        if roofline is not None:
            roofline.record(benchmark.extra_info, achieved)
    return result


def median_seconds(benchmark) -> float | None:
    """Median of the timed rounds (None when benchmarking is disabled)."""
    stats = getattr(benchmark, "stats", None)
    if not stats:
        return None
    return float(stats.stats.median)
