"""The ``kdream`` subcommands, one module each; :mod:`kdream.cli` wires them."""
