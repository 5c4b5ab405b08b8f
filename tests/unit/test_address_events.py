"""pykad.drivers.address_events: which address notifications reach the service."""

from __future__ import annotations

import socket
import struct
from ipaddress import IPv4Address, IPv6Address

from pykad.drivers.address_events import RTM_DELADDR, AddressDeletions

RTM_NEWADDR = 20
IFA_ADDRESS, IFA_LOCAL = 1, 2


def message(kind: int, pid: int, ifindex: int, family: int, address: bytes) -> bytes:
    """One netlink message: ``struct ifaddrmsg`` and IFA_LOCAL."""
    attr = struct.pack("=HH", 4 + len(address), IFA_LOCAL) + address
    body = struct.pack("=BBBBI", family, 24, 0, 0, ifindex) + attr
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, pid) + body


def test_deletions_by_others_are_handed_on_and_our_own_are_not() -> None:
    seen: list[tuple[int, object]] = []
    monitor = AddressDeletions(lambda i, a: seen.append((i, a)), own_ports=(4242,))
    try:
        monitor.handle(
            message(RTM_DELADDR, 0, 2, socket.AF_INET, bytes((192, 0, 2, 10)))
            + message(RTM_DELADDR, 4242, 2, socket.AF_INET, bytes((192, 0, 2, 11)))  # ours
            + message(RTM_NEWADDR, 0, 2, socket.AF_INET, bytes((192, 0, 2, 12)))  # an add
            + message(RTM_DELADDR, 7, 3, socket.AF_INET6, IPv6Address("2001:db8::10").packed)
        )
    finally:
        monitor.sock.close()
    assert seen == [(2, IPv4Address("192.0.2.10")), (3, IPv6Address("2001:db8::10"))]


def test_with_a_report_every_change_by_others_is_reported_too() -> None:
    """``-a``: additions and deletions alike, in order, and still not our own."""
    deleted: list[tuple[int, object]] = []
    reported: list[tuple[int, object, bool]] = []
    monitor = AddressDeletions(
        lambda i, a: deleted.append((i, a)),
        own_ports=(4242,),
        report=lambda i, a, added: reported.append((i, a, added)),
    )
    try:
        monitor.handle(
            message(RTM_NEWADDR, 0, 2, socket.AF_INET, bytes((198, 51, 100, 7)))
            + message(RTM_NEWADDR, 4242, 2, socket.AF_INET, bytes((192, 0, 2, 10)))  # ours
            + message(RTM_DELADDR, 0, 2, socket.AF_INET, bytes((198, 51, 100, 7)))
        )
    finally:
        monitor.sock.close()
    address = IPv4Address("198.51.100.7")
    assert reported == [(2, address, True), (2, address, False)]
    assert deleted == [(2, address)]
