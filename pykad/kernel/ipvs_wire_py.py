"""The IPVS generic-netlink codec, pure Python (twin of ``pykad._fastpath.ipvs_wire``).

Owned here: the bytes of every IPVS request pykad sends and the parsing of the
kernel's replies, per ``include/uapi/linux/ip_vs.h`` and ``ip_vs_ctl.c``
(``ip_vs_genl_parse_service``, ``ip_vs_genl_parse_dest``, ``ip_vs_genl_fill_*``);
docs/reference/ipvs-netlink.md has the details and the pitfalls.  Byte orders are
mixed: ports (service, destination, GUE tunnel) are network order, AF, protocol,
fwmark, weights, thresholds and flags host order; an IPv4 persistence netmask is
the mask's bytes, an IPv6 one a host-order prefix length.

The hot pair, compiled in the twin: :func:`encode_ops` (one message per
``pykad.lb.plan`` operation, sequence numbers from ``first_seq``, flags
NLM_F_REQUEST only: the kernel answers a failed request anyway, and the driver
asks for an acknowledgement on the last request of each ``sendmsg``) and
:func:`parse_services` / :func:`parse_dests` (dump replies
into ``pykad.lb.table`` values; ``IP_VS_SVC_F_HASHED`` dropped, destination
families equal to the service's given as 0).  The rest (family resolution,
dump requests, info, timeouts, sync daemons, flush) is used once per run and
lives only here.

A fwmark service is a ``ServiceKey`` with an empty address; an address service
never carries IPVS_SVC_ATTR_FWMARK (its presence, not its value, selects the
fwmark lookup).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from pykad.kernel import rtnl
from pykad.lb.plan import AddDest, AddService, DelDest, DelService, EditDest, EditService, Op
from pykad.lb.table import FWD_TUNNEL, SVC_F_HASHED, Dest, DestKey, Service, ServiceKey

# Generic netlink controller (linux/genetlink.h).
GENL_ID_CTRL = 0x10
CTRL_CMD_NEWFAMILY = 1
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
IPVS_GENL_NAME = b"IPVS"
IPVS_GENL_VERSION = 1

NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3

# IPVS_CMD_*
CMD_NEW_SERVICE = 1
CMD_SET_SERVICE = 2
CMD_DEL_SERVICE = 3
CMD_GET_SERVICE = 4
CMD_NEW_DEST = 5
CMD_SET_DEST = 6
CMD_DEL_DEST = 7
CMD_GET_DEST = 8
CMD_NEW_DAEMON = 9
CMD_DEL_DAEMON = 10
CMD_GET_DAEMON = 11
CMD_SET_CONFIG = 12
CMD_GET_CONFIG = 13
CMD_SET_INFO = 14
CMD_GET_INFO = 15
CMD_ZERO = 16
CMD_FLUSH = 17

# IPVS_CMD_ATTR_*
ATTR_SERVICE = 1
ATTR_DEST = 2
ATTR_DAEMON = 3
ATTR_TIMEOUT_TCP = 4
ATTR_TIMEOUT_TCP_FIN = 5
ATTR_TIMEOUT_UDP = 6

# IPVS_SVC_ATTR_*
SVC_AF = 1
SVC_PROTOCOL = 2
SVC_ADDR = 3
SVC_PORT = 4
SVC_FWMARK = 5
SVC_SCHED_NAME = 6
SVC_FLAGS = 7
SVC_TIMEOUT = 8
SVC_NETMASK = 9
SVC_STATS = 10
SVC_PE_NAME = 11

# IPVS_DEST_ATTR_*
DEST_ADDR = 1
DEST_PORT = 2
DEST_FWD_METHOD = 3
DEST_WEIGHT = 4
DEST_U_THRESH = 5
DEST_L_THRESH = 6
DEST_ACTIVE_CONNS = 7
DEST_INACT_CONNS = 8
DEST_PERSIST_CONNS = 9
DEST_ADDR_FAMILY = 11
DEST_TUN_TYPE = 13
DEST_TUN_PORT = 14
DEST_TUN_FLAGS = 15

# IPVS_DAEMON_ATTR_*
DAEMON_STATE = 1
DAEMON_MCAST_IFN = 2
DAEMON_SYNC_ID = 3
DAEMON_SYNC_MAXLEN = 4
DAEMON_MCAST_GROUP = 5
DAEMON_MCAST_GROUP6 = 6
DAEMON_MCAST_PORT = 7
DAEMON_MCAST_TTL = 8
SYNC_MASTER = 1
SYNC_BACKUP = 2

# IPVS_INFO_ATTR_*
INFO_VERSION = 1
INFO_CONN_TAB_SIZE = 2

FWD_MASK = 0x7

_NLMSGHDR = struct.Struct("=IHHII")
_GENLHDR = struct.Struct("=BBH")
_NLA = struct.Struct("=HH")
_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")
_BE16 = struct.Struct("!H")
_HDR_LEN = _NLMSGHDR.size + _GENLHDR.size
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")
_ZEROS16 = bytes(16)
_FLAGS_MASK_ALL = 0xFFFFFFFF

_CMD = {
    AddService: CMD_NEW_SERVICE,
    EditService: CMD_SET_SERVICE,
    DelService: CMD_DEL_SERVICE,
    AddDest: CMD_NEW_DEST,
    EditDest: CMD_SET_DEST,
    DelDest: CMD_DEL_DEST,
}


# --------------------------------------------------------------------------- building


def _attr(kind: int, data: bytes) -> bytes:
    return _NLA.pack(4 + len(data), kind) + data + _PAD[len(data) & 3]


def _u8(kind: int, value: int) -> bytes:
    return _NLA.pack(5, kind) + bytes((value, 0, 0, 0))


def _u16(kind: int, value: int) -> bytes:
    return _NLA.pack(6, kind) + _U16.pack(value) + b"\0\0"


def _be16(kind: int, value: int) -> bytes:
    return _NLA.pack(6, kind) + _BE16.pack(value) + b"\0\0"


def _u32(kind: int, value: int) -> bytes:
    return _NLA.pack(8, kind) + _U32.pack(value)


def _string(kind: int, value: str) -> bytes:
    return _attr(kind, value.encode() + b"\0")


def _nest(kind: int, parts: Sequence[bytes]) -> bytes:
    body = b"".join(parts)
    return _NLA.pack(4 + len(body), kind) + body


def _message(family: int, flags: int, seq: int, cmd: int, body: bytes = b"") -> bytes:
    return (
        _NLMSGHDR.pack(_HDR_LEN + len(body), family, flags, seq & 0xFFFFFFFF, 0)
        + _GENLHDR.pack(cmd, IPVS_GENL_VERSION, 0)
        + body
    )


def _addr16(address: bytes) -> bytes:
    return address + _ZEROS16[len(address) :]


def _service_identity(key: ServiceKey) -> list[bytes]:
    if not key.address:
        return [_u16(SVC_AF, key.af), _u32(SVC_FWMARK, key.fwmark)]
    return [
        _u16(SVC_AF, key.af),
        _u16(SVC_PROTOCOL, key.protocol),
        _attr(SVC_ADDR, _addr16(key.address)),
        _be16(SVC_PORT, key.port),
    ]


def _netmask(service: Service) -> bytes:
    if service.key.af == socket.AF_INET6:
        return _U32.pack(service.netmask)  # a prefix length, host order
    return struct.pack("!I", service.netmask)  # the mask's bytes


def _service_full(service: Service) -> list[bytes]:
    parts = _service_identity(service.key)
    parts.append(_string(SVC_SCHED_NAME, service.scheduler))
    if service.pe_name:
        parts.append(_string(SVC_PE_NAME, service.pe_name))
    parts += [
        _attr(SVC_FLAGS, struct.pack("=II", service.flags & ~SVC_F_HASHED, _FLAGS_MASK_ALL)),
        _u32(SVC_TIMEOUT, service.timeout),
        _attr(SVC_NETMASK, _netmask(service)),
    ]
    return parts


def _dest_identity(key: DestKey, service_af: int) -> list[bytes]:
    return [
        _u16(DEST_ADDR_FAMILY, key.af or service_af),
        _attr(DEST_ADDR, _addr16(key.address)),
        _be16(DEST_PORT, key.port),
    ]


def _dest_full(dest: Dest, service_af: int) -> list[bytes]:
    parts = _dest_identity(dest.key, service_af)
    parts += [
        _u32(DEST_FWD_METHOD, dest.fwd & FWD_MASK),
        _u32(DEST_WEIGHT, dest.weight),
        _u32(DEST_U_THRESH, dest.u_threshold),
        _u32(DEST_L_THRESH, dest.l_threshold),
    ]
    if dest.fwd == FWD_TUNNEL:
        parts += [
            _u8(DEST_TUN_TYPE, dest.tun_type),
            _be16(DEST_TUN_PORT, dest.tun_port),
            _u16(DEST_TUN_FLAGS, dest.tun_flags),
        ]
    return parts


def encode_op(family: int, op: Op, seq: int) -> bytes:
    """The request for one reconcile operation (NLM_F_REQUEST; see :func:`with_ack`)."""
    cmd = _CMD[type(op)]
    if isinstance(op, AddService | EditService):
        body = _nest(ATTR_SERVICE, _service_full(op.service))
    elif isinstance(op, DelService):
        body = _nest(ATTR_SERVICE, _service_identity(op.key))
    elif isinstance(op, AddDest | EditDest):
        body = _nest(ATTR_SERVICE, _service_identity(op.service)) + _nest(
            ATTR_DEST, _dest_full(op.dest, op.service.af)
        )
    else:
        body = _nest(ATTR_SERVICE, _service_identity(op.service)) + _nest(
            ATTR_DEST, _dest_identity(op.key, op.service.af)
        )
    return _message(family, NLM_F_REQUEST, seq, cmd, body)


def with_ack(message: bytes) -> bytes:
    """``message`` with NLM_F_ACK set: IPVS handles a batch in order inside
    ``sendmsg`` and answers every failure, so one acknowledgement after the last
    request says that every request before it without an error answer succeeded."""
    flags = _U16.unpack_from(message, 6)[0] | NLM_F_ACK
    return message[:6] + _U16.pack(flags) + message[8:]


def encode_ops(family: int, ops: Sequence[Op], first_seq: int) -> list[bytes]:
    """One request per operation, numbered ``first_seq``, ``first_seq + 1``, ..."""
    return [encode_op(family, op, first_seq + i) for i, op in enumerate(ops)]


def get_family_request(seq: int) -> bytes:
    """CTRL_CMD_GETFAMILY for "IPVS" (resolving it also loads ip_vs)."""
    body = _attr(CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME + b"\0")
    return _message(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, CTRL_CMD_GETFAMILY, body)


def request(family: int, cmd: int, seq: int, body: bytes = b"", *, dump: bool = False) -> bytes:
    """A request without operation payload: GET_INFO, GET_CONFIG, FLUSH, dumps."""
    flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK)
    return _message(family, flags, seq, cmd, body)


def dump_dests_request(family: int, key: ServiceKey, seq: int) -> bytes:
    """GET_DEST (a dump) for one service."""
    body = _nest(ATTR_SERVICE, _service_identity(key))
    return request(family, CMD_GET_DEST, seq, body, dump=True)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The connection timeouts of ``lvs_timeouts`` / ``ipvsadm --set`` (seconds; 0 = keep)."""

    tcp: int = 0
    tcp_fin: int = 0
    udp: int = 0


