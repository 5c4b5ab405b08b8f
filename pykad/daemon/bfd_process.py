"""The BFD child process: forked by the supervising parent, its events sent through pipes.

keepalived runs BFD in its own child so that nothing else can delay a BFD
packet; so does pykad.  The parent forks it (``daemon.supervisor``) when the
configuration has ``bfd_instance`` blocks and ``-B`` was not given; the child
writes its pid file (``-b``, default /run/bfd.pid), runs ``BfdService`` until
SIGTERM or SIGINT, and dies with its parent (PR_SET_PDEATHSIG).  SIGHUP is
taken and ignored (BFD reload is not built); the dump signals are ignored.

Session events go through two pipes, one read by the VRRP child and one by the
checker child (each gets the sessions whose ``bfd_instance`` names it, both by
default).  :class:`BfdPipes` are made once by the parent, which keeps all four
ends open for its whole life: a respawned BFD child writes into the same pipes,
a respawned VRRP or checker child reads from the same ones, and no reader ever
sees end-of-file because a writer died.  Each event is one ``write`` of a
fixed-size record (below PIPE_BUF, so atomic): a BFD child killed mid-stream
leaves no half record; events written while a reader was down are read when
it comes back, in order.

The child serves its control socket (``daemon.control``, ``bfd.sock``: the
sessions' state and flaps) without trio and without touching the loop's
timing: the loop's wake-up fd is an epoll set holding the signal wake-up pipe
and the server's own epoll fd, and the service lets the server do what is
ready (never blocking) after each wake-up (``BfdService.run``'s ``on_wake``).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
from dataclasses import dataclass

from pykad.config.model import Config
from pykad.daemon.child import fork_child

log = logging.getLogger("pykad.bfd")

STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class BfdPipes:
    """The two event pipes between the BFD child and its readers (made by the parent)."""

    vrrp_read: int
    vrrp_write: int
    checker_read: int
    checker_write: int

    @classmethod
    def open(cls) -> BfdPipes:
        vrrp_read, vrrp_write = os.pipe2(os.O_CLOEXEC)
        check_read, check_write = os.pipe2(os.O_CLOEXEC)
        return cls(vrrp_read, vrrp_write, check_read, check_write)

    def all(self) -> tuple[int, ...]:
        return (self.vrrp_read, self.vrrp_write, self.checker_read, self.checker_write)

    def but(self, *keep: int) -> tuple[int, ...]:
        """Every end except ``keep`` (what a child closes)."""
        return tuple(fd for fd in self.all() if fd not in keep)

    def close(self) -> None:
        for fd in self.all():
            os.close(fd)


def start(
    config: Config,
    pid_file: str,
    listener: logging.handlers.QueueListener,
    pipes: BfdPipes,
    control_dir: str | None = None,
) -> int:
    """Fork the BFD child (from the parent); its pid."""
    return fork_child(
        "BFD",
        "Keepalived_bfd",
        pid_file,
        listener,
        lambda: _serve(config, pipes.vrrp_write, pipes.checker_write, control_dir),
        child_closes=pipes.but(pipes.vrrp_write, pipes.checker_write),
    )


def _serve(config: Config, vrrp_fd: int, checker_fd: int, control_dir: str | None) -> int:
    import contextlib
    import select

    from pykad.daemon import control, status
    from pykad.daemon.bfd_service import BfdService, EventPipe
    from pykad.daemon.process import take_held_signals

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
    stop += [n for n in take_held_signals() if n in (signal.SIGTERM, signal.SIGINT)]
    server = control.open_server(control_dir, "bfd", status.bfd_handler(service))
    wake = select.epoll()
    wake.register(wake_read, select.EPOLLIN)
    if server is not None:
        wake.register(server.fileno(), select.EPOLLIN)

    def on_wake() -> None:
        with contextlib.suppress(OSError):
            os.read(wake_read, 4096)  # the signal byte (the loop cannot read an epoll fd)
        if server is not None:
            server.serve_ready()

    try:
        service.run(lambda: bool(stop), wake.fileno(), on_wake=on_wake)
    finally:
        if server is not None:
            server.close()
        wake.close()
        service.close()
        signal.set_wakeup_fd(-1)
        os.close(wake_read)
        os.close(wake_write)
    log.info("Stopped BFD child process")
    return 0
