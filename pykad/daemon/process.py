"""The daemon: ``pykad -f FILE`` as keepalived 2.2.7 runs, and its VRRP child.

Owns what ``pykad -f FILE`` does after parsing its flags: read the config (a
config with errors that keepalived would refuse to run stops here), log to the
console (``-l``) or syslog (``-S`` facility; each process with keepalived's
ident), enter ``net_namespace``, detach unless ``-n``, write the main pid file
(``-p``, refusing to start over a live daemon), then hand over to the
supervising parent (``daemon.supervisor``), which forks one child per
subsystem and supervises them.  The parent blocks the daemon's signals from
the start (:func:`block_signals`) and takes them one at a time; children hold
them until their own loop takes them (:func:`hold_signals`).

The VRRP child lives here (:func:`start_vrrp`): it writes ``-r`` (default
/run/vrrp.pid), runs the VRRP service under trio, and on SIGTERM/SIGINT leaves
as keepalived does (priority 0 adverts from masters, VIPs removed unless
``-V``).  SIGHUP reloads it (:func:`_reload_vrrp`, ``VrrpService.reload``).  The dump signals write
keepalived's files into ``$TMPDIR`` (default /tmp), with keepalived's names:
SIGUSR1 ``keepalived.data``, SIGUSR2 ``keepalived.stats``, SIGRTMAX-1
``keepalived.stats`` then the counters cleared, SIGRTMIN+2 ``keepalived.json``
(texts from ``daemon.dump``).  The VRRP child serves its control socket
(``daemon.control``, ``vrrp.sock``) from a trio task: ``status``, ``stats``,
``demote`` and ``promote`` (``daemon.status``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import logging.handlers
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from queue import SimpleQueue
from types import CodeType, FrameType
from typing import TYPE_CHECKING

import trio

import pykad
from pykad.config.memo import BlockMemo
from pykad.config.model import Config
from pykad.config.sections._global_model import DEFAULT_UMASK
from pykad.config.sections._vrrp_reuse import ENVIRONMENT as VRRP_READS
from pykad.daemon import dump, reload_order, run_files
from pykad.daemon.child import set_syslog_ident
from pykad.daemon.dump import InstanceSnapshot, InstanceStats
from pykad.daemon.sigfunc import SIGJSON, SIGSTATS_CLEAR

if TYPE_CHECKING:
    from pykad.config.load import Loaded
    from pykad.daemon.actions import Actions
    from pykad.daemon.sync_daemon import SyncDaemons
    from pykad.daemon.vrrp_service import VrrpService

log = logging.getLogger("pykad")

GIL_SWITCH_S = 0.0005
START_UMASK = 0o077
"""The umask without ``-u`` or a configured ``umask``: what the daemon and its scripts
create is private (keepalived's own default, 0177, also takes the owner's x bit)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    config_file: str
    cwd: str = field(default_factory=os.getcwd)
    """The directory a relative ``-f`` path and includes are read from: the one at start
    (a daemon then moves to /, and reloads must find the same files)."""
    config_id: str
    dont_fork: bool = False
    log_console: bool = False
    log_detail: bool = False
    address_monitoring: bool = False
    """``-a``: the VRRP child logs every address change it reads."""
    no_syslog: bool = False
    log_facility: int = 3
    """syslog facility code (``-S``; LOG_DAEMON by default)."""
    dont_release_vrrp: bool = False
    dont_release_ipvs: bool = False
    """``-I``: the checker child leaves its IPVS services in the kernel at stop."""
    run_all: bool = False
    """``--all``: the checker and BFD children run even with nothing to do."""
    dont_respawn: bool = False
    """``-R``: a child that dies stops the daemon instead of being respawned."""
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
    """``-s`` (before the config is read), then the namespace the daemon runs in."""
    instance_name: str | None = None
    settled: tuple[str | None, str | None] | None = None
    """The configuration's ``net_namespace`` and ``instance`` at start, once the daemon
    has settled its names (``daemon.run_files.resolve``); a reload may not change them."""
    umask: int | None = None
    """``-u``: the umask, over the configuration's ``umask``."""
    core_dump: bool = False
    """``-m``: no limit on core files (the daemon and what it starts)."""
    core_pattern: str | None = None
    """``-M``: the kernel's core_pattern while the daemon runs (put back at its stop)."""
    extra_pid_files: Sequence[str] = field(default_factory=tuple)
    control_dir: str | None = None
    """pykad: the control sockets' directory (None: ``control.control_dir`` of ``-p``)."""
    metrics_address: str | None = None
    """pykad: ``HOST:PORT`` of the Prometheus endpoint (overrides ``pykad_metrics_address``)."""
    no_control: bool = False
    """pykad: no control sockets (and so no metrics)."""


