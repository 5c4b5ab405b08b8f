"""pykad.daemon.scheduling: keepalived's automatic real-time priority, step by step."""

from __future__ import annotations

import logging

import pytest

from pykad.config.sections._global_model import ProcessTuning
from pykad.daemon import scheduling


def test_late_timers_raise_the_priority_one_step_at_a_time_up_to_the_maximum(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[int, int, str]] = []
    monkeypatch.setattr(scheduling, "_realtime", lambda *a: calls.append(a) or True)
    auto = scheduling.AutoPriority(2, 1_000_000, ProcessTuning(rlimit_rttime_us=50_000), "vrrp")
    caplog.set_level(logging.INFO, logger="pykad")
    auto.late(1_000_000)  # not more than the delay
    assert calls == [] and caplog.messages == []
    auto.late(1_500_042)
    auto.late(2_000_001)
    auto.late(3_000_000)  # at the maximum: said, no higher
    # the first step sets the real-time limit; later ones keep it
    assert calls == [(1, 50_000, "vrrp"), (2, 0, "vrrp")]
    assert caplog.messages == [
        "A thread timer expired 1.500042 seconds ago",
        "Set realtime priority 1",
        "A thread timer expired 2.000001 seconds ago",
        "Set realtime priority 2",
        "A thread timer expired 3.000000 seconds ago",
    ]
    assert auto.rt_priority == 2


def test_a_refused_step_is_not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduling, "_realtime", lambda *a: False)
    auto = scheduling.AutoPriority(5, 10, ProcessTuning(rt_priority=3), "bfd")
    auto.late(20)
    assert auto.rt_priority == 3
