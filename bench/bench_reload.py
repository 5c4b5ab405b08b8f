"""Side-by-side entry ``reload``: the cost of a SIGHUP reload, pykad vs keepalived 2.2.7.

    sudo .venv/bin/python bench/sidebyside.py reload [--quick]
    sudo .venv/bin/python bench/bench_reload.py [--quick] [--keep DIR]   (prints the rows)

Issue 7 point 8: a reload of a 1,000-instance / 10,000-real-server config
(``--quick``: 100 / 1,000), side by side with keepalived's reload of the same
change; the time to apply it and what was disturbed meanwhile.

The lab (network namespaces on this host, made for the run and removed after):

- ``R`` runs the daemon (whole: parent, VRRP child, checker child) and the real
  servers; ``O`` only observes. They are joined by one veth link per 250 instances
  (``eth0``..``eth3``; VRIDs are per interface). Instance i is VRRPv3, advert_int
  1 s, priority 200, on ``eth{i // 250}`` with VRID ``i % 250 + 1`` and one VIP
  ``198.19.{link}.{vrid}/32``; no peer, so every instance is MASTER.
- 1,000 virtual servers ``198.18.{128 + i // 250}.{i % 250 + 1}:80`` with 10 real
  servers each in 198.19.128.0/17 (port 80, ``TCP_CHECK``, ``delay_loop 20``):
  both /17s are routed ``local`` on R's ``lo``, and one listener (bench_checkers'
  server process) accepts and counts every check.
- The host has no IPVS. keepalived runs with ``bench/fakeipvs_log.c`` preloaded
  (bench/fakeipvs.c's stand-in: libnl's IPVS requests acknowledged without a kernel)
  which also logs every IPVS request with its time; pykad runs as ``pykad`` itself
  (``pykad.cli.main`` in a process of this module, ``--pykad-daemon``) with one
  change: the checker child's ``IpvsSocket`` is :class:`RecordingIpvs`, which keeps
  the table in memory (so a reload's reconcile sees what was written) and logs every
  operation with its time. Everything else is the real daemon.
- Observers: an AF_PACKET socket in ``O`` records every VRRP advert and ARP with the
  kernel's receive time (SO_TIMESTAMP); an rtnetlink socket in ``R`` records every
  address added and deleted; the daemon's log gives the state lines; the real
  servers' counts give the checks.

Each change rewrites the config and sends SIGHUP to the daemon's main process;
per repeat: (a) one instance's priority 200 -> 150, (b) one VIP added to one
instance, (c) one instance added (a new VRID, one VIP), (d) one real server's
weight 1 -> 2 (changes accumulate over the repeats). For each: the time from
SIGHUP to the change being visible (the advert with the new priority, the new VIP
on the interface, the new instance's first advert, the new weight written to IPVS)
and, over the ``WINDOW`` seconds after SIGHUP: addresses deleted, addresses added
other than the change's, gratuitous ARPs for VIPs the change did not add, state
lines of instances the change did not add, instances with an advert gap over 1.5 x
advert_int, IPVS operations beyond the one needed, checks at the real servers
against the window before (a checker reset shows as a burst), and the daemon's CPU
above its idle rate.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import itertools
import json
import os
import re
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
PYTHON = sys.executable

if __name__ == "__main__":  # run alone: find sidebyside and the labs as sidebyside.py does
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(HERE))

from sidebyside import Row, Sample  # noqa: E402

if TYPE_CHECKING:
    from lab.keepalived import Keepalived  # type: ignore[import-not-found, unused-ignore]
    from lab.netns import Topology  # type: ignore[import-not-found, unused-ignore]

KEEPALIVED_VERSION = "2.2.7"
PER_LINK = 250
PRIORITY, NEW_PRIORITY = 200, 150
ADVERT_INT = 1.0
DELAY_LOOP = 20
CONNECT_TIMEOUT = 5
RS_PER_VS = 10
SO_TIMESTAMP = 29  # Linux; the socket module does not name it
GAP_LIMIT = 1.5 * ADVERT_INT
SETTLE_S = 7.0  # past the start-up's second GARP round (garp_master_delay 5 s)
CHANGES = ("a", "b", "c", "d")
CHANGE_TEXT = {
    "a": "(a) one instance's priority",
    "b": "(b) one VIP added to one instance",
    "c": "(c) one instance added",
    "d": "(d) one real server's weight",
}
VISIBLE_TEXT = {
    "a": "the first advert with the new priority",
    "b": "the new VIP on the interface (rtnetlink)",
    "c": "the new instance's first advert (after its Master_Down_Timer, ~3.2 s)",
    "d": "the new weight written to IPVS",
}
STATE_RE = re.compile(
    r"\((?P<instance>[^()\s]+)\):? (?:Entering (?P<state>MASTER|BACKUP) STATE"
    r"|[Ee]ntering (?P<fault>FAULT) (?:state|STATE))"
)
IPVS_CMDS = {
    1: "NEW_SERVICE", 2: "SET_SERVICE", 3: "DEL_SERVICE", 4: "GET_SERVICE", 5: "NEW_DEST",
    6: "SET_DEST", 7: "DEL_DEST", 8: "GET_DEST", 9: "NEW_DAEMON", 10: "DEL_DAEMON",
    11: "GET_DAEMON", 12: "SET_CONFIG", 13: "GET_CONFIG", 14: "SET_INFO", 15: "GET_INFO",
    16: "ZERO", 17: "FLUSH",
}  # fmt: skip
WRITES = {"NEW_SERVICE", "SET_SERVICE", "DEL_SERVICE", "NEW_DEST", "SET_DEST", "DEL_DEST",
          "FLUSH", "ZERO", "SET_CONFIG", "NEW_DAEMON", "DEL_DAEMON"}  # fmt: skip


@dataclass(frozen=True)
class Size:
    instances: int
    virtual_servers: int
    repeats: int
    window: float

    @property
    def links(self) -> int:
        return -(-self.instances // PER_LINK)

    @property
    def real_servers(self) -> int:
        return self.virtual_servers * RS_PER_VS

    @property
    def label(self) -> str:
        return f"{self.instances:,} instances / {self.real_servers:,} real servers"


FULL = Size(1_000, 1_000, 3, 12.0)
QUICK = Size(100, 100, 1, 10.0)


# ---------------------------------------------------------------- the configuration


@dataclass
class Changes:
    """What the config says beyond the base (accumulated over the changes)."""

    priority: dict[int, int] = field(default_factory=dict)
    extra_vips: dict[int, list[str]] = field(default_factory=dict)
    extra: list[tuple[int, int]] = field(default_factory=list)
    """Added instances: (link, vrid)."""
    weights: dict[int, int] = field(default_factory=dict)


def _place(i: int) -> tuple[int, int]:
    link, vrid = divmod(i, PER_LINK)
    return link, vrid + 1


def vip(i: int) -> str:
    link, vrid = _place(i)
    return f"198.19.{link}.{vrid}"


def added_vip(i: int) -> str:
    link, vrid = _place(i)
    return f"198.19.{64 + link}.{vrid}"


def extra_vip(link: int, vrid: int) -> str:
    return f"198.19.{32 + link}.{vrid}"


def vs_addr(i: int) -> str:
    return f"198.18.{128 + i // 250}.{i % 250 + 1}"


def rs_addr(n: int) -> str:
    return f"198.19.{128 + n // 250}.{n % 250 + 1}"


def _instance(name: str, link: int, vrid: int, priority: int, vips: Sequence[str]) -> str:
    addrs = "".join(f"  {a}/32\n" for a in vips)
    return (
        f"vrrp_instance {name} {{\n interface eth{link}\n virtual_router_id {vrid}\n"
        f" priority {priority}\n version 3\n advert_int {ADVERT_INT:g}\n"
        f" virtual_ipaddress {{\n{addrs} }}\n}}\n"
    )


def config(size: Size, ch: Changes) -> str:
    """The keepalived.conf both daemons read."""
    out = ["global_defs {\n router_id reloadbench\n}\n"]
    for i in range(size.instances):
        link, vrid = _place(i)
        vips = [vip(i), *ch.extra_vips.get(i, ())]
        out.append(_instance(f"VI_{i}", link, vrid, ch.priority.get(i, PRIORITY), vips))
    for j, (link, vrid) in enumerate(ch.extra):
        out.append(_instance(f"VX_{j}", link, vrid, PRIORITY, [extra_vip(link, vrid)]))
    n = 0
    for i in range(size.virtual_servers):
        out.append(
            f"virtual_server {vs_addr(i)} 80 {{\n delay_loop {DELAY_LOOP}\n lvs_sched rr\n"
            " lvs_method NAT\n protocol TCP\n"
        )
        for _ in range(RS_PER_VS):
            out.append(
                f" real_server {rs_addr(n)} 80 {{\n  weight {ch.weights.get(n, 1)}\n"
                f"  TCP_CHECK {{\n   connect_timeout {CONNECT_TIMEOUT}\n  }}\n }}\n"
            )
            n += 1
        out.append("}\n")
    return "".join(out)


@dataclass(frozen=True)
class Step:
    """One change: what it is, how to see it, what it may touch."""

    kind: str
    ch: Changes
    vrrp_key: tuple[str, int] | None = None
    """(ifname, vrid) whose advert shows it (a, c)."""
    address: str = ""
    """The address it adds (b, c)."""
    new_instance: str = ""
    rs: str = ""
    """The real server whose weight changes (d): ``addr:port``."""


def steps(size: Size) -> Iterator[Step]:
    """The changes, in order, each with the whole config it leads to."""
    ch = Changes()
    for r in range(size.repeats):
        i = (3 + 7 * r) % size.instances
        ch.priority[i] = NEW_PRIORITY
        link, vrid = _place(i)
        yield Step("a", _copy(ch), vrrp_key=(f"eth{link}", vrid))
        i = (5 + 7 * r) % size.instances
        ch.extra_vips[i] = [added_vip(i)]
        yield Step("b", _copy(ch), address=added_vip(i))
        link, vrid = r % size.links, PER_LINK + 1 + r // size.links
        ch.extra.append((link, vrid))
        yield Step(
            "c",
            _copy(ch),
            vrrp_key=(f"eth{link}", vrid),
            address=extra_vip(link, vrid),
            new_instance=f"VX_{len(ch.extra) - 1}",
        )
        n = (17 + 101 * r) % size.real_servers
        ch.weights[n] = 2
        yield Step("d", _copy(ch), rs=f"{rs_addr(n)}:80")


def _copy(ch: Changes) -> Changes:
    return Changes(
        dict(ch.priority),
        {k: list(v) for k, v in ch.extra_vips.items()},
        list(ch.extra),
        dict(ch.weights),
    )


# ---------------------------------------------------------------- processes of this module


def capture(out: Path) -> None:
    """In O: every VRRP advert and ARP on any interface, one line each with the kernel's
    receive time: ``ts V ifname vrid priority`` / ``ts A ifname sender_ip``."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    tv = struct.Struct("qq")
    with out.open("w") as f:
        f.write("ready\n")
        f.flush()
        last_flush = time.monotonic()
        while not stop:
            ready, _, _ = select.select([sock], [], [], 0.2)
            for _ in range(1000 if ready else 0):
                try:
                    data, anc, _, addr = sock.recvmsg(128, 64, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                ts = time.time()
                for level, kind, raw in anc:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP:
                        sec, usec = tv.unpack(raw[:16])
                        ts = sec + usec / 1e6
                ethertype = data[12:14]
                if ethertype == b"\x08\x00" and len(data) > 40 and data[23] == 112:
                    ihl = (data[14] & 0xF) * 4
                    v = data[14 + ihl : 14 + ihl + 3]
                    f.write(f"{ts:.6f} V {addr[0]} {v[1]} {v[2]}\n")
                elif ethertype == b"\x08\x06" and len(data) >= 42:
                    f.write(f"{ts:.6f} A {addr[0]} {socket.inet_ntoa(data[28:32])}\n")
            now = time.monotonic()
            if now - last_flush > 0.05:
                f.flush()
                last_flush = now
        stats = sock.getsockopt(263, 6, 8)  # SOL_PACKET, PACKET_STATISTICS
        packets, drops = struct.unpack("II", stats)
        f.write(f"stats {packets} {drops}\n")


def monitor(out: Path) -> None:
    """In R: every IPv4 address added (+) or deleted (-): ``ts +|- ifindex address``."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)
    sock.bind((0, 0x10))  # RTMGRP_IPV4_IFADDR
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    with out.open("w") as f:
        f.write("ready\n")
        f.flush()
        while not stop:
            ready, _, _ = select.select([sock], [], [], 0.2)
            if not ready:
                continue
            buf = sock.recv(1 << 20)
            ts = time.time()
            off = 0
            while off + 16 <= len(buf):
                length, kind = struct.unpack_from("=IH", buf, off)
                if length < 16:
                    break
                if kind in (20, 21):  # RTM_NEWADDR, RTM_DELADDR
                    index = struct.unpack_from("=I", buf, off + 20)[0]
                    a, end, addr = off + 24, off + length, ""
                    while a + 4 <= end:
                        alen, atype = struct.unpack_from("=HH", buf, a)
                        if alen < 4:
                            break
                        if atype in (1, 2) and alen == 8:  # IFA_ADDRESS, IFA_LOCAL
                            addr = socket.inet_ntoa(buf[a + 4 : a + 8])
                            if atype == 2:
                                break
                        a += (alen + 3) & ~3
                    f.write(f"{ts:.6f} {'+' if kind == 20 else '-'} {index} {addr}\n")
                off += (length + 3) & ~3
            f.flush()


class RecordingIpvs:
    """pykad's ``IpvsSocket`` for the benchmark's daemon: the table in memory, every
    operation acknowledged and logged (``ts NAME dest weight``) to $PYKAD_BENCH_IPVS_LOG."""

    def __init__(self, *_: object, **__: object) -> None:
        from pykad.lb.table import Table

        self.table = Table()
        self._out = open(os.environ["PYKAD_BENCH_IPVS_LOG"], "a", buffering=1)  # noqa: SIM115

    def __enter__(self) -> RecordingIpvs:
        return self

    def __exit__(self, *exc: object) -> None:
        self._out.close()

    def close(self) -> None:
        self._out.close()

    def _log(self, name: str, dest: str = "-", weight: int = -1) -> None:
        self._out.write(f"{time.time():.6f} {name} {dest} {weight}\n")

    def apply(self, ops: Sequence[Any]) -> list[Any]:
        from pykad.kernel.ipvs import IpvsResult
        from pykad.lb import plan

        names = {
            "AddService": "NEW_SERVICE", "EditService": "SET_SERVICE",
            "DelService": "DEL_SERVICE", "AddDest": "NEW_DEST", "EditDest": "SET_DEST",
            "DelDest": "DEL_DEST",
        }  # fmt: skip
        lines = []
        t = time.time()
        for op in ops:
            name = names[type(op).__name__]
            dest, weight = "-", -1
            d = getattr(op, "dest", None)
            key = d.key if d is not None else getattr(op, "key", None)
            if name.endswith("_DEST") and key is not None:
                dest = f"{ipaddress.ip_address(key.address[:4])}:{key.port}"
                weight = d.weight if d is not None else -1
            lines.append(f"{t:.6f} {name} {dest} {weight}\n")
        self._out.write("".join(lines))
        self.table = plan.apply(self.table, list(ops))
        return [IpvsResult(op, 0) for op in ops]

    def dump(self) -> Any:
        return self.table

    def flush(self) -> None:
        from pykad.lb.table import Table

        self._log("FLUSH")
        self.table = Table()

    def timeouts(self) -> Any:
        from pykad.kernel import ipvs_wire_py as w

        return w.Timeouts(900, 120, 300)

    def set_timeouts(self, timeouts: Any) -> None:
        self._log("SET_CONFIG")

    def start_daemon(self, daemon: Any) -> None:
        self._log("NEW_DAEMON")

    def stop_daemon(self, state: int) -> None:
        self._log("DEL_DAEMON")


def pykad_daemon(argv: list[str]) -> int:
    """pykad's whole daemon (``pykad.cli.main``) with :class:`RecordingIpvs` for IPVS."""
    os.environ["PYKAD_BENCH_IPVS_LOG"] = argv[0]
    import pykad.kernel.ipvs

    pykad.kernel.ipvs.IpvsSocket = RecordingIpvs  # type: ignore[misc, assignment]
    from pykad.cli import main as pykad_main

    return pykad_main(argv[1:])


# ---------------------------------------------------------------- reading the records


def ipvs_line(line: str) -> tuple[float, str, str, int] | None:
    """(ts, command, ``addr:port`` or -, weight or -1) of one IPVS log line, pykad's
    form or keepalived's (``ts HEX``: a generic netlink IPVS request)."""
    parts = line.split()
    if len(parts) == 4:
        return float(parts[0]), parts[1], parts[2], int(parts[3])
    if len(parts) != 2:
        return None
    raw = bytes.fromhex(parts[1])
    if len(raw) < 20:
        return None
    cmd = IPVS_CMDS.get(raw[16], f"CMD_{raw[16]}")
    dest, weight = "-", -1
    for atype, payload in _attrs(raw[20:]):
        if atype == 2:  # IPVS_CMD_ATTR_DEST
            addr, port = b"", 0
            for dtype, value in _attrs(payload):
                if dtype == 1:
                    addr = value[:4]
                elif dtype == 2:
                    port = struct.unpack("!H", value[:2])[0]
                elif dtype == 4:
                    weight = struct.unpack("=I", value[:4])[0]
            if addr:
                dest = f"{socket.inet_ntoa(addr)}:{port}"
    return float(parts[0]), cmd, dest, weight


def _attrs(buf: bytes) -> Iterator[tuple[int, bytes]]:
    off = 0
    while off + 4 <= len(buf):
        alen, atype = struct.unpack_from("=HH", buf, off)
        if alen < 4:
            return
        yield atype & 0x3FFF, buf[off + 4 : off + alen]
        off += (alen + 3) & ~3


class Tail:
    """A growing text file read line by line as it grows (complete lines only)."""

    def __init__(self, path: Path, parse: Callable[[str], Any]) -> None:
        self.path, self.parse = path, parse
        self.offset = 0
        self.items: list[Any] = []

    def poll(self) -> list[Any]:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        new = [
            p
            for line in data[:end].decode(errors="replace").splitlines()
            if (p := self.parse(line)) is not None
        ]
        self.items += new
        return new


def _capture_line(line: str) -> tuple[float, str, str, str, int] | None:
    parts = line.split()
    if len(parts) == 5 and parts[1] == "V":
        return float(parts[0]), "V", parts[2], parts[3], int(parts[4])
    if len(parts) == 4 and parts[1] == "A":
        return float(parts[0]), "A", parts[2], parts[3], 0
    return None


def _monitor_line(line: str) -> tuple[float, str, str] | None:
    parts = line.split()
    if len(parts) == 4 and parts[1] in "+-":
        return float(parts[0]), parts[1], parts[3]
    return None


# ---------------------------------------------------------------- the host side


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    """One change as one daemon took it."""

    kind: str
    visible_s: float | None
    deleted: int
    other_added: int
    garps_other: int
    garp_addresses_other: int
    transitions: int
    gap_instances: int
    max_gap: float
    ipvs_other: int
    ipvs_ops: str
    extra_checks: int
    cpu_s: float
    cpu_elapsed: float = 0.0
    """The seconds over which ``cpu_s`` was taken."""
    cpu_above_idle: float = 0.0
    """``cpu_s`` less the idle rate over the same time."""
    t_hup: float = 0.0
    cpu_by_role: dict[str, float] = field(default_factory=dict)
    """CPU seconds over the window by process: parent, vrrp, check."""
    old_to_new_s: float | None = None
    """(a): from the instance's last advert with the old priority to its first with
    the new one (an advert interval: sent when due; much less: sent at once)."""


@dataclass
class DaemonRun:
    results: list[Result] = field(default_factory=list)
    config_test_s: float = 0.0
    """Wall seconds of ``-t -f`` on the base config in R (reading and checking it)."""
    start_s: float = 0.0
    idle_cpu: float = 0.0
    idle_by_role: dict[str, float] = field(default_factory=dict)
    """CPU % of one core of all the daemon's processes, idle window."""
    capture_drops: str = ""
    error: str = ""
    log_notes: list[str] = field(default_factory=list)


class Lab:
    """R and O, the links, the real servers, the observers; everything removed at exit."""

    def __init__(self, work: Path, size: Size) -> None:
        from lab.netns import Topology

        self.work, self.size = work, size
        self.topo: Topology = Topology(work / "netns")
        self.procs: list[Any] = []
        self.status = work / "servers.status"
        self.counts: list[tuple[float, int]] = []
        self._sampling = True
        self._sampler: threading.Thread | None = None

    def __enter__(self) -> Lab:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sampling = False
        if self._sampler is not None:
            self._sampler.join(2)
        self.topo.close()

    def _build(self) -> None:
        topo = self.topo
        topo.add_node("R")
        topo.add_node("O")
        for link in range(self.size.links):
            topo.add_veth("R", f"eth{link}", "O", f"eth{link}")
            topo.add_address("R", f"eth{link}", f"198.18.{link}.1/24")
            topo.add_address("O", f"eth{link}", f"198.18.{link}.2/24")
        for net in ("198.18.128.0/17", "198.19.128.0/17"):
            topo.ip("R", "route", "add", "local", net, "dev", "lo")
        topo.sysctl(
            "R",
            {
                "net.core.somaxconn": "65535",
                "net.ipv4.tcp_max_syn_backlog": "65535",
                "net.ipv4.ip_local_port_range": "1024 65535",
            },
        )
        server = topo.spawn(
            "R", PYTHON, str(HERE / "bench_checkers.py"), "--serve", str(self.status)
        )
        self._wait_file(self.status, server, "the real servers")
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _wait_file(self, path: Path, proc: Any, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not (path.exists() and path.stat().st_size):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start: {proc.log_text()[-500:]}")
            time.sleep(0.05)

    def _sample(self) -> None:
        while self._sampling:
            with contextlib.suppress(OSError, ValueError):
                self.counts.append((time.time(), int(self.status.read_text().split()[0])))
            time.sleep(0.2)

    def checks_between(self, t0: float, t1: float) -> int:
        def at(t: float) -> int:
            before = [c for ts, c in self.counts if ts <= t]
            return before[-1] if before else 0

        return at(t1) - at(t0)

    def observers(self, tag: str) -> tuple[Any, Any, Path, Path]:
        cap, mon = self.work / f"{tag}.capture", self.work / f"{tag}.addr"
        pc = self.topo.spawn("O", PYTHON, str(Path(__file__).resolve()), "--capture", str(cap))
        pm = self.topo.spawn("R", PYTHON, str(Path(__file__).resolve()), "--monitor", str(mon))
        self._wait_file(cap, pc, "the capture")
        self._wait_file(mon, pm, "the address monitor")
        return pc, pm, cap, mon

    def run(self, kind: str) -> DaemonRun:
        from lab.keepalived import KeepalivedLab

        size, work = self.size, self.work
        run = DaemonRun()
        ipvs_log = work / f"{kind}.ipvs"
        ipvs_log.write_text("")
        if kind == "keepalived":
            shim = work / "fakeipvs_log.so"
            if not shim.exists():
                subprocess.run(
                    ["gcc", "-shared", "-fPIC", "-O2", "-o", str(shim),
                     str(HERE / "fakeipvs_log.c")],
                    check=True,
                )  # fmt: skip
            program: tuple[str, ...] = (
                "env", f"LD_PRELOAD={shim}", f"FAKEIPVS_LOG={ipvs_log}", "keepalived",
            )  # fmt: skip
        else:
            program = (PYTHON, str(Path(__file__).resolve()), "--pykad-daemon", str(ipvs_log))
        conf = work / f"{kind}-test.conf"
        conf.write_text(config(size, Changes()))
        binary = "keepalived" if kind == "keepalived" else str(Path(PYTHON).with_name("pykad"))
        t_test = time.monotonic()
        self.topo.run("R", binary, "-t", "-f", str(conf), check=False)
        run.config_test_s = time.monotonic() - t_test
        pc, pm, cap_path, mon_path = self.observers(kind)
        cap = Tail(cap_path, _capture_line)
        mon = Tail(mon_path, _monitor_line)
        ipvs = Tail(ipvs_log, ipvs_line)
        lab = KeepalivedLab(work / f"{kind}-daemon")
        try:
            t0 = time.monotonic()
            daemon: Keepalived = lab.start(
                (self.topo, "R"), config(size, Changes()), name=kind, timeout=600, program=program
            )
            total_rs = size.real_servers

            def up() -> bool:
                mon.poll()
                ipvs.poll()
                vips = {a for _, op, a in mon.items if op == "+" and a.startswith("198.19.")}
                dests = sum(1 for x in ipvs.items if x[1] == "NEW_DEST")
                return len(vips) >= size.instances and dests >= total_rs

            if not _wait(up, 300, daemon):
                run.error = f"{kind} did not come up: {daemon.log_tail(10)}"
                return run
            run.start_s = time.monotonic() - t0
            time.sleep(SETTLE_S)
            roles0, w0 = _role_cpu(daemon), time.monotonic()
            time.sleep(size.window)
            roles1, dt = _role_cpu(daemon), time.monotonic() - w0
            run.idle_by_role = {k: (roles1[k] - v) / dt for k, v in roles0.items() if k in roles1}
            run.idle_cpu = sum(run.idle_by_role.values())
            for step in steps(size):
                r = self._change(daemon, step, cap, mon, ipvs)
                r.cpu_above_idle = r.cpu_s - run.idle_cpu * r.cpu_elapsed
                run.results.append(r)
                print(f"   {kind} {r}", flush=True)
            (work / f"{kind}.results.json").write_text(
                json.dumps([r.__dict__ for r in run.results], indent=1)
            )
            text = daemon.log_text()
            run.log_notes = _log_notes(kind, text)
        finally:
            lab.close()
            for p in (pc, pm):
                self.topo.stop(p, signal.SIGTERM)
        stats = [ln for ln in cap_path.read_text().splitlines() if ln.startswith("stats ")]
        if stats:
            _, packets, drops = stats[-1].split()
            run.capture_drops = f"{int(drops):,} of {int(packets):,}"
        return run

    def _change(self, daemon: Keepalived, step: Step, cap: Tail, mon: Tail, ipvs: Tail) -> Result:
        size, w = self.size, self.size.window
        for t in (cap, mon, ipvs):
            t.poll()
        horizon = time.time() - 5.0  # older records are of the changes before
        cap.items = [x for x in cap.items if x[0] >= horizon]
        mark = daemon.log_mark()
        existing = {(f"eth{_place(i)[0]}", _place(i)[1]) for i in range(size.instances)} | {
            (f"eth{link}", vrid) for link, vrid in step.ch.extra[: -1 if step.kind == "c" else None]
        }
        roles0, m0 = _role_cpu(daemon), time.monotonic()
        daemon.config_path.write_text(config(size, step.ch))
        t_hup = time.time()
        os.kill(daemon.pid, signal.SIGHUP)

        def seen() -> float | None:
            if step.kind in ("a", "c"):
                assert step.vrrp_key is not None
                ifname, vrid = step.vrrp_key
                for ts, typ, ifn, v, prio in cap.items:
                    if ts < t_hup or typ != "V" or ifn != ifname or int(v) != vrid:
                        continue
                    if step.kind == "c" or prio == NEW_PRIORITY:
                        return ts
            elif step.kind == "b":
                for ts, op, a in mon.items:
                    if ts >= t_hup and op == "+" and a == step.address:
                        return ts
            else:
                for ts, _, dest, weight in ipvs.items:
                    if ts >= t_hup and dest == step.rs and weight == 2:
                        return ts
            return None

        visible: float | None = None
        old_to_new: float | None = None
        deadline = t_hup + max(w, 30.0)
        while time.time() < deadline:
            for t in (cap, mon, ipvs):
                t.poll()
            visible = seen()
            if visible is not None and time.time() >= t_hup + w:
                break
            time.sleep(0.05)
        end = t_hup + w
        if step.kind == "a" and visible is not None and step.vrrp_key is not None:
            ifname, vrid = step.vrrp_key
            old = [
                x[0]
                for x in cap.items
                if x[1] == "V" and x[2] == ifname and int(x[3]) == vrid and x[0] < visible
            ]
            old_to_new = visible - old[-1] if old else None
        roles1, cpu_elapsed = _role_cpu(daemon), time.monotonic() - m0
        by_role = {k: roles1[k] - v for k, v in roles0.items() if k in roles1}
        cpu_s = sum(by_role.values())
        for t in (cap, mon, ipvs):
            t.poll()
        # what happened in the window
        expected = {step.address} if step.address else set()
        addrs = [(op, a) for ts, op, a in mon.items if t_hup <= ts <= end]
        garps = [
            x[3]
            for x in cap.items
            if t_hup <= x[0] <= end and x[1] == "A" and x[3] not in expected
            and x[3].startswith("198.19.")
        ]  # fmt: skip
        times: dict[tuple[str, int], list[float]] = defaultdict(list)
        for ts, typ, ifn, v, _ in cap.items:
            if typ == "V" and t_hup - GAP_LIMIT <= ts <= end:
                times[(ifn, int(v))].append(ts)
        gaps = []
        for key in existing:
            ts_list = times.get(key, [])
            if len(ts_list) < 2:
                gaps.append(end - (t_hup - GAP_LIMIT))
            else:
                gaps.append(max(b - a for a, b in itertools.pairwise(ts_list)))
        log = daemon.log_text()[mark:]
        transitions = [
            m["instance"] for m in STATE_RE.finditer(log) if m["instance"] != step.new_instance
        ]
        ops = [x for x in ipvs.items if t_hup <= x[0] <= end and x[1] in WRITES]
        needed = 1 if step.kind == "d" else 0
        kinds: dict[str, int] = defaultdict(int)
        for x in ops:
            kinds[x[1]] += 1
        extra = self.checks_between(t_hup, end) - self.checks_between(t_hup - w, t_hup)
        return Result(
            kind=step.kind,
            visible_s=None if visible is None else visible - t_hup,
            deleted=sum(1 for op, _ in addrs if op == "-"),
            other_added=sum(1 for op, a in addrs if op == "+" and a not in expected),
            garps_other=len(garps),
            garp_addresses_other=len(set(garps)),
            transitions=len(transitions),
            gap_instances=sum(1 for g in gaps if g > GAP_LIMIT),
            max_gap=max(gaps) if gaps else 0.0,
            ipvs_other=max(0, len(ops) - needed),
            ipvs_ops=", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) or "none",
            extra_checks=extra,
            cpu_s=cpu_s,
            cpu_elapsed=cpu_elapsed,
            cpu_by_role=by_role,
            t_hup=t_hup,
            old_to_new_s=old_to_new,
        )


def _role_cpu(daemon: Keepalived) -> dict[str, float]:
    """CPU seconds so far of the daemon's parent and of each child, by role."""
    pids = {"parent": daemon.pid, **daemon.child_pids()}
    return {role: cpu_seconds(pid) for role, pid in pids.items()}


def _wait(pred: Callable[[], bool], timeout: float, daemon: Keepalived) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        if not daemon.running:
            return False
        time.sleep(0.2)
    return False


def _log_notes(kind: str, text: str) -> list[str]:
    """Lines of the daemon's log worth a look (errors after reloads)."""
    bad = [ln for ln in text.splitlines() if re.search(r"(?i)error|traceback|refused|cannot", ln)]
    return (
        [f"{kind}: {len(bad)} log lines with error/cannot/refused, e.g. {bad[:2]}"] if bad else []
    )


@contextlib.contextmanager
def _workdir(keep: str | None) -> Iterator[Path]:
    keep = keep or os.environ.get("RELOADBENCH_KEEP")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        yield Path(keep)
        return
    with tempfile.TemporaryDirectory(prefix="pykad-bench-reload-") as tmp:
        yield Path(tmp)


def _keepalived_ok() -> str:
    try:
        proc = subprocess.run(["keepalived", "--version"], capture_output=True, text=True)
    except OSError:
        return "keepalived is not installed"
    if f"v{KEEPALIVED_VERSION}" not in proc.stdout + proc.stderr:
        return f"keepalived {KEEPALIVED_VERSION} is not the one installed"
    return ""


def _source_version() -> str:
    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "an unknown commit"
    dirty = git("status", "--porcelain", "--", "pykad", "_fastpath", "meson.build")
    return f"commit {commit}" + (" with uncommitted changes" if dirty else "")


# ---------------------------------------------------------------- the entry


def _values(run: DaemonRun, kind: str, attr: str) -> list[float]:
    out = []
    for r in run.results:
        if r.kind == kind:
            v = getattr(r, attr)
            if v is not None:
                out.append(float(v))
    return out


def _cell(run: DaemonRun | None, kind: str, attr: str, fmt: str) -> str:
    if run is None or run.error:
        return "not measured"
    vals = _values(run, kind, attr)
    n = sum(1 for r in run.results if r.kind == kind)
    if not vals:
        return "never" if n else "not measured"
    text = Sample(tuple(vals)).text(fmt) if len(vals) > 1 else fmt.format(vals[0])
    if len(vals) < n:
        text += f" ({n - len(vals)} of {n} never)"
    return text


def _ratio(p: DaemonRun | None, k: DaemonRun | None, kind: str, attr: str) -> str:
    if p is None or k is None:
        return ""
    a, b = _values(p, kind, attr), _values(k, kind, attr)
    if not a or not b or statistics.median(b) <= 0 or statistics.median(a) < 0:
        return ""
    return f"{statistics.median(a) / statistics.median(b):.2f}"


METRICS: tuple[tuple[str, str, str, str, bool], ...] = (
    # attr, label, format, goal, ratio
    ("visible_s", "SIGHUP -> visible (ms)", "{:,.0f}", "faster than keepalived", True),
    ("old_to_new_s", "last advert with the old priority -> first with the new (ms)", "{:,.0f}",
     "", False),
    ("cpu_s", "CPU of the daemon's processes over the window (s)", "{:.2f}", "", True),
    ("cpu_above_idle", "... above its idle rate (s)", "{:.2f}", "lower than keepalived", True),
    ("deleted", "addresses deleted", "{:.0f}", "0", False),
    ("other_added", "addresses added other than the change's", "{:.0f}", "0", False),
    ("garps_other", "GARPs for VIPs the change did not add", "{:.0f}", "0", False),
    ("garp_addresses_other", "... distinct VIPs", "{:.0f}", "0", False),
    ("transitions", "state lines of other instances", "{:.0f}", "0", False),
    ("gap_instances", f"instances with an advert gap > {GAP_LIMIT:g} s", "{:.0f}", "0", False),
    ("max_gap", "longest advert gap of any instance (s)", "{:.2f}", f"~{ADVERT_INT:g}", False),
    ("ipvs_other", "IPVS writes beyond the one needed", "{:,.0f}", "0", False),
    ("extra_checks", "checks at the real servers, window after - window before", "{:+,.0f}",
     "~0", False),
)  # fmt: skip


def rows_for(p: DaemonRun | None, k: DaemonRun | None) -> list[Row]:
    rows: list[Row] = []
    for kind in CHANGES:
        for attr, label, fmt, goal, ratio in METRICS:
            if attr == "old_to_new_s" and kind != "a":
                continue
            if attr in ("visible_s", "old_to_new_s"):
                conv = [_scaled(r, 1000) for r in (p, k)]
                cells = [_cell(r, kind, attr, fmt) for r in conv]
                rat = _ratio(p, k, kind, attr) if ratio else ""
                if attr == "visible_s":
                    label = f"SIGHUP -> {VISIBLE_TEXT[kind]} (ms)"
            else:
                cells = [_cell(r, kind, attr, fmt) for r in (p, k)]
                rat = _ratio(p, k, kind, attr) if ratio else ""
            rows.append(Row(f"{CHANGE_TEXT[kind]}: {label}", cells[0], cells[1], rat, goal))
    return rows


def _scaled(run: DaemonRun | None, factor: float) -> DaemonRun | None:
    if run is None:
        return None
    out = DaemonRun(error=run.error)
    for r in run.results:
        v = None if r.visible_s is None else r.visible_s * factor
        o = None if r.old_to_new_s is None else r.old_to_new_s * factor
        out.results.append(Result(**{**r.__dict__, "visible_s": v, "old_to_new_s": o}))
    return out


def measure(
    size: Size, keep: str | None = None, kinds: Sequence[str] = ("pykad", "keepalived")
) -> dict[str, DaemonRun]:
    runs: dict[str, DaemonRun] = {}
    with _workdir(keep) as work, Lab(work, size) as lab:
        for kind in kinds:
            if kind == "keepalived" and _keepalived_ok():
                continue
            print(f"   {kind}: {size.label}", flush=True)
            try:
                runs[kind] = lab.run(kind)
            except Exception as e:  # reported in the section
                runs[kind] = DaemonRun(error=f"{type(e).__name__}: {e}")
    return runs


def reload(quick: bool) -> tuple[str, list[Row], list[str]]:
    title = "Reload: 1,000 VRRP instances / 10,000 real servers, SIGHUP after one change"
    if os.geteuid() != 0:
        return title, [], ["Not measured: needs root (network namespaces)."]
    size = QUICK if quick else FULL
    t0, load0, version0 = time.monotonic(), os.getloadavg()[0], _source_version()
    runs = measure(size)
    p, k = runs.get("pykad"), runs.get("keepalived")
    rows = rows_for(p, k)
    notes = [
        f"- Size: {size.label}, {size.repeats} repeat(s) of the four changes (each its own "
        f"SIGHUP, {size.window:g} s apart; the changes accumulate). Lab: daemon in namespace R "
        f"with {size.links} veth link(s) to an observer O; every instance VRRPv3 at "
        f"advert_int {ADVERT_INT:g} s, priority {PRIORITY}, one VIP, no peer (all MASTER); "
        f"{size.virtual_servers:,} virtual servers x {RS_PER_VS} real servers, TCP_CHECK, "
        f"delay_loop {DELAY_LOOP}, against one local listener in R. The same "
        "keepalived.conf for both; whole daemons (parent, VRRP child, checker child), "
        "SIGHUP to the parent after the file is rewritten.",
        "- No kernel IPVS on this host: keepalived runs with bench/fakeipvs_log.c "
        "preloaded (libnl's IPVS requests acknowledged without a kernel and logged with "
        "their time); pykad runs as `pykad` (pykad.cli.main) with its checker child's "
        "IpvsSocket replaced by an in-memory table that logs each operation "
        "(bench_reload.RecordingIpvs). So 'visible' for (d) is the moment the daemon "
        "sends the write, not the kernel applying it.",
        "- Measured, per change, from SIGHUP (CLOCK_REALTIME in the bench) to: (a)/(c) the "
        "advert's kernel receive time at O (SO_TIMESTAMP on an AF_PACKET socket), (b) the "
        "rtnetlink RTM_NEWADDR read by a monitor in R (its read time), (d) the IPVS write's "
        f"log time. Disturbance over the {size.window:g} s after SIGHUP: RTM_DELADDR and "
        "other RTM_NEWADDR; ARPs at O whose sender is a 198.19 VIP the change did not add; "
        "state lines (`Entering ... STATE`) in the log for instances the change did not "
        "add; for every instance that existed before, the longest interval between its "
        f"adverts at O from {GAP_LIMIT:g} s before SIGHUP to the window's end; IPVS writes "
        "(services, dests, flush, config, daemons) beyond the one the change needs; "
        "connections the real servers accepted in the window minus the window before "
        "(delay_loop 20 s: a checker reset shows as a burst, checks held up by a busy "
        "checker as a deficit); CPU seconds of the daemon's processes (parent and "
        "children, utime+stime) over the window, and the same less the daemon's idle rate "
        "(measured over one window before the first change). For (a), also the interval "
        "between the instance's last advert with the old priority and its first with the "
        "new one: about advert_int when the new priority waits for the next scheduled "
        "advert, far less when the daemon advertises at once.",
        "- (c) includes the new instance's Master_Down_Timer (3 x advert_int + skew, "
        "~3.2 s at priority 200): both daemons start an added instance in BACKUP.",
    ]
    for name, r in (("pykad", p), ("keepalived", k)):
        if r is None:
            notes.append(f"- {name}: not measured ({_keepalived_ok()}).")
            continue
        if r.error:
            notes.append(f"- {name}: not measured: {r.error}")
            continue
        idle = 100 * r.idle_cpu
        notes.append(
            f"- {name}: up (all VIPs and all real servers written) {r.start_s:.1f} s after "
            f"start; idle CPU of its processes {idle:.1f} % of a core (so ~"
            f"{r.idle_cpu * size.window:.2f} s of each window's CPU is the steady load); "
            f"observer dropped {r.capture_drops or '?'} packets; `-t -f` of the base config "
            f"in R took {r.config_test_s:.2f} s (wall, one run)."
        )
        writes: dict[tuple[str, str], int] = defaultdict(int)
        for r_ in r.results:
            if r_.ipvs_ops != "none":
                writes[(r_.kind, r_.ipvs_ops)] += 1
        for (kind, ops), n in writes.items():
            notes.append(f"- {name} change {kind}: IPVS writes in the window: {ops} ({n} times).")
        above = []
        for role, idle in sorted(r.idle_by_role.items()):
            extra = [
                x.cpu_by_role[role] - idle * x.cpu_elapsed
                for x in r.results
                if role in x.cpu_by_role
            ]
            if extra:
                above.append(f"{role} {statistics.median(extra):.2f} s")
        if above:
            notes.append(
                f"- {name}: CPU above the idle rate per window by process, median over every "
                f"change: {', '.join(above)}."
            )
        notes += [f"- {n}" for n in r.log_notes]
    version1 = _source_version()
    changed = "" if version1 == version0 else f" at the start, {version1} at the end"
    notes.append(f"- pykad at {version0}{changed}.")
    notes.append(
        f"- Run took {(time.monotonic() - t0) / 60:.1f} min; 1-minute load average "
        f"{load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end (2 cores, shared)."
    )
    return title, rows, notes


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--capture"]:
        capture(Path(args[1]))
        return 0
    if args[:1] == ["--monitor"]:
        monitor(Path(args[1]))
        return 0
    if args[:1] == ["--pykad-daemon"]:
        return pykad_daemon(args[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", help="a directory for the logs, configs and records")
    parser.add_argument("--only", choices=("pykad", "keepalived"), help="run one daemon")
    opts = parser.parse_args(args)
    kinds = [opts.only] if opts.only else ["pykad", "keepalived"]
    runs = measure(QUICK if opts.quick else FULL, opts.keep, kinds)
    for row in rows_for(runs.get("pykad"), runs.get("keepalived")):
        print(f"{row.metric}: pykad {row.pykad} | keepalived {row.keepalived} {row.ratio}")
    print(json.dumps({k: v.error for k, v in runs.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