def run_dir(opts: Options) -> str | None:
    """The control sockets' directory (``daemon.control``), None when disabled."""
    from pykad.daemon.control import control_dir

    if opts.no_control:
        return None
    return control_dir(pid_paths(opts)[0], opts.control_dir)


def pid_paths(opts: Options) -> tuple[str, str]:
    """The main and VRRP pid files (``-p``, ``-r``; keepalived's defaults otherwise:
    ``daemon.run_files``)."""
    return (
        opts.pid_file or f"{run_files.RUN_DIR}/keepalived.pid",
        opts.vrrp_pid_file or f"{run_files.RUN_DIR}/vrrp.pid",
    )


def checkers_pid_path(opts: Options) -> str:
    return opts.checkers_pid_file or f"{run_files.RUN_DIR}/checkers.pid"


def bfd_pid_path(opts: Options) -> str:
    return opts.bfd_pid_file or f"{run_files.RUN_DIR}/bfd.pid"


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
        """Queue what is held (also at exit, when trio may not run the callback).  Under
        the handler's lock: a worker thread's record (a reload's config read) flushes
        too, and must not take the trio thread's held records a second time."""
        self.acquire()  # an RLock: emit holds it when it flushes
        try:
            held, self._held = self._held, []
            for record in held:
                self.target.handle(record)
        finally:
            self.release()


SYSLOG_SOCKET = "/dev/log"


class QuietSysLogHandler(logging.handlers.SysLogHandler):
    """Drops what syslog does not take, as syslog(3) does (no traceback per line)."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def setup_logging(opts: Options, program: str = "Keepalived") -> logging.handlers.QueueListener:
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
            syslog = QuietSysLogHandler(address=SYSLOG_SOCKET, facility=opts.log_facility)
            syslog.ident = f"{program}[{os.getpid()}]: "
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
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):  # keepalived's /run/keepalived: rwxr-xr-x
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w") as f:
        os.fchmod(fd, 0o644)  # as keepalived's, whatever the umask
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


def load_config(
    opts: Options,
    *,
    reload: bool = False,
    sections: Collection[str] | None = None,
    retire: bool = True,
) -> object | None:
    """The checked config, or None (findings already logged) if it cannot run.

    With ``reload``, a config with any error (not a warning, a deprecation, a
    script security note, or a value keepalived corrects itself) is refused: the
    running one is better than one that drops what a typo broke.  ``sections``: only
    those are read (a child's own, ``VRRP_SECTIONS`` or ``CHECKER_SECTIONS``; see
    ``pykad.config.load.load``).
    ``retire``: what the last read kept is freed now (else by ``_retire_memo``)."""
    from pykad.config.diagnostics import Severity

    loaded = _read(opts, sections, retire=retire)
    for item in loaded.diagnostics.items:
        log.log(logging.WARNING if item.severity is not Severity.OK else logging.INFO, "%s", item)
    if loaded.config is None or loaded.diagnostics.stopped:
        return None
    if reload and (
        loaded.diagnostics.include_error
        or any(
            Severity.OK < d.severity <= Severity.GENERAL_ERROR and not d.corrected
            for d in loaded.diagnostics.items
        )
    ):
        return None
    refusal = run_files.reload_refusal(opts, loaded.config.global_defs) if reload else None
    if refusal is not None:
        log.info("%s", refusal)
        return None
    return loaded.config


# --------------------------------------------------------------------------- signals

DAEMON_SIGNALS: tuple[int, ...] = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGUSR1,
    signal.SIGUSR2,
    SIGSTATS_CLEAR,
    SIGJSON,
)
"""What the daemon answers: stop, reload, and the dumps (``daemon.sigfunc``)."""
PARENT_SIGNALS: tuple[int, ...] = (*DAEMON_SIGNALS, signal.SIGCHLD)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
RELAYED_STOP = signal.SIGRTMIN + 8
"""The parent's note to itself that a stop signal came (and went on to the VRRP
child from its handler: ``Supervisor``)."""
_held: list[int] = []


def block_signals() -> None:
    """The parent's mask: its signals wait for :func:`signal.sigtimedwait` (and every
    thread started afterwards inherits the mask, so none of them takes a signal)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, (*PARENT_SIGNALS, RELAYED_STOP))


