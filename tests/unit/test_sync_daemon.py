"""The IPVS sync daemons that follow a VRRP instance (keepalived's ipvs_syncd_master/backup)."""

from __future__ import annotations

import errno
from ipaddress import IPv4Address

from pykad.config.sections.global_defs import LvsSyncDaemon
from pykad.daemon.sync_daemon import SyncDaemons
from pykad.kernel import ipvs_wire_py as w


class Control:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.running: dict[int, w.SyncDaemon] = {}

    def start_daemon(self, daemon: w.SyncDaemon) -> None:
        self.calls.append(("start", daemon.state))
        if daemon.state in self.running:
            raise OSError(errno.EEXIST, "running")
        self.running[daemon.state] = daemon

    def stop_daemon(self, state: int) -> None:
        self.calls.append(("stop", state))
        if self.running.pop(state, None) is None:
            raise OSError(errno.ESRCH, "not running")


def test_the_daemons_follow_the_instance() -> None:
    control = Control()
    config = LvsSyncDaemon(interface="eth0", instance="VI_1", group=IPv4Address("239.1.2.3"))
    syncd = SyncDaemons(config, 51, lambda: control)
    syncd.become(False)  # INIT -> BACKUP
    assert control.running[w.SYNC_BACKUP] == w.SyncDaemon(
        w.SYNC_BACKUP, "eth0", sync_id=51, group=bytes([239, 1, 2, 3])
    )
    syncd.become(False)  # BACKUP -> FAULT: nothing to do
    syncd.become(True)
    assert control.calls[-2:] == [("stop", w.SYNC_BACKUP), ("start", w.SYNC_MASTER)]
    assert set(control.running) == {w.SYNC_MASTER}
    syncd.become(False)
    assert set(control.running) == {w.SYNC_BACKUP}
    syncd.stop()
    assert control.running == {}


def test_an_explicit_id_and_no_ipvs() -> None:
    control = Control()
    syncd = SyncDaemons(LvsSyncDaemon(interface="lo", instance="X", sync_id=7), 51, lambda: control)
    syncd.become(True)
    assert control.running[w.SYNC_MASTER].sync_id == 7

    def missing() -> Control:
        raise OSError(errno.ENOENT, "IPVS is not available")

    broken = SyncDaemons(LvsSyncDaemon(interface="lo", instance="X"), 1, missing)
    broken.become(True)  # logged once, VRRP goes on
    broken.become(False)
    broken.stop()
    assert broken.running is None
