"""The control socket: one Unix socket per child, one JSON request and one JSON reply each.

Owns the wire of pykad's runtime API and where its sockets live:

- :func:`control_dir`: the run directory of one daemon.  ``/run/pykad`` for a
  daemon with keepalived's default main pid file; otherwise derived from the main
  pid file's name (``-p /x/A.pid`` -> ``/x/A.pykad``), so that two daemons with
  different ``-p`` run side by side.  The parent makes it (mode 0700, root's)
  and removes it at exit; each child binds its socket there (mode 0600):
  ``vrrp.sock``, ``check.sock``, ``bfd.sock``.
- the protocol: the client connects, writes one JSON object (``{"cmd": ...}``)
  ending with a newline, and reads one JSON object until the server closes.
  Replies carry ``"ok": true`` or ``"ok": false, "error": TEXT``.
- :class:`ControlServer`: a non-blocking server with no event loop of its own
  and no trio.  Its :meth:`~ControlServer.fileno` is an epoll descriptor that is
  readable whenever there is work (a connection to accept, a request to read, a
  reply to finish writing); :meth:`~ControlServer.serve_ready` does that work
  without ever blocking and calls the handler (synchronous, in the caller's
  thread) for each complete request.  The VRRP and checker children wait on the
  fd from a trio task (:func:`serve_trio`); the BFD child, which runs a Cython
  loop without trio, polls it after each wake-up of that loop (the loop's own
  wake-up fd is an epoll set holding this fd, so nothing else changes in it).
- in a trio child the server is *deferred*: :meth:`~ControlServer.serve_ready`
  hands the complete requests back instead of answering them, and
  :func:`serve_trio` answers each with an async handler (which may take
  checkpoints: the VRRP child builds a status of thousands of instances in
  slices, so its timers never wait for a whole reply), then
  :meth:`~ControlServer.reply` writes it.
- :func:`request`: the blocking client (``pykadctl``, the metrics process).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_DIR = "/run/pykad"
DEFAULT_MAIN_PID = "/run/keepalived.pid"
SOCKETS = ("vrrp", "check", "bfd")
"""The children that serve a socket, in the order ``pykadctl`` asks them."""
MAX_REQUEST = 64 * 1024
MAX_CONNECTIONS = 32

Reply = dict[str, Any]
Handler = Callable[[Mapping[str, Any]], Reply]
AsyncHandler = Callable[[Mapping[str, Any]], Awaitable[Reply]]


def control_dir(main_pid_file: str | None, configured: str | None = None) -> str:
    """The run directory for the daemon whose main pid file is ``main_pid_file``."""
    if configured:
        return configured
    if main_pid_file is None or os.path.abspath(main_pid_file) == DEFAULT_MAIN_PID:
        return DEFAULT_DIR
    base = os.path.abspath(main_pid_file)
    return (base[: -len(".pid")] if base.endswith(".pid") else base) + ".pykad"


def socket_path(directory: str, child: str) -> str:
    return os.path.join(directory, f"{child}.sock")


def make_dir(directory: str) -> None:
    """The run directory, private (0700); an existing one is made private too."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)


def clear_dir(directory: str) -> None:
    """What children leave in the run directory (sockets, pid files, runtime actions, the
    VRRP child's reload mark): at the daemon's start nothing of a previous one's is
    used, at its stop nothing stays."""
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            if name.endswith((".sock", ".pid", ".actions", ".reloading")):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, name))


def remove_dir(directory: str) -> None:
    """The run directory and what the children left in it."""
    clear_dir(directory)
    with contextlib.suppress(OSError):
        os.rmdir(directory)


def error(text: str) -> Reply:
    return {"ok": False, "error": text}


