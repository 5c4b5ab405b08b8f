"""rtnetlink messages as bytes: build requests, parse replies (sans-IO).

This module owns the wire format of the NETLINK_ROUTE messages VRRP's host side
sends and reads (RFC 3549 sections 2.2-2.3.3, netlink(7), rtnetlink(7)):

- requests: RTM_NEWADDR / RTM_DELADDR (``struct ifaddrmsg`` + IFA_* attributes),
  RTM_NEWROUTE / RTM_DELROUTE (``struct rtmsg``), RTM_NEWRULE / RTM_DELRULE
  (``struct fib_rule_hdr``), and the RTM_GETADDR dump request.  Every change
  carries NLM_F_REQUEST|NLM_F_ACK (adds also NLM_F_CREATE|NLM_F_EXCL) and its own
  sequence number, so that one batch of many messages gets one answer per message;
- replies: NLMSG_ERROR acknowledgements into :class:`Ack` (seq, errno, extended-ack
  text), RTM_NEWADDR dump parts into ``AddressEntry``; :class:`AckTracker` collects
  the answers for a batch from whatever buffers the socket driver reads.

Bytes in, bytes out: no sockets, clocks or files (``pykad.kernel.netlink`` is the
driver).  Header fields are host byte order, addresses network byte order.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_interface

from pykad.kernel.api import (
    AddressEntry,
    AddressOp,
    IPAddress,
    IPInterface,
    RouteOp,
    RuleOp,
)

__all__ = [
    "NLMSG_DONE",
    "NLMSG_ERROR",
    "RTM_DELADDR",
    "RTM_GETADDR",
    "RTM_NEWADDR",
    "Ack",
    "AckTracker",
    "Message",
    "address_message",
    "address_messages",
    "attributes",
    "dump_addresses_request",
    "iter_messages",
    "parse_acks",
    "parse_address",
    "parse_address_dump",
    "route_message",
    "rule_message",
]

# netlink(7)
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, NLMSG_OVERRUN = 1, 2, 3, 4
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_ECHO = 0x01, 0x02, 0x04, 0x08
NLM_F_DUMP_INTR = 0x10
NLM_F_ROOT, NLM_F_MATCH = 0x100, 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE, NLM_F_APPEND = 0x100, 0x200, 0x400, 0x800
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS = 1, 2

# rtnetlink(7)
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTM_NEWRULE, RTM_DELRULE = 32, 33
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST = 1, 2, 3, 4
IFA_CACHEINFO, IFA_FLAGS = 6, 8
RTA_DST, RTA_SRC, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC = 1, 2, 4, 5, 6, 7
RTA_METRICS, RTA_TABLE = 8, 15
RTAX_MTU = 2
RTNH_F_ONLINK = 4
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_NOWHERE = 0, 253, 255
RTN_UNICAST = 1
FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_GOTO, FRA_PRIORITY = 1, 2, 3, 4, 6
FRA_FWMARK, FRA_TABLE, FRA_FWMASK, FRA_OIFNAME, FRA_PROTOCOL = 10, 15, 16, 17, 21
FIB_RULE_INVERT = 0x02
AF_INET, AF_INET6 = 2, 10
INFINITY_LIFE_TIME = 0xFFFFFFFF

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
SEQ = struct.Struct("=I")
SEQ_OFFSET = struct.calcsize("=IHH")
"""Where a message's sequence number is (to number an encoded batch again)."""
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct(
    "=BBBBBBBBI"
)  # family, dst_len, src_len, tos, table, proto, scope, type, flags
_FIB_RULE_HDR = struct.Struct(
    "=BBBBBBBBI"
)  # family, dst_len, src_len, tos, table, r1, r2, action, flags
_RTATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")
_CACHEINFO = struct.Struct("=IIII")  # preferred, valid, cstamp, tstamp
_HDR_LEN = _NLMSGHDR.size
_FAMILY = {4: AF_INET, 6: AF_INET6}
_ADD_FLAGS = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
_DEL_FLAGS = NLM_F_REQUEST | NLM_F_ACK
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")

