"""Tracking in the running daemon: scripts (weights, FAULT), interfaces, files, sync groups.

Two pykad routers on one bridge (VRRPv3, 50 ms adverts so that each takeover
takes a fraction of a second); a test changes what is tracked (a flag file a
script tests, a link, a track file) and waits for the VIP to move.
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from lab.keepalived import PYKAD, SCRIPT_SECURITY, Keepalived, KeepalivedLab
from lab.netns import Topology, wait_for

pytestmark = pytest.mark.netns

VIP = ipaddress.ip_interface("192.0.2.10/24")
VIP2 = ipaddress.ip_interface("192.0.2.11/24")
TIMEOUT = 5.0


def instance(name: str, vrid: int, priority: int, vip: str, extra: str = "") -> str:
    lines = [
        f"vrrp_instance {name} {{",
        "    interface eth0",
        f"    virtual_router_id {vrid}",
        f"    priority {priority}",
        "    version 3",
        "    advert_int 0.05",
        *(f"    {line}" for line in extra.strip().splitlines()),
        "    virtual_ipaddress {",
        f"        {vip}",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def script(name: str, flag: Path, weight: int | None = None) -> str:
    w = f"\n    weight {weight}" if weight is not None else ""
    return (
        f'vrrp_script {name} {{\n    script "/usr/bin/test -e {flag}"\n    interval 0.1{w}\n'
        "    rise 1\n    fall 1\n}\n"
    )


def start(lab: KeepalivedLab, topo: Topology, node: str, config: str) -> Keepalived:
    return lab.start((topo, node), SCRIPT_SECURITY + config, name=node, program=(PYKAD,))


def holders(topo: Topology, vip: ipaddress.IPv4Interface = VIP) -> set[str]:
    return {n for n in ("A", "B") if vip in topo.addresses(n, "eth0")}


def wait_holder(topo: Topology, node: str, vip: ipaddress.IPv4Interface = VIP) -> None:
    wait_for(
        lambda: holders(topo, vip) == {node},
        timeout=TIMEOUT,
        message=lambda: f"{vip} on {node} only, not {holders(topo, vip)}",
    )


@pytest.fixture
def lan(netns_lab: Topology) -> Topology:
    netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
    return netns_lab


def test_script_weight_moves_the_master(
    lan: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    flag = tmp_path / "healthy"
    a = start(
        keepalived_lab,
        lan,
        "A",
        script("chk", flag, 60) + instance("VI_1", 51, 100, str(VIP), "track_script {\n    chk\n}"),
    )
    start(keepalived_lab, lan, "B", instance("VI_1", 51, 130, str(VIP)))
    wait_holder(lan, "B")  # A: 100 (script failing adds nothing) < 130
    flag.touch()
    a.wait_for_log(r"VRRP_Script\(chk\) succeeded", timeout=TIMEOUT)
    wait_holder(lan, "A")  # A: 160 > 130, preempts
    flag.unlink()
    wait_holder(lan, "B")


def test_script_with_weight_zero_faults_the_instance(
    lan: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    flag = tmp_path / "healthy"
    flag.touch()
    a = start(
        keepalived_lab,
        lan,
        "A",
        script("chk", flag) + instance("VI_1", 51, 200, str(VIP), "track_script {\n    chk\n}"),
    )
    start(keepalived_lab, lan, "B", instance("VI_1", 51, 100, str(VIP)))
    wait_holder(lan, "A")
    mark = a.log_mark()
    flag.unlink()
    a.wait_for_state("VI_1", "FAULT", timeout=TIMEOUT, since=mark)
    wait_holder(lan, "B")
    flag.touch()
    a.wait_for_state("VI_1", "BACKUP", timeout=TIMEOUT, since=mark)
    wait_holder(lan, "A")


def test_tracked_interface_down_is_a_fault(lan: Topology, keepalived_lab: KeepalivedLab) -> None:
    lan.add_veth("A", "up0", "B", "peer0")  # a second link of A's, tracked
    a = start(
        keepalived_lab,
        lan,
        "A",
        instance("VI_1", 51, 200, str(VIP), "track_interface {\n    up0\n}"),
    )
    start(keepalived_lab, lan, "B", instance("VI_1", 51, 100, str(VIP)))
    wait_holder(lan, "A")
    lan.link_set("B", "peer0", up=False)  # A's up0 loses its carrier
    a.wait_for_state("VI_1", "FAULT", timeout=TIMEOUT)
    wait_holder(lan, "B")
    lan.link_set("B", "peer0", up=True)
    wait_holder(lan, "A")


def test_track_file_value_times_weight(
    lan: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    value = tmp_path / "prio"
    value.write_text("0\n")
    tf = f"track_file prio {{\n    file {value}\n    weight 10\n}}\n"
    start(
        keepalived_lab,
        lan,
        "A",
        tf + instance("VI_1", 51, 100, str(VIP), "track_file {\n    prio\n}"),
    )
    start(keepalived_lab, lan, "B", instance("VI_1", 51, 130, str(VIP)))
    wait_holder(lan, "B")
    value.write_text("5\n")  # 100 + 5 * 10 = 150 > 130
    wait_holder(lan, "A")
    value.write_text("-1\n")  # 90
    wait_holder(lan, "B")


def test_sync_group_members_fault_together(
    lan: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    flag = tmp_path / "healthy"
    flag.touch()
    group = "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_2\n    }\n}\n"
    a = start(
        keepalived_lab,
        lan,
        "A",
        script("chk", flag)
        + group
        + instance("VI_1", 51, 200, str(VIP), "track_script {\n    chk\n}")
        + instance("VI_2", 52, 200, str(VIP2)),
    )
    start(
        keepalived_lab,
        lan,
        "B",
        instance("VI_1", 51, 100, str(VIP)) + instance("VI_2", 52, 100, str(VIP2)),
    )
    wait_holder(lan, "A", VIP)
    wait_holder(lan, "A", VIP2)
    mark = a.log_mark()
    flag.unlink()  # only VI_1 tracks the script: the group takes VI_2 down with it
    a.wait_for_state("VI_2", "FAULT", timeout=TIMEOUT, since=mark)
    wait_holder(lan, "B", VIP)
    wait_holder(lan, "B", VIP2)
    flag.touch()
    wait_holder(lan, "A", VIP)
    wait_holder(lan, "A", VIP2)


def test_track_process_follows_process_events(
    lan: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    # A process only this test runs: a copy of sleep with its own name.
    marker = tmp_path / "pykadtrk"
    marker.write_bytes(Path("/usr/bin/sleep").read_bytes())
    marker.chmod(0o755)
    tp = "vrrp_track_process trk {\n    process pykadtrk\n    weight 60\n}\n"
    start(
        keepalived_lab,
        lan,
        "A",
        tp + instance("VI_1", 51, 100, str(VIP), "track_process {\n    trk\n}"),
    )
    start(keepalived_lab, lan, "B", instance("VI_1", 51, 130, str(VIP)))
    wait_holder(lan, "B")  # no pykadtrk running: A stays at 100
    proc = subprocess.Popen([str(marker), "60"])
    try:
        wait_holder(lan, "A")  # exec event: A at 160
    finally:
        proc.kill()
        proc.wait()
    wait_holder(lan, "B")  # exit event: back to 100
