"""BFD control packet codec, pure Python (twin of ``pykad._fastpath.bfd_wire``).

``decode_untrusted`` applies the checks of RFC 5880 section 6.8.6 that need no
session (version, length, Detect Mult, M bit, discriminators) and the shape of
the authentication section (sections 4.2-4.4); it raises ``PacketError`` with
the ``Malformed`` reason.  Whether the packet belongs to a session, and whether
its authentication verifies, is the table's and the session's business.
``encode`` writes a packet as given (authentication data included as is;
``pykad.bfd.auth`` fills in digests).
"""

from __future__ import annotations

import struct

from pykad.bfd.packet import (
    AUTH_LEN,
    FLAG_AUTH,
    FLAG_CPI,
    FLAG_DEMAND,
    FLAG_FINAL,
    FLAG_MULTIPOINT,
    FLAG_POLL,
    HEADER_LEN,
    PASSWORD_MAX,
    PASSWORD_MIN,
    VERSION,
    Auth,
    AuthType,
    ControlPacket,
    Malformed,
    PacketError,
    State,
)

_HEADER = struct.Struct("!BBBBIIIII")
_DIGEST = struct.Struct("!BBBxI")
_DOWN_STATES = (State.ADMIN_DOWN, State.DOWN)


def decode_untrusted(data: bytes) -> ControlPacket:
    """Parse one received control packet (the UDP payload)."""
    size = len(data)
    if size < HEADER_LEN:
        raise PacketError(Malformed.TOO_SHORT, f"{size} bytes")
    vers_diag, sta_flags, detect_mult, length, my_disc, your_disc, tx, rx, echo = (
        _HEADER.unpack_from(data)
    )
    version = vers_diag >> 5
    if version != VERSION:
        raise PacketError(Malformed.VERSION, str(version))
    flags = sta_flags & 0x3F
    has_auth = bool(flags & FLAG_AUTH)
    if length < (HEADER_LEN + 2 if has_auth else HEADER_LEN) or length > size:
        raise PacketError(Malformed.LENGTH, f"length {length}, {size} bytes received")
    if detect_mult == 0:
        raise PacketError(Malformed.DETECT_MULT)
    if flags & FLAG_MULTIPOINT:
        raise PacketError(Malformed.MULTIPOINT)
    if my_disc == 0:
        raise PacketError(Malformed.MY_DISCRIMINATOR)
    state = sta_flags >> 6
    if your_disc == 0 and state not in _DOWN_STATES:
        raise PacketError(Malformed.YOUR_DISCRIMINATOR, f"state {State(state).label}")
    auth = _decode_auth(data, length) if has_auth else None
    return ControlPacket(
        state,
        vers_diag & 0x1F,
        detect_mult,
        my_disc,
        your_disc,
        tx,
        rx,
        echo,
        bool(flags & FLAG_POLL),
        bool(flags & FLAG_FINAL),
        bool(flags & FLAG_CPI),
        bool(flags & FLAG_DEMAND),
        False,
        auth,
        version,
    )


def _decode_auth(data: bytes, length: int) -> Auth:
    auth_type, auth_len = data[HEADER_LEN], data[HEADER_LEN + 1]
    if HEADER_LEN + auth_len != length:
        raise PacketError(Malformed.AUTH_SECTION, f"auth length {auth_len}, packet {length}")
    if auth_type == AuthType.SIMPLE_PASSWORD:
        if not PASSWORD_MIN + 3 <= auth_len <= PASSWORD_MAX + 3:
            raise PacketError(Malformed.AUTH_SECTION, f"password auth length {auth_len}")
        return Auth(auth_type, data[HEADER_LEN + 2], 0, data[HEADER_LEN + 3 : length])
    if AUTH_LEN.get(auth_type) != auth_len:
        raise PacketError(Malformed.AUTH_SECTION, f"auth type {auth_type} length {auth_len}")
    _, _, key_id, sequence = _DIGEST.unpack_from(data, HEADER_LEN)
    return Auth(auth_type, key_id, sequence, data[HEADER_LEN + 8 : length])


def encode(packet: ControlPacket) -> bytes:
    """The wire bytes of ``packet`` (the Length field is computed)."""
    auth = packet.auth
    flags = (
        (FLAG_POLL if packet.poll else 0)
        | (FLAG_FINAL if packet.final else 0)
        | (FLAG_CPI if packet.cpi else 0)
        | (FLAG_AUTH if auth is not None else 0)
        | (FLAG_DEMAND if packet.demand else 0)
        | (FLAG_MULTIPOINT if packet.multipoint else 0)
    )
    section = b"" if auth is None else _encode_auth(auth)
    return (
        _HEADER.pack(
            (packet.version & 0x7) << 5 | (packet.diag & 0x1F),
            (packet.state & 0x3) << 6 | flags,
            packet.detect_mult,
            HEADER_LEN + len(section),
            packet.my_disc,
            packet.your_disc,
            packet.desired_min_tx_us,
            packet.required_min_rx_us,
            packet.required_min_echo_rx_us,
        )
        + section
    )


def _encode_auth(auth: Auth) -> bytes:
    if auth.auth_type == AuthType.SIMPLE_PASSWORD:
        return bytes((auth.auth_type, 3 + len(auth.data), auth.key_id)) + auth.data
    return _DIGEST.pack(auth.auth_type, 8 + len(auth.data), auth.key_id, auth.sequence) + auth.data
