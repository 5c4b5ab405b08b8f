"""The IPVS table as values: virtual services, their real servers (destinations).

Owned here: ``ServiceKey`` (how IPVS names a service: address family, protocol,
address and port, or address family and firewall mark), ``Service`` (what the
kernel keeps per service), ``DestKey`` / ``Dest`` (per real server) and ``Table``
(a service's value and its destinations, by key).  Addresses are packed bytes
(4 or 16), ports host order, as the netlink codec reads and writes them.

Field names are the kernel's (``include/uapi/linux/ip_vs.h``: ``IPVS_SVC_ATTR_*``,
``IPVS_DEST_ATTR_*``); the flag values are its ``IP_VS_SVC_F_*`` and
``IP_VS_CONN_F_*``.  ``Service.flags`` never holds ``IP_VS_SVC_F_HASHED`` (the
kernel sets it on every service it holds; dumps are read without it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

# Address families and protocols as IPVS numbers them (Linux's AF_* and IPPROTO_*;
# written here so that the pure modules need not import ``socket``).
AF_INET = 2
AF_INET6 = 10
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_SCTP = 132

# IP_VS_SVC_F_*: service flags.
SVC_F_PERSISTENT = 0x0001
SVC_F_HASHED = 0x0002
SVC_F_ONEPACKET = 0x0004
SVC_F_SCHED1 = 0x0008
SVC_F_SCHED2 = 0x0010
SVC_F_SCHED3 = 0x0020

# IP_VS_CONN_F_FWD_MASK values: how a destination is reached.
FWD_MASQ = 0
FWD_LOCALNODE = 1
FWD_TUNNEL = 2
FWD_DROUTE = 3
FWD_BYPASS = 4

# IP_VS_CONN_F_TUNNEL_TYPE_*.
TUN_IPIP = 0
TUN_GUE = 1
TUN_GRE = 2


class ServiceKey(NamedTuple):
    """A virtual service as IPVS finds it: (af, protocol, address, port), or (af, fwmark)."""

    af: int
    protocol: int = 0
    address: bytes = b""
    port: int = 0
    fwmark: int = 0

    @classmethod
    def by_fwmark(cls, af: int, fwmark: int) -> ServiceKey:
        return cls(af, 0, b"", 0, fwmark)


class DestKey(NamedTuple):
    """A real server within its service: address and port (and its family)."""

    address: bytes
    port: int
    af: int = 0
    """0: the service's family (a destination may differ only for tunnels)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """What IPVS keeps for a virtual service, besides its destinations."""

    key: ServiceKey
    scheduler: str = "wlc"
    flags: int = 0
    timeout: int = 0
    """Persistence timeout, seconds (with ``SVC_F_PERSISTENT``)."""
    netmask: int = 0xFFFFFFFF
    """Persistence granularity: an IPv4 mask, or an IPv6 prefix length."""
    pe_name: str = ""
    """Persistence engine (``sip``), empty for none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Dest:
    """What IPVS keeps for one real server of a service."""

    key: DestKey
    weight: int = 1
    fwd: int = FWD_MASQ
    u_threshold: int = 0
    l_threshold: int = 0
    tun_type: int = TUN_IPIP
    tun_port: int = 0
    tun_flags: int = 0


@dataclass(frozen=True, slots=True)
class Table:
    """Services by key, each with its destinations by key."""

    services: Mapping[ServiceKey, Service] = field(default_factory=dict)
    dests: Mapping[ServiceKey, Mapping[DestKey, Dest]] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Iterable[tuple[Service, Iterable[Dest]]]) -> Table:
        """A table from (service, destinations) pairs."""
        services: dict[ServiceKey, Service] = {}
        dests: dict[ServiceKey, dict[DestKey, Dest]] = {}
        for service, ds in entries:
            services[service.key] = service
            dests[service.key] = {d.key: d for d in ds}
        return cls(services, dests)

    def __iter__(self) -> Iterator[tuple[Service, Mapping[DestKey, Dest]]]:
        for key, service in self.services.items():
            yield service, self.dests.get(key, {})

    def __len__(self) -> int:
        return len(self.services)

    def dest_count(self) -> int:
        return sum(len(d) for d in self.dests.values())
