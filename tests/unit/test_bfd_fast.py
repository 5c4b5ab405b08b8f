"""BfdLoop, the BFD process's event loop: both twins, on real UDP sockets over loopback.

The loop's receiver is a ``BfdReceiver`` on an ephemeral port (a dual-stack IPv6
socket reporting TTL / hop limit and destination, as in the daemon); packets come
from sockets bound to 127.0.0.1, 127.0.0.2 and ::1 with the TTL a case needs, and
the loop sends to a sink socket. Loopback delivers a datagram before ``sendto``
returns in practice; ``Net.settle`` still waits until the receiver is readable.

Two kinds of tests:

- on the real clock: what only time shows (a Detection Time that expires while
  ``wait`` blocks, the gaps between the packets of a session on the wire, the
  wake-up fd, signals);
- on a fake clock (both twins' ``_set_clock``), where ``wait`` is always called
  with a deadline at or before "now", so that it runs exactly one round and never
  blocks: every result
  (``tx_at``, ``detect_at``, the jitter draws) is exact, and Hypothesis checks
  that both twins give the same results for the same scripts of arm, disarm,
  datagrams and rounds.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykad import _accel
from pykad.drivers import bfd_fast, bfd_fast_py
from pykad.drivers.bfd_socket import BfdReceiver

try:
    from pykad._fastpath import bfd_fast as bfd_fast_cy
except ImportError:  # pragma: no cover - a checkout that was not built
    bfd_fast_cy = None

TWINS = [pytest.param(bfd_fast_py, id="py"), pytest.param(bfd_fast_cy, id="cy")]

LO4, OTHER4, LO6 = "127.0.0.1", "127.0.0.2", "::1"
SEED = 0x5EED
INTERVAL = 10_000
DETECT = 30_000
HOUR = 3_600_000_000
FAR = 2**62
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def now_us() -> int:
    return time.monotonic_ns() // 1000


def bfd_packet(your: int, my: int = 0x0BADCAFE, tail: bytes = b"") -> bytes:
    """24 bytes shaped like a BFD control packet (the loop only reads Your Discriminator)."""
    head = bytes((0x20, 0xC0, 3, 24)) + my.to_bytes(4, "big") + your.to_bytes(4, "big")
    return head + struct.pack("!III", INTERVAL, INTERVAL, 0) + tail


@pytest.fixture(params=TWINS)
def impl(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType | None = request.param
    assert module is not None, "the compiled module is missing: pip install . builds it"
    return module


def _udp(family: int, address: str, ttl: int | None = None) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if ttl is not None:
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
    sock.bind((address, 0))
    return sock


class Net:
    """A receiver for the loop, peers that send to it, and a sink for what the loop sends."""

    def __init__(self) -> None:
        self.rx = BfdReceiver(0)
        self.mrx = BfdReceiver(0)  # given to the loop as the multihop receiver, when asked
        for receiver in (self.rx, self.mrx):  # room for the bursts below
            receiver.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self.port = self.rx.sock.getsockname()[1]
        self.mport = self.mrx.sock.getsockname()[1]
        self.peers = {
            "a": _udp(socket.AF_INET, LO4, 255),
            "b": _udp(socket.AF_INET, OTHER4, 255),
            "low": _udp(socket.AF_INET, LO4, 254),
            "v6": _udp(socket.AF_INET6, LO6, 255),
        }
        self.sink = _udp(socket.AF_INET, LO4)
        self.sink.setblocking(False)
        self.sink.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sink_port = self.sink.getsockname()[1]
        self.tx = _udp(socket.AF_INET, LO4)
        self.tx6 = _udp(socket.AF_INET6, LO6)

    def send(self, peer: str, data: bytes, dest: str | None = None, multihop: bool = False) -> None:
        sock = self.peers[peer]
        if dest is None:
            dest = LO6 if sock.family == socket.AF_INET6 else LO4
        sock.sendto(data, (dest, self.mport if multihop else self.port))
        self.settle(self.mrx if multihop else self.rx)

    @staticmethod
    def settle(receiver: BfdReceiver) -> None:
        assert select.select([receiver.sock], [], [], 2.0)[0], "loopback lost a datagram"

    def sunk(self) -> list[tuple[bytes, float]]:
        """Everything the loop sent so far, with the kernel's receive time (seconds)."""
        out = []
        while True:
            try:
                data, ancillary, _, _ = self.sink.recvmsg(2048, 64)
            except BlockingIOError:
                return out
            stamp = 0.0
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("@qq", value[:16])
                    stamp = sec + nsec / 1e9
            out.append((data, stamp))

    def close(self) -> None:
        for sock in (*self.peers.values(), self.sink, self.tx, self.tx6):
            sock.close()
        self.rx.close()
        self.mrx.close()


