"""``python -m kdream`` is the ``kdream`` command."""

import sys

from kdream.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
