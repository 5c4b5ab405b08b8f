"""keepalived's signal functions: which signal does what (``keepalived --signum=SIGFUNC``).

keepalived 2.2.7 names six functions (``core/main.c``, ``get_signum``): STOP
(SIGTERM), RELOAD (SIGHUP), DATA (SIGUSR1: ``keepalived.data``), STATS
(SIGUSR2: ``keepalived.stats``), STATS_CLEAR (SIGRTMAX-1: the stats, then the
counters cleared) and JSON (SIGRTMIN+2: ``keepalived.json``).  pykad uses the
same numbers, so scripts written as ``kill -s $(keepalived --signum=JSON)``
work with either daemon.
"""

from __future__ import annotations

import signal

SIGJSON = signal.SIGRTMIN + 2
SIGSTATS_CLEAR = signal.SIGRTMAX - 1

SIGFUNCS: dict[str, int] = {
    "STOP": signal.SIGTERM,
    "RELOAD": signal.SIGHUP,
    "DATA": signal.SIGUSR1,
    "STATS": signal.SIGUSR2,
    "STATS_CLEAR": SIGSTATS_CLEAR,
    "JSON": SIGJSON,
}
"""keepalived's names (case matters, as in keepalived) and their signal numbers."""

DUMP_SIGNALS: tuple[int, ...] = (signal.SIGUSR1, signal.SIGUSR2, SIGSTATS_CLEAR, SIGJSON)
"""The signals that ask for a dump; the parent passes them on (``propagate_signal``)."""

VRRP_ONLY_SIGNALS: frozenset[int] = frozenset({signal.SIGUSR2, SIGSTATS_CLEAR, SIGJSON})
"""Only the VRRP child takes these; the parent passes the others to every child."""