@pytest.fixture
def net() -> Iterator[Net]:
    n = Net()
    yield n
    n.close()


@pytest.fixture
def loop(impl: ModuleType, net: Net) -> Iterator[Any]:
    lp = impl.BfdLoop([(net.rx.fileno(), False)], seed=SEED)
    yield lp
    lp.close()


def arm(impl: ModuleType, loop: Any, net: Net, discr: int, **kwargs: Any) -> None:
    """Arm ``discr``: expects bfd_packet(discr) from 127.0.0.1, sends to the sink, nothing due."""
    args: dict[str, Any] = {
        "source": impl.to16(LO4),
        "multihop": False,
        "min_ttl": 0,
        "expect": bfd_packet(discr),
        "tx": bfd_packet(0x99, my=discr),
        "tx_fd": net.tx.fileno(),
        "tx_address": LO4,
        "tx_port": net.sink_port,
        "interval_us": INTERVAL,
        "detect_mult_one": False,
        "detect_time_us": DETECT,
        "tx_at": FAR,
        "detect_at": FAR,
    }
    args.update(kwargs)
    loop.arm(discr, **args)


@contextlib.contextmanager
def fake_clock(module: ModuleType, start: int) -> Iterator[Callable[[int], None]]:
    """Make ``module``'s loop read the time given to the setter (instead of CLOCK_MONOTONIC)."""
    module._set_clock(start)
    try:
        yield module._set_clock
    finally:
        module._set_clock(None)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --------------------------------------------------------------------------- the module


def test_installed_package_loads_the_compiled_twin() -> None:
    expected = "python" if _accel.extensions_disabled() else "cython"
    assert expected == bfd_fast.IMPLEMENTATION
    assert bfd_fast_cy is not None and _accel.implementation(bfd_fast_cy) == "cython"
    if expected == "cython":
        assert bfd_fast.BfdLoop is bfd_fast_cy.BfdLoop and bfd_fast.to16 is bfd_fast_cy.to16


def test_both_twins_export_the_same_constants_and_helpers() -> None:
    assert bfd_fast_cy is not None
    for name in (
        "SLACK_MAX_US",
        "JITTER_LOW",
        "JITTER_HIGH",
        "JITTER_HIGH_MULT_ONE",
        "IP_TTL",
        "IP_PKTINFO",
        "IPV6_PKTINFO",
        "IPV6_HOPLIMIT",
    ):
        assert getattr(bfd_fast_cy, name) == getattr(bfd_fast_py, name), name
    for interval in (0, 1, 9, 10, 5_000, 9_999, 10_000, 10_001, 10**12):
        assert bfd_fast_cy.slack_us(interval) == bfd_fast_py.slack_us(interval)
    for address in ("192.0.2.1", "0.0.0.0", "::", "::1", "2001:db8::1", "::ffff:192.0.2.1"):
        assert bfd_fast_cy.to16(address) == bfd_fast_py.to16(address)
        assert len(bfd_fast_py.to16(address)) == 16
    for bad in ("192.0.2", "2001:db8::g", ""):
        with pytest.raises(OSError):
            bfd_fast_py.to16(bad)
        with pytest.raises(OSError):
            bfd_fast_cy.to16(bad)


@pytest.mark.parametrize("seed", [0, 1, SEED, 2**64 - 1, 2**64, 2**70 + 3, -1])
def test_same_seed_same_random64(seed: int) -> None:
    assert bfd_fast_cy is not None
    py = bfd_fast_py.BfdLoop([], seed=seed)
    cy = bfd_fast_cy.BfdLoop([], seed=seed)
    try:
        values = [py.random64() for _ in range(1000)]
        assert values == [cy.random64() for _ in range(1000)]
        assert all(0 <= v < 2**64 for v in values) and len(set(values)) == 1000
    finally:
        py.close()
        cy.close()


# --------------------------------------------------------------------------- bookkeeping


