"""pykad's runtime API on the real daemon: ``pykadctl`` and the Prometheus endpoint.

Two pykad routers on one LAN (A priority 150, B 100, VRRPv3 at 100 ms, a BFD
session between them), run as the other daemon tests run them (``-n -l -D -G``
and their own pid files, so the control directory is derived from A's ``-p``).
``pykadctl`` runs outside the namespaces (the control sockets are files), the
metrics endpoint is scraped from inside A's namespace.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lab.bfd_pair import ADDRESS, DROP_BFD_FROM_B, bfd_to
from lab.keepalived import PYKAD, PYKADCTL, Keepalived, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for

pytestmark = pytest.mark.netns

VIP = ipaddress.ip_interface("192.0.2.10/24")
METRICS = "127.0.0.1:19650"


def ctl(daemon: Keepalived, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [PYKADCTL, "-p", str(daemon.pid_files["parent"]), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"pykadctl {args}: {done.returncode}\n{done.stdout}{done.stderr}")
    return done


def instance(daemon: Keepalived) -> dict[str, Any]:
    found: dict[str, Any] = daemon.pykad_status()["vrrp"]["instances"][0]
    return found


def has_vip(lab: Topology, node: str) -> bool:
    return VIP in lab.addresses(node, "eth0")


def pair(
    lab: Topology, keepalived_lab: KeepalivedLab, *, a_args: tuple[str, ...] = ()
) -> tuple[Keepalived, Keepalived]:
    lab.lan({n: f"{a}/24" for n, a in ADDRESS.items()})
    a_conf = bfd_to("B", "A", 50) + vrrp_instance_config(
        priority=150, advert_int=0.1, version=3, vips=(str(VIP),)
    )
    b_conf = bfd_to("A", "B", 50) + vrrp_instance_config(
        priority=100, advert_int=0.1, version=3, vips=(str(VIP),)
    )
    a = keepalived_lab.start((lab, "A"), a_conf, name="A", program=(PYKAD,), extra_args=a_args)
    b = keepalived_lab.start((lab, "B"), b_conf, name="B", program=(PYKAD,))
    a.wait_for_state("VI_1", "MASTER", timeout=10)
    b.wait_for_state("VI_1", "BACKUP", timeout=10)
    wait_for(lambda: has_vip(lab, "A"), timeout=5, message="the VIP on A")
    return a, b


def scrape(lab: Topology, address: str) -> str:
    """GET /metrics from inside A's namespace ("" until it answers)."""
    done = lab.run(
        "A",
        sys.executable,
        "-c",
        f"import urllib.request; print(urllib.request.urlopen('http://{address}/metrics',"
        " timeout=5).read().decode())",
        check=False,
    )
    return done.stdout if done.returncode == 0 else ""


def test_status_stats_and_metrics(netns_lab: Topology, keepalived_lab: KeepalivedLab) -> None:
    a, _ = pair(netns_lab, keepalived_lab, a_args=("--metrics-address", METRICS))
    control_dir = a.pid_files["parent"].with_suffix(".pykad")
    assert control_dir.is_dir() and control_dir.stat().st_mode & 0o777 == 0o700
    assert (control_dir / "vrrp.sock").stat().st_mode & 0o777 == 0o600

    wait_for(
        lambda: a.pykad_status()["bfd"]["sessions"][0]["state"] == "UP",
        timeout=10,
        message="BFD up",
    )
    st = a.pykad_status()
    inst = st["vrrp"]["instances"][0]
    assert (inst["name"], inst["state"], inst["priority"]) == ("VI_1", "MASTER", 150)
    assert inst["vips"] == [str(VIP)] and inst["transitions"] >= 2  # INIT->BACKUP->MASTER
    session = st["bfd"]["sessions"][0]
    assert (session["name"], session["neighbor"]) == ("to_b", "192.0.2.2")

    text = ctl(a, "status").stdout
    assert "VI_1" in text and "MASTER" in text and "to_b" in text and str(VIP) in text

    stats = json.loads(ctl(a, "stats", "--json").stdout)
    sent = stats["vrrp"]["instances"][0]["stats"]["advert_sent"]
    assert sent > 0
    assert "advert_sent" in ctl(a, "stats").stdout

    body = wait_for(lambda: scrape(netns_lab, METRICS), timeout=10, message="the endpoint")
    assert 'pykad_child_up{child="vrrp"} 1.0' in body
    assert 'pykad_child_up{child="bfd"} 1.0' in body
    assert 'pykad_vrrp_instance_state{instance="VI_1"} 2.0' in body
    assert 'pykad_vrrp_instance_priority{instance="VI_1"} 150.0' in body
    assert 'pykad_bfd_session_state{neighbor="192.0.2.2",session="to_b"} 3.0' in body
    scraped = next(
        float(line.split()[-1])
        for line in body.splitlines()
        if line.startswith('pykad_vrrp_adverts_sent_total{instance="VI_1"}')
    )
    assert scraped >= sent

    # a BFD flap: counted by the BFD child, seen by pykadctl and the metrics
    netns_lab.nft("A", DROP_BFD_FROM_B)
    wait_for(lambda: a.pykad_status()["bfd"]["sessions"][0]["state"] == "DOWN", timeout=5)
    netns_lab.nft("A", "delete table inet lab")
    wait_for(lambda: a.pykad_status()["bfd"]["sessions"][0]["state"] == "UP", timeout=10)
    assert a.pykad_status()["bfd"]["sessions"][0]["flaps"] == 1
    flapped = 'pykad_bfd_session_flaps_total{neighbor="192.0.2.2",session="to_b"} 1.0'
    assert flapped in scrape(netns_lab, METRICS)


