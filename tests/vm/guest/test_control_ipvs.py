"""``pykadctl`` against the checker child inside the VM: real IPVS, real real servers.

Run by tests/vm/test_ipvs_kernel.py in one boot with the other guest modules (the host
ignores this folder).
Uses the topology and helpers of test_check_daemon.py (the same real servers);
pykad runs as ``pykad -n -l -C`` with its own pid files, so its control
directory is ``p.pykad`` next to them.  ``status`` shows the virtual and real
servers with their health and weights; ``drain`` gives a real server weight 0
in the kernel's table (one edit; its connections and checkers go on), ``undrain``
its weight back, and a reload forgets a drain.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vm.guest import test_check_daemon as cd

from pykad import ctl as ctl_lib
from pykad.daemon import control
from pykad.kernel.ipvs import IpvsSocket

lab = cd.lab  # the module-scoped real servers fixture

PYKADCTL = str(Path(sys.executable).with_name("pykadctl"))


def ctl(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYKADCTL, "-p", str(work / "p.pid"), "--timeout", "30", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def status(work: Path) -> dict[str, Any]:
    """What ``pykadctl status --json`` prints, asked in this process (a Python start costs
    ~3 s in the guest: the polls would take most of the test's time)."""
    return ctl_lib.ask_all(control.control_dir(str(work / "p.pid")), {"cmd": "status"}, 30)


def test_status_drain_undrain_and_reload(lab: cd.Servers, tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    cd.write_config(conf)
    rs1, rs2 = (f"{cd.RS[n]}:8080" for n in ("rs1", "rs2"))
    ipvs = IpvsSocket()
    ipvs.flush()
    pykad = cd.start_pykad(conf, tmp_path)
    try:

        def weights(want: dict[str, int]) -> Callable[[], bool]:
            return lambda: cd.dests(ipvs.dump(), cd.VIP, 80) == want

        cd.wait_for("the table", weights({rs1: 1, rs2: 1}), 60)

        def healthy() -> bool:
            check = status(tmp_path).get("check", {})  # nothing until its socket answers
            vss = check.get("virtual_servers", [{"real_servers": [{"alive": False}]}])
            return all(rs["alive"] for rs in vss[0]["real_servers"])

        cd.wait_for("both healthy", healthy, 60)
        done = ctl(tmp_path, "status", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        st = json.loads(done.stdout)
        assert set(st) == {"check"}  # -C: the checker child only
        vs = st["check"]["virtual_servers"][0]
        assert vs["quorum_up"] is True
        assert [(r["address"], r["port"], r["ipvs_weight"]) for r in vs["real_servers"]] == [
            (cd.RS["rs1"], 8080, 1),
            (cd.RS["rs2"], 8080, 1),
        ]
        assert cd.RS["rs1"] in ctl(tmp_path, "status").stdout

        # SIGUSR1: the parent's and the checker's parts of the data dump, in keepalived's
        # files and layout
        tmp = Path(os.environ.get("TMPDIR") or "/tmp")
        for name in ("keepalived_check.data", "keepalived_parent.data"):
            (tmp / name).unlink(missing_ok=True)
        pykad.signal(signal.SIGUSR1)

        def dumped() -> str:
            path = tmp / "keepalived_check.data"
            return path.read_text() if path.exists() else ""

        cd.wait_for("the checker's dump", lambda: "< Health checkers >" in dumped(), 10)
        text = dumped()
        assert text.startswith("------< Global definitions >------\n")
        assert f" VS VIP = {cd.VIP}, VPORT = 80\n" in text
        assert f"   RIP = {cd.RS['rs1']}, RPORT = 8080, WEIGHT = 1 EFF WEIGHT = 1\n" in text
        assert "   alive = 1\n" in text and "   Up = yes\n" in text
        assert (tmp / "keepalived_parent.data").read_text().startswith("------< Global def")

        done = ctl(tmp_path, "drain", cd.RS["rs1"], "8080")
        assert done.returncode == 0, done.stdout + done.stderr
        cd.wait_for(
            "rs1 drained", lambda: cd.dests(ipvs.dump(), cd.VIP, 80) == {rs1: 0, rs2: 1}, 10
        )
        rs = status(tmp_path)["check"]["virtual_servers"][0]["real_servers"][0]
        assert rs["drained"] is True and rs["ipvs_weight"] == 0 and rs["alive"] is True
        # only rs2 gets new connections now
        assert set(cd.fetch("client", cd.VIP, 4)) - {""} == {"hello from rs2"}

        # the kernel counted them: IPVS counters in status, stats and the metrics' source
        # (the kernel's rate estimator folds its per-CPU counters in every 2 s)
        def web() -> dict[str, Any]:
            counters = {c["service"]: c for c in status(tmp_path)["check"]["ipvs"]}
            found: dict[str, Any] = counters[f"TCP [{cd.VIP}]:80"]
            return found

        cd.wait_for("the connections counted", lambda: web()["connections"] >= 4, 10)
        assert web()["packets_in"] > 0 and web()["bytes_out"] > 0
        assert f"IPVS TCP [{cd.VIP}]:80:" in ctl(tmp_path, "stats").stdout

        # a drain outlives a respawn of the checker child (until undrained or reloaded)
        old = pykad.checker_pid()
        os.kill(old, signal.SIGKILL)

        def respawned() -> bool:
            try:
                return pykad.checker_pid() != old and status(tmp_path)["check"]["ok"]
            except (OSError, ValueError, KeyError):
                return False

        cd.wait_for("the checker child respawned", respawned, 30)
        rs = status(tmp_path)["check"]["virtual_servers"][0]["real_servers"][0]
        assert rs["drained"] is True
        cd.wait_for("rs1 still drained", weights({rs1: 0, rs2: 1}), 10)

        assert ctl(tmp_path, "undrain", cd.RS["rs1"], "8080").returncode == 0
        cd.wait_for("rs1 back", weights({rs1: 1, rs2: 1}), 10)
        assert ctl(tmp_path, "drain", "203.0.113.99", "8080").returncode == 1

        # a reload forgets the drain
        ctl(tmp_path, "drain", cd.RS["rs2"], "8080")
        cd.wait_for(
            "rs2 drained", lambda: cd.dests(ipvs.dump(), cd.VIP, 80) == {rs1: 1, rs2: 0}, 10
        )
        pykad.signal(signal.SIGHUP)
        cd.wait_for("the reload", weights({rs1: 1, rs2: 1}), 30)
    finally:
        assert pykad.stop() == 0, pykad.text()[-3000:]
        ipvs.flush()
        ipvs.close()
