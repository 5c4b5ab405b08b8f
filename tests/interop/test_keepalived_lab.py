"""The keepalived lab itself: the real keepalived starts, takes its VIP, and stops cleanly.

Owns the guarantees of ``lab.keepalived``: a lone VRRP router in a namespace becomes
MASTER and adds its VIP, adverts reach an observer on the LAN, SIGTERM removes the
VIP (after a priority-0 advert) and leaves no keepalived process behind, a failing
test body still stops the daemon, and ``keepalived -t`` tells good configs from bad.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
from pathlib import Path

import pytest

from lab.keepalived import (
    EXIT_OK,
    Keepalived,
    KeepalivedLab,
    config_test,
    expected_children,
    subsystem_args,
    vrrp_instance_config,
)
from lab.netns import Topology, pid_alive, wait_for
from pykad.tools.pcap import Frame

pytestmark = pytest.mark.interop

VIP = ipaddress.ip_interface("192.0.2.10/24")
VRRP_PROTO = 112
VRRP_GROUP = "224.0.0.18"


def _vrrp_adverts(packets: list[Frame]) -> list[tuple[str, int, int]]:
    """(source, VRID, priority) of each Ethernet/IPv4/VRRP frame."""
    adverts = []
    for p in packets:
        frame = p.data
        if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != VRRP_PROTO:
            continue
        if str(ipaddress.IPv4Address(frame[30:34])) != VRRP_GROUP:
            continue
        vrrp = 14 + (frame[14] & 0x0F) * 4
        src = str(ipaddress.IPv4Address(frame[26:30]))
        adverts.append((src, frame[vrrp + 1], frame[vrrp + 2]))
    return adverts


def _has_vip(topo: Topology, node: str) -> bool:
    return VIP in topo.addresses(node, "eth0")


def test_lone_router_becomes_master_and_stops_cleanly(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    netns_lab.lan({"A": "192.0.2.1/24", "C": "192.0.2.100/24"})
    capture = netns_lab.capture("C", "eth0", f"ip proto {VRRP_PROTO}")
    config = vrrp_instance_config(virtual_router_id=51, priority=100, vips=[str(VIP)])

    k = keepalived_lab.start((netns_lab, "A"), config, name="A", subsystems={"vrrp"})

    assert set(k.child_pids()) == {"vrrp"}
    pids = k.processes()
    assert sorted(pids) == sorted([k.pid, k.child_pids()["vrrp"]])
    assert k.pid in netns_lab.pids("A")
    k.wait_for_state("VI_1", "BACKUP", timeout=5)  # 2.2.7 always starts in BACKUP
    wait_for(lambda: _has_vip(netns_lab, "A"), timeout=10, message="the VIP on A's eth0")
    k.wait_for_state("VI_1", "MASTER", timeout=2)
    assert k.state("VI_1") == "MASTER"
    wait_for(lambda: ("192.0.2.1", 51, 100) in _vrrp_adverts(capture.packets()), timeout=5)

    mark = k.log_mark()
    assert k.stop() == EXIT_OK
    assert re.search(r"\(VI_1\) removing VIPs", k.log_text()[mark:])
    assert not _has_vip(netns_lab, "A")
    assert k.processes() == []
    assert not any(pid_alive(pid) for pid in pids)
    pgrep = subprocess.run(["pgrep", "-f", str(k.config_path)], capture_output=True, check=False)
    assert pgrep.returncode == 1, pgrep.stdout
    # On the way out the master tells the LAN with a priority-0 advert.
    wait_for(lambda: ("192.0.2.1", 51, 0) in _vrrp_adverts(capture.packets()), timeout=5)


def test_daemon_is_stopped_when_the_test_body_raises(netns_lab: Topology, tmp_path: Path) -> None:
    netns_lab.lan({"A": "192.0.2.1/24"})
    config = vrrp_instance_config(vips=[str(VIP)])
    daemons: list[Keepalived] = []
    with pytest.raises(RuntimeError, match="boom"), KeepalivedLab(tmp_path / "k") as lab:
        daemons.append(lab.start(netns_lab.netns("A"), config, name="A"))
        assert daemons[0].processes()
        raise RuntimeError("boom")
    assert daemons[0].processes() == []
    assert daemons[0].returncode == EXIT_OK


def test_config_test_tells_good_from_bad(netns_lab: Topology, tmp_path: Path) -> None:
    netns_lab.lan({"A": "192.0.2.1/24"})
    ns = netns_lab.netns("A")
    good = vrrp_instance_config(vips=[str(VIP)])
    assert config_test(good, ns) == (0, "")

    path = tmp_path / "good.conf"
    path.write_text(good)
    assert config_test(path, ns).returncode == 0

    broken = good.replace("priority 100", "priority 100\n    no_such_keyword 1").rstrip("}\n")
    returncode, output = config_test(broken, ns)
    assert returncode != 0
    assert "no_such_keyword" in output

    other_interface = good.replace("interface eth0", "interface nosuch0")
    assert config_test(other_interface, ns).returncode != 0


def test_subsystem_selection() -> None:
    assert subsystem_args(None) == []
    assert subsystem_args({"vrrp"}) == ["-P", "-B"]
    assert subsystem_args({"vrrp", "bfd"}) == ["-P"]
    assert subsystem_args({"check"}) == ["-C", "-B"]
    assert subsystem_args({"vrrp", "check", "bfd"}) == []
    with pytest.raises(ValueError):
        subsystem_args({"bfd"})
    config = vrrp_instance_config() + "bfd_instance b1 {\n    neighbor_ip 192.0.2.2\n}\n"
    assert expected_children(config) == {"vrrp", "bfd"}
    assert expected_children(config, {"vrrp"}) == {"vrrp"}
    assert expected_children(config, {"vrrp"}, run_all=True) == {"vrrp"}
    assert expected_children(config, run_all=True) == {"vrrp", "check", "bfd"}
