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

With ``report`` (keepalived's ``-a``), every address change others make is also
handed to ``report(ifindex, address, added)``, and so is every address the host
has when :meth:`AddressDeletions.run` starts (as added: keepalived logs its first
dump the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from pykad.config.addresses import IPAddress
from pykad.drivers.address_monitor import RTM_DELADDR, RTM_NEWADDR, follow, open_ifaddr_socket
from pykad.kernel import rtnl
from pykad.kernel.netlink import NetlinkBatchWriter

__all__ = ["RTM_DELADDR", "AddressDeletions"]


class AddressDeletions:
    """Calls ``on_deleted(ifindex, address)`` for each address others delete."""

    def __init__(
        self,
        on_deleted: Callable[[int, IPAddress], None],
        own_ports: Collection[int] = (),
        report: Callable[[int, IPAddress, bool], None] | None = None,
    ) -> None:
        self.on_deleted = on_deleted
        self.own_ports = frozenset(own_ports)
        self.report = report
        self.sock = open_ifaddr_socket()

    def handle(self, buf: bytes) -> None:
        for msg in rtnl.iter_messages(buf):
            if msg.type not in (RTM_NEWADDR, RTM_DELADDR) or msg.pid in self.own_ports:
                continue
            if msg.type == RTM_NEWADDR and self.report is None:
                continue
            try:
                entry = rtnl.parse_address(msg.payload)
            except ValueError:  # no address attribute: nothing to match
                continue
            if self.report is not None:
                self.report(entry.ifindex, entry.address.ip, msg.type == RTM_NEWADDR)
            if msg.type == RTM_DELADDR:
                self.on_deleted(entry.ifindex, entry.address.ip)

    async def run(self) -> None:
        if self.report is not None:  # after joining the groups: no change is missed
            with NetlinkBatchWriter() as netlink:
                for entry in netlink.entries():
                    self.report(entry.ifindex, entry.address.ip, True)
        await follow(self.sock, self.handle)
