"""The kdream terminal UI (Textual). Start it with ``kdream tui`` or ``python -m kdream_tui``.

Importing this package stays cheap and imports neither Textual nor Keras; the app lives
in :mod:`kdream_tui.app` (``run_app`` is the entry point the CLI calls).
"""