def test_arm_and_disarm(impl: ModuleType, loop: Any, net: Net) -> None:
    assert len(loop) == 0 and not loop.armed(7)
    arm(impl, loop, net, 7, tx_at=123, detect_at=456)
    arm(impl, loop, net, 3, tx_at=1, detect_at=2)
    assert len(loop) == 2 and loop.armed(7) and loop.armed(3) and not loop.armed(4)
    assert loop.disarm(7) == (123, 456, 0, 0)
    assert len(loop) == 1 and not loop.armed(7)
    with pytest.raises(KeyError) as info:
        loop.disarm(7)
    assert info.value.args == (7,)
    arm(impl, loop, net, 7, tx_at=5, detect_at=6)  # again, after a disarm
    assert loop.disarm(7) == (5, 6, 0, 0) and loop.disarm(3) == (1, 2, 0, 0)
    assert len(loop) == 0
    assert (loop.sent, loop.absorbed, loop.send_errors, loop.wakeups) == (0, 0, 0, 0)


def test_arm_checks_its_arguments(impl: ModuleType, loop: Any, net: Net) -> None:
    arm(impl, loop, net, 7)
    with pytest.raises(ValueError, match=r"^discriminator 7 is armed$"):
        arm(impl, loop, net, 7)
    with pytest.raises(ValueError, match=r"^source must be a 16-byte IPv6 \(or IPv4-mapped\)"):
        arm(impl, loop, net, 8, source=socket.inet_aton(LO4))
    for bad in ({"interval_us": 0}, {"detect_time_us": 0}, {"interval_us": -5}):
        with pytest.raises(ValueError, match=r"^interval and Detection Time must be positive$"):
            arm(impl, loop, net, 8, **bad)
    with pytest.raises(OSError):
        arm(impl, loop, net, 8, tx_fd=-1)
    assert len(loop) == 1 and not loop.armed(8)


def test_many_sessions_in_and_out(impl: ModuleType, loop: Any, net: Net) -> None:
    """Enough sessions to grow every table; disarmed in a scrambled order."""
    discrs = [(i * 2654435761) % 2**32 for i in range(1, 600)]
    for i, d in enumerate(discrs):
        arm(impl, loop, net, d, tx_at=i, detect_at=HOUR + i)
    assert len(loop) == len(discrs) and all(loop.armed(d) for d in discrs)
    for i, d in sorted(enumerate(discrs), key=lambda x: x[1] % 7):
        if i % 3:
            assert loop.disarm(d) == (i, HOUR + i, 0, 0)
    assert [d for d in discrs if loop.armed(d)] == discrs[::3]
    for i, d in enumerate(discrs):
        if i % 3:
            arm(impl, loop, net, d, tx_at=-i, detect_at=-i)
    for i, d in enumerate(discrs):
        assert loop.disarm(d) == ((i, HOUR + i) if i % 3 == 0 else (-i, -i)) + (0, 0)
    assert len(loop) == 0


def test_file_descriptors_are_duplicated_and_released(impl: ModuleType, net: Net) -> None:
    before = open_fds()
    lp = impl.BfdLoop([(net.rx.fileno(), False), (net.mrx.fileno(), True)], seed=1)
    with_loop = open_fds()
    arm(impl, lp, net, 1)
    arm(impl, lp, net, 2)  # the same tx_fd: one duplicate for both
    assert open_fds() == with_loop + 1
    lp.disarm(1)
    assert open_fds() == with_loop + 1
    lp.disarm(2)
    assert open_fds() == with_loop
    arm(impl, lp, net, 3)
    lp.close()
    assert open_fds() == before and len(lp) == 0


def test_the_same_receiver_twice_is_refused(impl: ModuleType, net: Net) -> None:
    fd = net.rx.fileno()
    with pytest.raises(FileExistsError):
        impl.BfdLoop([(fd, False), (fd, True)], seed=1)


# --------------------------------------------------------------------------- receiving


def test_the_expected_packet_is_absorbed(impl: ModuleType, loop: Any, net: Net) -> None:
    arm(impl, loop, net, 7)
    arm(impl, loop, net, 8, source=impl.to16(LO6))
    for _ in range(3):
        net.send("a", bfd_packet(7))
    net.send("v6", bfd_packet(8))
    before = now_us()
    assert loop.wait(0) == ([], [])
    after = now_us()
    _, detect_at, sent, absorbed = loop.disarm(7)
    assert (sent, absorbed) == (0, 3)
    assert before + DETECT <= detect_at <= after + DETECT
    assert loop.disarm(8)[1:] == (detect_at, 0, 1)  # the same round: the same time
    assert loop.absorbed == 4 and loop.sent == 0


