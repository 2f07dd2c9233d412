"""The composition root: settings, connections, the ``hotline`` CLI and process wiring."""

__version__ = "0.1.0"
