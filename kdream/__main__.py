"""``python -m kdream`` is the ``kdream`` command."""

from kdream.cli.main import run

if __name__ == "__main__":
    run()
