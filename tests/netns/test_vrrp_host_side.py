"""What a master puts on the host and takes away: VIPs, eVIPs, routes, rules, static addresses."""

from __future__ import annotations

import json

import pytest

from lab.keepalived import PYKAD, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for
from pykad.tools.pcap import Frame

pytestmark = pytest.mark.netns

EXTRA = """virtual_ipaddress_excluded {
    203.0.113.5/32
}
virtual_routes {
    198.51.100.0/24 via 192.0.2.254 dev eth0
}
virtual_rules {
    from 192.0.2.10 table 100
}
"""
STATIC = "static_ipaddress {\n    198.18.0.1/32 dev eth0\n}\n"


def host(topo: Topology) -> dict[str, bool]:
    addrs = {str(a) for a in topo.addresses("A", "eth0")}
    routes = json.loads(topo.ip("A", "-j", "route", "show").stdout)
    rules = json.loads(topo.ip("A", "-j", "rule", "show").stdout)
    return {
        "vip": "192.0.2.10/24" in addrs,
        "excluded": "203.0.113.5/32" in addrs,
        "static": "198.18.0.1/32" in addrs,
        "route": any(r.get("dst") == "198.51.100.0/24" for r in routes),
        "rule": any(r.get("src") == "192.0.2.10" and r.get("table") == "100" for r in rules),
    }


def test_a_master_sets_its_whole_vip_set_and_a_stop_removes_it(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    netns_lab.lan({"A": "192.0.2.1/24"})
    config = STATIC + vrrp_instance_config(priority=100, advert_int=0.05, version=3, extra=EXTRA)
    d = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(PYKAD,))
    wait_for(lambda: host(netns_lab)["static"], timeout=5, message="the static address")
    assert host(netns_lab)["vip"] is False  # BACKUP first
    d.wait_for_state("VI_1", "MASTER", timeout=5)
    wait_for(lambda: all(host(netns_lab).values()), timeout=5, message=lambda: str(host(netns_lab)))
    d.stop()
    assert not any(host(netns_lab).values()), host(netns_lab)


@pytest.mark.parametrize("mode", ["accept", "no_accept"])
def test_no_accept_drops_traffic_to_the_vips_of_a_master(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, mode: str
) -> None:
    netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
    config = vrrp_instance_config(priority=100, advert_int=0.05, version=3, extra=mode)
    d = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(PYKAD,))
    d.wait_for_state("VI_1", "MASTER", timeout=5)
    wait_for(lambda: host(netns_lab)["vip"], timeout=5, message="the VIP")

    def ping(target: str) -> bool:
        return netns_lab.run("B", "ping", "-c1", "-W1", target, check=False).returncode == 0

    assert ping("192.0.2.1")  # the router's own address always answers
    assert ping("192.0.2.10") is (mode == "accept")
    d.stop()
    tables = netns_lab.run("A", "nft", "list", "tables", check=False).stdout
    assert "keepalived" not in tables


def test_use_vmac_puts_the_vip_on_a_macvlan_with_the_virtual_mac(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
    capture = netns_lab.capture("B", "eth0", "arp or ip proto 112")
    config = vrrp_instance_config(priority=100, advert_int=0.05, version=3, extra="use_vmac")
    d = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(PYKAD,))
    d.wait_for_state("VI_1", "MASTER", timeout=5)
    link = json.loads(netns_lab.ip("A", "-j", "-d", "link", "show", "vrrp.51").stdout)[0]
    assert link["address"] == "00:00:5e:00:01:33"
    assert link["linkinfo"]["info_kind"] == "macvlan"
    assert link["linkinfo"]["info_data"]["mode"] == "private"
    wait_for(
        lambda: "192.0.2.10/24" in {str(a) for a in netns_lab.addresses("A", "vrrp.51")},
        timeout=5,
        message="the VIP on vrrp.51",
    )
    vmac = bytes.fromhex("00005e000133")

    def seen() -> bool:
        frames = capture.packets()
        advert = any(f.data[6:12] == vmac and f.data[23:24] == b"\x70" for f in frames)
        garp = any(f.data[6:12] == vmac and f.data[12:14] == b"\x08\x06" for f in frames)
        return advert and garp

    wait_for(seen, timeout=5, message="an advert and a GARP from the virtual MAC")
    d.stop()
    assert netns_lab.run("A", "ip", "link", "show", "vrrp.51", check=False).returncode != 0


