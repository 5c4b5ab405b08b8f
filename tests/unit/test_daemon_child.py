"""The supervising parent's pure rules (``pykad.daemon.child``): how a child's end is
reported and how fast a child that keeps dying is respawned, as keepalived does."""

from __future__ import annotations

import os
import signal

import pytest

from pykad.daemon.child import (
    EXIT_CONFIG,
    EXIT_FATAL,
    RespawnDelay,
    child_died_lines,
    exit_report,
)


def exited(code: int) -> int:
    return code << 8


def test_respawn_delay_is_keepalived_s_calc_restart_delay() -> None:
    # keepalived 2.2.7, measured: a VRRP child killed three times within seconds was
    # restarted after 0, 1 and 2 seconds; the pace doubles up to a minute.
    d = RespawnDelay()
    delays = []
    now = 100.0
    for _ in range(9):
        d.start(now)
        delay = d.after_death(now + 0.5)
        assert delay is not None
        delays.append(delay)
        now += 0.5 + delay
    assert delays == [0, 1, 2, 4, 8, 16, 32, 60, 60]


def test_a_child_that_ran_a_minute_is_respawned_at_once_and_the_pace_starts_over() -> None:
    d = RespawnDelay()
    d.start(0.0)
    assert d.after_death(1.0) == 0
    d.start(1.0)
    assert d.after_death(2.0) == 1
    d.start(2.0)
    assert d.after_death(62.0) is None  # ran 60 s: no delay, nothing logged
    d.start(62.0)
    assert d.after_death(63.0) == 0


def test_exit_reports_in_keepalived_s_words() -> None:
    killed = exit_report("pid 15322", signal.SIGKILL)
    assert (
        killed.line
        == "pid 15322 exited due to signal 9 (Killed) - has rlimit_rttime been exceeded?"
    )
    assert not killed.permanent
    assert exit_report("pid 7", exited(0)).line is None
    assert exit_report("pid 7", exited(1)).line == "pid 7 exited with status 1"
    fatal = exit_report("VRRP", exited(EXIT_FATAL))
    assert fatal.permanent and fatal.line == "VRRP exited with permanent error FATAL. Terminating"
    config = exit_report("VRRP", exited(EXIT_CONFIG))
    assert config.permanent and config.line is not None and "CONFIG" in config.line
    seg = exit_report("pid 8", signal.SIGSEGV)
    assert seg.line is not None and "signal 11" in seg.line and "rlimit" not in seg.line


@pytest.mark.parametrize("title", ["VRRP", "Healthcheck", "BFD"])
def test_child_died_lines(title: str) -> None:
    lines = child_died_lines(title, 42)
    assert lines[0] == f"{title} child process(42) died: Respawning"
    assert len(lines) == 4


def test_wait_statuses_are_what_os_waitpid_gives() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(EXIT_FATAL)
    _, status = os.waitpid(pid, 0)
    assert exit_report("x", status).permanent
