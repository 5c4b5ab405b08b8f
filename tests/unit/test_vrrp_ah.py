"""VRRPv2 IPsec-AH as keepalived 2.2.7 does it: layout, ICV, every refusal, the counter.

The byte-for-byte agreement with the real keepalived is in
``tests/interop/test_vrrp_ah_keepalived.py``; here the rules are pinned with
explicit packets and Hypothesis shows that a mutated packet never crashes the
check and never passes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pykad.vrrp import wire
from pykad.vrrp.advert import AUTH_AH, IPPROTO_VRRP, VRRP_MCAST_V4, Advert
from pykad.vrrp.ah import (
    AH_LEN,
    IPPROTO_AH,
    KEEPALIVED_LOG,
    AhCounter,
    AhError,
    AhReason,
    ah_key,
    build_ah_packet,
    ip_checksum,
    verify_ah,
)

SRC = bytes((192, 0, 2, 1))
PEER = bytes((192, 0, 2, 2))
VIP = bytes((192, 0, 2, 10))
KEY = "secret"
PAYLOAD = wire.encode(Advert(2, 51, 100, 1, (VIP,), AUTH_AH, b""), 4)


def packet(*, seq: int = 7, ip_id: int = 3, unicast: bool = False, key: str = KEY) -> bytes:
    dst = PEER if unicast else VRRP_MCAST_V4
    return build_ah_packet(
        src=SRC, dst=dst, ip_id=ip_id, vrrp_payload=PAYLOAD, key=key, seq=seq, unicast=unicast
    )


def reason(raw: bytes, *, key: str = KEY, last_seq: int = 0, unicast: bool = False) -> AhReason:
    with pytest.raises(AhError) as err:
        verify_ah(raw, key, last_seq, unicast)
    assert isinstance(err.value, ValueError)
    return err.value.reason


def with_byte(raw: bytes, index: int, value: int) -> bytes:
    return raw[:index] + bytes((value,)) + raw[index + 1 :]


def test_layout_is_keepalived_s() -> None:
    raw = packet()
    assert len(raw) == 20 + AH_LEN + len(PAYLOAD)
    version_ihl, tos, total, ip_id, frag, ttl, proto, check = struct.unpack("!BBHHHBBH", raw[:12])
    assert (version_ihl, tos, total, ip_id, frag, ttl, proto) == (
        0x45,
        0xC0,
        len(raw),
        3,
        0,
        255,
        IPPROTO_AH,
    )
    assert raw[12:16] == SRC and raw[16:20] == VRRP_MCAST_V4
    assert check == ip_checksum(raw[:10] + b"\0\0" + raw[12:20])
    assert ip_checksum(raw[:20]) == 0  # a header with a right checksum sums to zero
    next_header, plen, reserved, spi, seq = struct.unpack("!BBH4sI", raw[20:32])
    assert (next_header, plen, reserved, spi, seq) == (IPPROTO_VRRP, 4, 0, SRC, 7)
    assert raw[44:] == PAYLOAD
    advert = wire.decode_untrusted(raw[44:], 4, SRC, VRRP_MCAST_V4)
    assert advert.auth_type == AUTH_AH and advert.auth_data == bytes(8)


def test_icv_is_hmac_md5_96_over_the_zeroed_packet() -> None:
    raw = packet()
    zeroed = bytearray(raw)
    zeroed[1] = 0  # tos
    zeroed[6:8] = b"\0\0"  # frag_off
    zeroed[10:12] = b"\0\0"  # check
    zeroed[32:44] = bytes(12)  # the ICV itself
    expected = hmac.new(b"secret\0\0", bytes(zeroed), hashlib.md5).digest()[:12]
    assert raw[32:44] == expected
    unicast = packet(unicast=True)
    zeroed = bytearray(unicast)
    zeroed[1] = zeroed[8] = 0
    zeroed[6:8] = zeroed[10:12] = b"\0\0"
    zeroed[32:44] = bytes(12)
    assert unicast[32:44] == hmac.new(b"secret\0\0", bytes(zeroed), hashlib.md5).digest()[:12]


@pytest.mark.parametrize("unicast", [False, True])
def test_round_trip(unicast: bool) -> None:
    assert verify_ah(packet(seq=7, unicast=unicast), KEY, 6, unicast) == (PAYLOAD, 7)
    assert verify_ah(packet(seq=2**32 - 1, unicast=unicast), KEY, 0, unicast)[1] == 2**32 - 1


def test_mutable_fields_do_not_count() -> None:
    raw = packet()
    for index, value in [(1, 0), (6, 0x40), (10, 0), (11, 0)]:  # tos, DF, checksum
        assert verify_ah(with_byte(raw, index, value), KEY, 0) == (PAYLOAD, 7)
    # TTL counts for multicast, not for unicast peers.
    assert reason(with_byte(raw, 8, 254)) is AhReason.ICV
    uni = packet(unicast=True)
    assert verify_ah(with_byte(uni, 8, 64), KEY, 0, True) == (PAYLOAD, 7)
    assert reason(uni, unicast=False) is AhReason.ICV


def test_key_is_auth_pass_truncated_and_padded_to_8_bytes() -> None:
    assert ah_key("secret") == b"secret\0\0"
    assert ah_key(b"longer than eight") == b"longer t"
    assert verify_ah(packet(key="longer than eight"), "longer t", 0)[1] == 7
    assert verify_ah(packet(), b"secret\0\0", 0)[1] == 7


def test_each_refusal() -> None:
    raw = packet()
    assert reason(raw, key="wrong") is AhReason.ICV
    assert reason(with_byte(raw, 4, 9)) is AhReason.ICV  # the id is covered
    assert reason(raw[:-1]) is AhReason.ICV  # so is the length
    assert reason(with_byte(raw, len(raw) - 1, 0xFF)) is AhReason.ICV
    assert reason(raw, last_seq=7) is AhReason.REPLAY
    assert reason(raw, last_seq=8) is AhReason.REPLAY
    assert reason(with_byte(raw, 20, 6)) is AhReason.NEXT_HEADER
    assert reason(with_byte(raw, 9, IPPROTO_VRRP)) is AhReason.PROTOCOL
    assert reason(raw[:19]) is AhReason.SHORT
    assert reason(raw[: 20 + AH_LEN + 7]) is AhReason.SHORT
    # A sender whose SPI is not its address, with a right ICV all the same.
    spoofed = build_ah_packet(
        src=SRC, dst=VRRP_MCAST_V4, ip_id=1, vrrp_payload=PAYLOAD, key=KEY, seq=1
    )
    spoofed = spoofed[:24] + PEER + spoofed[28:]
    zeroed = bytearray(spoofed)
    zeroed[1] = 0
    zeroed[10:12] = b"\0\0"
    zeroed[32:44] = bytes(12)
    icv = hmac.new(ah_key(KEY), bytes(zeroed), hashlib.md5).digest()[:12]
    spoofed = spoofed[:32] + icv + spoofed[44:]
    with pytest.raises(AhError) as err:
        verify_ah(spoofed, KEY, 0)
    assert err.value.reason is AhReason.SPI


def test_keepalived_log_lines() -> None:
    assert set(KEEPALIVED_LOG) == set(AhReason)
    raw = packet()
    texts = {}
    for bad, key, last_seq in [
        (raw, "wrong", 0),
        (raw, KEY, 9),
        (raw[:40], KEY, 0),
        (with_byte(raw, 20, 6), KEY, 0),
    ]:
        with pytest.raises(AhError) as err:
            verify_ah(bad, key, last_seq)
        texts[err.value.reason] = err.value.log_text("VI_1")
    assert texts[AhReason.ICV] == (
        "(VI_1) IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"
    )
    assert texts[AhReason.REPLAY] == (
        "(VI_1) IPSEC-AH : sequence number 7 already processed. Packet dropped. Local(9)"
    )
    assert texts[AhReason.SHORT] == "IPv4 VRRP packet with AH too short - 40 bytes"
    assert texts[AhReason.NEXT_HEADER] is None
    spi = AhError(AhReason.SPI, saddr=SRC, spi=PEER).log_text("VI_1")
    assert spi is not None and spi.startswith("IPSEC AH : invalid IPSEC SPI value. ")


def test_build_refuses_fields_that_do_not_fit() -> None:
    kwargs: dict[str, Any] = dict(
        src=SRC, dst=VRRP_MCAST_V4, ip_id=1, vrrp_payload=PAYLOAD, key=KEY, seq=1
    )
    bads: list[dict[str, Any]] = [
        {"src": SRC[:3]},
        {"ip_id": 0x10000},
        {"seq": -1},
        {"seq": 2**32},
        {"ttl": 256},
        {"vrrp_payload": bytes(0x10000)},
    ]
    for bad in bads:
        with pytest.raises(ValueError):
            build_ah_packet(**{**kwargs, **bad})


def test_counter_follows_keepalived() -> None:
    c = AhCounter()
    assert [c.next_send(), c.next_send()] == [1, 2]
    c.received(10)
    assert c.seq == 10 and c.next_send() == 11
    c.received(5)  # verify_ah refuses it anyway; the counter never goes down
    assert c.seq == 11
    c.lower_priority_seen(3)
    assert c.seq == 4 and c.next_send() == 5
    c.seq = 0xFFFFFFFD
    assert c.next_send() == 0xFFFFFFFE and not c.cycle
    assert c.next_send() == 0xFFFFFFFE and c.cycle
    c.going_master()
    assert (c.seq, c.cycle) == (0, False)
    c.going_master()
    assert c.seq == 0


@given(st.data())
def test_mutated_packets_never_crash_and_never_verify(data: st.DataObject) -> None:
    unicast = data.draw(st.booleans())
    raw = packet(seq=data.draw(st.integers(1, 2**32 - 1)), unicast=unicast)
    mutable = {1, 6, 7, 10, 11} | ({8} if unicast else set())
    mutated = bytearray(raw)
    positions = data.draw(st.sets(st.integers(0, len(raw) - 1), min_size=1, max_size=6))
    for index in positions:
        mutated[index] = raw[index] ^ data.draw(st.integers(1, 255))
    if data.draw(st.booleans()):
        mutated = mutated[: data.draw(st.integers(0, len(mutated) - 1))]
    if data.draw(st.booleans()):
        mutated += data.draw(st.binary(min_size=1, max_size=8))
    changed = bytes(mutated) != raw and not (
        len(mutated) == len(raw)
        and all(
            a == b for i, (a, b) in enumerate(zip(mutated, raw, strict=True)) if i not in mutable
        )
    )
    try:
        verify_ah(bytes(mutated), KEY, 0, unicast)
    except AhError as err:
        assert isinstance(err.reason, AhReason)
    else:
        assert not changed, "a mutated packet verified"


@given(st.binary(max_size=200), st.integers(0, 2**32 - 1), st.booleans())
def test_random_bytes_never_crash(raw: bytes, last_seq: int, unicast: bool) -> None:
    with contextlib.suppress(AhError):
        verify_ah(raw, KEY, last_seq, unicast)
