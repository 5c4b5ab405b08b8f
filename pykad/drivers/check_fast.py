"""The checkers' attempt loop (TCP_CHECK, plain HTTP_GET), the compiled one when it is built.

``pykad._accel`` picks ``pykad._fastpath.check_fast`` (Cython) or its twin
``pykad.drivers.check_fast_py``; both have this API (see the twin for the rules).
``IMPLEMENTATION`` says which.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykad import _accel

if TYPE_CHECKING:
    from pykad.drivers import check_fast_py as _impl
else:
    _impl = _accel.load("check_fast", "pykad.drivers.check_fast_py")

IMPLEMENTATION: str = _accel.implementation(_impl)
CheckLoop = _impl.CheckLoop
parse_head = _impl.parse_head
OK: int = _impl.OK
FAILED: int = _impl.FAILED
SETUP: int = _impl.SETUP
START_SLACK_US: int = _impl.START_SLACK_US
MAX_STARTS: int = _impl.MAX_STARTS

__all__ = [
    "FAILED",
    "IMPLEMENTATION",
    "MAX_STARTS",
    "OK",
    "SETUP",
    "START_SLACK_US",
    "CheckLoop",
    "parse_head",
]
