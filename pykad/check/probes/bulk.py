"""The bulk checker runner: TCP_CHECKs and plain HTTP_GETs in one attempt loop.

Owns the trio side of ``pykad.drivers.check_fast.CheckLoop``: it hands the loop
the checkers that it can run (:func:`eligible`), keeps keepalived's schedule of
each (``pykad.check.schedule``, as ``runner.run_checker`` does for the others),
waits for the loop's epoll fd or its next timer, and turns the loop's outcomes
into schedule effects: log lines, state updates (``on_change``) and the next
attempt.  A checker whose next success would change nothing
(``Schedule.quiet_success``) is handed over *steady*: the loop absorbs its
successes without Python, so a healthy pool costs no Python per attempt.

The outcomes and log lines are those of ``tcp.probe`` and ``http.probe`` with
the trio runner (tests compare them); one ``connect_timeout`` bounds an attempt.
"""

from __future__ import annotations

import math
import random as _random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from pykad.check.base import Outcome, Target
from pykad.check.probes.connect import destination, scope_id
from pykad.check.probes.http import (
    build_request,
    content_length_notes,
    request_host,
    status_accepted,
)
from pykad.check.schedule import Effect, Log, NextAttempt, Schedule, StateUpdate
from pykad.config.sections._lvs_model import HttpCheck, TcpCheck, Url
from pykad.drivers.check_fast import OK, SETUP, CheckLoop

__all__ = ["BulkRunner", "eligible"]

STATUS_CODES = 600


def eligible(check: Any, target: Target) -> bool:
    """Whether the loop runs ``check`` of ``target``: a TCP_CHECK, or an HTTP_GET (not SSL)
    of one URL judged by its status code alone; a source address (if any) of the
    destination's family."""
    if isinstance(check, HttpCheck):
        if check.ssl or len(check.urls) != 1:
            return False
        url = check.urls[0]
        if url.digest is not None or url.regex is not None:
            return False
    elif not isinstance(check, TcpCheck):
        return False
    conn = check.connection
    if conn.bindto is None:
        return True
    return bool(conn.bindto.version == destination(conn, target)[0].version)


@dataclass(slots=True)
class _Checker:
    schedule: Schedule
    target: Target
    url: Url | None
    on_change: Callable[[StateUpdate], None]
    on_outcome: Callable[[Outcome], None]


def _now_us() -> int:
    return round(trio.current_time() * 1_000_000)


class BulkRunner:
    """Every eligible checker of the checker process, in one :class:`CheckLoop`."""

    def __init__(
        self,
        *,
        random: Callable[[], float] = _random.random,
        log: Callable[[str], None] = print,
        on_absorbed: Callable[[int], None] | None = None,
    ) -> None:
        self.loop = CheckLoop()
        self._random = random
        self._log = log
        self._on_absorbed = on_absorbed
        self._checkers: dict[int, _Checker] = {}
        self._next_key = 0
        self._wait: trio.CancelScope | None = None

    def add(
        self,
        check: TcpCheck | HttpCheck,
        target: Target,
        schedule: Schedule,
        on_change: Callable[[StateUpdate], None],
        on_outcome: Callable[[Outcome], None],
        *,
        rs_virtualhost: str | None = None,
        vs_virtualhost: str | None = None,
    ) -> int:
        """Start running ``check`` (``eligible``) on ``schedule``; returns its key."""
        conn = check.connection
        address, port = destination(conn, target)
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        request: bytes | None = None
        status_ok = b""
        url: Url | None = None
        if isinstance(check, HttpCheck):
            url = check.urls[0]
            vhost = request_host(check, url, rs_virtualhost, vs_virtualhost)
            request = build_request(url.path, check.http_protocol, address, port, vhost)
            status_ok = bytes(status_accepted(url, code) for code in range(STATUS_CODES))
        key = self._next_key
        self._next_key += 1
        self.loop.add(
            key,
            family,
            address.packed,
            port,
            scope_id(address, conn.bind_if),
            conn.connect_timeout_us,
            check.delay_loop_us,
            request,
            status_ok,
            conn.bindto.packed if conn.bindto is not None else b"",
            conn.bind_port or 0,
            conn.fwmark,
            conn.bind_if or "",
        )
        self._checkers[key] = entry = _Checker(schedule, target, url, on_change, on_outcome)
        self._apply(key, entry, schedule.start(_now_us(), self._random()))
        return key

    def remove(self, key: int) -> None:
        """Stop running a checker (an attempt in progress is abandoned); after :meth:`run`
        ended, nothing is left to stop."""
        if self._checkers.pop(key, None) is not None:
            self.loop.remove(key)

    async def run(self) -> None:
        """Run the loop until cancelled."""
        try:
            while True:
                at = self.loop.next_at()
                with trio.move_on_at(at / 1_000_000 if at >= 0 else math.inf) as self._wait:
                    await trio.lowlevel.wait_readable(self.loop.fileno())
                self._wait = None
                absorbed = self.loop.absorbed
                for key, code, text, length, rx in self.loop.run(_now_us()):
                    self._outcome(key, code, text, length, rx)
                if self._on_absorbed is not None and self.loop.absorbed != absorbed:
                    self._on_absorbed(self.loop.absorbed - absorbed)
        finally:
            self._checkers.clear()
            self.loop.close()

    def _outcome(self, key: int, code: int, text: str, length: int, rx: int) -> None:
        entry = self._checkers[key]
        now = _now_us()
        if code == SETUP:
            self._apply(key, entry, entry.schedule.setup_error(now, f"{text} Rescheduling."))
            return
        ok = code == OK
        entry.on_outcome(Outcome(ok=ok, reason=text))
        if ok and entry.url is not None:
            content_length_notes.note(entry.target, entry.url, length if length >= 0 else None, rx)
        self._apply(key, entry, entry.schedule.attempt_done(now, ok, text or "failed"))

    def _apply(self, key: int, entry: _Checker, effects: list[Effect]) -> None:
        at = -1
        for effect in effects:
            if isinstance(effect, Log):
                self._log(effect.message)
            elif isinstance(effect, StateUpdate):
                entry.on_change(effect)
            elif isinstance(effect, NextAttempt):
                at = effect.at_us
        if key not in self._checkers:  # on_change removed it
            return
        steady = entry.schedule.quiet_success
        if entry.url is not None and not content_length_notes.settled(entry.target, entry.url):
            steady = False
        self.loop.schedule(key, at, steady)
        if self._wait is not None and at / 1_000_000 < self._wait.deadline:
            self._wait.deadline = at / 1_000_000
