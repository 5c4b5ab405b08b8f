"""The demo behind ``./dev demo``: pykad's VRRP codec on the real keepalived's adverts.

1. Starts keepalived 2.2.7 in a network namespace with four VRRP instances
   (VRRPv2 + PASS auth, VRRPv3 IPv4 multicast and unicast, VRRPv3 IPv6) and
   captures its adverts from an observer namespace with tcpdump.
2. Runs ``pykadctl decode`` on the capture: every advert decoded and checked by
   pykad's codec (checksum with pseudo-header, lengths, fields) and re-encoded
   byte for byte.
3. Measures the codec (Cython and pure Python) against the advert rate
   keepalived's VRRP process must sustain at 1,000 instances x 10 ms.
4. Checks every sample config Debian's keepalived package ships with both
   ``keepalived -t`` and ``pykad -t`` in one namespace, and shows the verdicts
   side by side with pykad's findings (file:line).

Needs root (network namespaces). Everything it creates is removed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from bench_vrrp_codec import vrrp_codec  # noqa: E402
from sidebyside import render  # noqa: E402

from lab.captures import CONFIG, capture_keepalived_adverts  # noqa: E402
from lab.keepalived import KeepalivedLab  # noqa: E402
from lab.netns import Topology, netns_exec_argv  # noqa: E402


def main() -> int:
    if os.geteuid() != 0:
        print("demo: needs root (it builds network namespaces)", file=sys.stderr)
        return 1
    pykadctl = shutil.which("pykadctl", path=str(Path(sys.executable).parent))
    assert pykadctl, "pykadctl is not installed next to this Python"
    with tempfile.TemporaryDirectory(prefix="pykad-demo-") as tmp:
        print("== 1. keepalived 2.2.7 in namespace A, observer C captures; its config:")
        print(CONFIG)
        with Topology(Path(tmp) / "netns") as topo, KeepalivedLab(Path(tmp) / "k") as lab:
            pcap = capture_keepalived_adverts(topo, lab)
            kept = Path(tmp) / "keepalived-adverts.pcap"
            shutil.copy(pcap, kept)
        print(f"== 2. pykadctl decode {kept.name}")
        rc = subprocess.run([pykadctl, "decode", str(kept)], check=False).returncode
    print("\n== 3. codec rate against keepalived's need (quick run)")
    title, rows, notes = vrrp_codec(quick=True)
    print(render("vrrp_codec", title, rows, notes))
    print("\n== 4. keepalived -t and pykad -t on Debian's sample configs")
    return rc | config_verdicts(Path(sys.executable).parent / "pykad")


SAMPLES = Path("/usr/share/doc/keepalived/samples")


def config_verdicts(pykad: Path) -> int:
    """Both config tests on each sample, in a namespace with eth0 and eth1; 0 if all agree."""
    differ = 0
    with tempfile.TemporaryDirectory(prefix="pykad-demo-") as tmp, Topology(Path(tmp)) as topo:
        ns = topo.add_node("K")
        topo.run("K", "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
        print(f"{'sample':45} keepalived  pykad  first finding of pykad")
        for path in sorted(SAMPLES.glob("keepalived.conf.*")):
            k = subprocess.run(
                netns_exec_argv(ns, ["keepalived", "-t", "-f", str(path)]),
                capture_output=True,
                text=True,
                check=False,
            )
            p = subprocess.run(
                netns_exec_argv(ns, [str(pykad), "-t", "-f", str(path)]),
                capture_output=True,
                text=True,
                check=False,
            )
            differ += k.returncode != p.returncode
            finding = (p.stderr.splitlines() or ["(none)"])[0].replace(str(SAMPLES) + "/", "")
            print(f"{path.name:45} {k.returncode:^10} {p.returncode:^6} {finding[:70]}")
    print(f"# {differ} sample(s) with different verdicts")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
