"""The BFD control packet codec: known bytes, malformed packets, and both twins agreeing."""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykad import _accel
from pykad.bfd import wire, wire_py
from pykad.bfd.packet import (
    FLAG_AUTH,
    FLAG_CPI,
    FLAG_DEMAND,
    FLAG_FINAL,
    FLAG_MULTIPOINT,
    FLAG_POLL,
    Auth,
    AuthType,
    ControlPacket,
    Diag,
    Malformed,
    PacketError,
    State,
)

try:
    from pykad._fastpath import bfd_wire as wire_cy
except ImportError:  # pragma: no cover - a checkout that was not built
    wire_cy = None

TWINS = [pytest.param(wire_py, id="py"), pytest.param(wire_cy, id="cy")]


@pytest.fixture(params=TWINS)
def codec(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType | None = request.param
    assert module is not None, "the compiled codec is missing: pip install . builds it"
    return module


def test_installed_package_loads_the_compiled_twin() -> None:
    expected = "python" if _accel.extensions_disabled() else "cython"
    loaded = wire.IMPLEMENTATION
    assert loaded == expected
    assert wire_cy is not None and _accel.implementation(wire_cy) == "cython"


# --- Known bytes, laid out by hand from RFC 5880 section 4.1 ------------------------------
#
#  0                   1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
# |                       My Discriminator                        |
# |                      Your Discriminator                       |
# |                    Desired Min TX Interval                    |
# |                   Required Min RX Interval                    |
# |                 Required Min Echo RX Interval                 |
# |   Auth Type   |   Auth Len    |    Auth Key ID / Data ...     |  (only if A)

# Up, Poll, no authentication:
#   20        Vers 1 (001), Diag 0 (00000)
#   e0        Sta 3 = Up (11), P=1 (1), F C A D M = 0 (00000)
#   03 18     Detect Mult 3, Length 24
#   11223344  My Discriminator
#   55667788  Your Discriminator
#   000f4240  Desired Min TX 1,000,000 us
#   000493e0  Required Min RX 300,000 us
#   0000c350  Required Min Echo RX 50,000 us
UP_POLL = bytes.fromhex("20e00318 11223344 55667788 000f4240 000493e0 0000c350")
UP_POLL_PACKET = ControlPacket(
    State.UP, Diag.NONE, 3, 0x11223344, 0x55667788, 1_000_000, 300_000, 50_000, poll=True
)

# Down, Diag 5 (Path Down), Final, Control Plane Independent and Demand, Your Discriminator 0
# (allowed while Down):
#   25        Vers 1 (001), Diag 5 (00101)
#   5a        Sta 1 = Down (01), P=0 F=1 C=1 A=0 D=1 M=0 (011010)
#   ff 18     Detect Mult 255, Length 24
#   00000001  My Discriminator 1, Your Discriminator 0
#   ffffffff  Desired Min TX, Required Min RX: the largest values; Echo 0
DOWN_FINAL = bytes.fromhex("255aff18 00000001 00000000 ffffffff ffffffff 00000000")
DOWN_FINAL_PACKET = ControlPacket(
    State.DOWN,
    Diag.PATH_DOWN,
    255,
    1,
    0,
    0xFFFFFFFF,
    0xFFFFFFFF,
    0,
    final=True,
    cpi=True,
    demand=True,
)

# Simple password (RFC 5880 section 4.2): Up, A bit, password "secret", key id 7.
#   20 c4 03 21  Vers 1 Diag 0; Sta Up (11) A=1 (000100); Detect Mult 3; Length 33 = 24 + 9
#   (the five header words as above, but My Discriminator 1, Your Discriminator 2)
#   01           Auth Type 1 = Simple Password
#   09           Auth Len 9 = 3 + 6 password bytes
#   07           Auth Key ID 7
#   736563726574 "secret"
PASSWORD = bytes.fromhex(
    "20c40321 00000001 00000002 000f4240 000f4240 00000000  01 09 07 736563726574"
)
PASSWORD_PACKET = ControlPacket(
    State.UP, Diag.NONE, 3, 1, 2, 1_000_000, 1_000_000, auth=Auth(1, 7, 0, b"secret")
)

# Keyed MD5 (RFC 5880 section 4.3): Init, A bit, Length 48 = 24 + 24.
#   20 84 05 30  Vers 1 Diag 0; Sta Init (10) A=1 (000100); Detect Mult 5; Length 48
#   02 18 01 00  Auth Type 2 = Keyed MD5, Auth Len 24, Key ID 1, Reserved 0
#   00000102     Sequence Number 258
#   00..0f       Auth Key/Digest, 16 bytes
MD5 = bytes.fromhex(
    "20840530 0000000a 0000000b 000186a0 000186a0 00000000"
    "02180100 00000102 000102030405060708090a0b0c0d0e0f"
)
MD5_PACKET = ControlPacket(
    State.INIT, Diag.NONE, 5, 10, 11, 100_000, 100_000, auth=Auth(2, 1, 258, bytes(range(16)))
)

# Keyed SHA1 (RFC 5880 section 4.4): AdminDown, Diag 7 (Administratively Down), Length 52.
#   27 04 01 34  Vers 1 Diag 7 (00111); Sta AdminDown (00) A=1 (000100); Detect Mult 1; Length 52
#   04 1c 02 00  Auth Type 4 = Keyed SHA1, Auth Len 28, Key ID 2, Reserved 0
#   fffffffe     Sequence Number
#   10..23       Auth Key/Hash, 20 bytes
SHA1 = bytes.fromhex(
    "27040134 00000003 00000000 00000001 00000002 00000003"
    "041c0200 fffffffe 101112131415161718191a1b1c1d1e1f20212223"
)
SHA1_PACKET = ControlPacket(
    State.ADMIN_DOWN,
    Diag.ADMINISTRATIVELY_DOWN,
    1,
    3,
    0,
    1,
    2,
    3,
    auth=Auth(4, 2, 0xFFFFFFFE, bytes(range(0x10, 0x24))),
)

KNOWN = [
    pytest.param(UP_POLL, UP_POLL_PACKET, id="up-poll"),
    pytest.param(DOWN_FINAL, DOWN_FINAL_PACKET, id="down-final-cpi-demand"),
    pytest.param(PASSWORD, PASSWORD_PACKET, id="simple-password"),
    pytest.param(MD5, MD5_PACKET, id="keyed-md5"),
    pytest.param(SHA1, SHA1_PACKET, id="keyed-sha1"),
]


def assert_plain_types(packet: ControlPacket) -> None:
    """Decoded values are plain ints and bools (not the enums), as in the pure twin."""
    for name in ControlPacket._fields:
        value = getattr(packet, name)
        if name in ("poll", "final", "cpi", "demand", "multipoint"):
            assert type(value) is bool, name
        elif name == "auth":
            assert value is None or type(value) is Auth
        else:
            assert type(value) is int, name
    if packet.auth is not None:
        assert [type(v) for v in packet.auth] == [int, int, int, bytes]


@pytest.mark.parametrize(("data", "packet"), KNOWN)
def test_known_bytes(codec: ModuleType, data: bytes, packet: ControlPacket) -> None:
    assert codec.encode(packet) == data
    decoded = codec.decode_untrusted(data)
    assert decoded == packet
    assert type(decoded) is ControlPacket
    assert_plain_types(decoded)
    # A proper tuple: hashes as an equal one built by Python, tracked by the GC.
    assert hash(decoded) == hash(packet) and {packet: 1}[decoded] == 1
    assert gc.is_tracked(decoded)
    assert decoded.auth is None or (hash(decoded.auth) == hash(packet.auth))


@pytest.mark.parametrize("auth_type", [3, 5])
def test_meticulous_types_have_the_digest_layout(codec: ModuleType, auth_type: int) -> None:
    size = 16 if auth_type == AuthType.METICULOUS_KEYED_MD5 else 20
    packet = MD5_PACKET._replace(auth=Auth(auth_type, 9, 1, b"\xab" * size))
    data = codec.encode(packet)
    assert data[3] == len(data) == 24 + 8 + size
    assert data[24:32] == bytes((auth_type, 8 + size, 9, 0, 0, 0, 0, 1))
    assert codec.decode_untrusted(data) == packet


def test_bytes_after_length_are_ignored(codec: ModuleType) -> None:
    # RFC 5880 section 6.8.6 only discards a Length beyond the datagram.
    assert codec.decode_untrusted(UP_POLL + b"\xff" * 9) == UP_POLL_PACKET
    assert codec.decode_untrusted(PASSWORD + b"\0") == PASSWORD_PACKET
    # Without the A bit, bytes inside Length past the header are not read either.
    padded = UP_POLL[:3] + b"\x1c" + UP_POLL[4:] + b"\x01\x02\x03\x04"
    assert codec.decode_untrusted(padded) == UP_POLL_PACKET


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("diag", [0, 1, 8, 9, 31])
def test_state_and_diag_decoded(codec: ModuleType, state: int, diag: int) -> None:
    data = bytes((0x20 | diag, state << 6)) + UP_POLL[2:]
    packet = codec.decode_untrusted(data)
    assert (packet.state, packet.diag, packet.version) == (state, diag, 1)
    assert not (packet.poll or packet.final or packet.cpi or packet.demand or packet.multipoint)
    assert codec.encode(packet) == data


@pytest.mark.parametrize(
    ("bit", "name"),
    [(FLAG_POLL, "poll"), (FLAG_FINAL, "final"), (FLAG_CPI, "cpi"), (FLAG_DEMAND, "demand")],
)
def test_each_flag_decoded(codec: ModuleType, bit: int, name: str) -> None:
    packet = codec.decode_untrusted(UP_POLL[:1] + bytes((0xC0 | bit,)) + UP_POLL[2:])
    flags = {f: getattr(packet, f) for f in ("poll", "final", "cpi", "demand", "multipoint")}
    assert flags == {f: f == name for f in flags}
    assert packet.auth is None


def test_all_flags_decoded(codec: ModuleType) -> None:
    flags = FLAG_POLL | FLAG_FINAL | FLAG_CPI | FLAG_DEMAND
    packet = codec.decode_untrusted(UP_POLL[:1] + bytes((0xC0 | flags,)) + UP_POLL[2:])
    assert packet.poll and packet.final and packet.cpi and packet.demand
    assert packet.multipoint is False


def test_encode_writes_the_m_bit_that_decode_refuses(codec: ModuleType) -> None:
    data = codec.encode(UP_POLL_PACKET._replace(multipoint=True))
    assert data[1] == 0xE0 | FLAG_MULTIPOINT
    with pytest.raises(PacketError) as err:
        codec.decode_untrusted(data)
    assert err.value.reason is Malformed.MULTIPOINT


def test_encode_masks_version_diag_and_state(codec: ModuleType) -> None:
    # As the pure twin: the 3/5/2-bit fields keep their low bits, ints of any size.
    packet = UP_POLL_PACKET._replace(version=9, diag=-1, state=2**70 + 1)
    assert codec.encode(packet)[:2] == bytes((0x3F, 0x60))


# --- Malformed packets (RFC 5880 section 6.8.6, in its order) ------------------------------


def with_bytes(data: bytes, **changes: int) -> bytes:
    """``data`` with single bytes replaced: ``b0=0x40`` sets byte 0."""
    out = bytearray(data)
    for key, value in changes.items():
        out[int(key[1:])] = value
    return bytes(out)


def with_word(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + value.to_bytes(4, "big") + data[offset + 4 :]


MALFORMED = [
    # (data, reason, detail)
    pytest.param(b"", Malformed.TOO_SHORT, "0 bytes", id="empty"),
    pytest.param(UP_POLL[:23], Malformed.TOO_SHORT, "23 bytes", id="23-bytes"),
    pytest.param(with_bytes(UP_POLL, b0=0x00), Malformed.VERSION, "0", id="version-0"),
    pytest.param(with_bytes(UP_POLL, b0=0x40), Malformed.VERSION, "2", id="version-2"),
    pytest.param(with_bytes(UP_POLL, b0=0xFF), Malformed.VERSION, "7", id="version-7"),
    pytest.param(
        with_bytes(UP_POLL, b3=23), Malformed.LENGTH, "length 23, 24 bytes received", id="len<24"
    ),
    pytest.param(
        with_bytes(UP_POLL, b3=25), Malformed.LENGTH, "length 25, 24 bytes received", id="len>size"
    ),
    pytest.param(
        with_bytes(UP_POLL + b"\x01\x02", b1=0xE4, b3=25),
        Malformed.LENGTH,
        "length 25, 26 bytes received",
        id="auth-len<26",
    ),
    pytest.param(
        with_bytes(UP_POLL, b1=0xE4), Malformed.LENGTH, "length 24, 24 bytes received", id="A-24"
    ),
    pytest.param(with_bytes(UP_POLL, b2=0), Malformed.DETECT_MULT, "", id="detect-mult-0"),
    pytest.param(with_bytes(UP_POLL, b1=0xE1), Malformed.MULTIPOINT, "", id="m-bit"),
    pytest.param(with_word(UP_POLL, 4, 0), Malformed.MY_DISCRIMINATOR, "", id="my-disc-0"),
    pytest.param(
        with_word(UP_POLL, 8, 0), Malformed.YOUR_DISCRIMINATOR, "state Up", id="your-disc-0-up"
    ),
    pytest.param(
        with_bytes(with_word(UP_POLL, 8, 0), b1=0x80),
        Malformed.YOUR_DISCRIMINATOR,
        "state Init",
        id="your-disc-0-init",
    ),
    pytest.param(
        with_bytes(PASSWORD, b25=10),
        Malformed.AUTH_SECTION,
        "auth length 10, packet 33",
        id="auth-len",
    ),
    pytest.param(
        with_bytes(PASSWORD[:27], b3=27, b25=3),
        Malformed.AUTH_SECTION,
        "password auth length 3",
        id="password-empty",
    ),
    pytest.param(
        with_bytes(PASSWORD[:27] + b"p" * 17, b3=44, b25=20),
        Malformed.AUTH_SECTION,
        "password auth length 20",
        id="password-17-bytes",
    ),
    pytest.param(
        with_bytes(MD5 + b"\0" * 4, b3=52, b25=28),
        Malformed.AUTH_SECTION,
        "auth type 2 length 28",
        id="md5-28",
    ),
    pytest.param(
        with_bytes(SHA1[:48], b3=48, b25=24),
        Malformed.AUTH_SECTION,
        "auth type 4 length 24",
        id="sha1-24",
    ),
    pytest.param(
        with_bytes(MD5, b24=0), Malformed.AUTH_SECTION, "auth type 0 length 24", id="type-0"
    ),
    pytest.param(
        with_bytes(MD5, b24=6), Malformed.AUTH_SECTION, "auth type 6 length 24", id="type-6"
    ),
    pytest.param(
        with_bytes(UP_POLL + b"\xff\x02", b1=0xE4, b3=26),
        Malformed.AUTH_SECTION,
        "auth type 255 length 2",
        id="type-255",
    ),
]


@pytest.mark.parametrize(("data", "reason", "detail"), MALFORMED)
def test_malformed(codec: ModuleType, data: bytes, reason: Malformed, detail: str) -> None:
    with pytest.raises(PacketError) as err:
        codec.decode_untrusted(data)
    assert err.value.reason is reason
    assert err.value.detail == detail
    assert str(err.value) == (f"{reason.value}: {detail}" if detail else reason.value)


def test_every_reason_is_tested() -> None:
    assert {p.values[1] for p in MALFORMED} == set(Malformed)


def test_discriminator_zero_is_fine_while_down(codec: ModuleType) -> None:
    for state in (State.ADMIN_DOWN, State.DOWN):
        data = with_bytes(with_word(UP_POLL, 8, 0), b1=state << 6)
        assert codec.decode_untrusted(data).your_disc == 0


def test_first_broken_rule_wins(codec: ModuleType) -> None:
    """Break every rule at once, then mend them one by one in RFC 5880 6.8.6 order."""
    # Version 0; A and M bits with State Up; Detect Mult 0; Length 0; both discriminators 0;
    # an auth section whose length does not match the packet.
    data = bytes.fromhex("00c50000 00000000 00000000 00000000 00000000 00000000 0209")
    steps: list[tuple[Malformed, Callable[[bytes], bytes]]] = [
        (Malformed.VERSION, lambda d: with_bytes(d, b0=0x20)),
        (Malformed.LENGTH, lambda d: with_bytes(d, b3=26)),
        (Malformed.DETECT_MULT, lambda d: with_bytes(d, b2=3)),
        (Malformed.MULTIPOINT, lambda d: with_bytes(d, b1=0xC4)),
        (Malformed.MY_DISCRIMINATOR, lambda d: with_word(d, 4, 1)),
        (Malformed.YOUR_DISCRIMINATOR, lambda d: with_word(d, 8, 2)),
        (Malformed.AUTH_SECTION, lambda d: with_bytes(d, b24=1, b25=2)),
    ]
    # The reasons are declared in the RFC's order, after TOO_SHORT.
    assert [Malformed.TOO_SHORT] + [r for r, _ in steps] == list(Malformed)
    with pytest.raises(PacketError) as err:
        codec.decode_untrusted(data[:23])
    assert err.value.reason is Malformed.TOO_SHORT
    for reason, mend in steps:
        with pytest.raises(PacketError) as err:
            codec.decode_untrusted(data)
        assert err.value.reason is reason
        data = mend(data)
    # Auth Type 1 with Auth Len 2 still fails (a password needs 1-16 bytes): make it one byte.
    data = with_bytes(data + b"\x05x", b3=28, b25=4)
    assert codec.decode_untrusted(data).auth == Auth(1, 5, 0, b"x")


# --- Real packets: BIRD 2.0.12 and keepalived 2.2.7 ---------------------------------------
#
# Captured 2026-11-27 with tcpdump on a veth pair between two network namespaces
# (192.0.2.1 and 192.0.2.2), UDP payloads to port 3784. BIRD ran `protocol bfd` with
# `interval 100 ms; idle tx interval 100 ms; multiplier 3` and, one run each, every
# authentication type with `password "s3cret" { id 7; }` and no peer (so State Down,
# Your Discriminator 0). Then keepalived (`bfd_instance` with min_rx/min_tx 100,
# idle_tx 1000, multiplier 3) at 192.0.2.1 against BIRD at 192.0.2.2 without
# authentication, brought up with BIRD's Init and a Poll/Final exchange.

REAL = [
    # BIRD, no authentication, Down
    ("204003183861826c00000000000186a0000186a000000000", 1, None),
    # BIRD, simple password "s3cret", key id 7
    ("20440321d229d3e500000000000186a0000186a000000000010907733363726574", 1, 1),
    # BIRD, keyed MD5 / keyed SHA1 / meticulous keyed SHA1, key id 7
    (
        "204403300799264b00000000000186a0000186a000000000"
        "02180700c5c2367d50e2d9c6bb3dcc7025a4ca11c37d1cb1",
        1,
        2,
    ),
    (
        "20440334a615e85900000000000186a0000186a000000000"
        "041c0700059b4c633cf84da8a293543183cd57fdb303d639d17b82f9",
        1,
        4,
    ),
    (
        "20440334fe9235e000000000000186a0000186a000000000"
        "051c07002e17cdf1a99241cd8c642b3a6a7b56f0f1e1604e100c3e42",
        1,
        5,
    ),
    # keepalived Down (idle_tx 1 s), BIRD Init, keepalived Up + Poll, BIRD Up + Final, Up
    ("2040031890e3ce0500000000000f4240000186a000000000", 1, None),
    ("208003189398736f90e3ce05000186a0000186a000000000", 2, None),
    ("20e0031890e3ce059398736f000186a0000186a000000000", 3, None),
    ("20d003189398736f90e3ce05000186a0000186a000000000", 3, None),
    ("20c0031890e3ce059398736f000186a0000186a000000000", 3, None),
]


@pytest.mark.parametrize(("hex_data", "state", "auth_type"), REAL)
def test_real_packets(codec: ModuleType, hex_data: str, state: int, auth_type: int | None) -> None:
    data = bytes.fromhex(hex_data)
    packet = codec.decode_untrusted(data)
    assert packet.state == state and packet.detect_mult == 3 and packet.diag == 0
    assert packet.required_min_rx_us == 100_000
    assert packet.desired_min_tx_us in (100_000, 1_000_000)
    assert codec.encode(packet) == data
    if auth_type is None:
        assert packet.auth is None
        return
    assert packet.auth is not None
    assert (packet.auth.auth_type, packet.auth.key_id) == (auth_type, 7)
    if auth_type == AuthType.SIMPLE_PASSWORD:
        assert packet.auth.data == b"s3cret"
        return
    # RFC 5880 sections 6.7.3/6.7.4: the digest is over the packet with the key (zero
    # padded) in its place, which checks that the section was split at the right bytes.
    digest = hashlib.md5 if auth_type == AuthType.KEYED_MD5 else hashlib.sha1
    key = b"s3cret".ljust(len(packet.auth.data), b"\0")
    assert digest(data[:32] + key).digest() == packet.auth.data


def test_real_poll_and_final(codec: ModuleType) -> None:
    poll = codec.decode_untrusted(bytes.fromhex(REAL[7][0]))
    final = codec.decode_untrusted(bytes.fromhex(REAL[8][0]))
    assert poll.poll and not poll.final and final.final and not final.poll
    assert (poll.my_disc, poll.your_disc) == (final.your_disc, final.my_disc)


# --- Hypothesis: round trips, and the twins agree on everything ---------------------------

u8 = st.integers(0, 0xFF)
u32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def auths(draw: st.DrawFn) -> Auth | None:
    kind = draw(st.sampled_from([None, 1, 2, 3, 4, 5]))
    if kind is None:
        return None
    if kind == AuthType.SIMPLE_PASSWORD:
        return Auth(1, draw(u8), 0, draw(st.binary(min_size=1, max_size=16)))
    size = 16 if kind in (2, 3) else 20
    return Auth(kind, draw(u8), draw(u32), draw(st.binary(min_size=size, max_size=size)))


@st.composite
def packets(draw: st.DrawFn) -> ControlPacket:
    """Packets that decode accepts, as decode returns them."""
    state = draw(st.integers(0, 3))
    return ControlPacket(
        state,
        draw(st.integers(0, 31)),
        draw(st.integers(1, 255)),
        draw(st.integers(1, 0xFFFFFFFF)),
        draw(u32 if state <= State.DOWN else st.integers(1, 0xFFFFFFFF)),
        draw(u32),
        draw(u32),
        draw(u32),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.booleans()),
        False,
        draw(auths()),
    )


@given(packets())
def test_round_trip(packet: ControlPacket) -> None:
    data = wire_py.encode(packet)
    assert len(data) == data[3] == 24 + (0 if packet.auth is None else data[25])
    assert wire_py.decode_untrusted(data) == packet
    if wire_cy is not None:
        assert wire_cy.encode(packet) == data
        assert wire_cy.decode_untrusted(data) == packet
        assert_plain_types(wire_cy.decode_untrusted(data))


@st.composite
def valid_wire(draw: st.DrawFn) -> tuple[bytes, int, int]:
    """Datagrams that decode accepts, built from the fields with everything the codec ignores.

    Returns the datagram, the Length field and the reserved byte of a digest section; the
    datagram may have unused bytes inside Length when the A bit is clear, and any bytes
    after Length.
    """
    packet = draw(packets())
    data = bytearray(wire_py.encode(packet))
    reserved = 0
    if packet.auth is not None and packet.auth.auth_type != AuthType.SIMPLE_PASSWORD:
        reserved = draw(st.sampled_from([0, 0, draw(u8)]))
        data[27] = reserved
    elif packet.auth is None:
        slack = draw(st.sampled_from([0, 0, draw(st.integers(1, 231))]))
        data += draw(st.binary(min_size=slack, max_size=slack))
        data[3] = len(data)
    length = len(data)
    data += draw(st.binary(max_size=16))
    return bytes(data), length, reserved


@settings(max_examples=300)
@given(valid_wire())
def test_encode_of_decode_gives_back_the_packet(case: tuple[bytes, int, int]) -> None:
    """encode(decode(x)) is x up to Length, except what decode does not keep.

    Not kept: the bytes after Length; without the A bit, the bytes after the 24-byte
    header inside Length (Length becomes 24); the reserved byte of a digest section
    (becomes 0). The M bit and a version other than 1 never decode. With those zero,
    encode(decode(x)) == x[:Length].
    """
    data, length, reserved = case
    expected = bytearray(data[:length])
    if not data[1] & FLAG_AUTH:
        expected = expected[:24]
        expected[3] = 24
    elif data[24] != AuthType.SIMPLE_PASSWORD:
        expected[27] = 0
    for codec in (wire_py, wire_cy):
        assert codec is not None
        out = codec.encode(codec.decode_untrusted(data))
        assert out == expected
        if length == out[3] and reserved == 0:
            assert out == data[:length]


def outcome(fn: object, *args: object) -> object:
    """A call's result, or its exception: PacketError's reason and detail, else type and text."""
    try:
        return fn(*args)  # type: ignore[operator]
    except PacketError as e:
        return ("PacketError", e.reason, e.detail, str(e))
    except Exception as e:
        return (type(e).__name__, str(e))


def header_biased(data: bytes) -> bytes:
    """Random bytes, more often with version 1 and a Length that fits, to get past the start."""
    if len(data) >= 24 and data[0] & 1:
        return bytes((0x20 | (data[0] >> 3), data[1], data[2], min(data[3], len(data)))) + data[4:]
    return data


random_datagrams = st.one_of(st.binary(max_size=30), st.binary(min_size=24, max_size=80)).map(
    header_biased
)


@settings(max_examples=1000)
@given(random_datagrams)
def test_twins_agree_on_random_bytes(data: bytes) -> None:
    assert wire_cy is not None
    assert outcome(wire_cy.decode_untrusted, data) == outcome(wire_py.decode_untrusted, data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(valid_wire())[0])
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "truncate", "extend", "set", "zero"]))
        if action == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif action == "truncate":
            del data[draw(st.integers(0, len(data))) :]
        elif action == "extend":
            data += draw(st.binary(min_size=1, max_size=40))
        elif action == "zero":  # Detect Mult, My or Your Discriminator
            start, end = draw(st.sampled_from([(2, 3), (4, 8), (8, 12)]))
            data[start:end] = bytes(len(data[start:end]))
        elif data:  # the header bytes and the auth type/length are the interesting ones
            data[draw(st.integers(0, min(27, len(data) - 1)))] = draw(u8)
    return bytes(data)


