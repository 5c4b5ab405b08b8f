"""The IPVS counters in a GET_SERVICE dump (``IPVS_SVC_ATTR_STATS64``), parsed (pure).

The dump is built here by hand, attribute by attribute, as the kernel writes it
(``ip_vs_genl_fill_service``: the identity, the scheduler, then STATS and STATS64).
"""

from __future__ import annotations

import socket
import struct
from ipaddress import ip_address

from pykad.daemon.ipvs_stats import SVC_STATS64, ServiceStats, parse_service_stats
from pykad.kernel import ipvs_wire_py as w
from pykad.lb.table import ServiceKey


def attr(kind: int, data: bytes) -> bytes:
    pad = (-len(data)) % 4
    return struct.pack("=HH", 4 + len(data), kind) + data + b"\0" * pad


def u64s(values: list[int]) -> bytes:
    return b"".join(attr(k, struct.pack("=Q", v)) for k, v in enumerate(values, start=1))


def message(cmd: int, body: bytes, seq: int = 7, kind: int = 0x20) -> bytes:
    payload = struct.pack("=BBH", cmd, 1, 0) + body
    return struct.pack("=IHHII", 16 + len(payload), kind, 2, seq, 0) + payload


def service(af: int, address: bytes, port: int, stats64: list[int] | None) -> bytes:
    nest = (
        attr(w.SVC_AF, struct.pack("=H", af))
        + attr(w.SVC_PROTOCOL, struct.pack("=H", 6))
        + attr(w.SVC_ADDR, address + b"\0" * (16 - len(address)))
        + attr(w.SVC_PORT, struct.pack("!H", port))
        + attr(w.SVC_SCHED_NAME, b"rr\0")
    )
    if stats64 is not None:
        nest += attr(w.SVC_STATS, b"\0" * 40) + attr(SVC_STATS64, u64s(stats64))
    return message(w.CMD_NEW_SERVICE, attr(w.ATTR_SERVICE, nest))


def test_counters_of_each_service() -> None:
    v4 = ip_address("192.0.2.10").packed
    v6 = ip_address("2001:db8::10").packed
    fwm = message(
        w.CMD_NEW_SERVICE,
        attr(
            w.ATTR_SERVICE,
            attr(w.SVC_AF, struct.pack("=H", socket.AF_INET))
            + attr(w.SVC_FWMARK, struct.pack("=I", 5))
            + attr(SVC_STATS64, u64s([1, 2, 3, 4, 5, 0, 0, 0, 0, 0])),
        ),
    )
    buf = (
        service(socket.AF_INET, v4, 80, [12, 100, 90, 6000, 120000, 1, 2, 3, 4, 5])
        + service(socket.AF_INET6, v6, 443, [2**40, 0, 0, 2**63, 0, 0, 0, 0, 0, 0])
        + service(socket.AF_INET, ip_address("192.0.2.11").packed, 80, None)  # old kernel
        + fwm
        + message(0, b"", kind=w.NLMSG_DONE)
    )
    assert parse_service_stats(buf) == {
        ServiceKey(socket.AF_INET, 6, v4, 80): ServiceStats(12, 100, 90, 6000, 120000),
        ServiceKey(socket.AF_INET6, 6, v6, 443): ServiceStats(2**40, 0, 0, 2**63, 0),
        ServiceKey.by_fwmark(socket.AF_INET, 5): ServiceStats(1, 2, 3, 4, 5),
    }


def test_nothing_in_an_empty_or_foreign_buffer() -> None:
    assert parse_service_stats(b"") == {}
    assert parse_service_stats(message(0, b"", kind=w.NLMSG_DONE)) == {}
    assert parse_service_stats(message(w.CMD_GET_SERVICE, b"")) == {}