def unblock_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (*PARENT_SIGNALS, RELAYED_STOP))


def hold_signals() -> None:
    """In a child: the daemon's signals are kept (:func:`take_held_signals`) until its
    loop takes them over; a stop sent while it starts is obeyed, not fatal."""
    for signum in DAEMON_SIGNALS:
        signal.signal(signum, lambda n, _: _held.append(n))
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def take_held_signals() -> list[int]:
    held = list(_held)
    _held.clear()
    return held


async def with_held_signals(
    signals: AsyncIterator[int], wanted: Collection[int]
) -> AsyncIterator[int]:
    """The ``wanted`` signals held before trio ran, then those trio receives."""
    for signum in take_held_signals():
        if signum in wanted:
            yield signum
    async for signum in signals:
        yield signum


# --------------------------------------------------------------------------- VRRP child


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


_MEMO = BlockMemo()
"""This process's last read of the configuration, for its next (a reload): a child
inherits the parent's start-up read, then keeps its own (``pykad.config.memo``)."""
_MEMO_LOCK = threading.Lock()


def _read(opts: Options, sections: Collection[str] | None, *, retire: bool = True) -> Loaded:
    from pykad.config.load import load
    from pykad.daemon.memory import collector_paused
    from pykad.drivers.files import LocalFiles
    from pykad.drivers.host import LocalHost, LocalScriptHost, SettledHost

    with collector_paused(), contextlib.ExitStack() as stack:
        memo = _MEMO if _MEMO_LOCK.acquire(blocking=False) else None
        if memo is not None:
            stack.callback(_MEMO_LOCK.release)
            if retire:
                stack.callback(memo.retire)
        return load(
            LocalFiles(),
            opts.config_file,
            cwd=opts.cwd,
            config_id=opts.config_id,
            host=SettledHost() if opts.namespace or opts.settled else LocalHost(),
            script_host=LocalScriptHost(),
            environ=os.environ,
            sections=sections,
            memo=memo,
        )


def top_level_keywords(opts: Options) -> set[str]:
    """The top-level keywords of the configuration file, read without building anything
    but ``global_defs`` (every block walked unread); empty if it cannot be read.  The
    parent reads them at a reload beside its children: at a lower CPU priority."""
    reload_order.after_vrrp(run_dir(opts))
    with _lower_priority(True):
        return {statement.keyword for statement in _read(opts, ("global",)).tree}


VRRP_SECTIONS = VRRP_READS
"""What the VRRP child reads at a reload (keepalived's VRRP process skips the checkers')."""
CHECKER_SECTIONS = ("global", "track_file", "bfd", "lvs")
"""What the checker child reads at a reload (keepalived's checker skips VRRP's)."""
BFD_SECTIONS = ("global", "bfd")
"""What the BFD child reads at a reload."""


BACKGROUND_NICE = 10
"""How much lower a background re-read runs (see :func:`reload_config`)."""


def reload_config(
    opts: Options,
    sections: Collection[str] | None = None,
    *,
    background: bool = False,
    retire: bool = True,
) -> Config | None:
    """The configuration read again for a reload (None: it cannot be used); a child
    reads only its ``sections``, and refuses only what is wrong in them.

    ``background`` (the checker and BFD children): the calling thread reads at a
    lower CPU priority, and only once the VRRP child has reloaded
    (``reload_order``), so that its re-read, which its adverts wait for, is not
    slowed by theirs on a busy director."""
    if background:
        reload_order.after_vrrp(run_dir(opts))
    with _lower_priority(background):
        config = load_config(opts, reload=True, sections=sections, retire=retire)
    assert config is None or isinstance(config, Config)
    return config


@contextlib.contextmanager
def _lower_priority(lower: bool) -> Iterator[None]:
    """This thread's nice value raised by ``BACKGROUND_NICE`` for the block (Linux
    sets it per thread); left as it is if it cannot be put back (not root)."""
    if not lower or os.geteuid() != 0:
        yield
        return
    tid = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, tid)
    os.setpriority(os.PRIO_PROCESS, tid, min(before + BACKGROUND_NICE, 19))
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, tid, before)


def _retire_memo() -> None:
    with _MEMO_LOCK:
        _MEMO.retire()