@settings(max_examples=1000)
@given(mutated())
def test_twins_agree_on_mutated_packets(data: bytes) -> None:
    assert wire_cy is not None
    assert outcome(wire_cy.decode_untrusted, data) == outcome(wire_py.decode_untrusted, data)


@pytest.mark.parametrize("twin", TWINS)
@settings(max_examples=500)
@given(st.one_of(mutated(), random_datagrams))
def test_decode_raises_only_packet_error(twin: ModuleType | None, data: bytes) -> None:
    assert twin is not None
    try:
        packet = twin.decode_untrusted(data)
    except PacketError as e:
        assert isinstance(e.reason, Malformed)
        return
    assert type(packet) is ControlPacket
    assert_plain_types(packet)


# Values that do and do not fit their fields, and of the wrong type: encode must agree on
# the result or on the exception (type and text; the pure twin's struct/bytes errors).
EDGE_INTS: list[object] = [
    -1,
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    31,
    32,
    255,
    256,
    0xFFFFFFFF,
    2**32,
    2**63 - 1,
    2**63,
]
EDGE_INTS += [-(2**63), -(2**63) - 1, 2**70, True, False, State.UP, AuthType.KEYED_SHA1]
NOT_INTS: list[object] = [1.0, None, "1", b"\x01"]
odd_int = st.one_of(st.sampled_from(EDGE_INTS), st.integers(-2, 300), st.sampled_from(NOT_INTS))
odd_flag = st.sampled_from([False, True, 0, 1, 2, 2**70, -1, None, "", "x", 1.5, State.UP])
odd_data = st.one_of(
    st.binary(max_size=240),
    st.sampled_from([bytearray(b"abc"), "text", None, b"\0" * 228, b"\0" * 229, b"\0" * 253]),
)
odd_auth = st.one_of(
    st.none(),
    st.builds(
        Auth,
        st.one_of(st.sampled_from([1, 2, 3, 4, 5, AuthType.KEYED_SHA1, True]), odd_int),
        odd_int,
        st.one_of(u32, odd_int),
        odd_data,
    ),
    st.sampled_from([(1, 2, 0, b"x"), "auth"]),
)
FLAGS = ("poll", "final", "cpi", "demand", "multipoint")


