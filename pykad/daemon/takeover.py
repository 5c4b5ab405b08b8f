"""A BACKUP's takeover made ready in advance, sent from C when its Master_Down_Timer fires.

When a BACKUP's Master_Down_Timer fires, RFC 5798 6.4.2 has it send an advert,
and keepalived then adds its VIPs and sends gratuitous ARPs / unsolicited NAs.
Python between the timer and those sends cost a backup that had been idle (its
code and data cold) 0.2-0.4 ms; here they are made while the instance waits as
BACKUP, as one ``fast.Burst``: the advert to each destination, the VIP set's
numbered netlink batch, then the GARP rounds of a new master. The service fires
it the moment the timer is due, before it asks the router, and then applies
the router's effects knowing what went out already (:class:`Fired`).

The router still decides: the burst fires only when
``VrrpRouter.takeover_priority`` says that ``handle_timer`` takes over now with
the priority it was made for, and only while everything it was made from is as
it was (:meth:`Takeover.valid`: the sockets open on the same descriptors, the
same configuration, interface and VIP interfaces). It is made only for the
plain case: no IPsec AH, no sync group, VIPs that need no nftables block first
(accept mode or the address owner), no gratuitous pacing on their interfaces,
and a kernel that hands out numbered batches (real netlink).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pykad.drivers import fast
from pykad.kernel.api import ReadySend

if TYPE_CHECKING:
    from pykad.config.sections.vrrp import VrrpInstance
    from pykad.daemon.vrrp_service import Instance, Interface
    from pykad.drivers.packet import PacketSender


class _Descriptor(Protocol):
    def fileno(self) -> int: ...


@dataclass(frozen=True, slots=True)
class _Netlink:
    """A :class:`ReadySend`'s socket as a descriptor."""

    ready: ReadySend

    def fileno(self) -> int:
        return self.ready.fileno()


@dataclass(eq=False)
class Takeover:
    """The first packets of one instance's takeover, and what they were made from."""

    priority: int
    conf: VrrpInstance
    interface: Interface
    """Frozen: a changed MAC or index is a new object."""
    vip_interfaces: tuple[int, ...]
    descriptors: tuple[tuple[_Descriptor, int], ...]
    """Every socket the burst sends on, with its descriptor when it was made."""
    burst: fast.Burst
    adverts: int
    """The burst's first items: one advert per destination."""
    vips: ReadySend | None
    """The next item, when the instance has VIPs."""
    garps: tuple[tuple[PacketSender, int], ...]
    """Then the GARP / NA frames: how many go on each sender, in order."""
    rounds: int
    """GARP rounds the burst sends (a new master's first ``due``)."""

    def valid(self, inst: Instance, priority: int) -> bool:
        """Whether firing it now sends what the instance would send itself."""
        return (
            priority == self.priority
            and inst.conf is self.conf
            and inst.interface is self.interface
            and inst.vip_interfaces == self.vip_interfaces
            and all(obj.fileno() == fd for obj, fd in self.descriptors)
        )

    def fire(self) -> Fired:
        return Fired(self, self.burst.fire())

    def close(self) -> None:
        self.burst.close()


@dataclass(eq=False)
class Fired:
    """What a fired :class:`Takeover` sent, taken apart by the service's bookkeeping."""

    takeover: Takeover
    results: list[int]
    """The errno of each send, 0 when it went out (the burst's order)."""

    @property
    def priority(self) -> int:
        return self.takeover.priority

    @property
    def rounds(self) -> int:
        return self.takeover.rounds

    def advert_results(self) -> list[int]:
        return self.results[: self.takeover.adverts]

    def vips_sent(self) -> ReadySend | None:
        """The VIPs' batch if it went to the kernel (its answers are to be read)."""
        t = self.takeover
        if t.vips is None or self.results[t.adverts]:
            return None
        return t.vips

    def garp_results(self) -> list[tuple[PacketSender, list[int]]]:
        t = self.takeover
        at = t.adverts + (t.vips is not None)
        out = []
        for sender, count in t.garps:
            out.append((sender, self.results[at : at + count]))
            at += count
        return out


def add_adverts(burst: fast.Burst, inst: Instance, priority: int) -> None:
    """``inst``'s advert with ``priority`` to each of its destinations, as it sends them."""
    sock = inst.socket
    for dst in inst.destinations:
        burst.add_ip(
            sock.fileno(), sock.family, inst.encoded(priority, dst), dst, inst.source, sock.ifindex
        )


def make(
    inst: Instance,
    priority: int,
    vips: ReadySend | None,
    garps: Sequence[tuple[PacketSender, list[bytes]]],
    rounds: int,
) -> Takeover:
    """The burst of ``inst`` taking over with ``priority``: its adverts, then ``vips``,
    then ``garps`` (the frames of ``rounds`` rounds, by sender)."""
    burst = fast.Burst()
    sock = inst.socket
    descriptors: list[tuple[_Descriptor, int]] = [(sock, sock.fileno())]
    add_adverts(burst, inst, priority)
    if vips is not None:
        burst.add(vips.fd, vips.message)
        descriptors.append((_Netlink(vips), vips.fd))
    counts = []
    for sender, frames in garps:
        for frame in frames:
            burst.add(sender.fileno(), frame)
        descriptors.append((sender, sender.fileno()))
        counts.append((sender, len(frames)))
    return Takeover(
        priority=priority,
        conf=inst.conf,
        interface=inst.interface,
        vip_interfaces=inst.vip_interfaces,
        descriptors=tuple(descriptors),
        burst=burst,
        adverts=len(inst.destinations),
        vips=vips,
        garps=tuple(counts),
        rounds=rounds,
    )
