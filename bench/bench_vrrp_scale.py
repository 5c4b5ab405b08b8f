"""Side-by-side entry ``vrrp_scale``: whole VRRP daemons at 1 to 1,000 instances.

Two routers in network namespaces, a master A (priority 200) and a backup B
(priority 100), joined by veth links (VRIDs are per interface: up to 250
instances per link, so 1,000 instances use 4 links); every instance has its own
VRID and one VIP from 198.19.0.0/16, VRRPv3, at advert_int 1 s and 10 ms. The
same config runs under pykad and under keepalived 2.2.7. For each daemon and
each size this measures, over a window after convergence:

- CPU (% of one core, utime + stime from /proc/PID/stat) and VmRSS of the VRRP
  process of master and backup (keepalived: its VRRP child, pid from ``-r``);
- the adverts/s that reached the backup (an nft counter in B's input hook:
  ``ip protocol vrrp counter``) against the N / advert_int owed;
- spurious transitions (any state line in either log during the window; an
  "Entering MASTER STATE" on the backup in particular) and VIPs on the backup;
- with 1,000 instances, the time from starting the master to all its VIPs up.

Run alone for a profile of pykad under load (py-spy must be in the venv)::

    sudo .venv/bin/python bench/bench_vrrp_scale.py --profile [-n 1000] [--interval 0.01]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if __name__ == "__main__":  # run alone: find sidebyside and the labs as sidebyside.py does
    _ROOT = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(_ROOT / "tests"))
    sys.path.insert(0, str(_ROOT / "bench"))

from sidebyside import Row

if TYPE_CHECKING:
    from lab.keepalived import Keepalived  # type: ignore[import-not-found, unused-ignore]
    from lab.netns import Topology  # type: ignore[import-not-found, unused-ignore]

KEEPALIVED_VERSION = "2.2.7"
PER_LINK = 250  # VRIDs 1-255 per interface: 250 instances a link
MASTER_PRIORITY, BACKUP_PRIORITY = 200, 100
SIZES = (1, 100, 1000)
INTERVALS = (1.0, 0.01)
FULL_WINDOW, QUICK_WINDOW = 60.0, 5.0  # the goal: no spurious transition over a minute
SETTLE = 6.0  # after convergence: past keepalived's garp_master_delay (5 s) second GARP round
STATE_RE = re.compile(
    r"\((?P<instance>[^()\s]+)\):? (?:Entering (?P<state>MASTER|BACKUP) STATE"
    r"|[Ee]ntering (?P<fault>FAULT) (?:state|STATE))"
)
SETTING_VIPS_RE = re.compile(r"\([^()\s]+\) setting VIPs")
RX_PACKETS, TX_PACKETS = 1, 9  # columns of /proc/PID/net/dev after the colon
Program = Sequence[str] | None
"""A daemon's command (pykad: ``(PYKAD,)``); None is keepalived."""


# --- the configuration ---------------------------------------------------------------


def links_for(instances: int) -> int:
    return -(-instances // PER_LINK)


def config(instances: int, priority: int, advert_int: float) -> str:
    """keepalived.conf: ``instances`` VRRPv3 instances, 250 per link, one VIP each."""
    blocks = []
    for i in range(instances):
        link, vrid = divmod(i, PER_LINK)
        blocks.append(
            f"vrrp_instance VI_{i} {{\n interface eth{link}\n virtual_router_id {vrid + 1}\n"
            f" priority {priority}\n version 3\n advert_int {advert_int:g}\n"
            f" virtual_ipaddress {{\n  198.19.{link}.{vrid + 1}/32\n }}\n}}\n"
        )
    return "global_defs {\n router_id bench\n}\n" + "".join(blocks)


# --- what /proc and nft say ------------------------------------------------------------


def cpu_times(pid: int) -> tuple[float, float]:
    """utime and stime of ``pid`` in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


def raw_drops(pid: int) -> int:
    """Packets dropped by the raw sockets of ``pid``'s namespace (receive queue full)."""
    lines = Path(f"/proc/{pid}/net/raw").read_text().splitlines()[1:]
    return sum(int(line.split()[-1]) for line in lines if line.strip())


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def if_packets(pid: int, column: int) -> int:
    """Sum over eth* of one column of /proc/PID/net/dev (the process's namespace)."""
    total = 0
    for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]:
        name, _, counters = line.partition(":")
        if name.strip().startswith("eth"):
            total += int(counters.split()[column])
    return total