def replaced(value: Any, name: str, new: object) -> Any:
    """``value._replace(name=new)`` for any ``new``, as typing would not allow."""
    return value._replace(**{name: new})


@st.composite
def odd_packets(draw: st.DrawFn) -> ControlPacket:
    """A valid packet with none, one or a few fields replaced by odd values."""
    packet = draw(packets())
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(ControlPacket._fields))
        odd = odd_flag if name in FLAGS else odd_auth if name == "auth" else odd_int
        packet = replaced(packet, name, draw(odd))
    return packet


@settings(max_examples=1000)
@given(odd_packets())
def test_twins_agree_on_encoding_any_packet(packet: ControlPacket) -> None:
    assert wire_cy is not None
    assert outcome(wire_cy.encode, packet) == outcome(wire_py.encode, packet)


def test_twins_agree_on_encoding_edge_values() -> None:
    assert wire_cy is not None
    for packet in (UP_POLL_PACKET, PASSWORD_PACKET, MD5_PACKET):
        for name in ControlPacket._fields:
            for value in EDGE_INTS + NOT_INTS:
                odd = replaced(packet, name, value)
                assert outcome(wire_cy.encode, odd) == outcome(wire_py.encode, odd), odd
        if packet.auth is None:
            continue
        for name in Auth._fields:
            for value in [*EDGE_INTS, *NOT_INTS, b"", b"\0" * 228, b"\0" * 229, bytearray(b"x")]:
                odd = packet._replace(auth=replaced(packet.auth, name, value))
                assert outcome(wire_cy.encode, odd) == outcome(wire_py.encode, odd), odd


def test_twins_agree_on_what_is_not_a_control_packet() -> None:
    assert wire_cy is not None
    for thing in (tuple(UP_POLL_PACKET), None, UP_POLL, object()):
        assert outcome(wire_cy.encode, thing) == outcome(wire_py.encode, thing)
