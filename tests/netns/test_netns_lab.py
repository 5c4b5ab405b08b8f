"""The netns lab itself: topologies build, carry traffic, and always disappear.

Owns the guarantees of ``lab.netns``: a bridged LAN of namespaces pings, an observer
on the flooding bridge sees unicast between two others, spawned processes run inside
their namespace, nftables rules apply per namespace, names never collide, and
teardown removes everything after a raising test body, an interrupted pytest
(SIGTERM, SIGINT), a plain interpreter exit, and (through the reaper) a crashed run.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lab.netns import (
    IFNAMSIZ,
    Topology,
    list_namespaces,
    make_netns_name,
    pid_alive,
    reap_stale_namespaces,
    wait_for,
)
from pykad.tools.pcap import read_pcap

pytestmark = pytest.mark.netns

LAN = {"A": "192.0.2.1/24", "B": "192.0.2.2/24", "C": "192.0.2.100/24"}
TESTS_DIR = Path(__file__).resolve().parents[1]
ICMP_ECHO_REQUEST = 8


def _ipv4_icmp(frame: bytes) -> tuple[str, str, int] | None:
    """(source, destination, ICMP type) of an Ethernet/IPv4/ICMP frame, else None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 1:
        return None
    ihl = (frame[14] & 0x0F) * 4
    src = str(ipaddress.IPv4Address(frame[26:30]))
    dst = str(ipaddress.IPv4Address(frame[30:34]))
    return src, dst, frame[14 + ihl]


def _gone(names: list[str]) -> bool:
    return not set(names) & set(list_namespaces())


def test_lan_pings_and_an_observer_sees_unicast(netns_lab: Topology) -> None:
    netns_lab.lan(LAN)
    assert set(netns_lab.nodes) == {"sw", "A", "B", "C"}
    assert all(netns_lab.exists().values())
    assert netns_lab.addresses("A", "eth0") == [ipaddress.ip_interface("192.0.2.1/24")]
    assert netns_lab.addresses("A", "eth0", family=6) == []  # IPv6 is off by default
    assert netns_lab.run("B", "sysctl", "-n", "net.ipv6.conf.eth0.disable_ipv6").stdout == "1\n"

    capture = netns_lab.capture("C", "eth0", "icmp")
    netns_lab.run("A", "ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2")

    def requests_seen() -> list[tuple[str, str, int]]:
        seen = [_ipv4_icmp(p.data) for p in capture.packets()]
        return [s for s in seen if s and s[2] == ICMP_ECHO_REQUEST]

    # ageing_time 0: the bridge floods unicast, so C sees A's echo requests to B.
    wait_for(lambda: len(requests_seen()) >= 3, timeout=5)
    path = capture.stop()
    assert not capture.running
    assert {(src, dst) for src, dst, _ in requests_seen()} == {("192.0.2.1", "192.0.2.2")}
    packets = list(read_pcap(path))
    assert packets == sorted(packets, key=lambda p: p.timestamp)
    assert any("192.0.2.1 > 192.0.2.2: ICMP echo request" in line for line in capture.text())


def test_spawned_process_runs_inside_its_namespace(netns_lab: Topology) -> None:
    netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
    server = textwrap.dedent(
        """
        import socket, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("192.0.2.2", 9999))
        print("ready", flush=True)
        data, peer = s.recvfrom(100)
        print(data.decode(), peer[0], flush=True)
        time.sleep(600)
        """
    )
    proc = netns_lab.spawn("B", sys.executable, "-c", server)
    wait_for(lambda: "ready" in proc.log_text(), timeout=10)
    assert proc.pid in netns_lab.pids("B")
    assert proc.pid not in netns_lab.pids("A")

    client = "import socket; socket.socket(2, 2).sendto(b'hello', ('192.0.2.2', 9999))"
    netns_lab.run("A", sys.executable, "-c", client)
    wait_for(lambda: "hello 192.0.2.1" in proc.log_text(), timeout=10)

    assert netns_lab.stop(proc) == -signal.SIGTERM
    assert not pid_alive(proc.pid)


def test_nft_drops_traffic_in_one_namespace(netns_lab: Topology) -> None:
    netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
    netns_lab.run("A", "ping", "-c", "1", "-W", "2", "192.0.2.2")
    netns_lab.nft(
        "B",
        """
        table inet lab {
            chain in { type filter hook input priority -300; ip protocol icmp drop; }
        }
        """,
    )
    lost = netns_lab.run("A", "ping", "-c", "1", "-W", "0.3", "192.0.2.2", check=False)
    assert lost.returncode != 0
    netns_lab.run("B", "nft", "flush", "ruleset")
    netns_lab.run("A", "ping", "-c", "1", "-W", "2", "192.0.2.2")


