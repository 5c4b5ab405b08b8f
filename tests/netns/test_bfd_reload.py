"""SIGHUP and the BFD child: only the difference is applied; the child itself is
started by the reload that brings the first ``bfd_instance``.

Two pykad daemons A and B with a BFD session to each other (10 ms x 3) and no VRRP.
A reload of A that adds a session leaves the running one alone: neither side sees it
leave Up, and A keeps its discriminator (B would see a new one after a reset).  A
reload that removes it tells B AdminDown, so B's session goes Down at once with
keepalived's "Neighbor Signaled Session Down" rather than by timeout.  A reload of a
configuration with an error is refused and changes nothing.

Both daemons run their BFD child real-time (``bfd_rt_priority``), as a director with
10 ms sessions should: a busy machine can otherwise keep the child off the CPU for
longer than the 30 ms detection time.  Real-time is not enough alone: a re-read in
a thread of the child held the GIL the loop waited for (measured: two or three
flaps in six reloads with the cores taken), so the child reads in a forked reader.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lab.bfd_pair import ADDRESS, DROP_BFD_FROM_B, bfd_to
from lab.keepalived import PYKAD, Keepalived, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for

pytestmark = pytest.mark.netns

TO_C = (
    "bfd_instance to_c {\n    neighbor_ip 192.0.2.3\n    min_rx 10\n    min_tx 10\n"
    "    multihop\n}\n"
)
"""A session to nobody (it stays Down), multihop: the first on UDP 4784, so the BFD
loop is made again over one more socket (the running session must not notice)."""


RT = "global_defs {\n    bfd_rt_priority 50\n}\n"
SCRIPTS = "".join(
    f'vrrp_script s{i} {{\n    script "/bin/true {i}"\n    interval 5\n}}\n' for i in range(3000)
)
"""A big configuration: each daemon process reads it for about 0.2 s at a reload."""
A_TO_B = RT + bfd_to("B", "A", 10)
B_TO_A = RT + bfd_to("A", "B", 10)


@pytest.fixture
def busy_cores() -> Iterator[None]:
    """Every core taken by busy processes (one more than there are cores)."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range((os.cpu_count() or 1) + 1)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def sessions(daemon: Keepalived) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in daemon.pykad_status()["bfd"]["sessions"]}


def test_a_reload_adds_and_removes_sessions_and_leaves_the_others_alone(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    netns_lab.lan({n: f"{a}/24" for n, a in ADDRESS.items()})
    a = keepalived_lab.start((netns_lab, "A"), A_TO_B, name="A", program=(PYKAD,))
    b = keepalived_lab.start((netns_lab, "B"), B_TO_A, name="B", program=(PYKAD,))
    a.wait_for_log(r"\(to_b\) Entering Up state", timeout=10)
    b.wait_for_log(r"\(to_a\) Entering Up state", timeout=10)

    # Added: to_c starts (Down: nobody answers); to_b goes on untouched.
    a_mark, b_mark = a.log_mark(), b.log_mark()
    before = sessions(a)["to_b"]
    a.reload(A_TO_B + TO_C)
    a.wait_for_log(r"Reloading", timeout=5, since=a_mark)
    wait_for(lambda: "to_c" in sessions(a), timeout=5, message="A's to_c session")
    after = sessions(a)
    assert after["to_c"]["state"] == "DOWN"
    assert after["to_b"]["state"] == "UP" and after["to_b"]["flaps"] == 0
    assert after["to_b"]["local_discr"] == before["local_discr"]
    assert after["to_b"]["remote_discr"] == before["remote_discr"]
    assert "Entering Down" not in a.log_text()[a_mark:]
    assert "Entering" not in b.log_text()[b_mark:]  # B saw nothing happen

    # A config with an error: refused, nothing changes.
    a_mark = a.log_mark()
    a.reload(A_TO_B + "bfd_instance broken {\n    min_rx 10\n}\n")
    a.wait_for_log(r"Reload refused", timeout=5, since=a_mark)
    assert set(sessions(a)) == {"to_b", "to_c"}

    # Removed: to_b tells B AdminDown; B goes Down at once, not by timeout.
    b_mark = b.log_mark()
    a.reload(RT + TO_C)
    b.wait_for_log(
        r"\(to_a\) Entering Down state \(Local diagnostic - Neighbor Signaled Session Down",
        timeout=5,
        since=b_mark,
    )
    wait_for(lambda: set(sessions(a)) == {"to_c"}, timeout=5, message="to_b gone from A")
    assert a.stop() == 0 and b.stop() == 0


def test_reloads_of_a_big_configuration_on_busy_cores_leave_a_session_up(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, busy_cores: None
) -> None:
    netns_lab.lan({n: f"{a}/24" for n, a in ADDRESS.items()})
    config = A_TO_B + SCRIPTS
    a = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(PYKAD,))
    b = keepalived_lab.start((netns_lab, "B"), B_TO_A, name="B", program=(PYKAD,))
    a.wait_for_log(r"\(to_b\) Entering Up state", timeout=20)
    b.wait_for_log(r"\(to_a\) Entering Up state", timeout=20)
    for i in range(6):  # to_c added and removed: the loop is made again each time
        a_mark, added = a.log_mark(), i % 2 == 0
        a.reload(config + (TO_C if added else ""))
        wait_for(lambda added=added: ("to_c" in sessions(a)) == added, timeout=20, message="reload")
        assert "Reload refused" not in a.log_text()[a_mark:]
    time.sleep(0.5)
    assert sessions(a)["to_b"]["flaps"] == 0 and sessions(b)["to_a"]["flaps"] == 0
    assert "has used too much CPU time" not in a.log_text()
    assert a.stop() == 0 and b.stop() == 0


def test_a_reload_that_adds_the_first_bfd_instance_starts_the_bfd_child(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    """keepalived 2.2.7 starts at a reload the children the new configuration needs: a
    BFD child appears, its session comes up, and the VRRP child gets its events (an
    instance that now tracks it goes FAULT when the session goes down)."""
    netns_lab.lan({n: f"{a}/24" for n, a in ADDRESS.items()})
    vrrp = vrrp_instance_config(priority=150, advert_int=0.1, version=3)
    tracked = vrrp_instance_config(
        priority=150, advert_int=0.1, version=3, extra="track_bfd {\n    to_b\n}"
    )
    a = keepalived_lab.start((netns_lab, "A"), vrrp, name="A", program=(PYKAD,))
    b = keepalived_lab.start((netns_lab, "B"), bfd_to("A", "B", 10), name="B", program=(PYKAD,))
    a.wait_for_state("VI_1", "MASTER", timeout=10)
    assert "bfd" not in a.child_pids()

    a.reload(bfd_to("B", "A", 10) + tracked)
    wait_for(lambda: "bfd" in a.child_pids(), timeout=10, message="A's BFD child")
    a.wait_for_log(r"\(to_b\) Entering Up state", timeout=10)
    b.wait_for_log(r"\(to_a\) Entering Up state", timeout=10)
    a.wait_for_log(r"Tracked BFD instance to_b is UP", timeout=5)

    netns_lab.nft("A", DROP_BFD_FROM_B)
    a.wait_for_state("VI_1", "FAULT", timeout=5)
    assert a.stop() == 0 and b.stop() == 0
