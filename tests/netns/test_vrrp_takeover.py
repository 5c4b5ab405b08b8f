"""A backup's takeover burst on the real kernel (``pykad.daemon.takeover``).

Two pykad daemons on one LAN; the master is killed and the backup takes over
with the burst it made while it waited: its first advert, the VIP (one netlink
batch) and the first round of gratuitous ARPs, in that order. Run with the
compiled and with the pure-Python twin of ``Burst``. Then the backup is killed
and started again in BACKUP, a master comes back, and the next takeover is
a burst again (made anew each time the instance waits as BACKUP).
"""

from __future__ import annotations

import ipaddress
import json
import time
from typing import Any

import pytest

from lab.keepalived import PYKAD, Keepalived, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for

pytestmark = pytest.mark.netns

VIP = ipaddress.ip_interface("192.0.2.10/24")
GARP_REPEAT = 3


def instance(daemon: Keepalived) -> dict[str, Any]:
    found: dict[str, Any] = daemon.pykad_status()["vrrp"]["instances"][0]
    return found


def mac(topo: Topology, node: str) -> bytes:
    info = json.loads(topo.ip(node, "-j", "link", "show", "eth0").stdout)[0]
    return bytes.fromhex(info["address"].replace(":", ""))


@pytest.mark.parametrize("twin", ["compiled", "python"])
def test_a_backup_takes_over_with_its_prepared_burst(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, twin: str
) -> None:
    netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
    capture = netns_lab.capture("B", "eth0", "arp or ip proto 112")
    extra = f"garp_master_repeat {GARP_REPEAT}"
    program = (PYKAD,) if twin == "compiled" else ("env", "PYKAD_NO_EXTENSIONS=1", PYKAD)
    a_conf = vrrp_instance_config(priority=200, advert_int=0.05, version=3, extra=extra)
    b_conf = vrrp_instance_config(priority=100, advert_int=0.05, version=3, extra=extra)
    a = keepalived_lab.start((netns_lab, "A"), a_conf, name="A", program=(PYKAD,))
    a.wait_for_state("VI_1", "MASTER", timeout=5)
    b = keepalived_lab.start((netns_lab, "B"), b_conf, name="B", program=program)
    b.wait_for_state("VI_1", "BACKUP", timeout=5)
    assert instance(b)["takeover_bursts"] == 0
    b_mac = mac(netns_lab, "B")
    first = len(capture.packets())

    a.kill()
    b.wait_for_state("VI_1", "MASTER", timeout=5)
    wait_for(lambda: VIP in netns_lab.addresses("B", "eth0"), timeout=5, message="the VIP on B")

    def from_b() -> list[str]:
        out = []
        for f in capture.packets()[first:]:
            if f.data[6:12] != b_mac:
                continue
            if f.data[12:14] == b"\x08\x06" and f.data[28:32] == VIP.ip.packed:
                out.append("garp")
            elif f.data[23:24] == b"\x70":
                out.append(f"advert {f.data[14 + 20 + 2]}")
        return out

    wait_for(
        lambda: from_b().count("garp") >= GARP_REPEAT,
        timeout=5,
        message=lambda: f"B's first GARPs: {from_b()}",
    )
    seen = from_b()
    assert seen[: 1 + GARP_REPEAT] == ["advert 100"] + ["garp"] * GARP_REPEAT, seen
    record = instance(b)
    assert record["state"] == "MASTER" and record["takeover_bursts"] == 1
    assert record["stats"]["advert_sent"] >= 1
    log = b.log_text()
    assert "setting VIPs" in log and "cannot" not in log, b.log_tail()

    # Back to BACKUP when A returns (preempt); B makes a burst again and uses it.
    a = keepalived_lab.start((netns_lab, "A"), a_conf, name="A2", program=(PYKAD,), wait=False)
    a.wait_for_state("VI_1", "MASTER", timeout=5)
    wait_for(lambda: instance(b)["state"] == "BACKUP", timeout=5, message="B back to BACKUP")
    a.kill()
    wait_for(lambda: instance(b)["takeover_bursts"] == 2, timeout=5, message="a second burst")
    wait_for(lambda: VIP in netns_lab.addresses("B", "eth0"), timeout=5, message="the VIP again")


@pytest.mark.parametrize("twin", ["compiled", "python"])
def test_backups_timers_sleep_while_their_adverts_stay_in_c(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, twin: str
) -> None:
    """40 backups at 20 ms: their Master_Down_Timers are one watch, not 40 timers
    each run every Master_Down interval (about 1,200 runs in 2 s), and the watch
    still makes every one of them take over when the master dies. No backup takes
    over at start-up (each timer reads its socket before it acts)."""
    n = 40
    netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})

    def conf(priority: int) -> str:
        return "".join(
            vrrp_instance_config(
                name=f"VI_{k}",
                virtual_router_id=k,
                priority=priority,
                vips=(f"198.18.0.{k}/32",),
                advert_int=0.02,
                version=3,
            )
            for k in range(1, n + 1)
        )

    program = (PYKAD,) if twin == "compiled" else ("env", "PYKAD_NO_EXTENSIONS=1", PYKAD)
    a = keepalived_lab.start((netns_lab, "A"), conf(200), name="A", program=(PYKAD,))
    a.wait_for_state(f"VI_{n}", "MASTER", timeout=5)
    b = keepalived_lab.start((netns_lab, "B"), conf(100), name="B", program=program)
    for k in range(1, n + 1):
        b.wait_for_state(f"VI_{k}", "BACKUP", timeout=5)
    before = b.pykad_status()["vrrp"]
    time.sleep(2)
    after = b.pykad_status()["vrrp"]
    runs = after["service"]["timer_wakeups"] - before["service"]["timer_wakeups"]
    assert runs < 300, f"{runs} timer runs in 2 s for {n} backups at 20 ms"
    assert [i["state"] for i in after["instances"]] == ["BACKUP"] * n
    moved = {i["name"]: i["transitions"] for i in after["instances"] if i["transitions"] != 1}
    assert not moved, f"{moved}\n{b.states()}"

    a.kill()
    for k in range(1, n + 1):
        b.wait_for_state(f"VI_{k}", "MASTER", timeout=5)
    vips = ipaddress.ip_network("198.18.0.0/24")
    wait_for(
        lambda: sum(x.ip in vips for x in netns_lab.addresses("B", "eth0")) == n,
        timeout=5,
        message="the VIPs on B",
    )
