"""FakeKernel: the kernel interfaces in memory, with an operation log, for driver tests.

This module owns :class:`FakeKernel`, which implements ``pykad.kernel.api``'s
``Addresses``, ``Routes``, ``Rules`` and ``Links`` with the answers the Linux
kernel gives over rtnetlink (rtnetlink(7); RFC 3549 2.3.2.2 for the per-message
NLMSG_ERROR), so that a driver test can assert both what was asked ("one batch of
N ops": :attr:`FakeKernel.batches`) and what the host would look like afterwards.

Modelled, as Linux does it (net/ipv4/devinet.c, net/ipv6/addrconf.c):
- ENODEV for an unknown ifindex; EEXIST for an address already there (IPv4: same
  local address, prefix length and subnet; IPv6: same address, any prefix length);
  EADDRNOTAVAIL for deleting an address that is not there (IPv6 also matches the
  prefix length); EINVAL for an IPv4 address in an existing subnet with another scope;
- IPv4 secondaries: an address in the subnet of an existing one gets
  IFA_F_SECONDARY; deleting the primary deletes its secondaries, or promotes the
  first one when ``promote_secondaries`` is set (the sysctl; 0 in a new namespace);
- dump flags: IFA_F_PERMANENT, IFA_F_DEPRECATED for a preferred lifetime of 0,
  IPv4 labels defaulting to the interface name.
Not modelled: DAD (no IFA_F_TENTATIVE), address ordering beyond IPv4 primaries
first, link state effects, and the finer matching of route and rule deletes
(a route is identified by family, table, destination, tos and metric; a rule by
all its fields).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv6Address, IPv6Interface

from pykad.kernel.api import (
    IFA_F_DEPRECATED,
    IFA_F_PERMANENT,
    IFA_F_SECONDARY,
    AddressEntry,
    AddressOp,
    IPInterface,
    OpResult,
    ReadySend,
    RouteOp,
    RuleOp,
)

__all__ = ["FakeKernel", "FakeLink"]

AnyOp = AddressOp | RouteOp | RuleOp


@dataclass
class FakeLink:
    """One interface of the fake host."""

    ifindex: int
    name: str
    mac: bytes
    up: bool = True
    running: bool = True
    addresses: list[AddressEntry] = field(default_factory=list)


def _subnet_key(entry_or_op: AddressEntry | AddressOp) -> tuple[int, int]:
    """(prefixlen, masked IFA_ADDRESS): what IPv4 compares for "same subnet"."""
    addr = entry_or_op.address
    base = entry_or_op.peer if entry_or_op.peer is not None else addr.ip
    plen = addr.network.prefixlen
    mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
    return plen, int(base) & mask


class FakeKernel:
    """In-memory links, addresses, routes and rules with the kernel's errnos.

    ``batches`` logs every ``apply*`` call as a tuple of its ops; ``fail`` maps an
    address key (ifindex, address) to an errno to return instead of acting, for
    error-path tests.
    """

    def __init__(self, *, promote_secondaries: bool = False) -> None:
        self.promote_secondaries = promote_secondaries
        self.links: dict[int, FakeLink] = {}
        self.routes: dict[tuple[object, ...], RouteOp] = {}
        self.rules: list[RuleOp] = []
        self.batches: list[tuple[AnyOp, ...]] = []
        self.fail: dict[tuple[int, IPInterface], int] = {}
        self._next_ifindex = 1

    # ---- links

    def add_link(
        self, name: str, *, mac: bytes | None = None, up: bool = True, ifindex: int | None = None
    ) -> int:
        """Create an interface; returns its ifindex."""
        index = ifindex if ifindex is not None else self._next_ifindex
        if index in self.links or self.ifindex(name) is not None:
            raise ValueError(f"link {name!r} / {index} exists")
        self._next_ifindex = max(self._next_ifindex, index + 1)
        mac = mac if mac is not None else bytes((0x02, 0, 0, 0, index >> 8 & 0xFF, index & 0xFF))
        self.links[index] = FakeLink(index, name, mac, up=up, running=up)
        return index

    def ifindex(self, name: str) -> int | None:
        return next((i for i, link in self.links.items() if link.name == name), None)

    def mac(self, ifindex: int) -> bytes | None:
        link = self.links.get(ifindex)
        return link.mac if link is not None else None

    def primary_ipv4(self, ifindex: int) -> IPv4Address | None:
        link = self.links.get(ifindex)
        for entry in link.addresses if link is not None else ():
            if entry.address.version == 4 and not entry.secondary:
                return IPv4Address(entry.address.ip)
        return None

    def link_local_ipv6(self, ifindex: int) -> IPv6Address | None:
        link = self.links.get(ifindex)
        for entry in link.addresses if link is not None else ():
            ip = entry.address.ip
            if isinstance(ip, IPv6Address) and ip.is_link_local:
                return ip
        return None

    def is_up(self, ifindex: int) -> bool:
        link = self.links.get(ifindex)
        return link is not None and link.up and link.running

    # ---- addresses

    def apply(self, ops: Sequence[AddressOp]) -> list[OpResult[AddressOp]]:
        self.batches.append(tuple(ops))
        return [OpResult(op, self._address(op)) for op in ops]

    def send(self, ops: Sequence[AddressOp]) -> Callable[[], list[OpResult[AddressOp]]]:
        results = self.apply(ops)
        return lambda: results

    def prepare(self, ops: Sequence[AddressOp]) -> None:
        pass

    def ready_to_send(self, ops: Sequence[AddressOp]) -> ReadySend | None:
        return None  # no socket: the fake applies what it is given in send()

    def entries(self, ifindex: int | None = None) -> list[AddressEntry]:
        return [
            e
            for i, link in sorted(self.links.items())
            if ifindex is None or i == ifindex
            for e in link.addresses
        ]

    def dump(self, ifindex: int | None = None) -> list[tuple[int, IPInterface]]:
        return [e.key for e in self.entries(ifindex)]

    def _address(self, op: AddressOp) -> int:
        failure = self.fail.get(op.key)
        if failure is not None:
            return failure
        link = self.links.get(op.ifindex)
        if link is None:
            return errno.ENODEV
        if op.address.version == 4:
            return self._add_v4(link, op) if op.add else self._del_v4(link, op)
        return self._add_v6(link, op) if op.add else self._del_v6(link, op)

    def _entry(self, link: FakeLink, op: AddressOp, flags: int) -> AddressEntry:
        flags |= op.flags | IFA_F_PERMANENT
        if op.preferred_lft == 0:
            flags |= IFA_F_DEPRECATED
        ip = op.address.ip
        scope = op.scope
        if isinstance(ip, IPv6Address):
            scope = 254 if ip.is_loopback else 253 if ip.is_link_local else 0
        v4 = op.address.version == 4
        return AddressEntry(
            ifindex=link.ifindex,
            address=op.address,
            flags=flags,
            scope=scope,
            label=(op.label or link.name) if v4 else None,
            broadcast=op.broadcast if v4 else None,
            peer=op.peer,
            preferred_lft=op.preferred_lft if op.preferred_lft is not None else 0xFFFFFFFF,
            valid_lft=0xFFFFFFFF,
        )

    def _add_v4(self, link: FakeLink, op: AddressOp) -> int:
        flags = 0
        subnet = _subnet_key(op)
        last_primary = 0
        for i, old in enumerate(link.addresses):
            if old.address.version != 4:
                continue
            if not old.secondary and op.scope <= old.scope:
                last_primary = i + 1
            if _subnet_key(old) == subnet:
                if old.address.ip == op.address.ip:
                    return errno.EEXIST
                if old.scope != op.scope:
                    return errno.EINVAL
                flags = IFA_F_SECONDARY
        entry = self._entry(link, op, flags)
        if flags:
            link.addresses.append(entry)
        else:
            link.addresses.insert(last_primary, entry)
        return 0

    def _del_v4(self, link: FakeLink, op: AddressOp) -> int:
        subnet = _subnet_key(op)
        for i, old in enumerate(link.addresses):
            if (
                old.address.version == 4
                and old.address.ip == op.address.ip
                and _subnet_key(old) == subnet
            ):
                del link.addresses[i]
                if not old.secondary:
                    self._after_primary_deleted(link, subnet, i)
                return 0
        return errno.EADDRNOTAVAIL

    def _after_primary_deleted(self, link: FakeLink, subnet: tuple[int, int], at: int) -> None:
        same = [
            e
            for e in link.addresses
            if e.address.version == 4 and e.secondary and _subnet_key(e) == subnet
        ]
        if not same:
            return
        if not self.promote_secondaries:
            link.addresses[:] = [e for e in link.addresses if e not in same]
            return
        promoted = same[0]
        link.addresses.remove(promoted)
        link.addresses.insert(at, replace(promoted, flags=promoted.flags & ~IFA_F_SECONDARY))

    def _add_v6(self, link: FakeLink, op: AddressOp) -> int:
        if any(e.address.ip == op.address.ip for e in link.addresses):
            return errno.EEXIST
        link.addresses.append(self._entry(link, op, 0))
        return 0

    def _del_v6(self, link: FakeLink, op: AddressOp) -> int:
        for i, old in enumerate(link.addresses):
            if isinstance(old.address, IPv6Interface) and old.address == op.address:
                del link.addresses[i]
                return 0
        return errno.EADDRNOTAVAIL

    # ---- routes and rules

    def apply_routes(self, ops: Sequence[RouteOp]) -> list[OpResult[RouteOp]]:
        self.batches.append(tuple(ops))
        return [OpResult(op, self._route(op)) for op in ops]

    def _route(self, op: RouteOp) -> int:
        if op.ifindex is not None and op.ifindex not in self.links:
            return errno.ENODEV
        key = (op.family, op.table, op.dst.network, op.tos, op.metric or 0)
        if op.add:
            if key in self.routes:
                return errno.EEXIST
            self.routes[key] = op
            return 0
        if self.routes.pop(key, None) is None:
            return errno.ESRCH
        return 0

    def apply_rules(self, ops: Sequence[RuleOp]) -> list[OpResult[RuleOp]]:
        self.batches.append(tuple(ops))
        return [OpResult(op, self._rule(op)) for op in ops]

    def _rule(self, op: RuleOp) -> int:
        same = replace(op, add=True)
        if op.add:
            if same in self.rules:
                return errno.EEXIST
            self.rules.append(same)
            return 0
        if same not in self.rules:
            return errno.ENOENT
        self.rules.remove(same)
        return 0
