"""What the SMTP, DNS, UDP, PING and MISC checkers share: server names for log lines,
and the ICMP error queue of a datagram socket.

keepalived names servers three ways in its checker log lines (keepalived 2.2.7,
``lib/utils.c``, ``check/check_data.c``):

- :func:`pair` -- ``inet_sockaddrtopair``: ``[192.0.2.1]:25`` (the address a
  checker connects to, e.g. ``FMT_SMTP_RS``);
- :func:`format_rs` -- ``FMT_CHK``/``FMT_RS``: the real server with its virtual
  server's protocol, ``[192.0.2.1]:tcp:25``;
- :func:`format_vs` -- ``FMT_VS``: the virtual server (``Target.virtual_server``).

The error queue part is ``udp_socket_error`` (``core/layer4.c``): with
``IP_RECVERR``/``IPV6_RECVERR`` set, an ICMP error about a datagram we sent is
queued on the socket; keepalived fails the check only for "destination
unreachable" (:func:`read_icmp_error`).
"""

from __future__ import annotations

import errno
import logging
import re
import socket
import struct
from dataclasses import dataclass
from ipaddress import IPv6Address

import trio

from pykad.check.base import Target
from pykad.config.addresses import IPAddress

__all__ = [
    "IcmpError",
    "format_rs",
    "format_vs",
    "pair",
    "plain",
    "read_icmp_error",
    "set_buf",
    "set_recverr",
]

log = logging.getLogger(__name__)

IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3
ICMP_DEST_UNREACH = 3
ICMPV6_DEST_UNREACH = 1
_SOCK_EXTENDED_ERR = struct.Struct("=IBBBBII")
"""``struct sock_extended_err``: errno, origin, type, code, pad, info, data."""

_RECVERR = ((socket.IPPROTO_IP, IP_RECVERR), (socket.IPPROTO_IPV6, IPV6_RECVERR))
_FILLER = b"keepalived check - "
_TRIO = re.compile(r"^\[.*\]:(tcp|udp|sctp|none|\?):\d+$")


def set_buf(length: int) -> bytes:
    """keepalived's ``set_buf``: ``length`` bytes of "keepalived check - " repeated."""
    return (_FILLER * (length // len(_FILLER) + 1))[:length]


def pair(address: IPAddress, port: int) -> str:
    """``inet_sockaddrtopair``: ``[address]:port``."""
    return f"[{address}]:{port}"


def _protocol(target: Target) -> str:
    explicit = getattr(target, "protocol", None)
    if explicit is not None:
        value = getattr(explicit, "value", explicit)
        return str(value).lower() if value else "none"
    match = _TRIO.match(target.virtual_server)
    return match.group(1) if match else "none"


def format_rs(target: Target) -> str:
    """``FMT_CHK``: the real server as ``[address]:proto:port``.

    The protocol is the virtual server's: ``target.protocol`` if the target has
    one, else read from ``target.virtual_server`` when that is an address trio,
    else ``none`` (keepalived's service type of a firewall-mark service).
    """
    return f"[{target.address}]:{_protocol(target)}:{target.port}"


def format_vs(target: Target) -> str:
    """``FMT_VS``: the virtual server's name as keepalived logs it."""
    return target.virtual_server


def set_recverr(sock: trio.socket.SocketType, address: IPAddress) -> None:
    """Ask for ICMP errors on the error queue (``IP_RECVERR``/``IPV6_RECVERR``)."""
    v6 = isinstance(address, IPv6Address)
    try:
        if v6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    except OSError as exc:
        log.info(
            "Error %d setting IP%s_RECVERR for socket %d - %s",
            exc.errno,
            "V6" if v6 else "",
            sock.fileno(),
            exc.strerror,
        )


@dataclass(frozen=True, slots=True)
class IcmpError:
    """One entry of a socket's error queue."""

    origin: int
    type: int
    code: int
    errno: int

    @property
    def unreachable(self) -> bool:
        """An ICMP or ICMPv6 "destination unreachable" (keepalived fails the check)."""
        return (self.origin == SO_EE_ORIGIN_ICMP and self.type == ICMP_DEST_UNREACH) or (
            self.origin == SO_EE_ORIGIN_ICMP6 and self.type == ICMPV6_DEST_UNREACH
        )


def plain(sock: trio.socket.SocketType) -> socket.socket:
    """A stdlib socket on a duplicate descriptor of ``sock``, for calls that must not wait.

    The caller closes it (closing it does not close ``sock``).
    """
    raw = socket.fromfd(sock.fileno(), sock.family, sock.type)
    raw.setblocking(False)
    return raw


def read_icmp_error(raw: socket.socket) -> list[IcmpError] | None:
    """The entries of one ``recvmsg(MSG_ERRQUEUE)`` on ``raw`` (see :func:`plain`).

    None when the queue is empty.  Like keepalived, only ``IP_RECVERR``/
    ``IPV6_RECVERR`` control messages count.  A failing ``recvmsg`` other than
    "nothing queued" gives an empty list (keepalived logs it and takes the check
    as a success).
    """
    try:
        _data, ancdata, _flags, _addr = raw.recvmsg(64, 2560, MSG_ERRQUEUE | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno == errno.EAGAIN:
            return None
        log.info("udp_socket_error recvmsg failed - errno %d", exc.errno)
        return []
    errors = []
    for level, kind, data in ancdata:
        recverr = (level, kind) in _RECVERR
        if recverr and len(data) >= _SOCK_EXTENDED_ERR.size:
            ee_errno, origin, ee_type, code, _pad, _info, _ = _SOCK_EXTENDED_ERR.unpack_from(data)
            errors.append(IcmpError(origin, ee_type, code, ee_errno))
    return errors
