"""The IPVS connection-sync daemon that follows a VRRP instance (``lvs_sync_daemon IF INST``).

Owned here: :class:`SyncDaemons`, keepalived's ``ipvs_syncd_master`` /
``ipvs_syncd_backup`` (vrrp.c, ipvswrapper.c): when the instance becomes MASTER
the kernel's backup sync daemon is stopped and the master one started, when it
leaves MASTER the other way round; at start the backup daemon runs, at stop both
are stopped.  The sync id is the instance's VRID unless ``id`` is given.  The
kernel's calls go through an ``IpvsSocket`` opened on first use; where IPVS is
missing that is logged once and the rest is skipped (VRRP keeps running).  A
``lvs_sync_daemon`` without an instance is the checker process's
(``pykad.daemon.check_service``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from pykad.config.sections.global_defs import LvsSyncDaemon
from pykad.kernel import ipvs_wire_py as w

log = logging.getLogger("pykad.vrrp")


class DaemonControl(Protocol):
    def start_daemon(self, daemon: w.SyncDaemon) -> None: ...
    def stop_daemon(self, state: int) -> None: ...


class SyncDaemons:
    """The sync daemons of one ``lvs_sync_daemon`` that names a VRRP instance."""

    def __init__(
        self, config: LvsSyncDaemon, vrid: int, open_ipvs: Callable[[], DaemonControl]
    ) -> None:
        assert config.instance is not None
        self.instance = config.instance
        self.config = config
        self.sync_id = config.sync_id if config.sync_id is not None else vrid
        self._open = open_ipvs
        self._ipvs: DaemonControl | None = None
        self._broken = False
        self.running: int | None = None
        """SYNC_MASTER, SYNC_BACKUP or None: the state pykad started last."""

    def _control(self) -> DaemonControl | None:
        if self._ipvs is None and not self._broken:
            try:
                self._ipvs = self._open()
            except OSError as e:
                self._broken = True
                log.error("lvs_sync_daemon: IPVS is not usable (%s); no sync daemon", e)
        return self._ipvs

    def _daemon(self, state: int) -> w.SyncDaemon:
        c = self.config
        return w.SyncDaemon(
            state,
            c.interface,
            sync_id=self.sync_id,
            max_len=c.max_len,
            group=c.group.packed if c.group is not None else b"",
            port=c.port,
            ttl=c.ttl,
        )

    def become(self, master: bool) -> None:
        """The instance is (or is no longer) MASTER: swap the daemons if needed."""
        want = w.SYNC_MASTER if master else w.SYNC_BACKUP
        ipvs = self._control()
        if ipvs is None or self.running == want:
            return
        other = w.SYNC_BACKUP if master else w.SYNC_MASTER
        with contextlib.suppress(OSError):  # keepalived ignores a stop that finds none
            ipvs.stop_daemon(other)
        try:
            ipvs.start_daemon(self._daemon(want))
        except OSError as e:
            log.error("lvs_sync_daemon: starting the %s daemon: %s", _NAME[want], e)
            self.running = None
            return
        self.running = want
        log.info("Starting IPVS connection synchronization thread %s", _NAME[want])

    def stop(self) -> None:
        """Stop both daemons (keepalived's shutdown)."""
        if self._ipvs is None:
            return
        for state in (w.SYNC_MASTER, w.SYNC_BACKUP):
            with contextlib.suppress(OSError):
                self._ipvs.stop_daemon(state)
        self.running = None


_NAME = {w.SYNC_MASTER: "master", w.SYNC_BACKUP: "backup"}