def dispatch(handlers: Mapping[str, Callable[[Mapping[str, Any]], Reply]]) -> Handler:
    """A handler that picks one of ``handlers`` by the request's ``cmd``."""

    def handle(req: Mapping[str, Any]) -> Reply:
        cmd = req.get("cmd")
        fn = handlers.get(cmd) if isinstance(cmd, str) else None
        if fn is None:
            return error(f"unknown command {cmd!r}")
        return fn(req)

    return handle


def parse(data: bytes) -> tuple[dict[str, Any] | None, Reply | None]:
    """A request's bytes as an object, or the error reply if they are not one."""
    try:
        req = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError) as e:
        return None, error(f"bad request: {e}")
    if not isinstance(req, dict):
        return None, error("bad request: not a JSON object")
    return req, None


def encode(reply: Reply) -> bytes:
    return (json.dumps(reply, separators=(",", ":")) + "\n").encode()


def answer(handler: Handler, data: bytes) -> bytes:
    """The reply bytes for one request's bytes (pure: parsing, the handler, encoding)."""
    req, bad = parse(data)
    if req is None:
        return encode(bad or error("bad request"))
    try:
        reply = handler(req)
    except Exception as e:  # a bug in one command must not kill the child
        reply = error(f"{type(e).__name__}: {e}")
    return encode(reply)


async def answer_async(handler: AsyncHandler, data: bytes) -> bytes:
    """:func:`answer` with an async handler."""
    req, bad = parse(data)
    if req is None:
        return encode(bad or error("bad request"))
    try:
        reply = await handler(req)
    except Exception as e:
        reply = error(f"{type(e).__name__}: {e}")
    return encode(reply)


def sync_handler(handler: Handler) -> AsyncHandler:
    """A synchronous handler for :func:`serve_trio`."""

    async def handle(req: Mapping[str, Any]) -> Reply:
        return handler(req)

    return handle


@dataclass(eq=False)
class _Conn:
    sock: socket.socket
    inbox: bytearray = field(default_factory=bytearray)
    outbox: bytes = b""
    replied: bool = False
    """The request is complete: no more reading."""
    answered: bool = False
    """The reply is known (being written)."""