NFT_COUNTER = "table inet lab {\n chain in {\n  type filter hook input priority -300;\n" \
    "  ip protocol vrrp counter\n }\n}\n"  # fmt: skip


def nft_packets(topo: Topology, node: str) -> int:
    out = topo.run(node, "nft", "-j", "list", "chain", "inet", "lab", "in").stdout
    for item in json.loads(out)["nftables"]:
        for expr in item.get("rule", {}).get("expr", ()):
            if "counter" in expr:
                return int(expr["counter"]["packets"])
    raise RuntimeError("no nft counter in inet lab in")


def vip_count(topo: Topology, node: str) -> int:
    out: str = topo.ip(node, "-4", "-o", "addr", "show").stdout
    return out.count(" 198.19.")


def state_lines(text: str) -> list[tuple[str, str]]:
    return [(m["instance"], m["state"] or m["fault"]) for m in STATE_RE.finditer(text)]


# --- one run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What one daemon did at one size."""

    instances: int
    advert_int: float
    window: float
    converged: bool
    vips_up_s: float | None
    """From starting the master to all its VIPs up (None: not within the time allowed)."""
    master_cpu: float
    backup_cpu: float
    master_sys: float
    backup_sys: float
    """The part of the CPU % spent in the kernel (stime)."""
    master_rss: float
    backup_rss: float
    received_rate: float
    sent_rate: float
    backup_drops: float
    """Adverts/s the backup's raw sockets dropped (receive queue full)."""
    spurious: int
    """State lines in either log during the window."""
    backup_masters: int
    """"Entering MASTER STATE" lines in the backup's log during the window."""
    backup_set_vips: int
    vips_on_backup: int

    @property
    def owed(self) -> float:
        return self.instances / self.advert_int


