"""Run a Python module or script as ``__main__`` and, at exit, write this process's own
peak resident set size (``VmHWM``, MiB) to a file: the whole-process memory figure.

    python benches/peak_of.py PEAK_FILE -m kdream dream photo.png
    python benches/peak_of.py PEAK_FILE benches/tf_tutorial.py photo.png out.png

Run by path, not ``-m benches...``: the repository stays off ``sys.path``, so ``-m kdream``
imports the installed kdream. Nothing is added to the run but this small module.
"""

from __future__ import annotations

import atexit
import runpy
import sys
from pathlib import Path


def peak_rss_mib() -> float:
    """``VmHWM``: the high-water mark of this process's own memory map. Not ``ru_maxrss``:
    Linux carries it across ``execve``, so a child's starts at its parent's peak."""
    with open("/proc/self/status", encoding="ascii") as status:
        found = [line.split()[1] for line in status if line.startswith("VmHWM:")]
    return int(found[0]) / 1024


def main(argv: list[str]) -> None:
    peak_file, *target = argv
    atexit.register(lambda: Path(peak_file).write_text(f"{peak_rss_mib():.1f}\n"))
    if target[0] == "-m":
        sys.argv = [target[1], *target[2:]]
        runpy.run_module(target[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = target
        runpy.run_path(target[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
