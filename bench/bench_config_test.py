"""Side-by-side entry ``config_test``: ``pykad -t`` vs ``keepalived -t`` on big configs.

The same generated configuration (N VRRP instances, 250 per interface, one VIP
each) is checked by both programs in the same network namespace, which has the
interfaces it names; wall time of the whole command, repeated.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sidebyside import Row, Sample

SIZES = (10, 1_000, 10_000)
PER_LINK = 250


def config(instances: int) -> str:
    blocks = []
    for i in range(instances):
        link, vrid = divmod(i, PER_LINK)
        blocks.append(
            f"vrrp_instance VI_{i} {{\n    state BACKUP\n    interface eth{link}\n"
            f"    virtual_router_id {vrid + 1}\n    priority 100\n    advert_int 1\n"
            f"    virtual_ipaddress {{\n        198.18.{link}.{vrid + 1}/32\n    }}\n}}\n"
        )
    return "global_defs {\n    router_id bench\n}\n" + "".join(blocks)


def timed(argv: list[str], repeats: int) -> tuple[Sample, int]:
    values, code = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        code = subprocess.run(argv, capture_output=True, check=False).returncode
        values.append(time.perf_counter() - t0)
    return Sample(tuple(values)), code


def config_test(quick: bool) -> tuple[str, list[Row], list[str]]:
    from lab.netns import Topology, netns_exec_argv

    pykad = shutil.which("pykad", path=str(Path(sys.executable).parent))
    assert pykad, "pykad is not installed next to this Python"
    repeats = 2 if quick else 5
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="pykad-bench-") as tmp, Topology(Path(tmp)) as topo:
        ns = topo.add_node("K")
        for link in range(-(-max(SIZES) // PER_LINK)):
            topo.run("K", "ip", "link", "add", f"eth{link}", "type", "veth", "peer", "name",
                     f"peer{link}")  # fmt: skip
        for n in SIZES:
            path = Path(tmp) / f"k{n}.conf"
            path.write_text(config(n))
            k, k_code = timed(netns_exec_argv(ns, ["keepalived", "-t", "-f", str(path)]), repeats)
            p, p_code = timed(netns_exec_argv(ns, [pykad, "-t", "-f", str(path)]), repeats)
            rows.append(
                Row(
                    f"-t on {n:,} VRRP instances (s)",
                    p.text("{:.3f}"),
                    k.text("{:.3f}"),
                    f"{p.median / k.median:.2f}",
                    "<= 1",
                )
            )
            notes.append(f"{n:,} instances: exit codes pykad {p_code}, keepalived {k_code}.")
    notes.append(f"Wall time of the whole command (process start included), {repeats} runs each.")
    return "Configuration test (-t)", rows, notes
