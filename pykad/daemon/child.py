"""The daemon's children (VRRP, checkers, BFD): forking one, reading how it ended, respawn pace.

keepalived runs each subsystem in a child of the supervising parent
(``daemon.supervisor``).  :func:`fork_child` does what every child needs: no
logging thread across the fork, its own syslog ident, the parent's signals held
for the child's own loop (the parent blocks them; a child unblocks them once
they are held, so a signal sent while it starts is obeyed when its loop runs,
never fatal on the spot), death with the parent (``PR_SET_PDEATHSIG`` with
SIGTERM, as keepalived's children), its pid file (a live one names another
daemon: the child exits with keepalived's FATAL code), the body, and
``os._exit`` with the body's code whatever happens.

:func:`exit_report` reads a child's wait status as keepalived's
``report_child_status`` does (its log line, and whether the exit is permanent:
FATAL or CONFIG stop the whole daemon); :class:`RespawnDelay` is keepalived's
``calc_restart_delay`` (0, 1, 2, 4 ... 60 s between respawns of a child that
keeps dying within a minute of its start).  Both are pure.
"""

from __future__ import annotations

import ctypes
import logging
import logging.handlers
import os
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger("pykad")

PR_SET_PDEATHSIG = 1
EXIT_OK = 0
EXIT_FATAL = 3
"""keepalived's ``KEEPALIVED_EXIT_FATAL``: the child cannot run; do not respawn it."""
EXIT_CONFIG = 4
"""keepalived's ``KEEPALIVED_EXIT_CONFIG``: the configuration cannot run; do not respawn."""
RESPAWN_QUIET_S = 60.0
"""A child that ran longer than this is respawned at once (and its delay starts over)."""
RESPAWN_MAX_DELAY_S = 60


@dataclass(frozen=True, slots=True)
class ExitReport:
    """How a child ended, in keepalived's words."""

    line: str | None
    """The log line (None: a clean exit, nothing to say)."""
    permanent: bool
    """FATAL or CONFIG: the daemon stops instead of respawning."""


def exit_report(name: str, status: int) -> ExitReport:
    """keepalived's ``report_child_status`` for a wait status from ``os.waitpid``."""
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        if code in (EXIT_FATAL, EXIT_CONFIG):
            word = "CONFIG" if code == EXIT_CONFIG else "FATAL"
            return ExitReport(f"{name} exited with permanent error {word}. Terminating", True)
        if code != EXIT_OK:
            return ExitReport(f"{name} exited with status {code}", False)
        return ExitReport(None, False)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            text = signal.strsignal(sig) or str(sig)
        except ValueError:
            text = str(sig)
        hint = " - has rlimit_rttime been exceeded?" if sig == signal.SIGKILL else ""
        return ExitReport(f"{name} exited due to signal {sig} ({text}){hint}", False)
    return ExitReport(None, False)


class RespawnDelay:
    """keepalived's ``calc_restart_delay`` for one child, with explicit times."""

    def __init__(self) -> None:
        self.next_delay = 0
        self.started: float | None = None

    def start(self, now: float) -> None:
        self.started = now

    def after_death(self, now: float) -> int | None:
        """Seconds to wait before the respawn; None: at once, and nothing to log.

        A child that ran at least a minute is respawned at once; one that died
        sooner waits 0 s the first time, then 1, 2, 4 ... up to 60 s.
        """
        if self.started is None or now - self.started >= RESPAWN_QUIET_S:
            self.next_delay = 0
            return None
        delay = self.next_delay
        if delay == 0:
            self.next_delay = 1
        elif self.next_delay > 30:
            self.next_delay = RESPAWN_MAX_DELAY_S
        else:
            self.next_delay *= 2
        return delay


def child_died_lines(title: str, pid: int) -> list[str]:
    """keepalived's ``log_child_died``."""
    return [
        f"{title} child process({pid}) died: Respawning",
        "  Please log an issue at https://github.com/acassen/keepalived/issues/",
        "  and include a full copy of your keepalived configuration files, and",
        "  copies of the keepalived system log entries around the time this happened",
    ]


def die_with_parent(signum: int) -> None:
    """This process gets ``signum`` when its parent dies (``PR_SET_PDEATHSIG``)."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signum)


def set_syslog_ident(listener: logging.handlers.QueueListener, program: str) -> None:
    """Name this process in syslog as keepalived names its own (``Keepalived_vrrp[pid]``)."""
    for handler in listener.handlers:
        if isinstance(handler, logging.handlers.SysLogHandler):
            handler.ident = f"{program}[{os.getpid()}]: "


def fork_child(
    title: str,
    program: str,
    pid_file: str,
    listener: logging.handlers.QueueListener,
    body: Callable[[], int],
    *,
    child_closes: Iterable[int] = (),
    ident_suffix: str = "",
) -> int:
    """Fork; the parent gets the child's pid, the child runs ``body`` and exits with its
    code (1 if it raised).  ``title`` names the child in keepalived's log lines
    (``VRRP``, ``Healthcheck``, ``BFD``), ``program`` in syslog (with ``ident_suffix``:
    ``daemon.run_files.syslog_ident``).  ``child_closes``:
    descriptors the child must not keep.  Call from the parent, where the
    daemon's signals are blocked and trio does not run."""
    from pykad.daemon.process import claim_pid_file, hold_signals, remove_pid_file, unblock_signals

    parent = os.getpid()
    listener.stop()  # no thread may hold a lock across the fork
    pid = os.fork()
    if pid:
        listener.start()
        log.info("Starting %s child process, pid=%d", title, pid)
        return pid
    code = 1
    try:
        set_syslog_ident(listener, program + ident_suffix)
        listener.start()  # its thread keeps the blocked mask: signals go to the main thread
        hold_signals()
        unblock_signals()
        for fd in child_closes:
            os.close(fd)
        die_with_parent(signal.SIGTERM)
        if os.getppid() != parent:
            code = EXIT_OK  # the parent is gone already
        elif not claim_pid_file(pid_file):
            log.error("%s child process: cannot write pidfile %s (in use)", title, pid_file)
            code = EXIT_FATAL
        else:
            try:
                code = body()
            finally:
                remove_pid_file(pid_file)
    except BaseException:
        log.exception("%s child process failed", title)
    finally:
        listener.stop()
        os._exit(code)
