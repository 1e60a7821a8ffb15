"""The machine's practical fp32 compute ceiling, measured in the active backend.

A large square matmul is about the most compute-efficient thing a framework runs
on a CPU, so its best-of-N rate is the "roofline" every benchmark's GFLOP/s is
compared with. It is measured in the same session as the benchmarks (same
backend, same thread pool, same machine load).

Example:
    >>> measure_matmul_roofline(side=512, repeats=3).gflops_per_s > 0   # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from keras import ops

from kdream import backend


@dataclasses.dataclass(frozen=True)
class Roofline:
    side: int
    best_seconds: float

    @property
    def gflops_per_s(self) -> float:
        return 2 * self.side**3 / self.best_seconds / 1e9

    def percent_of(self, gflops_per_s: float) -> float:
        return 100.0 * gflops_per_s / self.gflops_per_s


def measure_matmul_roofline(side: int = 2048, repeats: int = 10) -> Roofline:
    """Best time of ``repeats`` fp32 ``side x side @ side x side`` matmuls (compiled where the
    backend compiles), each synchronised by copying the result to the host.

    The copy of a ``side``-square result is ~0.1% of the matmul's time at 2048.
    """
    rng = np.random.default_rng(0)
    left = ops.convert_to_tensor(rng.standard_normal((side, side), dtype=np.float32))
    right = ops.convert_to_tensor(rng.standard_normal((side, side), dtype=np.float32))
    matmul = backend.compile_function(lambda a, b: ops.matmul(a, b))
    ops.convert_to_numpy(matmul(left, right))  # compile and warm the thread pool
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        ops.convert_to_numpy(matmul(left, right))
        best = min(best, time.perf_counter() - started)
    return Roofline(side, best)


class RooflineTracker:
    """The best roofline seen in a session, measured at its start and again at its end.

    On a shared machine one burst of matmuls can land in a busy moment and make
    every benchmark look closer to the roofline than it is; the best of two bursts
    minutes apart is a steadier ceiling. Benchmarks record through :meth:`record`, so
    their ``extra_info`` is rewritten if the end-of-session burst is faster.
    """

    def __init__(self, side: int = 2048, repeats: int = 10):
        self.side, self.repeats = side, repeats
        self.best = measure_matmul_roofline(side, repeats)
        self._records: list[tuple[dict, float]] = []

    def record(self, extra_info: dict, achieved_gflops_per_s: float) -> None:
        """Write roofline and % of roofline into ``extra_info`` (now and after a re-measure)."""
        self._records.append((extra_info, achieved_gflops_per_s))
        self._write(extra_info, achieved_gflops_per_s)

    def remeasure(self) -> None:
        again = measure_matmul_roofline(self.side, self.repeats)
        if again.gflops_per_s > self.best.gflops_per_s:
            self.best = again
            for extra_info, achieved in self._records:
                self._write(extra_info, achieved)

    def _write(self, extra_info: dict, achieved: float) -> None:
        extra_info["roofline_gflops_per_s"] = self.best.gflops_per_s
        extra_info["roofline_percent"] = self.best.percent_of(achieved)
