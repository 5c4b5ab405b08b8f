"""What every checker shares: the target of one probe, and the probe's outcome.

A checker module (``tcp``, ``http``, ``smtp``, ...) exports
``async def probe(check: <its model>, target: Target) -> Outcome``: one attempt,
which never takes longer than the checker's ``connect_timeout`` (or its own
timeout, for MISC_CHECK) and never raises for a failure of the server (a refused
connection, a timeout, a bad reply are ``Outcome(ok=False, reason=...)``).  The
schedule (``pykad.check.schedule``) turns attempts into keepalived's up/down
transitions (retry, delay_before_retry, delay_loop, warmup, alpha).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pykad.config.addresses import IPAddress


@dataclass(frozen=True, slots=True)
class Target:
    """The real server a checker probes (before its connect_ip/connect_port apply)."""

    address: IPAddress
    port: int
    virtual_server: str = ""
    """keepalived's name of the virtual server, for log lines (``[192.0.2.1]:tcp:80``)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one attempt."""

    ok: bool
    reason: str = ""
    """Why it failed (keepalived's wording where it logs one), empty when ok."""
    weight: int | None = None
    """A new weight for the real server (MISC_CHECK misc_dynamic, FILE_CHECK), or None."""
    word: str = ""
    """MISC_CHECK: keepalived's word for the run (succeeded, failed, timed out), which
    its alert mail quotes."""


Probe = Callable[[Any, Target], Awaitable[Outcome]]
"""``probe(check, target)``: the shape every checker module exports."""
