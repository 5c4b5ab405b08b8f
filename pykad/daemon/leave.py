"""A MASTER's priority-0 adverts made ready in advance, sent by the stop signal's handler.

On SIGTERM a master sends an advert with priority 0 (RFC 5798 6.4.3: "Send an
ADVERTISEMENT with Priority = 0"), so that its backups wait only their skew
time. Through Python (the signal handler, then the service) that advert left
0.1 ms after the signal reached the VRRP process, keepalived's 0.06 ms; here
each master's adverts are one ``fast.Burst``, and the service hands all of them
to ``fast.leave_set``: the compiled handler sends them as the signal arrives,
before Python's handler runs, busy loop or not. No advert may follow them: each
other send of one (the pump's, ``VrrpService._send_advert``) is wrapped in
``fast.send_begin``/``send_end``, which skip it once they went, and send them
right after it when the signal interrupted it. The bursts are rebuilt before the
loop's next wait after a change marked them stale (``fast.LeaveWatch``), and a
socket is closed only after such a mark. The service then counts them
(``VrrpService._book_leave``).

A :class:`LeaveAdverts` holds while it was made from what the instance still has
(:meth:`LeaveAdverts.valid`: the same configuration, socket and descriptor); an
instance's source, destinations and advert are fixed for its life (a reload
that changes them makes a new instance). Not used for IPsec AH (the sequence
number is taken at sending): those go through Python as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pykad.daemon.takeover import add_adverts
from pykad.drivers import fast

if TYPE_CHECKING:
    from pykad.config.sections.vrrp import VrrpInstance
    from pykad.daemon.vrrp_service import Instance
    from pykad.drivers.vrrp_socket import VrrpSocket


@dataclass(eq=False)
class LeaveAdverts:
    """One instance's priority-0 advert to each destination, and what it was made from."""

    conf: VrrpInstance
    socket: VrrpSocket
    fd: int
    burst: fast.Burst
    adverts: int
    """The burst's sends: one per destination."""

    def valid(self, inst: Instance) -> bool:
        """Whether sending it now sends what the instance would send itself."""
        return (
            inst.conf is self.conf
            and inst.socket is self.socket
            and self.socket.fileno() == self.fd
        )


def make(inst: Instance) -> LeaveAdverts:
    burst = fast.Burst()
    add_adverts(burst, inst, 0)
    sock = inst.socket
    return LeaveAdverts(inst.conf, sock, sock.fileno(), burst, len(inst.destinations))
