"""Interface facts for the VRRP driver, from rtnetlink dumps (rtnetlink(7), RFC 3549 2.3.3.1).

This module owns :class:`NetlinkLinks`, the ``pykad.kernel.api.Links`` of the
current network namespace: an interface's index, MAC address, primary IPv4
address (the first one without IFA_F_SECONDARY, which is what VRRPv2/v3 adverts
carry as their source, RFC 5798 5.1.1.1), IPv6 link-local address (the source of
IPv6 adverts, RFC 5798 5.1.2.1) and whether it is up (IFF_UP and IFF_RUNNING, as
keepalived's ``IF_ISUP``). One RTM_GETLINK and one RTM_GETADDR dump per question
through ``NetlinkBatchWriter``: set-up and re-creation only, not a hot path, and
no pyroute2 import on start-up.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from pykad.kernel.netlink import NetlinkBatchWriter
from pykad.kernel.rtnl import IFF_RUNNING, IFF_UP, LinkEvent

__all__ = ["IFF_RUNNING", "IFF_UP", "NetlinkLinks"]


class NetlinkLinks:
    """``Links`` of the current network namespace (the namespace the socket was made in)."""

    def __init__(self, netlink: NetlinkBatchWriter | None = None) -> None:
        self.netlink = netlink or NetlinkBatchWriter()

    def _link(self, *, name: str | None = None, ifindex: int | None = None) -> LinkEvent | None:
        return next(
            (x for x in self.netlink.links() if x.name == name or x.ifindex == ifindex), None
        )

    def ifindex(self, name: str) -> int | None:
        link = self._link(name=name)
        return link.ifindex if link is not None else None

    def mac(self, ifindex: int) -> bytes | None:
        link = self._link(ifindex=ifindex)
        return link.mac if link is not None and link.mac else None

    def is_up(self, ifindex: int) -> bool:
        link = self._link(ifindex=ifindex)
        return link is not None and link.up

    def primary_ipv4(self, ifindex: int) -> IPv4Address | None:
        for e in self.netlink.entries(ifindex, 2):
            if isinstance(e.address.ip, IPv4Address) and not e.secondary:
                return e.address.ip
        return None

    def link_local_ipv6(self, ifindex: int) -> IPv6Address | None:
        for e in self.netlink.entries(ifindex, 10):
            if isinstance(e.address.ip, IPv6Address) and e.address.ip.is_link_local:
                return e.address.ip
        return None

    def close(self) -> None:
        self.netlink.close()
