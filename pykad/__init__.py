"""pykad: a keepalived-compatible high-availability and load-balancing daemon."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pykad")
except PackageNotFoundError:  # running from a checkout that was not installed
    __version__ = "0+unknown"
