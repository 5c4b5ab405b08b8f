"""The daemon process: keepalived's start-up and stop, around the VRRP service.

Owns what ``pykad -f FILE`` does after parsing its flags: read the config
(a config with errors that keepalived would refuse to run stops here), log to
the console (``-l``) or syslog, write the pid files (``-p``, ``-r``), refuse to
start over a live daemon with the same pid file, enter ``net_namespace``,
detach unless ``-n``, run the VRRP service under trio, and on SIGTERM/SIGINT
leave as keepalived does (priority 0 adverts from masters, VIPs removed unless
``-V``), then remove the pid files.

The process runs the VRRP service itself (not with ``-C``) and forks one child
for BFD when the configuration has ``bfd_instance`` blocks (``daemon.bfd_process``)
and one for IPVS and the health checkers when it has ``virtual_server`` blocks
(``daemon.check_process``; not with ``-P``); BFD events reach both through pipes.
keepalived's supervising parent with one child per subsystem (VRRP too, and
respawning) is the daemon issue's work (README, "Features").
"""

from __future__ import annotations

import contextlib
import errno
import logging
import logging.handlers
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import TYPE_CHECKING

import trio

import pykad
from pykad.config.model import Config

if TYPE_CHECKING:
    from pykad.daemon.sync_daemon import SyncDaemons

log = logging.getLogger("pykad")

