"""Captures of the real keepalived's VRRP adverts, for codec tests and the demo.

``capture_keepalived_adverts`` runs keepalived 2.2.7 in namespace A of a small
LAN (A 192.0.2.1, observer C 192.0.2.100, IPv6 on) with one instance per kind
of advert pykad must read: VRRPv2 with PASS authentication, VRRPv3 over IPv4
(multicast and unicast) and VRRPv3 over IPv6, waits until every instance is
MASTER and the observer has seen its adverts, stops keepalived (which sends a
priority-0 advert per instance) and returns the pcap file.
"""

from __future__ import annotations

from pathlib import Path

from lab.keepalived import KeepalivedLab
from lab.netns import Topology, wait_for
from pykad.tools.pcap import Frame, network_layer, parse_ip
from pykad.vrrp.advert import IPPROTO_VRRP

# (instance, VRID, priority, version, ip version, transport)
INSTANCES = [
    ("V2_PASS", 21, 200, 2, 4, "multicast"),
    ("V3_IPV4", 31, 150, 3, 4, "multicast"),
    ("V3_UNICAST", 41, 120, 3, 4, "unicast"),
    ("V3_IPV6", 61, 100, 3, 6, "multicast"),
]

CONFIG = """
global_defs {
    router_id pykad_demo
}
vrrp_instance V2_PASS {
    interface eth0
    virtual_router_id 21
    priority 200
    version 2
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret1
    }
    virtual_ipaddress {
        192.0.2.21/24
    }
}
vrrp_instance V3_IPV4 {
    interface eth0
    virtual_router_id 31
    priority 150
    version 3
    advert_int 0.1
    virtual_ipaddress {
        192.0.2.31/24
        192.0.2.32/24
    }
}
vrrp_instance V3_UNICAST {
    interface eth0
    virtual_router_id 41
    priority 120
    version 3
    advert_int 0.2
    unicast_src_ip 192.0.2.1
    unicast_peer {
        192.0.2.100
    }
    virtual_ipaddress {
        192.0.2.41/24
    }
}
vrrp_instance V3_IPV6 {
    interface eth0
    virtual_router_id 61
    priority 100
    version 3
    advert_int 0.5
    virtual_ipaddress {
        2001:db8::61/64
    }
}
"""


def vrrp_ids(frames: list[Frame]) -> set[tuple[int, int]]:
    """(VRID, priority) of every VRRP packet among ``frames``, without decoding it."""
    seen = set()
    for frame in frames:
        raw = network_layer(frame)
        ip = parse_ip(raw) if raw else None
        if ip and ip.protocol == IPPROTO_VRRP and len(ip.payload) >= 3:
            seen.add((ip.payload[1], ip.payload[2]))
    return seen


def capture_keepalived_adverts(topo: Topology, lab: KeepalivedLab) -> Path:
    """Run keepalived with ``CONFIG`` on A, capture on C, stop it; return the pcap."""
    topo.ipv6 = True
    topo.lan({"A": "192.0.2.1/24", "C": "192.0.2.100/24"})

    def link_local_ready() -> bool:
        out = topo.ip("A", "-6", "addr", "show", "dev", "eth0", "scope", "link").stdout
        return "fe80::" in out and "tentative" not in out

    wait_for(link_local_ready, timeout=10, message="A's IPv6 link-local address")
    capture = topo.capture("C", "eth0", f"ip proto {IPPROTO_VRRP} or ip6 proto {IPPROTO_VRRP}")
    daemon = lab.start((topo, "A"), CONFIG, name="A", subsystems={"vrrp"})
    for name, *_ in INSTANCES:
        daemon.wait_for_state(name, "MASTER", timeout=15)
    wanted = {(vrid, prio) for _, vrid, prio, *_ in INSTANCES}
    wait_for(lambda: wanted <= vrrp_ids(capture.packets()), timeout=10, message="every advert")
    daemon.stop()
    retired = {(vrid, 0) for _, vrid, *_ in INSTANCES}
    wait_for(lambda: retired <= vrrp_ids(capture.packets()), timeout=5, message="priority 0")
    return capture.stop()
