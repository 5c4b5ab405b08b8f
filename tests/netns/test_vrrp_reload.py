"""A VRRP reload disturbs nothing it does not change (issue 7, point 3).

Two routers on one LAN run the VRRP service (``lab.vrrp_service_harness``: the
service as the VRRP process wires it, SIGHUP reloads). A is master of VI_1 and
VI_2, B their backup. During each reload of A, an ``ip monitor address`` on A
records every address added or deleted and tcpdump on B every ARP and VRRP
frame; the tests then check that only the change asked for happened: no other
VIP deleted even for a moment, GARPs only for new addresses, no state change
of the other instances, and adverts without a gap longer than the interval.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab.keepalived import Keepalived, KeepalivedLab
from lab.netns import LabProcess, Topology, wait_for
from lab.vrrp_service_harness import HARNESS
from pykad.tools.pcap import Frame, network_layer, parse_ip, read_pcap

pytestmark = pytest.mark.netns

ADVERT_INT = 0.1
A_IP, B_IP = "192.0.2.1", "192.0.2.2"
PROBE = "203.0.113.250/32"
"""Added on A's loopback once the monitor runs: seeing it proves the monitor listens."""


def instance(name: str, vrid: int, priority: int, vips: tuple[str, ...], extra: str = "") -> str:
    lines = "\n".join(f"        {v}" for v in vips)
    return (
        f"vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n"
        f"    virtual_router_id {vrid}\n    priority {priority}\n    version 3\n"
        f"    advert_int {ADVERT_INT:g}\n    garp_master_delay 0\n    skip_check_adv_addr\n"
        f"{extra}    virtual_ipaddress {{\n{lines}\n    }}\n}}\n"
    )


@dataclass
class Site:
    """What one router runs: its instances by name, as (vrid, priority, vips, extra)."""

    instances: dict[str, tuple[int, int, tuple[str, ...], str]] = field(default_factory=dict)

    def config(self) -> str:
        return "".join(instance(n, *spec) for n, spec in self.instances.items())


def a_site() -> Site:
    return Site(
        {
            "VI_1": (51, 150, ("192.0.2.10/24",), ""),
            "VI_2": (52, 150, ("192.0.2.20/24",), ""),
        }
    )


def b_site() -> Site:
    return Site(
        {
            "VI_1": (51, 100, ("192.0.2.10/24",), ""),
            "VI_2": (52, 100, ("192.0.2.20/24",), ""),
        }
    )


@dataclass
class Observed:
    """What happened on the wire and on A's interfaces around one reload."""

    added: list[str]
    deleted: list[str]
    garps: dict[str, list[str]]
    """Sender MAC -> addresses of its gratuitous ARPs."""
    adverts: dict[tuple[str, int], list[tuple[float, int, int]]]
    """(source, VRID) -> (time, priority, address count) of each advert."""
    a_states: list[tuple[str, str]]
    b_states: list[tuple[str, str]]


class Pair:
    def __init__(self, topo: Topology, lab: KeepalivedLab) -> None:
        self.topo, self.lab = topo, lab
        topo.lan({"A": f"{A_IP}/24", "B": f"{B_IP}/24"})
        self.mac = {n: self._mac(n) for n in ("A", "B")}
        self.a_site, self.b_site = a_site(), b_site()
        self.a = self._start("A", self.a_site)
        for name in self.a_site.instances:
            self.a.wait_for_state(name, "MASTER", timeout=10)
        self.b = self._start("B", self.b_site)
        for name in self.b_site.instances:
            self.b.wait_for_state(name, "BACKUP", timeout=10)
        wait_for(
            lambda: {"192.0.2.10/24", "192.0.2.20/24"} <= self.vips(),
            timeout=5,
            message="A's VIPs",
        )

    def _mac(self, node: str) -> str:
        links = json.loads(self.topo.ip(node, "-j", "link", "show", "eth0").stdout)
        return str(links[0]["address"])

    def _start(self, node: str, site: Site) -> Keepalived:
        return self.lab.start(
            (self.topo, node),
            site.config(),
            name=node,
            program=(sys.executable, HARNESS),
            expect=(),
        )

    def vips(self) -> set[str]:
        return {str(a) for a in self.topo.addresses("A", "eth0")}

    def _monitor(self) -> LabProcess:
        log = self.topo.workdir / f"monitor-{time.monotonic_ns()}.log"
        proc = self.topo.spawn("A", "stdbuf", "-oL", "ip", "-o", "monitor", "address", log_path=log)

        def listening() -> bool:  # the probe comes and goes until the monitor reports it
            self.topo.run("A", "ip", "addr", "add", PROBE, "dev", "lo", check=False)
            seen = _seen_within(log, 0.3)
            self.topo.run("A", "ip", "addr", "del", PROBE, "dev", "lo", check=False)
            return seen

        wait_for(listening, timeout=10, message="ip monitor to listen")
        return proc

    def reload(self, site: Site, settle: float = 1.5) -> Observed:
        """Reload A with ``site`` and record what happens until ``settle`` s after it."""
        monitor = self._monitor()
        capture = self.topo.capture("B", "eth0", "arp or ip proto 112")
        a_mark, b_mark = self.a.log_mark(), self.b.log_mark()
        time.sleep(3 * ADVERT_INT)  # adverts before the reload, to measure gaps across it
        self.a_site = site
        self.a.reload(site.config())
        self.a.wait_for_log(r"Reload complete", since=a_mark, timeout=5)
        time.sleep(settle)  # adverts after it: nothing but time shows what did not happen
        path = capture.stop()
        self.topo.stop(monitor)
        assert monitor.log_path is not None
        added: list[str] = []
        deleted: list[str] = []
        for line in Path(monitor.log_path).read_text().splitlines():
            m = re.search(r"\beth0\s+inet6?\s+(\S+)", line)
            if m is not None:
                (deleted if line.startswith("Deleted") else added).append(m[1])
        return Observed(
            added=added,
            deleted=deleted,
            garps=garps(read_pcap(path)),
            adverts=adverts(read_pcap(path)),
            a_states=_states(self.a, a_mark),
            b_states=_states(self.b, b_mark),
        )


