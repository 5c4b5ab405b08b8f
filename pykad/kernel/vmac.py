"""VMAC interfaces (``use_vmac``): a private-mode macvlan carrying the virtual MAC.

RFC 5798 section 7.3: the master answers with the virtual router MAC address,
00-00-5E-00-01-{VRID} for IPv4 and 00-00-5E-00-02-{VRID} for IPv6. keepalived
(``vrrp_vmac.c``) creates a macvlan in private mode on the base interface with
that address, named ``vrrp.{VRID}`` unless configured, sets ``arp_ignore=1``,
``accept_local=1`` and ``rp_filter=0`` on it and ``arp_ignore=1``,
``arp_filter=1`` on the base interface, turns off IPv6 on it for an IPv4
instance (and link-local address generation always), brings it up, and deletes
it at exit. Set-up only, so pyroute2 does the netlink work here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("pykad.vrrp")

SYSCTL = Path("/proc/sys/net")


def vmac_address(vrid: int, family: int, configured: str | None = None) -> bytes:
    """The VMAC: configured (5 octets: the VRID is the sixth), else RFC 5798's."""
    if configured:
        octets = [int(x, 16) for x in configured.split(":")]
        if len(octets) == 5:
            octets.append(vrid)
        return bytes(octets)
    return bytes((0, 0, 0x5E, 0, 1 if family == 4 else 2, vrid))


def vmac_name(vrid: int, prefix: str | None = None) -> str:
    """keepalived's ``create_vmac_name``: ``PREFIX.VRID`` within IFNAMSIZ."""
    name = f"{prefix or 'vrrp'}.{vrid}"
    return name if len(name) <= 15 else f"{(prefix or 'vrrp')[: 15 - len(str(vrid)) - 1]}.{vrid}"


def _sysctl(path: str, value: str) -> None:
    try:
        (SYSCTL / path).write_text(value)
    except OSError as e:
        log.warning("cannot set %s: %s", path.replace("/", "."), e)


def _mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


class Vmacs:
    """Creates, reuses and deletes the VMAC interfaces of this process."""

    def __init__(self, ipr: Any = None) -> None:
        if ipr is None:
            from pyroute2 import IPRoute

            ipr = IPRoute()
        self.ipr = ipr
        self.created: dict[str, int] = {}

    def ensure(self, name: str, base_index: int, base_name: str, mac: bytes, family: int) -> int:
        """The ifindex of VMAC ``name`` on ``base_index`` with ``mac``, created if needed."""
        found = self.ipr.link_lookup(ifname=name)
        if found:
            (link,) = self.ipr.get_links(found[0])
            info = link.get_attr("IFLA_LINKINFO")
            kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
            if kind != "macvlan":
                raise ValueError(f"VMAC {name} conflicts with an existing {kind or 'interface'}")
            if link.get_attr("IFLA_LINK") != base_index or link.get_attr(
                "IFLA_ADDRESS"
            ) != _mac_text(mac):
                log.info("Removing old VMAC interface %s due to conflicting interface", name)
                self.ipr.link("del", index=found[0])
                found = []
        if not found:
            self.ipr.link(
                "add",
                ifname=name,
                kind="macvlan",
                link=base_index,
                macvlan_mode="private",
                address=_mac_text(mac),
            )
            found = self.ipr.link_lookup(ifname=name)
        index = int(found[0])
        self.created[name] = index
        if family == 4:
            _sysctl(f"ipv4/conf/{name}/arp_ignore", "1")
            _sysctl(f"ipv4/conf/{name}/accept_local", "1")
            _sysctl(f"ipv4/conf/{name}/rp_filter", "0")
            _sysctl(f"ipv4/conf/{base_name}/arp_ignore", "1")
            _sysctl(f"ipv4/conf/{base_name}/arp_filter", "1")
            _sysctl(f"ipv6/conf/{name}/disable_ipv6", "1")
        else:
            _sysctl(f"ipv6/conf/{name}/addr_gen_mode", "1")
        self.ipr.link("set", index=index, state="up")
        return index

    def remove(self, name: str) -> None:
        """Delete VMAC ``name`` this process created (no instance uses it any more)."""
        index = self.created.pop(name)
        try:
            self.ipr.link("del", index=index)
        except Exception as e:  # already gone: nothing to do
            log.debug("VMAC %s: %s", name, e)

    def close(self, remove: bool = True) -> None:
        """Delete the VMACs created (keepalived does at exit), then close netlink."""
        if remove:
            for name, index in self.created.items():
                try:
                    self.ipr.link("del", index=index)
                except Exception as e:  # already gone: nothing to do
                    log.debug("VMAC %s: %s", name, e)
        self.created.clear()
        self.ipr.close()
