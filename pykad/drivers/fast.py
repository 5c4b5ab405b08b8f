"""Steady-state VRRP adverts in bulk, takeover bursts and the stop signal's priority-0
adverts, the compiled way when it is built.

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
LeaveWatch = _impl.LeaveWatch
leave_install = _impl.leave_install
leave_installed = _impl.leave_installed
leave_set = _impl.leave_set
leave_results = _impl.leave_results
leave_uninstall = _impl.leave_uninstall
relay_install = _impl.relay_install
relay_to = _impl.relay_to
relay_taken = _impl.relay_taken
relay_uninstall = _impl.relay_uninstall
send_begin = _impl.send_begin
send_end = _impl.send_end
MAX_PACKET: int = _impl.MAX_PACKET

__all__ = [
    "IMPLEMENTATION",
    "MAX_PACKET",
    "Burst",
    "LeaveWatch",
    "RxFilter",
    "TxPump",
    "leave_install",
    "leave_installed",
    "leave_results",
    "leave_set",
    "leave_uninstall",
    "relay_install",
    "relay_taken",
    "relay_to",
    "relay_uninstall",
    "send_begin",
    "send_end",
]
