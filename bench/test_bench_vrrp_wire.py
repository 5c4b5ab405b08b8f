"""Micro benchmarks: VRRP advert decode and encode, pure Python vs Cython (ops/s = packets/s).

Run: .venv/bin/pytest bench/test_bench_vrrp_wire.py --benchmark-only
"""

from __future__ import annotations

from types import ModuleType

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pykad._fastpath import vrrp_wire as wire_cy
from pykad.vrrp import wire_py
from pykad.vrrp.advert import VRRP_MCAST_V4, VRRP_MCAST_V6, Advert

SRC4, SRC6 = bytes((192, 0, 2, 1)), bytes.fromhex("fe800000000000000000000000000001")
CASES = {
    "v2-ipv4-pass": (
        Advert(2, 51, 100, 1, (bytes((192, 0, 2, 10)),), 1, b"secret\0\0"),
        4,
        SRC4,
        VRRP_MCAST_V4,
    ),
    "v3-ipv4": (Advert(3, 51, 100, 1, (bytes((192, 0, 2, 10)),)), 4, SRC4, VRRP_MCAST_V4),
    "v3-ipv6": (
        Advert(3, 51, 100, 1, (bytes.fromhex("20010db8" + "0" * 22 + "10"),)),
        6,
        SRC6,
        VRRP_MCAST_V6,
    ),
}
TWINS = [pytest.param(wire_py, id="py"), pytest.param(wire_cy, id="cy")]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("codec", TWINS)
def test_decode(benchmark: BenchmarkFixture, codec: ModuleType, case: str) -> None:
    advert, ip_version, src, dst = CASES[case]
    data = codec.encode(advert, ip_version, src, dst)
    benchmark.group = f"decode {case}"
    assert benchmark(codec.decode_untrusted, data, ip_version, src, dst) == advert


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("codec", TWINS)
def test_encode(benchmark: BenchmarkFixture, codec: ModuleType, case: str) -> None:
    advert, ip_version, src, dst = CASES[case]
    benchmark.group = f"encode {case}"
    assert len(benchmark(codec.encode, advert, ip_version, src, dst)) >= 12
