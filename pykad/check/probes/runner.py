"""The trio driver of one checker: attempts on keepalived's schedule, forever.

Owns the I/O side of ``pykad.check.schedule``: it sleeps until the next
attempt, runs the probe bounded by the checker's ``connect_timeout`` (so a hung
server costs one ``connect_timeout``, never more), feeds the outcome to the
schedule, logs its lines and hands its state updates to ``on_change``.  Each
checker is its own task, so checkers never block each other.

The clock is trio's (tests use ``trio.testing.MockClock``); the random warmup
fraction is injectable.
"""

from __future__ import annotations

import logging
import random as _random
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NoReturn

import trio

from pykad.check.base import Outcome, Probe, Target
from pykad.check.probes import misc, ping, smtp, tcp, udp
from pykad.check.probes.connect import CheckerSetupError
from pykad.check.schedule import (
    TCP,
    DnsSchedule,
    Effect,
    HttpSchedule,
    Layer4Kind,
    Layer4Schedule,
    Log,
    MiscSchedule,
    NextAttempt,
    Schedule,
    SmtpSchedule,
    StateUpdate,
    Timing,
)
from pykad.config.sections._lvs_model import (
    DnsCheck,
    HttpCheck,
    MiscCheck,
    PingCheck,
    SmtpCheck,
    UdpCheck,
)

__all__ = ["attempt_timeout_us", "fmt_chk", "make_schedule", "run_checker"]

logger = logging.getLogger("pykad.check")


def fmt_chk(target: Target, protocol: str = "tcp") -> str:
    """keepalived's ``FMT_CHK``: the real server as ``[addr]:proto:port``."""
    return f"[{target.address}]:{protocol}:{target.port}"


MISC_MARGIN_US = 1_000_000


def attempt_timeout_us(check: Any) -> int:
    """The bound of one attempt: ``connect_timeout``.  A MISC_CHECK bounds itself (its
    timeout or delay_loop, then SIGTERM and SIGKILL after ``misc.TERMINATE_GRACE_S``):
    this is only a backstop beyond that, so its own verdict is the one logged."""
    if isinstance(check, MiscCheck):
        own = check.timeout_us or check.delay_loop_us
        return own + int(misc.TERMINATE_GRACE_S * 1_000_000) + MISC_MARGIN_US
    conn = getattr(check, "connection", None)
    if conn is not None:
        return int(conn.connect_timeout_us)
    return int(getattr(check, "delay_loop_us", 60_000_000))


def make_schedule(
    check: Any,
    target: Target,
    *,
    protocol: str = "tcp",
    log_all_failures: bool = False,
    kind: Layer4Kind | None = None,
) -> Schedule:
    """The schedule keepalived uses for ``check``'s type (TCP's rules unless told)."""
    timing = Timing.of(check, log_all_failures=log_all_failures)
    chk = fmt_chk(target, protocol)
    if isinstance(check, HttpCheck):
        return HttpSchedule(
            timing, chk, target.virtual_server, urls=check.urls, fast_recovery=check.fast_recovery
        )
    if isinstance(check, MiscCheck):
        up = misc.log_line(target, check.script.argv[0], misc.MiscResult(True, "succeeded"))
        return MiscSchedule(timing, chk, target.virtual_server, success_line=up)
    if isinstance(check, SmtpCheck):
        up = smtp.success_message(target)
        return SmtpSchedule(timing, chk, target.virtual_server, success_line=up)
    if isinstance(check, DnsCheck):
        return DnsSchedule(timing, chk, target.virtual_server)
    if kind is None:
        kind = (
            udp.KIND
            if isinstance(check, UdpCheck)
            else ping.KIND
            if isinstance(check, PingCheck)
            else TCP
        )
    return Layer4Schedule(timing, chk, target.virtual_server, kind=kind)


def _now_us() -> int:
    return round(trio.current_time() * 1_000_000)


async def _attempt(probe: Probe, check: Any, target: Target, timeout_us: int) -> Outcome:
    if probe is tcp.probe:  # bounds itself: its connect has the same timeout (one scope less)
        return await probe(check, target)
    with trio.move_on_after(timeout_us / 1_000_000):
        return await probe(check, target)
    return Outcome(ok=False, reason="timeout")


async def run_checker(
    probe: Probe,
    check: Any,
    target: Target,
    on_change: Callable[[StateUpdate], None],
    *,
    schedule: Schedule | None = None,
    random: Callable[[], float] = _random.random,
    log: Callable[[str], None] = logger.info,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> NoReturn:
    """Run ``check`` against ``target`` forever, on keepalived's schedule.

    ``on_change`` receives every :class:`StateUpdate` (keepalived's
    ``update_svr_checker_state``).  For HTTP_GET/SSL_GET each attempt probes
    one URL: ``probe`` gets a copy of ``check`` with only that URL.  A
    :class:`CheckerSetupError` from the probe is logged and the attempt is
    retried after delay_loop without a verdict, as keepalived does.
    ``on_outcome`` sees every attempt's outcome (a MISC_CHECK's new weight).
    """
    sched = schedule if schedule is not None else make_schedule(check, target)
    timeout_us = attempt_timeout_us(check)

    def apply(effects: list[Effect]) -> NextAttempt:
        nxt: NextAttempt | None = None
        for effect in effects:
            if isinstance(effect, Log):
                log(effect.message)
            elif isinstance(effect, StateUpdate):
                on_change(effect)
            else:
                nxt = effect
        assert nxt is not None
        return nxt

    nxt = apply(sched.start(_now_us(), random()))
    while True:
        await trio.sleep_until(nxt.at_us / 1_000_000)
        attempt_check = check
        if isinstance(check, HttpCheck) and nxt.url_index is not None:
            attempt_check = replace(check, urls=(check.urls[nxt.url_index],))
        try:
            outcome = await _attempt(probe, attempt_check, target, timeout_us)
        except CheckerSetupError as exc:
            nxt = apply(sched.setup_error(_now_us(), f"{exc} Rescheduling."))
            continue
        if on_outcome is not None:
            on_outcome(outcome)
        nxt = apply(sched.attempt_done(_now_us(), outcome.ok, outcome.reason or "failed"))
