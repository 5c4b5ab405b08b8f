"""IPVS traffic counters of the services pykad owns, for ``pykadctl stats`` and the metrics.

Owns reading the kernel's per-service counters (``IPVS_SVC_ATTR_STATS64``:
connections, packets and bytes in and out since the service was made): one
GET_SERVICE dump (:func:`parse_service_stats`, pure) on a socket of its own
(:class:`IpvsStatsReader`), so the checker child reads them in a worker thread
while its own IPVS socket goes on writing.  The kernel's module
(``pykad.kernel.ipvs``) parses the same dump without the counters; this one
keeps only the counters and each service's identity.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from pykad.kernel import ipvs_wire_py as w
from pykad.kernel import rtnl
from pykad.kernel.ipvs import IpvsSocket
from pykad.lb.table import ServiceKey

SVC_STATS64 = 12
"""``IPVS_SVC_ATTR_STATS64`` (Linux 4.1 and later)."""
STATS_CONNS, STATS_INPKTS, STATS_OUTPKTS, STATS_INBYTES, STATS_OUTBYTES = 1, 2, 3, 4, 5
"""``IPVS_STATS_ATTR_*``: u64 values in the STATS64 nest."""
_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")
_U64 = struct.Struct("=Q")
_BE16 = struct.Struct("!H")
_GENLHDR = 4


@dataclass(frozen=True, slots=True)
class ServiceStats:
    """One service's counters (totals since the kernel made the service)."""

    connections: int = 0
    packets_in: int = 0
    packets_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


def _key(a: dict[int, bytes]) -> ServiceKey | None:
    if w.SVC_AF not in a:
        return None
    af = _U16.unpack_from(a[w.SVC_AF])[0]
    if w.SVC_FWMARK in a:
        return ServiceKey.by_fwmark(af, _U32.unpack_from(a[w.SVC_FWMARK])[0])
    if not {w.SVC_PROTOCOL, w.SVC_ADDR, w.SVC_PORT} <= a.keys():
        return None
    size = 4 if af == socket.AF_INET else 16
    return ServiceKey(
        af,
        _U16.unpack_from(a[w.SVC_PROTOCOL])[0],
        a[w.SVC_ADDR][:size],
        _BE16.unpack_from(a[w.SVC_PORT])[0],
    )


def _stats(nest: bytes) -> ServiceStats:
    s = {k: _U64.unpack_from(v)[0] for k, v in rtnl.attributes(nest) if len(v) >= 8}
    return ServiceStats(
        connections=s.get(STATS_CONNS, 0),
        packets_in=s.get(STATS_INPKTS, 0),
        packets_out=s.get(STATS_OUTPKTS, 0),
        bytes_in=s.get(STATS_INBYTES, 0),
        bytes_out=s.get(STATS_OUTBYTES, 0),
    )


def parse_service_stats(buf: bytes) -> dict[ServiceKey, ServiceStats]:
    """Each service's counters in a GET_SERVICE dump (services without STATS64: none)."""
    found: dict[ServiceKey, ServiceStats] = {}
    for msg in rtnl.iter_messages(buf):
        if msg.type in (w.NLMSG_ERROR, w.NLMSG_DONE) or len(msg.payload) < _GENLHDR:
            continue
        if msg.payload[0] != w.CMD_NEW_SERVICE:
            continue
        for kind, nest in rtnl.attributes(msg.payload[_GENLHDR:]):
            if kind != w.ATTR_SERVICE:
                continue
            a = dict(rtnl.attributes(nest))
            key = _key(a)
            if key is not None and SVC_STATS64 in a:
                found[key] = _stats(a[SVC_STATS64])
    return found


class IpvsStatsReader(IpvsSocket):
    """An IPVS socket of its own that only reads the counters (blocking: use a thread)."""

    def read(self) -> dict[ServiceKey, ServiceStats]:
        return parse_service_stats(self.service_dump())