def mutants() -> dict[str, tuple[str, bytes, dict[str, Any], tuple[str, str, int]]]:
    """name -> (peer, datagram, arm arguments, (source, destination, ttl) it is returned with)."""
    flipped = bytearray(bfd_packet(7))
    flipped[1] ^= 0x40  # the state
    other = bfd_packet(4242)
    return {
        "bytes": ("a", bytes(flipped), {}, (LO4, LO4, 255)),
        "longer": ("a", bfd_packet(7, tail=b"\0"), {}, (LO4, LO4, 255)),
        "shorter": ("a", bfd_packet(7)[:23], {"expect": bfd_packet(7)[:23]}, (LO4, LO4, 255)),
        "empty": ("a", b"", {}, (LO4, LO4, 255)),
        "source": ("b", bfd_packet(7), {}, (OTHER4, LO4, 255)),
        "ttl": ("low", bfd_packet(7), {"min_ttl": 255}, (LO4, LO4, 254)),
        "unknown-discr": ("a", other, {"expect": other}, (LO4, LO4, 255)),
        "multihop": ("a", bfd_packet(7), {"multihop": True}, (LO4, LO4, 255)),
        "ipv6": ("v6", bfd_packet(7), {}, (LO6, LO6, 255)),
        "ipv6-source": ("v6", bfd_packet(7), {"source": bfd_fast_py.to16("::2")}, (LO6, LO6, 255)),
    }


@pytest.mark.parametrize("case", list(mutants()))
def test_anything_else_is_returned(impl: ModuleType, loop: Any, net: Net, case: str) -> None:
    peer, datagram, kwargs, (source, destination, ttl) = mutants()[case]
    arm(impl, loop, net, 7, **kwargs)
    net.send(peer, datagram)
    assert loop.wait(0) == ([(datagram, source, destination, ttl, False)], [])
    assert loop.armed(7)  # Python decides
    assert loop.disarm(7)[2:] == (0, 0) and loop.absorbed == 0


def test_the_minimum_ttl_is_inclusive(impl: ModuleType, loop: Any, net: Net) -> None:
    arm(impl, loop, net, 7, min_ttl=254)
    net.send("low", bfd_packet(7))
    assert loop.wait(0) == ([], []) and loop.absorbed == 1


def test_the_destination_is_the_address_the_packet_was_sent_to(
    impl: ModuleType, loop: Any, net: Net
) -> None:
    net.send("a", b"hello", dest="127.0.0.5")
    net.send("v6", b"hello6")
    assert loop.wait(0) == (
        [(b"hello", LO4, "127.0.0.5", 255, False), (b"hello6", LO6, LO6, 255, False)],
        [],
    )


def test_receivers_are_read_in_order_with_their_multihop_flag(impl: ModuleType, net: Net) -> None:
    lp = impl.BfdLoop([(net.mrx.fileno(), True), (net.rx.fileno(), False)], seed=1)
    try:
        arm(impl, lp, net, 7, multihop=True)
        arm(impl, lp, net, 8)
        net.send("a", b"one")
        net.send("a", bfd_packet(8))  # absorbed from the single-hop receiver
        net.send("a", b"two", multihop=True)
        net.send("a", bfd_packet(7), multihop=True)  # absorbed from the multihop one
        net.send("a", bfd_packet(8), multihop=True)  # session 8 is single-hop
        assert lp.wait(0) == (
            [
                (b"two", LO4, LO4, 255, True),
                (bfd_packet(8), LO4, LO4, 255, True),
                (b"one", LO4, LO4, 255, False),
            ],
            [],
        )
        assert lp.absorbed == 2 and lp.disarm(7)[3] == 1 and lp.disarm(8)[3] == 1
    finally:
        lp.close()


def test_a_long_datagram_is_cut_like_recvmsg_cuts_it(impl: ModuleType, loop: Any, net: Net) -> None:
    big = bytes(range(256)) * 8
    net.send("a", big)
    assert loop.wait(0) == ([(big[:1500], LO4, LO4, 255, False)], [])


def test_a_burst_larger_than_a_batch(impl: ModuleType, loop: Any, net: Net) -> None:
    for d in range(1, 41):
        arm(impl, loop, net, d)
    for i in range(300):
        net.peers["a"].sendto(bfd_packet(1 + i % 40), (LO4, net.port))
        if i % 50 == 49:
            net.peers["a"].sendto(b"x%d" % i, (LO4, net.port))
    net.send("a", b"last")
    received, expired = loop.wait(0)
    assert [r[0] for r in received] == [b"x%d" % i for i in range(49, 300, 50)] + [b"last"]
    assert expired == [] and loop.absorbed == 300


