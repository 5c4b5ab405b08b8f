"""The checker child process: IPVS and health checkers, forked by the supervising parent.

keepalived runs its health checkers and IPVS in a child of their own
(``check_daemon.c``); so does pykad.  The parent (``daemon.supervisor``) forks
it when the configuration has ``virtual_server`` blocks (and ``-P`` was not
given), and again if it dies (unless ``-R``); the child writes its pid file
(``-c``, default /run/checkers.pid), opens the IPVS socket of its network
namespace, runs :class:`pykad.daemon.check_service.CheckService` until SIGTERM
or SIGINT, and dies with its parent (PR_SET_PDEATHSIG).  SIGHUP (passed on by
the parent) reads the configuration again: one that cannot be used is refused
with a log line and the running one kept; otherwise only what changed is
applied.  BFD_CHECK events arrive on the pipe the BFD child writes for
checkers (``bfd_process.BfdPipes``).  SIGUSR1 writes its part of the data dump,
``keepalived_check.data`` (``daemon.dump_data``), as keepalived's checker does.

The child serves its control socket (``daemon.control``, ``check.sock`` in the
run directory) from a trio task: ``status``/``stats`` (virtual and real
servers, health, weights) and ``drain``/``undrain`` (``CheckService.drain``).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import trio

from pykad.config.model import Config
from pykad.daemon.child import fork_child

if TYPE_CHECKING:
    from pykad.config.scripts import Script
    from pykad.daemon.check_service import CheckService
    from pykad.daemon.ipvs_stats import IpvsStatsReader, ServiceStats
    from pykad.lb.table import ServiceKey

log = logging.getLogger("pykad.check")

STOP_TIMEOUT_S = 10.0


class _Counters:
    """The IPVS counters' own socket, opened at the first request (in a worker thread)."""

    def __init__(self) -> None:
        self._reader: IpvsStatsReader | None = None

    def read(self) -> dict[ServiceKey, ServiceStats]:
        if self._reader is None:
            from pykad.daemon.ipvs_stats import IpvsStatsReader

            self._reader = IpvsStatsReader()
        return self._reader.read()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


CHECKER_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)


def write_check_dump(service: CheckService) -> None:
    """SIGUSR1: ``keepalived_check.data``, the global definitions and the checker's part."""
    from pykad.daemon.dump_data import CHECK_FILE, format_check
    from pykad.daemon.process import global_dump, write_dump
    from pykad.drivers.notify import resolve_user

    def script_view(script: Script) -> tuple[str, int, int]:
        ids = resolve_user(script.user, script.group) if script.user else None
        uid, gid = ids or service.default_user or (os.geteuid(), os.getegid())
        return os.path.realpath(script.argv[0]), uid, gid

    log.info("Printing checker data for process(%d) on signal", os.getpid())
    config = service.config
    lines = global_dump(config) + format_check(service.dump_state(), script_view, config.lvs.ssl)
    write_dump(CHECK_FILE, "\n".join(lines) + "\n")


def start(
    config: Config,
    pid_file: str,
    listener: logging.handlers.QueueListener,
    bfd_events: int | None,
    reload_config: Callable[[], Config | None],
    *,
    child_closes: Iterable[int] = (),
    control_dir: str | None = None,
    ident_suffix: str = "",
    release_ipvs: bool = True,
) -> int:
    """Fork the checker child (from the parent); its pid.  ``release_ipvs`` False
    (``-I``): its services stay in the kernel at stop."""

    def body() -> int:
        return trio.run(_serve, config, bfd_events, reload_config, control_dir, release_ipvs)

    return fork_child(
        "Healthcheck",
        "Keepalived_healthcheckers",
        pid_file,
        listener,
        body,
        child_closes=child_closes,
        ident_suffix=ident_suffix,
    )


async def _serve(
    config: Config,
    bfd_events: int | None,
    reload_config: Callable[[], Config | None],
    control_dir: str | None = None,
    release_ipvs: bool = True,
) -> int:
    from pykad.daemon import control, scheduling, status
    from pykad.daemon.actions import Actions
    from pykad.daemon.check_service import CheckService
    from pykad.daemon.process import Reloads, with_held_signals
    from pykad.drivers.mailer import Mailer
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
            notifier=Notifier(fifos, default_user=user, mailer=Mailer()),  # the service sets it
            bfd_events=bfd_events,
            default_user=user,
            release_ipvs=release_ipvs,
        )
        try:
            service.setup()
        except OSError as e:
            log.error("IPVS: cannot set up: %s", e)
            return 1
        with trio.open_signal_receiver(*CHECKER_SIGNALS) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                actions = Actions(control_dir, "check")
                for vs, address, port in actions.load():  # respawned: drained again
                    service.drain(str(address), int(port), str(vs))
                counters = _Counters()
                handler = status.check_handler(service, counters.read, actions)
                serving = control.start_trio(nursery, control_dir, "check", handler)
                scheduling.apply(g.checker_process, "checker")

                async def reload() -> None:
                    log.info("Reloading")
                    # read in a thread: the checkers go on meanwhile
                    new = await trio.to_thread.run_sync(reload_config, abandon_on_cancel=True)
                    if new is None:
                        log.error("Reload refused: the new configuration cannot be used; kept")
                        return
                    await service.reload(new)
                    actions.clear()  # runtime actions last until the next reload

                reloads = Reloads(nursery, reload)
                async for signum in with_held_signals(signals, CHECKER_SIGNALS):
                    if signum == signal.SIGUSR1:
                        write_check_dump(service)
                        continue
                    if signum != signal.SIGHUP:
                        reloads.cancel()
                        break
                    reloads.request()
                if serving is not None:
                    serving.cancel()
                counters.close()
                await service.stop()
    log.info("Stopped Healthcheck child process")
    return 0
