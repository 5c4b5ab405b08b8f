"""The children's scheduling keywords, pykad against keepalived 2.2.7.

The same ``global_defs`` for both daemons: the VRRP child real-time (SCHED_RR with
SCHED_RESET_ON_FORK, RLIMIT_RTTIME soft half of ``vrrp_rlimit_rttime``, hard all
of it), locked in memory and bound to one CPU; the BFD child with a nice value and
bound to one CPU.  What each child runs with is read from the kernel.  And
``max_auto_priority``: a child whose timers ran late goes real-time.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from lab.bfd_pair import ADDRESS, bfd_to
from lab.keepalived import KEEPALIVED, PYKAD, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for

pytestmark = pytest.mark.interop

CPU = os.cpu_count() - 1 if os.cpu_count() else 0
GLOBAL = f"""global_defs {{
    vrrp_rt_priority 20
    vrrp_rlimit_rttime 400000
    vrrp_no_swap
    vrrp_cpu_affinity {CPU}
    bfd_priority -5
    bfd_cpu_affinity {CPU}
}}
"""


def rttime_limits(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/limits") as f:
        line = next(line for line in f if line.startswith("Max realtime timeout"))
    soft, hard = line.split()[3:5]
    return int(soft), int(hard)


def locked_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmLck:")).split()[1])


@pytest.mark.parametrize("program", [KEEPALIVED, PYKAD])
def test_children_run_with_the_configured_scheduling(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, program: str
) -> None:
    netns_lab.lan({n: f"{a}/24" for n, a in ADDRESS.items()})
    config = GLOBAL + bfd_to("B", "A", 100) + vrrp_instance_config(priority=100)
    d = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(program,))
    d.wait_for_state("VI_1", "MASTER", timeout=10)
    pids = d.child_pids()
    vrrp, bfd = pids["vrrp"], pids["bfd"]
    wait_for(
        lambda: os.sched_getscheduler(vrrp) & ~os.SCHED_RESET_ON_FORK == os.SCHED_RR,
        timeout=5,
        message="the VRRP child real-time",
    )
    assert os.sched_getscheduler(vrrp) & os.SCHED_RESET_ON_FORK
    assert os.sched_getparam(vrrp).sched_priority == 20
    assert rttime_limits(vrrp) == (200000, 400000)
    assert locked_kib(vrrp) > 0
    assert os.sched_getaffinity(vrrp) == {CPU}

    wait_for(lambda: os.getpriority(os.PRIO_PROCESS, bfd) == -5, timeout=5, message="BFD nice")
    assert os.sched_getscheduler(bfd) == os.SCHED_OTHER
    assert os.sched_getaffinity(bfd) == {CPU}
    assert locked_kib(bfd) == 0
    assert d.stop() == 0


@pytest.mark.parametrize("program", [KEEPALIVED, PYKAD])
def test_a_child_whose_timers_run_late_goes_real_time(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, program: str
) -> None:
    """``max_auto_priority``: a child stopped for 2.5 s (SIGSTOP) finds its timers late
    by more than ``min_auto_priority_delay`` (1 s by default: keepalived counts from
    its first timer due, at most an advert interval after the stop), says so and goes
    SCHED_RR at priority 1; the VRRP and BFD children alike."""
    netns_lab.lan({n: f"{a}/24" for n, a in ADDRESS.items()})
    config = (
        "global_defs {\n    max_auto_priority 3\n}\n"
        + bfd_to("B", "A", 100)
        + vrrp_instance_config(priority=100)
    )
    d = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(program,))
    d.wait_for_state("VI_1", "MASTER", timeout=10)
    for child in ("vrrp", "bfd"):
        pid = d.child_pids()[child]
        assert os.sched_getscheduler(pid) == os.SCHED_OTHER
        mark = d.log_mark()
        os.kill(pid, signal.SIGSTOP)
        time.sleep(2.5)
        os.kill(pid, signal.SIGCONT)
        d.wait_for_log(r"A thread timer expired [12]\.\d{6} seconds ago", timeout=5, since=mark)
        d.wait_for_log(r"Set realtime priority 1\b", timeout=5, since=mark)
        assert os.sched_getscheduler(pid) & ~os.SCHED_RESET_ON_FORK == os.SCHED_RR
        assert os.sched_getparam(pid).sched_priority == 1
    assert d.stop() == 0
