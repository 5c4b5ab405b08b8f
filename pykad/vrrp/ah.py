"""VRRPv2 IPsec-AH authentication (``auth_type AH``), exactly as keepalived 2.2.7 does it.

RFC 2338 section 5.3.6.3 (auth type 2) points to RFC 2402 (AH) with HMAC-MD5-96
(RFC 2403). There is no SA negotiation: keepalived's own scheme, which this module
reproduces byte for byte (``keepalived/vrrp/vrrp.c``: ``vrrp_build_ip4``,
``vrrp_build_ipsecah``, ``vrrp_update_pkt``, ``vrrp_in_chk_ipsecah``,
``vrrp_check_packet``; ``vrrp_ipsecah.c``: ``hmac_md5``):

* The IPv4 packet is ``IP header (20 bytes, protocol 51) | AH (24 bytes) | VRRPv2``.
  IP header: TOS 0xc0, DF clear, TTL 255 (``vrrp->ttl``), an ``id`` the sender counts
  itself (1, 2, ... skipping 0 so that the kernel leaves it alone: the ICV covers it).
* AH: next header 112 (VRRP), payload length 4 (32-bit words minus 2), reserved 0,
  SPI = the IPv4 source address (the same 4 bytes), sequence number (big endian),
  12 bytes of ICV.
* ICV = HMAC-MD5 keyed with the 8-byte ``auth_pass`` (truncated / zero-padded to 8),
  truncated to 12 bytes, over the whole packet with the IP header's mutable fields
  zeroed: TOS, frag_off, header checksum, and TTL too but **only for unicast** peers;
  the ICV field itself is zeroed. ``tot_len`` and ``id`` are covered.
* The VRRPv2 header says auth type 2 and its 8 auth-data bytes are zero (keepalived
  copies ``auth_pass`` there only for PASS); the VRRP checksum covers those zeros.
* keepalived keeps ONE sequence counter per instance for sending and receiving
  (``ipsecah_counter``); see :class:`AhCounter`.

The receiving checks run in keepalived's order, after the VRRP length, TTL, version
and auth-type checks (which belong to ``validate``): next header (a silent drop),
ICV, SPI, replay. :data:`KEEPALIVED_LOG` holds keepalived's log line for each.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import struct
import sys
from dataclasses import dataclass

from pykad.vrrp.advert import IPPROTO_VRRP

IPPROTO_AH = 51
"""IP protocol number of the Authentication Header (RFC 2402)."""

IP_HEADER_LEN = 20
AH_LEN = 24
"""next header, payload len, reserved (2), SPI (4), sequence (4), ICV (12)."""

AH_PAYLOAD_LEN = 4
"""keepalived's IPSEC_AH_PLEN: (96-bit ICV + 3 words) / 32 - 2."""

ICV_LEN = 12
"""HMAC-MD5-96 (RFC 2403 section 2)."""

KEY_LEN = 8
"""keepalived's ``auth_data``: ``auth_pass`` truncated or zero-padded to 8 bytes."""

VRRP_HEADER_LEN = 8
IPTOS_PREC_INTERNETCONTROL = 0xC0
TTL = 255

SEQ_CYCLE = 0xFFFFFFFD
"""keepalived stops incrementing its sequence number beyond this and marks it cycled."""

_ICV_OFFSET = IP_HEADER_LEN + 12
_AH = struct.Struct("!BBH4sI")


class AhReason(enum.Enum):
    """Why a received AH packet was refused."""

    SHORT = "short"
    """Not even an IPv4 header, AH and VRRP header ("IPv4 VRRP packet with AH too short")."""
    PROTOCOL = "protocol"
    """Not IPv4 or not IP protocol 51 ("No AH header but auth type is AH")."""
    NEXT_HEADER = "next_header"
    """AH for some other protocol than VRRP: keepalived drops it without a log line."""
    ICV = "icv"
    """The HMAC-MD5-96 does not match: bad password or a mutated packet."""
    SPI = "spi"
    """The SPI is not the IPv4 source address."""
    REPLAY = "replay"
    """The sequence number is not above the last one seen or sent."""


