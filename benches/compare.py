"""One table of every benchmark on every backend, from pytest-benchmark's JSON files.

    python benches/compare.py .benchmarks            # prints it, writes .benchmarks/table.md

Reads ``<dir>/*.json`` (one file per backend, as ``nox -s bench`` writes them). A
row is a benchmark case (and variant, for baselines); a column is a backend; a
cell holds the median time, the achieved GFLOP/s, the share of that backend's
fp32 matmul roofline and the speed-up over the row's baseline (the naive step or
the TensorFlow tutorial), or the peak RSS for memory cases. Below the table: the
machine, the notes the benchmarks left, and the performance targets, met or not.

Standard library only, so it runs without any backend installed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

BACKEND_ORDER = ("tensorflow", "jax", "torch")
TARGET_BEST_ROOFLINE = 50.0
TARGET_EVERY_ROOFLINE = 35.0
TARGET_TUTORIAL_SPEEDUP = 1.25
TARGET_PEAK_GIB = 2.5
# kdream's whole process / the yardstick's: (the best backend, every backend).
WHOLE_RATIO_TARGETS = {"tf-tutorial script": (0.6, 1.0), "shared peer": (0.5, 0.8)}
TARGET_GAIN_TOLERANCE = 0.10
TARGET_FAIL_FAST_S = 1.0


@dataclass
class Result:
    """One benchmark of one backend."""

    backend: str
    case: str
    variant: str
    median: float
    rounds: int
    info: dict

    @property
    def row(self) -> tuple[str, str]:
        return self.case, self.variant


@dataclass
class Run:
    """Everything read from one directory of JSON files."""

    results: list[Result] = field(default_factory=list)
    machines: dict[str, dict] = field(default_factory=dict)
    rooflines: dict[str, float] = field(default_factory=dict)

    def backends(self) -> list[str]:
        present = {r.backend for r in self.results}
        return [b for b in BACKEND_ORDER if b in present] + sorted(present - set(BACKEND_ORDER))

    def rows(self) -> list[tuple[str, str]]:
        """Rows in the order the suite ran them (first backend that has them first)."""
        seen: dict[tuple[str, str], None] = {}
        for backend in self.backends():
            for result in self.results:
                if result.backend == backend:
                    seen.setdefault(result.row, None)
        return list(seen)

    def get(self, backend: str, row: tuple[str, str]) -> Result | None:
        for result in self.results:
            if result.backend == backend and result.row == row:
                return result
        return None

    def best_roofline(self) -> float:
        """The machine's practical ceiling: the fastest backend's matmul roofline."""
        return max(self.rooflines.values(), default=0.0)

    def speedup(self, result: Result) -> float | None:
        """Baseline median / this median, when the row names a baseline that was measured."""
        baseline_variant = result.info.get("baseline")
        if not baseline_variant:
            return None
        baseline = self.get(result.backend, (result.case, baseline_variant))
        if baseline is None or not result.median:
            return None
        # Timed interleaved with the baseline's rounds: immune to the machine's drift.
        interleaved = baseline.info.get("interleaved_kdream_median")
        if result.variant == "kdream" and interleaved:
            return baseline.median / interleaved
        return baseline.median / result.median


def load(directory: Path) -> Run:
    run = Run()
    files = sorted(directory.glob("*.json"))
    if not files:
        raise SystemExit(f"no benchmark JSON files in {directory}")
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        machine = data.get("machine_info", {}).get("kdream", {})
        for bench in data.get("benchmarks", []):
            info = bench.get("extra_info", {})
            backend = info.get("backend") or machine.get("backend") or path.stem
            stats = bench.get("stats", {})
            result = Result(
                backend=backend,
                case=info.get("case", bench.get("name", "?")),
                variant=info.get("variant", "kdream"),
                median=float(stats.get("median", 0.0)),
                rounds=int(stats.get("rounds", 0)),
                info=info,
            )
            run.results.append(result)
            run.results.extend(interleaved_results(result))
            run.results.extend(phase_results(result))
            if info.get("roofline_gflops_per_s"):
                best = max(run.rooflines.get(backend, 0.0), info["roofline_gflops_per_s"])
                run.rooflines[backend] = best
            if machine:
                run.machines[backend] = machine
    return run


def interleaved_results(baseline: Result) -> list[Result]:
    """The runs a benchmark timed by hand between its own rounds (kdream's whole process at
    each precision, between the tutorial script's), one row each, paired with it."""
    rows = []
    for variant, timed in baseline.info.get("interleaved", {}).items():
        info = {key: value for key, value in timed.items() if key not in ("seconds", "median")}
        info["baseline"] = baseline.variant
        rows.append(
            Result(
                baseline.backend,
                baseline.case,
                variant,
                float(timed["median"]),
                len(timed["seconds"]),
                info,
            )
        )
    return rows


def phase_results(whole: Result) -> list[Result]:
    """A benchmark's phases (``{name: [seconds per round]}``), one row each."""
    return [
        Result(
            whole.backend, whole.case, f"phase: {name}", statistics.median(times), len(times), {}
        )
        for name, times in whole.info.get("phases", {}).items()
        if times
    ]


def format_seconds(seconds: float) -> str:
    if seconds < 1.0:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def format_cell(run: Run, result: Result | None) -> str:
    if result is None:
        return "–"
    parts = [format_seconds(result.median)]
    info = result.info
    if "peak_rss_mib" in info:
        later = info.get("peak_rss_by_step_mib", [])[1:]
        after = f" ({len(later) + 1} steps: {later[-1] / 1024:.2f})" if later else ""
        parts.append(f"peak {info['peak_rss_mib'] / 1024:.2f} GiB{after}")
    if "process_peak_mib" in info:
        parts.append(f"peak {info['process_peak_mib'] / 1024:.2f} GiB")
    if "objective_gain" in info:
        parts.append(f"gain {info['objective_gain']:.3g}")
    if info.get("gflops_per_s"):
        parts.append(f"{info['gflops_per_s']:.0f} GFLOP/s")
    if info.get("roofline_percent"):
        share = f"{info['roofline_percent']:.0f}%"
        best = run.best_roofline()
        if info.get("gflops_per_s") and best > info.get("roofline_gflops_per_s", best):
            share += f" ({100 * info['gflops_per_s'] / best:.0f}%)"
        parts.append(share)
    speedup = run.speedup(result)
    if speedup is not None:
        parts.append(f"×{speedup:.2f} vs {info['baseline']}")
    return " · ".join(parts)


def row_label(row: tuple[str, str]) -> str:
    case, variant = row
    return case if variant == "kdream" else f"{case} — {variant}"


def table_cells(run: Run) -> tuple[list[str], list[list[str]]]:
    backends = run.backends()
    header = ["benchmark"] + backends
    body = [
        [row_label(row)] + [format_cell(run, run.get(b, row)) for b in backends]
        for row in run.rows()
    ]
    return header, body


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
    return "\n".join(lines)


def text_table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths)), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in body]
    return "\n".join(lines)


