"""PING_CHECK: one ICMP or ICMPv6 echo, as keepalived 2.2.7 sends and judges it
(``check/check_ping.c``).

Owns the echo request, the verdict on what comes back, the socket, and
keepalived's ``ping_group_range`` handling (:func:`set_ping_group_range`).

keepalived uses an unprivileged ICMP datagram socket (``SOCK_DGRAM`` with
``IPPROTO_ICMP``/``IPPROTO_ICMPV6``; the kernel picks the echo id and only hands
back echo replies with it) and, to be allowed one, sets
``net.ipv4.ping_group_range`` to ``0 <max>`` when it reads a PING_CHECK.  Here the
datagram socket is tried first; if the kernel refuses it (our group is not in
``ping_group_range``), a raw socket is used, which needs ``CAP_NET_RAW``: then
the echo id is ours and only packets that concern our request count.

An attempt sends one echo request to ``connect_ip`` (else the real server) --
an 8-byte header with the sequence number in host byte order, as keepalived
writes it, and 128 bytes of "keepalived check - " repeated -- and reads the
first answer within ``connect_timeout``: an echo reply is a success; a receive
error (an ICMP error on a datagram socket), a short packet or another ICMP type
is a failure, as is no answer ("ICMP connection to address <rs> timeout.").
keepalived's PING_CHECK takes no other connection option: no ``bindto``,
``bind_if`` or ``fwmark`` (``bind_if`` only gives a link-local address its
scope).

Log texts: keepalived always logs the packet problems ("send ICMP packet fail",
"recv ICMP packet error", "Error, got short ICMP packet, N bytes", "Got ICMP
packet with type 0xN"): so does :func:`probe`.  An attempt's failure ("ICMP
connection to <rs> of <vs> failed.", or the timeout line) is the outcome's
reason, which keepalived logs only with ``log_all_failures`` (and not after a
failed send: here the "failed" line is the reason then too); the state changes
are in :data:`KIND` (also :func:`success_message`, :func:`failure_message`).
"""

from __future__ import annotations

import errno
import itertools
import logging
import math
import os
import random
import socket
import struct
from dataclasses import dataclass
from ipaddress import IPv6Address

import trio

from pykad.check.base import Outcome, Target
from pykad.check.probes import connect
from pykad.check.probes.dgram import format_rs, format_vs, plain, set_buf
from pykad.check.schedule import Layer4Kind
from pykad.config.addresses import IPAddress
from pykad.config.sections._lvs_model import PingCheck

__all__ = [
    "KIND",
    "PING_GROUP_RANGE",
    "echo_request",
    "failure_message",
    "open_icmp",
    "probe",
    "set_ping_group_range",
    "success_message",
]

log = logging.getLogger(__name__)

ICMP_BUFSIZE = 128
SOCK_RECV_BUFF = 128 * 1024
ICMP_ECHO, ICMP_ECHOREPLY = 8, 0
ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129
ICMP_ERRORS = frozenset({3, 4, 5, 11, 12})
"""ICMP types that quote the datagram they are about (unreachable, quench, redirect, ...)."""
ICMP6_ERRORS = frozenset({1, 2, 3, 4})
PING_GROUP_RANGE = "/proc/sys/net/ipv4/ping_group_range"

_seq = itertools.count()
"""keepalived's ``seq_no``: one counter for every PING_CHECK, wrapping at 2**16."""


def echo_request(v6: bool, seq: int, ident: int = 0) -> bytes:
    """keepalived's echo request (checksum 0: the kernel fills it, except on raw IPv4)."""
    header = struct.pack("!BBHH", ICMP6_ECHO_REQUEST if v6 else ICMP_ECHO, 0, 0, ident & 0xFFFF)
    return header + struct.pack("=H", seq & 0xFFFF) + set_buf(ICMP_BUFSIZE)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def success_message(target: Target) -> str:
    """What keepalived logs when the server comes up."""
    return f"ICMP connection to {format_rs(target)} success."


