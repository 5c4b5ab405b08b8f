"""Steady-state VRRP adverts in bulk and takeover bursts, the compiled way when it is built.

``pykad._accel`` picks ``pykad._fastpath.vrrp_fast`` (Cython) or its twin
``pykad.drivers.fast_py``; both have this API (see the twin for the rules).
``IMPLEMENTATION`` says which.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykad import _accel

if TYPE_CHECKING:
    from pykad.drivers import fast_py as _impl
else:
    _impl = _accel.load("vrrp_fast", "pykad.drivers.fast_py")

IMPLEMENTATION: str = _accel.implementation(_impl)
Burst = _impl.Burst
RxFilter = _impl.RxFilter
TxPump = _impl.TxPump
MAX_PACKET: int = _impl.MAX_PACKET

__all__ = ["IMPLEMENTATION", "MAX_PACKET", "Burst", "RxFilter", "TxPump"]
