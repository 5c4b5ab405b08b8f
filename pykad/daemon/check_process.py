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

import logging
import logging.handlers
import os
import signal
from collections.abc import Callable

import trio

from pykad.config.model import Config
from pykad.daemon.child import Child, fork_child

log = logging.getLogger("pykad.check")

STOP_TIMEOUT_S = 10.0


def start(
    config: Config,
    pid_file: str,
    listener: logging.handlers.QueueListener,
    bfd_events: int | None,
    reload_config: Callable[[], Config | None],
) -> Child | None:
    """Fork the checker child; call before trio runs in this process."""
    if not config.lvs.virtual_servers:
        return None
    body = lambda: trio.run(_serve, config, bfd_events, reload_config)  # noqa: E731
    return Child(fork_child("Healthcheck", pid_file, listener, body))


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
