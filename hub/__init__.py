"""Supply Hub core: settings, store, broker topology, routes, workers and operations."""

__version__ = "0.1.0"
