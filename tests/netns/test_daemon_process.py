"""keepalived's process model in pykad: a supervising parent, one child per subsystem.

One pykad router alone on a LAN (it becomes MASTER and holds the VIP), run as
operators run keepalived (``-n -l -D -G`` and its own pid files, through the
interop lab's :class:`~lab.keepalived.Keepalived`).  The tests kill its VRRP
child with SIGKILL (the parent respawns it, with keepalived's log lines, and the
VIP comes back; with ``-R`` the daemon stops instead), stop the parent with
SIGTERM (every child goes, every pid file is removed, the VIP is released), and
ask for keepalived's dumps through the parent (SIGUSR1, SIGUSR2, the JSON and
the stats-clear signals), written into this test's own ``$TMPDIR`` as keepalived
writes them.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from lab.bfd_pair import ADDRESS, DROP_BFD_FROM_B, bfd_to
from lab.keepalived import PYKAD, Keepalived, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, pid_alive, wait_for
from pykad.daemon.sigfunc import SIGFUNCS
from pykad.tools.pcap import network_layer, parse_ip, read_pcap

pytestmark = pytest.mark.netns

VIP = ipaddress.ip_interface("192.0.2.10/24")
INSTANCE = vrrp_instance_config(priority=150, advert_int=0.1, version=3, vips=(str(VIP),))
BFD = (
    "bfd_instance to_b {\n    neighbor_ip 192.0.2.2\n    source_ip 192.0.2.1\n"
    "    min_rx 100\n    min_tx 100\n    multiplier 3\n}\n"
)


@pytest.fixture
def tmpdir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The daemon's ``$TMPDIR`` (its dumps go there, as keepalived's do)."""
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    monkeypatch.setenv("TMPDIR", str(dumps))
    return dumps


def has_vip(lab: Topology) -> bool:
    return VIP in lab.addresses("A", "eth0")


def start_master(
    netns_lab: Topology,
    keepalived_lab: KeepalivedLab,
    config: str = INSTANCE,
    *args: str,
    program: tuple[str, ...] = (PYKAD,),
) -> Keepalived:
    netns_lab.lan({n: f"{a}/24" for n, a in ADDRESS.items()})
    a = keepalived_lab.start((netns_lab, "A"), config, name="A", program=program, extra_args=args)
    a.wait_for_state("VI_1", "MASTER", timeout=10)
    wait_for(lambda: has_vip(netns_lab), timeout=5, message="the VIP on A")
    return a


