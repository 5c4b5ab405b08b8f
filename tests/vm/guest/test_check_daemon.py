"""pykad's checker daemon end to end inside the VM: real IPVS, real traffic, real servers.

Run by tests/vm/test_ipvs_kernel.py in one boot (the host ignores this folder).
Topology (the guest's root namespace is the director, where pykad runs):

    netns client  c0 198.51.100.2/24 --veth-- d0 198.51.100.1/24 + VIP 198.51.100.100/32
    netns rs1     eth0 203.0.113.2/28  --veth-- d1 203.0.113.1/28    (NAT real servers:
    netns rs2     eth0 203.0.113.18/28 --veth-- d2 203.0.113.17/28    default route via
    netns rs3     eth0 203.0.113.34/28 --veth-- d3 203.0.113.33/28    the director)
    bridge br0 192.0.2.1/24 + DR VIP 192.0.2.100/32:
        netns client2 eth0 192.0.2.2/24;  netns rs4 eth0 192.0.2.4/24, VIP on lo (DR)

Real servers are busybox httpd (each serves its own name) and, for the long
stream, busybox nc on rs1:5000 that writes a line every 50 ms for as long as the
connection lasts.  pykad runs as ``pykad -n -l -C`` (checkers and IPVS only).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

import pytest

from lab.ipvs_topology import nat_topology
from pykad.kernel.ipvs import IpvsSocket
from pykad.lb.table import ServiceKey, Table

BB = "/run/ipvs-vm/busybox"
VIP = "198.51.100.100"
DR_VIP = "192.0.2.100"
RS = {"rs1": "203.0.113.2", "rs2": "203.0.113.18", "rs3": "203.0.113.34"}
DELAY_LOOP, CONNECT_TIMEOUT, RETRY = 1, 1, 0
BOUND = DELAY_LOOP + CONNECT_TIMEOUT * (RETRY + 1)
"""How long a dead real server may stay in the table (keepalived's semantics)."""
SLACK = 4.0
"""Added to BOUND: the guest's CPU is emulated (Python runs 17-25x slower)."""

TOPOLOGY = (
    nat_topology(["rs1", "rs2", "rs3"])
    + r"""
ip link add br0 type bridge; ip link set br0 up
ip addr add 192.0.2.1/24 dev br0; ip addr add 192.0.2.100/32 dev br0
for pair in client2:192.0.2.2 rs4:192.0.2.4; do
    n=${pair%%:*}; a=${pair#*:}
    ip netns add $n
    ip link add eth0 netns $n type veth peer name b$n
    ip link set b$n master br0 up
    ip -n $n addr add $a/24 dev eth0; ip -n $n link set eth0 up; ip -n $n link set lo up
done
ip -n rs4 addr add 192.0.2.100/32 dev lo
ip netns exec rs4 sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
mkdir -p "$WWW/rs4"; echo "hello from rs4" > "$WWW/rs4/index.html"
"""
)

CONFIG = """
global_defs {{
    router_id vm-test
}}
virtual_server {vip} 80 {{
    delay_loop {delay_loop}
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    quorum 2
    sorry_server {rs3} 8080
    real_server {rs1} 8080 {{
        weight {rs1_weight}
        HTTP_GET {{
            url {{
                path /index.html
                status_code 200
            }}
            connect_timeout {connect_timeout}
            retry {retry}
        }}
    }}
    real_server {rs2} 8080 {{
        weight 1
        TCP_CHECK {{
            connect_timeout {connect_timeout}
            retry {retry}
        }}
    }}
}}
virtual_server {vip} 5000 {{
    delay_loop {delay_loop}
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    real_server {rs1} 5000 {{
        weight 1
    }}
}}
virtual_server {dr_vip} 80 {{
    delay_loop {delay_loop}
    lvs_sched wlc
    lvs_method DR
    protocol TCP
    real_server 192.0.2.4 80 {{
        TCP_CHECK {{
            connect_timeout {connect_timeout}
        }}
    }}
}}
"""


def sh(cmd: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=True, **kw)  # type: ignore[call-overload,no-any-return]


def netns(ns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def wait_for(what: str, predicate: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``predicate()``; fails after ``timeout``."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"{what}: not within {timeout:.1f} s")
        time.sleep(0.1)
    return time.monotonic() - t0


@dataclass
class Servers:
    """The real servers' processes, by name, started and stopped by the tests."""

    www: Path
    procs: dict[str, subprocess.Popen[bytes]]

    def start(self, name: str) -> None:
        port = "80" if name == "rs4" else "8080"
        self.procs[name] = subprocess.Popen(
            netns(name, BB, "httpd", "-f", "-p", port, "-h", str(self.www / name))
        )
        addr = RS.get(name, "192.0.2.4")
        probe = f"ip netns exec {name} bash -c 'exec 3<>/dev/tcp/{addr}/{port}' 2>/dev/null"
        sh(f"for i in $({BB} seq 100); do {probe} && exit 0; {BB} sleep 0.1; done; exit 1")

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    www = tmp_path_factory.mktemp("www")
    sh(TOPOLOGY, env={**os.environ, "WWW": str(www)})
    servers = Servers(www, {})
    for name in ("rs1", "rs2", "rs3", "rs4"):
        servers.start(name)
    # the long stream's server: a line every 50 ms for as long as the connection lasts
    stream = subprocess.Popen(
        netns("rs1", BB, "nc", "-ll", "-p", "5000", "-e", BB, "sh", "-c",
              f"while true; do echo tick; {BB} usleep 50000; done")
    )  # fmt: skip
    try:
        yield servers
    finally:
        stream.kill()
        for name in list(servers.procs):
            servers.stop(name)
        for ns in ("client", "client2", "rs1", "rs2", "rs3", "rs4"):
            subprocess.run(["ip", "netns", "del", ns], check=False)
        subprocess.run(["ip", "link", "del", "br0"], check=False)


@dataclass
class Pykad:
    proc: subprocess.Popen[str]
    log: Path
    pid_files: dict[str, Path]

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def checker_pid(self) -> int:
        return int(self.pid_files["c"].read_text())

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def start_pykad(conf: Path, work: Path, only: str = "-C") -> Pykad:
    """``pykad -n -l -D -G`` with ``only`` (-C: checkers, -P: VRRP) and its own pid files."""
    pids = {flag: work / f"{flag}.pid" for flag in "prcb"}
    log = work / "pykad.log"
    pykad = Path(sys.executable).with_name("pykad")
    argv = [str(pykad), "-n", "-l", "-D", "-G", only, "-f", str(conf)]
    for flag, path in pids.items():
        argv += [f"-{flag}", str(path)]
    proc = subprocess.Popen(
        argv, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    return Pykad(proc, log, pids)


def write_config(path: Path, **kw: object) -> None:
    values = dict(
        vip=VIP,
        dr_vip=DR_VIP,
        delay_loop=DELAY_LOOP,
        connect_timeout=CONNECT_TIMEOUT,
        retry=RETRY,
        rs1_weight=1,
        **RS,
    )
    values.update(kw)
    path.write_text(CONFIG.format(**values))


def svc(vip: str, port: int) -> ServiceKey:
    return ServiceKey(socket.AF_INET, 6, ip_address(vip).packed, port)


def dests(table: Table, vip: str, port: int) -> dict[str, int]:
    """``addr:port -> weight`` of one service's real servers in ``table``."""
    return {
        f"{ip_address(d.key.address)}:{d.key.port}": d.weight
        for d in table.dests.get(svc(vip, port), {}).values()
    }


def fetch(ns: str, vip: str, count: int) -> list[str]:
    """``count`` HTTP GETs of / through ``vip`` from ``ns`` (one bash, /dev/tcp)."""
    script = (
        f"for i in $({BB} seq {count}); do exec 3<>/dev/tcp/{vip}/80; "
        "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' >&3; "
        f"{BB} timeout 5 {BB} cat <&3 | {BB} tail -n 1; exec 3<&-; done"
    )
    out = subprocess.run(
        netns(ns, "bash", "-c", script), capture_output=True, text=True, timeout=60
    )
    return out.stdout.split("\n")


def test_the_checker_daemon_keeps_ipvs_right(lab: Servers, tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    write_config(conf)
    rs1, rs2, rs3 = (f"{RS[n]}:8080" for n in ("rs1", "rs2", "rs3"))
    ipvs = IpvsSocket()
    ipvs.flush()
    pykad = start_pykad(conf, tmp_path)
    try:
        wait_for("the table", lambda: dests(ipvs.dump(), VIP, 80) == {rs1: 1, rs2: 1}, 60)
        assert dests(ipvs.dump(), DR_VIP, 80) == {"192.0.2.4:80": 1}
        assert ipvs.dump().services[svc(VIP, 80)].scheduler == "rr"

        # traffic through the VIP reaches both real servers (NAT) and rs4 (DR)
        seen = fetch("client", VIP, 4)
        assert {"hello from rs1", "hello from rs2"} <= set(seen), seen
        assert "hello from rs4" in fetch("client2", DR_VIP, 2)

        # a long TCP stream through VIP:5000 that must survive everything below
        stream_out = tmp_path / "stream"
        stream = subprocess.Popen(
            netns("client", BB, "nc", VIP, "5000"),
            stdout=stream_out.open("wb"),
            stdin=subprocess.PIPE,
        )
        wait_for("the stream", lambda: stream_out.stat().st_size > 50, 20)

        # rs2 stops: gone within delay_loop + connect_timeout x (retry + 1); the
        # quorum (2) is lost, so the sorry server replaces the real servers
        lab.stop("rs2")
        took = wait_for(
            "rs2 out, the sorry server in",
            lambda: dests(ipvs.dump(), VIP, 80) == {rs3: 1},
            BOUND + SLACK,
        )
        print(f"rs2 out after {took:.1f} s (bound {BOUND} s)")
        assert set(fetch("client", VIP, 2)) >= {"hello from rs3"}
        lab.start("rs2")
        wait_for("rs2 back", lambda: dests(ipvs.dump(), VIP, 80) == {rs1: 1, rs2: 1}, BOUND + SLACK)

        # reload with one real server's weight changed: one operation
        size = stream_out.stat().st_size
        write_config(conf, rs1_weight=3)
        pykad.signal(signal.SIGHUP)
        wait_for("the reload", lambda: dests(ipvs.dump(), VIP, 80) == {rs1: 3, rs2: 1}, 30)
        wait_for("the reload's log", lambda: "1 IPVS operations" in pykad.text(), 10)
        # a config that cannot be used is refused; the table stays
        conf.write_text("virtual_server 198.51.100.100 80 {\n  real_server 1.2.3 80 {\n")
        pykad.signal(signal.SIGHUP)
        wait_for("the refusal", lambda: "Reload refused" in pykad.text(), 30)
        write_config(conf, rs1_weight=3)

        # pykad dies without cleaning up, and starts again over the table it left:
        # nothing is written (the kernel already holds the desired table)
        os.killpg(pykad.proc.pid, signal.SIGKILL)  # the parent and every child at once
        pykad.proc.wait()
        kept = ipvs.dump()
        pykad = start_pykad(conf, tmp_path)
        wait_for("the restart", lambda: "IPVS: 0 operations written" in pykad.text(), 60)
        assert ipvs.dump() == kept

        assert stream.poll() is None, "the stream's client ended"
        time.sleep(1)
        assert stream_out.stat().st_size > size + 100, "the stream stopped flowing"
        conns = subprocess.run(["ipvsadm", "-Lnc"], capture_output=True, text=True).stdout
        assert re.search(rf"ESTABLISHED\s+198\.51\.100\.2:\d+\s+{VIP}:5000", conns), conns
        stream.kill()

        # SIGTERM: every service pykad wrote leaves
        assert pykad.stop() == 0
        assert ipvs.dump() == Table()
    finally:
        if pykad.proc.poll() is None:
            os.killpg(pykad.proc.pid, signal.SIGKILL)
        print(pykad.text()[-6000:])
        ipvs.flush()
        ipvs.close()


SAME_TABLE = """
global_defs {
    lvs_timeouts tcp 7200 tcpfin 60 udp 120
}
virtual_server_group WEB {
    192.0.2.50-52 80
    fwmark 9
}
virtual_server 192.0.2.10 80 {
    lvs_sched wrr
    lvs_method NAT
    protocol TCP
    persistence_timeout 300
    persistence_granularity 255.255.255.0
    real_server 203.0.113.5 8080 {
        weight 3
        uthreshold 100
        lthreshold 10
    }
    real_server 203.0.113.6 8080 {
        weight 2
    }
}
virtual_server 192.0.2.11 53 {
    lvs_sched sh
    sh-port
    sh-fallback
    ops
    protocol UDP
    lvs_method DR
    real_server 203.0.113.7 53 {
    }
}
virtual_server fwmark 7 {
    lvs_sched mh
    mh-port
    lvs_method TUN type gue port 6080
    real_server 203.0.113.8 0 {
    }
    real_server 203.0.113.13 0 {
        lvs_method TUN type gre csum
    }
}
virtual_server 2001:db8::1 443 {
    lvs_sched lc
    protocol TCP
    persistence_timeout 60
    real_server 2001:db8:1::1 443 {
        weight 4
    }
}
virtual_server group WEB {
    lvs_sched rr
    protocol TCP
    lvs_method DR
    real_server 203.0.113.9 80 {
    }
}
virtual_server 192.0.2.12 5060 {
    lvs_sched rr
    protocol UDP
    persistence_engine sip
    persistence_timeout 30
    real_server 203.0.113.10 5060 {
    }
}
virtual_server 192.0.2.13 9 {
    lvs_sched nq
    protocol SCTP
    real_server 203.0.113.11 9 {
    }
}
virtual_server 192.0.2.14 80 {
    lvs_sched wlc
    protocol TCP
    quorum 5
    sorry_server 203.0.113.12 80
    real_server 203.0.113.14 80 {
        weight 1
    }
}
"""


def ipvsadm_view() -> dict[str, list[str]]:
    """The table as ipvsadm prints it, each listing's lines sorted (dump order is hash
    order) and trailing spaces dropped."""
    views = {}
    for name, args in {
        "list": ["-Ln"],
        "thresholds": ["-Ln", "--thresholds"],
        "tunnels": ["-Ln", "--tun-info"],
        "save": ["-S", "-n"],
        "timeouts": ["-L", "--timeout"],
    }.items():
        out = subprocess.run(["ipvsadm", *args], capture_output=True, text=True, check=True)
        views[name] = sorted(line.rstrip() for line in out.stdout.splitlines())
    return views


def settled(ipvs: IpvsSocket, services: int) -> Callable[[], bool]:
    """True once the table has ``services`` services and the same content twice."""
    last: list[Table] = []

    def check() -> bool:
        table = ipvs.dump()
        done = len(table) == services and bool(last) and last[-1] == table
        last.append(table)
        return done

    return check


def test_the_same_table_as_keepalived(tmp_path: Path) -> None:
    """For the same config, ``ipvsadm`` lists the same after pykad starts as after
    keepalived 2.2.7 starts (both in this guest, one after the other)."""
    conf = tmp_path / "keepalived.conf"
    conf.write_text(SAME_TABLE)
    services = 11  # 7 virtual servers, and the group's 3 addresses and 1 fwmark
    ipvs = IpvsSocket()
    ipvs.flush()
    original = ipvsadm_view()["timeouts"]
    views = {}
    try:
        for who in ("keepalived", "pykad"):
            work = tmp_path / who
            work.mkdir()
            if who == "keepalived":
                argv = ["keepalived", "-n", "-l", "-D", "--check", "-f", str(conf)]
                argv += ["-p", str(work / "k.pid"), "-c", str(work / "c.pid")]
                daemon = Pykad(
                    subprocess.Popen(
                        argv, stdout=(work / "log").open("w"), stderr=subprocess.STDOUT, text=True
                    ),
                    work / "log",
                    {},
                )
            else:
                daemon = start_pykad(conf, work)
            try:
                try:
                    wait_for(f"{who}'s table", settled(ipvs, services), 90)
                except BaseException:
                    print(subprocess.run(["ipvsadm", "-Ln"], capture_output=True, text=True).stdout)
                    print(daemon.text()[-5000:])
                    raise
                views[who] = ipvsadm_view()
            finally:
                assert daemon.stop() == 0
            assert ipvs.dump() == Table(), f"{who} left services behind"
            assert ipvsadm_view()["timeouts"] == original, f"{who} did not restore timeouts"
    finally:
        ipvs.flush()
        ipvs.close()
    for name in views["keepalived"]:
        assert views["pykad"][name] == views["keepalived"][name], name
    assert any("persistent 300 mask 255.255.255.0" in ln for ln in views["pykad"]["list"])
    # keepalived lowers a quorum above the total weight ("reducing quorum to 1"):
    # no sorry server then
    assert not any("203.0.113.12:80" in ln for ln in views["pykad"]["list"])


BFD_DIRECTOR = """
bfd_instance rs2 {{
    neighbor_ip {rs2}
    source_ip 203.0.113.17
    min_rx 100
    min_tx 100
    multiplier 3
}}
virtual_server {vip} 81 {{
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    real_server {rs2} 8080 {{
        BFD_CHECK {{
            name rs2
            alpha
        }}
    }}
}}
"""

BFD_PEER = """
bfd_instance director {
    neighbor_ip 203.0.113.17
    source_ip 203.0.113.18
    min_rx 100
    min_tx 100
    multiplier 3
}
"""


def test_bfd_check_follows_the_session(lab: Servers, tmp_path: Path) -> None:
    """BFD_CHECK (alpha): rs2 is in the table only while its BFD session is Up; the
    peer is keepalived 2.2.7's BFD in rs2's namespace."""
    conf = tmp_path / "director.conf"
    conf.write_text(BFD_DIRECTOR.format(vip=VIP, rs2=RS["rs2"]))
    peer_conf = tmp_path / "peer.conf"
    peer_conf.write_text(BFD_PEER)
    rs2 = f"{RS['rs2']}:8080"
    ipvs = IpvsSocket()
    ipvs.flush()
    pykad = start_pykad(conf, tmp_path)
    # (keepalived 2.2.7 has no --bfd: getopt would take it for --bfd_pid and eat -f)
    peer_argv = netns("rs2", "keepalived", "-n", "-l", "-D", "-f", str(peer_conf))
    peer_argv += ["-p", str(tmp_path / "peer.pid"), "-b", str(tmp_path / "peer-bfd.pid")]
    peer_log = tmp_path / "peer.log"
    peer: subprocess.Popen[bytes] | None = None
    try:
        wait_for("the service", lambda: svc(VIP, 81) in ipvs.dump().services, 60)
        assert dests(ipvs.dump(), VIP, 81) == {}  # alpha: down until the session is Up
        peer = subprocess.Popen(peer_argv, stdout=peer_log.open("w"), stderr=subprocess.STDOUT)
        wait_for("rs2 in after BFD Up", lambda: dests(ipvs.dump(), VIP, 81) == {rs2: 1}, 60)
        peer.kill()  # no more BFD packets: down after 3 x 100 ms
        peer.wait()
        peer = None
        took = wait_for("rs2 out after BFD Down", lambda: not dests(ipvs.dump(), VIP, 81), 30)
        print(f"rs2 out {took:.2f} s after the peer died")
        assert pykad.stop() == 0
    finally:
        if peer is not None:
            peer.kill()
            peer.wait()
        if pykad.proc.poll() is None:
            os.killpg(pykad.proc.pid, signal.SIGKILL)
        print(pykad.text()[-6000:])
        ipvs.flush()
        ipvs.close()


SYNCD = """
global_defs {
    lvs_sync_daemon d0 VI_1
}
vrrp_instance VI_1 {
    interface d0
    state BACKUP
    virtual_router_id 51
    priority 100
    version 3
    advert_int 0.1
    virtual_ipaddress {
        198.51.100.200/32
    }
}
"""


def test_the_sync_daemon_follows_the_vrrp_instance(lab: Servers, tmp_path: Path) -> None:
    """``lvs_sync_daemon d0 VI_1``: the backup daemon at start, the master one once VI_1
    (alone on its LAN) is MASTER, none after SIGTERM."""
    conf = tmp_path / "syncd.conf"
    conf.write_text(SYNCD)

    def daemons() -> str:
        out = subprocess.run(["ipvsadm", "-L", "--daemon"], capture_output=True, text=True)
        return out.stdout

    pykad = start_pykad(conf, tmp_path, "-P")
    try:
        wait_for("VI_1 master", lambda: "Entering MASTER STATE" in pykad.text(), 60)
        wait_for("the master daemon", lambda: "master sync daemon" in daemons(), 30)
        listed = daemons()
        assert "master sync daemon (mcast=d0, syncid=51" in listed, listed
        assert "backup sync daemon" not in listed, listed
        assert "Starting IPVS connection synchronization thread backup" in pykad.text()
        assert pykad.stop() == 0
        assert daemons().strip() == "", daemons()
    finally:
        if pykad.proc.poll() is None:
            os.killpg(pykad.proc.pid, signal.SIGKILL)
        print(pykad.text()[-4000:])


HA_SUSPEND = """
virtual_server 198.51.100.201 80 {{
    delay_loop 1
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    ha_suspend
    real_server {rs2} 9999 {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
        }}
    }}
}}
"""


def test_ha_suspend_checks_only_while_the_address_is_here(lab: Servers, tmp_path: Path) -> None:
    """``ha_suspend``: while 198.51.100.201 is not on the host the (failing) checker does
    not count, so the real server stays; once the address is added it is checked and
    leaves."""
    conf = tmp_path / "ha.conf"
    conf.write_text(HA_SUSPEND.format(rs2=RS["rs2"]))
    ipvs = IpvsSocket()
    ipvs.flush()
    pykad = start_pykad(conf, tmp_path)
    rs = f"{RS['rs2']}:9999"
    try:
        wait_for("the service", lambda: dests(ipvs.dump(), "198.51.100.201", 80) == {rs: 1}, 60)
        time.sleep(BOUND + 1)  # checks would have failed by now
        assert dests(ipvs.dump(), "198.51.100.201", 80) == {rs: 1}
        assert "Suspending healthchecker for service" in pykad.text()
        subprocess.run(["ip", "addr", "add", "198.51.100.201/32", "dev", "d0"], check=True)
        wait_for(
            "the check after activation",
            lambda: not dests(ipvs.dump(), "198.51.100.201", 80),
            BOUND + SLACK,
        )
        assert "Activating healthchecker for service" in pykad.text()
        assert pykad.stop() == 0
    finally:
        subprocess.run(["ip", "addr", "del", "198.51.100.201/32", "dev", "d0"], check=False)
        if pykad.proc.poll() is None:
            os.killpg(pykad.proc.pid, signal.SIGKILL)
        print(pykad.text()[-4000:])
        ipvs.flush()
        ipvs.close()


MAIL_CONFIG = """
global_defs {{
    router_id vm-test
    notification_email {{
        ops@example.com
    }}
    notification_email_from ka@example.com
    smtp_server 127.0.0.1 {port}
    smtp_connect_timeout 5
}}
virtual_server {vip} 82 {{
    delay_loop 1
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    quorum 2
    smtp_alert
    real_server {rs1} 8080 {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
        }}
        MISC_CHECK {{
            misc_path /bin/true
        }}
    }}
    real_server {rs2} 9999 {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
        }}
    }}
}}
"""


RS1_BLOCK = MAIL_CONFIG[
    MAIL_CONFIG.index("    real_server {rs1}") : MAIL_CONFIG.index("    real_server {rs2}")
]


def test_alert_mails_as_keepalived_sends_them(lab: Servers, tmp_path: Path) -> None:
    """The checkers' ``smtp_alert`` mails (a real server's checker texts, the virtual
    server's quorum, a real server a reload removes) are the ones keepalived 2.2.7 sends
    for the same config, each daemon's to a mail server in this guest
    (``lab.smtp_sink``)."""
    import json

    tests = Path(__file__).resolve().parents[2]
    mails: dict[str, list[tuple[str, str]]] = {}
    for port, who in ((2525, "keepalived"), (2526, "pykad")):
        work = tmp_path / who
        work.mkdir()
        conf = work / "keepalived.conf"
        conf.write_text(MAIL_CONFIG.format(port=port, vip=VIP, **RS))
        out = work / "mails.jsonl"
        sink = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lab.smtp_sink",
                "--listen",
                "127.0.0.1",
                "--port",
                str(port),
                "--out",
                str(out),
            ],
            cwd=tests,
        )
        try:
            wait_for("the mail sink", out.exists, 60)
            if who == "keepalived":
                argv = ["keepalived", "-n", "-l", "-D", "--check", "-f", str(conf)]
                argv += ["-p", str(work / "k.pid"), "-c", str(work / "c.pid")]
                log = work / "log"
                daemon = Pykad(
                    subprocess.Popen(
                        argv, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True
                    ),
                    log,
                    {},
                )
            else:
                daemon = start_pykad(conf, work)

            def sessions(out: Path = out) -> list[str]:
                return [json.loads(line)["sent"] for line in out.read_text().splitlines()]

            try:
                # quorum up at start, MISC's first verdict, rs2 down, quorum lost
                wait_for(f"{who}'s mails", lambda: len(sessions()) >= 4, 90)
                time.sleep(3)  # anything more
                # a reload takes rs1 (alive) away: "=> Removing <="
                first = len(sessions())
                without_rs1 = MAIL_CONFIG.replace(RS1_BLOCK, "")
                conf.write_text(without_rs1.format(port=port, vip=VIP, **RS))
                daemon.signal(signal.SIGHUP)
                wait_for(f"{who}'s reload mail", lambda n=first: len(sessions()) > n, 30)
                time.sleep(3)
            finally:
                print(f"--- {who}'s log", daemon.text()[-3000:], sep="\n")
                assert daemon.stop() == 0
        finally:
            sink.terminate()
            sink.wait()
        found = []
        for sent in sessions():
            subject = re.search(r"Subject: ([^\r]*)\r\n", sent)
            body = sent.split("\r\n\r\n", 1)[1].split("\r\n")[0] if "\r\n\r\n" in sent else ""
            found.append((subject.group(1) if subject else "", body))
        mails[who] = sorted(found)
    rs1 = f"[vm-test] Realserver [{RS['rs1']}]:tcp:8080 of virtual server [{VIP}]:tcp:82"
    rs2 = f"[vm-test] Realserver [{RS['rs2']}]:tcp:9999 of virtual server [{VIP}]:tcp:82"
    assert (f"{rs2} - DOWN", "=> TCP CHECK failed on service <=") in mails["keepalived"]
    assert (f"{rs1} - DOWN", "=> Removing <=") in mails["keepalived"]
    assert mails["pykad"] == mails["keepalived"]