VMAC_MAC = bytes.fromhex("00005e000133")


@pytest.mark.parametrize(
    ("extra", "vip_option", "own", "other"),
    [
        ("", "", "eth0", "eth1"),
        ("use_vmac", "", "vrrp.51", "eth1"),
        ("", "use_vmac", "eth0", "vrrp.51"),
        ("use_vmac", "use_vmac", "vrrp.51", "vrrp1.51"),
        ("use_vmac_addr", "", "eth0", "vrrp.51"),
    ],
)
def test_where_a_vip_on_another_interface_goes_and_whose_mac_announces_it(
    netns_lab: Topology,
    keepalived_lab: KeepalivedLab,
    extra: str,
    vip_option: str,
    own: str,
    other: str,
) -> None:
    """As keepalived 2.2.7 does (checked side by side): a VIP with ``dev`` another
    interface is set there and announced from that interface's own MAC, or with
    ``use_vmac`` on it (``use_vmac_addr`` on the instance) on a VMAC of its own there
    (``vrrp.51``, or ``vrrp1.51`` when the instance's VMAC has that name); the
    instance's own VIPs go on its VMAC, if it has one."""
    netns_lab.lan({"A": "192.0.2.1/24"})
    netns_lab.add_node("P")
    netns_lab.add_veth("A", "eth1", "P", "p1")
    netns_lab.add_address("A", "eth1", "198.51.100.1/24")
    capture = netns_lab.capture("P", "p1", "arp")
    vips = ("192.0.2.10/24 dev eth0", f"198.51.100.10/24 dev eth1 {vip_option}")
    config = vrrp_instance_config(priority=100, advert_int=0.05, version=3, vips=vips, extra=extra)
    d = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(PYKAD,))
    d.wait_for_state("VI_1", "MASTER", timeout=5)

    def placed() -> tuple[bool, bool]:
        return (
            "192.0.2.10/24" in {str(a) for a in netns_lab.addresses("A", own)},
            "198.51.100.10/24" in {str(a) for a in netns_lab.addresses("A", other)},
        )

    wait_for(lambda: placed() == (True, True), timeout=5, message=lambda: str(placed()))
    link = json.loads(netns_lab.ip("A", "-j", "-d", "link", "show", other).stdout)[0]
    other_mac = bytes.fromhex(link["address"].replace(":", ""))
    if other != "eth1":
        assert other_mac == VMAC_MAC and link["link"] == "eth1"
        assert link["linkinfo"]["info_data"]["mode"] == "private"
    vip = bytes((198, 51, 100, 10))

    def garps() -> set[bytes]:
        frames = capture.packets()
        return {
            f.data[6:12] for f in frames if f.data[12:14] == b"\x08\x06" and f.data[28:32] == vip
        }

    wait_for(lambda: bool(garps()), timeout=5, message="a GARP for 198.51.100.10 on eth1")
    assert garps() == {other_mac}
    d.stop()
    links = {i["ifname"] for i in json.loads(netns_lab.ip("A", "-j", "link", "show").stdout)}
    assert not any(name.startswith("vrrp") for name in links), links


