"""Interface facts for the VRRP driver, read with pyroute2 (rtnetlink(7), RFC 3549 2.3.3.1).

This module owns :class:`IPRouteLinks`, the ``pykad.kernel.api.Links`` of the
current network namespace: an interface's index, MAC address, primary IPv4
address (the first one without IFA_F_SECONDARY, which is what VRRPv2/v3 adverts
carry as their source, RFC 5798 5.1.1.1), IPv6 link-local address (the source of
IPv6 adverts, RFC 5798 5.1.2.1) and whether it is up (IFF_UP and IFF_RUNNING, as
keepalived's ``IF_ISUP``).  These are set-up and state queries, not a hot path,
so pyroute2 is used as is.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from types import TracebackType
from typing import Any

from pykad.kernel.api import IFA_F_SECONDARY

__all__ = ["IFF_RUNNING", "IFF_UP", "IPRouteLinks"]

IFF_UP = 0x1
IFF_RUNNING = 0x40
AF_INET, AF_INET6 = 2, 10


class IPRouteLinks:
    """``Links`` of the current network namespace through one pyroute2 ``IPRoute``."""

    def __init__(self, ipr: Any = None) -> None:
        if ipr is None:
            from pyroute2 import IPRoute

            ipr = IPRoute()
            self._own = True
        else:
            self._own = False
        self._ipr = ipr

    def close(self) -> None:
        if self._own:
            self._ipr.close()

    def __enter__(self) -> IPRouteLinks:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _link(self, ifindex: int) -> Any:
        try:
            found = self._ipr.get_links(ifindex)
        except Exception:  # pyroute2 raises NetlinkError(ENODEV)
            return None
        return found[0] if found else None

    def ifindex(self, name: str) -> int | None:
        found = self._ipr.link_lookup(ifname=name)
        return int(found[0]) if found else None

    def mac(self, ifindex: int) -> bytes | None:
        link = self._link(ifindex)
        text = link.get_attr("IFLA_ADDRESS") if link is not None else None
        return bytes.fromhex(text.replace(":", "")) if text else None

    def is_up(self, ifindex: int) -> bool:
        link = self._link(ifindex)
        if link is None:
            return False
        flags = int(link["flags"])
        return flags & (IFF_UP | IFF_RUNNING) == IFF_UP | IFF_RUNNING

    def primary_ipv4(self, ifindex: int) -> IPv4Address | None:
        for msg in self._ipr.get_addr(family=AF_INET, index=ifindex):
            flags = msg.get_attr("IFA_FLAGS")
            if not (flags if flags is not None else msg["flags"]) & IFA_F_SECONDARY:
                return IPv4Address(msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS"))
        return None

    def link_local_ipv6(self, ifindex: int) -> IPv6Address | None:
        for msg in self._ipr.get_addr(family=AF_INET6, index=ifindex):
            address = IPv6Address(msg.get_attr("IFA_ADDRESS"))
            if address.is_link_local:
                return address
        return None