def _seen_within(log: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if PROBE in log.read_text():
            return True
        time.sleep(0.02)
    return False


def _states(daemon: Keepalived, since: int) -> list[tuple[str, str]]:
    text = daemon.log_text()[since:]
    return re.findall(r"\((\w+)\) Entering (MASTER|BACKUP|FAULT) STATE", text)


def garps(frames: Iterator[Frame]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in frames:
        d = f.data
        if len(d) < 42 or d[12:14] != b"\x08\x06":
            continue
        sender_ip, target_ip = d[28:32], d[38:42]
        if sender_ip == target_ip:
            mac = ":".join(f"{b:02x}" for b in d[22:28])
            out.setdefault(mac, []).append(str(ipaddress.ip_address(sender_ip)))
    return out


def adverts(frames: Iterator[Frame]) -> dict[tuple[str, int], list[tuple[float, int, int]]]:
    out: dict[tuple[str, int], list[tuple[float, int, int]]] = {}
    for f in frames:
        raw = network_layer(f)
        ip = parse_ip(raw) if raw else None
        if ip is None or ip.protocol != 112 or len(ip.payload) < 8:
            continue
        src = str(ipaddress.ip_address(ip.src))
        out.setdefault((src, ip.payload[1]), []).append((f.timestamp, ip.payload[2], ip.payload[3]))
    return out


def max_gap(ads: list[tuple[float, int, int]]) -> float:
    times = [t for t, _, _ in ads]
    return max((b - a for a, b in itertools.pairwise(times)), default=float("inf"))


GAP = 1.5 * ADVERT_INT
"""An advert interval plus scheduling slack on a loaded 2-core machine."""


def assert_undisturbed(seen: Observed, vrid: int, *, priority: int = 150) -> None:
    ads = seen.adverts.get((A_IP, vrid), [])
    assert len(ads) > 10, seen.adverts.keys()
    assert max_gap(ads) <= GAP, f"VRID {vrid}: gap {max_gap(ads):.3f}s"
    assert {p for _, p, _ in ads} == {priority}


@pytest.fixture
def pair(netns_lab: Topology, keepalived_lab: KeepalivedLab) -> Pair:
    return Pair(netns_lab, keepalived_lab)


def test_an_unchanged_configuration_changes_nothing(pair: Pair) -> None:
    seen = pair.reload(a_site())
    assert (seen.added, seen.deleted) == ([], [])
    assert seen.garps == {}
    assert seen.a_states == seen.b_states == []
    assert_undisturbed(seen, 51)
    assert_undisturbed(seen, 52)
    assert "Reload finished: 2 unchanged, 0 changed in place" in pair.a.log_text()


def test_a_masters_new_priority_goes_into_its_next_adverts(pair: Pair) -> None:
    site = a_site()
    site.instances["VI_1"] = (51, 140, ("192.0.2.10/24",), "")
    seen = pair.reload(site)
    assert (seen.added, seen.deleted) == ([], [])
    assert seen.garps == {}
    assert seen.a_states == seen.b_states == []
    ads = seen.adverts[(A_IP, 51)]
    assert max_gap(ads) <= GAP
    priorities = [p for _, p, _ in ads]
    assert priorities[0] == 150 and priorities[-1] == 140
    assert priorities == sorted(priorities, reverse=True)  # 150 until the reload, then 140
    assert_undisturbed(seen, 52)


def test_a_master_whose_priority_drops_below_the_backups_hands_over(pair: Pair) -> None:
    site = a_site()
    site.instances["VI_1"] = (51, 50, ("192.0.2.10/24",), "")
    seen = pair.reload(site)
    assert ("VI_1", "MASTER") in seen.b_states and ("VI_1", "BACKUP") in seen.a_states
    assert all(name == "VI_1" for name, _ in seen.a_states + seen.b_states)
    assert seen.deleted == ["192.0.2.10/24"] and seen.added == []
    assert set(seen.garps.get(pair.mac["A"], [])) == set()
    assert set(seen.garps.get(pair.mac["B"], [])) == {"192.0.2.10"}
    assert_undisturbed(seen, 52)


def test_a_vip_added_to_one_instance_is_the_only_address_added(pair: Pair) -> None:
    site = a_site()
    site.instances["VI_1"] = (51, 150, ("192.0.2.10/24", "192.0.2.11/24"), "")
    seen = pair.reload(site)
    assert (seen.added, seen.deleted) == (["192.0.2.11/24"], [])
    assert set(seen.garps[pair.mac["A"]]) == {"192.0.2.11"}
    assert len(seen.garps[pair.mac["A"]]) == 5  # garp_master_repeat
    assert pair.mac["B"] not in seen.garps
    assert seen.a_states == seen.b_states == []
    assert_undisturbed(seen, 51)
    assert seen.adverts[(A_IP, 51)][-1][2] == 2  # its adverts carry both addresses
    assert_undisturbed(seen, 52)
    assert {"192.0.2.10/24", "192.0.2.11/24", "192.0.2.20/24"} <= pair.vips()


def test_a_vip_removed_from_one_instance_is_the_only_address_removed(pair: Pair) -> None:
    site = a_site()
    site.instances["VI_1"] = (51, 150, ("192.0.2.10/24", "192.0.2.11/24"), "")
    pair.reload(site)
    seen = pair.reload(a_site())
    assert (seen.added, seen.deleted) == ([], ["192.0.2.11/24"])
    assert seen.garps == {}
    assert seen.a_states == seen.b_states == []
    assert_undisturbed(seen, 51)
    assert seen.adverts[(A_IP, 51)][-1][2] == 1
    assert_undisturbed(seen, 52)


def test_an_instance_added_starts_alone(pair: Pair) -> None:
    site = a_site()
    site.instances["VI_3"] = (53, 150, ("192.0.2.30/24",), "")
    seen = pair.reload(site)
    assert seen.a_states == [("VI_3", "BACKUP"), ("VI_3", "MASTER")]
    assert seen.b_states == []
    assert (seen.added, seen.deleted) == (["192.0.2.30/24"], [])
    assert set(seen.garps[pair.mac["A"]]) == {"192.0.2.30"}
    assert_undisturbed(seen, 51)
    assert_undisturbed(seen, 52)


def test_an_instance_removed_leaves_as_on_a_stop(pair: Pair) -> None:
    site = a_site()
    del site.instances["VI_2"]
    seen = pair.reload(site)
    assert (seen.added, seen.deleted) == ([], ["192.0.2.20/24"])
    assert seen.b_states == [("VI_2", "MASTER")]
    assert seen.a_states == []
    zero = [p for _, p, _ in seen.adverts[(A_IP, 52)] if p == 0]
    assert zero == [0]  # one priority-0 advert, then silence
    assert pair.mac["A"] not in seen.garps
    assert set(seen.garps[pair.mac["B"]]) == {"192.0.2.20"}
    assert_undisturbed(seen, 51)


def test_a_rebuilt_instance_keeps_its_state_and_addresses(pair: Pair) -> None:
    site = a_site()
    site.instances["VI_2"] = (52, 150, ("192.0.2.20/24",), "    advert_int 0.05\n")
    seen = pair.reload(site)
    assert "(VI_2) rebuilt by the reload" in pair.a.log_text()
    assert (seen.added, seen.deleted) == ([], [])
    assert seen.garps == {}
    assert seen.a_states == seen.b_states == []
    assert_undisturbed(seen, 51)
    ads = seen.adverts[(A_IP, 52)]
    assert max_gap(ads) <= GAP
    last = [t for t, _, _ in ads[-6:]]
    assert max(b - a for a, b in itertools.pairwise(last)) < 0.08  # the new interval


def links(pair: Pair) -> set[str]:
    return {str(link["ifname"]) for link in json.loads(pair.topo.ip("A", "-j", "link").stdout)}


def addresses(pair: Pair, ifname: str) -> set[str]:
    return {str(a) for a in pair.topo.addresses("A", ifname)}


def test_a_vmac_follows_its_instance_through_reloads(pair: Pair) -> None:
    """keepalived deletes a VMAC whose instance a reload removed; a renamed one moves."""
    site = a_site()
    site.instances["VI_3"] = (53, 150, ("192.0.2.30/24",), "    use_vmac vrrp.53\n")
    pair.reload(site)
    pair.a.wait_for_state("VI_3", "MASTER", timeout=5)
    assert "vrrp.53" in links(pair)
    site.instances["VI_3"] = (53, 150, ("192.0.2.30/24",), "    use_vmac vrrp.63\n")
    seen = pair.reload(site)
    assert "vrrp.63" in links(pair) and "vrrp.53" not in links(pair)
    assert_undisturbed(seen, 51)
    assert_undisturbed(seen, 52)
    ads = seen.adverts[(A_IP, 53)]
    assert max_gap(ads) <= GAP and {p for _, p, _ in ads} == {150}
    assert "192.0.2.30/24" in addresses(pair, "vrrp.63")
    seen = pair.reload(a_site())
    assert not {"vrrp.53", "vrrp.63"} & links(pair)
    assert (seen.added, seen.deleted) == ([], [])
    assert_undisturbed(seen, 51)
    assert_undisturbed(seen, 52)