def set_timeouts_request(family: int, timeouts: Timeouts, seq: int) -> bytes:
    body = (
        _u32(ATTR_TIMEOUT_TCP, timeouts.tcp)
        + _u32(ATTR_TIMEOUT_TCP_FIN, timeouts.tcp_fin)
        + _u32(ATTR_TIMEOUT_UDP, timeouts.udp)
    )
    return request(family, CMD_SET_CONFIG, seq, body)


@dataclass(frozen=True, slots=True)
class SyncDaemon:
    """One connection-synchronisation daemon (``lvs_sync_daemon``), as NEW_DAEMON sends it."""

    state: int
    """SYNC_MASTER or SYNC_BACKUP."""
    interface: str
    sync_id: int = 0
    max_len: int = 0
    group: bytes = b""
    """A multicast group, 4 or 16 bytes; empty for the kernel's default."""
    port: int = 0
    ttl: int = 0


def new_daemon_request(family: int, daemon: SyncDaemon, seq: int) -> bytes:
    """NEW_DAEMON: optional attributes only when set (libipvs ``ipvs_start_daemon``)."""
    parts = [
        _u32(DAEMON_STATE, daemon.state),
        _string(DAEMON_MCAST_IFN, daemon.interface),
        _u32(DAEMON_SYNC_ID, daemon.sync_id),
    ]
    if daemon.max_len:
        parts.append(_u16(DAEMON_SYNC_MAXLEN, daemon.max_len))
    if daemon.port:
        parts.append(_u16(DAEMON_MCAST_PORT, daemon.port))
    if daemon.ttl:
        parts.append(_u8(DAEMON_MCAST_TTL, daemon.ttl))
    if len(daemon.group) == 4:
        parts.append(_attr(DAEMON_MCAST_GROUP, daemon.group))
    elif daemon.group:
        parts.append(_attr(DAEMON_MCAST_GROUP6, daemon.group))
    return request(family, CMD_NEW_DAEMON, seq, _nest(ATTR_DAEMON, parts))


