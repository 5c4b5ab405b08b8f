"""DNS_CHECK: one query over UDP as keepalived 2.2.7 makes it (``check/check_dns.c``).

Owns the query (:func:`make_query`), the verdict on a reply (:func:`judge_reply`)
and the log texts.

The query: a random 16-bit id, only RD set, one question (``name``, ``type``,
class IN), no other records.  The name is split at dots into labels as
keepalived does it (the empty name and ``.`` are the root; a trailing dot
changes nothing).  It goes to the server on a connected UDP socket (with
keepalived's connection options, ``SO_BINDTODEVICE`` included), and replies are
read until ``connect_timeout`` from the start of the attempt:

- a reply shorter than 8 bytes is ignored (keepalived compares with the size of
  a pointer, not of the 12-byte header), as is one with another id or without QR;
- the first reply with our id and QR decides: RCODE 0 is a success -- keepalived
  does not look at the question, the answer count or the type of any record --
  and another RCODE a failure, "read error occurred. (rcode = N)";
- a receive error (e.g. ICMP port unreachable: ``ECONNREFUSED``) is "failed to
  read socket; errno N (text)", no reply in time "read timeout from socket".

Every failure is logged as ``DNS_CHECK (<real server>) <text>``; when retries
are exhausted keepalived adds `` after N retries`` (the schedule's part).  A
success logs nothing.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import struct

import trio

from pykad.check.base import Outcome, Target
from pykad.check.probes import connect
from pykad.check.probes.dgram import format_rs, pair
from pykad.config.sections._lvs_model import DnsCheck, DnsType

__all__ = [
    "DNS_BUFFER_SIZE",
    "TYPE_CODES",
    "failure_message",
    "judge_reply",
    "make_query",
    "probe",
]

log = logging.getLogger(__name__)

DNS_BUFFER_SIZE = 768
CLASS_IN = 1
FLAG_RD = 0x0100
MIN_REPLY = 8
"""keepalived's ``sizeof (r_header)``: the size of a pointer."""

TYPE_CODES: dict[DnsType, int] = {
    DnsType.A: 1,
    DnsType.NS: 2,
    DnsType.CNAME: 5,
    DnsType.SOA: 6,
    DnsType.MX: 15,
    DnsType.TXT: 16,
    DnsType.AAAA: 28,
    DnsType.RRSIG: 46,
    DnsType.DNSKEY: 48,
}

_HEADER = struct.Struct("!HHHHHH")


def encode_name(name: str) -> bytes:
    """``dns_make_query``'s QNAME: the name's labels, then a 0 unless the name is ``.``."""
    raw = name.encode()
    out = bytearray()
    start = 0
    while start < len(raw):
        end = raw.find(b".", start)
        if end < 0:
            end = len(raw)
        label = raw[start:end]
        out.append(len(label) & 0xFF)
        out += label
        start = end + 1 if end < len(raw) else end
    if raw != b".":
        out.append(0)
    return bytes(out)


def make_query(check: DnsCheck, query_id: int) -> bytes:
    """The datagram keepalived sends for ``check`` with id ``query_id``."""
    header = _HEADER.pack(query_id & 0xFFFF, FLAG_RD, 1, 0, 0, 0)
    question = encode_name(check.name) + struct.pack("!HH", TYPE_CODES[check.type], CLASS_IN)
    return (header + question)[:DNS_BUFFER_SIZE]


def judge_reply(query_id: int, reply: bytes) -> str:
    """What keepalived makes of one received datagram.

    ``"ignore"`` (too short, another id, not a response: keep waiting), ``""``
    (success), or the failure text.
    """
    if len(reply) < MIN_REPLY:
        return "ignore"
    reply_id, flags = struct.unpack_from("!HH", reply)
    if reply_id != query_id & 0xFFFF or not flags & 0x8000:
        return "ignore"
    rcode = flags & 0x000F
    if rcode:
        return f"read error occurred. (rcode = {rcode})"
    return ""


def failure_message(target: Target, text: str) -> str:
    """``dns_log_message``: ``DNS_CHECK (<real server>) <text>``."""
    return f"DNS_CHECK ({format_rs(target)}) {text}"


async def _socket(check: DnsCheck, target: Target) -> trio.socket.SocketType | str:
    """The connected socket, or the failure text when the destination is unreachable."""
    conn = check.connection
    address, port = connect.destination(conn, target)
    try:
        sock = connect.prepare_socket(conn, target, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    except connect.CheckerSetupError:
        log.info("%s", failure_message(target, "UDP socket bind failed. Rescheduling."))
        raise
    try:
        await sock.connect(connect.sockaddr(address, port, conn.bind_if))
    except OSError as exc:
        sock.close()
        if exc.errno in connect.FAIL_ERRNOS:
            return f"network unreachable for {pair(address, port)}"
        log.info("%s", failure_message(target, "UDP socket bind failed. Rescheduling."))
        raise connect.CheckerSetupError(
            f"socket connect error {exc.errno} - {os.strerror(exc.errno or 0)}"
        ) from exc
    except BaseException:
        sock.close()
        raise
    return sock


async def _exchange(sock: trio.socket.SocketType, query: bytes, query_id: int) -> str:
    try:
        sent = await sock.send(query)
    except OSError:
        return "failed to write socket."
    if sent != len(query):
        return "failed to write all of the datagram."
    while True:
        try:
            reply = await sock.recv(DNS_BUFFER_SIZE)
        except OSError as exc:
            code = exc.errno or 0
            return f"failed to read socket; errno {code} ({os.strerror(code)})"
        verdict = judge_reply(query_id, reply)
        if verdict != "ignore":
            return verdict


async def probe(check: DnsCheck, target: Target, *, query_id: int | None = None) -> Outcome:
    """One query and its reply, within ``connect_timeout``.

    ``query_id``: the id to use (default: random, as keepalived's ``random()``).
    A failure's reason is keepalived's whole log line (without the schedule's
    " after N retries").  A local error raises
    :class:`~pykad.check.probes.connect.CheckerSetupError` (keepalived: "UDP socket bind
    failed. Rescheduling.", no verdict).
    """
    timeout = connect.timeout_seconds(check.connection)
    deadline = trio.current_time() + (timeout if timeout > 0 else math.inf)
    qid = random.getrandbits(16) if query_id is None else query_id & 0xFFFF
    opened = await _socket(check, target)
    if isinstance(opened, str):
        return Outcome(ok=False, reason=failure_message(target, opened))
    with opened:
        text = "read timeout from socket"
        with trio.move_on_at(deadline):
            text = await _exchange(opened, make_query(check, qid), qid)
    if not text:
        return Outcome(ok=True)
    return Outcome(ok=False, reason=failure_message(target, text))
