"""The panel's telemetry agent: collects health and inventory, spools it on disk, ships it over ZeroMQ."""

from classcast import __version__

__all__ = ["__version__"]