def failure_message(target: Target, retries: int = 0) -> str:
    """What keepalived logs when the server goes down (``retries``: after retrying)."""
    if retries:
        return (
            f"ICMP CHECK on service {format_rs(target)} of {format_vs(target)} "
            f"failed after {retries} retries."
        )
    return f"ICMP CHECK on service {format_rs(target)} failed."


@dataclass(slots=True)
class IcmpSocket:
    """An ICMP socket and how it was opened."""

    sock: trio.socket.SocketType
    raw: bool
    """A raw socket (the datagram kind was refused)."""
    v6: bool


def open_icmp(v6: bool) -> IcmpSocket:
    """An ICMP(v6) datagram socket, else a raw one; CheckerSetupError if neither."""
    family = socket.AF_INET6 if v6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    raw = False
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, proto)
    except OSError as exc:
        failure: OSError = exc
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EPROTONOSUPPORT):
            try:
                sock = socket.socket(family, socket.SOCK_RAW | socket.SOCK_CLOEXEC, proto)
                raw = True
            except OSError as raw_exc:
                failure = raw_exc
        if not raw:
            log.info("ICMP%s connect fail to create socket. Rescheduling.", "v6" if v6 else "")
            raise connect.CheckerSetupError(
                f"ICMP{'v6' if v6 else ''} connect fail to create socket"
            ) from failure
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCK_RECV_BUFF)
    except OSError as exc:
        log.info(
            "setsockopt SO_RCVBUF for socket %d failed (%d) - %s",
            sock.fileno(),
            exc.errno,
            exc.strerror,
        )
    return IcmpSocket(trio.socket.from_stdlib_socket(sock), raw, v6)


def _judge(
    icmp: IcmpSocket, packet: bytes, ident: int, seq: bytes, src: str, dst: str
) -> str | None:
    """The verdict on one received packet: "" ok, a failure text, or None (not ours)."""
    what = "ICMPv6" if icmp.v6 else "ICMP"
    if icmp.raw:
        if not icmp.v6 and len(packet) >= 20:
            packet = packet[(packet[0] & 0x0F) * 4 :]  # raw IPv4 hands us the IP header
        if len(packet) < 8:
            return None
        kind = packet[0]
        reply = ICMP6_ECHO_REPLY if icmp.v6 else ICMP_ECHOREPLY
        ours = struct.pack("!H", ident & 0xFFFF) + seq
        if kind == reply:
            return "" if src == dst and packet[4:8] == ours else None
        errors = ICMP6_ERRORS if icmp.v6 else ICMP_ERRORS
        if kind not in errors:
            return None
        inner = packet[8:]
        header = 40 if icmp.v6 else (inner[0] & 0x0F) * 4 if inner else 0
        quoted = inner[header : header + 8]
        if len(quoted) < 8 or quoted[4:8] != ours:
            return None
    if len(packet) < 8:
        text = f"Error, got short {what} packet, {len(packet)} bytes"
        log.info("%s", text)
        return text
    kind = packet[0]
    if kind != (ICMP6_ECHO_REPLY if icmp.v6 else ICMP_ECHOREPLY):
        text = f"Got {what} packet with type 0x{kind:x}"
        log.info("%s", text)
        return text
    return ""


async def _exchange(icmp: IcmpSocket, address: IPAddress, bind_if: str | None) -> str:
    what = "ICMPv6" if icmp.v6 else "ICMP"
    ident = random.getrandbits(16) if icmp.raw else 0
    seq = next(_seq) & 0xFFFF
    packet = bytearray(echo_request(icmp.v6, seq, ident))
    if icmp.raw and not icmp.v6:
        struct.pack_into("!H", packet, 2, _checksum(bytes(packet)))
    try:
        await icmp.sock.sendto(bytes(packet), connect.sockaddr(address, 0, bind_if))
    except OSError as exc:
        if icmp.v6:
            log.info("send ICMPv6 packet fail - errno %d", exc.errno)
            return f"send ICMPv6 packet fail - errno {exc.errno}"
        log.info("send ICMP packet fail")
        return "send ICMP packet fail"
    seq_bytes = struct.pack("=H", seq)
    with plain(icmp.sock) as raw:
        while True:
            await trio.lowlevel.wait_readable(icmp.sock)
            try:
                data, src = raw.recvfrom(8 + ICMP_BUFSIZE + (60 if icmp.raw else 0))
            except BlockingIOError:
                continue
            except OSError:
                log.info("recv %s packet error", what)
                return f"recv {what} packet error"
            verdict = _judge(icmp, data, ident, seq_bytes, src[0].split("%")[0], str(address))
            if verdict is not None:
                return verdict