def del_daemon_request(family: int, state: int, seq: int) -> bytes:
    return request(family, CMD_DEL_DAEMON, seq, _nest(ATTR_DAEMON, [_u32(DAEMON_STATE, state)]))


# --------------------------------------------------------------------------- parsing


def _genl_messages(buf: bytes) -> list[tuple[int, bytes]]:
    """(cmd, attributes) of every generic-netlink message in ``buf`` that is not
    NLMSG_ERROR / NLMSG_DONE."""
    found = []
    for msg in rtnl.iter_messages(buf):
        if msg.type in (NLMSG_ERROR, NLMSG_DONE) or len(msg.payload) < _GENLHDR.size:
            continue
        found.append((msg.payload[0], msg.payload[_GENLHDR.size :]))
    return found


def _first_attr(data: bytes, kind: int) -> bytes | None:
    for k, v in rtnl.attributes(data):
        if k == kind:
            return v
    return None


def parse_family(buf: bytes) -> int | None:
    """The family id in a CTRL_CMD_NEWFAMILY reply, or None."""
    for cmd, attrs in _genl_messages(buf):
        if cmd == CTRL_CMD_NEWFAMILY:
            value = _first_attr(attrs, CTRL_ATTR_FAMILY_ID)
            if value is not None:
                return int(_U16.unpack_from(value)[0])
    return None


