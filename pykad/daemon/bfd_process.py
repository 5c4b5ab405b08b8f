"""The BFD child process: forked by the supervising parent, its events sent through pipes.

keepalived runs BFD in its own child so that nothing else can delay a BFD
packet; so does pykad.  The parent forks it (``daemon.supervisor``) when the
configuration has ``bfd_instance`` blocks and ``-B`` was not given; the child
writes its pid file (``-b``, default /run/bfd.pid), runs ``BfdService`` until
SIGTERM or SIGINT, and dies with its parent (PR_SET_PDEATHSIG).  SIGHUP reads
the configuration again (its ``global_defs`` and ``bfd_instance`` blocks, in a
thread: the sessions go on meanwhile) and the loop applies the difference
(``BfdService.reload``: unchanged sessions untouched); one that cannot be used is
refused with a log line.  The dump signals are ignored.

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

import contextlib
import logging
import logging.handlers
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pykad.config.model import Config
from pykad.daemon.child import fork_child

if TYPE_CHECKING:
    from pykad.config.sections.bfd import BfdConfig

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
    reload_config: Callable[[], Config | None],
    control_dir: str | None = None,
    ident_suffix: str = "",
) -> int:
    """Fork the BFD child (from the parent); its pid."""
    return fork_child(
        "BFD",
        "Keepalived_bfd",
        pid_file,
        listener,
        lambda: _serve(config, pipes.vrrp_write, pipes.checker_write, reload_config, control_dir),
        child_closes=pipes.but(pipes.vrrp_write, pipes.checker_write),
        ident_suffix=ident_suffix,
    )


class _Reloads:
    """SIGHUPs read the configuration in a thread, one read at a time (a SIGHUP during
    one asks for another after it); the loop takes what was read (:meth:`take`),
    woken by a byte on ``wake_fd``."""

    def __init__(self, read: Callable[[], Config | None], wake_fd: int) -> None:
        self._read, self._wake_fd = read, wake_fd
        self._lock = threading.Lock()
        self._reading = self._again = False
        self._done: list[Config | None] = []

    def request(self) -> None:
        with self._lock:
            if self._reading:
                self._again = True
                return
            self._reading = True
        log.info("Reloading")
        threading.Thread(target=self._run, name="bfd-reload", daemon=True).start()

    def _run(self) -> None:
        while True:
            config = self._read()
            with self._lock:
                self._done.append(config)
                again, self._again = self._again, False
                self._reading = again
            with contextlib.suppress(OSError):
                os.write(self._wake_fd, b"\0")
            if not again:
                return

    def take(self) -> BfdConfig | None:
        with self._lock:
            if not self._done:
                return None
            config = self._done.pop()
            self._done.clear()
        if config is None:
            log.error("Reload refused: the new configuration cannot be used; kept")
            return None
        return config.bfd


def _serve(
    config: Config,
    vrrp_fd: int,
    checker_fd: int,
    reload_config: Callable[[], Config | None],
    control_dir: str | None,
) -> int:
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
    reloads = _Reloads(reload_config, wake_write)
    signal.signal(signal.SIGHUP, lambda n, _: reloads.request())
    held = take_held_signals()
    stop += [n for n in held if n in (signal.SIGTERM, signal.SIGINT)]
    if signal.SIGHUP in held:
        reloads.request()
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
        service.run(lambda: bool(stop), wake.fileno(), on_wake=on_wake, reloads=reloads.take)
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
