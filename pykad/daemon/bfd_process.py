"""The BFD child process: forked by the supervising parent, its events sent through pipes.

keepalived runs BFD in its own child so that nothing else can delay a BFD
packet; so does pykad.  The parent forks it (``daemon.supervisor``) when the
configuration has ``bfd_instance`` blocks and ``-B`` was not given; the child
writes its pid file (``-b``, default /run/bfd.pid), runs ``BfdService`` until
SIGTERM or SIGINT, and dies with its parent (PR_SET_PDEATHSIG).  SIGHUP reads
the configuration again (its ``global_defs`` and ``bfd_instance`` blocks, in a
forked reader process: the sessions go on meanwhile, and no thread takes the GIL
from the loop) and the loop applies the difference
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
import pickle
import select
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from pykad.config.model import Config
from pykad.daemon.child import die_with_parent, fork_child

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
        lambda: _serve(
            config, pipes.vrrp_write, pipes.checker_write, reload_config, listener, control_dir
        ),
        child_closes=pipes.but(pipes.vrrp_write, pipes.checker_write),
        ident_suffix=ident_suffix,
    )


class _Reloads:
    """SIGHUPs read the configuration in a forked reader process, one read at a time
    (a SIGHUP during one asks for another after it).

    Not in a thread: a thread reading holds the GIL, and on a busy machine the loop
    then waits for it long enough for a 10 ms x 3 session to time out (measured: two
    to three flaps in six reloads with the host's cores taken).  The reader sends
    the ``bfd_instance`` blocks it read (pickled; None: refused) through a pipe in
    the loop's wake-up set; the loop takes them (:meth:`take`, before every wait).
    The signal handler only asks (:meth:`request`): the fork and its log lines
    happen in the loop, where no lock can be held."""

    def __init__(
        self,
        read: Callable[[], Config | None],
        listener: logging.handlers.QueueListener,
        wake: select.epoll,
    ) -> None:
        self._read, self._listener, self._wake = read, listener, wake
        self._wanted = False
        self._pid = 0
        self._fd = -1
        self._data = bytearray()

    def request(self) -> None:
        self._wanted = True

    def take(self) -> BfdConfig | None:
        bfd = None
        if self._pid and self._receive():
            payload, self._data = bytes(self._data), bytearray()
            bfd = pickle.loads(payload) if payload else None  # nothing: the reader failed
            if bfd is None:
                log.error("Reload refused: the new configuration cannot be used; kept")
        if self._wanted and not self._pid:
            self._wanted = False
            self._start()
        return bfd

    def close(self) -> None:
        if self._pid:
            os.close(self._fd)
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
                os.waitpid(self._pid, 0)

    def _start(self) -> None:
        log.info("Reloading")
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        self._listener.stop()  # no thread may hold a lock across the fork
        try:
            pid = os.fork()
        except OSError as e:
            self._listener.start()
            os.close(read_end)
            os.close(write_end)
            log.error("Reload refused: cannot start the configuration reader: %s", e)
            return
        if pid == 0:
            os.close(read_end)
            _reader(self._read, write_end, self._listener)
        self._listener.start()
        os.close(write_end)
        os.set_blocking(read_end, False)
        self._pid, self._fd = pid, read_end
        self._wake.register(read_end, select.EPOLLIN)

    def _receive(self) -> bool:
        """Read what the reader sent; True once it is done (and reaped)."""
        while True:
            try:
                chunk = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return False
            if chunk:
                self._data += chunk
                continue
            # End of file: the reader has exited (its end closes as it does).
            self._wake.unregister(self._fd)
            os.close(self._fd)
            os.waitpid(self._pid, 0)
            self._pid, self._fd = 0, -1
            return True


def _reader(
    read: Callable[[], Config | None], fd: int, listener: logging.handlers.QueueListener
) -> NoReturn:
    """The forked reader's body: read, send the BFD part, exit (never returns)."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        die_with_parent(signal.SIGKILL)
        listener.start()
        config = read()
        payload = memoryview(pickle.dumps(None if config is None else config.bfd))
        while payload:
            payload = payload[os.write(fd, payload) :]
        code = 0
    except BaseException:
        log.exception("BFD configuration reader failed")
    finally:
        listener.stop()
        os._exit(code)


def _serve(
    config: Config,
    vrrp_fd: int,
    checker_fd: int,
    reload_config: Callable[[], Config | None],
    listener: logging.handlers.QueueListener,
    control_dir: str | None,
) -> int:
    from pykad.daemon import control, scheduling, status
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
    wake = select.epoll()
    wake.register(wake_read, select.EPOLLIN)
    reloads = _Reloads(reload_config, listener, wake)
    signal.signal(signal.SIGHUP, lambda n, _: reloads.request())
    held = take_held_signals()
    stop += [n for n in held if n in (signal.SIGTERM, signal.SIGINT)]
    if signal.SIGHUP in held:
        reloads.request()
    server = control.open_server(control_dir, "bfd", status.bfd_handler(service))
    if server is not None:
        wake.register(server.fileno(), select.EPOLLIN)

    def on_wake() -> None:
        with contextlib.suppress(OSError):
            os.read(wake_read, 4096)  # the signal byte (the loop cannot read an epoll fd)
        if server is not None:
            server.serve_ready()

    scheduling.apply(config.global_defs.bfd_process, "bfd")
    auto = scheduling.auto_priority(config.global_defs, config.global_defs.bfd_process, "bfd")
    try:
        service.run(
            lambda: bool(stop),
            wake.fileno(),
            on_wake=on_wake,
            reloads=reloads.take,
            on_late=None if auto is None else auto.late,
        )
    finally:
        if server is not None:
            server.close()
        reloads.close()
        wake.close()
        service.close()
        signal.set_wakeup_fd(-1)
        os.close(wake_read)
        os.close(wake_write)
    log.info("Stopped BFD child process")
    return 0