class ControlServer:
    """A Unix stream socket served without blocking (see the module's docstring)."""

    def __init__(self, path: str, handler: Handler | None) -> None:
        """``handler`` None: deferred (``serve_ready`` returns the requests)."""
        self.path = path
        self.handler = handler
        self.requests = 0
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            self._listener.bind(path)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self._listener.listen(16)
        self._listener.setblocking(False)
        self._epoll = select.epoll()
        self._epoll.register(self._listener.fileno(), select.EPOLLIN)
        self._conns: dict[int, _Conn] = {}
        self._deferred: list[tuple[int, bytes]] = []

    def fileno(self) -> int:
        """Readable when :meth:`serve_ready` has something to do."""
        return self._epoll.fileno()

    def serve_ready(self) -> list[tuple[int, bytes]]:
        """Do what is ready now: accept, read, answer, write; never blocks.  Deferred,
        returns the complete requests (connection, bytes) for :meth:`reply`."""
        self._deferred = []
        for fd, events in self._epoll.poll(0):
            if fd == self._listener.fileno():
                self._accept()
                continue
            conn = self._conns.get(fd)
            if conn is None:
                continue
            if not conn.replied and events & (select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP):
                self._read(conn)
            if conn.answered:
                self._write(conn)
        return self._deferred

    def reply(self, fd: int, data: bytes) -> None:
        """Answer the deferred request of connection ``fd`` (gone meanwhile: dropped)."""
        conn = self._conns.get(fd)
        if conn is not None and not conn.answered:
            self._reply(conn, data)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(self._conns) >= MAX_CONNECTIONS:
                sock.close()
                continue
            sock.setblocking(False)
            self._conns[sock.fileno()] = _Conn(sock)
            self._epoll.register(sock.fileno(), select.EPOLLIN)

    def _read(self, conn: _Conn) -> None:
        while True:
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._close(conn)
                return
            if data:
                conn.inbox += data
                if len(conn.inbox) > MAX_REQUEST:
                    self._reply(conn, b'{"ok":false,"error":"request too long"}\n')
                    return
            end = conn.inbox.find(b"\n")
            if end >= 0 or (not data and conn.inbox):
                line = bytes(conn.inbox[: end if end >= 0 else len(conn.inbox)])
                self.requests += 1
                if self.handler is None:
                    conn.replied = True  # read no more; the reply comes by reply()
                    self._epoll.modify(conn.sock.fileno(), 0)
                    self._deferred.append((conn.sock.fileno(), line))
                else:
                    self._reply(conn, answer(self.handler, line))
                return
            if not data:
                self._close(conn)
                return

    def _reply(self, conn: _Conn, data: bytes) -> None:
        conn.outbox, conn.replied, conn.answered = data, True, True
        conn.inbox.clear()
        self._epoll.modify(conn.sock.fileno(), select.EPOLLOUT)
        self._write(conn)

    def _write(self, conn: _Conn) -> None:
        while conn.outbox:
            try:
                n = conn.sock.send(conn.outbox)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                break
            conn.outbox = conn.outbox[n:]
        self._close(conn)

    def _close(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if self._conns.pop(fd, None) is not None:
            with contextlib.suppress(OSError):
                self._epoll.unregister(fd)
        conn.sock.close()

    def close(self) -> None:
        for conn in list(self._conns.values()):
            self._close(conn)
        self._epoll.close()
        self._listener.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def open_server(directory: str | None, child: str, handler: Handler | None) -> ControlServer | None:
    """This child's server, or None (no directory, or the socket cannot be made:
    the daemon runs on without its control socket, and says so)."""
    if directory is None:
        return None
    import logging

    try:
        return ControlServer(socket_path(directory, child), handler)
    except OSError as e:
        logging.getLogger("pykad").error("control socket %s: %s", socket_path(directory, child), e)
        return None


async def serve_trio(server: ControlServer, handler: AsyncHandler) -> None:
    """Serve the deferred ``server`` from a trio task until cancelled (then close it);
    requests are answered one after the other by ``handler``."""
    import trio

    try:
        while True:
            await trio.lowlevel.wait_readable(server.fileno())
            for fd, data in server.serve_ready():
                server.reply(fd, await answer_async(handler, data))
    finally:
        trio.lowlevel.notify_closing(server.fileno())
        server.close()


def start_trio(nursery: Any, directory: str | None, child: str, handler: AsyncHandler) -> Any:
    """Serve this child's socket in ``nursery`` (a ``trio.Nursery``); the task's
    ``trio.CancelScope`` (cancel it to stop serving), or None if there is no socket."""
    import trio

    server = open_server(directory, child, None)
    if server is None:
        return None
    scope = trio.CancelScope()

    async def serve() -> None:
        with scope:
            await serve_trio(server, handler)

    nursery.start_soon(serve)
    return scope


class ControlError(Exception):
    """The daemon could not be asked (no socket, refused, timed out, bad reply)."""


def request(path: str, req: Mapping[str, Any], timeout: float = 5.0) -> Reply:
    """Send one request to the socket at ``path`` and return its reply."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(path)
            sock.sendall((json.dumps(req) + "\n").encode())
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except FileNotFoundError as e:
            raise ControlError(f"{path}: no such socket (is the daemon running?)") from e
        except OSError as e:
            text = errno.errorcode.get(e.errno or 0, "") if e.errno else ""
            raise ControlError(f"{path}: {e.strerror or e} {text}".strip()) from e
    finally:
        sock.close()
    try:
        reply = json.loads(b"".join(chunks).decode())
    except (UnicodeDecodeError, ValueError) as e:
        raise ControlError(f"{path}: bad reply: {e}") from e
    if not isinstance(reply, dict):
        raise ControlError(f"{path}: bad reply")
    return reply
