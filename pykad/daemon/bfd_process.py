"""The BFD child process: forked before trio starts, fed the config, read through a pipe.

keepalived runs BFD in its own child so that nothing else can delay a BFD
packet; so does pykad.  ``start`` forks the child when the configuration has
``bfd_instance`` blocks (and ``-B`` was not given); the child writes its pid
file (``-b``, default /run/bfd.pid), runs ``BfdService`` until SIGTERM or
SIGINT, and dies with its parent (PR_SET_PDEATHSIG).  Session events come back
through two pipes, one for the VRRP service and one for the checker process
(each gets the sessions whose ``bfd_instance`` names it, both by default).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import logging.handlers
import os
import signal
import time
from dataclasses import dataclass

from pykad.config.model import Config

log = logging.getLogger("pykad.bfd")

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class BfdChild:
    pid: int
    vrrp_events: int
    """The reading end of the pipe that carries events for VRRP."""
    checker_events: int
    """The reading end of the pipe that carries events for the checker process."""

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
    config: Config, pid_file: str, listener: logging.handlers.QueueListener
) -> BfdChild | None:
    """Fork the BFD child; call before trio runs in this process."""
    from pykad.daemon.process import claim_pid_file, release_held_signals, remove_pid_file

    if not config.bfd.instances:
        return None
    vrrp_read, vrrp_write = os.pipe2(os.O_CLOEXEC)
    check_read, check_write = os.pipe2(os.O_CLOEXEC)
    parent = os.getpid()
    listener.stop()  # no thread may hold a lock across the fork
    pid = os.fork()
    if pid:
        listener.start()
        os.close(vrrp_write)
        os.close(check_write)
        return BfdChild(pid, vrrp_read, check_read)
    code = 1
    try:
        release_held_signals()
        os.close(vrrp_read)
        os.close(check_read)
        listener.start()
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == parent and claim_pid_file(pid_file):
            log.info("Starting BFD child process, pid=%d", os.getpid())
            try:
                code = _serve(config, vrrp_write, check_write)
            finally:
                remove_pid_file(pid_file)
    except BaseException:
        log.exception("BFD child process failed")
    finally:
        listener.stop()
        os._exit(code)


def _serve(config: Config, vrrp_fd: int, checker_fd: int) -> int:
    from pykad.daemon.bfd_service import BfdService, EventPipe

    for fd in (vrrp_fd, checker_fd):
        os.set_blocking(fd, False)
    service = BfdService(config.bfd, [EventPipe(vrrp_fd, "vrrp"), EventPipe(checker_fd, "checker")])
    try:
        service.setup()
    except OSError as e:
        log.error("cannot start BFD: %s", e)
        return 1
    stop: list[int] = []
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_write)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda n, _: stop.append(n))
    signal.signal(signal.SIGHUP, lambda n, _: None)  # BFD reload is not built yet
    try:
        service.run(lambda: bool(stop), wake_read)
    finally:
        service.close()
        signal.set_wakeup_fd(-1)
        os.close(wake_read)
        os.close(wake_write)
    log.info("Stopped BFD child process")
    return 0
