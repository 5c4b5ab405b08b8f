"""IPVS programming speed, side by side in the VM lab: pykad, ``ipvsadm -R``, keepalived.

    sudo .venv/bin/python bench/sidebyside.py ipvs_program [--quick]

The host kernel has no IPVS, so everything runs in one boot of the VM lab
(``tests/lab/vm.py``; Debian's kernel under QEMU's software emulation): this
module runs itself there with ``--guest OUT.json`` and the host renders the
JSON.  All three programs run in the same guest, one after the other, each
into an empty table (flushed in between), for the same table of N services x
10 real servers (TCP, rr, NAT; service i at 198.18.i/16:80, its real servers at
198.19.j.i:8080+):

- pykad: ``IpvsSocket.apply(reconcile(empty, table))`` - the daemon's write
  path (diff, Cython encoder, batched sendmsg, every answer matched);
- ``ipvsadm -R`` of the same table in ``ipvsadm -S`` syntax;
- keepalived 2.2.7 (``--check``) started on a config of the same table (no
  checkers, so every real server is up at start): from its start until the
  last service's real servers are all in the kernel.

Then a reload with one real server's weight changed in the biggest table:
pykad dumps the kernel table, diffs and writes (operations counted);
keepalived gets SIGHUP with the changed file (time until the new weight is in
the kernel).  Absolute times are those of an emulated CPU; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
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
        cell["pykad_s"] = time.perf_counter() - t0
        cell["pykad_ops"] = len(results)
        cell["pykad_failed"] = sum(1 for r in results if r.errno)
        cell["pykad_ok"] = dest_count() == n * DESTS
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
        conf.write_text(keepalived_conf(n))
        last = ServiceKey(socket.AF_INET, 6, ip_address(_addr(n - 1)).packed, 80)
        log = (work / f"keepalived-{n}.log").open("w")
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            ["keepalived", "-n", "-l", "--check", "-f", str(conf), "-p", str(work / "k.pid"),
             "-c", str(work / "kc.pid")],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60 + n * 0.1
        while time.monotonic() < deadline and proc.poll() is None:
            if len(ipvs.dests(last)) == DESTS:
                cell["keepalived_s"] = time.perf_counter() - t0
                break
            time.sleep(0.02)
        cell["keepalived_ok"] = dest_count() == n * DESTS
        result["sizes"][str(n)] = cell  # type: ignore[index]

        if n == sizes[-1] and "keepalived_s" in cell:
            changed = (n // 2, 3)
            # keepalived's reload: the same file with one weight changed, SIGHUP
            conf.write_text(keepalived_conf(n, changed))
            ckey = ServiceKey(socket.AF_INET, 6, ip_address(_addr(changed[0])).packed, 80)
            ip, port = _rs(*changed)
            dkey = DestKey(ip_address(ip).packed, port)
            t0 = time.perf_counter()
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 60 + n * 0.1
            while time.monotonic() < deadline:
                if any(d.key == dkey and d.weight == 2 for d in ipvs.dests(ckey)):
                    result["keepalived_reload_s"] = time.perf_counter() - t0
                    break
                time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        ipvs.flush()

    # pykad's reload of the biggest table: what the daemon does on SIGHUP
    n = sizes[-1]
    assert all(r.errno == 0 for r in ipvs.apply(reconcile(Table(), table(n))))
    new = table(n, (n // 2, 3))
    t0 = time.perf_counter()
    current = ipvs.dump()
    t_dump = time.perf_counter()
    ops = reconcile(current, new)
    results = ipvs.apply(ops)
    t1 = time.perf_counter()
    result["pykad_reload_s"] = t1 - t0
    result["pykad_reload_dump_s"] = t_dump - t0
    result["pykad_reload_ops"] = len(ops)
    result["pykad_reload_ok"] = all(r.errno == 0 for r in results) and ipvs.dump() == new
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
        label = f"{int(n):,} services x {DESTS} real servers into an empty table (s)"
        pk, ia = cell["pykad_s"], cell["ipvsadm_s"]
        ka = cell.get("keepalived_s")
        rows.append(
            Row(label, f"{pk:.2f}", f"{ka:.2f}" if ka else "did not finish",
                f"{pk / ka:.2f}" if ka else "", "")
        )  # fmt: skip
        rows.append(
            Row("... ipvsadm -R of the same table (s): ipvsadm / pykad", f"{pk:.2f}",
                f"ipvsadm {ia:.2f}", f"{ia / pk:.1f}x faster", f">= {GOAL_SPEEDUP:g}x")
        )  # fmt: skip
        bad = [
            who
            for who in ("pykad", "ipvsadm", "keepalived")
            if not cell.get(f"{who}_ok") or cell.get(f"{who}_failed")
        ]
        if bad:
            rows.append(Row("... table incomplete for", ", ".join(bad), "", "", "none"))
    kr = data.get("keepalived_reload_s")
    rows.append(
        Row(
            f"reload, one weight changed in {max(map(int, data['sizes'])):,} x {DESTS} (s)",
            f"{data['pykad_reload_s']:.2f}",
            f"{kr:.2f}" if kr else "not measured",
            f"{data['pykad_reload_s'] / kr:.2f}" if kr else "",
        )
    )
    rows.append(
        Row("... netlink write operations of that reload", str(data["pykad_reload_ops"]),
            "", "", "1")
    )  # fmt: skip
    notes = [
        "- One boot of the VM lab (Debian 12's kernel 6.1 under QEMU's software emulation, "
        "2 vCPUs): absolute times are those of an emulated CPU, all three programs ran in the "
        "same guest one after the other; compare the ratios. Service i is TCP "
        "198.18.x.y:80 rr with 10 NAT real servers 198.19.j.y:8080+; each program starts "
        "from an empty table (IPVS_CMD_FLUSH in between) and every run is checked to leave "
        "all real servers in the kernel (/proc/net/ip_vs).",
        "- pykad: `IpvsSocket.apply(reconcile(empty, table))`, the write path of the "
        f"daemon (codec: {data['codec']}), timed from the diff to the last answer read; "
        "ipvsadm: `ipvsadm -R` of the `-S` form of the table; keepalived 2.2.7 `--check` on "
        "the same table as keepalived.conf (no checkers: every real server is up at start), "
        "from its start until the last service's real servers are in the kernel.",
        f"- Reload: pykad dumps the kernel table ({data['pykad_reload_dump_s']:.2f} s of the "
        "total), diffs it against the new table and writes the difference; keepalived gets "
        "SIGHUP with the file changed the same way, timed until the new weight is in the "
        "kernel. pykad's full daemon reload (config read, health kept) comes with issue 7.",
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