def test_demote_promote_and_reload(netns_lab: Topology, keepalived_lab: KeepalivedLab) -> None:
    a, b = pair(netns_lab, keepalived_lab)
    b_mark = b.log_mark()
    done = ctl(a, "demote", "VI_1")
    assert "demoted" in done.stdout
    b.wait_for_state("VI_1", "MASTER", timeout=5, since=b_mark)
    wait_for(lambda: has_vip(netns_lab, "B"), timeout=5, message="the VIP on B")
    wait_for(lambda: not has_vip(netns_lab, "A"), timeout=5, message="the VIP gone from A")
    inst = instance(a)
    assert inst["state"] == "BACKUP" and inst["demoted"] and inst["effective_priority"] == 1
    assert ctl(a, "demote", "VI_1", check=False).returncode == 1  # already demoted
    assert ctl(a, "demote", "nope", check=False).returncode == 1

    # promote: configured behaviour again; with preempt A takes the VIP back
    a_mark = a.log_mark()
    ctl(a, "promote", "VI_1")
    a.wait_for_state("VI_1", "MASTER", timeout=5, since=a_mark)
    wait_for(lambda: has_vip(netns_lab, "A"), timeout=5, message="the VIP back on A")
    assert not instance(a)["demoted"] and instance(a)["effective_priority"] == 150

    # a demotion lasts until the next reload, even across a respawn of the VRRP child
    ctl(a, "demote", "VI_1")
    wait_for(lambda: has_vip(netns_lab, "B"), timeout=5, message="the VIP on B again")
    child = a.child_pids()["vrrp"]
    a_mark = a.log_mark()
    os.kill(child, signal.SIGKILL)
    a.wait_for_log(r"Startup complete", since=a_mark, timeout=10)
    wait_for(lambda: a.child_pids().get("vrrp") not in (None, child), timeout=5, message="respawn")
    wait_for(lambda: instance(a)["demoted"], timeout=5, message="A demoted after the respawn")
    time.sleep(0.5)  # three of B's adverts: A, back at 150 (preempt), would take over now
    assert has_vip(netns_lab, "B") and not has_vip(netns_lab, "A")
    a_mark = a.log_mark()
    ctl(a, "reload")
    a.wait_for_log(r"Reloading", since=a_mark, timeout=5)
    a.wait_for_state("VI_1", "MASTER", timeout=5, since=a_mark)
    assert not instance(a)["demoted"]


def test_config_test_checks_the_running_daemon_s_file(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    """The config also names the metrics address (the pykad keyword): -t accepts it and
    the metrics child serves there."""
    netns_lab.lan({n: f"{a}/24" for n, a in ADDRESS.items()})
    a = keepalived_lab.start(
        (netns_lab, "A"),
        "global_defs {\n    pykad_metrics_address 127.0.0.1:19651\n}\n"
        + vrrp_instance_config(priority=150, advert_int=0.1, version=3),
        name="A",
        program=(PYKAD,),
    )
    assert ctl(a, "config-test").returncode == 0
    body = wait_for(lambda: scrape(netns_lab, "127.0.0.1:19651"), timeout=10, message="metrics")
    assert 'pykad_child_up{child="vrrp"} 1.0' in body
    a.config_path.write_text("vrrp_instance VI_1 {\n    priority\n}\n")
    broken = ctl(a, "config-test", check=False)
    assert broken.returncode != 0, broken.stdout + broken.stderr
    assert str(a.config_path) in broken.stdout


def test_no_daemon(tmp_path: Path) -> None:
    done = subprocess.run(
        [PYKADCTL, "-p", str(tmp_path / "none.pid"), "status"], capture_output=True, text=True
    )
    assert done.returncode == 3 and "no daemon" in done.stderr


def test_an_address_owner_cannot_be_demoted(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    netns_lab.lan({n: f"{a}/24" for n, a in ADDRESS.items()})
    a = keepalived_lab.start(
        (netns_lab, "A"),
        vrrp_instance_config(priority=255, advert_int=0.1, version=3),
        name="A",
        program=(PYKAD,),
    )
    a.wait_for_state("VI_1", "MASTER", timeout=10)
    refused = ctl(a, "demote", "VI_1", check=False)
    assert refused.returncode == 1 and "address owner" in refused.stderr
    assert ctl(a, "promote", "VI_1", check=False).returncode == 1  # not demoted
    inst = instance(a)
    assert (inst["state"], inst["effective_priority"], inst["demoted"]) == ("MASTER", 255, False)
    as_json = json.loads(ctl(a, "demote", "VI_1", "--json", check=False).stdout)
    assert as_json["ok"] is False and "address owner" in as_json["error"]
