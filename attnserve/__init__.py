"""attnserve: the command line on top of every side (``attnserve.cli``)."""

from core import __version__

__all__ = ["__version__"]
