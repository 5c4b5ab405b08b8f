"""Side-by-side entry ``failover``: how fast a backup takes over, pykad vs keepalived 2.2.7.

The lab README's failover LAN: namespaces A and B (routers, 192.0.2.1 and
192.0.2.2) and C (observer, 192.0.2.100, tcpdump) on a bridge that floods. One
VRRP instance (VRID 51, VIP 192.0.2.10), A at priority 200 is the master, B at
100 the backup; both are pykad or both are keepalived. Every repeat starts from
scratch: no VIP anywhere, no nftables rules, A's link up, fresh daemons, A
logged MASTER and holds the VIP alone, B logged BACKUP and never MASTER, and the
observer has seen A's adverts. Then, right after the observer sees one of A's
adverts, the fault is injected on A:

- ``kill -9``: SIGKILL of A's whole daemon (every process);
- ``link down``: ``ip -n A link set eth0 down``;
- ``nft drop``: an nftables rule dropping VRRP on A's *output* (A stays MASTER);
- ``SIGTERM``: A's daemon is stopped; it sends priority-0 adverts (handover).

The failover time is from the fault (``time.time()`` taken right before the
signal or the command, the clock of the capture's timestamps) to B's first
gratuitous ARP for the VIP in the observer's capture (frames from B's MAC only:
A's own delayed GARPs do not count). Two more figures come from the capture
alone and measure the backup's timer against the protocol (RFC 5798 6.1 / 9568
6.1): from A's last advert before the fault (its priority-0 advert for SIGTERM)
to B's first GARP, minus the bound: the master-down interval
``3 x advert_int + skew`` (``skew = (256 - priority) x advert_int / 256``) or,
after a priority-0 advert, the skew time.

    sudo .venv/bin/python bench/sidebyside.py failover [--quick]
    sudo .venv/bin/python bench/bench_failover.py --intervals 0.01 --faults kill -n 3
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ipaddress
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __name__ == "__main__":  # run alone: the same paths as sidebyside.py
    _root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(_root / "tests"), str(_root / "bench")]

from sidebyside import Row, Sample

if TYPE_CHECKING:
    # found with MYPYPATH=tests; Any without
    from lab.keepalived import (  # type: ignore[import-not-found, unused-ignore]
        Keepalived,
        KeepalivedLab,
    )
    from lab.netns import Topology  # type: ignore[import-not-found, unused-ignore]

KEEPALIVED_VERSION = "2.2.7"
VRID = 51
CLONE_NEWNET = 0x40000000
VIP = "192.0.2.10"
ADDR = {"A": "192.0.2.1", "B": "192.0.2.2", "C": "192.0.2.100"}
PRIORITY = {"A": 200, "B": 100}
IPPROTO_VRRP = 112

NFT_TABLE = "table inet lab {\n  chain out {\n    type filter hook output priority -300;\n  }\n}\n"

# (VRRP version, advert_int in seconds)
INTERVALS_FULL: tuple[tuple[int, float], ...] = ((2, 1.0), (3, 0.1), (3, 0.05), (3, 0.01))
INTERVALS_QUICK: tuple[tuple[int, float], ...] = ((2, 1.0), (3, 0.01))
FAULTS: dict[str, str] = {
    "kill": "kill -9",
    "link": "link down",
    "nft": "nft drop (A's output)",
    "term": "SIGTERM (priority 0)",
}
DAEMONS = ("pykad", "keepalived")


def skew_time(advert_int: float, priority: int) -> float:
    """RFC 5798/9568 section 6.1 (keepalived uses the same for VRRPv2)."""
    return (256 - priority) * advert_int / 256


def master_down_interval(advert_int: float, priority: int) -> float:
    return 3 * advert_int + skew_time(advert_int, priority)


def bound(fault: str, advert_int: float) -> float:
    """How long the backup should wait after the last advert it got (the fault's kind)."""
    if fault == "term":
        return skew_time(advert_int, PRIORITY["B"])
    return master_down_interval(advert_int, PRIORITY["B"])


def config(version: int, advert_int: float, priority: int) -> str:
    return (
        "global_defs {\n    router_id bench_failover\n}\n"
        "vrrp_instance VI_1 {\n"
        "    state BACKUP\n"
        "    interface eth0\n"
        f"    virtual_router_id {VRID}\n"
        f"    priority {priority}\n"
        f"    version {version}\n"
        f"    advert_int {advert_int:g}\n"
        "    virtual_ipaddress {\n"
        f"        {VIP}/24\n"
        "    }\n"
        "}\n"
    )


# --- the observer's capture, read as it grows ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    """One frame of interest in the observer's capture."""

    t: float
    kind: str  # "advert" or "garp"
    src_mac: bytes
    src_ip: str
    priority: int = -1


class LiveCapture:
    """Reads the frames tcpdump (``-U``) appends to a classic pcap file, incrementally."""

    _RECORD = struct.Struct("IIII")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.order = "<"
        self.unit = 1e-6
        self.frames: list[Seen] = []

    def poll(self) -> list[Seen]:
        """Parse what was written since the last call; return the new frames."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        pos, new = 0, []
        if self.offset == 0:
            if len(data) < 24:
                return []
            magic = data[:4]
            self.order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
            self.unit = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
            pos = 24
        rec = struct.Struct(self.order + "IIII")
        while pos + 16 <= len(data):
            sec, frac, incl, _ = rec.unpack_from(data, pos)
            if pos + 16 + incl > len(data):
                break
            seen = _classify(sec + frac * self.unit, data[pos + 16 : pos + 16 + incl])
            if seen is not None:
                new.append(seen)
            pos += 16 + incl
        self.offset += pos
        self.frames += new
        return new


def _classify(t: float, eth: bytes) -> Seen | None:
    if len(eth) < 14:
        return None
    src_mac, ethertype = eth[6:12], int.from_bytes(eth[12:14], "big")
    if ethertype == 0x0806 and len(eth) >= 42:
        spa, tpa = eth[28:32], eth[38:42]
        if spa == tpa:  # gratuitous: sender and target are the same address
            return Seen(t, "garp", src_mac, str(ipaddress.IPv4Address(spa)))
    elif ethertype == 0x0800 and len(eth) >= 34 and eth[23] == IPPROTO_VRRP:
        ihl = (eth[14] & 0x0F) * 4
        src = str(ipaddress.IPv4Address(eth[26:30]))
        if len(eth) >= 14 + ihl + 3:
            return Seen(t, "advert", src_mac, src, eth[14 + ihl + 2])
    return None


# --- one repeat ----------------------------------------------------------------------------


class FailoverError(RuntimeError):
    """A repeat did not reach its expected state (the message says what was seen)."""


@dataclass
class Result:
    daemon: str
    version: int
    advert_int: float
    fault: str
    fault_to_garp: float
    last_advert_to_garp: float
    phase: float  # fault time minus the last advert of A seen before it
    inject_s: float  # how long the fault's command/signal took
    garp_after_advert: float = float("nan")  # B's first GARP minus B's first advert
    b_states: list[tuple[str, str]] = field(default_factory=list)
    odd: list[str] = field(default_factory=list)


def _wait(cond: Callable[[], Any], timeout: float, what: str, poll: float = 0.0005) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise FailoverError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(poll)


def _mac(topo: Topology, node: str) -> bytes:
    info = json.loads(topo.ip(node, "-j", "link", "show", "eth0").stdout)
    return bytes.fromhex(info[0]["address"].replace(":", ""))


class AdvertTap:
    """A packet socket on the observer's interface, opened in its namespace. The fault
    is injected when it sees one of A's adverts: a blocked ``recv`` wakes within tens
    of microseconds, where polling tcpdump's file lagged 0.1-0.7 ms (noise in every
    fault -> GARP sample, as large as the daemons' difference)."""

    def __init__(self, netns: str, ifname: str) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        own = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {netns}")
            try:
                self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
                self.sock.bind((ifname, 0))
            finally:
                libc.setns(own, CLONE_NEWNET)
        finally:
            os.close(own)
            os.close(target)

    def wait_advert_from(self, mac: bytes, timeout: float) -> None:
        """Return right after the next advert (priority > 0) from ``mac``."""
        self.sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while self.sock.recv(2048):  # what came before
                pass
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                break
            if data[6:12] == mac and data[12:14] == b"\x08\x00" and data[23] == 112:
                ihl = (data[14] & 0x0F) * 4
                if len(data) > 14 + ihl + 2 and data[14 + ihl + 2] > 0:
                    return
        raise FailoverError(f"timed out after {timeout:g}s waiting for an advert from A")

    def close(self) -> None:
        self.sock.close()


def _vip_holders(topo: Topology) -> set[str]:
    vip = ipaddress.ip_interface(f"{VIP}/24")
    return {n for n in ("A", "B") if vip in topo.addresses(n, "eth0")}


def _reset(topo: Topology) -> None:
    """No VIP, no rules, A's link up: the state every repeat starts from."""
    topo.link_set("A", "eth0", up=True)
    topo.run("A", "nft", "flush", "ruleset")
    for node in _vip_holders(topo):
        topo.ip(node, "addr", "del", f"{VIP}/24", "dev", "eth0")
    if _vip_holders(topo):
        raise FailoverError(f"VIP still on {_vip_holders(topo)} after the reset")


class Lab:
    """The LAN of the README (A, B, C on a flooding bridge), kept for a whole run."""

    def __init__(self, stack: contextlib.ExitStack, workdir: Path) -> None:
        from lab.keepalived import KeepalivedLab
        from lab.netns import Topology

        self.topo: Topology = stack.enter_context(Topology(workdir / "netns"))
        self.topo.lan({n: f"{a}/24" for n, a in ADDR.items()})
        self.workdir = workdir
        self.klab: KeepalivedLab = stack.enter_context(KeepalivedLab(workdir / "daemons"))
        self.mac = {n: _mac(self.topo, n) for n in ("A", "B")}
        self.tap = AdvertTap(self.topo.netns("C"), "eth0")
        stack.callback(self.tap.close)
        self.runs = 0

    def start(self, daemon: str, node: str, version: int, advert_int: float) -> Keepalived:
        from lab.keepalived import KEEPALIVED, PYKAD

        return self.klab.start(
            (self.topo, node),
            config(version, advert_int, PRIORITY[node]),
            name=f"{node}{self.runs}-{daemon}",
            subsystems={"vrrp"},
            program=(PYKAD,) if daemon == "pykad" else (KEEPALIVED,),
        )

    def repeat(self, daemon: str, version: int, advert_int: float, fault: str) -> Result:
        self.runs += 1
        topo = self.topo
        _reset(topo)
        cap = topo.capture("C", "eth0", "vrrp or arp", name=f"run{self.runs}")
        a = b = None
        try:
            a = self.start(daemon, "A", version, advert_int)
            b = self.start(daemon, "B", version, advert_int)
            settle = 3 * advert_int + 5.0
            a.wait_for_state("VI_1", "MASTER", timeout=settle)
            b.wait_for_state("VI_1", "BACKUP", timeout=settle)
            live = LiveCapture(cap.path)
            mac_a, mac_b = self.mac["A"], self.mac["B"]

            t_ready = time.time()
            if fault == "nft":  # the table and chain now, so that the fault is one rule
                topo.nft("A", NFT_TABLE)
            if b.state("VI_1") != "BACKUP" or ("VI_1", "MASTER") in b.states("VI_1"):
                raise FailoverError(f"B is not a clean backup: {b.states('VI_1')}")
            if _vip_holders(topo) != {"A"}:
                raise FailoverError(f"VIP holders before the fault: {_vip_holders(topo)}")
            mark = b.log_mark()
            # Inject right after an advert of A (which B heard too: B is a backup, A the
            # master), so the phase is the same for both daemons.
            self.tap.wait_advert_from(mac_a, advert_int + 1.0)
            t_fault, inject_s = self.inject(a, fault)

            def first_garp_of_b() -> Seen | None:
                live.poll()
                garps = (s for s in live.frames if s.kind == "garp" and s.t > t_ready)
                return next((s for s in garps if s.src_mac == mac_b and s.src_ip == VIP), None)

            # The GARP's time comes from the capture: polling slowly loads the CPU less.
            garp = _wait(
                first_garp_of_b,
                bound(fault, advert_int) + 3.0,
                "B's gratuitous ARP for the VIP",
                poll=0.01,
            )
            a_adverts = [s for s in live.frames if s.kind == "advert" and s.src_mac == mac_a]
            before = [s for s in a_adverts if s.t <= t_fault and s.priority > 0]
            if fault == "term":
                zero = [s for s in a_adverts if s.t > t_fault and s.priority == 0]
                if not zero:
                    raise FailoverError("no priority-0 advert from A after SIGTERM")
                reference = zero[0].t
            else:  # A's last advert that reached the LAN (also one sent while injecting)
                reference = [s for s in a_adverts if s.t < garp.t and s.priority > 0][-1].t
            b.wait_for_state("VI_1", "MASTER", timeout=2.0, since=mark)
            result = Result(
                daemon,
                version,
                advert_int,
                fault,
                garp.t - t_fault,
                garp.t - reference,
                t_fault - before[-1].t,
                inject_s,
            )
            b_first = [s for s in live.frames if s.kind == "advert" and s.src_mac == mac_b]
            if b_first:
                result.garp_after_advert = garp.t - b_first[0].t
            result.b_states = list(_states_since(b, mark))
            result.odd = self.oddities(live, a_adverts, t_fault, garp, result, mac_b)
            return result
        finally:
            for d in (b, a):
                if d is not None:
                    with contextlib.suppress(Exception):
                        d.stop(timeout=10.0)
            cap.stop()

    def inject(self, a: Keepalived, fault: str) -> tuple[float, float]:
        """Inject ``fault`` on A; return (time.time() right before it, seconds it took)."""
        topo = self.topo
        ns = topo.netns("A")
        assert a.proc is not None
        t0 = time.time()
        if fault == "kill":
            os.killpg(a.proc.pid, signal.SIGKILL)
        elif fault == "term":
            os.kill(a.pid, signal.SIGTERM)
        elif fault == "link":
            subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "down"], check=True)
        elif fault == "nft":
            subprocess.run(
                ["ip", "netns", "exec", ns, "nft", "add rule inet lab out ip protocol vrrp drop"],
                check=True,
            )
        else:
            raise ValueError(fault)
        return t0, time.time() - t0

    def oddities(
        self,
        live: LiveCapture,
        a_adverts: list[Seen],
        t_fault: float,
        garp: Seen,
        result: Result,
        mac_b: bytes,
    ) -> list[str]:
        odd = []
        late = [s for s in a_adverts if s.t > t_fault + result.inject_s + 0.001 and s.priority > 0]
        if late:
            odd.append(f"A's advert seen {late[0].t - t_fault:.3f}s after the fault")
        b_adverts_before = [
            s for s in live.frames if s.kind == "advert" and s.src_mac == mac_b and s.t < t_fault
        ]
        if b_adverts_before:
            odd.append(f"B advertised {t_fault - b_adverts_before[0].t:.3f}s before the fault")
        if [s for s in result.b_states if s != ("VI_1", "MASTER")]:
            odd.append(f"B's transitions after the fault: {result.b_states}")
        bound_s = bound(result.fault, result.advert_int)
        if result.last_advert_to_garp < bound_s - 0.001:
            odd.append(
                f"B took over {1000 * (bound_s - result.last_advert_to_garp):.1f} ms "
                "before the bound"
            )
        return odd