async def _reload_vrrp(service: VrrpService, opts: Options, actions: Actions) -> None:
    """SIGHUP in the VRRP child: the configuration read again and handed to
    ``VrrpService.reload`` (which applies only what changed).  The config is read in
    a thread: a big one takes long, and the adverts must go on meanwhile.  One that
    cannot be used is refused and the running one kept.

    The cyclic collector stays off from the read until the reload has frozen what
    it made (``freeze_long_lived``): a collection just after the read would go
    through every object it made, all of them long-lived (the new configuration,
    the blocks kept for the next read), and hold up the reload for tens of ms."""
    from pykad.daemon.memory import collector_paused

    log.info("Reloading")
    start = time.monotonic()
    with reload_order.reloading(run_dir(opts)), collector_paused():
        config = await trio.to_thread.run_sync(
            lambda: reload_config(opts, VRRP_SECTIONS, retire=False), abandon_on_cancel=True
        )
        if config is None:
            log.error("Reload refused: the new configuration cannot be used; kept")
            return
        read = time.monotonic()
        service.reload(config)
        actions.clear()  # runtime actions last until the next reload
    done = time.monotonic()
    await trio.to_thread.run_sync(_retire_memo, abandon_on_cancel=True)
    log.info(
        "Reload took %.1f ms: read %.1f (%d unchanged blocks taken, %d instances), applied %.1f",
        1e3 * (done - start),
        1e3 * (read - start),
        _MEMO.reused,
        _MEMO.taken,
        1e3 * (done - read),
    )


class Reloads:
    """SIGHUPs turned into reloads that run beside the signal loop, one at a time (a
    SIGHUP during a reload asks for one more after it), cancelled by a stop: reading a
    big configuration takes seconds, and a SIGTERM must not wait for it."""

    def __init__(self, nursery: trio.Nursery, reload: Callable[[], Awaitable[None]]) -> None:
        self._nursery = nursery
        self._reload = reload
        self._scope = trio.CancelScope()
        self._running = False
        self._again = False
        self._cancelled = False

    def request(self) -> None:
        if self._cancelled:
            return
        if self._running:
            self._again = True
            return
        self._running = True
        self._scope = trio.CancelScope()
        self._nursery.start_soon(self._run, self._scope)

    def cancel(self) -> None:
        self._cancelled = True
        self._scope.cancel()

    async def _run(self, scope: trio.CancelScope) -> None:
        with scope:
            try:
                while True:
                    self._again = False
                    await self._reload()
                    if not self._again:
                        break
            finally:
                self._running = False


def dump_path(name: str) -> str:
    """keepalived's dump files are in ``$TMPDIR``, default /tmp."""
    return os.path.join(os.environ.get("TMPDIR") or "/tmp", name)


