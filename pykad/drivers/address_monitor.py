"""Which addresses the host has, followed through rtnetlink, for ``ha_suspend``.

keepalived's checker suspends the checkers of a virtual server with
``ha_suspend`` while its address is not configured on the host (check_api.c
``update_checker_activity``, fed by the netlink reflector).  :class:`AddressMonitor`
dumps the addresses once, then joins RTMGRP_IPV4_IFADDR and RTMGRP_IPV6_IFADDR
and calls ``on_change(address, present)`` whenever an address appears on or
disappears from the last interface that had it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import trio

from pykad.config.addresses import IPAddress
from pykad.kernel import rtnl
from pykad.kernel.netlink import SO_RCVBUFFORCE, NetlinkBatchWriter

log = logging.getLogger("pykad")

RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_NEWADDR = 20
RTM_DELADDR = 21
RCVBUF = 4 << 20
"""Room for the notifications of a start-up that adds thousands of VIPs at once."""


def open_ifaddr_socket() -> socket.socket:
    """A non-blocking NETLINK_ROUTE socket joined to the IPv4 and IPv6 address groups,
    with a large receive buffer (forced as root)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.bind((0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def follow(sock: socket.socket, handle: Callable[[bytes], None]) -> None:
    """Hand every buffer ``sock`` receives to ``handle``, until cancelled (then the
    socket is closed).  An overrun (ENOBUFS) is logged; the next changes still count."""
    try:
        while True:
            await trio.lowlevel.wait_readable(sock)
            while True:
                try:
                    data = sock.recv(1 << 16)
                except BlockingIOError:
                    break
                except OSError:
                    log.warning("Netlink: receive buffer overrun on an address monitor")
                    continue
                handle(data)
    finally:
        sock.close()


class AddressMonitor:
    """The host's addresses, and their changes."""

    def __init__(self, on_change: Callable[[IPAddress, bool], None]) -> None:
        self.on_change = on_change
        self.sock = open_ifaddr_socket()
        self.keys: set[tuple[int, IPAddress]] = set()
        """(interface index, address) of every address on the host."""
        with NetlinkBatchWriter() as netlink:  # after joining: no change is missed
            self.keys = {(e.ifindex, e.address.ip) for e in netlink.entries()}

    def has(self, address: IPAddress) -> bool:
        return any(a == address for _, a in self.keys)

    def handle(self, buf: bytes) -> None:
        for msg in rtnl.iter_messages(buf):
            if msg.type not in (RTM_NEWADDR, RTM_DELADDR):
                continue
            entry = rtnl.parse_address(msg.payload)
            address = entry.address.ip
            before = self.has(address)
            if msg.type == RTM_NEWADDR:
                self.keys.add((entry.ifindex, address))
            else:
                self.keys.discard((entry.ifindex, address))
            if self.has(address) != before:
                self.on_change(address, not before)

    async def run(self) -> None:
        await follow(self.sock, self.handle)