KEEPALIVED_LOG: dict[AhReason, str | None] = {
    AhReason.SHORT: "IPv4 VRRP packet with AH too short - {length} bytes",
    AhReason.PROTOCOL: "({iname}) No AH header but auth type is AH",
    AhReason.NEXT_HEADER: None,
    AhReason.ICV: (
        "({iname}) IPSEC-AH : invalid IPSEC HMAC-MD5 value."
        " Due to fields mutation or bad password !"
    ),
    AhReason.SPI: "IPSEC AH : invalid IPSEC SPI value. {saddr} and expect {spi}",
    AhReason.REPLAY: (
        "({iname}) IPSEC-AH : sequence number {seq} already processed. Packet dropped."
        " Local({local})"
    ),
}
"""keepalived 2.2.7's log line for each reason, as ``str.format`` templates (None: silent).

``{saddr}`` and ``{spi}`` are printed as keepalived does, the network-order 32-bit
value read as a host integer (``%u`` of ``ip->saddr``): see :meth:`AhError.log_text`.
Note keepalived's wording: the source address comes first, then the SPI as "expect".
"""


class AhError(ValueError):
    """A received packet failed keepalived's AH checks; ``reason`` says which."""

    def __init__(
        self,
        reason: AhReason,
        detail: str = "",
        *,
        length: int = 0,
        seq: int = 0,
        local: int = 0,
        saddr: bytes = b"",
        spi: bytes = b"",
    ) -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.length, self.seq, self.local, self.saddr, self.spi = length, seq, local, saddr, spi

    def log_text(self, iname: str) -> str | None:
        """keepalived's log line for this refusal of instance ``iname`` (None: it logs none)."""
        template = KEEPALIVED_LOG[self.reason]
        if template is None:
            return None
        return template.format(
            iname=iname,
            length=self.length,
            seq=self.seq,
            local=self.local,
            saddr=int.from_bytes(self.saddr or bytes(4), sys.byteorder),
            spi=int.from_bytes(self.spi or bytes(4), sys.byteorder),
        )


def ah_key(auth_pass: str | bytes) -> bytes:
    """The 8-byte key keepalived makes of ``auth_pass``: truncated, then zero-padded."""
    raw = auth_pass.encode() if isinstance(auth_pass, str) else auth_pass
    return raw[:KEY_LEN].ljust(KEY_LEN, b"\0")


def ip_checksum(header: bytes) -> int:
    """The Internet checksum (RFC 1071) of an IPv4 header whose checksum field is zero."""
    if len(header) % 2:
        header += b"\0"
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _icv(zeroed_header: bytes, rest: bytes, key: bytes | str) -> bytes:
    """HMAC-MD5 of the packet with its mutable fields zeroed, truncated to 96 bits."""
    return hmac.new(ah_key(key), zeroed_header + rest, hashlib.md5).digest()[:ICV_LEN]


def _zero_mutable(ip_header: bytes, *, unicast: bool) -> bytearray:
    """The IP header (any length) with TOS, frag_off, checksum (and TTL for unicast) zeroed."""
    zeroed = bytearray(ip_header)
    zeroed[1] = 0  # tos
    zeroed[6:8] = b"\0\0"  # frag_off
    zeroed[10:12] = b"\0\0"  # check
    if unicast:
        zeroed[8] = 0  # ttl
    return zeroed


def build_ah_packet(
    *,
    src: bytes,
    dst: bytes,
    ip_id: int,
    vrrp_payload: bytes,
    key: bytes | str,
    seq: int,
    ttl: int = TTL,
    tos: int = IPTOS_PREC_INTERNETCONTROL,
    unicast: bool = False,
) -> bytes:
    """The whole IPv4 packet of one AH-authenticated VRRPv2 advert, as keepalived sends it.

    ``src``/``dst`` are packed IPv4 addresses, ``ip_id`` the IP identification (keep
    it non-zero: with IP_HDRINCL the kernel replaces a zero id, which the ICV
    covers), ``vrrp_payload`` the VRRPv2 message (auth type 2, zero auth data),
    ``key`` the ``auth_pass``, ``seq`` the AH sequence number. ``unicast`` zeroes
    the TTL in the ICV, as keepalived does for ``unicast_peer`` instances.
    The header checksum is filled in (the kernel recomputes the same one).
    """
    if len(src) != 4 or len(dst) != 4:
        raise ValueError("source and destination must be packed IPv4 addresses")
    if not 0 <= ip_id <= 0xFFFF or not 0 <= seq <= 0xFFFFFFFF:
        raise ValueError("IP id must be 0-65535 and sequence number 0-2^32-1")
    if not 0 <= ttl <= 0xFF or not 0 <= tos <= 0xFF:
        raise ValueError("TTL and TOS must be 0-255")
    total = IP_HEADER_LEN + AH_LEN + len(vrrp_payload)
    if total > 0xFFFF:
        raise ValueError("packet too long")
    header = struct.pack("!BBHHHBBH4s4s", 0x45, tos, total, ip_id, 0, ttl, IPPROTO_AH, 0, src, dst)
    ah_zero = _AH.pack(IPPROTO_VRRP, AH_PAYLOAD_LEN, 0, src, seq) + bytes(ICV_LEN)
    icv = _icv(bytes(_zero_mutable(header, unicast=unicast)), ah_zero + vrrp_payload, key)
    header = header[:10] + struct.pack("!H", ip_checksum(header)) + header[12:]
    return header + ah_zero[:12] + icv + vrrp_payload


