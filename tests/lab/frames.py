"""Build Ethernet frames around VRRP messages, for captures that tools like tcpdump read."""

from __future__ import annotations

import struct

from pykad.vrrp import wire_py
from pykad.vrrp.advert import IPPROTO_VRRP


def vrrp_frame(vrid: int, ip_version: int, src: bytes, dst: bytes, payload: bytes) -> bytes:
    """An Ethernet frame from the VRRP virtual MAC to the VRRP multicast MAC."""
    src_mac = bytes((0, 0, 0x5E, 0, 1 if ip_version == 4 else 2, vrid & 0xFF))
    if ip_version == 4:
        dst_mac, ethertype = bytes((1, 0, 0x5E)) + dst[1:], 0x0800
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(payload), 0, 0, 255, IPPROTO_VRRP, 0, src, dst
        )
        ip = ip[:10] + wire_py.checksum(ip).to_bytes(2, "big") + ip[12:]
    else:
        dst_mac, ethertype = b"\x33\x33" + dst[12:], 0x86DD
        ip = struct.pack("!IHBB16s16s", 6 << 28, len(payload), IPPROTO_VRRP, 255, src, dst)
    return dst_mac + src_mac + ethertype.to_bytes(2, "big") + ip + payload
