"""Addresses deleted from the host by someone else, followed through rtnetlink.

keepalived's VRRP process reads every address change from its netlink reflector
(keepalived_netlink.c ``netlink_if_address_filter``): when one of a MASTER's VIPs is
deleted behind its back, the instance leaves MASTER and takes over again after the
skew time, its VIPs with it (``set_vrrp_backup``).  :class:`AddressDeletions` joins
RTMGRP_IPV4_IFADDR and RTMGRP_IPV6_IFADDR (the socket and read loop of
:mod:`pykad.drivers.address_monitor`) and hands each RTM_DELADDR to
``on_deleted(ifindex, address)``, except those caused by the daemon's own netlink
sockets (their ``nlmsg_pid`` is the socket's port: keepalived skips its own command
channel's the same way).  What a deletion means is the service's business.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from pykad.config.addresses import IPAddress
from pykad.drivers.address_monitor import RTM_DELADDR, follow, open_ifaddr_socket
from pykad.kernel import rtnl

__all__ = ["RTM_DELADDR", "AddressDeletions"]


class AddressDeletions:
    """Calls ``on_deleted(ifindex, address)`` for each address others delete."""

    def __init__(
        self, on_deleted: Callable[[int, IPAddress], None], own_ports: Collection[int] = ()
    ) -> None:
        self.on_deleted = on_deleted
        self.own_ports = frozenset(own_ports)
        self.sock = open_ifaddr_socket()

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
        await follow(self.sock, self.handle)
