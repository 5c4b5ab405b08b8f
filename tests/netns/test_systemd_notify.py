"""The parent's sd_notify datagrams, as systemd would receive them from a Type=notify unit.

The test binds the ``$NOTIFY_SOCKET`` datagram socket itself and runs the real
daemon with that variable set: READY=1 once the children are forked,
RELOADING=1 (with MONOTONIC_USEC) then READY=1 around a SIGHUP, STOPPING=1 at
SIGTERM.  Also checks the shipped unit file with ``systemd-analyze verify``.
"""

from __future__ import annotations

import configparser
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lab.keepalived import PYKAD, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology

pytestmark = pytest.mark.netns

UNIT = Path(__file__).parents[2] / "conf" / "systemd" / "pykad.service"


def receive(sock: socket.socket, timeout: float = 10.0) -> list[str]:
    sock.settimeout(timeout)
    return sock.recv(4096).decode().splitlines()


def test_ready_reloading_and_stopping(
    netns_lab: Topology,
    keepalived_lab: KeepalivedLab,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
        a = keepalived_lab.start(
            (netns_lab, "A"),
            vrrp_instance_config(priority=150, advert_int=0.1, version=3),
            name="A",
            program=(PYKAD,),
        )
        first = receive(sock)
        assert first[0] == "READY=1", first
        a.signal(signal.SIGHUP)
        reloading = receive(sock)
        assert reloading[0] == "RELOADING=1" and reloading[1].startswith("MONOTONIC_USEC=")
        assert int(reloading[1].split("=")[1]) > 0
        assert receive(sock) == ["READY=1"]
        a.wait_for_log(r"Reloading", timeout=5)
        a.signal(signal.SIGTERM)
        assert receive(sock) == ["STOPPING=1"]


def test_the_shipped_unit(tmp_path: Path) -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(UNIT)
    service = unit["Service"]
    assert service["Type"] == "notify"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert " -n " in service["ExecStart"]  # the parent stays in the foreground
    assert service["KillMode"] == "mixed"  # SIGTERM to the parent, which stops the children
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is needed to verify the unit"
    pykad = str(Path(sys.executable).with_name("pykad"))
    local = tmp_path / "pykad.service"
    local.write_text(UNIT.read_text().replace("/usr/local/bin/pykad", pykad))
    done = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