DEFAULT_PID_DIR = "/run"
GIL_SWITCH_S = 0.0005
KEEPALIVED_UMASK = 0o077
"""keepalived's default umask (``-u``): files its scripts create are private."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    config_file: str
    config_id: str
    dont_fork: bool = False
    log_console: bool = False
    log_detail: bool = False
    no_syslog: bool = False
    log_facility: int = 0
    dont_release_vrrp: bool = False
    pid_file: str | None = None
    vrrp_pid_file: str | None = None
    bfd_pid_file: str | None = None
    checkers_pid_file: str | None = None
    no_bfd: bool = False
    vrrp_only: bool = False
    """``-P``: no checker child."""
    check_only: bool = False
    """``-C``: no VRRP."""
    namespace: str | None = None
    instance_name: str | None = None
    extra_pid_files: Sequence[str] = field(default_factory=tuple)


def pid_paths(opts: Options) -> tuple[str, str]:
    """The main and VRRP pid files (``-p``, ``-r``; keepalived's defaults otherwise)."""
    return (
        opts.pid_file or f"{DEFAULT_PID_DIR}/keepalived.pid",
        opts.vrrp_pid_file or f"{DEFAULT_PID_DIR}/vrrp.pid",
    )


class ConsoleFormatter(logging.Formatter):
    """keepalived's console lines: ``Fri Nov 27 17:23:15 2026: text``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(record.created))
        return f"{stamp}: {record.getMessage()}"


class DeferredHandler(logging.Handler):
    """Holds records until the trio loop finishes its current step, then queues them.

    Waking the log thread in the middle of a takeover would hand it the GIL while
    the new master's advert is being sent (``sendmsg`` releases it), and the GARPs
    would wait for the log lines. Records go to ``target`` once the step that
    logged them is done (``run_sync_soon``), in order; outside trio, at once.
    """

    def __init__(self, target: logging.Handler) -> None:
        super().__init__()
        self.target = target
        self._held: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            token = trio.lowlevel.current_trio_token()
        except RuntimeError:
            self.flush()
            self.target.handle(record)
            return
        if not self._held:
            token.run_sync_soon(self.flush)
        self._held.append(record)

    def flush(self) -> None:
        """Queue what is held (also at exit, when trio may not run the callback)."""
        held, self._held = self._held, []
        for record in held:
            self.target.handle(record)


SYSLOG_SOCKET = "/dev/log"


class QuietSysLogHandler(logging.handlers.SysLogHandler):
    """Drops what syslog does not take, as syslog(3) does (no traceback per line)."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def setup_logging(opts: Options) -> logging.handlers.QueueListener:
    """Console and/or syslog, written by a thread: a log line never delays a packet.

    Returns the running listener; ``stop()`` it at exit to flush what is queued.
    """
    handlers: list[logging.Handler] = []
    if opts.log_console:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(ConsoleFormatter())
        handlers.append(console)
    if not opts.no_syslog and os.path.exists(SYSLOG_SOCKET):
        try:
            syslog = QuietSysLogHandler(
                address=SYSLOG_SOCKET, facility=logging.handlers.SysLogHandler.LOG_DAEMON
            )
            syslog.ident = f"Keepalived_vrrp[{os.getpid()}]: "
            handlers.append(syslog)
        except OSError:
            pass
    queue: SimpleQueue[logging.LogRecord] = SimpleQueue()
    root = logging.getLogger("pykad")
    root.handlers.clear()
    root.addHandler(DeferredHandler(logging.handlers.QueueHandler(queue)))
    root.setLevel(logging.DEBUG if opts.log_detail else logging.INFO)
    root.propagate = False
    listener = logging.handlers.QueueListener(queue, *handlers)
    listener.start()
    return listener


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_pid_file(path: str) -> bool:
    """Write our pid to ``path``; False if a live process already holds it."""
    try:
        with open(path) as f:
            old = int(f.read().strip() or 0)
        if old and old != os.getpid() and _pid_alive(old):
            return False
    except (OSError, ValueError):
        pass
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(f"{os.getpid()}\n")
    return True


def remove_pid_file(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as e:
        if e.errno != errno.ENOENT:
            log.warning("cannot remove pid file %s: %s", path, e)


def daemonize() -> None:
    """Detach from the terminal as keepalived does without ``-n``."""
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def load_config(opts: Options, *, reload: bool = False) -> object | None:
    """The checked config, or None (findings already logged) if it cannot run.

    With ``reload``, a config with any error (not a warning, a deprecation or a
    script security note) is refused: the running one is better than one that
    drops what a typo broke."""
    from pykad.config.diagnostics import Severity
    from pykad.config.load import load
    from pykad.drivers.files import LocalFiles
    from pykad.drivers.host import LocalHost, LocalScriptHost

    loaded = load(
        LocalFiles(),
        opts.config_file,
        cwd=os.getcwd(),
        config_id=opts.config_id,
        host=LocalHost(),
        script_host=LocalScriptHost(),
        environ=os.environ,
    )
    for item in loaded.diagnostics.items:
        log.log(logging.WARNING if item.severity is not Severity.OK else logging.INFO, "%s", item)
    if loaded.config is None or loaded.diagnostics.stopped:
        return None
    if reload and (
        loaded.diagnostics.include_error
        or any(Severity.OK < d.severity <= Severity.GENERAL_ERROR for d in loaded.diagnostics.items)
    ):
        return None
    return loaded.config


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_held: list[int] = []


def _hold_signals() -> None:
    """Until trio takes them over, SIGTERM, SIGINT and SIGHUP are kept for it: a stop
    sent while the daemon starts (its children may already have done their work) is
    obeyed once it runs, not fatal on the spot."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda n, _: _held.append(n))


def release_held_signals() -> None:
    """In a forked child: the default dispositions again, nothing held."""
    _held.clear()
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


async def _with_held(signals: AsyncIterator[int]) -> AsyncIterator[int]:
    """The signals held before trio ran, then those trio receives."""
    while _held:
        yield _held.pop(0)
    async for signum in signals:
        yield signum


def _sync_daemons(config: Config) -> SyncDaemons | None:
    """The IPVS sync daemons that follow a VRRP instance (``lvs_sync_daemon IF INST``)."""
    from pykad.daemon.sync_daemon import SyncDaemons
    from pykad.kernel.ipvs import IpvsSocket

    syncd = config.global_defs.lvs_sync_daemon
    if syncd is None or syncd.instance is None:
        return None
    inst = next((i for i in config.vrrp.instances if i.name == syncd.instance), None)
    if inst is None:
        return None
    return SyncDaemons(syncd, inst.vrid, IpvsSocket)


def _reload_config(opts: Options) -> Config | None:
    """The configuration read again for a reload (None: it cannot be used)."""
    config = load_config(opts, reload=True)
    assert config is None or isinstance(config, Config)
    return config


def _sighup(checker_pid: int | None) -> None:
    """SIGHUP reaches the checker child (which reloads); VRRP's reload is not built yet."""
    if checker_pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(checker_pid, signal.SIGHUP)
    log.info("Reloading VRRP is not built yet; VRRP keeps its configuration")


async def _serve(
    opts: Options, config: object, bfd_events: int | None, checker_pid: int | None
) -> int:
    from pykad.config.model import Config
    from pykad.daemon.vrrp_service import VrrpService
    from pykad.drivers.notify import Notifier, default_script_user, vrrp_fifos
    from pykad.kernel.netlink import NetlinkBatchWriter

    assert isinstance(config, Config)
    notifier = Notifier(
        vrrp_fifos(config.global_defs), default_user=default_script_user(config.global_defs)
    )
    if opts.check_only:  # -C: the checker child does the work
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            log.info("Startup complete")
            async for signum in _with_held(signals):
                if signum != signal.SIGHUP:
                    break
                _sighup(checker_pid)
        log.info("Stopped pykad %s", pykad.__version__)
        return 0
    with NetlinkBatchWriter() as netlink:
        service = VrrpService(
            config,
            netlink,
            release_vips=not opts.dont_release_vrrp,
            notifier=notifier,
            bfd_events=bfd_events,
            sync_daemons=_sync_daemons(config),
        )
        try:
            service.setup()
        except (LookupError, ValueError, OSError) as e:
            log.error("cannot start VRRP: %s", e)
            return 1
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                log.info("Startup complete")
                async for signum in _with_held(signals):
                    if signum == signal.SIGHUP:
                        _sighup(checker_pid)
                        continue
                    log.info("Stopping")
                    service.stop()
                    break
        log.info("Stopped pykad %s", pykad.__version__)
    return 0


def run(opts: Options) -> int:
    """``pykad -f FILE ...``: run until told to stop; keepalived's exit codes."""
    listener = setup_logging(opts)
    try:
        return _run(opts, listener)
    finally:
        root = logging.getLogger("pykad")
        for handler in root.handlers:
            handler.flush()
        root.handlers.clear()
        listener.stop()


def _run(opts: Options, listener: logging.handlers.QueueListener) -> int:
    os.umask(KEEPALIVED_UMASK)
    # The log thread must not keep the packet path waiting for the GIL for the
    # default 5 ms: hand it back within 0.5 ms.
    sys.setswitchinterval(GIL_SWITCH_S)
    if opts.namespace:
        from pykad.drivers.host import LocalHost

        if not LocalHost().enter_namespace(opts.namespace):
            log.error("cannot enter network namespace %s", opts.namespace)
            return 1
    config = load_config(opts)
    _hold_signals()
    if config is None:
        log.error("Stopping: the configuration cannot be used")
        return 1
    if not opts.dont_fork:
        listener.stop()  # its thread does not survive the fork
        daemonize()
        listener.start()
    main_pid, vrrp_pid = pid_paths(opts)
    for path in (main_pid, vrrp_pid):
        if not claim_pid_file(path):
            log.error("daemon is already running (pid file %s)", path)
            return 1
    log.info("Starting pykad (keepalived 2.2.7 compatible), pid %d", os.getpid())
    from pykad.config.model import Config
    from pykad.daemon import bfd_process

    assert isinstance(config, Config)
    from pykad.daemon import check_process

    bfd = checker = None
    if not opts.no_bfd:
        bfd = bfd_process.start(config, opts.bfd_pid_file or f"{DEFAULT_PID_DIR}/bfd.pid", listener)
    try:
        if not opts.vrrp_only:
            checker = check_process.start(
                config,
                opts.checkers_pid_file or f"{DEFAULT_PID_DIR}/checkers.pid",
                listener,
                bfd.checker_events if bfd else None,
                lambda: _reload_config(opts),
            )
        if bfd is not None:  # the children have their copies
            os.close(bfd.checker_events)
        return trio.run(
            _serve, opts, config, bfd.vrrp_events if bfd else None, checker.pid if checker else None
        )
    finally:
        if checker is not None:
            checker.stop(check_process.STOP_TIMEOUT_S)
        if bfd is not None:
            bfd.stop(bfd_process.STOP_TIMEOUT_S)
        for path in (main_pid, vrrp_pid):
            remove_pid_file(path)
