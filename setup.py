"""Package discovery (everything else is in pyproject.toml).

Every subpackage of ``kdream`` is found, not listed, so a new one cannot be left out of
the wheel. The ``tui/`` folder installs as ``kdream_tui``: a top-level ``tui`` package
would collide with any other project's. ``tests/test_packaging.py`` checks the built wheel.
"""

from setuptools import find_packages, setup

TUI_FOLDER, TUI_PACKAGE = "tui", "kdream_tui"

core = find_packages(include=["kdream", "kdream.*"])
tui = [TUI_PACKAGE] + [f"{TUI_PACKAGE}.{name}" for name in find_packages(where=TUI_FOLDER)]
setup(packages=core + tui, package_dir={TUI_PACKAGE: TUI_FOLDER})
