"""RxFilter, TxPump and Burst: absorbing and sending adverts, both twins agreeing.

RxFilter.drain only reads datagrams from a file descriptor, so fake IPv4 packets
written into an AF_UNIX datagram socket pair stand in for a raw socket. TxPump's
sends need a real raw socket (AF_UNIX refuses an IPv4 destination): here its
schedule and error counting are checked, the bytes on the wire in
tests/netns/test_vrrp_fast.py.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykad import _accel
from pykad.drivers import fast, fast_py
from pykad.drivers.vrrp_socket import MAX_LATENESS_US, SO_TIMESTAMPNS
from pykad.vrrp import wire_py
from pykad.vrrp.advert import VRRP_MCAST_V4, Advert

try:
    from pykad._fastpath import vrrp_fast as fast_cy
except ImportError:  # pragma: no cover - a checkout that was not built
    fast_cy = None

TWINS = [pytest.param(fast_py, id="py"), pytest.param(fast_cy, id="cy")]

SRC = bytes((192, 0, 2, 1))
OTHER = bytes((192, 0, 2, 2))
DST = VRRP_MCAST_V4
VRID = 51
ADVERT = wire_py.encode(Advert(3, VRID, 100, 100, (bytes((192, 0, 2, 10)),)), 4, SRC, DST)
HOLD = 350_000


@pytest.fixture(params=TWINS)
def impl(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType | None = request.param
    assert module is not None, "the compiled module is missing: pip install . builds it"
    return module


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    reader.setblocking(False)
    writer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    yield writer, reader
    writer.close()
    reader.close()


def ipv4(
    payload: bytes,
    src: bytes = SRC,
    dst: bytes = DST,
    *,
    ttl: int = 255,
    proto: int = 112,
    options: bytes = b"",
    version: int = 4,
    ihl: int | None = None,
) -> bytes:
    """An IPv4 packet as a raw socket reads it (header checksum left zero: nobody checks it)."""
    if ihl is None:
        ihl = 5 + len(options) // 4
    total = 20 + len(options) + len(payload)
    header = bytes((version << 4 | ihl, 0xC0)) + total.to_bytes(2, "big") + bytes(4)
    return header + bytes((ttl, proto, 0, 0)) + src + dst + options + payload


def test_installed_package_loads_the_compiled_twin() -> None:
    expected = "python" if _accel.extensions_disabled() else "cython"
    assert expected == fast.IMPLEMENTATION
    assert fast_cy is not None and _accel.implementation(fast_cy) == "cython"
    assert fast_cy.MAX_PACKET == fast_py.MAX_PACKET
    assert fast_cy.MAX_LATENESS_US == fast_py.MAX_LATENESS_US == MAX_LATENESS_US


# --------------------------------------------------------------------------- RxFilter


def test_an_armed_advert_is_absorbed_and_pushes_the_deadline(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    writer, reader = pair
    rx = impl.RxFilter()
    assert not rx.armed(VRID) and rx.deadline(VRID) == -1 and rx.absorbed(VRID) == 0
    rx.arm(VRID, SRC, DST, ADVERT, HOLD)
    assert rx.armed(VRID) and rx.deadline(VRID) == -1
    for _ in range(3):
        writer.send(ipv4(ADVERT))
    assert rx.drain(reader.fileno(), 1_000) == []
    assert rx.deadline(VRID) == 1_000 + HOLD
    assert rx.absorbed(VRID) == 3
    writer.send(ipv4(ADVERT))
    assert rx.drain(reader.fileno(), 2_000) == []
    assert rx.deadline(VRID) == 2_000 + HOLD and rx.absorbed(VRID) == 4
    assert rx.drain(reader.fileno(), 3_000) == []  # nothing waiting
    assert rx.deadline(VRID) == 2_000 + HOLD and rx.dropped == 0


def test_the_watch_sees_armed_deadlines(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    writer, reader = pair
    rx = impl.RxFilter()
    assert rx.next_deadline() == -1 and rx.expiring(10**12) == []
    rx.arm(VRID, SRC, DST, ADVERT, HOLD, 5_000)
    rx.arm(VRID + 1, SRC, DST, ADVERT[:1] + bytes((VRID + 1,)) + ADVERT[2:], HOLD, 4_000)
    rx.arm(VRID + 2, SRC, DST, ADVERT[:1] + bytes((VRID + 2,)) + ADVERT[2:], HOLD)  # none yet
    assert rx.deadline(VRID) == 5_000 and rx.deadline(VRID + 2) == -1
    assert rx.next_deadline() == 4_000
    assert rx.expiring(4_000) == [] and rx.expiring(4_001) == [VRID + 1]
    assert rx.expiring(10**12) == [VRID, VRID + 1]
    writer.send(ipv4(ADVERT))  # VRID's deadline moves on
    assert rx.drain(reader.fileno(), 1_000) == []
    assert rx.deadline(VRID) == 1_000 + HOLD and rx.expiring(10_000) == [VRID + 1]
    rx.disarm(VRID + 1)
    assert rx.next_deadline() == 1_000 + HOLD and rx.expiring(10**12) == [VRID]
    rx.disarm(VRID)
    assert rx.next_deadline() == -1 and rx.expiring(10**12) == []


def mutants() -> dict[str, bytes]:
    flipped = bytearray(ADVERT)
    flipped[2] ^= 1  # priority
    return {
        "ttl": ipv4(ADVERT, ttl=254),
        "src": ipv4(ADVERT, src=OTHER),
        "dst": ipv4(ADVERT, dst=bytes((192, 0, 2, 99))),
        "payload": ipv4(bytes(flipped)),
        "longer": ipv4(ADVERT + b"\0"),
        "shorter": ipv4(ADVERT[:-1]),
        "proto": ipv4(ADVERT, proto=17),
        "other-vrid": ipv4(ADVERT[:1] + bytes((VRID + 1,)) + ADVERT[2:]),
        "one-byte": ipv4(b"\x31"),
        "empty": ipv4(b""),
    }


@pytest.mark.parametrize("case", list(mutants()))
def test_anything_else_is_returned_parsed(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket], case: str
) -> None:
    writer, reader = pair
    rx = impl.RxFilter()
    rx.arm(VRID, SRC, DST, ADVERT, HOLD)
    packet = mutants()[case]
    writer.send(packet)
    assert rx.drain(reader.fileno(), 5) == [
        (packet[20:], packet[12:16], packet[16:20], packet[8], 5)
    ]
    assert rx.deadline(VRID) == -1 and rx.absorbed(VRID) == 0 and rx.dropped == 0


def test_the_ihl_is_honoured(impl: ModuleType, pair: tuple[socket.socket, socket.socket]) -> None:
    writer, reader = pair
    rx = impl.RxFilter()
    rx.arm(VRID, SRC, DST, ADVERT, HOLD)
    options = bytes((0x94, 4, 0, 0))  # router alert
    writer.send(ipv4(ADVERT, options=options))
    writer.send(ipv4(ADVERT, ttl=1, options=options))
    assert rx.drain(reader.fileno(), 7) == [(ADVERT, SRC, DST, 1, 7)]
    assert rx.absorbed(VRID) == 1 and rx.deadline(VRID) == 7 + HOLD


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        ipv4(ADVERT)[:19],
        ipv4(ADVERT, version=6),
        ipv4(ADVERT, ihl=4),
        ipv4(b"", ihl=6),  # IHL past the end
        ipv4(ADVERT + bytes(4096)),  # longer than MAX_PACKET
    ],
    ids=["empty", "short", "version", "ihl-small", "ihl-past-end", "too-long"],
)
def test_what_is_not_ipv4_is_dropped_and_counted(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket], packet: bytes
) -> None:
    writer, reader = pair
    rx = impl.RxFilter()
    rx.arm(VRID, SRC, DST, ADVERT, HOLD)
    writer.send(packet)
    writer.send(ipv4(ADVERT, ttl=2))
    assert rx.drain(reader.fileno(), 0) == [(ADVERT, SRC, DST, 2, 0)]
    assert rx.dropped == 1


def test_order_limit_and_disarm(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    writer, reader = pair
    rx = impl.RxFilter()
    rx.arm(VRID, SRC, DST, ADVERT, HOLD)
    for ttl in range(10):
        writer.send(ipv4(ADVERT))
        writer.send(ipv4(ADVERT, ttl=ttl))
    first = rx.drain(reader.fileno(), 1, limit=5)  # the limit counts absorbed packets too
    assert [t[3] for t in first] == [0, 1]
    assert rx.absorbed(VRID) == 3
    rest = rx.drain(reader.fileno(), 2)
    assert [t[3] for t in rest] == list(range(2, 10))
    assert rx.absorbed(VRID) == 10
    rx.disarm(VRID)
    assert not rx.armed(VRID)
    writer.send(ipv4(ADVERT))
    assert rx.drain(reader.fileno(), 3) == [(ADVERT, SRC, DST, 255, 3)]
    assert rx.absorbed(VRID) == 10 and rx.deadline(VRID) == 2 + HOLD
    rx.arm(VRID, SRC, DST, ADVERT, HOLD)  # re-arming resets the deadline, not the count
    assert rx.deadline(VRID) == -1 and rx.absorbed(VRID) == 10


def test_many_vrids_at_once(impl: ModuleType, pair: tuple[socket.socket, socket.socket]) -> None:
    writer, reader = pair
    rx = impl.RxFilter()
    adverts = {}
    for vrid in range(1, 256):
        adverts[vrid] = wire_py.encode(Advert(3, vrid, 100, 100, (SRC,)), 4, SRC, DST)
        rx.arm(vrid, SRC, DST, adverts[vrid], vrid)
    for vrid in range(1, 256):
        writer.send(ipv4(adverts[vrid]))
    assert rx.drain(reader.fileno(), 10) == []
    assert all(rx.deadline(v) == 10 + v and rx.absorbed(v) == 1 for v in range(1, 256))


def test_arm_checks_its_arguments(impl: ModuleType) -> None:
    rx = impl.RxFilter()
    with pytest.raises(ValueError):
        rx.arm(256, SRC, DST, ADVERT, HOLD)
    with pytest.raises(ValueError):
        rx.arm(VRID, SRC + b"\0", DST, ADVERT, HOLD)
    with pytest.raises(ValueError):
        rx.arm(VRID + 1, SRC, DST, ADVERT, HOLD)  # the payload is VRID 51's
    with pytest.raises(ValueError):
        rx.arm(VRID, SRC, DST, ADVERT, -1)
    with pytest.raises(ValueError):
        rx.deadline(-1)
    assert not rx.armed(VRID)


def test_arrival_times_come_from_the_kernel_timestamps(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    """With SO_TIMESTAMPNS on, a packet read 30 ms after it came is dated 30 ms back,
    absorbed or not; without a believable timestamp it is dated ``now_us``."""
    writer, reader = pair
    reader.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    rx = impl.RxFilter()
    rx.arm(VRID, SRC, DST, ADVERT, HOLD)
    now = 50_000_000

    def read(wall: Callable[[], int]) -> list[tuple[bytes, bytes, bytes, int, int]]:
        writer.send(ipv4(ADVERT))
        writer.send(ipv4(ADVERT, ttl=7))
        time.sleep(0.03)
        out: list[tuple[bytes, bytes, bytes, int, int]] = rx.drain(reader.fileno(), now, wall())
        return out

    def wall_now() -> int:
        return time.time_ns() // 1000

    (kept,) = read(wall_now)
    assert kept[:4] == (ADVERT, SRC, DST, 7)
    assert now - MAX_LATENESS_US < kept[4] <= now - 30_000
    assert kept[4] - 10_000 < rx.deadline(VRID) - HOLD <= kept[4]  # the absorbed one came first
    for wall in (
        lambda: -1,  # no wall clock given
        lambda: 1_000,  # the timestamp is ahead of it
        lambda: wall_now() + 2 * MAX_LATENESS_US,  # too far behind it
    ):
        ((*_, arrival),) = read(wall)
        assert arrival == now and rx.deadline(VRID) == now + HOLD
    reader.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 0)
    ((*_, arrival),) = read(wall_now)
    assert arrival == now


def test_a_bad_fd_raises(impl: ModuleType) -> None:
    with pytest.raises(OSError):
        impl.RxFilter().drain(-1, 0)


packet_lists = st.lists(
    st.one_of(
        st.sampled_from([ipv4(ADVERT), *mutants().values()]),
        st.builds(
            lambda p, i, b: p[:i] + bytes((p[i] ^ b,)) + p[i + 1 :] if i < len(p) else p,
            st.just(ipv4(ADVERT)),
            st.integers(0, 40),
            st.integers(1, 255),
        ),
        st.binary(max_size=64),
        st.binary(min_size=20, max_size=64).map(lambda b: bytes((0x45,)) + b[1:]),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(packets=packet_lists, limit=st.integers(1, 50))
def test_both_twins_agree_on_any_packets(packets: list[bytes], limit: int) -> None:
    assert fast_cy is not None
    results = []
    for module in (fast_py, fast_cy):
        writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        with writer, reader:
            reader.setblocking(False)
            rx = module.RxFilter()
            rx.arm(VRID, SRC, DST, ADVERT, HOLD, 1)
            for packet in packets:
                writer.send(packet)
            out = []
            for call in range(len(packets) // limit + 2):
                out.append(rx.drain(reader.fileno(), call, limit=limit))
            watch = (rx.next_deadline(), rx.expiring(HOLD + 1))
            results.append((out, rx.dropped, rx.absorbed(VRID), rx.deadline(VRID), watch))
    assert results[0] == results[1]


# --------------------------------------------------------------------------- TxPump
# On an AF_UNIX socket every send fails (EINVAL: not an AF_UNIX address), which
# shows the schedule through errors().


def test_the_schedule(impl: ModuleType, pair: tuple[socket.socket, socket.socket]) -> None:
    fd = pair[0].fileno()
    tx = impl.TxPump()
    assert tx.next_deadline() == -1 and tx.send_due(10**9) == -1
    assert not tx.armed(1) and tx.disarm(1) == -1 and tx.sent(1) == 0 and tx.errors(1) == 0
    tx.arm(1, fd, 4, [(ADVERT, DST, SRC)], 1_000, 5_000)
    tx.arm(2, fd, 4, [(ADVERT, DST, b""), (ADVERT, OTHER, SRC)], 300, 5_100)
    assert tx.armed(1) and tx.armed(2) and tx.next_deadline() == 5_000
    assert tx.send_due(4_999) == 5_000 and tx.errors(1) == 0
    assert tx.send_due(5_000) == 5_100 and tx.errors(1) == 1 and tx.errors(2) == 0
    assert tx.send_due(5_150) == 5_400 and tx.errors(2) == 2  # two packets
    assert tx.send_due(5_400) == 5_700
    assert tx.send_due(5_999) == 6_000 and tx.errors(2) == 6  # 5_700 sent, next 6_000
    # Far behind: one send each, then an interval from now (no catch-up burst).
    assert tx.send_due(20_000) == 20_300
    assert (tx.errors(1), tx.errors(2)) == (2, 8)
    assert tx.disarm(2) == 20_300 and not tx.armed(2) and tx.disarm(2) == -1
    assert tx.next_deadline() == 21_000
    tx.arm(1, fd, 4, [(ADVERT, DST, SRC)], 1_000, 30_000)  # re-arming replaces
    assert tx.next_deadline() == 30_000 and tx.send_due(29_000) == 30_000
    assert tx.send_due(30_000) == 31_000 and tx.errors(1) == 3 and tx.sent(1) == 0
    assert tx.disarm(1) == 31_000 and tx.next_deadline() == -1 and tx.send_due(10**9) == -1
    assert tx.errors(1) == 3  # counters outlive the arming


def test_the_schedule_just_behind(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    tx = impl.TxPump()
    tx.arm(7, pair[0].fileno(), 6, [(ADVERT, bytes(16), b"")], 100, 1_000)
    assert tx.send_due(1_099) == 1_100  # less than an interval late: the grid is kept
    assert tx.send_due(1_200) == 1_300  # exactly one interval late: no catch-up either
    assert tx.errors(7) == 2


def test_a_round_takes_along_the_adverts_due_within_a_fraction_of_their_interval(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    fd = pair[0].fileno()
    tx = impl.TxPump(32)  # 1/32 of 3,200: 100 early at most
    tx.arm(1, fd, 4, [(ADVERT, DST, SRC)], 3_200, 10_000)
    tx.arm(2, fd, 4, [(ADVERT, DST, SRC)], 3_200, 10_100)  # within 100 of the first
    tx.arm(3, fd, 4, [(ADVERT, DST, SRC)], 3_200, 10_101)  # not
    assert tx.send_due(9_999) == 10_000  # nothing due: nothing goes early
    assert tx.send_due(10_000) == 10_101
    assert (tx.errors(1), tx.errors(2), tx.errors(3)) == (1, 1, 0)
    # each keeps its grid: 2 is due at 13_300, not 13_200
    assert tx.send_due(10_101) == 13_200 and tx.errors(3) == 1
    assert tx.send_due(13_200) == 13_301  # 1 at 13_200 takes 2 (13_300) along
    assert (tx.errors(1), tx.errors(2), tx.errors(3)) == (2, 2, 1)
    with pytest.raises(ValueError):
        impl.TxPump(-1)


def test_tx_arm_checks_its_arguments(impl: ModuleType) -> None:
    tx = impl.TxPump()
    with pytest.raises(ValueError):
        tx.arm(1, 3, 5, [], 100, 0)
    with pytest.raises(ValueError):
        tx.arm(1, 3, 4, [(ADVERT, bytes(16), b"")], 100, 0)
    with pytest.raises(ValueError):
        tx.arm(1, 3, 6, [(ADVERT, bytes(16), SRC)], 100, 0)
    with pytest.raises(ValueError):
        tx.arm(1, 3, 4, [], 0, 0)
    assert not tx.armed(1) and tx.next_deadline() == -1


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("arm"),
            st.integers(0, 5),
            st.integers(1, 3),
            st.integers(1, 500),
            st.integers(0, 2_000),
        ),
        st.tuples(st.just("disarm"), st.integers(0, 5)),
        st.tuples(st.just("send"), st.integers(0, 700)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(ops=ops)
def test_both_pumps_agree_on_any_schedule(ops: list[tuple[str, ...]]) -> None:
    assert fast_cy is not None
    writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with writer, reader:
        traces = []
        for module in (fast_py, fast_cy):
            tx, now, trace = module.TxPump(), 0, []
            for op in ops:
                if op[0] == "arm":
                    _, key, npkts, interval, start = op
                    packets = [(ADVERT, DST, SRC)] * int(npkts)
                    tx.arm(key, writer.fileno(), 4, packets, interval, now + int(start))
                    trace.append(tx.next_deadline())
                elif op[0] == "disarm":
                    trace.append(tx.disarm(op[1]))
                else:
                    now += int(op[1])
                    trace.append(tx.send_due(now))
            trace.append([(tx.armed(k), tx.sent(k), tx.errors(k)) for k in range(6)])
            traces.append(trace)
        assert traces[0] == traces[1]


# --------------------------------------------------------------------------- Burst


def test_a_burst_sends_its_items_in_order_each_time_it_fires(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    writer, reader = pair
    burst = impl.Burst()
    assert len(burst) == 0 and burst.fire() == []
    for data in (b"advert", b"netlink", b"garp"):
        burst.add(writer.fileno(), data)
    assert len(burst) == 3
    for _ in range(2):
        assert burst.fire() == [0, 0, 0]
        assert [reader.recv(64) for _ in range(3)] == [b"advert", b"netlink", b"garp"]
    burst.close()
    assert len(burst) == 0 and burst.fire() == []


def test_a_burst_keeps_its_items_when_it_grows(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    """Growing moves the items (a realloc): each must still send its own data. Payloads
    of many sizes, added after, take the memory the items left (the C twin pointed
    into it: a takeover of 17 items sent its first three as garbage)."""
    writer, reader = pair
    burst = impl.Burst()
    mine = [bytes([i]) * (i + 1) for i in range(9)]  # past the first 8: one move
    for data in mine:
        burst.add(writer.fileno(), data)
    for size in range(16, 4096, 16):  # never sent: a closed descriptor
        burst.add(1_000_000, b"\xa5" * size)
    errnos = burst.fire()
    assert errnos[: len(mine)] == [0] * len(mine)
    assert set(errnos[len(mine) :]) == {errno.EBADF}
    assert [reader.recv(64) for _ in mine] == mine
    burst.close()


def test_a_failed_send_is_its_errno_and_the_rest_still_go(
    impl: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    writer, reader = pair
    spare, _ = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    closed = spare.fileno()
    spare.close()
    _.close()
    burst = impl.Burst()
    burst.add(closed, b"lost")
    # An IPv4 destination on an AF_UNIX socket: refused by the kernel, not by the burst.
    burst.add_ip(writer.fileno(), 4, ADVERT, DST, SRC)
    burst.add(writer.fileno(), b"after")
    errnos = burst.fire()
    assert errnos[0] == errno.EBADF and errnos[1] != 0 and errnos[2] == 0
    assert reader.recv(64) == b"after"


def test_burst_add_ip_checks_its_arguments(impl: ModuleType) -> None:
    burst = impl.Burst()
    with pytest.raises(ValueError):
        burst.add_ip(3, 5, ADVERT, DST, SRC)
    with pytest.raises(ValueError):
        burst.add_ip(3, 4, ADVERT, bytes(16), b"")
    with pytest.raises(ValueError):
        burst.add_ip(3, 6, ADVERT, bytes(16), SRC)
    with pytest.raises(ValueError):
        burst.add(-1, b"x")
    assert len(burst) == 0


@settings(max_examples=100, deadline=None)
@given(items=st.lists(st.tuples(st.booleans(), st.binary(max_size=64)), max_size=12))
def test_both_bursts_agree(items: list[tuple[bool, bytes]]) -> None:
    assert fast_cy is not None
    writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    reader.setblocking(False)
    with writer, reader:
        results = []
        for module in (fast_py, fast_cy):
            burst = module.Burst()
            for good, data in items:
                burst.add(writer.fileno() if good else 1_000_000, data)
            sent = burst.fire()
            got = []
            with contextlib.suppress(BlockingIOError):
                while True:
                    got.append(reader.recv(128))
            results.append((len(burst), sent, got))
            burst.close()
        assert results[0] == results[1]
        assert results[0][2] == [data for good, data in items if good]
