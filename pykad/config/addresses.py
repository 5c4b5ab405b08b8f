"""IP addresses as keepalived reads them (lib/utils.c ``inet_stosockaddr``).

The family is IPv6 if the text has a ``:``; anything from the first ``-``
(a range) or ``/`` (a prefix) on is ignored; the rest must be what
``inet_pton`` accepts (no scope id, no leading zeros in IPv4).
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address

IPAddress = IPv4Address | IPv6Address


def inet_stosockaddr(text: str) -> IPAddress | None:
    """The address ``text`` names, or None where keepalived's parser fails."""
    cut = min((i for i in (text.find("-"), text.find("/")) if i >= 0), default=len(text))
    core = text[:cut]
    try:
        if ":" in text:
            if "%" in core:
                return None
            return IPv6Address(core)
        return IPv4Address(core)
    except ipaddress.AddressValueError:
        return None
