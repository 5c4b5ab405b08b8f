"""Side-by-side entries for BFD: ``bfd_detection``, ``bfd_failover`` and ``bfd_scale``.

pykad, keepalived 2.2.7 and, where it applies, FRR's bfdd 8.4.4 (alone, without
zebra; see tests/lab/bfd_peers.py), each paired with itself:

- ``bfd_detection``: A and B on one veth, one session at 10 ms x 3 and 3.3 ms x 3
  (bfdd only takes 10 ms and up). B's BFD packets are dropped by an nftables rule on
  B's egress (the kernel drops them after B sent them, so B's daemon sees no error);
  one tcpdump capture on A's interface gives B's last packet that reached A and A's
  first packet with State Down. Repeated: drop, wait for A's Down, lift, wait Up.
- ``bfd_failover``: the failover LAN of bench_failover (A, B, observer C on a
  flooding bridge) plus an upstream peer U; VRRPv2 with 1 s adverts. S1: the master
  tracks a BFD session to U (weight 0) and that session fails (A drops U's BFD);
  S2: the master is killed (kill -9 of the whole daemon) while the backup has a BFD
  session to it (pykad: ``pykad_bfd_takeover``; keepalived has no such mechanism).
  From the fault to the backup's first gratuitous ARP in the observer's capture.
- ``bfd_scale``: 100 and 1,000 sessions at 10 ms x 3 between two namespaces (one
  address pair per session on one veth), CPU and RSS of the BFD process, sessions Up
  and Down transitions over a window after all sessions came Up.

    sudo .venv/bin/python bench/sidebyside.py bfd_detection bfd_failover bfd_scale [--quick]
    sudo .venv/bin/python bench/bench_bfd.py detection --kinds pykad --intervals 3.3 -n 5
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __name__ == "__main__":  # run alone: the same paths as sidebyside.py
    _root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(_root / "tests"), str(_root / "bench")]


from bench_failover import (
    ADDR,
    PRIORITY,
    VIP,
    VRID,
    FailoverError,
    Lab,
    LiveCapture,
    Seen,
    _reset,
    _vip_holders,
    _wait,
    master_down_interval,
    skew_time,
)
from bench_vrrp_scale import RX_PACKETS, cpu_times, if_packets, rss_mib
from sidebyside import Row, Sample

if TYPE_CHECKING:
    # found with MYPYPATH=tests; Any without
    from lab.bfd_peers import (  # type: ignore[import-not-found, unused-ignore]
        BfdPeer,
        BfdPeersLab,
    )
    from lab.keepalived import (  # type: ignore[import-not-found, unused-ignore]
        Keepalived,
        KeepalivedLab,
    )
    from lab.netns import Topology  # type: ignore[import-not-found, unused-ignore]

KEEPALIVED_VERSION = "2.2.7"
BFDD_VERSION = "8.4.4"
KINDS = ("pykad", "keepalived", "bfdd")
LABEL = {"pykad": "pykad", "keepalived": "keepalived", "bfdd": f"FRR bfdd {BFDD_VERSION}"}
MULTIPLIER = 3
BFDD_MIN_MS = 10  # bfdd 8.4.4: "receive-interval (10-60000)"; 3 or 3.3 is "No such command"
BFD_PORT = 3784
DOWN, UP = 1, 3  # BFD session states (RFC 5880 4.1: 0 AdminDown, 1 Down, 2 Init, 3 Up)
BFD_STATE_RE = re.compile(
    r"\((?P<name>[^()\s]+)\) Entering (?P<state>AdminDown|Down|Init|Up) state"
)
BFDD_DOWN_RE = re.compile(r"state-change: \[[^]]*\] \w+ -> down")


def implementation() -> str:
    """Which BFD loop pykad runs now (``bfd_fast.IMPLEMENTATION``: cython or python)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pykad.drivers import bfd_fast; print(bfd_fast.IMPLEMENTATION)",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    impl = proc.stdout.strip() or f"unknown ({proc.stderr.strip().splitlines()[-1:]})"
    return f"{impl}, pykad at {source_version()}"