def machine_lines(run: Run) -> list[str]:
    lines = []
    machines = list(run.machines.values())
    if machines:
        first = machines[0]
        lines.append(f"CPU: {first.get('cpu_model', '?')}, {first.get('usable_cores', '?')} cores")
        if any(m.get("quick") for m in machines):
            lines.append("QUICK RUN (--quick): tiny sizes, not for publication")
    for backend in run.backends():
        machine = run.machines.get(backend, {})
        versions = ", ".join(f"{k} {v}" for k, v in machine.get("versions", {}).items())
        roofline = run.rooflines.get(backend)
        roof = f"; fp32 matmul roofline {roofline:.0f} GFLOP/s" if roofline else ""
        loads = [f"{value:.1f}" for value in machine.get("load_average", []) if value is not None]
        load = f"; load average {' -> '.join(loads)}" if loads else ""
        lines.append(f"{backend}: {versions or 'versions unknown'}{roof}{load}")
    return lines


def notes(run: Run) -> list[str]:
    seen: dict[str, None] = {}
    for result in run.results:
        if result.info.get("note"):
            seen.setdefault(result.info["note"], None)
    return list(seen)


def largest_step_results(run: Run) -> list[Result]:
    """Per backend, the kdream one-step result at the largest size measured."""
    chosen = []
    for backend in run.backends():
        steps = [
            r
            for r in run.results
            if r.backend == backend and r.variant == "kdream" and r.case.startswith("ascent step")
        ]
        if steps:
            chosen.append(max(steps, key=lambda r: r.info.get("gflop", 0.0)))
    return chosen