def _addr(af: int, value: bytes) -> bytes:
    return value[:4] if af == socket.AF_INET else value[:16]


def _service(nest: bytes) -> Service:
    a = dict(rtnl.attributes(nest))
    af = _U16.unpack_from(a[SVC_AF])[0]
    if SVC_FWMARK in a:
        key = ServiceKey.by_fwmark(af, _U32.unpack_from(a[SVC_FWMARK])[0])
    else:
        key = ServiceKey(
            af,
            _U16.unpack_from(a[SVC_PROTOCOL])[0],
            _addr(af, a[SVC_ADDR]),
            _BE16.unpack_from(a[SVC_PORT])[0],
        )
    mask = a.get(SVC_NETMASK, b"\xff\xff\xff\xff")
    netmask = _U32.unpack_from(mask)[0] if af == socket.AF_INET6 else struct.unpack("!I", mask)[0]
    return Service(
        key=key,
        scheduler=a[SVC_SCHED_NAME].rstrip(b"\0").decode(),
        flags=_U32.unpack_from(a[SVC_FLAGS])[0] & ~SVC_F_HASHED,
        timeout=_U32.unpack_from(a[SVC_TIMEOUT])[0],
        netmask=netmask,
        pe_name=a[SVC_PE_NAME].rstrip(b"\0").decode() if SVC_PE_NAME in a else "",
    )


def parse_services(buf: bytes) -> list[Service]:
    """The services of one GET_SERVICE dump buffer (NEW_SERVICE messages)."""
    found = []
    for cmd, attrs in _genl_messages(buf):
        if cmd == CMD_NEW_SERVICE:
            nest = _first_attr(attrs, ATTR_SERVICE)
            if nest is not None:
                found.append(_service(nest))
    return found


