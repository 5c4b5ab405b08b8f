"""Micro benchmarks: one BfdLoop.wait() round absorbing 1,000 packets / sending 1,000 packets.

Both twins. Divide the mean by 1,000 for the cost per absorbed / per sent packet
(the kernel's UDP path included: real sockets on loopback).

Run: .venv/bin/pytest bench/test_bench_bfd_fast.py --benchmark-only

- absorb: 1,000 armed sessions; the untimed setup queues each one's expected
  packet on the loop's receiver (a dual-stack ``BfdReceiver`` on an ephemeral
  port); the timed call is one ``wait`` round (deadline in the past).
- send: 1,000 armed sessions, all due in every round: the loop's clock is a fake
  one (see tests/unit/test_bfd_fast.py) moved on by the interval before each
  round. ``one-socket``: every session sends on the same socket (the compiled
  loop sends them with ``sendmmsg``), ``socket-each``: a socket per session (as
  in the daemon when every session has its own source address: one ``sendto``
  per packet). What the loop sends goes to a sink socket that the setup empties.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pykad._fastpath import bfd_fast as bfd_fast_cy
from pykad.drivers import bfd_fast_py
from pykad.drivers.bfd_socket import BfdReceiver

TWINS = [pytest.param(bfd_fast_py, id="py"), pytest.param(bfd_fast_cy, id="cy")]
N = 1000
LO = "127.0.0.1"
INTERVAL = 10_000
FAR = 2**62
ROUNDS = 100


def bfd_packet(your: int, my: int) -> bytes:
    head = bytes((0x20, 0xC0, 3, 24)) + my.to_bytes(4, "big") + your.to_bytes(4, "big")
    return head + struct.pack("!III", INTERVAL, INTERVAL, 0)


def _big_buffers(sock: socket.socket) -> None:
    for opt, force in ((socket.SO_SNDBUF, 32), (socket.SO_RCVBUF, 33)):  # SO_*BUFFORCE
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, 8 << 20)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, opt, 8 << 20)


def _udp(address: str = LO) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _big_buffers(sock)
    sock.bind((address, 0))
    sock.setblocking(False)
    return sock


@contextlib.contextmanager
def fake_clock(module: ModuleType, start: int) -> Iterator[Callable[[int], None]]:
    """Make ``module``'s loop read the time given to the setter (instead of CLOCK_MONOTONIC)."""
    module._set_clock(start)
    try:
        yield module._set_clock
    finally:
        module._set_clock(None)


@pytest.fixture
def receiver() -> Iterator[BfdReceiver]:
    rx = BfdReceiver(0)
    _big_buffers(rx.sock)
    yield rx
    rx.close()


def _arm(module: ModuleType, loop: Any, discr: int, tx_fd: int, port: int, tx_at: int) -> None:
    loop.arm(
        discr,
        source=module.to16(LO),
        multihop=False,
        min_ttl=0,
        expect=bfd_packet(discr, 0x1000 + discr),
        tx=bfd_packet(0x1000 + discr, discr),
        tx_fd=tx_fd,
        tx_address=LO,
        tx_port=port,
        interval_us=INTERVAL,
        detect_mult_one=False,
        detect_time_us=3 * INTERVAL,
        tx_at=tx_at,
        detect_at=FAR,
    )


@pytest.mark.parametrize("impl", TWINS)
def test_absorb_1000(benchmark: BenchmarkFixture, impl: ModuleType, receiver: BfdReceiver) -> None:
    benchmark.group = "bfd loop: one round absorbing 1,000 packets"
    peer, sink = _udp(), _udp()
    loop = impl.BfdLoop([(receiver.fileno(), False)], seed=1)
    discrs = [(i * 2654435761) % 2**32 or 1 for i in range(1, N + 1)]
    packets = [bfd_packet(d, 0x1000 + d) for d in discrs]
    for d in discrs:
        _arm(impl, loop, d, sink.fileno(), sink.getsockname()[1], FAR)
    destination = (LO, receiver.sock.getsockname()[1])

    def fill() -> None:
        for packet in packets:
            peer.sendto(packet, destination)

    try:
        result = benchmark.pedantic(loop.wait, args=(0,), setup=fill, rounds=ROUNDS, iterations=1)
        assert result == ([], [])
        assert loop.absorbed == ROUNDS * N and loop.sent == 0
    finally:
        loop.close()
        peer.close()
        sink.close()


@pytest.mark.parametrize("sockets", ["one-socket", "socket-each"])
@pytest.mark.parametrize("impl", TWINS)
def test_send_1000(
    benchmark: BenchmarkFixture, impl: ModuleType, receiver: BfdReceiver, sockets: str
) -> None:
    benchmark.group = f"bfd loop: one round sending 1,000 packets, {sockets}"
    sink = _udp()
    port = sink.getsockname()[1]
    senders = [_udp() for _ in range(N if sockets == "socket-each" else 1)]
    loop = impl.BfdLoop([(receiver.fileno(), False)], seed=1)
    t0 = 10**12
    now = [t0]
    try:
        with fake_clock(impl, t0) as set_clock:
            for i in range(N):
                _arm(impl, loop, i + 1, senders[i % len(senders)].fileno(), port, t0)

            def empty_sink() -> None:
                with contextlib.suppress(BlockingIOError):
                    while True:
                        sink.recv(64)
                now[0] += INTERVAL  # every session is due: J <= INTERVAL
                set_clock(now[0])

            def round_() -> Any:
                return loop.wait(now[0])

            benchmark.pedantic(round_, setup=empty_sink, rounds=ROUNDS, iterations=1)
        assert loop.sent == ROUNDS * N and loop.send_errors == 0
    finally:
        loop.close()
        for sock in (sink, *senders):
            sock.close()
