"""``no_accept``: a master that does not own its VIPs drops traffic to and from them (nftables).

RFC 5798 section 6.4.3: a master not in Accept_Mode must not accept packets
addressed to the virtual addresses unless it owns them. keepalived enforces it
with a firewall; pykad does it as keepalived's nftables build does
(``vrrp_nftables.c``): tables ``ip TABLE`` and ``ip6 TABLE`` with a set ``vips``,
chains ``in`` (``ip daddr @vips drop``) and ``out`` (``ip saddr @vips drop``) at
the configured priority, neighbour discovery still allowed for IPv6. A master's
VIPs go into the set before they go on the interface and leave it after they
are removed. The table is created on first use and deleted at exit.

``ruleset`` and ``elements`` are pure (the nft script text); ``Firewall`` runs
``nft -f -``.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import subprocess
from collections.abc import Iterable

log = logging.getLogger("pykad.vrrp")

DEFAULT_TABLE = "keepalived"
_ND = "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept"


def ruleset(table: str, priority: int) -> str:
    """The nft script that creates both tables (idempotent: ``add`` only)."""
    lines = []
    for family, addr_type, extra in (("ip", "ipv4_addr", ""), ("ip6", "ipv6_addr", _ND)):
        lines += [
            f"add table {family} {table}",
            f"add set {family} {table} vips {{ type {addr_type}; }}",
            f"add chain {family} {table} in"
            f" {{ type filter hook input priority {priority}; policy accept; }}",
            f"add chain {family} {table} out"
            f" {{ type filter hook output priority {priority}; policy accept; }}",
            f"flush chain {family} {table} in",
            f"flush chain {family} {table} out",
        ]
        if extra:
            lines += [
                f"add rule {family} {table} in {extra}",
                f"add rule {family} {table} out {extra}",
            ]
        daddr = "ip daddr" if family == "ip" else "ip6 daddr"
        saddr = "ip saddr" if family == "ip" else "ip6 saddr"
        lines += [
            f"add rule {family} {table} in {daddr} @vips drop",
            f"add rule {family} {table} out {saddr} @vips drop",
        ]
    return "\n".join(lines) + "\n"


def elements(
    table: str, addresses: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address], add: bool
) -> str:
    """The nft script that adds (or deletes) ``addresses`` to (from) the ``vips`` sets."""
    verb = "add" if add else "delete"
    lines = []
    for version, family in ((4, "ip"), (6, "ip6")):
        mine = sorted({str(a) for a in addresses if a.version == version})
        if mine:
            lines.append(f"{verb} element {family} {table} vips {{ {', '.join(mine)} }}")
    return "\n".join(lines) + ("\n" if lines else "")


class Firewall:
    """Applies the scripts with ``nft``; failures are logged, never raised."""

    def __init__(self, table: str | None, priority: int) -> None:
        self.table = table or DEFAULT_TABLE
        self.priority = priority
        self.created = False

    def _nft(self, script: str) -> bool:
        nft = shutil.which("nft")
        if nft is None:
            log.error("no_accept needs nftables: the nft command is not installed")
            return False
        proc = subprocess.run(
            [nft, "-f", "-"], input=script, text=True, capture_output=True, check=False
        )
        if proc.returncode != 0:
            log.error("nft failed: %s", proc.stderr.strip())
        return proc.returncode == 0

    def block(
        self, addresses: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address], add: bool
    ) -> None:
        """Put ``addresses`` in the drop sets (``add``) or take them out."""
        script = elements(self.table, addresses, add)
        if not script:
            return
        if add and not self.created:
            self.created = self._nft(ruleset(self.table, self.priority))
        if self.created:
            self._nft(script)

    def close(self) -> None:
        """Delete the tables (keepalived removes them at exit)."""
        if self.created:
            self._nft(f"delete table ip {self.table}\ndelete table ip6 {self.table}\n")
            self.created = False