def group_of(pid: int) -> int:
    return os.getpgid(pid)


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_a_killed_vrrp_child_is_respawned_and_takes_the_vip_back(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    a = start_master(netns_lab, keepalived_lab)
    child = a.child_pids()["vrrp"]
    assert child != a.pid and parent_of(child) == a.pid
    assert group_of(child) == group_of(a.pid)  # killpg of the daemon reaches it
    mark = a.log_mark()
    os.kill(child, signal.SIGKILL)
    a.wait_for_log(rf"VRRP child process\({child}\) died: Respawning", since=mark)
    a.wait_for_log(rf"pid {child} exited due to signal 9 \(Killed\)", since=mark)
    new = a.wait_for_log(r"Starting VRRP child process, pid=(\d+)", since=mark)
    respawned = int(new[1])
    wait_for(lambda: a.child_pids().get("vrrp") == respawned, timeout=5, message="new pid file")
    # keepalived's new child starts over: VIPs removed, BACKUP (init), then MASTER again.
    a.wait_for_state("VI_1", "MASTER", timeout=10, since=mark)
    wait_for(lambda: has_vip(netns_lab), timeout=5, message="the VIP back on A")
    assert a.running and pid_alive(a.pid) and not pid_alive(child)

    # A second death within a minute: keepalived's pace, 1 s this time.
    mark = a.log_mark()
    os.kill(respawned, signal.SIGKILL)
    a.wait_for_log(r"Restart of VRRP process delayed 1 seconds to limit respawn rate", since=mark)
    a.wait_for_state("VI_1", "MASTER", timeout=10, since=mark)
    assert a.stop() == 0


def test_dont_respawn_stops_the_daemon_when_a_child_dies(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    a = start_master(netns_lab, keepalived_lab, INSTANCE, "-R")
    child = a.child_pids()["vrrp"]
    mark = a.log_mark()
    os.kill(child, signal.SIGKILL)
    a.wait_for_log(rf"VRRP child process\({child}\) died: Exiting", since=mark)
    assert a.proc is not None
    assert a.proc.wait(timeout=10) == 0
    assert "Respawning" not in a.log_text()[mark:]
    assert not any(path.exists() for path in a.pid_files.values())


# A second master, unicast to two peers: the priority-0 burst holds several instances.
UNICAST = vrrp_instance_config(
    name="VI_2",
    virtual_router_id=52,
    priority=120,
    advert_int=0.1,
    version=3,
    vips=("192.0.2.20/24",),
    extra="unicast_peer {\n    192.0.2.2\n    192.0.2.3\n}",
)


@pytest.mark.parametrize(
    ("twin", "signum"),
    [("compiled", signal.SIGTERM), ("python", signal.SIGTERM), ("compiled", signal.SIGINT)],
)
def test_sigterm_to_the_parent_stops_every_child_and_removes_the_pid_files(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, twin: str, signum: int
) -> None:
    program = (PYKAD,) if twin == "compiled" else ("env", "PYKAD_NO_EXTENSIONS=1", PYKAD)
    a = start_master(netns_lab, keepalived_lab, BFD + INSTANCE + UNICAST, program=program)
    b_mac = json.loads(netns_lab.ip("B", "-j", "link", "show", "eth0").stdout)[0]["address"]
    # the second peer's adverts go to B's MAC too (B's capture sees them)
    netns_lab.ip("A", "neigh", "replace", "192.0.2.3", "lladdr", b_mac, "dev", "eth0")
    a.wait_for_state("VI_2", "MASTER", timeout=10)
    children = a.child_pids()
    assert set(children) == {"vrrp", "bfd"}
    assert all(parent_of(pid) == a.pid for pid in children.values())
    capture = netns_lab.capture("B", "eth0", "ip proto 112")
    time.sleep(0.5)
    mark = a.log_mark()
    os.kill(a.pid, signum)
    assert a.proc is not None
    assert a.proc.wait(timeout=10) == 0
    time.sleep(0.3)
    sent: dict[tuple[int, bytes], list[int]] = {}  # (VRID, destination) -> priorities
    for ip in (parse_ip(network_layer(f) or b"") for f in read_pcap(capture.stop())):
        if ip is not None and ip.protocol == 112:
            sent.setdefault((ip.payload[1], ip.dst), []).append(ip.payload[2])
    assert set(sent) == {
        (51, bytes((224, 0, 0, 18))),
        (52, bytes((192, 0, 2, 2))),
        (52, bytes((192, 0, 2, 3))),
    }
    # to each destination: adverts at the priority, then one at 0 (from the signal
    # handler or the stopping task, never both), then silence
    for (vrid, _), priorities in sent.items():
        assert priorities[-1] == 0 and priorities.count(0) == 1, priorities
        assert set(priorities[:-1]) == {150 if vrid == 51 else 120} and len(priorities) > 3
    log = a.log_text()[mark:]
    assert "(VI_1) sent 0 priority" in log and "(VI_1) removing VIPs." in log
    assert log.count("(VI_2) sent 0 priority") == 1
    # before Python's handler ran (the compiled twin: before any Python ran at all),
    # the parent having passed the signal on from its own handler
    assert "the stop signal's handler sent 3 priority-0 adverts" in log
    assert f"the stop signal's handler passed SIGTERM on to pid {children['vrrp']}" in log
    assert "Respawning" not in log and "forcing termination" not in log
    assert not any(pid_alive(pid) for pid in children.values())
    assert not a.processes()
    assert not any(path.exists() for path in a.pid_files.values())
    assert not has_vip(netns_lab)


def test_sighup_to_the_parent_reloads_the_vrrp_child(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    a = start_master(netns_lab, keepalived_lab)
    child = a.child_pids()["vrrp"]
    added = ipaddress.ip_interface("192.0.2.11/24")
    mark = a.log_mark()
    a.reload(
        vrrp_instance_config(priority=150, advert_int=0.1, version=3, vips=(str(VIP), str(added)))
    )
    a.wait_for_log(r"Reloading", since=mark)
    wait_for(
        lambda: added in netns_lab.addresses("A", "eth0"),
        timeout=10,
        message=f"{added} on A after the reload\n{a.log_tail()}",
    )
    assert a.child_pids()["vrrp"] == child  # a reload, not a restart
    assert has_vip(netns_lab) and "Respawning" not in a.log_text()[mark:]


def read_when_written(path: Path, mark: float) -> str:
    wait_for(
        lambda: path.exists() and path.stat().st_mtime >= mark and path.stat().st_size > 0,
        timeout=5,
        message=f"{path}",
    )
    return path.read_text()


def test_dump_signals_write_keepalived_s_files(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, tmpdir_env: Path
) -> None:
    a = start_master(netns_lab, keepalived_lab)
    child = a.child_pids()["vrrp"]
    wait_for(lambda: a.state("VI_1") == "MASTER", timeout=5)

    os.kill(a.pid, SIGFUNCS["DATA"])
    data = read_when_written(tmpdir_env / "keepalived.data", 0)
    assert " VRRP Instance = VI_1\n" in data and "   State = MASTER\n" in data
    assert "   Priority = 150\n" in data and "   Virtual Router ID = 51\n" in data
    assert f"     {VIP} dev eth0 scope global set\n" in data
    assert (tmpdir_env / "keepalived.data").stat().st_mode & 0o777 == 0o600
    assert data.startswith("------< Global definitions >------\n Network namespace = ")
    assert " Default interface = " in data  # the VRRP process's global lines
    a.wait_for_log(rf"Printing VRRP data for process\({child}\) on signal")
    parent = read_when_written(tmpdir_env / "keepalived_parent.data", 0)
    assert parent.startswith("------< Global definitions >------\n")
    assert " VRRP strict mode = false\n" in parent and " Default interface" not in parent
    a.wait_for_log(rf"Printing parent data for process\({a.pid}\) on signal")

    os.kill(a.pid, SIGFUNCS["JSON"])
    (entry,) = json.loads(read_when_written(tmpdir_env / "keepalived.json", 0))
    d, stats = entry["data"], entry["stats"]
    assert (d["iname"], d["state"], d["wantstate"], d["vrid"]) == ("VI_1", 2, 2, 51)
    assert (d["base_priority"], d["effective_priority"], d["version"]) == (150, 150, 3)
    assert d["vips"] == [f"{VIP} dev eth0 scope global set"] and d["vipset"] is True
    assert d["adver_int"] == 0.1 and d["ifp_ifname"] == "eth0"
    assert stats["become_master"] == 1 and stats["advert_sent"] > 0
    assert stats["release_master"] == 0 and stats["pri_zero_sent"] == 0

    mark = a.log_mark()
    os.kill(a.pid, SIGFUNCS["STATS"])
    a.wait_for_log(rf"Printing VRRP stats for process\({child}\) on signal", since=mark)
    text = (tmpdir_env / "keepalived.stats").read_text()
    assert text.startswith("VRRP Instance: VI_1\n  Advertisements:\n    Received: ")
    assert "  Became master: 1\n" in text
    sent = int(re.search(r"    Sent: (\d+)\n  Became", text)[1])  # type: ignore[index]
    assert sent > 0

    # STATS_CLEAR: the stats as they are, then counted from zero.
    mark = a.log_mark()
    os.kill(a.pid, SIGFUNCS["STATS_CLEAR"])
    a.wait_for_log(r"Printing and clearing VRRP stats for process\(\d+\) on signal", since=mark)
    mark = a.log_mark()
    os.kill(a.pid, SIGFUNCS["STATS"])
    a.wait_for_log(r"Printing VRRP stats for process\(\d+\) on signal", since=mark)
    stats_file = tmpdir_env / "keepalived.stats"
    wait_for(lambda: "  Became master: 0\n" in stats_file.read_text(), timeout=5)
    # the parent and the child are still there: a dump signal is no stop
    assert a.running and a.child_pids()["vrrp"] == child
    assert a.stop() == 0


def test_a_respawned_bfd_child_still_reaches_vrrp(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    """The parent keeps the BFD event pipes: the new BFD child's events reach the VRRP
    child that was already running (track_bfd: the session down puts it in FAULT)."""
    netns_lab.lan({n: f"{a}/24" for n, a in ADDRESS.items()})
    a_conf = bfd_to("B", "A", 10) + vrrp_instance_config(
        priority=150, advert_int=0.1, version=3, extra="track_bfd {\n    to_b\n}"
    )
    b_conf = bfd_to("A", "B", 10) + vrrp_instance_config(priority=100, advert_int=0.1, version=3)
    a = keepalived_lab.start((netns_lab, "A"), a_conf, name="A", program=(PYKAD,))
    b = keepalived_lab.start((netns_lab, "B"), b_conf, name="B", program=(PYKAD,))
    a.wait_for_log(r"Tracked BFD instance to_b is UP", timeout=10)
    wait_for(lambda: has_vip(netns_lab), timeout=10, message="A master")
    vrrp = a.child_pids()["vrrp"]
    bfd = a.child_pids()["bfd"]

    mark, b_mark = a.log_mark(), b.log_mark()
    os.kill(bfd, signal.SIGKILL)
    a.wait_for_log(rf"BFD child process\({bfd}\) died: Respawning", since=mark)
    new = int(a.wait_for_log(r"Starting BFD child process, pid=(\d+)", since=mark)[1])
    wait_for(lambda: a.child_pids().get("bfd") == new, timeout=5, message="new BFD pid file")
    b.wait_for_log(r"\(to_a\) Entering Down state", timeout=5, since=b_mark)
    b.wait_for_log(r"\(to_a\) Entering Up state", timeout=10, since=b_mark)
    assert a.child_pids()["vrrp"] == vrrp  # VRRP was not restarted

    mark = a.log_mark()
    netns_lab.nft("A", DROP_BFD_FROM_B)
    a.wait_for_log(r"Tracked BFD instance to_b is DOWN", timeout=5, since=mark)
    a.wait_for_state("VI_1", "FAULT", timeout=5, since=mark)
    netns_lab.nft("A", "delete table inet lab")
    a.wait_for_log(r"Tracked BFD instance to_b is UP", timeout=5, since=mark)
    a.wait_for_state("VI_1", "MASTER", timeout=10, since=mark)