def test_teardown_when_the_body_raises(tmp_path: Path) -> None:
    names: list[str] = []
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="boom"), Topology(tmp_path) as topo:
        topo.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
        names = list(topo.nodes.values())
        sleeper = topo.spawn("A", "sleep", "600")
        capture = topo.capture("B", "eth0")
        pids = [sleeper.pid, capture.proc.pid]
        assert not _gone(names)
        raise RuntimeError("boom")
    assert names
    assert _gone(names)
    assert not any(pid_alive(pid) for pid in pids)


def test_two_topologies_at_once_do_not_collide(tmp_path: Path) -> None:
    with Topology(tmp_path / "one") as one, Topology(tmp_path / "two") as two:
        one.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
        two.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
        assert one.prefix != two.prefix
        assert not set(one.nodes.values()) & set(two.nodes.values())
        one.run("A", "ping", "-c", "1", "-W", "2", "192.0.2.2")
        two.run("A", "ping", "-c", "1", "-W", "2", "192.0.2.2")
        ifnames = [one.ifname("x"), one.ifname("x"), two.ifname("x")]
        assert len(set(ifnames)) == 3
        assert all(len(name) <= IFNAMSIZ for name in ifnames)
        names = [*one.nodes.values(), *two.nodes.values()]
    assert _gone(names)


def _start_in_netns(netns: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["ip", "netns", "exec", netns, "sleep", "600"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_reaper_removes_stale_namespaces_only(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    own_start = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    stale_dead = make_netns_name(dead.pid, 1, "dead0", "X")
    stale_reused = make_netns_name(os.getpid(), own_start + 1, "reus0", "X")
    live = make_netns_name(os.getpid(), own_start, "live0", "X")
    created = [stale_dead, stale_reused, live]
    sleeper = None
    try:
        for name in created:
            subprocess.run(["ip", "netns", "add", name], check=True)
        sleeper = _start_in_netns(stale_dead)
        wait_for(lambda: sleeper.pid in _pids_in(stale_dead), timeout=5)

        reaped = reap_stale_namespaces()

        assert stale_dead in reaped
        assert stale_reused in reaped
        assert live not in reaped
        present = set(list_namespaces())
        assert stale_dead not in present
        assert stale_reused not in present
        assert live in present
        assert sleeper.wait(timeout=5) == -signal.SIGKILL
    finally:
        if sleeper is not None and sleeper.poll() is None:
            os.killpg(sleeper.pid, signal.SIGKILL)
            sleeper.wait()
        for name in created:
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)


def _pids_in(netns: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _lab_env(out: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")]))
    env["LAB_OUT"] = str(out)
    return env


def _wait_for_report(out: Path, proc: subprocess.Popen[bytes], log: Path) -> list[str]:
    def report() -> list[str] | None:
        if proc.poll() is not None:
            raise AssertionError(f"child exited early ({proc.returncode}): {log.read_text()}")
        text = out.read_text() if out.exists() else ""
        return text.split() if text.endswith("\n") else None

    return wait_for(report, timeout=30)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_interrupted_pytest_tears_down(tmp_path: Path, sig: signal.Signals) -> None:
    """A pytest run killed by SIGTERM (or ^C) in the middle of a test leaves nothing."""
    test_file = tmp_path / "test_interrupted.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import os, signal
            from pathlib import Path

            def test_waits_to_be_interrupted(netns_lab):
                netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
                proc = netns_lab.spawn("A", "sleep", "600")
                names = [*netns_lab.nodes.values(), str(proc.pid)]
                Path(os.environ["LAB_OUT"]).write_text(" ".join(names) + "\\n")
                signal.pause()
            """
        )
    )
    out, log = tmp_path / "report.txt", tmp_path / "pytest.log"
    pytest_bin = Path(sys.executable).with_name("pytest")
    argv = [str(pytest_bin), "-p", "lab.netns", "-p", "no:cacheprovider", "-q", str(test_file)]
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            argv,
            cwd=tmp_path,
            env=_lab_env(out),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        *names, sleeper = _wait_for_report(out, proc, log)
        assert not _gone(names)
        proc.send_signal(sig)
        returncode = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert returncode == pytest.ExitCode.INTERRUPTED, log.read_text()
    assert _gone(names), log.read_text()
    assert not pid_alive(int(sleeper))


def test_interpreter_exit_tears_down(tmp_path: Path) -> None:
    """Outside pytest, a topology nobody closed is removed at exit (atexit)."""
    script = textwrap.dedent(
        """
        import os
        from pathlib import Path
        from lab.netns import Topology

        topo = Topology()
        topo.lan({"A": "192.0.2.1/24"})
        proc = topo.spawn("A", "sleep", "600")
        Path(os.environ["LAB_OUT"]).write_text(" ".join([*topo.nodes.values(), str(proc.pid)]))
        """
    )
    out = tmp_path / "report.txt"
    subprocess.run([sys.executable, "-c", script], env=_lab_env(out), check=True, timeout=60)
    *names, sleeper = out.read_text().split()
    assert names
    assert _gone(names)
    assert not pid_alive(int(sleeper))