def target_lines(run: Run) -> list[str]:
    """The suite's performance targets, each with its evidence and met/missed."""
    lines = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    steps = [r for r in largest_step_results(run) if r.info.get("roofline_percent")]
    if steps:
        shares = {r.backend: r.info["roofline_percent"] for r in steps}
        best_roofline = run.best_roofline()
        described = "; ".join(
            f"{r.backend} {r.info['roofline_percent']:.0f}% of own / "
            f"{100 * r.info['gflops_per_s'] / best_roofline:.0f}% of best"
            for r in steps
        )
        best = max(shares.values())
        lines.append(
            f"best backend's step >= {TARGET_BEST_ROOFLINE:.0f}% of its roofline "
            f"({steps[0].case}: {described}): {verdict(best >= TARGET_BEST_ROOFLINE)}"
        )
        worst = min(shares.values())
        lines.append(
            f"every backend's step >= {TARGET_EVERY_ROOFLINE:.0f}% of its roofline: "
            f"{verdict(worst >= TARGET_EVERY_ROOFLINE)}"
        )
    for result in run.results:
        if result.variant == "kdream" and result.info.get("baseline") == "tf-tutorial":
            speedup = run.speedup(result)
            if speedup is not None:
                lines.append(
                    f"{result.backend} {result.case} >= {TARGET_TUTORIAL_SPEEDUP}x the tutorial "
                    f"loop: ×{speedup:.2f}, {verdict(speedup >= TARGET_TUTORIAL_SPEEDUP)}"
                )
    lines += whole_process_lines(run)
    lines += beside_peer_lines(run)
    for backend in run.backends():
        # The growing-photo cases only (other rows, e.g. a video's, record a peak too).
        memory = sorted(
            (
                r
                for r in run.results
                if r.backend == backend and "peak_rss_mib" in r.info and _side_of(r.case)
            ),
            key=lambda r: _side_of(r.case),
        )
        if not memory:
            continue
        by_case = ", ".join(
            f"{r.case.split(',')[1].strip()}: {r.info['peak_rss_mib'] / 1024:.2f}" for r in memory
        )
        largest = max(memory, key=lambda r: _side_of(r.case))
        smallest = min(memory, key=lambda r: _side_of(r.case))
        growth = largest.info["peak_rss_mib"] - smallest.info["peak_rss_mib"]
        peak_gib = largest.info["peak_rss_mib"] / 1024
        lines.append(
            f"{backend} peak RSS (GiB; {by_case}): largest <= {TARGET_PEAK_GIB} GiB "
            f"{verdict(peak_gib <= TARGET_PEAK_GIB)}; growth {_side_of(smallest.case)}² -> "
            f"{_side_of(largest.case)}²: {growth:+.0f} MiB{_later_steps(largest)}"
        )
    return lines


def whole_process_lines(run: Run) -> list[str]:
    """Whole ``kdream dream`` processes against each yardstick script: time ratios and the
    strength of lower-precision dreams."""
    lines = []
    for yardstick, targets in WHOLE_RATIO_TARGETS.items():
        lines += _whole_process_lines(run, yardstick, *targets)
    return lines