# IFA_LOCAL / IFA_ADDRESS rtattr headers, precomputed for the common case.
_ATTR_HDR = {
    (kind, n): _RTATTR.pack(4 + n, kind)
    for kind in (IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST)
    for n in (4, 16)
}


def _attr(kind: int, data: bytes) -> bytes:
    """One rtattr: header, payload, padding to 4 bytes (RTA_ALIGN)."""
    return _RTATTR.pack(4 + len(data), kind) + data + _PAD[len(data) & 3]


def _u32(kind: int, value: int) -> bytes:
    return _RTATTR.pack(8, kind) + _U32.pack(value)


def _message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    return _NLMSGHDR.pack(_HDR_LEN + len(body), kind, flags, seq & 0xFFFFFFFF, 0) + body


# --------------------------------------------------------------------------- addresses


def address_message(op: AddressOp, seq: int) -> bytes:
    """RTM_NEWADDR or RTM_DELADDR for ``op`` with sequence number ``seq``.

    As keepalived's ``netlink_ipaddress()``: IFA_LOCAL always; an add carries
    IFA_BROADCAST, IFA_FLAGS (when non-zero; the low byte also in ifa_flags),
    IFA_LABEL, the peer as IFA_ADDRESS and IFA_CACHEINFO for a preferred
    lifetime; an IPv4 delete names the prefix by IFA_ADDRESS (the peer, if any)
    so that the kernel matches the prefix length too.
    """
    addr = op.address
    local = addr.ip.packed
    n = len(local)
    family = AF_INET if n == 4 else AF_INET6
    peer = op.peer.packed if op.peer is not None else None
    parts = [b"", _ATTR_HDR[IFA_LOCAL, n], local]
    if op.add:
        flags = op.flags
        if op.broadcast is not None and family == AF_INET:
            parts += (_ATTR_HDR[IFA_BROADCAST, 4], op.broadcast.packed)
        if peer is not None:
            parts += (_ATTR_HDR[IFA_ADDRESS, n], peer)
        if flags:
            parts.append(_u32(IFA_FLAGS, flags))
        if op.label is not None:
            parts.append(_attr(IFA_LABEL, op.label.encode() + b"\0"))
        if op.preferred_lft is not None:
            info = _CACHEINFO.pack(op.preferred_lft, INFINITY_LIFE_TIME, 0, 0)
            parts.append(_attr(IFA_CACHEINFO, info))
        kind, nl_flags = RTM_NEWADDR, _ADD_FLAGS
    else:
        flags = 0
        if family == AF_INET or peer is not None:
            parts += (_ATTR_HDR[IFA_ADDRESS, n], peer if peer is not None else local)
        kind, nl_flags = RTM_DELADDR, _DEL_FLAGS
    parts[0] = _IFADDRMSG.pack(family, addr.network.prefixlen, flags & 0xFF, op.scope, op.ifindex)
    return _message(kind, nl_flags, seq, b"".join(parts))


def address_messages(ops: Sequence[AddressOp], first_seq: int) -> list[bytes]:
    """One message per op, numbered ``first_seq``, ``first_seq + 1``, ... (mod 2**32)."""
    return [address_message(op, first_seq + i) for i, op in enumerate(ops)]


def dump_addresses_request(seq: int, family: int = 0) -> bytes:
    """RTM_GETADDR with NLM_F_DUMP (``family`` 0: both, else AF_INET / AF_INET6)."""
    return _message(
        RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, _IFADDRMSG.pack(family, 0, 0, 0, 0)
    )


# --------------------------------------------------------------------------- routes, rules


def _prefix_attrs(kind: int, prefix: IPInterface | None) -> tuple[int, bytes]:
    if prefix is None or prefix.network.prefixlen == 0:
        return 0, b""
    return prefix.network.prefixlen, _attr(kind, prefix.network.network_address.packed)