def write_dump(name: str, text: str) -> None:
    """Write one dump file as keepalived does: 0600, never through a symlink."""
    path = dump_path(name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError as e:
        log.info("Can't open %s (%d: %s)", path, e.errno, e.strerror)
        return
    with os.fdopen(fd, "w") as f:
        f.write(text)


def global_dump(config: Config, *, vrrp: bool = False) -> list[str]:
    """keepalived's ``Global definitions`` block for this process's dump file."""
    from pykad.daemon.dump_data import format_global
    from pykad.drivers.notify import default_script_user

    gd = config.global_defs
    return format_global(
        gd, script_ids=default_script_user(gd), hostname=socket.gethostname(), vrrp=vrrp
    )


@dataclass
class VrrpDumps:
    """The VRRP child's answers to the dump signals."""

    service: VrrpService
    started: float
    baselines: dict[str, InstanceStats] = field(default_factory=dict)

    def transitions(self) -> dict[str, float]:
        """When each instance last changed state (``Instance.last_transition``)."""
        return {i.name: i.last_transition for i in self.service.instances if i.last_transition}

    def snapshots(self) -> list[InstanceSnapshot]:
        snaps = dump.snapshot(self.service, transitions=self.transitions(), started=self.started)
        return dump.cleared(snaps, self.baselines)

    def answer(self, signum: int) -> None:
        pid = os.getpid()
        if signum == signal.SIGUSR1:
            log.info("Printing VRRP data for process(%d) on signal", pid)
            head = global_dump(self.service.config, vrrp=True)
            write_dump(dump.DATA_FILE, dump.format_data(self.snapshots(), global_lines=head))
        elif signum == signal.SIGUSR2:
            log.info("Printing VRRP stats for process(%d) on signal", pid)
            write_dump(dump.STATS_FILE, dump.format_stats(self.snapshots()))
        elif signum == SIGSTATS_CLEAR:
            log.info("Printing and clearing VRRP stats for process(%d) on signal", pid)
            snaps = self.snapshots()
            write_dump(dump.STATS_FILE, dump.format_stats(snaps))
            raw = dump.snapshot(self.service, transitions={}, started=self.started)
            self.baselines = {s.name: s.stats for s in raw}
        elif signum == SIGJSON:
            log.info("Printing VRRP as json for process(%d) on signal", pid)
            write_dump(dump.JSON_FILE, dump.format_json(self.snapshots()))


def start_vrrp(
    opts: Options,
    config: Config,
    listener: logging.handlers.QueueListener,
    bfd_events: int | None,
    *,
    child_closes: Sequence[int] = (),
) -> int:
    """Fork the VRRP child (from the parent); its pid."""
    from pykad.daemon.child import fork_child

    def body() -> int:
        return trio.run(_serve_vrrp, opts, config, bfd_events)

    return fork_child(
        "VRRP",
        "Keepalived_vrrp",
        pid_paths(opts)[1],
        listener,
        body,
        child_closes=child_closes,
        ident_suffix=run_files.syslog_ident(opts, ""),
    )


async def _serve_vrrp(opts: Options, config: Config, bfd_events: int | None) -> int:
    from pykad.daemon import control, scheduling, status
    from pykad.daemon.actions import Actions
    from pykad.daemon.child import EXIT_FATAL
    from pykad.daemon.vrrp_service import VrrpService
    from pykad.drivers import fast
    from pykad.drivers.mailer import Mailer
    from pykad.drivers.notify import Notifier, default_script_user, vrrp_fifos
    from pykad.kernel.netlink import NetlinkBatchWriter

    notifier = Notifier(
        vrrp_fifos(config.global_defs),
        default_user=default_script_user(config.global_defs),
        mailer=Mailer(),  # the service configures it (and again on each reload)
    )
    with NetlinkBatchWriter() as netlink:
        service = VrrpService(
            config,
            netlink,
            release_vips=not opts.dont_release_vrrp,
            log_addresses=opts.address_monitoring,
            notifier=notifier,
            bfd_events=bfd_events,
            sync_daemons=_sync_daemons(config),
        )
        try:
            service.setup()
        except (LookupError, ValueError, OSError) as e:
            log.error("cannot start VRRP: %s", e)
            return EXIT_FATAL
        started = time.time()
        dumps = VrrpDumps(service, started)
        actions = Actions(run_dir(opts), "vrrp")
        with trio.open_signal_receiver(*DAEMON_SIGNALS) as signals:
            _hand_over_at_once(service)
            fast.leave_install(STOP_SIGNALS)  # in front of it: see daemon/leave.py
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                for name in actions.load():  # this child was respawned: demoted again
                    service.demote(str(name))
                serving = control.start_trio(
                    nursery, run_dir(opts), "vrrp", status.vrrp_handler(service, started, actions)
                )
                scheduling.apply(config.global_defs.vrrp_process, "vrrp")
                gd = config.global_defs
                auto = scheduling.auto_priority(gd, gd.vrrp_process, "vrrp")
                if auto is not None:
                    service.timers.late = (auto.min_delay_us, auto.late)
                log.info("Startup complete")
                reloads = Reloads(nursery, lambda: _reload_vrrp(service, opts, actions))
                async for signum in with_held_signals(signals, DAEMON_SIGNALS):
                    if signum in STOP_SIGNALS:
                        reloads.cancel()  # a stop never waits for a reload
                        service.stop()
                        break
                    if signum == signal.SIGHUP:
                        reload_order.mark(run_dir(opts))  # at once: the others wait for it
                        reloads.request()
                    else:
                        dumps.answer(signum)
                if serving is not None:
                    serving.cancel()
        log.info("Stopped")
    return 0


def _hand_over_at_once(service: VrrpService) -> None:
    """SIGTERM / SIGINT in the VRRP child: the masters' priority-0 adverts go from the
    signal handler itself when the trio loop is waiting for events (the handler runs
    in the interrupted ``epoll_wait``'s frame: no task, nothing half done), then
    trio's handler passes the signal on to the task that stops the service.  Through
    that task alone they would leave a few hundred microseconds later."""
    for signum in STOP_SIGNALS:
        passed_on = signal.getsignal(signum)
        if not callable(passed_on):
            continue

        def handler(
            n: int, frame: FrameType | None, passed_on: Callable[..., object] = passed_on
        ) -> None:
            if frame is not None and frame.f_code is _WAITING_FOR_EVENTS:
                service.advertise_leaving()
            passed_on(n, frame)

        signal.signal(signum, handler)


def _waiting_for_events() -> CodeType | None:
    """The code of trio's wait for events (None: this trio has another)."""
    try:
        from trio._core._io_epoll import EpollIOManager

        return EpollIOManager.get_events.__code__
    except (ImportError, AttributeError):
        return None


_WAITING_FOR_EVENTS = _waiting_for_events()


# --------------------------------------------------------------------------- the daemon


def run(opts: Options) -> int:
    """``pykad -f FILE ...``: run until told to stop; keepalived's exit codes."""
    block_signals()  # before any thread starts: all of them inherit the mask
    listener = setup_logging(opts)
    try:
        with _core_dumps(opts):
            return _run(opts, listener)
    finally:
        root = logging.getLogger("pykad")
        for handler in root.handlers:
            handler.flush()
        root.handlers.clear()
        listener.stop()


CORE_PATTERN = "/proc/sys/kernel/core_pattern"


@contextlib.contextmanager
def _core_dumps(opts: Options) -> Iterator[None]:
    """``-m``: core files without a size limit; ``-M``: the kernel's core_pattern set
    for the daemon's life, then put back (keepalived's ``core_dump_init``)."""
    import resource

    saved: str | None = None
    if opts.core_pattern is not None:
        try:
            with open(CORE_PATTERN) as f:
                saved = f.read()
            with open(CORE_PATTERN, "w") as f:
                f.write(opts.core_pattern)
        except OSError as e:
            log.info("Unable to set core_pattern to %s (%s)", opts.core_pattern, e)
            saved = None
    if opts.core_dump:
        try:
            resource.setrlimit(
                resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
            )
        except (OSError, ValueError):
            log.info("Failed to set core file size")
    try:
        yield
    finally:
        if saved is not None:
            try:
                with open(CORE_PATTERN, "w") as f:
                    f.write(saved)
            except OSError as e:
                log.info("Unable to restore core_pattern (%s)", e)


def _run(opts: Options, listener: logging.handlers.QueueListener) -> int:
    from pykad.daemon.supervisor import Supervisor

    os.umask(START_UMASK if opts.umask is None else opts.umask)
    # The log thread must not keep the packet path waiting for the GIL for the
    # default 5 ms: hand it back within 0.5 ms.
    sys.setswitchinterval(GIL_SWITCH_S)
    if opts.namespace:
        from pykad.drivers.host import LocalHost

        if not LocalHost().enter_namespace(opts.namespace):
            log.error("cannot enter network namespace %s", opts.namespace)
            return 1
    config = load_config(opts)
    if config is None:
        log.error("Stopping: the configuration cannot be used")
        return 1
    assert isinstance(config, Config)
    defs = config.global_defs
    if opts.umask is None and defs.umask != DEFAULT_UMASK:
        os.umask(defs.umask)
    if (line := run_files.override_line(opts, defs)) is not None:
        log.info("%s", line)
    opts = run_files.resolve(opts, defs)
    ident = run_files.syslog_ident(opts, "Keepalived")
    if opts.namespace or opts.instance_name:
        log.info("Changing syslog ident to %s", ident)
        set_syslog_ident(listener, ident)
    mounted = bool(opts.namespace) and run_files.private_run_dir(str(opts.namespace))
    if not opts.dont_fork:
        listener.stop()  # its thread does not survive the fork
        daemonize()
        set_syslog_ident(listener, ident)  # the daemon's own pid
        listener.start()
    main_pid = pid_paths(opts)[0]
    if not claim_pid_file(main_pid):
        log.error("daemon is already running (pid file %s)", main_pid)
        return 1
    try:
        log.info("Starting pykad (keepalived 2.2.7 compatible), pid %d", os.getpid())
        code = Supervisor(opts, config, listener).run()
        log.info("Stopped pykad %s", pykad.__version__)
        return code
    finally:
        remove_pid_file(main_pid)
        run_files.remove_run_dirs(opts, unmount=mounted)
