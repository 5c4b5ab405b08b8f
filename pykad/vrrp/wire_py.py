"""VRRP advertisement codec, pure Python (twin of ``pykad._fastpath.vrrp_wire``).

Owns the byte layout of RFC 3768 section 5.1 (VRRPv2) and RFC 5798 / RFC 9568
section 5.2 (VRRPv3) and the Internet checksum over it, with the IPv4 or IPv6
pseudo-header for VRRPv3 (RFC 5798 section 5.2.8). Validation stops at the
format; whether a VRID, priority or auth data is acceptable is the router's
call. Both twins have the same API and must give equal results or raise equal
``AdvertError``s on every input; tests hold them to it.
"""

from __future__ import annotations

import struct

from pykad.vrrp.advert import (
    AUTH_DATA_LEN,
    HEADER_LEN,
    IPPROTO_VRRP,
    TYPE_ADVERTISEMENT,
    Advert,
    AdvertError,
    Malformed,
)

_ADDR_LEN = {4: 4, 6: 16}


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): ones' complement of the ones' complement sum."""
    if len(data) & 1:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo_header(ip_version: int, src: bytes, dst: bytes, length: int) -> bytes:
    """The pseudo-header that VRRPv3 checksums cover (RFC 5798 section 5.2.8)."""
    if ip_version == 4:
        return src + dst + struct.pack("!BBH", 0, IPPROTO_VRRP, length)
    return src + dst + struct.pack("!I3xB", length, IPPROTO_VRRP)


def _ends_error(ip_version: int, src: bytes, dst: bytes) -> str:
    """Why ``src``/``dst`` cannot go into a pseudo-header, or ``""`` if they can."""
    alen = _ADDR_LEN[ip_version]
    if len(src) != alen or len(dst) != alen:
        return f"IPv{ip_version} source and destination must be {alen} bytes"
    return ""


def decode_untrusted(
    msg: bytes,
    ip_version: int,
    src: bytes = b"",
    dst: bytes = b"",
    pseudo: bool = True,
) -> Advert:
    """Parse one VRRP message (the IP payload) received over IPv``ip_version``.

    ``src`` and ``dst`` are the packed IP source and destination; VRRPv3 needs
    them for its checksum unless ``pseudo`` is false (keepalived's
    ``old_unicast_checksum``). Raises ``AdvertError`` naming what is wrong.
    """
    if ip_version not in _ADDR_LEN:
        raise AdvertError(Malformed.FAMILY, "IP version must be 4 or 6")
    n = len(msg)
    if n < HEADER_LEN:
        raise AdvertError(Malformed.TOO_SHORT, f"{n} bytes")
    version = msg[0] >> 4
    if version not in (2, 3) or (version == 2 and ip_version == 6):
        raise AdvertError(Malformed.VERSION, f"version {version} over IPv{ip_version}")
    if msg[0] & 0x0F != TYPE_ADVERTISEMENT:
        raise AdvertError(Malformed.TYPE, f"type {msg[0] & 0x0F}")
    count = msg[3]
    alen = _ADDR_LEN[ip_version]
    end = HEADER_LEN + count * alen
    if n < end + (AUTH_DATA_LEN if version == 2 else 0):
        raise AdvertError(Malformed.LENGTH, f"{n} bytes for {count} addresses")
    if version == 3 and pseudo:
        if why := _ends_error(ip_version, src, dst):
            raise AdvertError(Malformed.FAMILY, why)
        covered = pseudo_header(ip_version, src, dst, n) + msg
    else:
        covered = msg
    if checksum(covered) != 0:
        raise AdvertError(Malformed.CHECKSUM, f"checksum {msg[6] << 8 | msg[7]:#06x}")
    addresses = tuple(msg[i : i + alen] for i in range(HEADER_LEN, end, alen))
    if version == 2:
        return Advert(2, msg[1], msg[2], msg[5], addresses, msg[4], msg[end : end + AUTH_DATA_LEN])
    return Advert(3, msg[1], msg[2], (msg[4] & 0x0F) << 8 | msg[5], addresses)


def encode(
    advert: Advert,
    ip_version: int,
    src: bytes = b"",
    dst: bytes = b"",
    pseudo: bool = True,
) -> bytes:
    """The bytes of ``advert`` as the IP payload, checksum filled in.

    VRRPv2 auth data shorter than 8 bytes is padded with zeros. Raises
    ``ValueError`` for a field that does not fit its place on the wire.
    """
    version, vrid, priority, max_advert_int, addresses, auth_type, auth_data = advert
    if ip_version not in _ADDR_LEN:
        raise ValueError("IP version must be 4 or 6")
    alen = _ADDR_LEN[ip_version]
    if version == 2:
        if ip_version != 4:
            raise ValueError("VRRPv2 is IPv4 only (RFC 3768)")
        if not 0 <= max_advert_int <= 0xFF:
            raise ValueError(f"VRRPv2 advert interval {max_advert_int} is not 0-255 seconds")
        if not 0 <= auth_type <= 0xFF or len(auth_data) > AUTH_DATA_LEN:
            raise ValueError("VRRPv2 auth type must be 0-255 and auth data at most 8 bytes")
        b4, b5 = auth_type, max_advert_int
    elif version == 3:
        if not 0 <= max_advert_int <= 0xFFF:
            raise ValueError(
                f"VRRPv3 max advert interval {max_advert_int} is not 0-4095 centiseconds"
            )
        if auth_type or auth_data:
            raise ValueError("VRRPv3 has no authentication")
        b4, b5 = max_advert_int >> 8, max_advert_int & 0xFF
    else:
        raise ValueError(f"VRRP version {version} is not 2 or 3")
    if not (0 <= vrid <= 0xFF and 0 <= priority <= 0xFF):
        raise ValueError("VRID and priority must be 0-255")
    if len(addresses) > 0xFF:
        raise ValueError(f"{len(addresses)} addresses: at most 255 fit")
    for a in addresses:
        if len(a) != alen:
            raise ValueError(f"IPv{ip_version} address must be {alen} bytes, not {len(a)}")
    body = bytearray(
        struct.pack(
            "!BBBBBBH", version << 4 | TYPE_ADVERTISEMENT, vrid, priority, len(addresses), b4, b5, 0
        )
    )
    body += b"".join(addresses)
    if version == 2:
        body += auth_data.ljust(AUTH_DATA_LEN, b"\0")
        covered = bytes(body)
    elif pseudo:
        if why := _ends_error(ip_version, src, dst):
            raise ValueError(why)
        covered = pseudo_header(ip_version, src, dst, len(body)) + body
    else:
        covered = bytes(body)
    struct.pack_into("!H", body, 6, checksum(covered))
    return bytes(body)