def route_message(op: RouteOp, seq: int) -> bytes:
    """RTM_NEWROUTE or RTM_DELROUTE for ``op`` (as ``ip route add|del`` builds it).

    A delete leaves protocol 0 and scope RT_SCOPE_NOWHERE: wildcards to the kernel.
    """
    dst_len, dst = _prefix_attrs(RTA_DST, op.dst)
    parts = [b"", dst]
    if op.via is not None:
        parts.append(_attr(RTA_GATEWAY, op.via.packed))
    if op.ifindex is not None:
        parts.append(_u32(RTA_OIF, op.ifindex))
    if op.src is not None:
        parts.append(_attr(RTA_PREFSRC, op.src.packed))
    if op.metric is not None:
        parts.append(_u32(RTA_PRIORITY, op.metric))
    parts.append(_u32(RTA_TABLE, op.table))
    if op.add:
        if op.mtu is not None:
            parts.append(_attr(RTA_METRICS, _u32(RTAX_MTU, op.mtu)))
        scope = op.scope
        if scope is None:
            direct = op.via is None and op.type == RTN_UNICAST
            scope = RT_SCOPE_LINK if direct else RT_SCOPE_UNIVERSE
        protocol = op.protocol
        kind, nl_flags = RTM_NEWROUTE, _ADD_FLAGS
    else:
        scope = RT_SCOPE_NOWHERE if op.scope is None else op.scope
        protocol = 0
        kind, nl_flags = RTM_DELROUTE, _DEL_FLAGS
    parts[0] = _RTMSG.pack(
        _FAMILY[op.family],
        dst_len,
        0,
        op.tos,
        op.table if op.table < 256 else 0,
        protocol,
        scope,
        op.type,
        RTNH_F_ONLINK if op.onlink else 0,
    )
    return _message(kind, nl_flags, seq, b"".join(parts))


def rule_message(op: RuleOp, seq: int) -> bytes:
    """RTM_NEWRULE or RTM_DELRULE for ``op`` (as ``ip rule add|del`` builds it)."""
    dst_len, dst = _prefix_attrs(FRA_DST, op.dst)
    src_len, src = _prefix_attrs(FRA_SRC, op.src)
    parts = [b"", dst, src]
    if op.priority is not None:
        parts.append(_u32(FRA_PRIORITY, op.priority))
    if op.fwmark is not None:
        parts.append(_u32(FRA_FWMARK, op.fwmark))
    if op.fwmask is not None:
        parts.append(_u32(FRA_FWMASK, op.fwmask))
    if op.iifname is not None:
        parts.append(_attr(FRA_IIFNAME, op.iifname.encode() + b"\0"))
    if op.oifname is not None:
        parts.append(_attr(FRA_OIFNAME, op.oifname.encode() + b"\0"))
    if op.goto is not None:
        parts.append(_u32(FRA_GOTO, op.goto))
    if op.protocol is not None and op.add:
        parts.append(_attr(FRA_PROTOCOL, bytes((op.protocol,))))
    parts.append(_u32(FRA_TABLE, op.table))
    parts[0] = _FIB_RULE_HDR.pack(
        _FAMILY[op.family],
        dst_len,
        src_len,
        op.tos,
        op.table if op.table < 256 else 0,
        0,
        0,
        op.action,
        FIB_RULE_INVERT if op.invert else 0,
    )
    kind, nl_flags = (RTM_NEWRULE, _ADD_FLAGS) if op.add else (RTM_DELRULE, _DEL_FLAGS)
    return _message(kind, nl_flags, seq, b"".join(parts))


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class Message:
    """One netlink message of a received buffer."""

    type: int
    flags: int
    seq: int
    pid: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Ack:
    """One NLMSG_ERROR reply: errno 0 is an acknowledgement (RFC 3549 2.3.2.2)."""

    seq: int
    errno: int
    message: str = ""


class TruncatedMessage(ValueError):
    """A netlink header claims more bytes than the buffer holds."""


