"""Micro benchmarks: BFD control packet decode and encode, pure Python vs Cython (ops/s = pps).

Run: .venv/bin/pytest bench/test_bench_bfd_wire.py --benchmark-only
"""

from __future__ import annotations

from types import ModuleType

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pykad._fastpath import bfd_wire as wire_cy
from pykad.bfd import wire_py
from pykad.bfd.packet import Auth, AuthType, ControlPacket, State

UP = ControlPacket(State.UP, 0, 3, 0x11223344, 0x55667788, 300_000, 300_000)
CASES = {
    "no-auth": UP,
    "simple-password": UP._replace(auth=Auth(AuthType.SIMPLE_PASSWORD, 1, 0, b"secret")),
    "keyed-sha1": UP._replace(auth=Auth(AuthType.KEYED_SHA1, 1, 123456, bytes(20))),
}
TWINS = [pytest.param(wire_py, id="py"), pytest.param(wire_cy, id="cy")]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("codec", TWINS)
def test_decode(benchmark: BenchmarkFixture, codec: ModuleType, case: str) -> None:
    packet = CASES[case]
    data = codec.encode(packet)
    benchmark.group = f"bfd decode {case}"
    assert benchmark(codec.decode_untrusted, data) == packet


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("codec", TWINS)
def test_encode(benchmark: BenchmarkFixture, codec: ModuleType, case: str) -> None:
    packet = CASES[case]
    benchmark.group = f"bfd encode {case}"
    assert len(benchmark(codec.encode, packet)) >= 24
