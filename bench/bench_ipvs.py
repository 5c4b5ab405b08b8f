"""IPVS programming speed, side by side in the VM lab: pykad, ``ipvsadm -R``, keepalived.

    sudo .venv/bin/python bench/sidebyside.py ipvs_program [--quick]

The host kernel has no IPVS, so everything runs in one boot of the VM lab
(``tests/lab/vm.py``; Debian's kernel under QEMU's software emulation): this
module runs itself there with ``--guest OUT.json`` and the host renders the
JSON.  For the same table of N services x 10 real servers (TCP, rr, NAT;
service i at 198.18.x.y:80, its real servers at 198.19.j.y:8080+), each from an
empty table (flushed in between):

- start-up: ``pykad -C`` and ``keepalived --check`` on the same keepalived.conf
  (no checkers, so every real server is up at start), from the process's start
  until the last service's real servers are all in the kernel;
- the write path alone: pykad's ``IpvsSocket.apply(reconcile(empty, table))``
  (diff, Cython encoder, batched sendmsg, every answer matched) against
  ``ipvsadm -R`` of the same table in ``ipvsadm -S`` syntax;
- reload, in the biggest table: each running daemon gets SIGHUP after its file
  was rewritten with one real server's weight changed, timed until the new
  weight is in the kernel (pykad's operations counted from its log).

Absolute times are those of an emulated CPU; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING or __name__ != "__main__":  # the host side, imported by sidebyside.py
    from sidebyside import Row

ROOT = Path(__file__).resolve().parents[1]
SIZES_FULL = (1_000, 10_000)
SIZES_QUICK = (1_000,)
DESTS = 10
GOAL_SPEEDUP = 5.0


def _addr(n: int) -> str:
    return f"198.18.{n // 250}.{n % 250 + 1}"


def _rs(n: int, j: int) -> tuple[str, int]:
    return f"198.19.{j}.{n % 250 + 1}", 8080 + n // 250


def ipvsadm_rules(n: int) -> str:
    lines = []
    for i in range(n):
        lines.append(f"-A -t {_addr(i)}:80 -s rr")
        for j in range(DESTS):
            ip, port = _rs(i, j)
            lines.append(f"-a -t {_addr(i)}:80 -r {ip}:{port} -m -w 1")
    return "\n".join(lines) + "\n"


def keepalived_conf(n: int, changed: tuple[int, int] | None = None) -> str:
    out = ["global_defs {\n  router_id bench\n}\n"]
    for i in range(n):
        out.append(f"virtual_server {_addr(i)} 80 {{\n  lvs_sched rr\n  lvs_method NAT\n")
        out.append("  protocol TCP\n")
        for j in range(DESTS):
            ip, port = _rs(i, j)
            weight = 2 if changed == (i, j) else 1
            out.append(f"  real_server {ip} {port} {{\n    weight {weight}\n  }}\n")
        out.append("}\n")
    return "".join(out)


# ---------------------------------------------------------------- guest side


def guest(out_path: Path, sizes: tuple[int, ...]) -> None:
    from ipaddress import ip_address

    from pykad.kernel import ipvs_wire
    from pykad.kernel.ipvs import IpvsSocket
    from pykad.lb.plan import reconcile
    from pykad.lb.table import Dest, DestKey, Service, ServiceKey, Table

    def table(n: int, changed: tuple[int, int] | None = None) -> Table:
        entries = []
        for i in range(n):
            key = ServiceKey(socket.AF_INET, 6, ip_address(_addr(i)).packed, 80)
            dests = []
            for j in range(DESTS):
                ip, port = _rs(i, j)
                weight = 2 if changed == (i, j) else 1
                dests.append(Dest(key=DestKey(ip_address(ip).packed, port), weight=weight))
            entries.append((Service(key=key, scheduler="rr"), dests))
        return Table.of(entries)

    result: dict[str, object] = {"codec": ipvs_wire.IMPLEMENTATION, "sizes": {}}
    work = Path(tempfile.mkdtemp(prefix="bench-ipvs-"))
    ipvs = IpvsSocket()
    ipvs.flush()

    def dest_count() -> int:
        with open("/proc/net/ip_vs") as f:
            return sum(1 for ln in f if ln.startswith("  ->") and "RemoteAddress" not in ln)

    for n in sizes:
        cell: dict[str, object] = {}
        want = table(n)
        t0 = time.perf_counter()
        results = ipvs.apply(reconcile(Table(), want))
        cell["write_s"] = time.perf_counter() - t0
        cell["write_ops"] = len(results)
        cell["write_ok"] = dest_count() == n * DESTS and not any(r.errno for r in results)
        ipvs.flush()

        rules = work / f"rules-{n}"
        rules.write_text(ipvsadm_rules(n))
        with rules.open() as f:
            t0 = time.perf_counter()
            subprocess.run(["ipvsadm", "-R"], stdin=f, check=True)
            cell["ipvsadm_s"] = time.perf_counter() - t0
        cell["ipvsadm_ok"] = dest_count() == n * DESTS
        ipvs.flush()

        conf = work / f"keepalived-{n}.conf"
        last = ServiceKey(socket.AF_INET, 6, ip_address(_addr(n - 1)).packed, 80)
        changed = (n // 2, 3)
        ckey = ServiceKey(socket.AF_INET, 6, ip_address(_addr(changed[0])).packed, 80)
        ip, port = _rs(*changed)
        dkey = DestKey(ip_address(ip).packed, port)
        pykad = str(Path(sys.executable).with_name("pykad"))
        for who, argv in (
            ("keepalived", ["keepalived", "-n", "-l", "--check"]),
            ("pykad", [pykad, "-n", "-l", "-G", "-C"]),
        ):
            conf.write_text(keepalived_conf(n))
            logfile = work / f"{who}-{n}.log"
            argv = [*argv, "-f", str(conf), "-p", str(work / f"{who}.pid")]
            argv += ["-c", str(work / f"{who}-c.pid")]
            with logfile.open("w") as log:
                t0 = time.perf_counter()
                proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
                deadline = time.monotonic() + 120 + n * 0.1
                while time.monotonic() < deadline and proc.poll() is None:
                    if len(ipvs.dests(last)) == DESTS:
                        cell[f"{who}_start_s"] = time.perf_counter() - t0
                        break
                    time.sleep(0.02)
                time.sleep(1)  # anything left to write
                cell[f"{who}_ok"] = dest_count() == n * DESTS
                if n == sizes[-1] and f"{who}_start_s" in cell:
                    # the reload: the same file with one weight changed, SIGHUP
                    conf.write_text(keepalived_conf(n, changed))
                    t0 = time.perf_counter()
                    proc.send_signal(signal.SIGHUP)
                    deadline = time.monotonic() + 120 + n * 0.1
                    while time.monotonic() < deadline:
                        if any(d.key == dkey and d.weight == 2 for d in ipvs.dests(ckey)):
                            result[f"{who}_reload_s"] = time.perf_counter() - t0
                            break
                        time.sleep(0.01)
                    time.sleep(1)
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(300)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            text = logfile.read_text(errors="replace")
            found = re.findall(r"Reloaded: .*?, (\d+) IPVS operations", text)
            if who == "pykad" and found:
                result["pykad_reload_ops"] = int(found[-1])
            ipvs.flush()
        result["sizes"][str(n)] = cell  # type: ignore[index]

    # what a reload costs when the kernel's table must be read back (a restart)
    n = sizes[-1]
    assert all(r.errno == 0 for r in ipvs.apply(reconcile(Table(), table(n))))
    t0 = time.perf_counter()
    ipvs.dump()
    result["pykad_dump_s"] = time.perf_counter() - t0
    ipvs.flush()
    out_path.write_text(json.dumps(result, indent=1))


# ---------------------------------------------------------------- host side


def ipvs_program(quick: bool) -> tuple[str, list[Row], list[str]]:
    from lab.vm import run_in_vm, venv_python, vm_available

    title = "IPVS: programming an empty table, and a reload with one real server changed"
    ok, why = vm_available()
    if not ok:
        return title, [], [f"Not measured: {why}."]
    sizes = SIZES_QUICK if quick else SIZES_FULL
    load0, t0 = os.getloadavg()[0], time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pykad-bench-ipvs-") as tmp:
        out = Path(tmp) / "result.json"
        argv = ["bash", "-c", 'cd -- "$1" && shift && exec "$@"', "bench", str(ROOT)]
        argv += [str(venv_python()), "-P", str(Path(__file__).resolve()), "--guest", str(out)]
        argv += ["--sizes", *map(str, sizes)]
        proc = run_in_vm(argv, cwd=Path(tmp), timeout=3600, rwdirs=[Path(tmp)])
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stdout + proc.stderr)[-1500:]
            return title, [], [f"Not measured: the VM run failed ({proc.returncode}): {tail}"]
        data = json.loads(out.read_text())
    rows = []
    for n, cell in data["sizes"].items():
        size = f"{int(n):,} x {DESTS}"
        pk, ka = cell.get("pykad_start_s"), cell.get("keepalived_start_s")
        rows.append(
            Row(
                f"{size}: start-up to the whole table in the kernel (s)",
                f"{pk:.2f}" if pk else "did not finish",
                f"{ka:.2f}" if ka else "did not finish",
                f"{pk / ka:.2f}" if pk and ka else "",
                "<= 1",
            )
        )
        ws, ia = cell["write_s"], cell["ipvsadm_s"]
        rows.append(
            Row(f"{size}: pykad's write path vs ipvsadm -R (s)", f"{ws:.2f}",
                f"ipvsadm -R {ia:.2f}", f"{ia / ws:.1f}x faster", f">= {GOAL_SPEEDUP:g}x")
        )  # fmt: skip
        bad = [w for w in ("write", "ipvsadm", "keepalived", "pykad") if not cell.get(f"{w}_ok")]
        if bad:
            rows.append(Row(f"{size}: table incomplete after", ", ".join(bad), "", "", "none"))
    biggest = f"{max(map(int, data['sizes'])):,} x {DESTS}"
    pr, kr = data.get("pykad_reload_s"), data.get("keepalived_reload_s")
    rows.append(
        Row(
            f"{biggest}: SIGHUP with one weight changed, to the new weight in the kernel (s)",
            f"{pr:.2f}" if pr else "not measured",
            f"{kr:.2f}" if kr else "not measured",
            f"{pr / kr:.2f}" if pr and kr else "",
            "<= 1",
        )
    )
    rows.append(
        Row(
            "... IPVS operations pykad wrote for that reload",
            str(data.get("pykad_reload_ops", "?")),
            "",
            "",
            "1",
        )
    )
    notes = [
        "- One boot of the VM lab (Debian 12's kernel 6.1 under QEMU's software emulation, "
        "2 vCPUs): absolute times are those of an emulated CPU (Python starts and runs "
        "17-25x slower there than on the host, C about as much), all programs ran in the same "
        "guest one after the other; compare the ratios. Service i is TCP 198.18.x.y:80 rr "
        "with 10 NAT real servers 198.19.j.y:8080+, no checkers (every real server is up at "
        "start); each run starts from an empty table (IPVS_CMD_FLUSH in between) and is "
        "checked to leave all real servers in the kernel (/proc/net/ip_vs).",
        "- Start-up: `keepalived -n -l --check -f FILE` and `pykad -n -l -G -C -f FILE` on the "
        "same file, from the process's start until the last service's real servers are in "
        "the kernel (reading the config included). Write path: pykad's "
        f"`IpvsSocket.apply(reconcile(empty, table))` alone (codec: {data['codec']}) against "
        "`ipvsadm -R` of the same table in `ipvsadm -S` form.",
        "- Reload: the running daemon gets SIGHUP after its file was rewritten with one "
        "real server's weight changed; timed until the new weight is in the kernel. pykad "
        "diffs what it wrote against the new config (no dump); reading the whole table back "
        f"(needed only when pykad starts over a table it did not write) took "
        f"{data['pykad_dump_s']:.2f} s for {biggest}.",
        f"- Run took {(time.monotonic() - t0) / 60:.1f} min; 1-minute load average "
        f"{load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end (2 cores, shared).",
    ]
    return title, rows, notes


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guest", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES_FULL))
    args = parser.parse_args()
    guest(args.guest, tuple(args.sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
