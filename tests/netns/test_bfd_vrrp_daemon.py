"""BFD inside the running daemon: track_bfd (FAULT and weights) and pykad_bfd_takeover.

Two pykad routers on one bridge, a BFD session between them (10 ms x 3) and one
VRRP instance (VRRPv2, 1 s adverts).  A drops B's BFD packets with nftables, or
dies, and the test watches what VRRP does with the session's state.
"""

from __future__ import annotations

import ipaddress
import time

import pytest

from lab.keepalived import PYKAD, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for

pytestmark = pytest.mark.netns

VIP = ipaddress.ip_interface("192.0.2.10/24")
ADDRESS = {"A": "192.0.2.1", "B": "192.0.2.2"}
DROP_BFD_FROM_B = """
table inet lab {
    chain in { type filter hook input priority -300; ip saddr 192.0.2.2 udp dport 3784 drop; }
}
"""


def bfd(node: str) -> str:
    peer = "B" if node == "A" else "A"
    return (
        f"bfd_instance to_{peer.lower()} {{\n"
        f"    neighbor_ip {ADDRESS[peer]}\n    source_ip {ADDRESS[node]}\n"
        "    min_rx 10\n    min_tx 10\n    multiplier 3\n}\n"
    )


def has_vip(lab: Topology, node: str) -> bool:
    return VIP in lab.addresses(node, "eth0")


def test_track_bfd_faults_the_instance_and_a_weight_moves_the_master(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    netns_lab.lan({n: f"{a}/24" for n, a in ADDRESS.items()})
    a_conf = bfd("A") + vrrp_instance_config(
        priority=150, advert_int=0.1, version=3, extra="track_bfd {\n    to_b\n}"
    )
    b_conf = bfd("B") + vrrp_instance_config(
        priority=100, advert_int=0.1, version=3, extra="track_bfd {\n    to_a weight 100\n}"
    )
    a = keepalived_lab.start((netns_lab, "A"), a_conf, name="A", program=(PYKAD,))
    b = keepalived_lab.start((netns_lab, "B"), b_conf, name="B", program=(PYKAD,))
    # B tracks the session with weight 100: Up makes it 200, above A's 150.
    wait_for(lambda: has_vip(netns_lab, "B"), timeout=10, message="B master by weight")
    a.wait_for_log(r"VRRP_Instance\(VI_1\) Tracked BFD instance to_b is UP", timeout=5)
    assert not has_vip(netns_lab, "A")

    since_a = len(a.log_text())
    netns_lab.nft("A", DROP_BFD_FROM_B)
    a.wait_for_log(r"Tracked BFD instance to_b is DOWN", timeout=5, since=since_a)
    a.wait_for_state("VI_1", "FAULT", timeout=5)
    b.wait_for_log(r"Tracked BFD instance to_a is DOWN", timeout=5)
    assert has_vip(netns_lab, "B")  # 100 now, but A is in FAULT: B stays master

    netns_lab.nft("A", "delete table inet lab")
    b.wait_for_log(r"Tracked BFD instance to_a is UP", timeout=5, since=len(b.log_text()) - 200)
    wait_for(lambda: a.state("VI_1") == "BACKUP", timeout=5, message="A back from FAULT")
    assert has_vip(netns_lab, "B") and not has_vip(netns_lab, "A")


def test_bfd_takeover_does_not_wait_for_the_master_down_timer(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    netns_lab.lan({n: f"{a}/24" for n, a in ADDRESS.items()})
    a_conf = bfd("A") + vrrp_instance_config(priority=200, advert_int=1)
    b_conf = bfd("B") + vrrp_instance_config(priority=100, advert_int=1, extra="pykad_bfd_takeover")
    a = keepalived_lab.start((netns_lab, "A"), a_conf, name="A", program=(PYKAD,))
    b = keepalived_lab.start((netns_lab, "B"), b_conf, name="B", program=(PYKAD,))
    wait_for(lambda: has_vip(netns_lab, "A"), timeout=15, message="A master")
    b.wait_for_log(r"Received BFD event: instance to_a is in state Up", timeout=5)
    b.wait_for_state("VI_1", "BACKUP", timeout=5)
    time.sleep(1.5)  # B has heard A's adverts and follows it as master

    since_b = len(b.log_text())
    a.kill()
    # B became master because its BFD session went down, not by its Master_Down_Timer
    # (3 x 1 s + skew): the service logs this only when master_gone made it MASTER.
    b.wait_for_log(r"\(VI_1\) BFD session to_a to the master is down: taking over", since=since_b)
    wait_for(lambda: has_vip(netns_lab, "B"), timeout=10, message="B master")
