"""Checker sockets: keepalived's connection options applied to a trio socket.

Owns what keepalived's ``socket_bind_connect``/``udp_bind_connect``
(keepalived/core/layer4.c) do before a checker talks to its server: the
destination (``connect_ip``/``connect_port``, defaulting to the real server),
``SO_MARK`` (``fwmark``), ``SO_BINDTODEVICE`` (``bind_if``), the source
(``bindto``/``bind_port``), and a connect bounded by ``connect_timeout``.

Deliberately not keepalived's: its stream sockets have ``SO_LINGER`` 5 s, which
makes ``close()`` wait for the server's ACK of our FIN (a delayed ACK takes up
to 200 ms) and would hold up every other checker of the process; pykad closes
without it.  The packets are the same: a FIN either way.

Failures come in keepalived's two kinds:

* :class:`ConnectFailed` -- the server did not take the connection (refused,
  unreachable, reset, timed out): keepalived counts it as a failed attempt
  (``connect_fail``/``connect_timeout``).
* :class:`CheckerSetupError` -- a local problem (bind failed, no such device,
  no permission for ``SO_MARK``, any other ``connect()`` errno): keepalived logs
  it and tries again after ``delay_loop`` without counting an attempt
  (``connect_error``).  Probes let it propagate; the runner handles it.
"""

from __future__ import annotations

import errno
import os
import socket
from ipaddress import IPv6Address

import trio

from pykad.check.base import Target
from pykad.config.addresses import IPAddress
from pykad.config.sections._lvs_model import Connection

__all__ = [
    "FAIL_ERRNOS",
    "NETWORK_UNREACHABLE",
    "SO_BINDTODEVICE",
    "SO_MARK",
    "CheckerSetupError",
    "ConnectFailed",
    "destination",
    "open_datagram",
    "open_stream",
    "prepare_socket",
    "scope_id",
    "sockaddr",
    "timeout_seconds",
]

SO_MARK = getattr(socket, "SO_MARK", 36)
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)

FAIL_ERRNOS = frozenset(
    {
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        errno.ECONNREFUSED,
        errno.EHOSTDOWN,
        errno.ENETDOWN,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
    }
)
"""``connect()`` errnos keepalived counts as a failure of the server (connect_fail)."""
NETWORK_UNREACHABLE = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN})
"""The failures HTTP_GET and SMTP_CHECK log as an unreachable network."""


class ConnectFailed(Exception):
    """The server did not accept the connection (a failed attempt)."""

    def __init__(self, reason: str, *, timeout: bool = False, err: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout
        """True for keepalived's connect_timeout (no answer within connect_timeout)."""
        self.errno = err


class CheckerSetupError(Exception):
    """A local error: keepalived logs it and retries after delay_loop, no verdict."""


def timeout_seconds(conn: Connection) -> float:
    """``connect_timeout`` in seconds."""
    return conn.connect_timeout_us / 1_000_000


def destination(conn: Connection, target: Target) -> tuple[IPAddress, int]:
    """The address and port the checker connects to (connect_ip/connect_port or the target)."""
    address = conn.connect_ip if conn.connect_ip is not None else target.address
    port = conn.connect_port if conn.connect_port is not None else target.port
    return address, port


def scope_id(address: IPAddress, bind_if: str | None) -> int:
    """The scope id of a link-local IPv6 destination with ``bind_if`` (else 0)."""
    if isinstance(address, IPv6Address) and address.is_link_local and bind_if:
        try:
            return socket.if_nametoindex(bind_if)
        except OSError:
            return 0
    return 0


def sockaddr(
    address: IPAddress, port: int, bind_if: str | None = None
) -> tuple[str, int] | tuple[str, int, int, int]:
    """The Python socket address for ``address``/``port`` (a scope id for link-local IPv6)."""
    if isinstance(address, IPv6Address):
        return (str(address), port, 0, scope_id(address, bind_if))
    return (str(address), port)


def prepare_socket(
    conn: Connection,
    target: Target,
    kind: int = socket.SOCK_STREAM,
    proto: int = 0,
) -> trio.socket.SocketType:
    """A new non-blocking socket of the destination's family, options set and bound.

    Raises :class:`CheckerSetupError` when the socket cannot be created or an
    option or the bind fails (keepalived's connect_error: no verdict).
    """
    address, _ = destination(conn, target)
    family = socket.AF_INET6 if isinstance(address, IPv6Address) else socket.AF_INET
    try:
        raw = socket.socket(family, kind | socket.SOCK_CLOEXEC, proto)
    except OSError as exc:
        raise CheckerSetupError(f"Checker can't create socket: {exc.strerror}") from exc
    sock = trio.socket.from_stdlib_socket(raw)
    try:
        if conn.fwmark:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_MARK, conn.fwmark)
            except OSError as exc:
                raise CheckerSetupError(
                    f"Error setting fwmark {conn.fwmark} to socket: {exc.strerror}"
                ) from exc
        if conn.bind_if:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, conn.bind_if.encode() + b"\0")
            except OSError as exc:
                raise CheckerSetupError(
                    f"Checker can't bind to device {conn.bind_if}: {exc.strerror}"
                ) from exc
        if conn.bindto is not None:
            try:
                raw.bind(sockaddr(conn.bindto, conn.bind_port or 0, conn.bind_if))
            except OSError as exc:
                raise CheckerSetupError(f"Checker bind failed: {exc.strerror}") from exc
    except BaseException:
        sock.close()
        raise
    return sock