def _u32_of(a: dict[int, bytes], kind: int) -> int:
    value = a.get(kind)
    return int(_U32.unpack_from(value)[0]) if value is not None else 0


def _dest(nest: bytes, service_af: int) -> Dest:
    a = dict(rtnl.attributes(nest))
    af = _U16.unpack_from(a[DEST_ADDR_FAMILY])[0] if DEST_ADDR_FAMILY in a else service_af
    return Dest(
        key=DestKey(
            _addr(af, a[DEST_ADDR]),
            _BE16.unpack_from(a[DEST_PORT])[0],
            0 if af == service_af else af,
        ),
        weight=_u32_of(a, DEST_WEIGHT),
        fwd=_u32_of(a, DEST_FWD_METHOD) & FWD_MASK,
        u_threshold=_u32_of(a, DEST_U_THRESH),
        l_threshold=_u32_of(a, DEST_L_THRESH),
        tun_type=a[DEST_TUN_TYPE][0] if DEST_TUN_TYPE in a else 0,
        tun_port=_BE16.unpack_from(a[DEST_TUN_PORT])[0] if DEST_TUN_PORT in a else 0,
        tun_flags=_U16.unpack_from(a[DEST_TUN_FLAGS])[0] if DEST_TUN_FLAGS in a else 0,
    )


def parse_dests(buf: bytes, service_af: int) -> list[Dest]:
    """The destinations of one GET_DEST dump buffer (NEW_DEST messages)."""
    found = []
    for cmd, attrs in _genl_messages(buf):
        if cmd == CMD_NEW_DEST:
            nest = _first_attr(attrs, ATTR_DEST)
            if nest is not None:
                found.append(_dest(nest, service_af))
    return found


@dataclass(frozen=True, slots=True)
class Info:
    """GET_INFO: the IPVS version (0x010201 is 1.2.1) and the connection table size."""

    version: int
    conn_tab_size: int

    @property
    def version_text(self) -> str:
        v = self.version
        return f"{v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF}"


def parse_info(buf: bytes) -> Info | None:
    for cmd, attrs in _genl_messages(buf):
        if cmd == CMD_SET_INFO:
            a = dict(rtnl.attributes(attrs))
            return Info(_u32_of(a, INFO_VERSION), _u32_of(a, INFO_CONN_TAB_SIZE))
    return None


def parse_timeouts(buf: bytes) -> Timeouts | None:
    """The GET_CONFIG reply (its cmd is SET_CONFIG)."""
    for cmd, attrs in _genl_messages(buf):
        if cmd == CMD_SET_CONFIG:
            a = dict(rtnl.attributes(attrs))
            return Timeouts(
                _u32_of(a, ATTR_TIMEOUT_TCP),
                _u32_of(a, ATTR_TIMEOUT_TCP_FIN),
                _u32_of(a, ATTR_TIMEOUT_UDP),
            )
    return None


def parse_daemons(buf: bytes) -> list[SyncDaemon]:
    """The sync daemons of a GET_DAEMON dump buffer."""
    found = []
    for cmd, attrs in _genl_messages(buf):
        nest = _first_attr(attrs, ATTR_DAEMON) if cmd == CMD_NEW_DAEMON else None
        if nest is None:
            continue
        a = dict(rtnl.attributes(nest))
        group = a.get(DAEMON_MCAST_GROUP6) or a.get(DAEMON_MCAST_GROUP) or b""
        found.append(
            SyncDaemon(
                state=_u32_of(a, DAEMON_STATE),
                interface=a.get(DAEMON_MCAST_IFN, b"").rstrip(b"\0").decode(),
                sync_id=_u32_of(a, DAEMON_SYNC_ID),
                max_len=_U16.unpack_from(a[DAEMON_SYNC_MAXLEN])[0]
                if DAEMON_SYNC_MAXLEN in a
                else 0,
                group=group,
                port=_U16.unpack_from(a[DAEMON_MCAST_PORT])[0] if DAEMON_MCAST_PORT in a else 0,
                ttl=a[DAEMON_MCAST_TTL][0] if DAEMON_MCAST_TTL in a else 0,
            )
        )
    return found
