"""The checker child process: IPVS and health checkers, forked before trio starts.

keepalived runs its health checkers and IPVS in a child of their own
(``check_daemon.c``); so does pykad.  ``start`` forks it when the configuration
has ``virtual_server`` blocks (and ``-P`` was not given); the child writes its
pid file (``-c``, default /run/checkers.pid), opens the IPVS socket of its
network namespace, runs :class:`pykad.daemon.check_service.CheckService` until
SIGTERM or SIGINT, and dies with its parent (PR_SET_PDEATHSIG).  SIGHUP reads
the configuration again: one that cannot be used is refused with a log line and
the running one kept; otherwise only what changed is applied.  BFD_CHECK
events arrive on the pipe the BFD child writes for checkers.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import logging.handlers
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import trio

from pykad.config.model import Config

log = logging.getLogger("pykad.check")

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class CheckChild:
    pid: int

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; the child's exit status."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            time.sleep(0.01)


def start(
    config: Config,
    pid_file: str,
    listener: logging.handlers.QueueListener,
    bfd_events: int | None,
    reload_config: Callable[[], Config | None],
) -> CheckChild | None:
    """Fork the checker child; call before trio runs in this process."""
    from pykad.daemon.process import claim_pid_file, release_held_signals, remove_pid_file

    if not config.lvs.virtual_servers:
        return None
    parent = os.getpid()
    listener.stop()  # no thread may hold a lock across the fork
    pid = os.fork()
    if pid:
        listener.start()
        return CheckChild(pid)
    code = 1
    try:
        release_held_signals()
        listener.start()
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == parent and claim_pid_file(pid_file):
            log.info("Starting Healthcheck child process, pid=%d", os.getpid())
            try:
                code = trio.run(_serve, config, bfd_events, reload_config)
            finally:
                remove_pid_file(pid_file)
    except BaseException:
        log.exception("checker child process failed")
    finally:
        listener.stop()
        os._exit(code)


async def _serve(
    config: Config, bfd_events: int | None, reload_config: Callable[[], Config | None]
) -> int:
    from pykad.daemon.check_service import CheckService
    from pykad.drivers.notify import Notifier, default_script_user
    from pykad.kernel.ipvs import IpvsSocket

    g = config.global_defs
    fifos = tuple(f for f in (g.notify_fifo, g.lvs_notify_fifo) if f.path is not None)
    user = default_script_user(g)
    try:
        ipvs = IpvsSocket()
    except OSError as e:
        log.error("IPVS: cannot start: %s", e)
        return 1
    with ipvs:
        if bfd_events is not None:
            os.set_blocking(bfd_events, False)
        service = CheckService(
            config,
            ipvs,
            notifier=Notifier(fifos, default_user=user),
            bfd_events=bfd_events,
            default_user=user,
        )
        try:
            service.setup()
        except OSError as e:
            log.error("IPVS: cannot set up: %s", e)
            return 1
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                async for signum in signals:
                    if signum != signal.SIGHUP:
                        break
                    log.info("Reloading")
                    new = reload_config()
                    if new is None:
                        log.error("Reload refused: the new configuration cannot be used; kept")
                        continue
                    await service.reload(new)
                await service.stop()
    log.info("Stopped Healthcheck child process")
    return 0