def verify_ah(
    packet: bytes, key: bytes | str, last_seq: int, unicast: bool = False
) -> tuple[bytes, int]:
    """Check a received IPv4 AH packet as keepalived does; return (VRRP message, sequence).

    ``packet`` is the whole IPv4 packet as a raw socket reads it (its length is the
    ICV's extent, as keepalived's ``buflen``), ``last_seq`` the instance's counter
    (:attr:`AhCounter.seq`): a sequence number must be above it. Raises
    :class:`AhError` (a ``ValueError``) with the reason otherwise. The caller then
    records the sequence number (:meth:`AhCounter.received`).
    """
    if len(packet) < IP_HEADER_LEN:
        raise AhError(AhReason.SHORT, "no IPv4 header", length=len(packet))
    if packet[0] >> 4 != 4 or packet[9] != IPPROTO_AH:
        raise AhError(AhReason.PROTOCOL, f"IP version {packet[0] >> 4}, protocol {packet[9]}")
    ihl = (packet[0] & 0x0F) * 4
    if ihl < IP_HEADER_LEN or len(packet) < ihl + AH_LEN + VRRP_HEADER_LEN:
        raise AhError(AhReason.SHORT, f"{len(packet)} bytes", length=len(packet))
    next_header, _plen, _reserved, spi, seq = _AH.unpack_from(packet, ihl)
    if next_header != IPPROTO_VRRP:
        raise AhError(AhReason.NEXT_HEADER, f"next header {next_header}")
    vrrp_at = ihl + AH_LEN
    zeroed = _zero_mutable(packet[:vrrp_at], unicast=unicast)
    zeroed[ihl + 12 : vrrp_at] = bytes(ICV_LEN)
    icv = _icv(bytes(zeroed), packet[vrrp_at:], key)
    if not hmac.compare_digest(icv, packet[ihl + 12 : vrrp_at]):
        raise AhError(AhReason.ICV, "HMAC-MD5-96 mismatch")
    saddr = packet[12:16]
    if spi != saddr:
        raise AhError(AhReason.SPI, f"SPI {spi.hex()} is not the source", saddr=saddr, spi=spi)
    if seq <= last_seq:
        raise AhError(AhReason.REPLAY, f"sequence {seq} <= {last_seq}", seq=seq, local=last_seq)
    return packet[vrrp_at:], seq


@dataclass(slots=True)
class AhCounter:
    """keepalived's per-instance ``ipsecah_counter``: one counter for sending and receiving.

    keepalived 2.2.7 increments it before each advert it sends and raises it to each
    accepted received sequence number, so a peer must send numbers above both.
    """

    seq: int = 0
    cycle: bool = False

    def next_send(self) -> int:
        """The sequence number of the next advert (``vrrp_update_pkt``).

        Beyond 0xFFFFFFFD keepalived stops counting, marks the counter cycled and
        resends the same number (reset when it next becomes MASTER).
        """
        if self.seq > SEQ_CYCLE:
            self.cycle = True
        else:
            self.seq += 1
        return self.seq

    def received(self, seq: int, *, backup: bool = False) -> None:
        """Record an accepted advert's sequence number (``vrrp_in_chk_ipsecah``)."""
        if seq > self.seq:
            self.seq = seq
        if backup and seq >= self.seq:
            self.cycle = False

    def lower_priority_seen(self, seq: int) -> None:
        """MASTER got a lower-priority advert: keepalived syncs to its number plus one."""
        self.seq = (seq + 1) & 0xFFFFFFFF
        self.cycle = False

    def going_master(self) -> None:
        """``vrrp_state_goto_master``: a cycled counter starts again from 0."""
        if self.cycle:
            self.cycle = False
            self.seq = 0


__all__ = [
    "AH_LEN",
    "IPPROTO_AH",
    "KEEPALIVED_LOG",
    "AhCounter",
    "AhError",
    "AhReason",
    "ah_key",
    "build_ah_packet",
    "ip_checksum",
    "verify_ah",
]