# --------------------------------------------------------------------------- timers


def test_a_detection_time_expires(impl: ModuleType, loop: Any, net: Net) -> None:
    start = now_us()
    arm(impl, loop, net, 9, tx_at=start + HOUR, detect_at=start + 40_000)
    arm(impl, loop, net, 7, tx_at=start + HOUR, detect_at=start + DETECT, detect_time_us=80_000)
    net.send("a", bfd_packet(7))  # 7 lives on: 80 ms after the first round
    received, expired = loop.wait(start + 5_000_000)
    woke = now_us()
    assert received == [] and len(expired) == 1
    discr, tx_at, detect_at, sent, absorbed = expired[0]
    assert (discr, tx_at, sent, absorbed) == (9, start + HOUR, 0, 0)
    assert detect_at == start + 40_000 <= woke < start + 2_000_000
    assert not loop.armed(9) and loop.armed(7) and len(loop) == 1
    assert loop.wakeups >= 1
    received, expired = loop.wait(start + 5_000_000)
    assert received == [] and [e[0] for e in expired] == [7] and expired[0][4] == 1
    assert expired[0][2] >= start + 80_000 and now_us() >= expired[0][2]
    assert len(loop) == 0


def test_wait_returns_at_its_deadline(impl: ModuleType, loop: Any, net: Net) -> None:
    arm(impl, loop, net, 7)
    start = now_us()
    assert loop.wait(start + 30_000) == ([], [])
    assert now_us() >= start + 30_000
    assert loop.wait(start) == ([], [])  # past: one round


