"""Checker latency: the histogram (pure) and the timing of attempts run as trio tasks."""

from __future__ import annotations

from pathlib import Path

import trio
from unit.test_check_service import FakeIpvs, config, free_ports, trio_test, wait_for

from pykad.daemon.check_service import CheckService
from pykad.daemon.latency import BUCKETS_S, Latency


def test_histogram_buckets_are_cumulative() -> None:
    lat = Latency()
    for seconds in (0.0005, 0.001, 0.02, 0.02, 3.0, 60.0):
        lat.observe("HTTP_GET", seconds)
    lat.observe("MISC_CHECK", -1.0)  # a clock that went back counts as 0
    snap = lat.snapshot()
    h = snap["HTTP_GET"]
    assert h["count"] == 6 and abs(h["sum"] - 63.0415) < 1e-9
    cumulative = dict((le, n) for le, n in h["buckets"])
    assert len(h["buckets"]) == len(BUCKETS_S) + 1
    assert cumulative[0.001] == 2  # le: 0.001 itself is in the first bucket
    assert cumulative[0.025] == 4 and cumulative[2.5] == 4 and cumulative[5.0] == 5
    assert cumulative["+Inf"] == 6
    assert snap["MISC_CHECK"]["count"] == 1 and snap["MISC_CHECK"]["sum"] == 0.0


MISC = """
virtual_server 192.0.2.10 80 {{
    delay_loop 0.2
    lvs_sched rr
    protocol TCP
    real_server 127.0.0.1 {port} {{
        MISC_CHECK {{
            misc_path "/bin/sleep 0.05"
            misc_timeout 2
        }}
    }}
}}
"""


@trio_test
async def test_attempts_run_as_tasks_are_timed(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    service = CheckService(config(tmp_path, MISC.format(port=port)), FakeIpvs(), rand=lambda: 0.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        await wait_for(lambda: service.latency.snapshot().get("MISC_CHECK", {}).get("count"))
        h = service.latency.snapshot()["MISC_CHECK"]
        assert h["sum"] / h["count"] >= 0.05  # the script sleeps 50 ms
        nursery.cancel_scope.cancel()
