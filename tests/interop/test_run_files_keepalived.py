"""``net_namespace`` and ``instance``: pid files, syslog ident and reloads, as keepalived's.

keepalived 2.2.7 and pykad each run, one after the other, from the host's namespace
with no pid file flags and a configuration that names a network namespace (made by
the test) and an instance name.  Each must enter that namespace, write its pid files
into ``/run/keepalived/NS/`` (its own mount of ``/run/keepalived``) with the
instance's name in them, announce the new syslog ident, refuse a reload that
changes the instance name with the same line, and remove its pid files at stop.
pykad's control sockets are then found from outside with ``pykadctl -s NS
--instance NAME``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from lab.keepalived import KEEPALIVED, PYKAD
from lab.need import need_program
from lab.netns import LabProcess, Topology, kill_process_group, spawn_in, wait_for

pytestmark = pytest.mark.interop

INSTANCE = "one"
PID_NAMES = ("keepalived", "vrrp")


def config(namespace: str, instance: str) -> str:
    return (
        f"net_namespace {namespace}\n"
        f"instance {instance}\n"
        "vrrp_instance VI_1 {\n    interface d0\n    virtual_router_id 7\n"
        "    priority 100\n    advert_int 1\n"
        "    virtual_ipaddress {\n        192.0.2.7/32\n    }\n}\n"
    )


def live_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if os.path.exists(f"/proc/{pid}") else None


def run_one(program: str, namespace: str, work: Path) -> dict[str, object]:
    """Run ``program`` with the namespaced config; what it left where, and its log."""
    conf = work / f"{Path(program).name}.conf"
    conf.write_text(config(namespace, INSTANCE))
    log = work / f"{Path(program).name}.log"
    own = Path("/run/keepalived") / namespace
    shutil.rmtree(own, ignore_errors=True)
    proc: LabProcess = spawn_in(None, [program, "-n", "-l", "-D", "-G", "-f", conf], log_path=log)
    seen: dict[str, object] = {}
    try:
        pid_files = [own / f"{name}_{INSTANCE}.pid" for name in PID_NAMES]
        wait_for(
            lambda: all(live_pid(p) for p in pid_files),
            timeout=20,
            message=lambda: f"{program}'s pid files in {own}\n{log.read_text()[-2000:]}",
        )
        seen["files"] = sorted(p.name for p in own.glob("*.pid"))
        seen["parent_is_main"] = live_pid(pid_files[0]) == proc.pid
        vrrp = live_pid(pid_files[1])
        seen["vrrp_netns"] = os.readlink(f"/proc/{vrrp}/ns/net")
        seen["own_mounts"] = os.readlink(f"/proc/{vrrp}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
        if program == PYKAD:  # its control sockets, found from outside its mount namespace
            ctl = [str(Path(PYKAD).with_name("pykadctl")), "-s", namespace]
            ctl += ["--instance", INSTANCE, "status", "--json"]

            def status() -> subprocess.CompletedProcess[str]:
                return subprocess.run(ctl, capture_output=True, text=True, timeout=20, check=False)

            wait_for(lambda: status().returncode == 0, timeout=10, message=lambda: status().stderr)
            seen["status"] = status().stdout
        conf.write_text(config(namespace, "two"))
        os.kill(proc.pid, signal.SIGHUP)
        refused = "Cannot change instance name at a reload - please restart keepalived"
        wait_for(lambda: refused in log.read_text(), timeout=10, message=f"{program}: {refused}")
        assert live_pid(pid_files[1]) == vrrp, "the refused reload restarted the VRRP child"
        os.kill(proc.pid, signal.SIGTERM)
        seen["exit"] = proc.wait(timeout=15)
        seen["left"] = sorted(p.name for p in own.glob("*.pid"))
    finally:
        kill_process_group(proc)
        shutil.rmtree(own, ignore_errors=True)
    seen["log"] = log.read_text()
    return seen


def test_namespace_and_instance_name_the_pid_files_as_keepalived(
    netns_lab: Topology, tmp_path: Path
) -> None:
    need_program(KEEPALIVED)
    namespace = netns_lab.add_node("T")
    netns_lab.run("T", "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
    for link in ("d0", "d1"):
        netns_lab.run("T", "ip", "link", "set", link, "up")
    netns_lab.run("T", "ip", "addr", "add", "198.51.100.1/24", "dev", "d0")
    theirs = run_one(KEEPALIVED, namespace, tmp_path)
    ours = run_one(PYKAD, namespace, tmp_path)
    expected = sorted(f"{name}_{INSTANCE}.pid" for name in PID_NAMES)
    for seen in (theirs, ours):
        assert seen["files"] == expected, seen["log"]
        assert seen["parent_is_main"] and seen["own_mounts"], seen["log"]
        assert seen["exit"] == 0 and seen["left"] == [], seen["log"]
        assert f"Changing syslog ident to Keepalived_{namespace}_{INSTANCE}" in str(seen["log"])
    assert ours["vrrp_netns"] == theirs["vrrp_netns"] != os.readlink("/proc/self/ns/net")
    assert "VI_1" in json.dumps(json.loads(str(ours["status"])))