def source_version() -> str:
    """The commit pykad runs from, and whether its sources had uncommitted changes."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "an unknown commit"
    dirty = git("status", "--porcelain", "--", "pykad", "_fastpath", "meson.build")
    return f"commit {commit}" + (" with uncommitted changes" if dirty else "")


def unavailable(kinds: Sequence[str] = KINDS) -> str:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    programs = ["tcpdump", "nft", "ip"]
    if "keepalived" in kinds:
        programs.append("keepalived")
    for program in programs:
        if shutil.which(program) is None:
            return f"{program} is not installed"
    return ""


def bfdd_unavailable() -> str:
    from lab.bfd_peers import BFDD

    return "" if os.access(BFDD, os.X_OK) else f"{BFDD} is not installed"


def arp_table_fulls() -> int:
    """Host-wide "neighbor table overflow" count (/proc/net/stat/arp_cache, all CPUs).

    The ARP table is shared by every namespace (gc_thresh3 1,024 entries): when anyone
    overflows it, new neighbour entries fail everywhere, multicast ones too.
    """
    try:
        rows = [line.split() for line in Path("/proc/net/stat/arp_cache").read_text().splitlines()]
        column = rows[0].index("table_fulls")
        return sum(int(row[column], 16) for row in rows[1:])
    except (OSError, ValueError, IndexError):
        return 0


def run_footer(t0: float, load0: float, fulls0: int) -> str:
    """The last note of every entry: how long, how loaded, ARP table overflows."""
    fulls = arp_table_fulls() - fulls0
    text = (
        f"- Run took {(time.monotonic() - t0) / 60:.1f} min; 1-minute load average "
        f"{load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end (2 cores, shared)"
    )
    if fulls:
        text += (
            f"; the host-wide ARP table overflowed {fulls:,} times meanwhile (neighbour "
            "entries failing in every namespace: failed repeats and flaps may come from that)"
        )
    return text + "."


def _ms_text(ms: float) -> str:
    return f"{ms:g} ms"


def _peer(peer: str, local: str, interval_ms: float) -> BfdPeer:
    from lab.bfd_peers import BfdPeer

    # bfdd's config takes whole milliseconds only: write 10, not 10.0
    ms: Any = int(interval_ms) if interval_ms == int(interval_ms) else interval_ms
    return BfdPeer(peer, local, ms, ms, MULTIPLIER)


def bfd_config(sessions: Sequence[tuple[str, BfdPeer]]) -> str:
    """keepalived.conf ``bfd_instance`` blocks (pykad reads the same)."""
    from lab.bfd_peers import keepalived_bfd_instance

    return "".join(keepalived_bfd_instance(name, peer) for name, peer in sessions)


# --- a BFD daemon of any kind --------------------------------------------------------------


@dataclass
class Daemon:
    """pykad or keepalived (a lab :class:`Keepalived`) or bfdd (a lab :class:`Bfdd`)."""

    kind: str
    handle: Any

    @property
    def bfd_pid(self) -> int:
        """The process that runs BFD: the ``-b`` child, or bfdd itself."""
        if self.kind == "bfdd":
            return int(self.handle.pid)
        return int(self.handle.child_pids()["bfd"])

    def log_mark(self) -> int:
        return len(self.handle.log_text())

    def downs_since(self, mark: int) -> int:
        """Session Down transitions logged after ``mark``."""
        text = self.handle.log_text()[mark:]
        if self.kind == "bfdd":
            return len(BFDD_DOWN_RE.findall(text))
        return sum(1 for m in BFD_STATE_RE.finditer(text) if m["state"] == "Down")

    def up_count(self) -> int:
        """Sessions Up now (bfdd: as it reports them; else the last state logged)."""
        if self.kind == "bfdd":
            return sum(1 for s in self.handle.sessions().values() if s == "Up")
        last = {m["name"]: m["state"] for m in BFD_STATE_RE.finditer(self.handle.log_text())}
        return sum(1 for s in last.values() if s == "Up")


def start_daemon(
    kind: str,
    topo: Topology,
    node: str,
    sessions: Sequence[tuple[str, BfdPeer]],
    klab: KeepalivedLab,
    plab: BfdPeersLab,
    *,
    name: str,
    timeout: float = 15.0,
    wait: bool = True,
) -> Daemon:
    """Start one daemon; bfdd alone may be started without waiting (``wait_ready`` later)."""
    from lab.keepalived import KEEPALIVED, PYKAD

    if kind == "bfdd":
        peers = [p for _, p in sessions]
        return Daemon(kind, plab.bfdd((topo, node), peers, name=name, timeout=timeout, wait=wait))
    program = (PYKAD,) if kind == "pykad" else (KEEPALIVED,)
    handle = klab.start(
        (topo, node), bfd_config(sessions), name=name, program=program, timeout=timeout
    )
    return Daemon(kind, handle)


# --- BFD control packets in a capture, read as it grows --------------------------------------


@dataclass(frozen=True, slots=True)
class BfdFrame:
    t: float
    src: str
    state: int
    diag: int
    poll: bool
    final: bool
    desired_tx_us: int


class BfdCapture:
    """Reads the BFD control packets tcpdump (``-U``) appends to a classic pcap file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.record = struct.Struct("<IIII")
        self.unit = 1e-6
        self.linktype = 1
        self.by_src: dict[str, list[BfdFrame]] = {}

    def poll(self) -> None:
        from pykad.tools.pcap import Frame, network_layer, parse_ip

        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        pos = 0
        if self.offset == 0:
            if len(data) < 24:
                return
            order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
            self.unit = 1e-9 if data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
            self.record = struct.Struct(order + "IIII")
            self.linktype = struct.unpack(order + "I", data[20:24])[0] & 0x0FFFFFFF
            pos = 24
        while pos + 16 <= len(data):
            sec, frac, incl, _ = self.record.unpack_from(data, pos)
            if pos + 16 + incl > len(data):
                break
            t = sec + frac * self.unit
            frame = Frame(t, self.linktype, data[pos + 16 : pos + 16 + incl])
            pos += 16 + incl
            packet = network_layer(frame)
            ip = parse_ip(packet) if packet is not None else None
            if ip is None or ip.protocol != 17 or len(ip.payload) < 8 + 24:
                continue
            if int.from_bytes(ip.payload[2:4], "big") != BFD_PORT:
                continue
            bfd = ip.payload[8:]
            src = ".".join(str(b) for b in ip.src)
            self.by_src.setdefault(src, []).append(
                BfdFrame(
                    t,
                    src,
                    bfd[1] >> 6,
                    bfd[0] & 0x1F,
                    bool(bfd[1] & 0x20),
                    bool(bfd[1] & 0x10),
                    int.from_bytes(bfd[12:16], "big"),
                )
            )
        self.offset += pos

    def frames(self, src: str) -> list[BfdFrame]:
        return self.by_src.get(src, [])


def up_to_down(frames: Sequence[BfdFrame]) -> int:
    """How often the sender's state went from Up to Down in ``frames``."""
    return sum(1 for a, b in itertools.pairwise(frames) if a.state == UP != b.state)


# --- 1. detection time ----------------------------------------------------------------------

DETECT_INTERVALS_MS = (10.0, 3.3)
DETECT_A, DETECT_B = "192.0.2.1", "192.0.2.2"
EGRESS_TABLE = (
    'table netdev lab {\n chain egress {\n  type filter hook egress device "eth0" priority -300;\n'
    " }\n}\n"
)
STEADY_S = 0.3  # A Up at least this long, at the fast rate, before a fault


@dataclass
class Detection:
    kind: str
    interval_ms: float
    detection_ms: list[float] = field(default_factory=list)
    """B's last packet that reached A -> A's first packet with State Down."""
    fault_ms: list[float] = field(default_factory=list)
    """``time.time()`` before the nft command -> A's first Down packet."""
    gap_ms: list[float] = field(default_factory=list)
    """B's largest gap between packets in the steady STEADY_S before each fault."""
    spurious: int = 0
    """A's Up -> Down transitions that no fault caused."""
    cycles: int = 0
    failed: list[str] = field(default_factory=list)
    not_possible: str = ""
    up_after_lift_s: list[float] = field(default_factory=list)


def _wait_steady(cap: BfdCapture, interval_ms: float, timeout: float) -> None:
    """Both sides Up at the configured rate, A for ``STEADY_S`` at least."""
    fast_us = round(interval_ms * 1000)

    def steady() -> bool:
        cap.poll()
        a, b = cap.frames(DETECT_A), cap.frames(DETECT_B)
        if len(a) < 2 or len(b) < 20:
            return False
        recent = b[-20:]
        if any(f.state != UP or f.desired_tx_us != fast_us for f in recent):
            return False
        gaps = [y.t - x.t for x, y in itertools.pairwise(recent)]
        if statistics.median(gaps) > 1.5 * interval_ms / 1000:
            return False
        horizon = a[-1].t - STEADY_S
        for f in reversed(a):
            if f.state != UP or f.desired_tx_us != fast_us or f.poll:
                return False
            if f.t < horizon:
                return True
        return False

    _wait(steady, timeout, "both sides Up at the fast rate", poll=0.02)


def _b_egress(topo: Topology, drop: bool) -> float:
    """Drop (or stop dropping) B's BFD packets on B's egress; return time.time() before."""
    ns = topo.netns("B")
    argv = ["nft", "add", "rule", "netdev", "lab", "egress", "udp", "dport", str(BFD_PORT), "drop"]
    if not drop:
        argv = ["nft", "flush", "chain", "netdev", "lab", "egress"]
    t0 = time.time()
    subprocess.run(["ip", "netns", "exec", ns, *argv], check=True)
    return t0