async def probe(check: PingCheck, target: Target) -> Outcome:
    """One echo request and the first answer, within ``connect_timeout``.

    A failure's reason is keepalived's per-attempt line: "ICMP connection to
    address <rs> timeout." or "ICMP connection to <rs> of <vs> failed."; the
    packet problem behind the latter is logged here, always, as keepalived does.
    No ICMP socket at all raises :class:`~pykad.check.probes.connect.CheckerSetupError`
    (keepalived: rescheduled, no verdict).
    """
    conn = check.connection
    timeout = connect.timeout_seconds(conn)
    deadline = trio.current_time() + (timeout if timeout > 0 else math.inf)
    address, _port = connect.destination(conn, target)
    icmp = open_icmp(isinstance(address, IPv6Address))
    problem: str | None = None
    with icmp.sock:
        with trio.move_on_at(deadline):
            problem = await _exchange(icmp, address, conn.bind_if)
    if problem is None:
        return Outcome(ok=False, reason=f"ICMP connection to address {format_rs(target)} timeout.")
    if problem:
        return Outcome(
            ok=False,
            reason=f"ICMP connection to {format_rs(target)} of {format_vs(target)} failed.",
        )
    return Outcome(ok=True)


KIND = Layer4Kind(
    success="ICMP connection to {chk} success.",
    failed="ICMP CHECK on service {chk} failed.",
    failed_after="ICMP CHECK on service {chk} of {vs} failed after {retry} retries.",
    attempt_failed="{reason}",
    retry_while_down=False,
)
"""keepalived's texts for :class:`pykad.check.schedule.Layer4Schedule` (``icmp_epilog``),
the per-attempt line being the probe's reason."""


class _GroupRange:
    """keepalived's ``set_ping_group_range`` state: the saved lower bound."""

    checked = False
    saved_min = 0


def set_ping_group_range(enable: bool, path: str = PING_GROUP_RANGE) -> bool:
    """keepalived's ``set_ping_group_range``: let every group open ping sockets, or undo it.

    ``enable``: write ``0<TAB>max`` (saving the lower bound) unless it is 0 already;
    otherwise put the saved lower bound back.  False when the file cannot be read
    or parsed.
    """
    if enable == _GroupRange.checked:
        return True
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        data = os.read(fd, 22)
        if len(data) == 22:
            return False
        text = data.decode(errors="replace")
        low_text, sep, rest = text.partition("\t")
        if not sep:
            low_text, sep, rest = text.partition(" ")
        high_text = rest.rstrip("\n")
        if not sep or not rest.endswith("\n") or not low_text.isdigit():
            return False
        low, high = int(low_text), int(high_text)
        if low >= 1 << 32 or high >= 1 << 32:
            return False
        _GroupRange.checked = enable
        if (enable and low == 0) or (not enable and low == _GroupRange.saved_min):
            return True
        if enable and low > 1 and high > 1:
            log.info("Warning: %s being expanded from %d %d to 0 %d", path, low, high, high)
        line = f"{0 if enable else _GroupRange.saved_min}\t{high}\t\n".encode()
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            written = os.write(fd, line)
        except OSError as exc:
            log.info("Write %s failed - errno %d", path, exc.errno)
        else:
            if written != len(line):
                log.info("Write %s wrote %d bytes instead of %d", path, written, len(line))
        if enable:
            _GroupRange.saved_min = low
        return True
    except ValueError:
        return False
    finally:
        os.close(fd)
