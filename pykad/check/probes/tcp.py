"""TCP_CHECK: one attempt is one TCP connect (keepalived/check/check_tcp.c).

Success is an established connection, closed at once.  A refused or
unreachable connection is ``reason="failed"``, no answer within
``connect_timeout`` is ``reason="timeout"`` (the words keepalived puts in
"TCP connection to [x]:tcp:y timeout.").  Local errors (bind, device, fwmark)
raise :class:`pykad.check.probes.connect.CheckerSetupError`.
"""

from __future__ import annotations

from pykad.check.base import Outcome, Target
from pykad.check.probes.connect import ConnectFailed, open_tcp
from pykad.config.sections._lvs_model import TcpCheck

__all__ = ["probe"]


async def probe(check: TcpCheck, target: Target) -> Outcome:
    """Connect to the checker's destination within connect_timeout."""
    try:
        sock = await open_tcp(check.connection, target)
    except ConnectFailed as exc:
        return Outcome(ok=False, reason="timeout" if exc.timeout else "failed")
    # keepalived closes at once, as here (without its SO_LINGER: see connect.py).
    sock.close()
    return Outcome(ok=True)
