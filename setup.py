"""Package discovery (everything else is in pyproject.toml).

Every subpackage of ``kdream`` and ``kdream_tui`` is found, not listed, so a new one cannot
be left out of the wheel. ``tests/test_packaging.py`` checks the built wheel.
"""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["kdream", "kdream.*", "kdream_tui", "kdream_tui.*"]))