def test_the_packets_on_the_wire_respect_the_jitter_window(
    impl: ModuleType, loop: Any, net: Net
) -> None:
    start = now_us()
    arm(impl, loop, net, 1, tx_at=start, interval_us=INTERVAL)
    arm(impl, loop, net, 2, tx_at=start, interval_us=2 * INTERVAL, detect_mult_one=True)
    end = start + 600_000
    while now_us() < end:
        loop.wait(end)
    packets = net.sunk()
    for discr, interval, high in ((1, INTERVAL, 1.0), (2, 2 * INTERVAL, 0.9)):
        stamps = [t for data, t in packets if data == bfd_packet(0x99, my=discr)]
        gaps = [(b - a) * 1e6 for a, b in itertools.pairwise(stamps)]
        assert len(gaps) >= 0.6 * 600_000 / interval
        # The shortest gap is 75 % of the interval (a packet sent late makes the next gap shorter).
        assert sum(g >= 0.75 * interval - 200 for g in gaps) >= 0.9 * len(gaps), gaps
        # The longest: the interval (90 % with Detect Mult 1), plus how late the process woke
        # (only the median is checked: on a loaded host the process may wake late often).
        assert sorted(gaps)[len(gaps) // 2] <= high * interval + 1_000, gaps
    assert loop.sent == len(packets) and loop.send_errors == 0


def test_the_loop_keeps_how_late_its_latest_packet_went_out(
    impl: ModuleType, loop: Any, net: Net
) -> None:
    """``late_us``: the most a packet went out after its time, until the caller resets
    it (what ``max_auto_priority`` watches); a packet sent early within its slack is not
    late."""
    t0 = 10**12
    with fake_clock(impl, t0) as set_clock:
        arm(impl, loop, net, 1, tx_at=t0 + 500)  # within the slack: early, not late
        arm(impl, loop, net, 2, tx_at=t0 - 250_000)
        arm(impl, loop, net, 3, tx_at=t0 - 40_000)
        assert loop.late_us == 0
        assert loop.wait(t0) == ([], []) and loop.sent == 3
        assert loop.late_us == 250_000
        loop.late_us = 0
        set_clock(t0 + 2 * INTERVAL)
        loop.wait(t0 + 2 * INTERVAL)
        assert 0 < loop.late_us <= 2 * INTERVAL


def test_sends_that_are_nearly_due_go_in_the_same_round(
    impl: ModuleType, loop: Any, net: Net
) -> None:
    t0 = 10**12
    with fake_clock(impl, t0) as set_clock:
        arm(impl, loop, net, 1, tx_at=t0 + 5_000)
        arm(impl, loop, net, 2, tx_at=t0 + 6_000)  # 1 ms early: the slack
        arm(impl, loop, net, 3, tx_at=t0 + 6_001)
        arm(impl, loop, net, 4, tx_at=t0 + 5_500, interval_us=5_000)  # slack 500 us
        arm(impl, loop, net, 5, tx_at=t0 + 5_501, interval_us=5_000)
        assert loop.wait(t0) == ([], []) and loop.sent == 0
        set_clock(t0 + 5_000)
        assert loop.wait(t0) == ([], [])
        assert sorted(data for data, _ in net.sunk()) == sorted(
            bfd_packet(0x99, my=d) for d in (1, 2, 4)
        )
        results = {d: loop.disarm(d) for d in range(1, 6)}
    for d, interval in ((1, INTERVAL), (2, INTERVAL), (4, 5_000)):
        tx_at, _, sent, _ = results[d]
        slack = min(1_000, interval // 10)
        assert sent == 1 and 0.75 * interval + slack <= tx_at - (t0 + 5_000) <= interval
    assert results[3][0] == t0 + 6_001 and results[5][0] == t0 + 5_501
    assert results[3][2] == results[5][2] == 0


def test_jitter_draws_follow_the_generator(impl: ModuleType, loop: Any, net: Net) -> None:
    """Each send draws from xorshift64*, in ascending discriminator order."""
    reference = impl.BfdLoop([], seed=SEED)
    t0 = 10**12
    cases = {  # discr -> (interval, Detect Mult 1): armed in a scrambled order
        90: (10_000, False),
        5: (1_000_000, True),
        17: (3, False),
        2**32 - 1: (10_000, True),
        1: (1, False),
        0: (7_777, False),
    }
    try:
        with fake_clock(impl, t0) as set_clock:
            for d in (90, 2**32 - 1, 5, 1, 17, 0):
                interval, one = cases[d]
                arm(
                    impl,
                    loop,
                    net,
                    d,
                    tx_at=t0 - 1,
                    detect_at=t0 + HOUR,
                    interval_us=interval,
                    detect_mult_one=one,
                )
            set_clock(t0 + 7)
            assert loop.wait(0) == ([], [])
            for d in sorted(cases):
                interval, one = cases[d]
                slack = min(1_000, interval // 10)
                low = interval * 750 // 1000 + slack
                high = interval * (900 if one else 1000) // 1000
                jitter = low + reference.random64() % (max(high - low, 0) + 1)
                assert loop.disarm(d) == (t0 + 7 + jitter, t0 + HOUR, 1, 0)
            assert loop.random64() == reference.random64()
    finally:
        reference.close()


def test_a_send_that_fails_is_counted(impl: ModuleType, loop: Any, net: Net) -> None:
    t0 = 10**12
    with fake_clock(impl, t0):
        arm(impl, loop, net, 1, tx_at=t0, tx_address=LO6)  # an IPv6 address on an IPv4 socket
        # (Another socket: the twin's duplicate of a tx_fd takes the family of its first
        # session's address, so an IPv4 session on the same fd would fail there too.)
        arm(impl, loop, net, 2, tx_at=t0, tx_fd=net.peers["b"].fileno())
        assert loop.wait(0) == ([], [])
        assert (loop.sent, loop.send_errors) == (1, 1)
        tx_at, _, sent, _ = loop.disarm(1)
        assert sent == 0 and tx_at > t0  # the schedule goes on
        assert loop.disarm(2)[2] == 1


def test_expired_sessions_send_nothing_and_come_back_in_order(
    impl: ModuleType, loop: Any, net: Net
) -> None:
    t0 = 10**12
    with fake_clock(impl, t0):
        for d in (30, 10, 20):
            arm(impl, loop, net, d, tx_at=t0 - 5, detect_at=t0 - d)
        arm(impl, loop, net, 40, tx_at=t0 - 5, detect_at=t0 + 1)
        assert loop.wait(0) == (
            [],
            [(10, t0 - 5, t0 - 10, 0, 0), (20, t0 - 5, t0 - 20, 0, 0), (30, t0 - 5, t0 - 30, 0, 0)],
        )
        assert len(loop) == 1 and loop.sent == 1


# --------------------------------------------------------------------------- waking up


def test_the_wake_fd_returns_and_is_emptied(impl: ModuleType, net: Net) -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)
    lp = impl.BfdLoop([(net.rx.fileno(), False)], seed=1, wake_fd=r)
    try:
        os.write(w, b"x" * 100)
        start = now_us()
        assert lp.wait(start + 5_000_000) == ([], [])
        assert now_us() - start < 1_000_000
        with pytest.raises(BlockingIOError):
            os.read(r, 1)
        timer = threading.Timer(0.05, os.write, (w, b"y"))
        timer.start()
        start = now_us()
        assert lp.wait(start + 5_000_000) == ([], [])
        assert 40_000 <= now_us() - start < 1_000_000
        timer.join()
        assert lp.wakeups >= 2
    finally:
        lp.close()
        os.close(r)
        os.close(w)


class Alarm(Exception):
    pass


@contextlib.contextmanager
def alarm_in(seconds: float, handler: Callable[[int, Any], None]) -> Iterator[None]:
    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_exception_from_a_signal_handler_propagates(impl: ModuleType, loop: Any) -> None:
    def handler(signum: int, frame: Any) -> None:
        raise Alarm()

    start = now_us()
    with alarm_in(0.05, handler), pytest.raises(Alarm):
        loop.wait(start + 5_000_000)
    assert now_us() - start < 1_000_000


def test_a_signal_with_the_wakeup_fd_returns(impl: ModuleType, net: Net) -> None:
    r, w = socket.socketpair()
    r.setblocking(False)
    w.setblocking(False)
    lp = impl.BfdLoop([(net.rx.fileno(), False)], seed=1, wake_fd=r.fileno())
    old = signal.set_wakeup_fd(w.fileno())
    try:
        start = now_us()
        with alarm_in(0.05, lambda signum, frame: None):
            assert lp.wait(start + 5_000_000) == ([], [])
        assert now_us() - start < 1_000_000
        with pytest.raises(BlockingIOError):
            r.recv(1)  # the loop emptied it: the next wait does not return for it
        start = now_us()
        assert lp.wait(start + 50_000) == ([], [])
        assert now_us() >= start + 50_000
    finally:
        signal.set_wakeup_fd(old)
        lp.close()
        r.close()
        w.close()


def test_a_signal_without_the_wakeup_fd(impl: ModuleType, loop: Any) -> None:
    """The documented difference: the compiled loop returns, the twin's epoll waits on."""
    start = now_us()
    with alarm_in(0.05, lambda signum, frame: None):
        assert loop.wait(start + 300_000) == ([], [])
    if impl is bfd_fast_py:
        assert now_us() >= start + 300_000
    else:
        assert now_us() < start + 300_000


def test_close_twice_and_wait_after_close(impl: ModuleType, net: Net) -> None:
    lp = impl.BfdLoop([(net.rx.fileno(), False)], seed=1)
    lp.close()
    assert lp.wait(0) == ([], [])  # nothing to do, deadline passed: no epoll needed
    with pytest.raises(OSError):  # EBADF (the twin's closed timerfd)
        lp.wait(now_us() + 1_000_000)
    if impl is not bfd_fast_py:
        lp.close()  # the twin's second close raises OSError (EBADF): not something to rely on


# --------------------------------------------------------------------------- the twins agree

DISCRS = [0, 1, 2, 77_777, 2**32 - 1]
PEERS = ["a", "b", "low", "v6"]
KINDS = ["expect", "flip", "long", "short", "unknown", "other-discr"]

# Weighted towards what absorbs (the expected packet from the right peer), so that
# sessions live long enough to send, absorb and expire.
arm_ops = st.tuples(
    st.just("arm"),
    st.sampled_from(DISCRS),
    st.integers(-20_000, 20_000),  # tx_at - now
    st.integers(-5_000, 100_000),  # detect_at - now
    st.sampled_from([1, 3, 999, 5_000, 10_000, 10_000, 33_333]),  # interval
    st.booleans(),  # Detect Mult 1
    st.sampled_from([1, 15_000, 30_000, 30_000, 100_000]),  # Detection Time
    st.sampled_from([0, 0, 254, 255]),  # min TTL
    st.sampled_from(["a", "a", "a", "v6"]),  # whom it expects
    st.sampled_from([False, False, False, True]),  # multihop
)
send_ops = st.tuples(
    st.just("send"),
    st.sampled_from(["a", "a", "a", "b", "low", "v6"]),
    st.sampled_from(DISCRS),
    st.sampled_from(["expect"] * 5 + KINDS),
    st.sampled_from([False, False, False, True]),  # to the multihop receiver
)
ops = st.lists(
    st.one_of(
        arm_ops,
        st.tuples(st.just("disarm"), st.sampled_from(DISCRS)),
        send_ops,
        st.just(("refresh",)),  # every discriminator's packet from "a"
        st.tuples(st.just("tick"), st.integers(0, 25_000)),
    ),
    max_size=80,
)


def datagram(discr: int, kind: str) -> bytes:
    packet = bfd_packet(discr)
    if kind == "flip":
        return packet[:5] + bytes((packet[5] ^ 1,)) + packet[6:]
    if kind == "long":
        return packet + b"\0"
    if kind == "short":
        return packet[:23]
    if kind == "unknown":
        return bfd_packet(12345)
    if kind == "other-discr":
        return bfd_packet(discr ^ 1)
    return packet


def run_script(module: ModuleType, script: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``script`` on a loop of ``module`` with a fake clock; everything it returned."""
    net = Net()
    t0 = 10**12
    trace: list[Any] = []
    lp = module.BfdLoop([(net.rx.fileno(), False), (net.mrx.fileno(), True)], seed=SEED)
    try:
        with fake_clock(module, t0) as set_clock:
            now = t0
            for op in script:
                if op[0] == "arm":
                    _, d, tx, detect, interval, one, detect_time, min_ttl, whom, multihop = op
                    try:
                        arm(
                            module,
                            lp,
                            net,
                            d,
                            tx_at=now + tx,
                            detect_at=now + detect,
                            interval_us=interval,
                            detect_mult_one=one,
                            detect_time_us=detect_time,
                            min_ttl=min_ttl,
                            source=module.to16(LO6 if whom == "v6" else LO4),
                            multihop=multihop,
                        )
                        trace.append("armed")
                    except ValueError as e:
                        trace.append(("ValueError", str(e)))
                elif op[0] == "disarm":
                    try:
                        trace.append(lp.disarm(op[1]))
                    except KeyError as e:
                        trace.append(("KeyError", e.args))
                elif op[0] == "send":
                    _, peer, d, kind, multihop = op
                    net.send(peer, datagram(d, kind), multihop=multihop)
                elif op[0] == "refresh":
                    for d in DISCRS:
                        net.send("a", datagram(d, "expect"))
                else:
                    now += op[1]
                    set_clock(now)
                    trace.append(lp.wait(now - op[1] // 2))
            trace.append([lp.armed(d) for d in DISCRS])
            trace.append((len(lp), lp.sent, lp.absorbed, lp.send_errors, lp.wakeups))
            trace.append(lp.wait(now))  # what is still queued
            trace.append([lp.disarm(d) for d in DISCRS if lp.armed(d)])
            trace.append([lp.random64() for _ in range(3)])
            trace.append(sorted(data for data, _ in net.sunk()))
    finally:
        lp.close()
        net.close()
    return trace


@settings(max_examples=150, deadline=None)
@given(script=ops)
def test_both_twins_agree_on_any_script(script: list[tuple[Any, ...]]) -> None:
    assert bfd_fast_cy is not None
    assert run_script(bfd_fast_py, script) == run_script(bfd_fast_cy, script)


def test_a_scripted_session_life() -> None:
    """One hand-written script, so that the comparison above is known to see something."""
    script: list[tuple[Any, ...]] = [
        ("arm", 1, 0, 30_000, 10_000, False, 30_000, 255, "a", False),
        ("arm", 2, -1, -1, 10_000, False, 30_000, 0, "v6", False),
        ("arm", 1, 0, 0, 1, False, 1, 0, "a", False),
        ("send", "a", 1, "expect", False),
        ("send", "low", 1, "expect", False),
        ("send", "v6", 2, "flip", True),
        ("tick", 9_000),
        ("tick", 9_000),
        ("send", "a", 1, "expect", False),
        ("tick", 25_000),
        ("tick", 40_000),
    ]
    assert bfd_fast_cy is not None
    trace = run_script(bfd_fast_py, script)
    assert trace == run_script(bfd_fast_cy, script)
    t0 = 10**12
    assert trace[:3] == ["armed", "armed", ("ValueError", "discriminator 1 is armed")]
    received, expired = trace[3]
    assert [r[1:] for r in received] == [(LO4, LO4, 254, False), (LO6, LO6, 255, True)]
    assert expired == [(2, t0 - 1, t0 - 1, 0, 0)]
    assert trace[4] == ([], [])  # 1 sends at t0 + 9_000 and t0 + 18_000
    assert trace[5] == ([], [])  # t0 + 43_000: absorbs (Detection Time to t0 + 73_000), sends
    received, expired = trace[6]  # t0 + 83_000
    assert received == [] and len(expired) == 1
    discr, tx_at, detect_at, sent, absorbed = expired[0]
    assert (discr, detect_at, sent, absorbed) == (1, t0 + 73_000, 3, 2)
    assert t0 + 43_000 + 8_500 <= tx_at <= t0 + 43_000 + 10_000
