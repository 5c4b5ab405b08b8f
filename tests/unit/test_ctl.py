"""``pykadctl``'s rendering and its reading of the running daemon's command line (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pykad import ctl
from pykad.cli import ctl_main
from pykad.daemon.latency import Latency

LATENCY = Latency()
LATENCY.observe("HTTP_GET", 0.02)
LATENCY.observe("HTTP_GET", 0.04)

MERGED: dict[str, dict[str, Any]] = {
    "vrrp": {
        "ok": True,
        "instances": [
            {
                "name": "VI_1",
                "state": "BACKUP",
                "vrid": 51,
                "interface": "eth0",
                "priority": 150,
                "effective_priority": 1,
                "demoted": True,
                "vips": ["192.0.2.10/24"],
                "master": "192.0.2.2",
                "transitions": 3,
                "last_transition": 1000.0,
                "stats": {"advert_rcvd": 7, "advert_sent": 42},
                "errors": {"wrong auth": 2},
            }
        ],
        "service": {
            "unknown_vrid": 1,
            "too_short": 0,
            "gratuitous": [{"interface": "eth0", "sent": 10, "errors": 2, "would_block": 1}],
        },
    },
    "bfd": {
        "ok": True,
        "sessions": [
            {
                "name": "to_b",
                "neighbor": "192.0.2.2",
                "state": "UP",
                "remote_state": "UP",
                "flaps": 2,
                "up_transitions": 3,
                "packets_sent": 10,
                "packets_received": 9,
            }
        ],
        "events": {"sent": 4, "errors": 0},
    },
    "check": {
        "ok": True,
        "virtual_servers": [
            {
                "name": "TCP 192.0.2.100 80",
                "quorum_up": True,
                "active": True,
                "real_servers": [
                    {"address": "203.0.113.1", "port": 80, "alive": True, "weight": 3,
                     "ipvs_weight": 0, "drained": True},
                    {"address": "2001:db8::1", "port": 80, "alive": False, "weight": 1,
                     "ipvs_weight": None, "drained": False},
                ],
            }
        ],
        "stats": {"attempts": 12, "failures": 1},
        "latency": LATENCY.snapshot(),
        "ipvs": [
            {"service": "TCP 192.0.2.100:80", "connections": 5, "packets_in": 50,
             "packets_out": 40, "bytes_in": 3000, "bytes_out": 90000},
        ],
    },
}  # fmt: skip


def test_render_status() -> None:
    text = ctl.render_status(MERGED, now=1030.0)
    assert text.splitlines() == [
        "VRRP",
        "  VI_1             BACKUP  prio 1 (configured 150), vrid 51 on eth0 master 192.0.2.2,"
        " changed 30s ago DEMOTED",
        "    VIPs: 192.0.2.10/24",
        "BFD",
        "  to_b             UP         neighbor 192.0.2.2, remote UP, flaps 2",
        "Virtual servers",
        "  TCP 192.0.2.100 80  quorum up",
        "    203.0.113.1:80               up    weight 3, IPVS weight 0 DRAINED",
        "    [2001:db8::1]:80             DOWN  weight 1, not in IPVS",
    ]


def test_render_status_reports_a_child_that_did_not_answer() -> None:
    text = ctl.render_status({"bfd": {"ok": False, "error": "timed out"}}, now=0.0)
    assert text == "BFD\n  error: timed out\n"


def test_render_stats() -> None:
    lines = ctl.render_stats(MERGED).splitlines()
    assert "VRRP instance VI_1" in lines
    assert "  advert_sent: 42" in lines and "  transitions: 3" in lines
    assert "  dropped (wrong auth): 2" in lines
    assert "VRRP unknown_vrid: 1" in lines
    assert "VRRP gratuitous ARPs/NAs on eth0: 10 sent, 2 failed (1 for a full socket)" in lines
    assert not any(line.startswith("VRRP gratuitous: ") for line in lines)
    assert "  flaps: 2" in lines and "checkers attempts: 12" in lines
    assert "checker latency HTTP_GET: 2 attempts, mean 30.0 ms" in lines
    assert (
        "IPVS TCP 192.0.2.100:80: 5 connections, 50/40 packets in/out, 3000/90000 bytes in/out"
        in lines
    )


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (["python", "/v/bin/pykad", "-n", "-f", "k.conf", "-i", "A"], ("/srv/k.conf", "A")),
        (["pykad", "--use-file=/etc/x.conf"], ("/etc/x.conf", None)),
        (["pykad", "-f/etc/y.conf", "--config-id=B"], ("/etc/y.conf", "B")),
        (["pykad", "-n"], ("/etc/keepalived/keepalived.conf", None)),
    ],
)
def test_daemon_config(cmdline: list[str], expected: tuple[str, str | None]) -> None:
    assert ctl.daemon_config(cmdline, "/srv") == expected


def test_no_daemon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pid = str(tmp_path / "k.pid")
    assert ctl_main(["-p", pid, "status"]) == ctl.EXIT_NO_DAEMON
    assert ctl_main(["-p", pid, "reload"]) == ctl.EXIT_NO_DAEMON
    assert ctl_main(["-p", pid, "demote", "VI_1"]) == ctl.EXIT_NO_DAEMON
    assert "no daemon" in capsys.readouterr().err
    assert ctl_main([]) == 2


def test_config_test_of_a_given_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text("global_defs {\n    router_id r1\n}\n")
    assert ctl_main(["config-test", "-f", str(conf)]) == 0
    conf.write_text("vrrp_instance VI_1 {\n    priority\n}\n")
    assert ctl_main(["config-test", "-f", str(conf)]) != 0
    assert str(conf) in capsys.readouterr().out
