"""pykad: a keepalived-compatible high-availability and load-balancing daemon."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """``pykad.__version__``, looked up on first use (importlib.metadata is slow to import)."""
    if name != "__version__":
        raise AttributeError(name)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pykad")
    except PackageNotFoundError:  # running from a checkout that was not installed
        return "0+unknown"