def _wait(predicate: object, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    assert callable(predicate)
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class Pair:
    """Master A and backup B of one size, always torn down.

    ``programs`` are the master's and the backup's command (None: keepalived); a
    mixed pair isolates one side (a keepalived backup does not fall behind).
    """

    def __init__(self, workdir: Path, programs: tuple[Program, Program]) -> None:
        from lab.keepalived import KeepalivedLab
        from lab.netns import Topology

        self.topo = Topology(workdir / "netns")
        self.lab = KeepalivedLab(workdir / "daemons")
        self.programs = {"A": programs[0], "B": programs[1]}

    def close(self) -> None:
        try:
            self.lab.close()
        finally:
            self.topo.close()

    def __enter__(self) -> Pair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def build(self, instances: int) -> None:
        topo = self.topo
        topo.add_node("A")
        topo.add_node("B")
        for link in range(links_for(instances)):
            topo.add_veth("A", f"eth{link}", "B", f"eth{link}")
            topo.add_address("A", f"eth{link}", f"198.18.{link}.1/24")
            topo.add_address("B", f"eth{link}", f"198.18.{link}.2/24")
        topo.nft("B", NFT_COUNTER)

    def start(self, node: str, text: str) -> Keepalived:
        chosen = self.programs[node]
        program = ("keepalived",) if chosen is None else tuple(chosen)
        daemon: Keepalived = self.lab.start(
            (self.topo, node), text, name=node, subsystems={"vrrp"}, timeout=120, program=program
        )
        return daemon

    def converge(
        self, instances: int, advert_int: float
    ) -> tuple[Keepalived, Keepalived, float | None, bool]:
        """Start A, wait for its VIPs, start B, wait until B follows every instance."""
        t0 = time.monotonic()
        master = self.start("A", config(instances, MASTER_PRIORITY, advert_int))
        up = _wait(lambda: vip_count(self.topo, "A") >= instances, timeout=120)
        vips_up_s = time.monotonic() - t0 if up else None
        backup = self.start("B", config(instances, BACKUP_PRIORITY, advert_int))

        def following() -> bool:
            states = state_lines(backup.log_text())
            last = dict(states)
            return len(last) >= instances and all(s == "BACKUP" for s in last.values())

        converged = up and _wait(following, timeout=max(30.0, 10 * advert_int), interval=0.1)
        return master, backup, vips_up_s, converged


def measure(
    programs: tuple[Program, Program],
    instances: int,
    advert_int: float,
    window: float,
    workdir: Path,
) -> Run:
    """Master and backup (``programs``; None = keepalived) at ``instances`` x ``advert_int``."""
    with Pair(workdir, programs) as pair:
        pair.build(instances)
        master, backup, vips_up_s, converged = pair.converge(instances, advert_int)
        time.sleep(SETTLE)
        pids = {"A": master.child_pids()["vrrp"], "B": backup.child_pids()["vrrp"]}
        marks = {"A": master.log_mark(), "B": backup.log_mark()}
        cpu0 = {n: cpu_times(p) for n, p in pids.items()}
        drops0 = raw_drops(pids["B"])
        rx0, tx0 = nft_packets(pair.topo, "B"), if_packets(pids["A"], TX_PACKETS)
        t0 = time.monotonic()
        time.sleep(window)
        elapsed = time.monotonic() - t0
        cpu1 = {n: cpu_times(p) for n, p in pids.items()}
        drops = raw_drops(pids["B"]) - drops0
        cpu = {n: (sum(cpu1[n]) - sum(cpu0[n])) / elapsed for n in pids}
        sys_ = {n: (cpu1[n][1] - cpu0[n][1]) / elapsed for n in pids}
        received = nft_packets(pair.topo, "B") - rx0
        sent = if_packets(pids["A"], TX_PACKETS) - tx0
        rss = {n: rss_mib(p) for n, p in pids.items()}
        in_window = {"A": master.log_text()[marks["A"] :], "B": backup.log_text()[marks["B"] :]}
        changes = {n: state_lines(t) for n, t in in_window.items()}
        vips_on_backup = vip_count(pair.topo, "B")
    return Run(
        instances=instances,
        advert_int=advert_int,
        window=elapsed,
        converged=converged,
        vips_up_s=vips_up_s,
        master_cpu=cpu["A"] * 100,
        backup_cpu=cpu["B"] * 100,
        master_sys=sys_["A"] * 100,
        backup_sys=sys_["B"] * 100,
        master_rss=rss["A"],
        backup_rss=rss["B"],
        received_rate=received / elapsed,
        sent_rate=sent / elapsed,
        backup_drops=drops / elapsed,
        spurious=len(changes["A"]) + len(changes["B"]),
        backup_masters=sum(1 for _, s in changes["B"] if s == "MASTER"),
        backup_set_vips=len(SETTING_VIPS_RE.findall(in_window["B"])),
        vips_on_backup=vips_on_backup,
    )


# --- the entry -------------------------------------------------------------------------


def _interval_text(advert_int: float) -> str:
    return f"{advert_int:g} s" if advert_int >= 1 else f"{advert_int * 1000:g} ms"


def _ratio(p: float, k: float) -> str:
    return f"{p / k:.2f}" if k > 0 else ""


def _pair_text(a: float, b: float, fmt: str) -> str:
    return f"{fmt.format(a)} / {fmt.format(b)}"


def _health(r: Run) -> str:
    text = f"{r.spurious} / {r.vips_on_backup}"
    if not r.converged:
        text += " (never converged)"
    if r.backup_masters or r.backup_set_vips:
        text += f"; backup: {r.backup_masters} MASTER, {r.backup_set_vips} setting VIPs"
    return text


def rows_for(p: Run, k: Run | None) -> list[Row]:
    label = f"{p.instances:,} x {_interval_text(p.advert_int)}"
    goal_1000_10ms = p.instances == 1000 and p.advert_int < 1
    rows = [
        Row(
            f"{label}: CPU % of a core, master / backup",
            _pair_text(p.master_cpu, p.backup_cpu, "{:.1f}"),
            _pair_text(k.master_cpu, k.backup_cpu, "{:.1f}") if k else "",
            f"{_ratio(p.master_cpu, k.master_cpu)} / {_ratio(p.backup_cpu, k.backup_cpu)}"
            if k
            else "",
            "< keepalived" if goal_1000_10ms else "",
        ),
        Row(
            f"{label}: ... of which in the kernel (stime), master / backup",
            _pair_text(p.master_sys, p.backup_sys, "{:.1f}"),
            _pair_text(k.master_sys, k.backup_sys, "{:.1f}") if k else "",
            "",
            "",
        ),
        Row(
            f"{label}: VmRSS MiB, master / backup",
            _pair_text(p.master_rss, p.backup_rss, "{:.1f}"),
            _pair_text(k.master_rss, k.backup_rss, "{:.1f}") if k else "",
            f"{_ratio(p.master_rss, k.master_rss)} / {_ratio(p.backup_rss, k.backup_rss)}"
            if k
            else "",
            "",
        ),
        Row(
            f"{label}: adverts/s reaching the backup (owed {p.owed:,.0f})",
            f"{p.received_rate:,.0f}",
            f"{k.received_rate:,.0f}" if k else "",
            _ratio(p.received_rate, k.received_rate) if k else "",
            f"{p.owed:,.0f}",
        ),
        Row(
            f"{label}: adverts/s dropped by the backup's raw sockets (queue full)",
            f"{p.backup_drops:,.0f}",
            f"{k.backup_drops:,.0f}" if k else "",
            "",
            "0",
        ),
        Row(
            f"{label}: spurious transitions in the window / VIPs on the backup",
            _health(p),
            _health(k) if k else "",
            "",
            "0 / 0",
        ),
    ]
    if p.instances >= 1000:
        pv, kv = p.vips_up_s, k.vips_up_s if k else None
        rows.append(
            Row(
                f"{label}: start of the master to all {p.instances:,} VIPs up (s)",
                f"{pv:.2f}" if pv is not None else "not within 120 s",
                f"{kv:.2f}" if kv is not None else ("not within 120 s" if k else ""),
                _ratio(pv, kv) if pv is not None and kv is not None else "",
                "",
            )
        )
    return rows


def vrrp_scale(quick: bool) -> tuple[str, list[Row], list[str]]:
    from lab.keepalived import PYKAD

    sizes = (100, 1000) if quick else SIZES
    window = QUICK_WINDOW if quick else FULL_WINDOW
    why_not = keepalived_unavailable()
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pykad-bench-scale-") as tmp:
        for instances in sizes:
            for advert_int in INTERVALS:
                tag = f"{instances}-{advert_int:g}"
                print(f"   {tag}: pykad", flush=True)
                p = measure(
                    ((PYKAD,), (PYKAD,)), instances, advert_int, window, Path(tmp) / f"p{tag}"
                )
                k = None
                if not why_not:
                    print(f"   {tag}: keepalived", flush=True)
                    k = measure((None, None), instances, advert_int, window, Path(tmp) / f"k{tag}")
                print(f"   {p}\n   {k}", flush=True)
                rows += rows_for(p, k)
                for name, r in (("pykad", p), ("keepalived", k)):
                    if r is not None and abs(r.sent_rate - r.received_rate) > 0.02 * r.owed:
                        notes.append(
                            f"{name} {tag}: master's interfaces sent {r.sent_rate:,.0f} "
                            f"packets/s, backup counted {r.received_rate:,.0f} VRRP/s."
                        )
    if why_not:
        notes.append(f"keepalived not measured: {why_not}.")
    notes.insert(
        0,
        f"Master A (priority {MASTER_PRIORITY}) and backup B (priority {BACKUP_PRIORITY}) in "
        f"network namespaces joined by veth links, {PER_LINK} VRIDs a link (4 links for "
        "1,000 instances); VRRPv3, one /32 VIP each from 198.19.0.0/16; the same "
        f"keepalived.conf for pykad and keepalived {KEEPALIVED_VERSION}. The master starts "
        "first (its VIPs are timed), then the backup; once the backup logs BACKUP for every "
        f"instance, {SETTLE:g} s to settle, then a {window:g} s window (one run per cell). "
        "CPU: utime+stime of the VRRP process (keepalived's VRRP child, pid from -r; pykad "
        "is one process) over the window; RSS: VmRSS at its end. Adverts: an nft counter "
        "(`ip protocol vrrp counter`) in the backup's input hook. Spurious transitions: "
        "state lines in either daemon's log during the window (0 means both stayed put); "
        "VIPs on the backup at the end of the window.",
    )
    notes[1:1] = [
        "Goal: pykad holds 1,000 x 10 ms (100,000 adverts/s reach the backup, no state "
        "change in the window, no VIP on the backup) with less CPU than keepalived.",
        "Kernel time: on veth the receiver's softirq mostly runs in the sending process's "
        "context, so a master's stime includes much of the backup's kernel receive work "
        "(keepalived's master at 1,000 x 10 ms is mostly stime); packets dropped early cost "
        "the sender less. Raw-socket drops: the drops column of /proc/PID/net/raw in the "
        "backup's namespace (its receive queue was full).",
        "Profile pykad under load: `sudo .venv/bin/python bench/bench_vrrp_scale.py "
        "--profile [-n 1000] [--interval 0.01] [--peer keepalived]` (py-spy; with a "
        "keepalived peer, one pykad side at a time).",
    ]
    title = "VRRP at scale: whole daemons, 1 to 1,000 instances"
    return title, rows, [f"- {note}" for note in notes]


def keepalived_unavailable() -> str:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    if shutil.which("keepalived") is None:
        return "keepalived is not installed"
    return ""


# --- profiling pykad under load --------------------------------------------------------


def _py_spy() -> str:
    path = Path(sys.executable).with_name("py-spy")
    if not path.exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return str(path)


def summarize_raw(path: Path, rate: int, seconds: float, top: int = 25) -> str:
    """Self and inclusive time per function and per line from py-spy's raw (collapsed) output."""
    self_fn: collections.Counter[str] = collections.Counter()
    incl_fn: collections.Counter[str] = collections.Counter()
    self_line: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        seen = set()
        for frame in frames:
            fn = re.sub(r":\d+\)$", ")", frame)
            if fn not in seen:
                incl_fn[fn] += count
                seen.add(fn)
        self_line[frames[-1]] += count
        self_fn[re.sub(r":\d+\)$", ")", frames[-1])] += count
    possible = rate * seconds
    out = [
        f"{path.name}: {total} samples of {possible:.0f} possible at {rate} Hz over "
        f"{seconds:g} s = {100 * total / possible:.1f} % of a core busy in Python frames"
    ]

    def table(title: str, counter: collections.Counter[str]) -> None:
        out.append(f"  {title} (% of a core, % of busy samples):")
        for name, n in counter.most_common(top):
            out.append(f"    {100 * n / possible:6.1f} {100 * n / max(total, 1):6.1f}  {name}")

    table("self, by function", self_fn)
    table("self, by line", self_line)
    table("inclusive, by function", incl_fn)
    return "\n".join(out)


def profile(
    instances: int,
    advert_int: float,
    seconds: float,
    rate: int,
    outdir: Path,
    *,
    peer: str = "pykad",
    sides: Sequence[str] = ("A", "B"),
) -> None:
    """py-spy pykad's master (A) and backup (B) at ``instances`` x ``advert_int``.

    With ``peer="keepalived"`` the other side of each profiled pykad is keepalived
    (one pair per side), so one side is seen without the other's faults.
    """
    from lab.keepalived import PYKAD

    outdir.mkdir(parents=True, exist_ok=True)
    for node in sides:
        other: Program = (PYKAD,) if peer == "pykad" else None
        programs: tuple[Program, Program] = ((PYKAD,), other) if node == "A" else (other, (PYKAD,))
        with (
            tempfile.TemporaryDirectory(prefix="pykad-bench-prof-") as tmp,
            Pair(Path(tmp), programs) as pair,
        ):
            pair.build(instances)
            master, backup, vips_up_s, converged = pair.converge(instances, advert_int)
            print(f"VIPs up after {vips_up_s} s; converged: {converged}", flush=True)
            time.sleep(SETTLE)
            pids = {"A": master.child_pids()["vrrp"], "B": backup.child_pids()["vrrp"]}
            pid = pids[node]
            raw = outdir / f"pyspy-{node}-{instances}x{advert_int:g}-peer-{peer}.txt"
            marks = {"A": master.log_mark(), "B": backup.log_mark()}
            rx0, drops0 = nft_packets(pair.topo, "B"), raw_drops(pids["B"])
            cpu0 = {n: cpu_times(p) for n, p in pids.items()}
            t0 = time.monotonic()
            subprocess.run(
                [_py_spy(), "record", "--pid", str(pid), "--rate", str(rate), "--duration",
                 f"{seconds:g}", "--format", "raw", "--nonblocking", "--output", str(raw)],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            elapsed = time.monotonic() - t0
            cpu1 = {n: cpu_times(p) for n, p in pids.items()}
            cpu = {n: 100 * (sum(cpu1[n]) - sum(cpu0[n])) / elapsed for n in pids}
            sys_ = {n: 100 * (cpu1[n][1] - cpu0[n][1]) / elapsed for n in pids}
            rx = (nft_packets(pair.topo, "B") - rx0) / elapsed
            drops = (raw_drops(pids["B"]) - drops0) / elapsed
            changes = {
                n: len(state_lines(d.log_text()[marks[n] :]))
                for n, d in (("A", master), ("B", backup))
            }
            role = "master" if node == "A" else "backup"
            print(
                f"== pykad {role} ({node}), peer {peer}: CPU % (stime) A {cpu['A']:.1f} "
                f"({sys_['A']:.1f}), B {cpu['B']:.1f} ({sys_['B']:.1f}) with py-spy on {node}; "
                f"adverts reaching B {rx:,.0f}/s of {instances / advert_int:,.0f}; B's raw "
                f"sockets dropped {drops:,.0f}/s; state lines A {changes['A']}, B {changes['B']}",
                flush=True,
            )
            print(summarize_raw(raw, rate, elapsed), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--profile", action="store_true", help="py-spy pykad under load")
    parser.add_argument("-n", "--instances", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.01, help="advert_int (s)")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples/s")
    parser.add_argument("--outdir", type=Path, default=Path("/tmp/pykad-vrrp-scale-profile"))
    parser.add_argument("--peer", choices=("pykad", "keepalived"), default="pykad")
    parser.add_argument("--side", choices=("A", "B", "both"), default="both")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.profile:
        sides = ("A", "B") if args.side == "both" else (args.side,)
        profile(
            args.instances,
            args.interval,
            args.seconds,
            args.rate,
            args.outdir,
            peer=args.peer,
            sides=sides,
        )
        return 0
    from sidebyside import main as sidebyside_main

    return sidebyside_main(["vrrp_scale", *(["--quick"] if args.quick else [])])


if __name__ == "__main__":
    sys.exit(main())
