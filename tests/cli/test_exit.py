"""The command ends its process quickly (no interpreter teardown) yet as Python would: the
exit handlers run, buffered output arrives, the exit code is kept, and a running
non-daemon thread is waited for."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_a_quick_exit_runs_exit_handlers_and_delivers_buffered_output():
    result = run_python(
        """
        import atexit, sys
        from kdream.cli.main import exit_quickly
        atexit.register(lambda: print("handler ran"))
        sys.stdout.write("buffered, no newline; ")
        sys.stderr.write("to stderr")
        exit_quickly(3)
        print("never printed")
        """
    )
    assert result.returncode == 3
    assert result.stdout == "buffered, no newline; handler ran\n"
    assert result.stderr == "to stderr"


def test_a_quick_exit_waits_for_a_running_non_daemon_thread():
    result = run_python(
        """
        import threading, time
        from kdream.cli.main import exit_quickly
        def work():
            time.sleep(0.3)
            print("thread finished", flush=True)
        threading.Thread(target=work).start()
        exit_quickly(0)
        """
    )
    assert result.returncode == 0 and result.stdout == "thread finished\n", result.stderr


def test_python_m_kdream_keeps_the_exit_code_and_the_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "kdream", "dream", "no-such-photo.jpg"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == "kdream: error: no-such-photo.jpg: no such file\n"