def detect(
    kind: str,
    interval_ms: float,
    cycles: int,
    workdir: Path,
    log: Callable[[str], None] = print,
) -> Detection:
    """``cycles`` times: drop B's BFD, time A's Down on the wire, lift, wait Up."""
    from lab.bfd_peers import BfdPeersLab
    from lab.keepalived import KeepalivedLab
    from lab.netns import Topology

    result = Detection(kind, interval_ms)
    if kind == "bfdd" and interval_ms < BFDD_MIN_MS:
        result.not_possible = f"bfdd's minimum interval is {BFDD_MIN_MS} ms"
        return result
    with contextlib.ExitStack() as stack:
        topo = stack.enter_context(Topology(workdir / "netns"))
        topo.add_node("A")
        topo.add_node("B")
        topo.add_veth("A", "eth0", "B", "eth0")
        topo.add_address("A", "eth0", f"{DETECT_A}/24")
        topo.add_address("B", "eth0", f"{DETECT_B}/24")
        topo.nft("B", EGRESS_TABLE)
        klab = stack.enter_context(KeepalivedLab(workdir / "daemons"))
        plab = stack.enter_context(BfdPeersLab(workdir / "bfd"))
        capture = topo.capture("A", "eth0", f"udp dst port {BFD_PORT}", name="a")
        stack.callback(capture.stop)
        cap = BfdCapture(capture.path)
        peer = _peer(DETECT_B, DETECT_A, interval_ms)
        start_daemon(kind, topo, "B", [("b1", peer.mirror())], klab, plab, name="B")
        start_daemon(kind, topo, "A", [("b1", peer)], klab, plab, name="A")
        faults = 0
        for i in range(cycles):
            try:
                t_lift = time.time()
                _wait_steady(cap, interval_ms, timeout=15.0)
                if i:
                    ups = [f.t for f in cap.frames(DETECT_A) if f.t > t_lift and f.state == UP]
                    result.up_after_lift_s.append(ups[0] - t_lift if ups else float("nan"))
                b_recent = cap.frames(DETECT_B)
                window = [f.t for f in b_recent if f.t > b_recent[-1].t - STEADY_S]
                gap = max((y - x for x, y in itertools.pairwise(window)), default=0.0)
                t_fault = _b_egress(topo, drop=True)
                faults += 1
                try:

                    def a_down(t_fault: float = t_fault) -> BfdFrame | None:
                        cap.poll()
                        frames = cap.frames(DETECT_A)
                        return next((f for f in frames if f.t > t_fault and f.state == DOWN), None)

                    down = _wait(a_down, 5.0, "A's first Down packet", poll=0.01)
                    before = [f.t for f in cap.frames(DETECT_B) if f.t < down.t]
                    result.detection_ms.append(1000 * (down.t - before[-1]))
                    result.fault_ms.append(1000 * (down.t - t_fault))
                    result.gap_ms.append(1000 * gap)
                    result.cycles += 1
                finally:
                    _b_egress(topo, drop=False)
            except Exception as exc:  # one bad cycle is reported, not fatal
                result.failed.append(str(exc).splitlines()[0])
                log(f"  {kind} {interval_ms:g} ms #{i}: FAILED {exc}")
        time.sleep(0.1)
        cap.poll()
        result.spurious = max(0, up_to_down(cap.frames(DETECT_A)) - faults)
    return result


