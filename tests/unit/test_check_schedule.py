"""keepalived's checker schedule (pykad.check.schedule): pure, on fake time.

Each case follows keepalived 2.2.7's C (check_tcp.c tcp_epilog, check_udp.c
udp_epilog, check_http.c epilog/timeout_epilog, check_data.c initial state).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from pykad.check.base import Outcome, Target
from pykad.check.probes import udp
from pykad.check.probes.runner import make_schedule, run_checker
from pykad.check.schedule import (
    BOOTSTRAP_DELAY_US,
    Effect,
    HttpSchedule,
    Layer4Schedule,
    Log,
    NextAttempt,
    StateUpdate,
    Timing,
)
from pykad.config.addresses import inet_stosockaddr
from pykad.config.sections._lvs_model import HttpCheck, TcpCheck, Url

S = 1_000_000
CHK = "[192.0.2.1]:tcp:80"
T = Timing(retry=2, delay_loop_us=10 * S, warmup_us=6 * S, delay_before_retry_us=2 * S)


def logs(effects: list[Effect]) -> list[str]:
    return [e.message for e in effects if isinstance(e, Log)]


def updates(effects: list[Effect]) -> list[StateUpdate]:
    return [e for e in effects if isinstance(e, StateUpdate)]


def nxt(effects: list[Effect]) -> NextAttempt:
    found = [e for e in effects if isinstance(e, NextAttempt)]
    assert len(found) == 1 and effects[-1] is found[0]
    return found[0]


def test_first_attempt_after_bootstrap_and_random_warmup() -> None:
    s = Layer4Schedule(T, CHK)
    assert nxt(s.start(100, 0.5)).at_us == 100 + BOOTSTRAP_DELAY_US + 3 * S
    assert nxt(s.start(0, 0.0)).at_us == BOOTSTRAP_DELAY_US
    no_warmup = Layer4Schedule(Timing(warmup_us=0), CHK)
    assert nxt(no_warmup.start(0, 0.9)).at_us == BOOTSTRAP_DELAY_US


def test_tcp_first_success_confirms_up_and_logs() -> None:
    s = Layer4Schedule(T, CHK)
    assert s.is_up and not s.has_run and s.retry_it == T.retry
    effects = s.attempt_done(0, True)
    assert logs(effects) == [f"TCP connection to {CHK} success."]
    assert updates(effects) == [StateUpdate(up=True, changed=False, first=True)]
    assert nxt(effects).at_us == 10 * S
    again = s.attempt_done(10 * S, True)
    assert again == [NextAttempt(20 * S)]


def test_tcp_first_failure_is_final_without_retries() -> None:
    s = Layer4Schedule(T, CHK)
    effects = s.attempt_done(5, False, "failed")
    assert logs(effects) == [f"TCP_CHECK on service {CHK} failed."]
    assert updates(effects) == [StateUpdate(up=False, changed=True, first=True)]
    assert nxt(effects).at_us == 5 + 10 * S
    assert not s.is_up


def test_tcp_retries_then_down_then_retries_while_down_then_up() -> None:
    s = Layer4Schedule(T, CHK)
    s.attempt_done(0, True)
    e1 = s.attempt_done(0, False)
    assert e1 == [NextAttempt(2 * S)] and s.retry_it == 1
    e2 = s.attempt_done(2 * S, False)
    assert e2 == [NextAttempt(4 * S)] and s.retry_it == 2
    e3 = s.attempt_done(4 * S, False)
    assert logs(e3) == [f"TCP_CHECK on service {CHK} failed after 2 retries."]
    assert updates(e3) == [StateUpdate(up=False, changed=True, first=False)]
    assert nxt(e3).at_us == 14 * S and s.retry_it == 0
    # TCP keeps counting retries (delay_before_retry) while down, silently.
    assert s.attempt_done(14 * S, False) == [NextAttempt(16 * S)]
    e5 = s.attempt_done(16 * S, True)
    assert logs(e5) == [f"TCP connection to {CHK} success."]
    assert updates(e5) == [StateUpdate(up=True, changed=True, first=False)]
    assert nxt(e5).at_us == 26 * S and s.retry_it == 0


def test_tcp_retry_zero_goes_down_at_once_with_plain_message() -> None:
    s = Layer4Schedule(Timing(retry=0, delay_loop_us=10 * S), CHK)
    s.attempt_done(0, True)
    effects = s.attempt_done(1, False)
    assert logs(effects) == [f"TCP_CHECK on service {CHK} failed."]
    assert nxt(effects).at_us == 1 + 10 * S


def test_alpha_starts_down() -> None:
    up_first = Layer4Schedule(Timing(alpha=True, retry=3), CHK)
    assert not up_first.is_up
    e = up_first.attempt_done(0, True)
    assert updates(e) == [StateUpdate(up=True, changed=True, first=True)]
    down_first = Layer4Schedule(Timing(alpha=True, retry=3), CHK)
    e = down_first.attempt_done(0, False)
    assert logs(e) == [f"TCP_CHECK on service {CHK} failed."]
    assert updates(e) == [StateUpdate(up=False, changed=False, first=True)]


def test_log_all_failures_logs_each_failed_attempt_while_up() -> None:
    s = Layer4Schedule(Timing(retry=1, log_all_failures=True), CHK)
    s.attempt_done(0, True)
    assert logs(s.attempt_done(1, False, "timeout")) == [f"TCP connection to {CHK} timeout."]
    e = s.attempt_done(2, False, "failed")
    assert logs(e) == [
        f"TCP connection to {CHK} failed.",
        f"TCP_CHECK on service {CHK} failed after 1 retries.",
    ]
    # Down: no more per-attempt lines.
    assert logs(s.attempt_done(3, False, "failed")) == []


def test_udp_does_not_retry_while_down() -> None:
    s = Layer4Schedule(T, "[192.0.2.1]:udp:53", kind=udp.KIND)
    s.attempt_done(0, False)
    assert not s.is_up
    assert s.attempt_done(0, False) == [NextAttempt(10 * S)]
    assert s.retry_it == 0


def test_setup_error_reschedules_without_verdict() -> None:
    s = Layer4Schedule(T, CHK)
    e = s.setup_error(7, "TCP socket bind failed. Rescheduling.")
    assert e == [Log("TCP socket bind failed. Rescheduling."), NextAttempt(7 + 10 * S)]
    assert s.is_up and not s.has_run


URLS = (Url(path="/a"), Url(path="/b", digest=b"\0" * 16))


def test_http_urls_in_turn_one_per_delay_loop() -> None:
    s = HttpSchedule(T, CHK, urls=URLS)
    assert nxt(s.start(0, 0.0)).url_index == 0
    e1 = s.attempt_done(0, True)
    assert e1 == [NextAttempt(10 * S, 1)]
    e2 = s.attempt_done(10 * S, True)
    assert logs(e2) == [f"Remote Web server {CHK} succeed on service."]
    assert updates(e2) == [StateUpdate(up=True, changed=False, first=True)]
    assert nxt(e2) == NextAttempt(20 * S, 0)
    assert s.attempt_done(20 * S, True) == [NextAttempt(30 * S, 1)]
    assert s.attempt_done(30 * S, True) == [NextAttempt(40 * S, 0)]


def test_http_first_failure_is_final_with_keepalived_retries_wording() -> None:
    s = HttpSchedule(T, CHK, urls=URLS)
    e = s.attempt_done(0, False, "Connection failed")
    # timeout_epilog sets has_run before epilog: the "after N retries" text.
    assert logs(e) == [f"HTTP_CHECK on service {CHK} failed after 2 retries."]
    assert updates(e) == [StateUpdate(up=False, changed=True, first=False)]
    assert nxt(e) == NextAttempt(10 * S, 0)


def test_http_retry_down_failed_url_recovery() -> None:
    t = Timing(retry=1, delay_loop_us=10 * S, delay_before_retry_us=3 * S, log_all_failures=True)
    s = HttpSchedule(t, CHK, urls=URLS)
    s.attempt_done(0, True)
    s.attempt_done(0, True)  # up, has run, back at /a
    e = s.attempt_done(0, True)
    assert nxt(e) == NextAttempt(10 * S, 1)
    e = s.attempt_done(10 * S, False, "MD5 digest error to")
    assert logs(e) == [f"MD5 digest error to server {CHK}."]
    assert nxt(e) == NextAttempt(13 * S, 1)
    e = s.attempt_done(13 * S, False, "MD5 digest error to")
    assert logs(e) == [
        f"MD5 digest error to server {CHK}.",
        f"HTTP_CHECK on service {CHK} failed after 1 retries.",
    ]
    assert updates(e) == [StateUpdate(up=False, changed=True, first=False)]
    # The failed URL alone, every max(delay_before_retry, delay_loop), silently.
    assert nxt(e) == NextAttempt(23 * S, 1)
    assert s.attempt_done(23 * S, False, "x") == [NextAttempt(33 * S, 1)]
    e = s.attempt_done(33 * S, True)
    assert logs(e) == [f"MD5 digest success to {CHK} url(/b)"]
    assert nxt(e) == NextAttempt(43 * S, 0)  # then all URLs again
    e = s.attempt_done(43 * S, True)
    assert logs(e) == [f"HTTP status code success to {CHK} url(/a)"]
    assert nxt(e) == NextAttempt(53 * S, 1)
    e = s.attempt_done(53 * S, True)
    assert updates(e) == [StateUpdate(up=True, changed=True, first=False)]
    assert nxt(e) == NextAttempt(63 * S, 0)


def test_http_fast_recovery_runs_at_once_before_first_verdict() -> None:
    s = HttpSchedule(Timing(alpha=True, delay_loop_us=10 * S), CHK, urls=URLS, fast_recovery=True)
    assert s.attempt_done(5, True) == [
        Log(f"HTTP status code success to {CHK} url(/a)"),
        NextAttempt(5, 1),
    ]
    e = s.attempt_done(6, True)
    assert updates(e) == [StateUpdate(up=True, changed=True, first=True)]
    assert nxt(e) == NextAttempt(6 + 10 * S, 0)


# --- the trio driver, on trio's mock clock ------------------------------------


def _target() -> Target:
    addr = inet_stosockaddr("192.0.2.1")
    assert addr is not None
    return Target(addr, 80)


def test_runner_timing_and_hung_probe_costs_one_connect_timeout() -> None:
    check = TcpCheck(retry=1, delay_loop_us=10 * S, warmup_us=4 * S, delay_before_retry_us=2 * S)
    attempts: list[float] = []
    results = iter([True, False, False, True])
    changes: list[tuple[float, StateUpdate]] = []

    async def probe(_check: object, _target: Target) -> Outcome:
        attempts.append(trio.current_time())
        ok = next(results, None)
        if ok is None:
            await trio.sleep_forever()  # a hung server
        return Outcome(ok=bool(ok))

    async def main() -> None:
        with trio.move_on_after(60):
            await run_checker(
                probe,
                check,
                _target(),
                lambda u: changes.append((trio.current_time(), u)),
                random=lambda: 0.25,
                log=lambda _m: None,
            )

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    # 1 s + 4 s * 0.25; then delay_loop; a retry after 2 s; down; delay_loop.
    # After the success at 24: hung attempts each cost 5 s (connect_timeout):
    # 34 -> fails at 39, retry at 41 -> fails at 46 -> down, next at 56.
    expected = [2.0, 12.0, 14.0, 24.0, 34.0, 41.0, 56.0]
    assert [round(a, 6) for a in attempts[: len(expected)]] == expected
    assert [(round(t, 6), u.up) for t, u in changes] == [
        (2.0, True),
        (14.0, False),
        (24.0, True),
        (46.0, False),
    ]
    assert all(math.isfinite(a) for a in attempts)


def test_make_schedule_picks_http_for_http_checks() -> None:
    sched = make_schedule(HttpCheck(urls=URLS), _target())
    assert isinstance(sched, HttpSchedule)
    assert sched.chk == "[192.0.2.1]:tcp:80"


@pytest.mark.parametrize("retry", [0, 1, 3])
def test_tcp_failures_to_down_count(retry: int) -> None:
    s = Layer4Schedule(Timing(retry=retry, delay_loop_us=10 * S, delay_before_retry_us=S), CHK)
    s.attempt_done(0, True)
    n = 0
    while s.is_up:
        s.attempt_done(0, False)
        n += 1
    assert n == retry + 1


@given(
    outcomes=st.lists(st.booleans(), max_size=30),
    retry=st.integers(0, 3),
    alpha=st.booleans(),
    http=st.booleans(),
    urls=st.integers(1, 3),
    fast_recovery=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_quiet_success_means_a_success_only_schedules_the_next_attempt(
    outcomes: list[bool], retry: int, alpha: bool, http: bool, urls: int, fast_recovery: bool
) -> None:
    """What a bulk runner absorbs (``quiet_success``) is exactly a success that changes
    nothing: no log, no state update, no state change, the next attempt delay_loop later."""
    timing = Timing(retry=retry, delay_loop_us=10 * S, delay_before_retry_us=2 * S, alpha=alpha)
    sched: Layer4Schedule | HttpSchedule
    if http:
        paths = tuple(Url(path=f"/{i}") for i in range(urls))
        sched = HttpSchedule(timing, CHK, urls=paths, fast_recovery=fast_recovery)
    else:
        sched = Layer4Schedule(timing, CHK)
    sched.start(0, 0.5)
    now = S
    quiet_seen = False
    for ok in [*outcomes, True, True, True]:
        now += S
        if sched.quiet_success:
            quiet_seen = True
            before = copy.deepcopy(sched)
            effects = sched.attempt_done(now, True)
            assert effects == [NextAttempt(now + 10 * S, before._index())]
            assert sched == before
            continue
        sched.attempt_done(now, ok)
    if not http or urls == 1:
        assert quiet_seen  # three successes in a row always reach it


def test_misc_schedule_follows_keepalived_2_2_7_timeline() -> None:
    """The timeline keepalived 2.2.7 logged for a MISC_CHECK (delay_loop 2, retry 2,
    delay_before_retry 1) whose script failed from t=7 s to t=14 s: runs timed from the
    start of the last one, retries 1 s apart, the third failure final with the
    retry note, no line and no retry while down, "succeeded" when it is back."""
    from pykad.check.schedule import MISC_NOTE, MiscSchedule

    timing = Timing(retry=2, delay_loop_us=2 * S, warmup_us=0, delay_before_retry_us=1 * S)
    sched = MiscSchedule(timing, CHK, success_line="up")
    failed = f"Misc check by [/ok.sh] failed{MISC_NOTE} (exited with status 1)."
    (first,) = sched.start(0, 0.0)
    assert first == NextAttempt(1 * S)
    runs: list[tuple[int, list[str], list[bool]]] = []
    at = first.at_us
    while at < 17 * S:
        ok = not 7 * S <= at < 14 * S
        effects = sched.attempt_done(at + 100_000, ok, "" if ok else failed)  # 0.1 s a run
        runs.append((at // S, logs(effects), [u.up for u in updates(effects)]))
        at = nxt(effects).at_us
    assert runs == [
        (1, ["up"], [True]),
        (3, [], []),
        (5, [], []),
        (7, [], []),
        (8, [], []),
        (9, ["Misc check by [/ok.sh] failed after 2 retries (exited with status 1)."], [False]),
        (11, [], []),
        (13, [], []),
        (15, ["up"], [True]),
    ]


def _timeline(
    sched: Any, first: int, until: int, fail: Callable[[int], bool], reason: str
) -> list[tuple[int, list[str], list[bool]]]:
    """Attempts from ``first`` (s) until ``until``, each ending 0.1 s after it starts."""
    runs: list[tuple[int, list[str], list[bool]]] = []
    at = first * S
    while at < until * S:
        ok = not fail(at)
        effects = sched.attempt_done(at, ok, "" if ok else reason)
        runs.append((at // S, logs(effects), [u.up for u in updates(effects)]))
        at = nxt(effects).at_us
    return runs


def test_smtp_and_dns_schedules_follow_keepalived_2_2_7_timeline() -> None:
    """What keepalived 2.2.7 did against closed ports (retry 2, delay_before_retry 1,
    delay_loop 4): SMTP_CHECK retries from its first check and while down, logs the
    failure that used the last retry, without a note; DNS_CHECK's first failure is
    final, then it neither retries nor logs while down; coming back: SMTP logs its
    success line, DNS nothing."""
    from pykad.check.schedule import DnsSchedule, SmtpSchedule

    timing = Timing(retry=2, delay_loop_us=4 * S, warmup_us=0, delay_before_retry_us=1 * S)
    smtp = SmtpSchedule(timing, CHK, success_line="Remote SMTP server up")
    smtp.start(0, 0.0)
    line = "SMTP_CHECK Could not connect to server [127.0.0.1]:2525"
    assert _timeline(smtp, 3, 22, lambda at: at < 15 * S, line) == [
        (3, [], []),
        (4, [], []),
        (5, [line], [False]),
        (9, [], []),
        (10, [], []),
        (11, [], []),
        (15, ["Remote SMTP server up"], [True]),
        (19, [], []),
    ]
    dns = DnsSchedule(timing, CHK)
    dns.start(0, 0.0)
    refused = (
        "DNS_CHECK ([127.0.0.1]:udp:5353) failed to read socket; errno 111 (Connection refused)"
    )
    assert _timeline(dns, 2, 20, lambda at: at < 14 * S, refused) == [
        (2, [refused], [False]),
        (6, [], []),
        (10, [], []),
        (14, [], [True]),
        (18, [], []),
    ]
    # up, then failing: retries while up, the last one logged with its note
    assert _timeline(dns, 22, 36, lambda at: at >= 26 * S, "DNS_CHECK (x) read timeout") == [
        (22, [], []),
        (26, [], []),
        (27, [], []),
        (28, ["DNS_CHECK (x) read timeout after 2 retries"], [False]),
        (32, [], []),
    ]