async def _connect(
    sock: trio.socket.SocketType, addr: tuple[str, int] | tuple[str, int, int, int]
) -> None:
    """A non-blocking connect, its errors classified as keepalived's layer4 does.

    keepalived takes any error reported after an in-progress connect as a
    failure; those are all in the "failure" set, so the errno alone decides.
    """
    try:
        await sock.connect(addr)
    except OSError as exc:
        if exc.errno in FAIL_ERRNOS:
            raise ConnectFailed(
                os.strerror(exc.errno),
                timeout=exc.errno == errno.ETIMEDOUT,
                err=exc.errno or 0,
            ) from exc
        raise CheckerSetupError(
            f"socket connect error {exc.errno} - {os.strerror(exc.errno or 0)}"
        ) from exc


async def open_stream(conn: Connection, target: Target) -> trio.SocketStream:
    """A TCP connection to the checker's destination, within ``connect_timeout``.

    Raises :class:`ConnectFailed` (refused, unreachable, or no answer within
    connect_timeout: ``timeout=True``) or :class:`CheckerSetupError`.
    """
    return trio.SocketStream(await open_tcp(conn, target))


async def open_tcp(conn: Connection, target: Target) -> trio.socket.SocketType:
    """:func:`open_stream`'s connected socket, without the stream around it (TCP_CHECK
    only connects and closes)."""
    address, port = destination(conn, target)
    sock = prepare_socket(conn, target, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        with trio.move_on_after(timeout_seconds(conn)) as scope:
            await _connect(sock, sockaddr(address, port, conn.bind_if))
        if scope.cancelled_caught:
            raise ConnectFailed("Connection timed out", timeout=True, err=errno.ETIMEDOUT)
    except BaseException:
        sock.close()
        raise
    return sock


async def open_datagram(
    conn: Connection,
    target: Target,
    kind: int = socket.SOCK_DGRAM,
    proto: int = 0,
) -> trio.socket.SocketType:
    """A datagram (or raw) socket connected to the checker's destination.

    ``connect()`` on a datagram socket does not wait for the server; an error
    there (e.g. no route) is a :class:`CheckerSetupError`, as keepalived's
    ``udp_bind_connect`` returns connect_error.  The caller owns the socket.
    """
    address, port = destination(conn, target)
    sock = prepare_socket(conn, target, kind, proto)
    try:
        await sock.connect(sockaddr(address, port, conn.bind_if))
    except OSError as exc:
        sock.close()
        raise CheckerSetupError(f"UDP connect error {exc.errno} - {exc.strerror}") from exc
    except BaseException:
        sock.close()
        raise
    return sock