def _p99(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def _detection_cell(r: Detection | None) -> str:
    if r is None:
        return ""
    if r.not_possible:
        return f"not possible ({r.not_possible})"
    if not r.detection_ms:
        return f"no result ({len(r.failed)} cycles failed)"
    s = Sample(tuple(r.detection_ms))
    text = f"{s.text('{:.1f}')}, p99 {_p99(r.detection_ms):.1f}"
    if r.failed:
        text += f", {len(r.failed)} failed"
    return text


def _goal_met(r: Detection | None, bound_ms: float) -> str:
    if r is None or not r.detection_ms:
        return "-"
    return "yes" if _p99(r.detection_ms) <= bound_ms else "no"


def _fault_cell(r: Detection | None) -> str:
    return Sample(tuple(r.fault_ms)).text("{:.1f}") if r and r.fault_ms else "-"


def _spurious_cell(r: Detection | None) -> str:
    return "-" if r is None or r.not_possible else f"{r.spurious} / {r.cycles}"


def _up_cell(r: Detection | None) -> str:
    ups = [u for u in (r.up_after_lift_s if r else []) if u == u]
    return Sample(tuple(ups)).text("{:.2f}") if ups else "-"


def detection_rows(results: Sequence[Detection]) -> tuple[list[Row], list[str]]:
    """pykad and keepalived in the table's rows; bfdd in a table of its own (the notes)."""
    rows: list[Row] = []
    extra = ["| metric | FRR bfdd pair | goal |", "|---|---|---|"]
    by = {(r.kind, r.interval_ms): r for r in results}
    for ms in dict.fromkeys(r.interval_ms for r in results):
        bound = MULTIPLIER * ms + 10
        p, k, f = (by.get((kind, ms)) for kind in KINDS)
        label = f"{_ms_text(ms)} x {MULTIPLIER}"
        ratio = ""
        if p and k and p.detection_ms and k.detection_ms:
            pm, km = statistics.median(p.detection_ms), statistics.median(k.detection_ms)
            ratio = f"{pm / km:.2f} ({pm - km:+.1f} ms)"
        goal = f"p99 <= {bound:g} ms"
        verdicts = ", ".join(f"{kind} {_goal_met(by.get((kind, ms)), bound)}" for kind in KINDS[:2])
        spec: list[tuple[str, Callable[[Detection | None], str], str, str]] = [
            ("B's last packet -> A's first Down packet (ms)", _detection_cell, ratio, goal),
            ("nft rule issued -> A's first Down packet (ms)", _fault_cell, "", ""),
            ("A's Up -> Down not caused by a fault / faults", _spurious_cell, "", "0"),
            ("drop lifted -> A's first Up packet (s)", _up_cell, "", ""),
        ]
        for i, (what, cell, rat, aim) in enumerate(spec):
            metric = f"{label}: {what}"
            shown = f"{aim} ({verdicts})" if i == 0 else aim
            rows.append(Row(metric, cell(p), cell(k), rat, shown))
            if f is not None and (i == 0 or not f.not_possible):
                verdict = f" ({_goal_met(f, bound)})" if i == 0 and not f.not_possible else ""
                extra.append(f"| {metric} | {cell(f)} | {aim}{verdict} |")
    return rows, extra if len(extra) > 2 else []


def bfd_detection(quick: bool) -> tuple[str, list[Row], list[str]]:
    title = "BFD detection time"
    kinds = [k for k in KINDS if k != "bfdd" or not bfdd_unavailable()]
    why_not = unavailable(kinds)
    if why_not:
        return title, [], [f"Not measured: {why_not}."]
    cycles = 5 if quick else 20
    impl = implementation()
    load0, t0, fulls0 = os.getloadavg()[0], time.monotonic(), arp_table_fulls()
    results = []
    with tempfile.TemporaryDirectory(prefix="pykad-bench-bfd-detect-") as tmp:
        for ms in DETECT_INTERVALS_MS:
            for kind in kinds:
                print(f"   {kind} {ms:g} ms x {MULTIPLIER}", flush=True)
                r = detect(kind, ms, cycles, Path(tmp) / f"{kind}-{ms:g}")
                print(f"   {r}", flush=True)
                results.append(r)
    rows, bfdd_table = detection_rows(results)
    gaps = {f"{r.kind} {r.interval_ms:g} ms": max(r.gap_ms) for r in results if r.gap_ms}
    notes = []
    if bfdd_table:
        notes += [f"FRR bfdd {BFDD_VERSION} pair, the same measurement:", "", *bfdd_table, ""]
    notes += [
        f"- One BFD session at {MULTIPLIER} x the interval between A ({DETECT_A}) and B "
        f"({DETECT_B}) on one veth, both sides the same implementation (pykad, keepalived "
        f"{KEEPALIVED_VERSION}, or FRR bfdd {BFDD_VERSION} alone), both active; A is the "
        f"daemon under test. {cycles} cycles per cell: wait until both send Up at the "
        f"configured rate and A has been Up for {STEADY_S:g} s, add an nftables rule dropping "
        "B's BFD packets on B's *egress* (a netdev hook: B's daemon sends without error, the "
        "packets never reach A), wait for A's Down, remove the rule. One tcpdump on A's "
        "interface: detection = B's last packet that reached A -> A's first packet with "
        "State Down, on the wire (A's detection timer plus whatever delays its Down packet). "
        f"p99 of {cycles} samples is close to the max. Goal: p99 within 10 ms of "
        "multiplier x interval. Second row: from `time.time()` before the `nft` command that "
        "adds the rule (a few ms) to A's Down. Spurious: A's Up -> Down transitions on the "
        "wire that no fault caused. Last row: how long the session took to come back (slow "
        "start at 1 s while Down).",
        f"- pykad's BFD loop: `bfd_fast.IMPLEMENTATION` = {impl} when this ran. keepalived "
        "logs the expiry at 30 ms but its Down packet leaves at its next transmit slot, up "
        "to one interval later on the wire; pykad and bfdd send it when the timer expires. "
        "RFC 5880 jitter makes a sender's intervals 75-100 % of the interval, so the timer "
        "counts from the last packet received, not from the fault.",
        f"- B's largest gap between two packets in the {STEADY_S:g} s before a fault, worst "
        "over the cycles: " + ", ".join(f"{k} {v:.1f} ms" for k, v in gaps.items()) + ".",
        f"- FRR bfdd {BFDD_VERSION} takes {BFDD_MIN_MS}-60000 ms only (`receive-interval 3.3` "
        'is "No such command"), so 3.3 ms is not possible for it. BIRD was not measured.',
    ]
    failed = [
        f"{r.kind} {r.interval_ms:g} ms: {'; '.join(r.failed[:3])}" for r in results if r.failed
    ]
    if failed:
        notes.append("- Failed cycles: " + " | ".join(failed))
    notes.append(run_footer(t0, load0, fulls0))
    return title, rows, notes


# --- 2. BFD-driven VRRP failover -------------------------------------------------------------

UPSTREAM = "192.0.2.3"
SCENARIOS = {
    "s1": "S1: the master's tracked BFD session to upstream fails",
    "s2": "S2: master killed, the backup has a BFD session to it",
}
INPUT_TABLE = "table inet lab {\n  chain in {\n    type filter hook input priority -300;\n  }\n}\n"
FAILOVER_DAEMONS = ("pykad", "keepalived")
FAILOVER_BFD_MS = 10
FAILOVER_DETECT_S = MULTIPLIER * FAILOVER_BFD_MS / 1000


@dataclass
class Takeover:
    daemon: str
    scenario: str
    fault_to_garp: float = float("nan")
    fault_to_zero: float = float("nan")
    """S1: the fault -> A's priority-0 advert (its BFD detection and FAULT)."""
    after_reference: float = float("nan")
    bfd_to_garp: float = float("nan")
    """S2: A's last BFD packet to B (seen by the observer) -> B's GARP."""
    """S1: A's priority-0 advert -> B's GARP; S2: A's last advert -> B's GARP."""
    odd: list[str] = field(default_factory=list)


def _bfd_instance(name: str, neighbor: str, source: str) -> str:
    return bfd_config([(name, _peer(neighbor, source, FAILOVER_BFD_MS))])


def failover_configs(daemon: str, scenario: str) -> dict[str, str]:
    from lab.keepalived import vrrp_instance_config

    def vrrp(node: str, extra: str = "") -> str:
        return vrrp_instance_config(
            priority=PRIORITY[node],
            virtual_router_id=VRID,
            vips=(f"{VIP}/24",),
            advert_int=1,
            version=2,
            extra=extra,
        )

    if scenario == "s1":
        return {
            "U": _bfd_instance("to_a", ADDR["A"], UPSTREAM),
            "A": _bfd_instance("to_u", UPSTREAM, ADDR["A"]) + vrrp("A", "track_bfd {\n    to_u\n}"),
            "B": vrrp("B"),
        }
    takeover = "pykad_bfd_takeover" if daemon == "pykad" else ""
    return {
        "A": _bfd_instance("to_b", ADDR["B"], ADDR["A"]) + vrrp("A"),
        "B": _bfd_instance("to_a", ADDR["A"], ADDR["B"]) + vrrp("B", takeover),
    }


def _stop_all(daemons: Iterable[Keepalived]) -> None:
    """Stop daemons at once (keepalived takes ~1 s to stop): one thread each."""

    def stop(k: Keepalived) -> None:
        with contextlib.suppress(Exception):
            k.stop(timeout=10.0)

    threads = [threading.Thread(target=stop, args=(k,)) for k in daemons]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def failover_repeat(lab: Lab, daemon: str, scenario: str) -> Takeover:
    from lab.keepalived import KEEPALIVED, PYKAD

    lab.runs += 1
    topo = lab.topo
    _reset(topo)
    result = Takeover(daemon, scenario)
    program = (PYKAD,) if daemon == "pykad" else (KEEPALIVED,)
    bpf = f"vrrp or arp or udp dst port {BFD_PORT}"
    cap = topo.capture("C", "eth0", bpf, name=f"bfd-run{lab.runs}")
    started: dict[str, Keepalived] = {}
    sessions = {"s1": {"A": "to_u", "U": "to_a"}, "s2": {"A": "to_b", "B": "to_a"}}[scenario]
    try:
        # U (if any), A, then B. S2: B's master-down timer (3.61 s) runs out after A's
        # (3.22 s), so A becomes MASTER first. S1: B starts once A is MASTER (A waits in
        # FAULT until its tracked session is Up, which takes 1-2 s).
        configs = failover_configs(daemon, scenario)
        for node in sorted(configs, key="UAB".index):
            name = f"{node}{lab.runs}-{daemon}"
            started[node] = lab.klab.start((topo, node), configs[node], name=name, program=program)
            if node == "A" and scenario == "s1":
                started[node].wait_for_state("VI_1", "MASTER", timeout=15)
        a, b = started["A"], started["B"]
        a.wait_for_state("VI_1", "MASTER", timeout=15)
        b.wait_for_state("VI_1", "BACKUP", timeout=15)
        for node, session in sessions.items():
            started[node].wait_for_log(rf"\({session}\) Entering Up state", timeout=10)
        time.sleep(0.5)  # the poll sequence: the sessions at 10 ms
        if scenario == "s1":
            topo.nft("A", INPUT_TABLE)
        if b.state("VI_1") != "BACKUP" or ("VI_1", "MASTER") in b.states("VI_1"):
            raise FailoverError(f"B is not a clean backup: {b.states('VI_1')}")
        if _vip_holders(topo) != {"A"}:
            raise FailoverError(f"VIP holders before the fault: {_vip_holders(topo)}")
        live = LiveCapture(cap.path)
        mac_a, mac_b = lab.mac["A"], lab.mac["B"]

        def adverts_of_a(after: float) -> list[Seen]:
            live.poll()
            return [
                s for s in live.frames if s.kind == "advert" and s.src_mac == mac_a and s.t > after
            ]

        t_sync = time.time()
        _wait(lambda: [s for s in adverts_of_a(t_sync) if s.priority > 0], 2.0, "an advert from A")
        mark = b.log_mark()
        t_fault = time.time()
        if scenario == "s1":
            rule = f"add rule inet lab in ip saddr {UPSTREAM} udp dport {BFD_PORT} drop"
            subprocess.run(["ip", "netns", "exec", topo.netns("A"), "nft", rule], check=True)
        else:
            assert a.proc is not None
            os.killpg(a.proc.pid, signal.SIGKILL)

        def first_garp_of_b() -> Seen | None:
            live.poll()
            garps = (s for s in live.frames if s.kind == "garp" and s.t > t_fault)
            return next((s for s in garps if s.src_mac == mac_b and s.src_ip == VIP), None)

        garp = _wait(
            first_garp_of_b,
            scenario_bound(scenario) + 3.0,
            "B's gratuitous ARP for the VIP",
            poll=0.01,
        )
        result.fault_to_garp = garp.t - t_fault
        a_adverts = [s for s in live.frames if s.kind == "advert" and s.src_mac == mac_a]
        if scenario == "s1":
            zero = [s for s in a_adverts if s.t > t_fault and s.priority == 0]
            if not zero:
                raise FailoverError("no priority-0 advert from A after its BFD session failed")
            result.fault_to_zero = zero[0].t - t_fault
            result.after_reference = garp.t - zero[0].t
            a.wait_for_state("VI_1", "FAULT", timeout=2.0)
        else:
            last = [s for s in a_adverts if s.t < garp.t and s.priority > 0][-1]
            result.after_reference = garp.t - last.t
            bfd = BfdCapture(cap.path)
            bfd.poll()
            sent = [f.t for f in bfd.frames(ADDR["A"]) if f.t < garp.t]
            result.bfd_to_garp = garp.t - sent[-1] if sent else float("nan")
        b.wait_for_state("VI_1", "MASTER", timeout=2.0, since=mark)
        if daemon == "pykad" and scenario == "s2":
            b.wait_for_log(
                r"BFD session to_a to the master is down: taking over", timeout=2.0, since=mark
            )
        late = [s for s in a_adverts if s.t > t_fault + 0.01 and s.priority > 0]
        if late:
            result.odd.append(f"A's advert {late[0].t - t_fault:.3f}s after the fault")
        return result
    finally:
        _stop_all(started.values())
        cap.stop()


def measure_failover(
    repeats: dict[tuple[str, str], int], log: Callable[[str], None] = print
) -> list[Takeover]:
    results: list[Takeover] = []
    with (
        tempfile.TemporaryDirectory(prefix="pykad-bench-bfd-failover-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        lab = Lab(stack, Path(tmp))
        lab.topo.lan({"U": f"{UPSTREAM}/24"})
        for scenario in SCENARIOS:
            n = max(repeats.get((d, scenario), 0) for d in FAILOVER_DAEMONS)
            for i in range(n):
                for daemon in FAILOVER_DAEMONS:  # interleaved
                    if i >= repeats.get((daemon, scenario), 0):
                        continue
                    try:
                        r = failover_repeat(lab, daemon, scenario)
                    except Exception as exc:
                        log(f"  {daemon} {scenario} #{i}: FAILED {exc}")
                        r = Takeover(daemon, scenario)
                        r.odd.append(f"failed: {str(exc).splitlines()[0]}")
                    else:
                        log(
                            f"  {daemon:10} {scenario} #{i}: fault->GARP "
                            f"{1000 * r.fault_to_garp:8.1f} ms, fault->prio 0 "
                            f"{1000 * r.fault_to_zero:6.1f} ms, reference->GARP "
                            f"{1000 * r.after_reference:8.1f} ms"
                            + (f"  ODD: {r.odd}" if r.odd else "")
                        )
                    results.append(r)
    return results


def _sample_ms(values: Sequence[float]) -> Sample | None:
    ok = [1000 * v for v in values if v == v]
    return Sample(tuple(ok)) if ok else None


def scenario_bound(scenario: str) -> float:
    """What B should wait after A's reference advert (S1: priority 0; S2: the last one)."""
    if scenario == "s1":
        return skew_time(1.0, PRIORITY["B"])
    return master_down_interval(1.0, PRIORITY["B"])


def failover_rows(results: Sequence[Takeover]) -> list[Row]:
    fmt = "{:,.1f}"

    def pick(daemon: str, scenario: str, get: Callable[[Takeover], float]) -> Sample | None:
        return _sample_ms([get(r) for r in results if (r.daemon, r.scenario) == (daemon, scenario)])

    def cell(s: Sample | None, daemon: str, scenario: str) -> str:
        n = sum(1 for r in results if (r.daemon, r.scenario) == (daemon, scenario))
        if n == 0:
            return "not run"
        count = len(s.values) if s else 0
        text = (s.text(fmt) if s else "-") + f", {count} runs"
        return text + (f", {n - count} failed" if count < n else "")

    def text(s: Sample | None) -> str:
        return s.text(fmt) if s else "-"

    rows: list[Row] = []
    for scenario, title in SCENARIOS.items():
        total = {d: pick(d, scenario, lambda r: r.fault_to_garp) for d in FAILOVER_DAEMONS}
        p, k = total["pykad"], total["keepalived"]
        ratio = f"{p.median / k.median:.3f} ({p.median - k.median:+,.1f} ms)" if p and k else ""
        goal = (
            f"pykad < 50 ms ({'yes' if p and p.median < 50 else 'no'})" if scenario == "s2" else ""
        )
        metric = f"{title}: fault -> backup's first GARP (ms)"
        rows.append(
            Row(metric, cell(p, "pykad", scenario), cell(k, "keepalived", scenario), ratio, goal)
        )
        if scenario == "s1":
            zero = [text(pick(d, scenario, lambda r: r.fault_to_zero)) for d in FAILOVER_DAEMONS]
            rows.append(
                Row(
                    "... fault -> A's priority-0 advert (A's BFD detection, FAULT) (ms)",
                    *zero,
                    "",
                    "",
                )
            )
        bound = scenario_bound(scenario)
        ref = "A's priority-0 advert" if scenario == "s1" else "A's last advert"
        wait = "the skew time" if scenario == "s1" else "the master-down interval"
        past = [
            text(pick(d, scenario, lambda r, b=bound: r.after_reference - b))
            for d in FAILOVER_DAEMONS
        ]
        rows.append(
            Row(f"... {ref} -> GARP, minus {wait} {1000 * bound:,.1f} ms (ms)", *past, "", "")
        )
        if scenario == "s2":
            late = [
                text(pick(d, scenario, lambda r: r.bfd_to_garp - FAILOVER_DETECT_S))
                for d in FAILOVER_DAEMONS
            ]
            rows.append(
                Row(
                    "... A's last BFD packet -> GARP, minus the detection time 30 ms (ms)",
                    *late,
                    "",
                    "",
                )
            )
    p2, k1 = (
        pick("pykad", "s2", lambda r: r.fault_to_garp),
        pick("keepalived", "s1", lambda r: r.fault_to_garp),
    )
    if p2 and k1:
        met = "yes" if p2.median < 50 else "no"
        rows.append(
            Row(
                "Fastest BFD-driven failover: pykad S2 (pykad_bfd_takeover) vs keepalived S1 (ms)",
                p2.text(fmt),
                k1.text(fmt),
                f"{p2.median / k1.median:.3f}",
                f"pykad < 50 ms vs keepalived ~635 ms ({met})",
            )
        )
    return rows


def bfd_failover(quick: bool) -> tuple[str, list[Row], list[str]]:
    title = "BFD-driven VRRP failover (VRRPv2, 1 s adverts)"
    why_not = unavailable(FAILOVER_DAEMONS)
    if why_not:
        return title, [], [f"Not measured: {why_not}."]
    n = 3 if quick else 10
    repeats = {
        ("pykad", "s1"): n,
        ("keepalived", "s1"): n,
        ("pykad", "s2"): n,
        ("keepalived", "s2"): 2 if quick else 3,
    }
    impl = implementation()
    load0, t0, fulls0 = os.getloadavg()[0], time.monotonic(), arp_table_fulls()
    results = measure_failover(repeats)
    rows = failover_rows(results)
    skew_ms = 1000 * skew_time(1.0, PRIORITY["B"])
    notes = [
        f"- The failover LAN of the `failover` entry (A {ADDR['A']} priority 200 master, B "
        f"{ADDR['B']} priority 100 backup, observer C on a flooding bridge; VRID {VRID}, VIP "
        f"{VIP}, VRRPv2, advert_int 1 s) plus an upstream router U ({UPSTREAM}); BFD sessions "
        f"at 10 ms x {MULTIPLIER}; every daemon of a repeat is pykad, or every one keepalived "
        f"{KEEPALIVED_VERSION}; fresh daemons every repeat, pykad and keepalived interleaved. "
        "Each repeat waits until A is MASTER, B BACKUP and the sessions Up (+0.5 s for the "
        "poll sequence), then injects the fault right after the observer sees one of A's "
        "adverts. Failover: `time.time()` right before the fault -> B's first gratuitous ARP "
        "for the VIP in C's tcpdump capture (same clock).",
        f"- S1: A tracks its session to U (`track_bfd {{ to_u }}`, weight 0); the fault is an "
        f"nftables rule on A's input dropping U's BFD packets (issuing it takes ~5 ms). A's "
        "detection expires, A goes FAULT and sends a priority-0 advert; B, a plain backup, "
        f"takes over after its skew time (256 - 100) / 256 s = {skew_ms:.1f} ms (RFC 3768/5798); "
        "neither daemon has a way around that wait in S1.",
        "- S2: A and B each have a BFD session to the other; A's whole daemon gets SIGKILL. "
        "pykad's B has `pykad_bfd_takeover`: when its session to the master's address goes "
        "Down it takes over at once (no Master_Down_Timer). keepalived has no such mechanism "
        "(a tracked session would put B in FAULT): it waits out the master-down interval "
        f"3 x 1 s + skew = {1000 * master_down_interval(1.0, PRIORITY['B']):,.1f} ms after A's "
        f"last advert, so only {repeats[('keepalived', 's2')]} runs.",
        f"- pykad's BFD loop: `bfd_fast.IMPLEMENTATION` = {impl} when this ran.",
    ]
    odd = [f"{r.daemon} {r.scenario}: {'; '.join(r.odd)}" for r in results if r.odd]
    if odd:
        notes.append(
            "- Odd or failed repeats: " + " | ".join(odd[:12]) + (" ..." if len(odd) > 12 else "")
        )
    notes.append(run_footer(t0, load0, fulls0))
    return title, rows, notes


# --- 3. many sessions -------------------------------------------------------------------------

SCALE_SIZES = (100, 1000)
SCALE_INTERVAL_MS = 10
SCALE_WINDOW_FULL, SCALE_WINDOW_QUICK = 10.0, 5.0
SCALE_SETTLE = 3.0
SCALE_UP_TIMEOUT = 30.0
SCALE_STALL = 8.0


def scale_addresses(i: int) -> tuple[str, str]:
    """Session ``i``'s address on A and on B (one /15 on one veth)."""
    high, low = divmod(i, 250)
    return f"198.18.{high}.{low + 1}", f"198.19.{high}.{low + 1}"


@dataclass
class ScaleRun:
    kind: str
    sessions: int
    window: float = 0.0
    all_up_s: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    sys: dict[str, float] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    up_start: dict[str, int] = field(default_factory=dict)
    up_end: dict[str, int] = field(default_factory=dict)
    downs: dict[str, int] = field(default_factory=dict)
    rx_rate: dict[str, float] = field(default_factory=dict)
    rcvbuf_errors: dict[str, float] = field(default_factory=dict)
    """UDP datagrams/s the namespace dropped because a socket's receive buffer was full."""
    error: str = ""


def udp_rcvbuf_errors(pid: int) -> int:
    """RcvbufErrors of /proc/PID/net/snmp (the process's namespace)."""
    lines = [line.split() for line in Path(f"/proc/{pid}/net/snmp").read_text().splitlines()]
    names, values = (line for line in lines if line[0] == "Udp:")
    return int(values[names.index("RcvbufErrors")])


def _mac_of(topo: Topology, node: str) -> str:
    import json

    return str(json.loads(topo.ip(node, "-j", "link", "show", "eth0").stdout)[0]["address"])


def scale_run(kind: str, sessions: int, window: float, workdir: Path) -> ScaleRun:
    from lab.bfd_peers import BfdPeersLab
    from lab.keepalived import KeepalivedLab
    from lab.netns import Topology

    run = ScaleRun(kind, sessions)
    with contextlib.ExitStack() as stack:
        topo = stack.enter_context(Topology(workdir / "netns"))
        topo.add_node("A")
        topo.add_node("B")
        topo.add_veth("A", "eth0", "B", "eth0")
        pairs = [scale_addresses(i) for i in range(sessions)]
        mac = {n: _mac_of(topo, n) for n in ("A", "B")}
        # Permanent neighbours: 2 x 1,000 dynamic ARP entries would pass the host's
        # gc_thresh (the ARP table is shared by every namespace) and be dropped.
        for node, mine, theirs, other in (("A", 0, 1, "B"), ("B", 1, 0, "A")):
            batch = [f"address add {p[mine]}/15 dev eth0" for p in pairs]
            batch += [
                f"neigh replace {p[theirs]} lladdr {mac[other]} dev eth0 nud permanent"
                for p in pairs
            ]
            topo.run(node, "ip", "-batch", "-", input="\n".join(batch) + "\n")
        klab = stack.enter_context(KeepalivedLab(workdir / "daemons"))
        plab = stack.enter_context(BfdPeersLab(workdir / "bfd"))
        a_sessions = [(f"s{i}", _peer(b, a, SCALE_INTERVAL_MS)) for i, (a, b) in enumerate(pairs)]
        b_sessions = [(name, peer.mirror()) for name, peer in a_sessions]
        # bfdd reads its config slowly (~30 ms a session): both at once. pykad and
        # keepalived one after the other (B first).
        both = kind == "bfdd"
        daemons = {
            node: start_daemon(
                kind, topo, node, conf, klab, plab, name=node, timeout=120, wait=not both
            )
            for node, conf in (("B", b_sessions), ("A", a_sessions))
        }
        if both:
            for d in daemons.values():
                d.handle.wait_ready(timeout=120)
        t0 = time.monotonic()

        # Wait until every session is Up on both sides; give up after SCALE_UP_TIMEOUT, or
        # when no new high of sessions Up came for SCALE_STALL s (they flap).
        best, best_t = -1, t0
        while time.monotonic() < t0 + SCALE_UP_TIMEOUT:
            up = min(d.up_count() for d in daemons.values())
            if up >= sessions:
                run.all_up_s = time.monotonic() - t0
                break
            if up > best:
                best, best_t = up, time.monotonic()
            elif time.monotonic() - best_t > SCALE_STALL:
                break
            time.sleep(0.25)
        time.sleep(SCALE_SETTLE)
        pids = {n: d.bfd_pid for n, d in daemons.items()}
        run.up_start = {n: d.up_count() for n, d in daemons.items()}
        marks = {n: d.log_mark() for n, d in daemons.items()}
        cpu0 = {n: cpu_times(p) for n, p in pids.items()}
        rx0 = {n: if_packets(p, RX_PACKETS) for n, p in pids.items()}
        drops0 = {n: udp_rcvbuf_errors(p) for n, p in pids.items()}
        t1 = time.monotonic()
        time.sleep(window)
        run.window = time.monotonic() - t1
        cpu1 = {n: cpu_times(p) for n, p in pids.items()}
        rx1 = {n: if_packets(p, RX_PACKETS) for n, p in pids.items()}
        drops1 = {n: udp_rcvbuf_errors(p) for n, p in pids.items()}
        run.cpu = {n: 100 * (sum(cpu1[n]) - sum(cpu0[n])) / run.window for n in pids}
        run.sys = {n: 100 * (cpu1[n][1] - cpu0[n][1]) / run.window for n in pids}
        run.rx_rate = {n: (rx1[n] - rx0[n]) / run.window for n in pids}
        run.rcvbuf_errors = {n: (drops1[n] - drops0[n]) / run.window for n in pids}
        run.rss = {n: rss_mib(p) for n, p in pids.items()}
        run.up_end = {n: d.up_count() for n, d in daemons.items()}
        run.downs = {n: d.downs_since(marks[n]) for n, d in daemons.items()}
    return run


def _ab(values: dict[str, float] | dict[str, int], fmt: str) -> str:
    return " / ".join(fmt.format(values[n]) for n in ("A", "B")) if values else "-"


def scale_rows(runs: Sequence[ScaleRun]) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    extra = ["| metric | FRR bfdd pair | goal |", "|---|---|---|"]
    by = {(r.kind, r.sessions): r for r in runs}
    for n in dict.fromkeys(r.sessions for r in runs):
        owed = n * 1000 / SCALE_INTERVAL_MS
        label = f"{n:,} x {SCALE_INTERVAL_MS} ms x {MULTIPLIER}"
        p, k, f = (by.get((kind, n)) for kind in KINDS)

        def ratio(attr: str, p: ScaleRun | None = p, k: ScaleRun | None = k) -> str:
            if not p or not k or p.error or k.error:
                return ""
            pv, kv = getattr(p, attr), getattr(k, attr)
            return " / ".join(f"{pv[x] / kv[x]:.2f}" if kv[x] else "-" for x in ("A", "B"))

        def metrics(r: ScaleRun | None) -> dict[str, str]:
            if r is None:
                return {}
            if r.error:
                return {"cpu": f"failed: {r.error}"}
            up = (
                f"{r.all_up_s:.1f}"
                if r.all_up_s is not None
                else f"not within {SCALE_UP_TIMEOUT:g} s"
            )
            return {
                "cpu": _ab(r.cpu, "{:.1f}"),
                "sys": _ab(r.sys, "{:.1f}"),
                "rss": _ab(r.rss, "{:.1f}"),
                "up": f"{_ab(r.up_start, '{:,}')} -> {_ab(r.up_end, '{:,}')}",
                "downs": _ab(r.downs, "{:,}"),
                "rx": _ab(r.rx_rate, "{:,.0f}"),
                "drops": _ab(r.rcvbuf_errors, "{:,.0f}"),
                "all_up": up,
            }

        pm, km, fm = metrics(p), metrics(k), metrics(f)
        cpu_goal = ""
        if p and k and not p.error and not k.error:
            # /proc counts clock ticks: over the window, 0.1 % apart is a tie
            met = all(round(p.cpu[x], 1) <= round(k.cpu[x], 1) for x in ("A", "B"))
            cpu_goal = f"pykad <= keepalived ({'yes' if met else 'no'})"
        spec = [
            ("cpu", "BFD process CPU % of a core, A / B", ratio("cpu"), cpu_goal),
            ("sys", "... of which in the kernel (stime), A / B", "", ""),
            ("rss", "BFD process VmRSS MiB, A / B", ratio("rss"), ""),
            (
                "up",
                f"sessions Up (of {n:,}) at the start -> end of the window, A / B",
                "",
                f"{n:,}",
            ),
            ("downs", "Down transitions in the window, A / B", "", "0"),
            ("rx", "BFD packets/s received, A / B", "", f"{owed:,.0f}-{owed * 4 / 3:,.0f}"),
            ("drops", "UDP datagrams/s dropped, receive buffer full, A / B", "", "0"),
            ("all_up", "both daemons running -> all sessions Up on both sides (s)", "", ""),
        ]
        for key, what, rat, goal in spec:
            if key not in pm and key not in km and key not in fm:
                continue
            rows.append(Row(f"{label}: {what}", pm.get(key, ""), km.get(key, ""), rat, goal))
            if fm:
                aim = "" if key == "cpu" else goal  # the CPU goal compares pykad and keepalived
                extra.append(f"| {label}: {what} | {fm.get(key, '')} | {aim} |")
    return rows, extra if len(extra) > 2 else []


def bfd_scale(quick: bool) -> tuple[str, list[Row], list[str]]:
    title = f"BFD at scale: 100 and 1,000 sessions at {SCALE_INTERVAL_MS} ms x {MULTIPLIER}"
    kinds = [k for k in KINDS if k != "bfdd" or not bfdd_unavailable()]
    why_not = unavailable(kinds)
    if why_not:
        return title, [], [f"Not measured: {why_not}."]
    window = SCALE_WINDOW_QUICK if quick else SCALE_WINDOW_FULL
    impl = implementation()
    load0, t0, fulls0 = os.getloadavg()[0], time.monotonic(), arp_table_fulls()
    runs = []
    with tempfile.TemporaryDirectory(prefix="pykad-bench-bfd-scale-") as tmp:
        for n in SCALE_SIZES:
            for kind in kinds:
                print(f"   {kind} {n} sessions", flush=True)
                try:
                    r = scale_run(kind, n, window, Path(tmp) / f"{kind}-{n}")
                except Exception as exc:
                    r = ScaleRun(kind, n, error=str(exc).splitlines()[0][:200])
                print(f"   {r}", flush=True)
                runs.append(r)
    rows, bfdd_table = scale_rows(runs)
    flapping = [
        f"{LABEL[r.kind]} at {r.sessions:,}"
        for r in runs
        if not r.error and (sum(r.downs.values()) or min(r.up_end.values()) < r.sessions)
    ]
    notes = []
    if bfdd_table:
        notes += [f"FRR bfdd {BFDD_VERSION} pair, the same measurement:", "", *bfdd_table, ""]
    notes += [
        "- Two namespaces A and B on one veth; session i has its own address pair, "
        "198.18.x.y on A and 198.19.x.y on B (one /15), with permanent neighbour entries "
        "(2,000 dynamic ones would pass the host's shared ARP gc_thresh); every session at "
        f"{SCALE_INTERVAL_MS} ms x {MULTIPLIER}, both sides active and the same "
        "implementation (the same keepalived.conf for pykad and keepalived; bfdd with one "
        "`peer ... local-address ...` each). B starts, then A (the two bfdd at once: bfdd "
        "reads ~30 ms a session); once every session is Up on both sides (or after "
        f"{SCALE_UP_TIMEOUT:g} s, or {SCALE_STALL:g} s without a new high), "
        f"{SCALE_SETTLE:g} s to settle, then a {window:g} s window "
        "(one run per cell). CPU: utime+stime of the BFD process over the window (pykad's and "
        "keepalived's BFD child, pid from -b; bfdd itself); RSS: its VmRSS at the end. "
        "Sessions Up: the last state each session logged (bfdd: `show bfd peers json`); Down "
        "transitions: `Entering Down state` lines logged in the window (bfdd: `state-change "
        "... -> down` with `debug bfd peer`). Packets: each side's veth rx counter; the "
        "RFC 5880 jitter (intervals 75-100 %) makes the expected rate 1-1.33 x sessions / "
        "interval. Drops: `RcvbufErrors` of the namespace's /proc/net/snmp.",
        "- Goal: pykad uses no more CPU than keepalived for the same sessions.",
        *(
            [
                "- Sessions flapped in "
                + ", ".join(flapping)
                + ": not every session was held (see the Up and Down rows), so the CPU "
                "figures there are those of that state, not a comparison of steady sessions."
            ]
            if flapping
            else []
        ),
        f"- pykad's BFD loop: `bfd_fast.IMPLEMENTATION` = {impl} when this ran. Both pykad "
        "and keepalived log to the console in detail (-l -D): every flap costs log lines.",
        run_footer(t0, load0, fulls0),
    ]
    return title, rows, notes


# --- run alone ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="BFD benchmarks (print, do not write markdown)")
    parser.add_argument("what", choices=("detection", "failover", "scale"))
    parser.add_argument("--kinds", nargs="*", choices=KINDS, default=list(KINDS))
    parser.add_argument("--intervals", type=float, nargs="*", default=list(DETECT_INTERVALS_MS))
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SCALE_SIZES))
    parser.add_argument("--scenarios", nargs="*", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("-n", "--repeats", type=int, default=5)
    parser.add_argument("--window", type=float, default=SCALE_WINDOW_QUICK)
    args = parser.parse_args(argv)
    print(f"pykad BFD loop: {implementation()}")
    rows: list[Row] = []
    extra: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pykad-bench-bfd-") as tmp:
        if args.what == "detection":
            results = [
                detect(kind, ms, args.repeats, Path(tmp) / f"{kind}-{ms:g}")
                for ms in args.intervals
                for kind in args.kinds
            ]
            for r in results:
                print(r)
            rows, extra = detection_rows(results)
        elif args.what == "failover":
            repeats = {
                (d, s): args.repeats
                for d in FAILOVER_DAEMONS
                if d in args.kinds
                for s in args.scenarios
            }
            rows = failover_rows(measure_failover(repeats))
        else:
            runs = [
                scale_run(kind, n, args.window, Path(tmp) / f"{kind}-{n}")
                for n in args.sizes
                for kind in args.kinds
            ]
            for run in runs:
                print(run)
            rows, extra = scale_rows(runs)
    for row in rows:
        print(f"{row.metric}: pykad {row.pykad} | keepalived {row.keepalived} | {row.goal}")
    print("\n".join(extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