def _states_since(d: Keepalived, mark: int) -> Iterator[tuple[str, str]]:
    from lab.keepalived import _STATE_RE

    for m in _STATE_RE.finditer(d.log_text(), mark):
        yield (m["instance"], m["state"] or m["fault"])


# --- the entry -----------------------------------------------------------------------------


def unavailable() -> str:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for program in ("keepalived", "tcpdump", "nft", "ip"):
        if shutil.which(program) is None:
            return f"{program} is not installed"
    return ""


def measure(
    intervals: Sequence[tuple[int, float]],
    faults: Sequence[str],
    repeats: int,
    log: Callable[[str], None] = print,
) -> list[Result]:
    """Every (interval, fault, daemon) ``repeats`` times, interleaving the daemons."""
    results: list[Result] = []
    with (
        tempfile.TemporaryDirectory(prefix="pykad-bench-failover-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        lab = Lab(stack, Path(tmp))
        for version, advert_int in intervals:
            for fault in faults:
                for i in range(repeats):
                    for daemon in DAEMONS:
                        try:
                            r = lab.repeat(daemon, version, advert_int, fault)
                        except Exception as exc:  # one bad repeat is reported, not fatal
                            log(f"  {daemon} v{version} {advert_int:g}s {fault} #{i}: FAILED {exc}")
                            r = Result(daemon, version, advert_int, fault, float("nan"), 0, 0, 0)
                            r.odd.append(f"failed: {str(exc).splitlines()[0]}")
                        else:
                            log(
                                f"  {daemon:10} v{version} {advert_int:g}s {fault:4} #{i}: "
                                f"fault->GARP {1000 * r.fault_to_garp:8.1f} ms, "
                                f"advert->GARP {1000 * r.last_advert_to_garp:8.1f} ms "
                                f"(bound {1000 * bound(fault, advert_int):.1f}), "
                                f"phase {1000 * r.phase:.1f} ms, inject {1000 * r.inject_s:.1f} ms"
                                f", B's GARP - B's advert {1000 * r.garp_after_advert:.2f} ms"
                                + (f"  ODD: {'; '.join(r.odd)}" if r.odd else "")
                            )
                        results.append(r)
    return results


def _ok(results: Sequence[Result]) -> list[Result]:
    return [r for r in results if r.fault_to_garp == r.fault_to_garp]  # not NaN


def _ms(values: Sequence[float]) -> Sample | None:
    return Sample(tuple(1000 * v for v in values)) if values else None


def rows_and_notes(results: Sequence[Result], repeats: int) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    combos = list(dict.fromkeys((r.version, r.advert_int, r.fault) for r in results))
    fmt = "{:,.1f}"
    for version, advert_int, fault in combos:
        by = {
            d: [
                r
                for r in results
                if (r.version, r.advert_int, r.fault, r.daemon) == (version, advert_int, fault, d)
            ]
            for d in DAEMONS
        }
        ok = {d: _ok(rs) for d, rs in by.items()}
        failed = {d: len(by[d]) - len(ok[d]) for d in DAEMONS}
        label = f"VRRPv{version} {advert_int * 1000:g} ms, {FAULTS[fault]}"
        b_ms = 1000 * bound(fault, advert_int)
        f2g = {d: _ms([r.fault_to_garp for r in ok[d]]) for d in DAEMONS}
        dist = {
            d: _ms([r.last_advert_to_garp - bound(fault, advert_int) for r in ok[d]])
            for d in DAEMONS
        }

        def cell(s: Sample | None, d: str, failed: dict[str, int] = failed) -> str:
            text = s.text(fmt) if s else "-"
            return text + (f", {failed[d]} failed" if failed[d] else "")

        p, k = f2g["pykad"], f2g["keepalived"]
        ratio = ""
        if p and k and k.median:
            ratio = f"{p.median / k.median:.3f} ({p.median - k.median:+.1f} ms)"
        reference = "priority-0 advert" if fault == "term" else "last advert"
        verdict = ""
        if p and k:
            verdict = "yes" if p.median <= k.median else "no"
        rows.append(
            Row(
                f"{label}: fault -> backup's first GARP (ms)",
                cell(p, "pykad"),
                cell(k, "keepalived"),
                ratio,
                f"pykad <= keepalived ({verdict})" if verdict else "pykad <= keepalived",
            )
        )
        pd, kd = dist["pykad"], dist["keepalived"]
        within = ""
        if pd:
            within = " (yes)" if abs(pd.median) <= 2.0 else " (no)"
        rows.append(
            Row(
                f"... A's {reference} -> GARP, minus the bound {b_ms:,.1f} ms (ms)",
                cell(pd, "pykad"),
                cell(kd, "keepalived"),
                "",
                f"within 2 ms{within}",
            )
        )
    phases = [r.phase for r in _ok(results) if r.fault != "term"]
    injects = {f: [r.inject_s for r in _ok(results) if r.fault == f] for f in FAULTS if f != "term"}
    notes.append(
        f"Both daemons as the pair (A priority 200 master, B priority 100 backup, VRID {VRID}, "
        f"VIP {VIP}), {repeats} repeats per cell, pykad and keepalived {KEEPALIVED_VERSION} "
        "interleaved, fresh daemons every repeat; namespaces A, B, C on one flooding bridge. "
        "Failover: from `time.time()` right before the fault to the backup's first gratuitous "
        "ARP for the VIP in the observer's `tcpdump` capture (same clock). The fault is "
        "injected right after the observer's packet socket wakes on one of A's adverts "
        f"(median {1000 * statistics.median(phases) if phases else float('nan'):.2f} ms after "
        "it in the capture), so the ideal failover is the bound minus that phase for "
        "kill/link/nft."
    )
    notes.append(
        "Faults on A: kill -9 = SIGKILL to the daemon's process group; link down = "
        "`ip -n A link set eth0 down`; nft drop = a rule `ip protocol vrrp drop` in an "
        "inet output chain (priority -300) on the *master's output* (A stays MASTER); "
        "SIGTERM = the daemon's parent stopped, it sends priority-0 adverts. Time to inject "
        "(median): "
        + ", ".join(f"{f} {1000 * statistics.median(v):.1f} ms" for f, v in injects.items() if v)
        + " (part of the fault -> GARP time)."
    )
    notes.append(
        "Bound (RFC 5798/9568 6.1, for the backup's priority 100): master-down interval "
        "3 x advert_int + (256 - 100) x advert_int / 256 after A's last advert; after a "
        "priority-0 advert, the skew time (256 - 100) x advert_int / 256. The second row of "
        "each fault is measured on the capture alone (A's advert to B's GARP): positive = "
        "slower than the protocol, negative = earlier."
    )
    gaps = {
        d: [r.garp_after_advert for r in _ok(results) if r.daemon == d and r.garp_after_advert >= 0]
        for d in DAEMONS
    }
    zero = {
        d: [
            r.fault_to_garp - r.last_advert_to_garp
            for r in _ok(results)
            if r.daemon == d and r.fault == "term"
        ]
        for d in DAEMONS
    }
    if any(zero.values()):
        notes.append(
            "SIGTERM to A's parent -> A's priority-0 advert on the wire (median, min-max, all "
            "SIGTERM cells): "
            + "; ".join(f"{d} {s.text('{:.3f}')} ms" for d in DAEMONS if (s := _ms(zero[d])))
            + "."
        )
    notes.append(
        "On taking over, the backup sends its first advert, then its first GARP; the GARP "
        "came after that advert by (median, min-max): "
        + "; ".join(f"{d} {s.text('{:.2f}')} ms" for d in DAEMONS if (s := _ms(gaps[d])))
        + "."
    )
    odd = [
        f"{r.daemon} v{r.version} {r.advert_int * 1000:g} ms {r.fault}: {'; '.join(r.odd)}"
        for r in results
        if r.odd
    ]
    if odd:
        notes.append("Odd repeats: " + " | ".join(odd[:20]) + (" ..." if len(odd) > 20 else ""))
    return rows, notes


def failover(quick: bool) -> tuple[str, list[Row], list[str]]:
    title = "VRRP failover time"
    why_not = unavailable()
    if why_not:
        return title, [], [f"Not measured: {why_not}."]
    repeats = 3 if quick else 10
    intervals = INTERVALS_QUICK if quick else INTERVALS_FULL
    load0, t0 = os.getloadavg()[0], time.monotonic()
    results = measure(intervals, list(FAULTS), repeats)
    rows, notes = rows_and_notes(results, repeats)
    notes.append(
        f"Run took {(time.monotonic() - t0) / 60:.1f} min; 1-minute load average "
        f"{load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end (2 cores, shared)."
    )
    return title, rows, notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="failover time, pykad vs keepalived")
    parser.add_argument("--intervals", type=float, nargs="*", default=[1.0, 0.01])
    parser.add_argument("--faults", nargs="*", choices=list(FAULTS), default=list(FAULTS))
    parser.add_argument("-n", "--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    intervals = [(2 if i >= 1 else 3, i) for i in args.intervals]
    results = measure(intervals, args.faults, args.repeats)
    rows, notes = rows_and_notes(results, args.repeats)
    for row in rows:
        print(f"{row.metric}: pykad {row.pykad} | keepalived {row.keepalived} | {row.goal}")
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
