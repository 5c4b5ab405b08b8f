"""The demo behind ``./dev demo``: a VRRP failover with pykad, measured, next to keepalived's.

1. Builds a LAN in network namespaces: routers A (192.0.2.1) and B (192.0.2.2)
   and an observer C that captures with tcpdump, all on one bridge.
2. Runs pykad on A and B from the shipped configs ``conf/demo/router-a.conf``
   (priority 150) and ``router-b.conf`` (priority 100): VRRPv3, 50 ms adverts,
   VIP 192.0.2.10. A becomes master.
3. Kills A with SIGKILL and measures, from the kill to B's first gratuitous ARP
   seen by the observer, how long the VIP was unreachable; restarts A (it
   preempts), then stops it with SIGTERM (a priority 0 advert: B takes over
   after its skew time) and measures again.
4. Does the same with keepalived 2.2.7 on the same configs, and prints both
   next to the protocol's bounds (RFC 5798 section 6.1).
5. BFD-driven takeover: A and B again, now with 1 s adverts (VRRPv2) and a BFD
   session between them (10 ms x 3) from ``conf/demo/bfd-router-a.conf`` and
   ``bfd-router-b.conf``; B has ``pykad_bfd_takeover``.  Kills A and measures
   B's takeover: pykad's B acts on the BFD Down; keepalived's B ignores the
   keyword and waits for its master-down timer (3 x 1 s plus skew).
6. Load balancing (``bench/demo_lb.py``, in the IPVS VM lab): pykad -C runs
   ``conf/demo/lb.conf`` (a virtual IP, three web servers, HTTP_GET checks);
   requests to the VIP spread over them; one web server stops and pykad's
   checker takes it out of the kernel's IPVS table within its bound; it starts
   again and comes back.

Needs root (network namespaces). Everything it creates is removed at the end.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from lab.keepalived import PYKAD, Keepalived, KeepalivedLab  # noqa: E402
from lab.netns import Capture, Topology, wait_for  # noqa: E402
from pykad.tools.pcap import Frame  # noqa: E402
from pykad.vrrp.timers import master_down_interval_us, skew_time_us  # noqa: E402

CONFIGS = ROOT / "conf" / "demo"
VIP = "192.0.2.10"
BFD_VIP = "192.0.2.20"
ADVERT_US = 50_000
BACKUP_PRIORITY = 100


def first_garp_after(
    capture: Capture, t0: float, timeout: float = 10.0, address: str = VIP
) -> float:
    """Seconds from ``t0`` to the first gratuitous ARP for ``address`` the observer saw."""
    vip = bytes(int(x) for x in address.split("."))

    def garp(f: Frame) -> bool:
        d = f.data
        return len(d) >= 42 and d[12:14] == b"\x08\x06" and d[28:32] == vip and f.timestamp > t0

    def found() -> float | None:
        times = [f.timestamp for f in capture.packets() if garp(f)]
        return min(times) - t0 if times else None

    return wait_for(found, timeout=timeout, message="the backup's gratuitous ARP")


@dataclass
class Run:
    name: str
    kill_ms: float
    term_ms: float


def holders(topo: Topology) -> str:
    nodes = [n for n in ("A", "B") if any(str(a.ip) == VIP for a in topo.addresses(n, "eth0"))]
    return ", ".join(nodes) or "nobody"


def failovers(name: str, program: tuple[str, ...], workdir: Path) -> Run:
    print(f"\n== {name}: routers A (priority 150) and B (priority 100), observer C")
    with Topology(workdir / f"{name}-netns") as topo, KeepalivedLab(workdir / name) as lab:
        topo.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24", "C": "192.0.2.100/24"})
        capture = topo.capture("C", "eth0", "arp or ip proto 112", extra_args=["-tt"])

        def start(node: str, n: int) -> Keepalived:
            config = (CONFIGS / f"router-{node.lower()}.conf").read_text()
            return lab.start((topo, node), config, name=f"{node}{n}", program=program)

        a, b = start("A", 1), start("B", 1)
        a.wait_for_state("VI_1", "MASTER", timeout=10)
        b.wait_for_state("VI_1", "BACKUP", timeout=10)
        wait_for(lambda: holders(topo) == "A", timeout=5, message="the VIP on A")
        print(f"   A is MASTER, B is BACKUP; the VIP {VIP} is on: {holders(topo)}")

        mark = b.log_mark()
        t0 = time.time()
        a.kill()
        kill_s = first_garp_after(capture, t0)
        b.wait_for_state("VI_1", "MASTER", timeout=5, since=mark)
        print(f"   kill -9 of A: B sent its first gratuitous ARP {kill_s * 1000:.1f} ms later")
        print(f"   (the killed A keeps its VIP on its interface; holders now: {holders(topo)})")

        a = start("A", 2)
        a.wait_for_state("VI_1", "MASTER", timeout=10)
        wait_for(lambda: holders(topo) == "A", timeout=5, message="the VIP back on A")
        print(f"   A restarted, removed its stale VIP and preempted B; holders: {holders(topo)}")

        mark = b.log_mark()
        t0 = time.time()
        a.stop()
        term_s = first_garp_after(capture, t0)
        b.wait_for_state("VI_1", "MASTER", timeout=5, since=mark)
        wait_for(lambda: holders(topo) == "B", timeout=5, message="the VIP on B only")
        print(
            f"   SIGTERM of A (priority 0 advert): B's first gratuitous ARP after"
            f" {term_s * 1000:.1f} ms; holders: {holders(topo)}"
        )
        return Run(name, kill_s * 1000, term_s * 1000)


def bfd_takeover(name: str, program: tuple[str, ...], workdir: Path) -> float:
    print(f"\n== {name}: VRRPv2 at 1 s adverts, BFD 10 ms x 3 between A and B")
    with (
        Topology(workdir / f"{name}-bfd-netns") as topo,
        KeepalivedLab(workdir / f"{name}-bfd") as lab,
    ):
        topo.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24", "C": "192.0.2.100/24"})
        capture = topo.capture("C", "eth0", "arp", extra_args=["-tt"])
        a, b = (
            lab.start(
                (topo, node),
                (CONFIGS / f"bfd-router-{node.lower()}.conf").read_text(),
                name=f"{node}-bfd",
                program=program,
            )
            for node in ("A", "B")
        )
        a.wait_for_state("VI_2", "MASTER", timeout=15)
        b.wait_for_state("VI_2", "BACKUP", timeout=10)
        b.wait_for_log(r"\(to_a\) Entering Up state", timeout=10)
        time.sleep(1.5)  # B has heard A's adverts: it follows A as its master
        print("   A is MASTER, B is BACKUP, the BFD session is Up; kill -9 of A")
        t0 = time.time()
        a.kill()
        took = first_garp_after(capture, t0, address=BFD_VIP)
        print(f"   B sent its first gratuitous ARP {took * 1000:.1f} ms later")
        return took * 1000


def main() -> int:
    if os.geteuid() != 0:
        print("demo: needs root (it builds network namespaces)", file=sys.stderr)
        return 1
    print("pykad demo: VRRP failover in network namespaces")
    print(f"configs: {CONFIGS}/router-a.conf and router-b.conf (they run under keepalived too)")
    with tempfile.TemporaryDirectory(prefix="pykad-demo-") as tmp:
        runs = [
            failovers("pykad", (PYKAD,), Path(tmp)),
            failovers("keepalived", ("keepalived",), Path(tmp)),
        ]
        bfd = [
            ("pykad", bfd_takeover("pykad", (PYKAD,), Path(tmp))),
            ("keepalived", bfd_takeover("keepalived", ("keepalived",), Path(tmp))),
        ]
    down = master_down_interval_us(3, BACKUP_PRIORITY, ADVERT_US) / 1000
    skew = skew_time_us(3, BACKUP_PRIORITY, ADVERT_US) / 1000
    print("\n== failover time: fault to the backup's first gratuitous ARP (one run each)")
    print(f"   {'':<12}{'kill -9 of the master':>24}{'SIGTERM of the master':>24}")
    print(f"   {'bound':<12}{down:>21.1f} ms{skew:>21.1f} ms")
    for r in runs:
        print(f"   {r.name:<12}{r.kill_ms:>21.1f} ms{r.term_ms:>21.1f} ms")
    print("   (bench/sidebyside.py failover repeats this and reports medians in BENCHMARKS.md)")
    v2_down = master_down_interval_us(2, BACKUP_PRIORITY, 1_000_000) / 1000
    print("\n== BFD-driven takeover: kill -9 of the master to the backup's first gratuitous ARP")
    print(
        f"   {'bound':<12}{30:>21.1f} ms  (BFD detection, 3 x 10 ms; without BFD {v2_down:.0f} ms)"
    )
    for name, ms in bfd:
        print(f"   {name:<12}{ms:>21.1f} ms")
    print("\n== load balancing: pykad's IPVS and health checks (in the IPVS VM lab)")
    print(f"   config: {CONFIGS}/lb.conf")
    import demo_lb

    return demo_lb.run()


if __name__ == "__main__":
    sys.exit(main())
