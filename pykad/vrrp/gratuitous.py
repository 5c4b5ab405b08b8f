"""Gratuitous ARP and unsolicited Neighbour Advertisements: the frames and when to send them.

Owned here, sans-IO (no clock, no sockets; times are integer microseconds passed in
by the driver):

- The Ethernet frames a new master sends so that neighbours update their caches
  (RFC 5798 section 6.4.1 and 8.1.2; RFC 3768 section 6.4.1 for VRRPv2):
  :func:`garp_frame` (a gratuitous ARP, RFC 5227 section 3 "ARP Announcement") and
  :func:`unsolicited_na_frame` (an unsolicited Neighbour Advertisement to all-nodes,
  RFC 4861 section 7.2.6).  Both are byte-identical to keepalived 2.2.7's
  (``vrrp_arp.c``, ``vrrp_ndisc.c``), checked against frames captured from the real
  daemon.  keepalived's GARP is an ARP *request* (opcode 1) for the VIP from the VIP,
  target hardware address ff:ff:ff:ff:ff:ff, to the Ethernet broadcast address, 42
  bytes with no padding (the NIC pads; veth does not).  Its NA goes from the VIP
  itself (not a link-local address) to ff02::1 (33:33:00:00:00:01), hop limit 255,
  traffic class and flow label 0, Override set, Solicited clear, Router set when
  IPv6 forwarding is on for the interface, one Target Link-Layer Address option;
  86 bytes.
- :class:`GratuitousSchedule`: one VRRP instance's GARP/NA timing, keepalived's
  per-instance options (``garp_master_delay``, ``garp_master_repeat``,
  ``garp_master_refresh``, ``garp_master_refresh_repeat``, ``garp_lower_prio_delay``,
  ``garp_lower_prio_repeat``), in "rounds": one round is one GARP/NA for every VIP
  and eVIP of the instance, in configuration order (keepalived's
  ``vrrp_send_link_update``: ``for j in range(repeat): for vip in vips: send``);
  and ``garp_extra_if`` (:meth:`GratuitousSchedule.extra_due`): every so many
  seconds as master, the driver announces its VIPs on other interfaces
  (keepalived's ``vrrp_send_vmac_update``).
- :class:`GratuitousPacer`: keepalived's spacing of successive GARPs (or NAs) on one
  interface (``vrrp_garp_interval`` / ``vrrp_gna_interval`` in global_defs, or a
  ``garp_group``), with :func:`pacing_interval_us` to pick the interval.

How a driver uses them (one schedule per instance, one pacer per interface and family)::

    sched.became_master(now)            # after sending the first advert, as keepalived does
    rounds = sched.due(now)             # -> 5 by default: send 5 rounds now
    ...                                 # wake at sched.next_deadline(), call due() again
    sched.lower_priority_advert(now)    # a master received a lower-priority advert
    sched.left_master()                 # cancels everything still pending

keepalived behaviour reproduced (keepalived 2.2.7 ``vrrp.c``: ``vrrp_state_master_tx``,
``vrrp_state_become_master``, ``vrrp_state_master_rx``; ``vrrp_scheduler.c``:
``vrrp_gratuitous_arp_thread``, ``vrrp_lower_prio_gratuitous_arp_thread``,
``vrrp_arp_thread``; ``vrrp_arp.c``/``vrrp_ndisc.c``: the ``garp_delay`` pacing):

- Becoming MASTER: ``garp_master_repeat`` rounds at once, and ``garp_master_repeat``
  rounds again ``garp_master_delay`` later (a delay of 0: no second burst).
- ``garp_master_refresh`` (0: off): ``garp_master_refresh_repeat`` rounds every refresh
  period while master, the period restarting when a refresh is sent.  keepalived checks
  the refresh timer only when it sends an advert (the first advert *after* the period
  has passed); construct the schedule with ``refresh_with_adverts=True`` and call
  :meth:`GratuitousSchedule.advert_sent` to get exactly that, or leave it False for a
  refresh at its own deadline (never later than keepalived's, by less than an advert
  interval).
- A master receiving a lower-priority advert: ``garp_lower_prio_repeat`` rounds at once
  and again ``garp_lower_prio_delay`` later (delay 0: only the immediate burst; repeat
  0: nothing).  Every such advert adds its own delayed burst, as in keepalived.  For a
  sync group keepalived also does this for the other members with
  ``garp_lower_prio_repeat`` set: the router calls each member's schedule.
- Leaving MASTER cancels everything pending.  (keepalived's delayed-burst timer is not
  cancelled, but it sends nothing once the VIPs are gone; it would send an extra burst
  only if the instance became master again before it fired.  pykad does not.)
- Pacing (:class:`GratuitousPacer`): when an interval is set, a GARP may go out only if
  ``interval`` has passed since the previous one on that interface; otherwise the
  address is queued.  As in keepalived, a queued address is a flag, not a count:
  repeats of an address that is still waiting collapse into one frame.
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from pykad.config.sections._global_model import Garp
    from pykad.config.sections._vrrp_model import GarpGroup, VrrpInstance

__all__ = [
    "ALL_NODES",
    "ARP_FRAME_LEN",
    "BROADCAST_MAC",
    "ETH_P_ARP",
    "ETH_P_IPV6",
    "NA_FRAME_LEN",
    "GratuitousPacer",
    "GratuitousSchedule",
    "GratuitousTiming",
    "garp_frame",
    "icmpv6_checksum",
    "pacing_interval_us",
    "unsolicited_na_frame",
]

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
IPPROTO_ICMPV6 = 58
ND_NEIGHBOR_ADVERT = 136
ND_OPT_TARGET_LL_ADDR = 2
ND_HOP_LIMIT = 255
NA_FLAG_ROUTER = 0x80
NA_FLAG_SOLICITED = 0x40
NA_FLAG_OVERRIDE = 0x20

BROADCAST_MAC = b"\xff" * 6
ALL_NODES = IPv6Address("ff02::1")
ALL_NODES_MAC = b"\x33\x33\x00\x00\x00\x01"
"""RFC 2464 section 7: 33:33 followed by the last 32 bits of ff02::1."""

ARP_FRAME_LEN = 14 + 28
NA_FRAME_LEN = 14 + 40 + 24 + 8

_ARP = struct.Struct("!6s6sHHHBBH6s4s6s4s")
A = TypeVar("A")


def _mac(src_mac: bytes) -> bytes:
    if len(src_mac) != 6:
        raise ValueError(f"a MAC address is 6 bytes, not {len(src_mac)}")
    return bytes(src_mac)


def _packed(address: IPv4Address | IPv6Address | bytes, length: int) -> bytes:
    raw = address if isinstance(address, bytes) else address.packed
    if len(raw) != length:
        raise ValueError(f"expected a {length}-byte address, got {len(raw)} bytes")
    return raw


def garp_frame(src_mac: bytes, address: IPv4Address | bytes) -> bytes:
    """keepalived's gratuitous ARP for ``address``: 42 bytes, Ethernet header included.

    An ARP request (RFC 5227 section 3 calls it an ARP Announcement) with sender and
    target protocol address both ``address``, sender hardware address ``src_mac``,
    target hardware address ff:ff:ff:ff:ff:ff (keepalived's choice; RFC 5227 suggests
    zeros and receivers ignore it), from ``src_mac`` to the broadcast address.  With a
    VMAC the caller passes the VMAC's address, as keepalived does (it uses the MAC of
    the interface the VIP is on).
    """
    mac = _mac(src_mac)
    ip = _packed(address, 4)
    return _ARP.pack(
        BROADCAST_MAC, mac, ETH_P_ARP,
        ARPHRD_ETHER, ETH_P_IP, 6, 4, ARPOP_REQUEST,
        mac, ip, BROADCAST_MAC, ip,
    )  # fmt: skip


def icmpv6_checksum(src: bytes, dst: bytes, message: bytes) -> int:
    """The ICMPv6 checksum of ``message`` (its checksum field zero), RFC 4443 section 2.3.

    Covers the IPv6 pseudo-header of RFC 8200 section 8.1: source, destination,
    upper-layer length (32 bits) and next header 58.
    """
    data = src + dst + struct.pack("!I3xB", len(message), IPPROTO_ICMPV6) + message
    if len(data) & 1:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def unsolicited_na_frame(
    src_mac: bytes,
    address: IPv6Address | bytes,
    source_ll: IPv6Address | bytes | None = None,
    router: bool = False,
) -> bytes:
    """keepalived's unsolicited Neighbour Advertisement for ``address``: 86 bytes.

    RFC 4861 section 7.2.6: to all-nodes ff02::1 (Ethernet 33:33:00:00:00:01), hop
    limit 255, Solicited clear, Override set, Router as given (keepalived sets it when
    ``net.ipv6.conf.IF.forwarding`` is on), a Target Link-Layer Address option with
    ``src_mac``.  The IPv6 source is ``source_ll`` when given; by default it is
    ``address`` itself, which is what keepalived 2.2.7 sends.
    """
    mac = _mac(src_mac)
    target = _packed(address, 16)
    src = target if source_ll is None else _packed(source_ll, 16)
    dst = ALL_NODES.packed
    flags = NA_FLAG_OVERRIDE | (NA_FLAG_ROUTER if router else 0)
    icmp = struct.pack(
        "!BBHI16sBB6s", ND_NEIGHBOR_ADVERT, 0, 0, flags << 24, target, ND_OPT_TARGET_LL_ADDR, 1, mac
    )
    cksum = icmpv6_checksum(src, dst, icmp)
    icmp = icmp[:2] + cksum.to_bytes(2, "big") + icmp[4:]
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(icmp), IPPROTO_ICMPV6, ND_HOP_LIMIT, src, dst)
    return ALL_NODES_MAC + mac + ETH_P_IPV6.to_bytes(2, "big") + ip6 + icmp


# --------------------------------------------------------------------------- timing


@dataclass(frozen=True, slots=True, kw_only=True)
class GratuitousTiming:
    """One instance's GARP/NA options, in microseconds and counts (keepalived's defaults)."""

    master_delay_us: int = 5_000_000
    master_repeat: int = 5
    master_refresh_us: int = 0
    master_refresh_repeat: int = 1
    lower_prio_delay_us: int = 5_000_000
    lower_prio_repeat: int = 5
    extra_if_us: int = 0
    """``garp_extra_if``: 0, or how often a master announces its VIPs on other interfaces."""

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must not be negative")

    @classmethod
    def from_instance(cls, instance: VrrpInstance) -> GratuitousTiming:
        """The options of a parsed ``vrrp_instance`` (global defaults already applied)."""
        return cls(
            master_delay_us=instance.garp_master_delay_us,
            master_repeat=instance.garp_master_repeat,
            master_refresh_us=instance.garp_master_refresh_us,
            master_refresh_repeat=instance.garp_master_refresh_repeat,
            lower_prio_delay_us=instance.garp_lower_prio_delay_us,
            lower_prio_repeat=instance.garp_lower_prio_repeat,
            extra_if_us=instance.garp_extra_if_s * 1_000_000,
        )


@dataclass(frozen=True, slots=True)
class ScheduleStatistics:
    """A snapshot of :meth:`GratuitousSchedule.statistics`."""

    master: bool
    pending_bursts: int
    rounds_due_total: int
    refresh_at: int | None


class GratuitousSchedule:
    """When one VRRP instance sends its gratuitous ARPs / NAs (see the module docstring).

    Events (:meth:`became_master`, :meth:`lower_priority_advert`, :meth:`left_master`)
    only record what is to be sent; :meth:`due` tells how many rounds to send now
    (call it right after an event, and again at :meth:`next_deadline`).  A round is one
    GARP or NA for each VIP and eVIP of the instance.  With ``refresh_with_adverts``
    the refresh follows keepalived exactly: it is checked only in :meth:`advert_sent`
    and never appears in :meth:`next_deadline`.
    """

    __slots__ = (
        "_bursts",
        "_extra_at",
        "_master",
        "_refresh_at",
        "_total",
        "refresh_with_adverts",
        "timing",
    )

    def __init__(self, timing: GratuitousTiming, *, refresh_with_adverts: bool = False) -> None:
        self.timing = timing
        self.refresh_with_adverts = refresh_with_adverts
        self._master = False
        self._bursts: list[tuple[int, int]] = []  # heap of (deadline_us, rounds)
        self._refresh_at: int | None = None
        self._extra_at: int | None = None
        self._total = 0

    @property
    def master(self) -> bool:
        return self._master

    def _add(self, at: int, rounds: int) -> None:
        if rounds > 0:
            heapq.heappush(self._bursts, (at, rounds))

    def became_master(self, now: int) -> None:
        """The instance entered MASTER (its VIPs are set and its first advert is sent)."""
        t = self.timing
        self._master = True
        self._bursts.clear()
        self._add(now, t.master_repeat)
        if t.master_delay_us:
            self._add(now + t.master_delay_us, t.master_repeat)
        self._refresh_at = now + t.master_refresh_us if t.master_refresh_us else None
        self._extra_at = now + t.extra_if_us if t.extra_if_us else None

    def first_rounds(self) -> int:
        """What :meth:`due` gives right after :meth:`became_master` (at the same time)."""
        return self.timing.master_repeat

    def lower_priority_advert(self, now: int) -> None:
        """As master, an advert with a lower priority (or equal, lower address) came in."""
        if not self._master:
            return
        t = self.timing
        if t.lower_prio_repeat:
            self._add(now, t.lower_prio_repeat)
            if t.lower_prio_delay_us:
                self._add(now + t.lower_prio_delay_us, t.lower_prio_repeat)

    def left_master(self) -> None:
        """The instance left MASTER (BACKUP, FAULT, stop): nothing more is sent."""
        self._master = False
        self._bursts.clear()
        self._refresh_at = self._extra_at = None

    def _refresh_due(self, now: int) -> int:
        if self._refresh_at is None or now < self._refresh_at:
            return 0
        self._refresh_at = now + self.timing.master_refresh_us
        return self.timing.master_refresh_repeat

    def advert_sent(self, now: int) -> int:
        """With ``refresh_with_adverts``: a MASTER advert went out; the refresh rounds due.

        keepalived sends the refresh with the first advert strictly after the refresh
        deadline.  Without ``refresh_with_adverts`` this returns 0.
        """
        if not (self.refresh_with_adverts and self._master):
            return 0
        if self._refresh_at is None or now <= self._refresh_at:
            return 0
        rounds = self._refresh_due(now)
        self._total += rounds
        return rounds

    def due(self, now: int) -> int:
        """How many rounds to send at ``now`` (0 if none); consumes them."""
        rounds = 0
        while self._bursts and self._bursts[0][0] <= now:
            rounds += heapq.heappop(self._bursts)[1]
        if self._master and not self.refresh_with_adverts:
            rounds += self._refresh_due(now)
        self._total += rounds
        return rounds

    def extra_due(self, now: int) -> bool:
        """Whether the ``garp_extra_if`` announcement is due at ``now`` (consumes it:
        the next one is an interval later).  keepalived checks it as it sends an
        advert, so its period rounds up to the next advert; here it is the interval."""
        if self._extra_at is None or now < self._extra_at:
            return False
        self._extra_at = now + self.timing.extra_if_us
        return True

    def next_deadline(self) -> int | None:
        """When :meth:`due` or :meth:`extra_due` next has something (microseconds), or None."""
        deadlines = [self._bursts[0][0]] if self._bursts else []
        if self._refresh_at is not None and not self.refresh_with_adverts:
            deadlines.append(self._refresh_at)
        if self._extra_at is not None:
            deadlines.append(self._extra_at)
        return min(deadlines, default=None)

    def statistics(self) -> ScheduleStatistics:
        return ScheduleStatistics(
            master=self._master,
            pending_bursts=len(self._bursts),
            rounds_due_total=self._total,
            refresh_at=self._refresh_at,
        )


# --------------------------------------------------------------------------- pacing


def pacing_interval_us(
    ifname: str, ipv6: bool, garp: Garp, garp_groups: Sequence[GarpGroup] = ()
) -> int:
    """The spacing of GARPs (``ipv6`` False) or NAs on ``ifname``; 0 means none.

    An interface named by a ``garp_group`` (``interface`` or ``interfaces``) takes that
    group's interval (unset there: none); any other interface takes global_defs'
    ``vrrp_garp_interval`` / ``vrrp_gna_interval``.
    """
    for group in garp_groups:
        if ifname in group.interfaces or ifname in (group.aggregated_interfaces or ()):
            value = group.gna_interval_us if ipv6 else group.garp_interval_us
            return value or 0
    return garp.gna_interval_us if ipv6 else garp.interval_us


class GratuitousPacer(Generic[A]):
    """keepalived's ``garp_delay``: spacing of GARPs (or NAs) on one interface.

    :meth:`offer` asks to send one frame for ``address`` now: True means send it, False
    means it was queued.  Queued addresses come back from :meth:`due` at
    :meth:`next_deadline`, one per interval, in the order the addresses were first
    offered (for one instance: its VIP order, as keepalived walks its VIP list).  An
    address already queued is not queued twice (keepalived keeps a flag per address).
    With ``interval_us`` 0 every offer is sent at once.
    """

    __slots__ = (
        "_next_send",
        "_pending",
        "_rank",
        "_wake",
        "interval_us",
        "queued_total",
        "sent_total",
    )

    def __init__(self, interval_us: int) -> None:
        if interval_us < 0:
            raise ValueError("interval must not be negative")
        self.interval_us = interval_us
        self._next_send: int | None = None
        self._pending: dict[A, None] = {}
        self._rank: dict[A, int] = {}
        self._wake: int | None = None
        self.sent_total = 0
        self.queued_total = 0

    def _sent(self, now: int) -> None:
        self.sent_total += 1
        if self.interval_us:
            self._next_send = now + self.interval_us

    def offer(self, now: int, address: A) -> bool:
        self._rank.setdefault(address, len(self._rank))
        if self.interval_us and self._next_send is not None and now < self._next_send:
            self.queued_total += 1
            self._pending[address] = None
            # keepalived (queue_garp) wakes interval after queueing, unless it wakes sooner
            wake = now + self.interval_us
            self._wake = wake if self._wake is None else min(self._wake, wake)
            return False
        self._sent(now)
        return True

    def offer_round(self, now: int, addresses: Iterable[A]) -> list[A]:
        """:meth:`offer` each address; return those to send now, in order."""
        return [a for a in addresses if self.offer(now, a)]

    def due(self, now: int) -> list[A]:
        """Queued addresses to send at ``now`` (keepalived's ``vrrp_arp_thread``)."""
        if self._wake is None or now < self._wake:
            return []
        out: list[A] = []
        for address in sorted(self._pending, key=self._rank.__getitem__):
            if self._next_send is None or now >= self._next_send:
                del self._pending[address]
                out.append(address)
                self._sent(now)
        self._wake = self._next_send if self._pending else None
        return out

    def cancel(self, addresses: Iterable[A] | None = None) -> None:
        """Forget queued addresses (all when None): their instance left MASTER."""
        if addresses is None:
            self._pending.clear()
        else:
            for address in addresses:
                self._pending.pop(address, None)
        if not self._pending:
            self._wake = None

    def next_deadline(self) -> int | None:
        return self._wake

    @property
    def pending(self) -> tuple[A, ...]:
        return tuple(self._pending)
