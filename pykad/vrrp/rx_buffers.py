"""How big each VRRP socket's receive buffer is: keepalived's rules and pykad's floor.

keepalived 2.2.7 (``vrrp_create_sockpool``) adds up, for each instance that reads
on a socket, its ``kernel_rx_buf_size`` if it has one, else what
``vrrp_rx_bufs_policy`` says: the size given, ``vrrp_rx_bufs_multiplier`` times
the advert's length (ADVERT) or times the interface's MTU (MTU). A non-zero total
is set with SO_RCVBUF; zero leaves the kernel's default. pykad does the same, and
when nothing is configured it gives a socket at least :data:`FLOOR_PER_INSTANCE`
bytes per instance (the kernel's default, 208 KiB, holds about 270 adverts: a
master's round of adverts for 250 instances on one link, sent together, would
fill it while the loop is busy, and a dropped advert counts towards a
Master_Down_Timer).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pykad.config.sections._global_model import RxBufsPolicy

FLOOR_PER_INSTANCE = 4096
"""Bytes of receive buffer per instance when none is configured (room for a few
adverts each: the kernel counts each one's buffer, about 1 KiB, not its length)."""


@dataclass(frozen=True, slots=True)
class Reader:
    """What one instance reading on a socket asks of its buffer."""

    kernel_rx_buf_size: int
    """The instance's ``kernel_rx_buf_size`` (0: none)."""
    advert_len: int
    """Its advert's length on the wire, IP header included."""
    mtu: int
    """Its interface's MTU."""


def configured_size(
    policy: RxBufsPolicy | None, size: int, multiplier: int, readers: Iterable[Reader]
) -> int:
    """keepalived's total for a socket (0: nothing configured)."""
    total = 0
    for r in readers:
        if r.kernel_rx_buf_size:
            total += r.kernel_rx_buf_size
        elif policy is RxBufsPolicy.SIZE:
            total += size
        elif policy is RxBufsPolicy.ADVERT:
            total += multiplier * r.advert_len
        elif policy is RxBufsPolicy.MTU:
            total += multiplier * r.mtu
    return total


def floor_size(readers: int) -> int:
    """pykad's floor for a socket that ``readers`` instances read, with nothing configured."""
    return FLOOR_PER_INSTANCE * readers
