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

import logging
import logging.handlers
import os
import signal
from dataclasses import dataclass

from pykad.config.model import Config
from pykad.daemon.child import Child, fork_child

log = logging.getLogger("pykad.bfd")

STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class BfdChild(Child):
    vrrp_events: int
    """The reading end of the pipe that carries events for VRRP."""
    checker_events: int
    """The reading end of the pipe that carries events for the checker process."""


def start(
    config: Config, pid_file: str, listener: logging.handlers.QueueListener
) -> BfdChild | None:
    """Fork the BFD child; call before trio runs in this process."""
    if not config.bfd.instances:
        return None
    vrrp_read, vrrp_write = os.pipe2(os.O_CLOEXEC)
    check_read, check_write = os.pipe2(os.O_CLOEXEC)
    pid = fork_child(
        "BFD",
        pid_file,
        listener,
        lambda: _serve(config, vrrp_write, check_write),
        parent_closes=(vrrp_write, check_write),
        child_closes=(vrrp_read, check_read),
    )
    return BfdChild(pid, vrrp_read, check_read)


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
