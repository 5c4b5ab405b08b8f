"""The VRRP advert codec: known bytes, round trips, and both twins agreeing on any input."""

from __future__ import annotations

import ipaddress
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykad import _accel
from pykad.vrrp import wire, wire_py
from pykad.vrrp.advert import VRRP_MCAST_V4, VRRP_MCAST_V6, Advert, AdvertError, Malformed

try:
    from pykad._fastpath import vrrp_wire as wire_cy
except ImportError:  # pragma: no cover - a checkout that was not built
    wire_cy = None

TWINS = [pytest.param(wire_py, id="py"), pytest.param(wire_cy, id="cy")]

V4_SRC = ipaddress.ip_address("192.0.2.1").packed
V6_SRC = ipaddress.ip_address("fe80::1").packed
VIP4 = ipaddress.ip_address("192.0.2.10").packed
VIP6 = ipaddress.ip_address("2001:db8::10").packed


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


def test_rfc1071_checksum_example(codec: ModuleType) -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    assert codec.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2
    assert codec.checksum(b"\x01") == 0xFEFF  # an odd byte is padded with zero


def test_v2_pass_auth_known_bytes(codec: ModuleType) -> None:
    advert = Advert(2, 51, 100, 1, (VIP4,), 1, b"secret\0\0")
    data = codec.encode(advert, 4)
    assert data == bytes.fromhex("2133640101017b73c000020a7365637265740000")
    assert codec.decode_untrusted(data, 4) == advert


def test_v3_ipv4_checksum_covers_pseudo_header(codec: ModuleType) -> None:
    advert = Advert(3, 51, 100, 100, (VIP4,))
    data = codec.encode(advert, 4, V4_SRC, VRRP_MCAST_V4)
    assert data == bytes.fromhex("31336401006405ccc000020a")
    assert codec.decode_untrusted(data, 4, V4_SRC, VRRP_MCAST_V4) == advert
    with pytest.raises(AdvertError) as err:  # another source breaks the checksum
        codec.decode_untrusted(data, 4, bytes((192, 0, 2, 2)), VRRP_MCAST_V4)
    assert err.value.reason is Malformed.CHECKSUM
    plain = codec.encode(advert, 4, pseudo=False)  # keepalived's old_unicast_checksum
    assert plain != data and codec.decode_untrusted(plain, 4, pseudo=False) == advert


def test_v3_ipv6(codec: ModuleType) -> None:
    advert = Advert(3, 7, 254, 4095, (VIP6, VIP6))
    data = codec.encode(advert, 6, V6_SRC, VRRP_MCAST_V6)
    assert len(data) == 8 + 2 * 16
    assert data[:6] == bytes((0x31, 7, 254, 2, 0x0F, 0xFF))
    assert codec.decode_untrusted(data, 6, V6_SRC, VRRP_MCAST_V6) == advert


@pytest.mark.parametrize(
    ("data", "ip_version", "reason"),
    [
        (b"\x31\x01\x64", 4, Malformed.TOO_SHORT),
        (bytes.fromhex("41336401006405ccc000020a"), 4, Malformed.VERSION),
        (bytes.fromhex("2133640101017b73c000020a7365637265740000"), 6, Malformed.VERSION),
        (bytes.fromhex("32336401006405ccc000020a"), 4, Malformed.TYPE),
        (bytes.fromhex("31336402006405ccc000020a"), 4, Malformed.LENGTH),
        (bytes.fromhex("2133640101017b73c000020a73656372"), 4, Malformed.LENGTH),
        (bytes.fromhex("31336401006405cdc000020a"), 4, Malformed.CHECKSUM),
        (bytes.fromhex("31336401006405ccc000020a"), 5, Malformed.FAMILY),
    ],
)
def test_malformed(codec: ModuleType, data: bytes, ip_version: int, reason: Malformed) -> None:
    with pytest.raises(AdvertError) as err:
        codec.decode_untrusted(data, ip_version, V4_SRC, VRRP_MCAST_V4)
    assert err.value.reason is reason


def test_v3_needs_both_ends_for_its_checksum(codec: ModuleType) -> None:
    data = bytes.fromhex("31336401006405ccc000020a")
    with pytest.raises(AdvertError) as err:
        codec.decode_untrusted(data, 4)
    assert err.value.reason is Malformed.FAMILY
    with pytest.raises(ValueError, match="source and destination"):
        codec.encode(Advert(3, 1, 100, 100, ()), 6, V4_SRC, VRRP_MCAST_V4)


