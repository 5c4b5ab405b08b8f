"""The daemon's forked children (BFD, checkers): forking one, its life, stopping it.

keepalived runs each subsystem in a child of its own; pykad's main process forks
them before trio starts.  :func:`fork_child` does what every child needs: no
logging thread across the fork, the stop signals back to their defaults, death
with the parent (PR_SET_PDEATHSIG), its pid file (refusing to run over a live
one), the body, and ``os._exit`` with the body's code whatever happens.
:class:`Child` stops one: SIGTERM, then SIGKILL after a timeout.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import logging.handlers
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger("pykad")

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class Child:
    pid: int

    def stop(self, timeout: float) -> int | None:
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


def fork_child(
    title: str,
    pid_file: str,
    listener: logging.handlers.QueueListener,
    body: Callable[[], int],
    *,
    parent_closes: Iterable[int] = (),
    child_closes: Iterable[int] = (),
) -> int:
    """Fork; the parent gets the child's pid, the child runs ``body`` and exits with its
    code (1 if it raised).  ``parent_closes`` / ``child_closes``: descriptors that only
    the other side keeps (pipe ends).  Call before trio runs in this process."""
    from pykad.daemon.process import claim_pid_file, release_held_signals, remove_pid_file

    parent = os.getpid()
    listener.stop()  # no thread may hold a lock across the fork
    pid = os.fork()
    if pid:
        listener.start()
        for fd in parent_closes:
            os.close(fd)
        return pid
    code = 1
    try:
        release_held_signals()
        for fd in child_closes:
            os.close(fd)
        listener.start()
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == parent and claim_pid_file(pid_file):
            log.info("Starting %s child process, pid=%d", title, os.getpid())
            try:
                code = body()
            finally:
                remove_pid_file(pid_file)
    except BaseException:
        log.exception("%s child process failed", title)
    finally:
        listener.stop()
        os._exit(code)