def _whole_process_lines(run: Run, yardstick: str, best_target, every_target) -> list[str]:
    paired = [
        r
        for r in run.results
        if r.info.get("baseline") == yardstick and r.case.startswith("whole process")
    ]
    if not paired:
        return []
    ratios = {}
    for result in paired:
        speedup = run.speedup(result)
        if speedup:
            ratios[(result.backend, result.variant)] = 1.0 / speedup

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    described = "; ".join(f"{b} {v}: {ratio:.2f}x" for (b, v), ratio in ratios.items())
    best_per_backend = {}
    for (backend, _), ratio in ratios.items():
        best_per_backend[backend] = min(ratio, best_per_backend.get(backend, ratio))
    lines = [
        f"whole process / {yardstick} ({paired[0].case}; {described}): best "
        f"<= {best_target}x {verdict(min(best_per_backend.values()) <= best_target)}; "
        f"every backend <= {every_target}x "
        f"{verdict(max(best_per_backend.values()) <= every_target)}"
    ]
    for result in paired:
        reference = next(
            (r for r in paired if r.backend == result.backend and r.variant == "kdream float32"),
            None,
        )
        if result.info.get("precision", "float32") == "float32" or reference is None:
            continue
        share = result.info["objective_gain"] / reference.info["objective_gain"]
        lines.append(
            f"{result.backend} {result.variant} dream strength (float32-measured gain): "
            f"{share:.2f} of float32's, within {TARGET_GAIN_TOLERANCE:.0%} "
            f"{verdict(abs(share - 1.0) <= TARGET_GAIN_TOLERANCE)}"
        )
    return lines


def beside_peer_lines(run: Run) -> list[str]:
    """Start-up and fail-fast, each timed against the shared peer in one run: the ratio,
    and for a refused mistake the issue's target of an answer within a second."""
    lines = []
    for result in run.results:
        if result.info.get("baseline") != "shared peer" or result.case.startswith("whole"):
            continue
        speedup = run.speedup(result)
        if not speedup:
            continue
        line = f"{result.backend} {result.case}: {1 / speedup:.2f}x the shared peer's time"
        if result.case.startswith("fail fast"):
            ok = result.median < TARGET_FAIL_FAST_S
            line += f"; within {TARGET_FAIL_FAST_S:.0f} s {'met' if ok else 'MISSED'}"
        lines.append(line)
    return lines


def _later_steps(result: Result) -> str:
    """How much a case's later steps added to its first step's peak, if it ran several."""
    peaks = result.info.get("peak_rss_by_step_mib", [])
    if len(peaks) < 2:
        return ""
    added = peaks[-1] - peaks[0]
    return f"; {len(peaks) - 1} more steps at {_side_of(result.case)}²: {added:+.0f} MiB"


def _side_of(case: str) -> int:
    """The image side in a case name such as 'peak RSS, one step 4096², tile 512'."""
    for word in case.replace(",", " ").split():
        if word.endswith("²") and word[:-1].isdigit():
            return int(word[:-1])
    return 0


def render(run: Run) -> tuple[str, str]:
    """(plain text for the terminal, Markdown for the README)."""
    header, body = table_cells(run)
    machine = machine_lines(run)
    note_lines = notes(run)
    targets = target_lines(run)
    legend = (
        "cells: median · GFLOP/s · % of own roofline (% of best backend's) · speed-up vs baseline"
    )
    text = "\n".join(
        [*machine, "", text_table(header, body), "", legend, *note_lines, "", "Targets:"]
        + [f"  {line}" for line in targets]
    )
    markdown = "\n".join(
        ["### Benchmarks", "", *(f"- {line}" for line in machine), "", markdown_table(header, body)]
        + [""]
        + [
            "Cells: median time · achieved GFLOP/s (convolutions, forward + input gradient) · "
            "% of the backend's own fp32 matmul roofline (in parentheses: % of the best "
            "backend's roofline, the machine's practical peak) · speed-up over the row's "
            "baseline.",
            "",
        ]
        + [f"- {line}" for line in note_lines]
        + ["", "Targets:", ""]
        + [f"- {line}" for line in targets]
        + [""]
    )
    return text, markdown


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Compare kdream benchmark runs across backends.")
    parser.add_argument("directory", type=Path, nargs="?", default=Path(".benchmarks"))
    parser.add_argument("--markdown", type=Path, help="default: <directory>/table.md")
    args = parser.parse_args(argv)
    text, markdown = render(load(args.directory))
    print(text)
    target = args.markdown or args.directory / "table.md"
    target.write_text(markdown, encoding="utf-8")
    print(f"\nwrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
