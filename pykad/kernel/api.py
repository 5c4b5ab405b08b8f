"""The kernel interfaces VRRP's host side needs: operations, results and protocols.

This module owns the vocabulary between the VRRP driver and the kernel: what one
address (route, rule) change is (:class:`AddressOp`, :class:`RouteOp`,
:class:`RuleOp`), what the kernel answered for it (:class:`OpResult`: an errno per
operation, as rtnetlink's NLMSG_ERROR acknowledgement carries it, RFC 3549 2.3.2.2,
netlink(7)), what an address dump returns (:class:`AddressEntry`), and the small
``typing.Protocol`` interfaces (:class:`Addresses`, :class:`Routes`, :class:`Rules`,
:class:`Links`) that both the netlink implementation (``pykad.kernel.netlink``,
``pykad.kernel.links``) and the in-memory ``pykad.kernel.fake.FakeKernel`` provide.

Field names follow rtnetlink(7) and ``linux/if_addr.h``; what is sent for an
address follows keepalived 2.2.7's ``netlink_ipaddress()`` (vrrp_ipaddress.c):
IPv6 addresses get IFA_F_NODAD unless the config says ``-nodad``, and an IPv6
``preferred_lft`` other than "forever" goes out as IFA_CACHEINFO with an infinite
valid lifetime (so a /128 VIP is deprecated, RFC 3484, and not used as a source).

Pure: no I/O here.
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from pykad.config.iproute import IpAddress, Route, Rule

__all__ = [
    "ALREADY_ABSENT",
    "ALREADY_PRESENT",
    "IFA_F_DADFAILED",
    "IFA_F_DEPRECATED",
    "IFA_F_HOMEADDRESS",
    "IFA_F_MANAGETEMPADDR",
    "IFA_F_MCAUTOJOIN",
    "IFA_F_NODAD",
    "IFA_F_NOPREFIXROUTE",
    "IFA_F_OPTIMISTIC",
    "IFA_F_PERMANENT",
    "IFA_F_SECONDARY",
    "IFA_F_TENTATIVE",
    "INFINITY_LIFE_TIME",
    "AddressEntry",
    "AddressOp",
    "Addresses",
    "IPAddress",
    "IPInterface",
    "Links",
    "OpResult",
    "RouteOp",
    "Routes",
    "RuleOp",
    "Rules",
]

IPAddress = IPv4Address | IPv6Address
IPInterface = IPv4Interface | IPv6Interface

INFINITY_LIFE_TIME = 0xFFFFFFFF

# ifa_flags (linux/if_addr.h); those above 0xff only fit in IFA_FLAGS.
IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_OPTIMISTIC = 0x04
IFA_F_DADFAILED = 0x08
IFA_F_HOMEADDRESS = 0x10
IFA_F_DEPRECATED = 0x20
IFA_F_TENTATIVE = 0x40
IFA_F_PERMANENT = 0x80
IFA_F_MANAGETEMPADDR = 0x100
IFA_F_NOPREFIXROUTE = 0x200
IFA_F_MCAUTOJOIN = 0x400

ALREADY_PRESENT = frozenset({_errno.EEXIST})
"""Errnos that mean "an add found it there already"."""
ALREADY_ABSENT = frozenset({_errno.EADDRNOTAVAIL, _errno.ESRCH, _errno.ENOENT})
"""Errnos that mean "a delete found it gone already"."""


# --------------------------------------------------------------------------- addresses


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressOp:
    """Add or delete one address (RTM_NEWADDR / RTM_DELADDR, rtnetlink(7))."""

    add: bool
    ifindex: int
    address: IPInterface
    """The local address with its prefix length (with a peer: the peer's prefix)."""
    scope: int = 0
    """ifa_scope (RT_SCOPE_UNIVERSE 0, LINK 253, HOST 254)."""
    broadcast: IPv4Address | None = None
    label: str | None = None
    """IPv4 only (``eth0:vip``); at most 15 bytes."""
    peer: IPAddress | None = None
    """Point-to-point peer (sent as IFA_ADDRESS)."""
    nodad: bool = True
    """IPv6: set IFA_F_NODAD (keepalived's default; the config's ``-nodad`` clears it)."""
    home: bool = False
    noprefixroute: bool = False
    mngtmpaddr: bool = False
    autojoin: bool = False
    preferred_lft: int | None = None
    """Seconds; None: forever (no IFA_CACHEINFO sent)."""

    @property
    def family(self) -> int:
        """4 or 6."""
        return self.address.version

    @property
    def flags(self) -> int:
        """The IFA_FLAGS value an add carries (0 for a delete)."""
        if not self.add:
            return 0
        flags = 0
        if self.nodad and self.address.version == 6:
            flags |= IFA_F_NODAD
        if self.home:
            flags |= IFA_F_HOMEADDRESS
        if self.mngtmpaddr:
            flags |= IFA_F_MANAGETEMPADDR
        if self.noprefixroute:
            flags |= IFA_F_NOPREFIXROUTE
        if self.autojoin:
            flags |= IFA_F_MCAUTOJOIN
        return flags

    @property
    def key(self) -> tuple[int, IPInterface]:
        """(ifindex, address): what a dump lists for it."""
        return self.ifindex, self.address

    @classmethod
    def from_config(cls, ip: IpAddress, ifindex: int, add: bool) -> AddressOp:
        """The operation for one configured address line on interface ``ifindex``.

        ``ip.nodad`` is the config's ``-nodad`` (keep DAD), so it clears
        IFA_F_NODAD; a preferred lifetime of "forever" sends no IFA_CACHEINFO.
        """
        lft = ip.preferred_lft
        return cls(
            add=add,
            ifindex=ifindex,
            address=ip.address,
            scope=ip.scope,
            broadcast=ip.broadcast,
            label=ip.label,
            peer=ip.peer,
            nodad=not ip.nodad,
            home=ip.home,
            noprefixroute=ip.noprefixroute,
            mngtmpaddr=ip.mngtmpaddr,
            autojoin=ip.autojoin,
            preferred_lft=None if lft is None or lft == INFINITY_LIFE_TIME else lft,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressEntry:
    """One address as a dump (RTM_NEWADDR, NLM_F_DUMP) reports it."""

    ifindex: int
    address: IPInterface
    flags: int = 0
    """IFA_FLAGS (or ifa_flags): IFA_F_SECONDARY, IFA_F_NODAD, IFA_F_PERMANENT, ..."""
    scope: int = 0
    label: str | None = None
    broadcast: IPv4Address | None = None
    peer: IPAddress | None = None
    preferred_lft: int | None = None
    valid_lft: int | None = None

    @property
    def key(self) -> tuple[int, IPInterface]:
        return self.ifindex, self.address

    @property
    def secondary(self) -> bool:
        return bool(self.flags & IFA_F_SECONDARY)


# --------------------------------------------------------------------------- routes, rules


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteOp:
    """Add or delete one route (RTM_NEWROUTE / RTM_DELROUTE): the common subset.

    Single-path routes with the attributes VRRP's ``virtual_routes`` use most;
    multipath, encap and metrics other than ``mtu`` are not carried yet.
    """

    add: bool
    dst: IPInterface
    ifindex: int | None = None
    via: IPAddress | None = None
    src: IPAddress | None = None
    table: int = 254
    protocol: int = 3
    """RTPROT_BOOT (3) as ``ip route`` uses; keepalived tracks with RTPROT_KEEPALIVED (18)."""
    scope: int | None = None
    """None: link scope (253) for a route without a gateway, else universe (0)."""
    type: int = 1
    """RTN_UNICAST (1); RTN_BLACKHOLE 6, RTN_UNREACHABLE 7, RTN_PROHIBIT 8."""
    metric: int | None = None
    tos: int = 0
    onlink: bool = False
    mtu: int | None = None

    @property
    def family(self) -> int:
        return self.dst.version

    @classmethod
    def from_config(cls, route: Route, ifindex: int | None, add: bool) -> RouteOp:
        """The operation for one configured route (its ``dev`` resolved to ``ifindex``)."""
        return cls(
            add=add,
            dst=route.dst,
            ifindex=ifindex,
            via=route.via,
            src=route.src,
            table=route.table,
            protocol=route.protocol if route.protocol is not None else 3,
            scope=route.scope,
            type=route.type,
            metric=route.metric,
            tos=route.tos or 0,
            onlink=route.onlink,
            mtu=route.mtu,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleOp:
    """Add or delete one policy rule (RTM_NEWRULE / RTM_DELRULE): the common subset."""

    add: bool
    family: int
    """4 or 6."""
    priority: int | None = None
    src: IPInterface | None = None
    dst: IPInterface | None = None
    table: int = 254
    action: int = 1
    """FR_ACT_TO_TBL (1); FR_ACT_GOTO 2, FR_ACT_BLACKHOLE 6, FR_ACT_UNREACHABLE 7, ..."""
    fwmark: int | None = None
    fwmask: int | None = None
    iifname: str | None = None
    oifname: str | None = None
    tos: int = 0
    invert: bool = False
    goto: int | None = None
    protocol: int | None = None

    @classmethod
    def from_config(cls, rule: Rule, add: bool) -> RuleOp:
        """The operation for one configured rule (the fields this subset carries)."""
        return cls(
            add=add,
            family=rule.family,
            priority=rule.priority,
            src=rule.from_prefix,
            dst=rule.to_prefix,
            table=rule.table if rule.table is not None else 254,
            action=int(rule.action),
            fwmark=rule.fwmark,
            fwmask=rule.fwmask,
            iifname=rule.iif,
            oifname=rule.oif,
            tos=rule.tos,
            invert=rule.invert,
            goto=rule.goto,
            protocol=rule.protocol,
        )


# --------------------------------------------------------------------------- results

OpT = TypeVar("OpT", AddressOp, RouteOp, RuleOp)


@dataclass(frozen=True, slots=True)
class OpResult(Generic[OpT]):
    """What the kernel answered for one operation of a batch."""

    op: OpT
    errno: int
    """0: done; else the errno of the NLMSG_ERROR reply (positive)."""
    message: str = ""
    """The kernel's extended-ack text (NLMSGERR_ATTR_MSG), if it sent one."""

    @property
    def ok(self) -> bool:
        return self.errno == 0

    @property
    def already(self) -> bool:
        """An add that found it present, or a delete that found it absent: not fatal."""
        return self.errno in (ALREADY_PRESENT if self.op.add else ALREADY_ABSENT)

    @property
    def failed(self) -> bool:
        """Neither done nor "already so"."""
        return not self.ok and not self.already

    def __str__(self) -> str:
        if self.ok:
            return "ok"
        name = _errno.errorcode.get(self.errno, str(self.errno))
        return f"{name}: {self.message}" if self.message else name


@dataclass(frozen=True, slots=True)
class ReadySend:
    """A batch of address changes made ready for someone else to send (a takeover burst).

    ``message`` goes to the kernel as it is on the socket ``fd``; once it was sent,
    ``answers`` reads the kernel's answer to each op (as :meth:`Addresses.send`'s
    result does).
    """

    fd: int
    message: bytes
    answers: Callable[[], list[OpResult[AddressOp]]]
    fileno: Callable[[], int]
    """The socket's descriptor now (-1 once it is closed): ``fd`` is good while they agree."""


# --------------------------------------------------------------------------- protocols


class Addresses(Protocol):
    """Interface addresses: one batch of changes at a time, and a dump."""

    def apply(self, ops: Sequence[AddressOp]) -> list[OpResult[AddressOp]]:
        """Carry out ``ops`` in order as one batch; one result per op, in the same order."""
        ...

    def send(self, ops: Sequence[AddressOp]) -> Callable[[], list[OpResult[AddressOp]]]:
        """Carry out ``ops`` now, and read the results later (call what this returns).

        The changes are made when this returns (rtnetlink applies a request inside the
        ``send``); only the kernel's answers wait, so that a takeover can send its
        gratuitous ARPs first.
        """
        ...

    def prepare(self, ops: Sequence[AddressOp]) -> None:
        """Make ready what :meth:`send` of ``ops`` will need (a takeover's VIP set)."""
        ...

    def ready_to_send(self, ops: Sequence[AddressOp]) -> ReadySend | None:
        """``ops`` numbered for sending by someone else; None if that cannot be (no
        socket, or a batch larger than one send)."""
        ...

    def dump(self, ifindex: int | None = None) -> list[tuple[int, IPInterface]]:
        """(ifindex, address) of every address (on ``ifindex`` only, if given)."""
        ...


class Routes(Protocol):
    def apply_routes(self, ops: Sequence[RouteOp]) -> list[OpResult[RouteOp]]:
        """Carry out ``ops`` in order as one batch; one result per op."""
        ...


class Rules(Protocol):
    def apply_rules(self, ops: Sequence[RuleOp]) -> list[OpResult[RuleOp]]:
        """Carry out ``ops`` in order as one batch; one result per op."""
        ...


class Links(Protocol):
    """The facts about interfaces the VRRP driver needs."""

    def ifindex(self, name: str) -> int | None: ...

    def mac(self, ifindex: int) -> bytes | None: ...

    def primary_ipv4(self, ifindex: int) -> IPv4Address | None:
        """The first IPv4 address that is not IFA_F_SECONDARY."""
        ...

    def link_local_ipv6(self, ifindex: int) -> IPv6Address | None: ...

    def is_up(self, ifindex: int) -> bool:
        """IFF_UP and IFF_RUNNING."""
        ...
