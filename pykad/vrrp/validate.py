"""Checks on a well-formed advert before it reaches an instance's state machine.

The codec (``wire``) has already checked the format: version 2 or 3, type,
length and checksum (RFC 5798 section 7.1, RFC 3768 section 7.1). What is left
here depends on the instance: TTL 255, our VRRP version, VRRPv2 authentication
and interval, the address list, unicast versus multicast and the unicast peers,
in the order keepalived 2.2.7's ``vrrp_check_packet`` applies them, with its log
texts. Each reason to drop is one ``Drop`` member, one counter.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from pykad.vrrp.advert import AUTH_AH, AUTH_NONE, AUTH_PASS, Advert

TTL_VRRP = 255
"""RFC 5798 section 5.1.1.3: sent with TTL / Hop Limit 255, checked on receipt."""


class Drop(enum.Enum):
    """Why an advert was not given to the state machine (one counter each)."""

    TTL = "ttl"
    """Multicast with TTL/Hop Limit other than 255, or a unicast peer outside its TTL range."""
    VERSION = "version"
    """Not the VRRP version this instance runs."""
    INVALID_AUTH_TYPE = "invalid_auth_type"
    AUTH_TYPE_MISMATCH = "auth_type_mismatch"
    AUTH_FAILURE = "auth_failure"
    INTERVAL_MISMATCH = "interval_mismatch"
    """VRRPv2: Adver Int differs from ours (RFC 3768 section 7.1)."""
    ADDRESS_COUNT = "address_count"
    CAST_MISMATCH = "cast_mismatch"
    """Multicast when we use unicast peers, or the other way round."""
    ADDRESS_LIST = "address_list"
    """One of our virtual addresses is missing from the advert."""
    NOT_A_PEER = "not_a_peer"
    """Unicast from an address that is not one of our ``unicast_peer`` (if checked)."""
    MALFORMED = "malformed"
    """The codec rejected it (too short, bad type, length or checksum)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Peer:
    """A ``unicast_peer``: its address (packed) and the TTLs accepted from it."""

    address: bytes
    min_ttl: int = 0
    max_ttl: int = 255


@dataclass(frozen=True, slots=True, kw_only=True)
class Expect:
    """What an instance accepts: the part of its configuration the checks need."""

    name: str
    version: int
    advert_int_us: int
    addresses: tuple[bytes, ...] = ()
    auth_type: int = AUTH_NONE
    auth_data: bytes = b""
    """VRRPv2 PASS: the password as sent, 8 bytes padded with zeros."""
    unicast_peers: tuple[Peer, ...] = ()
    check_unicast_src: bool = False


def ntoa(packed: bytes) -> str:
    """An address for the log (packed bytes to text)."""
    return str(ipaddress.ip_address(packed)) if len(packed) in (4, 16) else packed.hex()


def check_advert(
    expect: Expect,
    advert: Advert,
    *,
    sender: bytes,
    ttl: int | None,
    multicast: bool,
    check_addresses: bool = True,
) -> tuple[Drop, str] | None:
    """``None`` if ``advert`` may go to the state machine, else the reason and the log text.

    ``ttl`` is the received TTL / Hop Limit (None if unknown); ``multicast`` says
    whether the packet's destination was a multicast group.
    """
    name = expect.name
    unicast = bool(expect.unicast_peers)
    if not unicast and ttl is not None and ttl != TTL_VRRP:
        return Drop.TTL, f"({name}) invalid TTL/HL. Received {ttl} and expect {TTL_VRRP}"
    if advert.version != expect.version:
        return (
            Drop.VERSION,
            f"({name}) wrong version. Received {advert.version} and expect {expect.version}",
        )
    if advert.version == 2:
        if advert.auth_type not in (AUTH_NONE, AUTH_PASS, AUTH_AH):
            return Drop.INVALID_AUTH_TYPE, f"({name}) Invalid auth type: {advert.auth_type}"
        if advert.auth_type != expect.auth_type:
            return (
                Drop.AUTH_TYPE_MISMATCH,
                f"({name}) received a {advert.auth_type} auth, expecting {expect.auth_type}!",
            )
        if expect.auth_type == AUTH_PASS and advert.auth_data != expect.auth_data:
            return Drop.AUTH_FAILURE, f"({name}) received an invalid passwd!"
        if advert.max_advert_int * 1_000_000 != expect.advert_int_us:
            return (
                Drop.INTERVAL_MISMATCH,
                f"({name}) advertisement interval mismatch mine={expect.advert_int_us // 1_000_000}"
                f" sec rcv'd={advert.max_advert_int} sec",
            )
    if check_addresses and len(advert.addresses) != len(expect.addresses):
        return (
            Drop.ADDRESS_COUNT,
            f"({name}) received an unexpected ip number count {len(advert.addresses)},"
            f" expected {len(expect.addresses)}!",
        )
    if multicast == unicast:
        want, got = ("un", "mult") if unicast else ("mult", "un")
        return (
            Drop.CAST_MISMATCH,
            f"({name}) Expected {want}icast packet but received {got}icast packet",
        )
    if not check_addresses:
        return None
    received = set(advert.addresses)
    for vip in expect.addresses:
        if vip not in received:
            return (
                Drop.ADDRESS_LIST,
                f"({name}) ip address associated with VRID {advert.vrid}"
                f" not present in MASTER advert: {ntoa(vip)}",
            )
    if unicast and expect.check_unicast_src:
        peer = next((p for p in expect.unicast_peers if p.address == sender), None)
        if peer is None:
            return (
                Drop.NOT_A_PEER,
                f"({name}) unicast source address {ntoa(sender)} not a unicast peer",
            )
        if ttl is not None and not peer.min_ttl <= ttl <= peer.max_ttl:
            return (
                Drop.TTL,
                f"({name}) TTL/HL {ttl} not in range {peer.min_ttl} - {peer.max_ttl}",
            )
    return None
