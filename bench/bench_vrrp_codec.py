"""Side-by-side entry ``vrrp_codec``: advert decode/encode rate vs keepalived's needs.

keepalived's VRRP process at 1000 instances x 10 ms adverts must take in
100,000 adverts a second on a backup (and send as many on a master). pykad's
codec rates (pure Python and Cython) are measured here and set against that
rate; keepalived's own cost per received advert is measured in the same run
by running two real keepalived processes (master and backup, 1000 VRRPv3
instances at 10 ms) in network namespaces and reading the backup's VRRP
process CPU time and its interface's received-packet counter.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from sidebyside import Row, Sample

from pykad._fastpath import vrrp_wire as wire_cy
from pykad.vrrp import wire_py
from pykad.vrrp.advert import VRRP_MCAST_V4, Advert

KEEPALIVED_VERSION = "2.2.7"
INSTANCES = 1000
ADVERT_INT = 0.01
NEEDED_RATE = INSTANCES / ADVERT_INT  # adverts per second, each way

SRC = ipaddress.ip_address("192.0.2.1").packed
ADVERT = Advert(3, 51, 100, 1, (ipaddress.ip_address("192.0.2.10").packed,))


def rate(fn: Callable[[], object], n: int, repeats: int) -> Sample:
    """Calls per second of ``fn``, ``repeats`` times over ``n`` calls."""
    values = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        values.append(n / (time.perf_counter() - t0))
    return Sample(tuple(values))


def codec_rates(codec: ModuleType, n: int, repeats: int) -> tuple[Sample, Sample]:
    data = codec.encode(ADVERT, 4, SRC, VRRP_MCAST_V4)
    decode = codec.decode_untrusted
    encode = codec.encode
    dec = rate(lambda: decode(data, 4, SRC, VRRP_MCAST_V4), n, repeats)
    enc = rate(lambda: encode(ADVERT, 4, SRC, VRRP_MCAST_V4), n, repeats)
    return dec, enc


def vrrp_codec(quick: bool) -> tuple[str, list[Row], list[str]]:
    n, repeats = (20_000, 3) if quick else (200_000, 9)
    rows: list[Row] = []
    needed = f"needs {NEEDED_RATE:,.0f}/s"
    decode_cy: Sample | None = None
    for label, codec in (("Cython", wire_cy), ("pure Python", wire_py)):
        dec, enc = codec_rates(codec, n, repeats)
        decode_cy = decode_cy or dec
        for what, sample in (("decode", dec), ("encode", enc)):
            rows.append(
                Row(
                    f"VRRPv3 advert {what}, {label} (adverts/s)",
                    sample.text(),
                    needed,
                    f"{sample.median / NEEDED_RATE:.1f}x the need",
                    ">= 1x",
                )
            )
    notes = [
        f"keepalived's need: {INSTANCES} instances x {ADVERT_INT * 1000:.0f} ms adverts = "
        f"{NEEDED_RATE:,.0f} adverts/s received by a backup (and sent by a master).",
        f"Codec rates: {n:,} calls per repeat, {repeats} repeats, one core, in-process.",
    ]
    runs, seconds = (1, 3.0) if quick else (3, 5.0)
    why_not = keepalived_unavailable()
    if why_not:
        notes.append(f"keepalived not measured: {why_not}.")
        return "VRRP advert codec", rows, notes
    with tempfile.TemporaryDirectory(prefix="pykad-bench-") as tmp:
        results = [measure_keepalived(INSTANCES, seconds, Path(tmp) / str(i)) for i in range(runs)]

    def sample(key: str, scale: float = 1.0) -> Sample:
        return Sample(tuple(r[key] * scale for r in results))

    assert decode_cy is not None
    codec_us = Sample(tuple(1e6 / v for v in decode_cy.values))
    k_us = sample("backup_us_per_advert")
    rows += [
        Row(
            "CPU per received advert (us): pykad codec (Cython decode) vs keepalived's "
            "whole VRRP process",
            codec_us.text("{:.2f}"),
            k_us.text("{:.1f}"),
            f"{codec_us.median / k_us.median:.2f}",
            "",
        ),
        Row(
            f"keepalived at {INSTANCES} x {ADVERT_INT * 1000:.0f} ms: adverts/s a master sent",
            "",
            sample("sent_rate").text(),
            "",
            f"{NEEDED_RATE:,.0f}",
        ),
        Row(
            "... adverts/s its backup received",
            "",
            sample("received_rate").text(),
            "",
            f"{NEEDED_RATE:,.0f}",
        ),
        Row(
            "... master VRRP process CPU (%)",
            "",
            sample("master_cpu", 100).text("{:.0f}"),
            "",
            "",
        ),
        Row(
            "... backup VRRP process CPU (%)",
            "",
            sample("backup_cpu", 100).text("{:.0f}"),
            "",
            "",
        ),
        Row(
            "... VIPs held by the backup (should be 0)",
            "",
            sample("vips_on_backup").text(),
            "",
            "0",
        ),
    ]
    notes.append(
        f"keepalived: two real keepalived {KEEPALIVED_VERSION} daemons (master A, backup B) in "
        f"network namespaces joined by {LINKS} veth links, {INSTANCES} VRRPv3 instances "
        f"each; {runs} run(s) of {seconds:.0f} s after 3 s to settle; CPU from "
        "/proc/PID/stat of each VRRP child, packets from the namespaces' interface counters. "
        "pykad's figure is the codec alone, not yet a whole VRRP process (issue 4)."
    )
    return "VRRP advert codec", rows, notes


def keepalived_unavailable() -> str:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    if shutil.which("keepalived") is None:
        return "keepalived is not installed"
    return ""


# --- keepalived, measured in the same run ------------------------------------------------

LINKS = 4  # VRIDs are per interface: 1000 instances need several links of 250


def keepalived_config(instances: int, priority: int) -> str:
    per_link = -(-instances // LINKS)
    blocks = []
    for i in range(instances):
        link, vrid = divmod(i, per_link)
        blocks.append(
            f"vrrp_instance VI_{i} {{\n interface eth{link}\n virtual_router_id {vrid + 1}\n"
            f" priority {priority}\n version 3\n advert_int {ADVERT_INT}\n"
            f" virtual_ipaddress {{\n  198.19.{link}.{vrid + 1}/32\n }}\n}}\n"
        )
    return "global_defs {\n router_id bench\n}\n" + "".join(blocks)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _packets(pid: int, column: int) -> int:
    """Sum over eth* of /proc/PID/net/dev column (0 = rx packets... as in the file)."""
    total = 0
    for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]:
        name, _, counters = line.partition(":")
        if name.strip().startswith("eth"):
            total += int(counters.split()[column])
    return total


RX_PACKETS, TX_PACKETS = 1, 9


def measure_keepalived(instances: int, seconds: float, workdir: Path) -> dict[str, float]:
    """Run keepalived master (A) and backup (B) with ``instances`` x 10 ms; read their cost."""
    from lab.keepalived import KeepalivedLab
    from lab.netns import Topology

    with Topology(workdir / "netns") as topo, KeepalivedLab(workdir / "k") as lab:
        topo.add_node("A")
        topo.add_node("B")
        for link in range(LINKS):
            topo.add_veth("A", f"eth{link}", "B", f"eth{link}")
            topo.add_address("A", f"eth{link}", f"198.18.{link}.1/24")
            topo.add_address("B", f"eth{link}", f"198.18.{link}.2/24")
        master = lab.start(
            (topo, "A"),
            keepalived_config(instances, 200),
            name="A",
            subsystems={"vrrp"},
            timeout=60,
        )
        backup = lab.start(
            (topo, "B"),
            keepalived_config(instances, 100),
            name="B",
            subsystems={"vrrp"},
            timeout=60,
        )
        time.sleep(3)  # settle: every master past its master-down interval
        pids = {"A": master.child_pids()["vrrp"], "B": backup.child_pids()["vrrp"]}
        cpu0 = {n: _cpu_seconds(p) for n, p in pids.items()}
        tx0, rx0 = _packets(pids["A"], TX_PACKETS), _packets(pids["B"], RX_PACKETS)
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        cpu = {n: _cpu_seconds(p) - cpu0[n] for n, p in pids.items()}
        sent = _packets(pids["A"], TX_PACKETS) - tx0
        received = _packets(pids["B"], RX_PACKETS) - rx0
        vips_on_backup = sum(len(topo.addresses("B", f"eth{link}")) - 1 for link in range(LINKS))
    return {
        "sent_rate": sent / elapsed,
        "received_rate": received / elapsed,
        "master_cpu": cpu["A"] / elapsed,
        "backup_cpu": cpu["B"] / elapsed,
        "backup_us_per_advert": cpu["B"] / max(received, 1) * 1e6,
        "vips_on_backup": vips_on_backup,
    }
