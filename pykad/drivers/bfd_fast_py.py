"""BFD sessions in their steady state, in bulk: the pure twin of ``pykad._fastpath.bfd_fast``.

``pykad.drivers.bfd_fast`` picks the compiled module or this one; both have this
API and give the same results for the same inputs and seed.

``BfdLoop`` is the BFD process's event loop.  It owns one epoll set with the
receive sockets, a timerfd and an optional wake-up fd (``signal.set_wakeup_fd``;
the loop empties it and returns),
and it runs the *armed* sessions itself: a session that is Up, with nothing to
negotiate, sends the same bytes every time and receives the same bytes from its
peer every time, so

- ``arm(discr, ...)`` hands the loop one session: the packet to send (``tx``),
  where and how often (the interval, jittered per RFC 5880 section 6.8.7), the
  packet its peer keeps sending (``expect``, from ``source`` with at least
  ``min_ttl``) and its Detection Time;
- ``wait(deadline_us)`` blocks until there is work for Python: it sends every
  armed session's packet when due, absorbs every received packet that is exactly
  what its session expects (the session's Detection Time starts again from the
  time it was read), and returns two lists: every other received datagram,
  ``(data, source, destination, ttl, multihop)`` (the session it names stays
  armed: Python decides whether the datagram is for it, and disarms it if so),
  and every armed session whose Detection Time passed with nothing absorbed,
  disarmed: ``(discr, tx_at, detect_at, sent, absorbed)``, the last four as
  ``disarm`` returns them.  It also returns (maybe with an empty list) at ``deadline_us``, when
  the wake-up fd is readable, or when a signal interrupts it;
- ``disarm(discr)`` takes a session back: its next transmit time, Detection Time
  deadline and the packets sent and absorbed since ``arm``.

Transmission: an armed session's next send is ``J`` after its last one, where
``J`` is ``interval`` times 75-100 % (75-90 % when Detect Mult is 1), drawn from
the loop's xorshift64* generator; to send many sessions in one wake-up, a packet
may go up to ``slack`` early, ``slack = min(1 ms, interval / 10)``, and ``J`` is
drawn from ``[75 % of interval + slack, 100 %]`` so that no two packets are ever
closer than 75 % of the interval.  A send that fails is counted, never raised.

Every round goes through the armed sessions in ascending discriminator order
(so both twins draw the same jitter for the same seed).  Received datagrams are
read from every receive socket (in the order given) until it is empty, before
any timer is looked at, so a Detection Time never expires while its packet
waits in a queue.  Addresses are given as 16-byte IPv6 addresses (IPv4 as
``::ffff:a.b.c.d``); those returned are text, IPv4 as plain dotted quads.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import select
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pykad.drivers.timer import TimerFd

SLACK_MAX_US = 1000
JITTER_LOW = 750
"""Per mille of the interval: the shortest gap between two packets (RFC 5880 6.8.7)."""
JITTER_HIGH, JITTER_HIGH_MULT_ONE = 1000, 900
_MASK64 = (1 << 64) - 1
_BUFFER = 1500
_CMSG_SPACE = 2 * socket.CMSG_SPACE(20) + 2 * socket.CMSG_SPACE(4)
IP_TTL = socket.IP_TTL
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
_MAPPED = bytes(10) + b"\xff\xff"

Datagram = tuple[bytes, str, str, int, bool]
Expired = tuple[int, int, int, int, int]


def slack_us(interval_us: int) -> int:
    return min(SLACK_MAX_US, interval_us // 10)


def to16(address: str) -> bytes:
    """An address as the loop compares it: 16 bytes, IPv4 mapped."""
    if ":" in address:
        return socket.inet_pton(socket.AF_INET6, address)
    return _MAPPED + socket.inet_pton(socket.AF_INET, address)


def _text(packed16: bytes) -> str:
    if packed16[:12] == _MAPPED:
        return socket.inet_ntop(socket.AF_INET, packed16[12:])
    return socket.inet_ntop(socket.AF_INET6, packed16)


_fake_now: int | None = None


def _now_us() -> int:
    return time.monotonic_ns() // 1000 if _fake_now is None else _fake_now


def _set_clock(now_us: int | None = None) -> None:
    """Tests only: make the loop's clock read ``now_us`` (None: CLOCK_MONOTONIC again).

    With a fake clock, call ``wait`` only with a deadline at or before it (one round).
    """
    global _fake_now
    _fake_now = now_us


@dataclass(slots=True)
class _Slot:
    discr: int
    source: bytes
    multihop: bool
    min_ttl: int
    expect: bytes
    tx: bytes
    tx_fd: int
    sock: socket.socket
    dest: tuple[str, int]
    interval: int
    high: int
    detect_time: int
    tx_at: int
    detect_at: int
    sent: int = 0
    absorbed: int = 0


class BfdLoop:
    """The event loop of the BFD process (see the module docstring)."""

    def __init__(
        self, receivers: Sequence[tuple[int, bool]], *, seed: int, wake_fd: int = -1
    ) -> None:
        self._state = (seed & _MASK64) or 0x9E3779B97F4A7C15
        self._timer = TimerFd()
        self._epoll = select.epoll()
        self._rx: dict[int, tuple[socket.socket, bool]] = {}
        for fd, multihop in receivers:
            sock = socket.socket(fileno=os.dup(fd))
            sock.setblocking(False)
            self._rx[fd] = (sock, multihop)
            self._epoll.register(fd, select.EPOLLIN)
        self._epoll.register(self._timer.fd, select.EPOLLIN)
        self._wake_fd = wake_fd
        if wake_fd >= 0:
            self._epoll.register(wake_fd, select.EPOLLIN)
        self._slots: dict[int, _Slot] = {}
        self._order: list[int] = []  # armed discriminators, ascending: the order of every round
        self._tx_socks: dict[int, tuple[socket.socket, int]] = {}  # fd -> (duplicate, users)
        self.sent = 0
        self.absorbed = 0
        self.send_errors = 0
        self.wakeups = 0
        self.late_us = 0
        """The latest a packet went out after its time (the caller resets it)."""

    # -- the generator (xorshift64*) ------------------------------------------------------

    def random64(self) -> int:
        x = self._state
        x ^= x >> 12
        x ^= (x << 25) & _MASK64
        x ^= x >> 27
        self._state = x
        return (x * 0x2545F4914F6CDD1D) & _MASK64

    def _jitter(self, slot: _Slot) -> int:
        slack = slack_us(slot.interval)
        low = slot.interval * JITTER_LOW // 1000 + slack
        high = slot.interval * slot.high // 1000
        return low + self.random64() % (max(high - low, 0) + 1)

    # -- sessions ---------------------------------------------------------------------

    def arm(
        self,
        discr: int,
        *,
        source: bytes,
        multihop: bool,
        min_ttl: int,
        expect: bytes,
        tx: bytes,
        tx_fd: int,
        tx_address: str,
        tx_port: int,
        interval_us: int,
        detect_mult_one: bool,
        detect_time_us: int,
        tx_at: int,
        detect_at: int,
    ) -> None:
        """Run session ``discr`` here until it is disarmed or escalated."""
        if discr in self._slots:
            raise ValueError(f"discriminator {discr} is armed")
        if len(source) != 16:
            raise ValueError("source must be a 16-byte IPv6 (or IPv4-mapped) address")
        if interval_us <= 0 or detect_time_us <= 0:
            raise ValueError("interval and Detection Time must be positive")
        if tx_fd not in self._tx_socks:
            self._tx_socks[tx_fd] = (socket.socket(fileno=os.dup(tx_fd)), 0)
        sock, users = self._tx_socks[tx_fd]
        self._tx_socks[tx_fd] = (sock, users + 1)
        self._slots[discr] = _Slot(
            discr,
            bytes(source),
            multihop,
            min_ttl,
            bytes(expect),
            bytes(tx),
            tx_fd,
            sock,
            (tx_address, tx_port),
            interval_us,
            JITTER_HIGH_MULT_ONE if detect_mult_one else JITTER_HIGH,
            detect_time_us,
            tx_at,
            detect_at,
        )
        bisect.insort(self._order, discr)

    def disarm(self, discr: int) -> tuple[int, int, int, int]:
        """Take session ``discr`` back: (tx_at, detect_at, sent, absorbed) since ``arm``."""
        slot = self._slots.pop(discr)
        del self._order[bisect.bisect_left(self._order, discr)]
        sock, users = self._tx_socks[slot.tx_fd]
        if users == 1:
            del self._tx_socks[slot.tx_fd]
            sock.close()
        else:
            self._tx_socks[slot.tx_fd] = (sock, users - 1)
        return slot.tx_at, slot.detect_at, slot.sent, slot.absorbed

    def armed(self, discr: int) -> bool:
        return discr in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    # -- the loop ---------------------------------------------------------------------

    def wait(self, deadline_us: int) -> tuple[list[Datagram], list[Expired]]:
        """Serve the armed sessions until Python has work (see the module docstring)."""
        received: list[Datagram] = []
        expired: list[Expired] = []
        while True:
            now = _now_us()
            for sock, multihop in self._rx.values():
                self._drain(sock, multihop, now, received)
            self._timers(now, expired)
            if received or expired or now >= deadline_us:
                return received, expired
            wake = deadline_us
            for slot in self._slots.values():
                wake = min(wake, slot.tx_at, slot.detect_at)
            self._timer.arm(wake)
            events = self._epoll.poll(-1)
            self.wakeups += 1
            for fd, _ in events:
                if fd == self._timer.fd:
                    self._timer.consume()
                    self._timer.armed_us = None
                elif fd == self._wake_fd:
                    with contextlib.suppress(OSError):
                        os.read(fd, 4096)
                    return received, expired

    def _drain(self, sock: socket.socket, multihop: bool, now: int, out: list[Datagram]) -> None:
        slots = self._slots
        while True:
            try:
                data, ancillary, _, address = sock.recvmsg(_BUFFER, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            ttl, destination = 0, b""
            for level, kind, value in ancillary:
                if level == socket.IPPROTO_IP:
                    if kind == IP_TTL:
                        ttl = struct.unpack("@i", value[:4])[0]
                    elif kind == IP_PKTINFO:
                        destination = _MAPPED + value[8:12]
                elif level == socket.IPPROTO_IPV6:
                    if kind == IPV6_HOPLIMIT:
                        ttl = struct.unpack("@i", value[:4])[0]
                    elif kind == IPV6_PKTINFO:
                        destination = value[:16]
            source = to16(address[0])
            slot = slots.get(int.from_bytes(data[8:12], "big")) if len(data) >= 24 else None
            if (
                slot is not None
                and data == slot.expect
                and source == slot.source
                and multihop == slot.multihop
                and ttl >= slot.min_ttl
            ):
                slot.detect_at = now + slot.detect_time
                slot.absorbed += 1
                self.absorbed += 1
                continue
            dest_text = _text(destination) if destination else ""
            out.append((data, _text(source), dest_text, ttl, multihop))

    def _timers(self, now: int, out: list[Expired]) -> None:
        expired = []
        for discr in self._order:
            slot = self._slots[discr]
            if slot.detect_at <= now:
                expired.append(slot.discr)
                continue
            if slot.tx_at <= now + slack_us(slot.interval):
                self.late_us = max(self.late_us, now - slot.tx_at)
                try:
                    slot.sock.sendto(slot.tx, socket.MSG_DONTWAIT, slot.dest)
                    slot.sent += 1
                    self.sent += 1
                except OSError:
                    self.send_errors += 1
                slot.tx_at = now + self._jitter(slot)
        for discr in expired:
            out.append((discr, *self.disarm(discr)))

    def close(self) -> None:
        if self._epoll.closed:
            return
        for discr in list(self._slots):
            self.disarm(discr)
        for sock, _ in self._rx.values():
            sock.close()
        self._rx.clear()
        self._epoll.close()
        self._timer.close()