@pytest.mark.parametrize(
    "advert",
    [
        Advert(4, 1, 100, 1, ()),
        Advert(2, 256, 100, 1, (), 0, b""),
        Advert(2, 1, -1, 1, (), 0, b""),
        Advert(2, 1, 100, 256, (), 0, b""),
        Advert(2, 1, 100, 1, (), 0, b"123456789"),
        Advert(3, 1, 100, 4096, ()),
        Advert(3, 1, 100, 100, (), 1, b""),
        Advert(3, 1, 100, 100, (VIP6,)),
        Advert(3, 1, 100, 100, (VIP4,) * 256),
    ],
)
def test_encode_refuses_what_does_not_fit(codec: ModuleType, advert: Advert) -> None:
    with pytest.raises(ValueError):
        codec.encode(advert, 4, V4_SRC, VRRP_MCAST_V4)


# --- Hypothesis: round trips, and the twins agree on everything ---------------------------

byte = st.integers(0, 255)


@st.composite
def adverts(draw: st.DrawFn) -> tuple[Advert, int, bytes, bytes]:
    version = draw(st.sampled_from([2, 3]))
    ip_version = 4 if version == 2 else draw(st.sampled_from([4, 6]))
    alen = 4 if ip_version == 4 else 16
    addresses = tuple(draw(st.lists(st.binary(min_size=alen, max_size=alen), max_size=20)))
    if version == 2:
        advert = Advert(
            2,
            draw(byte),
            draw(byte),
            draw(byte),
            addresses,
            draw(byte),
            draw(st.binary(min_size=8, max_size=8)),
        )
    else:
        advert = Advert(3, draw(byte), draw(byte), draw(st.integers(0, 4095)), addresses)
    src = draw(st.binary(min_size=alen, max_size=alen))
    dst = draw(st.binary(min_size=alen, max_size=alen))
    return advert, ip_version, src, dst


def outcome(fn: object, *args: object, **kwargs: object) -> object:
    """A call's result, or its exception as comparable (type, str) plus AdvertError's reason."""
    try:
        return fn(*args, **kwargs)  # type: ignore[operator]
    except AdvertError as e:
        return ("AdvertError", e.reason, e.detail)
    except (ValueError, TypeError) as e:
        return (type(e).__name__, str(e))


@given(adverts())
def test_round_trip(case: tuple[Advert, int, bytes, bytes]) -> None:
    advert, ip_version, src, dst = case
    data = wire_py.encode(advert, ip_version, src, dst)
    assert wire_py.decode_untrusted(data, ip_version, src, dst) == advert
    if wire_cy is not None:
        assert wire_cy.encode(advert, ip_version, src, dst) == data
        assert wire_cy.decode_untrusted(data, ip_version, src, dst) == advert


ends = st.sampled_from([b"", V4_SRC, V6_SRC, VRRP_MCAST_V4, VRRP_MCAST_V6, b"\0" * 5])


@settings(max_examples=500)
@given(st.binary(max_size=120), st.sampled_from([4, 6, 0, 5]), ends, ends, st.booleans())
def test_twins_agree_on_random_bytes(
    data: bytes, ip_version: int, src: bytes, dst: bytes, pseudo: bool
) -> None:
    assert wire_cy is not None
    expected = outcome(wire_py.decode_untrusted, data, ip_version, src, dst, pseudo=pseudo)
    assert outcome(wire_cy.decode_untrusted, data, ip_version, src, dst, pseudo=pseudo) == expected


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, int, bytes, bytes]:
    advert, ip_version, src, dst = draw(adverts())
    data = bytearray(wire_py.encode(advert, ip_version, src, dst))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "truncate", "extend", "set"]))
        if action == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif action == "truncate":
            del data[draw(st.integers(0, len(data))) :]
        elif action == "extend":
            data += draw(st.binary(min_size=1, max_size=40))
        elif data:
            data[draw(st.integers(0, min(7, len(data) - 1)))] = draw(byte)
    return bytes(data), ip_version, src, dst


@settings(max_examples=500)
@given(mutated())
def test_twins_agree_on_mutated_adverts(case: tuple[bytes, int, bytes, bytes]) -> None:
    assert wire_cy is not None
    data, ip_version, src, dst = case
    expected = outcome(wire_py.decode_untrusted, data, ip_version, src, dst)
    assert outcome(wire_cy.decode_untrusted, data, ip_version, src, dst) == expected


@settings(max_examples=300)
@given(
    st.builds(
        Advert,
        st.integers(1, 4),
        st.integers(-1, 256),
        st.integers(-1, 256),
        st.integers(-1, 4096),
        st.lists(st.sampled_from([VIP4, VIP6, b"\0" * 5]), max_size=3).map(tuple),
        st.integers(-1, 256),
        st.binary(max_size=9),
    ),
    st.sampled_from([4, 6, 7]),
    ends,
    ends,
)
def test_twins_agree_on_encoding_any_advert(
    advert: Advert, ip_version: int, src: bytes, dst: bytes
) -> None:
    assert wire_cy is not None
    expected = outcome(wire_py.encode, advert, ip_version, src, dst)
    assert outcome(wire_cy.encode, advert, ip_version, src, dst) == expected
