"""kdream's benchmark suite (pytest-benchmark); see benches/conftest.py and benches/compare.py."""