@pytest.mark.parametrize("all_ifs", [False, True])
def test_garp_extra_if_announces_the_vips_on_other_interfaces_again_and_again(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, all_ifs: bool
) -> None:
    """As keepalived 2.2.7 does (checked side by side): every ``garp_extra_if`` seconds a
    master sends one GARP on each VMAC of a VIP on another interface, and with ``all``
    on each other interface; none on the instance's own interface."""
    netns_lab.lan({"A": "192.0.2.1/24"})
    netns_lab.add_node("P")
    netns_lab.add_veth("A", "eth1", "P", "p1")
    netns_lab.add_address("A", "eth1", "198.51.100.1/24")
    capture = netns_lab.capture("P", "p1", "arp")
    own = netns_lab.capture("A", "eth0", "arp", name="own")
    vips = ("192.0.2.10/24", "198.51.100.10/24 dev eth1 use_vmac", "198.51.100.11/24 dev eth1")
    extra = f"garp_master_delay 0\ngarp_extra_if {'all ' if all_ifs else ''}1"
    config = vrrp_instance_config(priority=100, advert_int=0.05, version=3, vips=vips, extra=extra)
    d = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(PYKAD,))
    d.wait_for_state("VI_1", "MASTER", timeout=5)

    def count(frames: list[Frame], last: int) -> int:
        vip = bytes((198, 51, 100, last)) if last > 2 else bytes((192, 0, 2, 10))
        return sum(f.data[12:14] == b"\x08\x06" and f.data[28:32] == vip for f in frames)

    wait_for(lambda: count(capture.packets(), 10) >= 5 + 2, timeout=5, message="two more GARPs")
    frames = capture.packets()
    if all_ifs:  # sent in the same rounds (the last may be on its way)
        assert count(frames, 11) >= 5 + 1
    else:
        assert count(frames, 11) == 5  # the takeover's burst only: eth1 is no VMAC
    # pykad's own count, then the wire's: tcpdump may write a frame late on a busy machine
    senders = {g["interface"]: g for g in d.pykad_status()["vrrp"]["service"]["gratuitous"]}
    assert (senders["eth0"]["sent"], senders["eth0"]["errors"]) == (5, 0), (senders, d.log_text())

    def what_was_seen() -> str:
        link = netns_lab.ip("A", "-s", "link", "show", "eth0").stdout
        return f"5 GARPs in A's own capture: {senders}\n{link}\n{d.log_tail()}"

    wait_for(lambda: count(own.packets(), 1) >= 5, timeout=5, message=what_was_seen)
    assert count(own.packets(), 1) == 5  # the takeover's burst only
    d.stop()


def test_an_ipv6_vmac_sends_from_the_virtual_mac_with_the_bases_link_local(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    """As keepalived 2.2.7 does (checked side by side): the VMAC of an IPv6 instance gets
    its base's link-local address, and the adverts leave from the VMAC (the virtual MAC,
    which switches then learn) with that source address."""
    for node in ("A", "B"):
        netns_lab.add_node(node, ipv6=True)
        netns_lab.sysctl(node, {"net.ipv6.conf.all.accept_dad": "0"})
        netns_lab.sysctl(node, {"net.ipv6.conf.default.accept_dad": "0"})
    netns_lab.lan({"A": "2001:db8::1/64", "B": "2001:db8::2/64"})
    capture = netns_lab.capture("B", "eth0", "ip6 proto 112")
    config = vrrp_instance_config(
        priority=100, advert_int=0.05, version=3, vips=("2001:db8::10/64",), extra="use_vmac"
    )
    d = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(PYKAD,))
    d.wait_for_state("VI_1", "MASTER", timeout=5)
    base_ll = next(a for a in netns_lab.addresses("A", "eth0", 6) if a.ip.is_link_local)
    assert base_ll in netns_lab.addresses("A", "vrrp.51", 6)
    wait_for(lambda: len(capture.packets()) >= 2, timeout=5, message="two adverts")
    for f in capture.packets():
        assert f.data[6:12] == bytes.fromhex("00005e000233")  # 00-00-5E-00-02-{VRID}
        assert f.data[22:38] == base_ll.ip.packed
    d.stop()
