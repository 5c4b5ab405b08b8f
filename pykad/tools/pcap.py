"""Classic pcap files (tcpdump -w) and the IP layer of the frames in them.

Owned here: reading and writing the classic pcap format (microsecond and
nanosecond variants, either byte order), taking the link layer off Ethernet
(with 802.1Q tags), Linux cooked (SLL, SLL2) and raw-IP frames, and splitting
an IPv4 or IPv6 packet into its addresses, TTL / hop limit, protocol and
payload (skipping IPv6 extension headers and an IPv4 AH header, which VRRPv2
may carry). pcapng is not read: write captures with ``tcpdump -w`` (its
default is classic pcap).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

IPPROTO_AH = 51
_IPV6_EXTENSIONS = {0, 43, 60}  # hop-by-hop, routing, destination options

_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}


class PcapError(ValueError):
    """The file is not a classic pcap file, or is cut short."""


@dataclass(frozen=True, slots=True)
class Frame:
    timestamp: float
    linktype: int
    data: bytes


@dataclass(frozen=True, slots=True)
class IpPacket:
    ip_version: int
    src: bytes
    dst: bytes
    ttl: int
    """IPv4 TTL or IPv6 hop limit."""
    protocol: int
    """The upper-layer protocol (after any extension or AH header)."""
    payload: bytes
    ah: bool = False
    """An IPv4 AH header came before the payload (VRRPv2 AH authentication)."""


def read_pcap(path: str | Path, *, live: bool = False) -> Iterator[Frame]:
    """The frames of a classic pcap file, in order.

    ``live``: the file is still being written, so a cut-short last record ends
    the iteration quietly instead of raising ``PcapError``.
    """
    with open(path, "rb") as f:
        yield from _read(f, str(path), live)


def _read(f: BinaryIO, name: str, live: bool) -> Iterator[Frame]:
    header = f.read(24)
    if len(header) < 24 or header[:4] not in _MAGIC:
        raise PcapError(f"{name}: not a classic pcap file (pcapng is not read; use tcpdump -w)")
    order, unit = _MAGIC[header[:4]]
    linktype = struct.unpack(order + "I", header[20:24])[0] & 0x0FFFFFFF
    record = struct.Struct(order + "IIII")
    while chunk := f.read(16):
        sec, frac, caplen, _ = record.unpack(chunk) if len(chunk) == 16 else (0, 0, 1 << 32, 0)
        data = f.read(caplen)
        if len(data) < caplen:
            if live:
                return
            raise PcapError(f"{name}: truncated record")
        yield Frame(sec + frac * unit, linktype, data)


def write_pcap(path: str | Path, frames: Iterable[Frame], linktype: int) -> None:
    """Write ``frames`` as a microsecond pcap file of ``linktype``."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for frame in frames:
            sec = int(frame.timestamp)
            usec = round((frame.timestamp - sec) * 1e6)
            n = len(frame.data)
            f.write(struct.pack("<IIII", sec, usec, n, n) + frame.data)


def network_layer(frame: Frame) -> bytes | None:
    """The IP packet inside ``frame``, or None for other protocols and link types."""
    data, lt = frame.data, frame.linktype
    if lt == LINKTYPE_ETHERNET:
        offset, ethertype = 14, int.from_bytes(data[12:14], "big")
        while ethertype in (0x8100, 0x88A8) and len(data) >= offset + 4:
            ethertype = int.from_bytes(data[offset + 2 : offset + 4], "big")
            offset += 4
    elif lt == LINKTYPE_LINUX_SLL:
        offset, ethertype = 16, int.from_bytes(data[14:16], "big")
    elif lt == LINKTYPE_LINUX_SLL2:
        offset, ethertype = 20, int.from_bytes(data[0:2], "big")
    elif lt in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        return data
    else:
        return None
    return data[offset:] if ethertype in (0x0800, 0x86DD) else None


def parse_ip(packet: bytes) -> IpPacket | None:
    """Split an IPv4 or IPv6 packet; None if it is cut short or not IP."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 20:
        ihl = (packet[0] & 0x0F) * 4
        total = int.from_bytes(packet[2:4], "big")
        if ihl < 20 or total < ihl or len(packet) < total:
            return None
        protocol, payload, ah = packet[9], packet[ihl:total], False
        if protocol == IPPROTO_AH and len(payload) >= 8:
            protocol, payload, ah = payload[0], payload[(payload[1] + 2) * 4 :], True
        return IpPacket(4, packet[12:16], packet[16:20], packet[8], protocol, payload, ah)
    if version == 6 and len(packet) >= 40:
        end = 40 + int.from_bytes(packet[4:6], "big")
        if len(packet) < end:
            return None
        protocol, offset = packet[6], 40
        while protocol in _IPV6_EXTENSIONS and offset + 8 <= end:
            protocol, offset = packet[offset], offset + (packet[offset + 1] + 1) * 8
        return IpPacket(6, packet[8:24], packet[24:40], packet[7], protocol, packet[offset:end])
    return None
