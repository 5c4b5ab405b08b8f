"""The VRRP advertisement as a value, and the ways a received one can be malformed.

Owned here: the ``Advert`` value shared by both codec twins (``wire_py`` and the
compiled ``pykad._fastpath.vrrp_wire``), the wire constants of RFC 3768 section 5
(VRRPv2) and RFC 5798 / RFC 9568 section 5 (VRRPv3), and ``AdvertError`` with
its ``Malformed`` reason, one per counter a router keeps.

Addresses are packed bytes (4 bytes for IPv4, 16 for IPv6) so that decoding
stays cheap; ``ipaddress.ip_address(b)`` turns one into an object when needed.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

IPPROTO_VRRP = 112
"""IP protocol number of VRRP (RFC 5798 section 5.1.1.4)."""

VRRP_MCAST_V4 = bytes((224, 0, 0, 18))
"""IPv4 multicast group of VRRP, 224.0.0.18 (RFC 5798 section 5.1.1.2)."""

VRRP_MCAST_V6 = bytes.fromhex("ff020000000000000000000000000012")
"""IPv6 multicast group of VRRP, ff02::12 (RFC 5798 section 5.1.2.2)."""

TYPE_ADVERTISEMENT = 1
"""The only VRRP packet type (RFC 5798 section 5.2.2)."""

HEADER_LEN = 8
"""Fixed part of the VRRP header, both versions."""

AUTH_DATA_LEN = 8
"""VRRPv2 authentication data field (RFC 3768 section 5.3.10)."""

AUTH_NONE = 0
AUTH_PASS = 1
AUTH_AH = 2
"""VRRPv2 authentication types (RFC 3768 section 5.3.6; RFC 2338 for PASS and AH)."""


class Advert(NamedTuple):
    """One VRRP advertisement, without its IP header.

    ``max_advert_int`` is the raw field: whole seconds in VRRPv2 ("Adver Int",
    8 bits), centiseconds in VRRPv3 ("Max Adver Int", 12 bits).
    ``auth_type`` and ``auth_data`` exist on the wire in VRRPv2 only; in VRRPv3
    they are 0 and ``b""``.
    """

    version: int
    vrid: int
    priority: int
    max_advert_int: int
    addresses: tuple[bytes, ...]
    auth_type: int = AUTH_NONE
    auth_data: bytes = b""


class Malformed(enum.Enum):
    """Why a received packet is not a well-formed VRRP advertisement."""

    TOO_SHORT = "too_short"
    """Shorter than the fixed header (RFC 5798 section 7.1)."""
    VERSION = "version"
    """Version is neither 2 nor 3, or 2 over IPv6 (RFC 3768 is IPv4 only)."""
    TYPE = "type"
    """Type is not ADVERTISEMENT (RFC 5798 section 5.2.2)."""
    LENGTH = "length"
    """Shorter than the address count (and v2 auth data) says."""
    CHECKSUM = "checksum"
    """Checksum does not verify (RFC 5798 section 5.2.8, RFC 3768 section 5.3.8)."""
    FAMILY = "family"
    """The caller gave an IP version, source or destination that does not fit."""


class AdvertError(ValueError):
    """A received packet was rejected; ``reason`` says why (one counter each)."""

    def __init__(self, reason: Malformed, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, AdvertError)
            and other.reason is self.reason
            and other.detail == self.detail
        )

    def __hash__(self) -> int:
        return hash((self.reason, self.detail))