def iter_messages(buf: bytes) -> Iterator[Message]:
    """The messages of one received buffer (NLMSG_NEXT), NLMSG_NOOP skipped."""
    offset, end = 0, len(buf)
    while offset + _HDR_LEN <= end:
        length, kind, flags, seq, pid = _NLMSGHDR.unpack_from(buf, offset)
        if length < _HDR_LEN or offset + length > end:
            raise TruncatedMessage(f"netlink message of {length} bytes at {offset}/{end}")
        if kind != NLMSG_NOOP:
            yield Message(kind, flags, seq, pid, buf[offset + _HDR_LEN : offset + length])
        offset += (length + 3) & ~3


def attributes(data: bytes, offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """(type, payload) of each rtattr from ``offset`` on (nested flag bits dropped)."""
    end = len(data)
    while offset + 4 <= end:
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < 4 or offset + length > end:
            return
        yield kind & 0x3FFF, data[offset + 4 : offset + length]
        offset += (length + 3) & ~3


def _ack(msg: Message) -> Ack:
    """An NLMSG_ERROR payload: int error, the request's header (and body unless capped),
    then extended-ack TLVs when NLM_F_ACK_TLVS is set."""
    (error,) = _I32.unpack_from(msg.payload, 0)
    seq = msg.seq
    text = ""
    if len(msg.payload) >= 4 + _HDR_LEN:
        req_len, _, _, seq, _ = _NLMSGHDR.unpack_from(msg.payload, 4)
        if msg.flags & NLM_F_ACK_TLVS:
            tlv_at = 4 + (_HDR_LEN if msg.flags & NLM_F_CAPPED else (req_len + 3) & ~3)
            for kind, value in attributes(msg.payload, tlv_at):
                if kind == NLMSGERR_ATTR_MSG:
                    text = value.rstrip(b"\0").decode(errors="replace")
    return Ack(seq, -error, text)


def parse_acks(buf: bytes) -> list[Ack]:
    """The NLMSG_ERROR replies in ``buf`` (other messages are skipped)."""
    return [_ack(m) for m in iter_messages(buf) if m.type == NLMSG_ERROR]


def _ip(data: bytes) -> IPAddress:
    return IPv4Address(data) if len(data) == 4 else IPv6Address(data)


def parse_address(payload: bytes) -> AddressEntry:
    """An RTM_NEWADDR body (``struct ifaddrmsg`` + IFA_* attributes)."""
    family, prefixlen, flags, scope, index = _IFADDRMSG.unpack_from(payload, 0)
    attrs = dict(attributes(payload, _IFADDRMSG.size))
    local = attrs.get(IFA_LOCAL)
    address = attrs.get(IFA_ADDRESS)
    main = local if local is not None else address
    if main is None:
        raise ValueError("RTM_NEWADDR without IFA_LOCAL or IFA_ADDRESS")
    peer = address if local is not None and address is not None and address != local else None
    label = attrs.get(IFA_LABEL)
    brd = attrs.get(IFA_BROADCAST)
    cache = attrs.get(IFA_CACHEINFO)
    flags_attr = attrs.get(IFA_FLAGS)
    preferred = valid = None
    if cache is not None and len(cache) >= 8:
        preferred, valid, _, _ = _CACHEINFO.unpack_from(cache.ljust(16, b"\0"))
    return AddressEntry(
        ifindex=index,
        address=ip_interface((ip_address(main), prefixlen)),
        flags=_U32.unpack(flags_attr)[0] if flags_attr is not None else flags,
        scope=scope,
        label=label.rstrip(b"\0").decode(errors="replace") if label is not None else None,
        broadcast=IPv4Address(brd) if brd is not None and family == AF_INET else None,
        peer=_ip(peer) if peer is not None else None,
        preferred_lft=preferred,
        valid_lft=valid,
    )


def parse_address_dump(buf: bytes, seq: int) -> tuple[list[AddressEntry], bool, int]:
    """The RTM_NEWADDR parts of dump ``seq`` in ``buf``: (entries, done, errno).

    ``done`` is True once NLMSG_DONE (or an NLMSG_ERROR for the dump) was seen;
    ``errno`` is the error that ended it, 0 if none.
    """
    entries: list[AddressEntry] = []
    for msg in iter_messages(buf):
        if msg.seq != seq:
            continue
        if msg.type == RTM_NEWADDR:
            entries.append(parse_address(msg.payload))
        elif msg.type == NLMSG_DONE:
            return entries, True, 0
        elif msg.type == NLMSG_ERROR:
            return entries, True, _ack(msg).errno
    return entries, False, 0


class AckTracker:
    """The answers still owed for a batch of requests numbered by sequence.

    ``feed`` each received buffer; once :attr:`done`, :meth:`results` lists one
    :class:`Ack` per request in request order.  Replies for other sequence numbers
    (a previous batch's stragglers) are ignored.
    """

    def __init__(self, first_seq: int, count: int) -> None:
        self.first_seq = first_seq & 0xFFFFFFFF
        self.count = count
        self._acks: list[Ack | None] = [None] * count
        self.pending = count

    def index(self, seq: int) -> int | None:
        """The request index for ``seq`` (None if not part of this batch)."""
        i = (seq - self.first_seq) & 0xFFFFFFFF
        return i if i < self.count else None

    def feed(self, buf: bytes) -> None:
        for ack in parse_acks(buf):
            self.add(ack)

    def add(self, ack: Ack) -> None:
        i = self.index(ack.seq)
        if i is not None and self._acks[i] is None:
            self._acks[i] = ack
            self.pending -= 1

    @property
    def done(self) -> bool:
        return self.pending == 0

    def fail_pending(self, errno: int, message: str) -> None:
        """Give every unanswered request ``errno`` (a lost reply, a timeout)."""
        for i, ack in enumerate(self._acks):
            if ack is None:
                self._acks[i] = Ack((self.first_seq + i) & 0xFFFFFFFF, errno, message)
        self.pending = 0

    def results(self) -> list[Ack]:
        if not self.done:
            raise RuntimeError(f"{self.pending} of {self.count} requests unanswered")
        return [a for a in self._acks if a is not None]


# --------------------------------------------------------------------------- links

RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTMGRP_LINK = 1
IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFF_UP = 0x1
IFF_RUNNING = 0x40
_IFINFOMSG = struct.Struct("=BxHiII")


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """An RTM_NEWLINK / RTM_DELLINK notification (rtnetlink(7), ``struct ifinfomsg``)."""

    ifindex: int
    name: str
    flags: int
    deleted: bool
    mac: bytes = b""

    @property
    def up(self) -> bool:
        """Administratively up and running (carrier), as keepalived's IF_ISUP."""
        return not self.deleted and self.flags & (IFF_UP | IFF_RUNNING) == IFF_UP | IFF_RUNNING


def parse_links(buf: bytes) -> list[LinkEvent]:
    """The link messages of one buffer read from an RTMGRP_LINK socket."""
    events = []
    for msg in iter_messages(buf):
        if msg.type not in (RTM_NEWLINK, RTM_DELLINK) or len(msg.payload) < _IFINFOMSG.size:
            continue
        _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(msg.payload)
        name, mac = "", b""
        for kind, value in attributes(msg.payload, _IFINFOMSG.size):
            if kind == IFLA_IFNAME:
                name = value.split(b"\0", 1)[0].decode(errors="replace")
            elif kind == IFLA_ADDRESS:
                mac = value
        events.append(LinkEvent(index, name, flags, msg.type == RTM_DELLINK, mac))
    return events


def dump_links_request(seq: int) -> bytes:
    """RTM_GETLINK with NLM_F_DUMP: every interface."""
    return _message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, _IFINFOMSG.pack(0, 0, 0, 0, 0))


def dump_done(buf: bytes, seq: int) -> tuple[bool, int]:
    """Whether dump ``seq`` ended in ``buf`` (NLMSG_DONE or an error), and the errno."""
    for msg in iter_messages(buf):
        if msg.seq != seq:
            continue
        if msg.type == NLMSG_DONE:
            return True, 0
        if msg.type == NLMSG_ERROR:
            return True, _ack(msg).errno
    return False, 0
