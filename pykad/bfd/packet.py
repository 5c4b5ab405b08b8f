"""The BFD control packet as a value, and the ways a received one can be malformed.

Owned here: the ``ControlPacket`` and ``Auth`` values shared by both codec twins
(``wire_py`` and the compiled ``pykad._fastpath.bfd_wire``), the wire constants of
RFC 5880 section 4 (with the UDP ports of RFC 5881 section 4 and RFC 5883 section 5),
the session states and diagnostic codes, and ``PacketError`` with its ``Malformed``
reason (one counter each, RFC 5880 section 6.8.6 in its order).

Intervals are in microseconds, as on the wire.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

VERSION = 1
"""The protocol version (RFC 5880 section 4.1)."""

CONTROL_PORT = 3784
"""Single-hop control packets (RFC 5881 section 4)."""
ECHO_PORT = 3785
MULTIHOP_PORT = 4784
"""Multihop control packets (RFC 5883 section 5)."""
SOURCE_PORT_MIN, SOURCE_PORT_MAX = 49152, 65535
"""The source port range of control packets (RFC 5881 section 4)."""
TTL = 255
"""TTL / hop limit of single-hop packets, sent and required (RFC 5881 section 5)."""

HEADER_LEN = 24
"""The mandatory section (RFC 5880 section 4.1)."""

# Flag bits of the second byte (RFC 5880 section 4.1): |P|F|C|A|D|M|
FLAG_POLL = 0x20
FLAG_FINAL = 0x10
FLAG_CPI = 0x08
FLAG_AUTH = 0x04
FLAG_DEMAND = 0x02
FLAG_MULTIPOINT = 0x01


class State(enum.IntEnum):
    """bfd.SessionState values (RFC 5880 section 4.1, "Sta")."""

    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3

    @property
    def label(self) -> str:
        """The state's name as RFC 5880 writes it (AdminDown, Down, Init, Up)."""
        return _STATE_LABELS[self]


_STATE_LABELS = {
    State.ADMIN_DOWN: "AdminDown",
    State.DOWN: "Down",
    State.INIT: "Init",
    State.UP: "Up",
}


class Diag(enum.IntEnum):
    """Diagnostic codes (RFC 5880 section 4.1, "Diag")."""

    NONE = 0
    CONTROL_DETECTION_TIME_EXPIRED = 1
    ECHO_FUNCTION_FAILED = 2
    NEIGHBOR_SIGNALED_SESSION_DOWN = 3
    FORWARDING_PLANE_RESET = 4
    PATH_DOWN = 5
    CONCATENATED_PATH_DOWN = 6
    ADMINISTRATIVELY_DOWN = 7
    REVERSE_CONCATENATED_PATH_DOWN = 8


class AuthType(enum.IntEnum):
    """Authentication types (RFC 5880 section 4.1, "Auth Type")."""

    SIMPLE_PASSWORD = 1
    KEYED_MD5 = 2
    METICULOUS_KEYED_MD5 = 3
    KEYED_SHA1 = 4
    METICULOUS_KEYED_SHA1 = 5


AUTH_LEN: dict[int, int] = {
    AuthType.KEYED_MD5: 24,
    AuthType.METICULOUS_KEYED_MD5: 24,
    AuthType.KEYED_SHA1: 28,
    AuthType.METICULOUS_KEYED_SHA1: 28,
}
"""Auth section length of the digest types (RFC 5880 sections 4.3 and 4.4)."""
PASSWORD_MIN, PASSWORD_MAX = 1, 16
"""Simple password length (RFC 5880 section 4.2)."""


class Auth(NamedTuple):
    """An authentication section (RFC 5880 sections 4.2-4.4).

    ``data`` is the password (simple password) or the digest (MD5: 16 bytes,
    SHA1: 20 bytes); ``sequence`` is 0 for a simple password.
    """

    auth_type: int
    key_id: int
    sequence: int
    data: bytes


class ControlPacket(NamedTuple):
    """One BFD control packet, without its UDP/IP headers (RFC 5880 section 4.1)."""

    state: int
    diag: int
    detect_mult: int
    my_disc: int
    your_disc: int
    desired_min_tx_us: int
    required_min_rx_us: int
    required_min_echo_rx_us: int = 0
    poll: bool = False
    final: bool = False
    cpi: bool = False
    demand: bool = False
    multipoint: bool = False
    auth: Auth | None = None
    version: int = VERSION


class Malformed(enum.Enum):
    """Why a received datagram is discarded before any session sees it.

    The checks of RFC 5880 section 6.8.6 that need no session, in its order.
    """

    TOO_SHORT = "too_short"
    """Shorter than the mandatory section."""
    VERSION = "version"
    """Version is not 1."""
    LENGTH = "length"
    """Length field below the minimum (24, or 26 with the A bit) or beyond the datagram."""
    DETECT_MULT = "detect_mult"
    """Detect Mult is zero."""
    MULTIPOINT = "multipoint"
    """The M bit is set."""
    MY_DISCRIMINATOR = "my_discriminator"
    """My Discriminator is zero."""
    YOUR_DISCRIMINATOR = "your_discriminator"
    """Your Discriminator is zero and State is neither Down nor AdminDown."""
    AUTH_SECTION = "auth_section"
    """The authentication section's length does not fit its type (sections 4.2-4.4)."""


class PacketError(ValueError):
    """A received datagram was rejected; ``reason`` says why (one counter each)."""

    def __init__(self, reason: Malformed, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
