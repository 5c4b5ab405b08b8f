"""Micro benchmarks: RxFilter.drain of 1,000 absorbed adverts, TxPump.send_due of 1,000 keys.

Both twins. Divide the mean by 1,000 for the cost per absorbed packet / per sent advert.

Run: .venv/bin/pytest bench/test_bench_vrrp_fast.py --benchmark-only

drain reads from an AF_UNIX datagram socket pair (the packets are written in the
untimed setup). send_due needs a raw IPPROTO 112 socket to really send; without
``PYKAD_BENCH_RAW=1`` it sends on an AF_UNIX socket, where every send fails with
EINVAL after the syscall (the schedule, the batching and the syscalls are timed,
the kernel's IP output path is not). With ``PYKAD_BENCH_RAW=1`` (root) it sends
real adverts to 127.0.0.1: run that inside a scratch namespace so that no VRRP
listener sees them::

    ip netns add bench && ip -n bench link set lo up
    PYKAD_BENCH_RAW=1 ip netns exec bench .venv/bin/pytest bench/test_bench_vrrp_fast.py
    ip netns del bench
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from types import ModuleType

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pykad._fastpath import vrrp_fast as fast_cy
from pykad.drivers import fast_py
from pykad.vrrp import wire_py
from pykad.vrrp.advert import VRRP_MCAST_V4, Advert

TWINS = [pytest.param(fast_py, id="py"), pytest.param(fast_cy, id="cy")]
N = 1000
SRC, LO = bytes((192, 0, 2, 1)), bytes((127, 0, 0, 1))
ADVERT = wire_py.encode(Advert(3, 51, 100, 100, (bytes((192, 0, 2, 10)),)), 4, SRC, VRRP_MCAST_V4)
PACKET = (
    bytes((0x45, 0xC0)) + (20 + len(ADVERT)).to_bytes(2, "big") + bytes(4)
    + bytes((255, 112, 0, 0)) + SRC + VRRP_MCAST_V4 + ADVERT
)  # fmt: skip


def _bigger_buffers(sock: socket.socket) -> None:
    for opt, force in ((socket.SO_SNDBUF, 32), (socket.SO_RCVBUF, 33)):  # SO_*BUFFORCE
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, 8 << 20)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, opt, 8 << 20)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for sock in (writer, reader):
        _bigger_buffers(sock)
        sock.setblocking(False)
    yield writer, reader
    writer.close()
    reader.close()


@pytest.mark.parametrize("impl", TWINS)
def test_drain_1000_absorbed(
    benchmark: BenchmarkFixture, impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    writer, reader = pair
    rx = impl.RxFilter()
    rx.arm(51, SRC, VRRP_MCAST_V4, ADVERT, 300_000)

    def fill() -> None:
        for _ in range(N):
            writer.send(PACKET)

    result = benchmark.pedantic(
        rx.drain, args=(reader.fileno(), 1), setup=fill, rounds=200, iterations=1
    )
    assert result == []
    assert rx.absorbed(51) == 200 * N and rx.dropped == 0


@pytest.fixture
def sender() -> Iterator[tuple[int, int]]:
    """(fd, expected sent per advert): a raw socket with PYKAD_BENCH_RAW=1, else AF_UNIX."""
    if os.environ.get("PYKAD_BENCH_RAW") == "1":
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
        _bigger_buffers(sock)
        sock.setblocking(False)
        yield sock.fileno(), 1
        sock.close()
    else:
        writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        yield writer.fileno(), 0
        writer.close()
        reader.close()


@pytest.mark.parametrize("impl", TWINS)
def test_send_due_1000_keys(
    benchmark: BenchmarkFixture, impl: ModuleType, sender: tuple[int, int]
) -> None:
    fd, sends = sender
    tx = impl.TxPump()
    for key in range(N):
        tx.arm(key, fd, 4, [(ADVERT, LO, LO)], 1_000, 0)
    now = [0]

    def round_() -> int:
        deadline = int(tx.send_due(now[0]))
        now[0] += 1_000
        return deadline

    benchmark.pedantic(round_, rounds=200, iterations=1)
    total = sum(tx.sent(k) + tx.errors(k) for k in range(N))
    assert total == 200 * N
    assert sum(tx.sent(k) for k in range(N)) == total * sends
