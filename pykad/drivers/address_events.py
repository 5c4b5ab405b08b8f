"""Addresses deleted from the host by someone else, followed through rtnetlink.

keepalived's VRRP process reads every address change from its netlink reflector
(keepalived_netlink.c ``netlink_if_address_filter``): when one of a MASTER's VIPs is
deleted behind its back, the instance leaves MASTER and takes over again after the
skew time, its VIPs with it (``set_vrrp_backup``).  :class:`AddressDeletions` joins
RTMGRP_IPV4_IFADDR and RTMGRP_IPV6_IFADDR and hands each RTM_DELADDR to
``on_deleted(ifindex, address)``, except those caused by the daemon's own netlink
sockets (their ``nlmsg_pid`` is the socket's port: keepalived skips its own command
channel's the same way).  What a deletion means is the service's business.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Collection

import trio

from pykad.config.addresses import IPAddress
from pykad.kernel import rtnl
from pykad.kernel.netlink import SO_RCVBUFFORCE

__all__ = ["AddressDeletions"]

log = logging.getLogger("pykad.vrrp")

RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_DELADDR = 21
RCVBUF = 4 << 20
"""Room for the notifications of a start-up that adds thousands of VIPs at once."""


class AddressDeletions:
    """Calls ``on_deleted(ifindex, address)`` for each address others delete."""

    def __init__(
        self, on_deleted: Callable[[int, IPAddress], None], own_ports: Collection[int] = ()
    ) -> None:
        self.on_deleted = on_deleted
        self.own_ports = frozenset(own_ports)
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
        self.sock = sock

    def handle(self, buf: bytes) -> None:
        for msg in rtnl.iter_messages(buf):
            if msg.type != RTM_DELADDR or msg.pid in self.own_ports:
                continue
            try:
                entry = rtnl.parse_address(msg.payload)
            except ValueError:  # no address attribute: nothing to match
                continue
            self.on_deleted(entry.ifindex, entry.address.ip)

    async def run(self) -> None:
        try:
            while True:
                await trio.lowlevel.wait_readable(self.sock)
                while True:
                    try:
                        data = self.sock.recv(1 << 16)
                    except BlockingIOError:
                        break
                    except OSError:  # ENOBUFS: the next changes still count
                        log.warning("Netlink: receive buffer overrun on the address monitor")
                        continue
                    self.handle(data)
        finally:
            self.sock.close()
