"""kdream's benchmark suite (pytest-benchmark); see benches/conftest.py and benches/compare.py."""

import os

USER_ENVIRONMENT = dict(os.environ)
"""The environment before kdream set its framework defaults (benches/conftest.py imports
kdream): the peers run with it, as a user runs them."""
