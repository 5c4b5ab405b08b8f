"""TCP_CHECK and plain HTTP_GET attempts in bulk: the pure twin of ``pykad._fastpath.check_fast``.

``pykad.drivers.check_fast`` picks the compiled module or this one; both have
this API and give the same results for the same events.

``CheckLoop`` runs the attempts of many checkers from one epoll set and two
timer heaps, so the checker process does not spend a trio task, a cancel scope
and a sleep on every attempt.  Python (``pykad.check.probes.loop``) keeps
keepalived's schedule (``pykad.check.schedule``) of every checker and tells the
loop when each checker's next attempt runs; the loop runs the attempt and hands
back its outcome.  A checker in its steady state (up, no retry pending: the
next success would change nothing but the time of the next attempt) is marked
``steady``: its successes are *absorbed*, the loop schedules the next attempt
itself ``delay_loop`` after the success, and Python hears only of failures.

- ``add(key, family, address, port, scope_id, timeout_us, delay_loop_us,
  request=None, status_ok=b"", bind_address=b"", bind_port=0, fwmark=0,
  bind_if="")``: a checker.  ``address`` is the packed destination (4 or 16
  bytes, ``family`` AF_INET or AF_INET6).  Without ``request`` it is a
  TCP_CHECK: an attempt connects and closes.  With ``request`` it is an
  HTTP_GET of one URL: the attempt connects, sends ``request``, reads the
  response to EOF and accepts it when its status code ``c`` has
  ``status_ok[c]`` non-zero (``status_ok`` holds 600 bytes).
- ``schedule(key, at_us, steady)``: its next attempt starts at ``at_us`` (up to
  ``slack_us`` early, so that attempts due together start in one round);
  ``steady`` as above.  An attempt in progress is abandoned.
- ``remove(key)``: forget the checker (its socket, if any, is closed).
- ``next_at()``: the earliest time the loop has something to do (an attempt to
  start, a ``connect_timeout`` to enforce), -1 if none; Python waits until then
  or until ``fileno()`` (the epoll fd) is readable, then calls ``run(now_us)``.
- ``run(now_us)``: process the sockets that are ready, the timeouts due at
  ``now_us`` and the attempts due by ``now_us + slack_us`` (at most
  :data:`MAX_STARTS`, earliest first), then the sockets ready after those
  connects; return the outcomes Python must see, as
  ``(key, code, text, content_length, rx_bytes)``.  After an outcome is
  returned the checker waits for ``schedule``.
- ``absorbed``: the number of successes absorbed so far.

Outcomes (keepalived's words, as ``pykad.check.probes.tcp`` and ``.http`` give them):

- :data:`OK`: success.  HTTP: ``content_length`` is the header's Content-Length
  (-1 if none) and ``rx_bytes`` the body bytes read; a steady checker whose
  Content-Length differs from what was read is not absorbed, so Python can log
  it as keepalived does.
- :data:`FAILED`: ``text`` is the reason.  TCP: ``"timeout"`` (no answer within
  connect_timeout) or ``"failed"`` (refused, unreachable, reset).  HTTP:
  "Timeout connecting", "HTTP_CHECK - network unreachable", "Connection
  failed", "Timeout WEB write", "Cannot send get request to", "Timeout WEB
  read", "Timeout HTTP read", "Read error with", "Read, no data received from ",
  "HTTP status code error to".
- :data:`SETUP`: a local error (socket, fwmark, device, bind, an unexpected
  ``connect`` errno): ``text`` is keepalived's message; no verdict.

One ``connect_timeout`` bounds the whole attempt, from its start.  Sockets are
non-blocking and close-on-exec, without keepalived's SO_LINGER (see
``pykad.check.probes.connect``: with it, ``close`` waits for the server's ACK).  The response's
header must end within its first 4,095 bytes (keepalived's buffer); the body is
counted, not kept.
"""

from __future__ import annotations

import errno
import heapq
import os
import select
import socket
from dataclasses import dataclass, field

from pykad.check.probes.connect import FAIL_ERRNOS, NETWORK_UNREACHABLE, SO_BINDTODEVICE, SO_MARK
from pykad.check.probes.http import (
    MAX_BUFFER_LENGTH,
    extract_content_length,
    extract_html,
    extract_status_code,
)

__all__ = [
    "FAILED",
    "MAX_STARTS",
    "OK",
    "SETUP",
    "START_SLACK_US",
    "CheckLoop",
    "Outcome",
    "parse_head",
]

OK, FAILED, SETUP = 0, 1, 2
START_SLACK_US = 5000
"""``slack_us``, the most an attempt may start before its time so that attempts due
together start in one round (fewer wake-ups), is this or 1 % of the shortest
``delay_loop`` added, whichever is less."""
MAX_STARTS = 64
"""At most this many attempts start in one ``run``: the rest are still due, so
``next_at`` says so and the caller runs again at once, after its other work (a
round of thousands of connects would hold its event loop for tens of ms)."""
STATUS_CODES = 600

Outcome = tuple[int, int, str, int, int]

_HEAD_MAX = MAX_BUFFER_LENGTH - 1
_READ = 65536
_MAX_EVENTS = 256

# attempt phases
_IDLE, _CONNECTING, _WRITING, _READING = 0, 1, 2, 3


def parse_head(window: bytes) -> tuple[int, int, int]:
    """``(body offset, status code, content length)`` of a response's first bytes (at most
    4,095): the offset -1 when the header does not end there, the length -1 when absent."""
    body_at = extract_html(window)
    if body_at is None:
        return -1, 0, -1
    length = extract_content_length(window)
    return body_at, extract_status_code(window), -1 if length is None else length


@dataclass(slots=True)
class _Slot:
    key: int
    family: int
    dst: tuple[str, int] | tuple[str, int, int, int]
    timeout_us: int
    delay_loop_us: int
    request: bytes | None
    status_ok: bytes
    bind: tuple[str, int] | tuple[str, int, int, int] | None
    fwmark: int
    bind_if: str
    gen: int = 0
    steady: bool = False
    phase: int = _IDLE
    sock: socket.socket | None = None
    sent: int = 0
    head: bytearray = field(default_factory=bytearray)
    body_at: int = -1
    status: int = 0
    length: int = -1
    rx: int = 0
    got_data: bool = False


def _sockaddr(
    family: int, packed: bytes, port: int, scope_id: int
) -> tuple[str, int] | tuple[str, int, int, int]:
    text = socket.inet_ntop(family, packed)
    return (text, port, 0, scope_id) if family == socket.AF_INET6 else (text, port)


class CheckLoop:
    """The attempts of many TCP_CHECK / plain HTTP_GET checkers (see the module)."""

    def __init__(self) -> None:
        self._epoll: select.epoll | None = select.epoll()
        self._slots: dict[int, _Slot] = {}
        self._by_fd: dict[int, _Slot] = {}
        self._starts: list[tuple[int, int, int]] = []
        self._deadlines: list[tuple[int, int, int]] = []
        self.absorbed = 0
        self.slack_us = START_SLACK_US

    def fileno(self) -> int:
        if self._epoll is None:
            raise ValueError("closed")
        return self._epoll.fileno()

    def close(self) -> None:
        for slot in self._slots.values():
            self._close(slot)
        self._slots.clear()
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None

    def add(
        self,
        key: int,
        family: int,
        address: bytes,
        port: int,
        scope_id: int,
        timeout_us: int,
        delay_loop_us: int,
        request: bytes | None = None,
        status_ok: bytes = b"",
        bind_address: bytes = b"",
        bind_port: int = 0,
        fwmark: int = 0,
        bind_if: str = "",
    ) -> None:
        if key in self._slots:
            raise KeyError(f"checker {key} exists")
        if family not in (socket.AF_INET, socket.AF_INET6):
            raise ValueError(f"address family {family}")
        if len(address) != (4 if family == socket.AF_INET else 16):
            raise ValueError("address length")
        if request is not None and len(status_ok) != STATUS_CODES:
            raise ValueError("status_ok must hold 600 bytes")
        if not 0 <= port <= 0xFFFF or not 0 <= bind_port <= 0xFFFF:
            raise OverflowError("port")
        self.slack_us = min(self.slack_us, max(0, delay_loop_us // 100))
        bind = None
        if bind_address:
            if len(bind_address) != len(address):
                raise ValueError("bind address length")
            bind = _sockaddr(family, bind_address, bind_port, scope_id)
        self._slots[key] = _Slot(
            key=key,
            family=family,
            dst=_sockaddr(family, address, port, scope_id),
            timeout_us=timeout_us,
            delay_loop_us=delay_loop_us,
            request=request,
            status_ok=bytes(status_ok),
            bind=bind,
            fwmark=fwmark,
            bind_if=bind_if,
        )

    def schedule(self, key: int, at_us: int, steady: bool) -> None:
        slot = self._slots[key]
        self._close(slot)
        slot.gen += 1
        slot.steady = steady
        heapq.heappush(self._starts, (at_us, key, slot.gen))

    def remove(self, key: int) -> None:
        slot = self._slots.pop(key)
        self._close(slot)
        slot.gen += 1

    def next_at(self) -> int:
        for heap in (self._starts, self._deadlines):
            while heap and not self._live(heap[0]):
                heapq.heappop(heap)
        times = [heap[0][0] for heap in (self._starts, self._deadlines) if heap]
        return min(times) if times else -1

    def run(self, now_us: int) -> list[Outcome]:
        out: list[Outcome] = []
        self._poll(now_us, out)
        while self._deadlines and self._deadlines[0][0] <= now_us:
            _, key, gen = heapq.heappop(self._deadlines)
            if self._live((0, key, gen)):
                self._timed_out(self._slots[key], now_us, out)
        started = 0
        while (
            started < MAX_STARTS and self._starts and self._starts[0][0] <= now_us + self.slack_us
        ):
            _, key, gen = heapq.heappop(self._starts)
            if self._live((0, key, gen)):
                self._start(self._slots[key], now_us, out)
                started += 1
        if started:
            self._poll(now_us, out)
        return out

    # ---- internals

    def _live(self, entry: tuple[int, int, int]) -> bool:
        slot = self._slots.get(entry[1])
        return slot is not None and slot.gen == entry[2]

    def _close(self, slot: _Slot) -> None:
        if slot.sock is not None:
            self._by_fd.pop(slot.sock.fileno(), None)
            slot.sock.close()
            slot.sock = None
        slot.phase = _IDLE

    def _finish(
        self, slot: _Slot, now_us: int, out: list[Outcome], code: int, text: str = ""
    ) -> None:
        """The attempt is over: absorbed (steady success) or handed to Python."""
        self._close(slot)
        slot.gen += 1
        length, rx = (slot.length, slot.rx) if slot.request is not None else (-1, 0)
        if code == OK and slot.steady and (length < 0 or length == rx):
            self.absorbed += 1
            heapq.heappush(self._starts, (now_us + slot.delay_loop_us, slot.key, slot.gen))
            return
        out.append((slot.key, code, text, length, rx))

    def _start(self, slot: _Slot, now_us: int, out: list[Outcome]) -> None:
        try:
            sock = socket.socket(slot.family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        except OSError as exc:
            self._finish(slot, now_us, out, SETUP, f"Checker can't create socket: {exc.strerror}")
            return
        slot.sock = sock
        sock.setblocking(False)
        problem = self._prepare(slot, sock)
        if problem:
            self._finish(slot, now_us, out, SETUP, problem)
            return
        slot.head.clear()
        slot.body_at, slot.status, slot.length, slot.rx = -1, 0, -1, 0
        slot.sent, slot.got_data = 0, False
        heapq.heappush(self._deadlines, (now_us + slot.timeout_us, slot.key, slot.gen))
        err = sock.connect_ex(slot.dst)
        if err not in (0, errno.EINPROGRESS):
            self._connect_failed(slot, err, now_us, out)
            return
        slot.phase = _CONNECTING
        self._by_fd[sock.fileno()] = slot
        assert self._epoll is not None
        self._epoll.register(sock.fileno(), select.EPOLLOUT)

    @staticmethod
    def _prepare(slot: _Slot, sock: socket.socket) -> str:
        """keepalived's socket options and bind; a SETUP message on failure."""
        if slot.fwmark:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_MARK, slot.fwmark)
            except OSError as exc:
                return f"Error setting fwmark {slot.fwmark} to socket: {exc.strerror}"
        if slot.bind_if:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, slot.bind_if.encode() + b"\0")
            except OSError as exc:
                return f"Checker can't bind to device {slot.bind_if}: {exc.strerror}"
        if slot.bind is not None:
            try:
                sock.bind(slot.bind)
            except OSError as exc:
                return f"Checker bind failed: {exc.strerror}"
        return ""

    def _connect_failed(self, slot: _Slot, err: int, now_us: int, out: list[Outcome]) -> None:
        if err not in FAIL_ERRNOS:
            text = f"socket connect error {err} - {os.strerror(err)}"
            self._finish(slot, now_us, out, SETUP, text)
        elif slot.request is None:
            text = "timeout" if err == errno.ETIMEDOUT else "failed"
            self._finish(slot, now_us, out, FAILED, text)
        elif err == errno.ETIMEDOUT:
            self._finish(slot, now_us, out, FAILED, "Timeout connecting")
        elif err in NETWORK_UNREACHABLE:
            self._finish(slot, now_us, out, FAILED, "HTTP_CHECK - network unreachable")
        else:
            self._finish(slot, now_us, out, FAILED, "Connection failed")

    def _timed_out(self, slot: _Slot, now_us: int, out: list[Outcome]) -> None:
        if slot.request is None:
            text = "timeout"
        elif slot.phase == _CONNECTING:
            text = "Timeout connecting"
        elif slot.phase == _WRITING:
            text = "Timeout WEB write"
        else:
            text = "Timeout HTTP read" if slot.got_data else "Timeout WEB read"
        self._finish(slot, now_us, out, FAILED, text)

    def _poll(self, now_us: int, out: list[Outcome]) -> None:
        assert self._epoll is not None
        while True:
            events = self._epoll.poll(0, _MAX_EVENTS)
            for fd, _ in events:
                slot = self._by_fd.get(fd)
                if slot is None or slot.sock is None:
                    continue
                if slot.phase == _CONNECTING:
                    self._connected(slot, now_us, out)
                elif slot.phase == _WRITING:
                    self._write(slot, now_us, out)
                else:
                    self._read(slot, now_us, out)
            if len(events) < _MAX_EVENTS:
                return

    def _connected(self, slot: _Slot, now_us: int, out: list[Outcome]) -> None:
        assert slot.sock is not None
        err = slot.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._connect_failed(slot, err, now_us, out)
        elif slot.request is None:
            self._finish(slot, now_us, out, OK)
        else:
            slot.phase = _WRITING
            self._write(slot, now_us, out)

    def _write(self, slot: _Slot, now_us: int, out: list[Outcome]) -> None:
        assert slot.sock is not None and slot.request is not None and self._epoll is not None
        try:
            slot.sent += slot.sock.send(slot.request[slot.sent :])
        except BlockingIOError:
            return
        except OSError:
            self._finish(slot, now_us, out, FAILED, "Cannot send get request to")
            return
        if slot.sent < len(slot.request):
            return
        slot.phase = _READING
        self._epoll.modify(slot.sock.fileno(), select.EPOLLIN)
        self._read(slot, now_us, out)

    def _read(self, slot: _Slot, now_us: int, out: list[Outcome]) -> None:
        assert slot.sock is not None
        while True:
            if slot.body_at < 0 and len(slot.head) >= _HEAD_MAX:
                self._finish(slot, now_us, out, FAILED, "Read, no data received from ")
                return
            try:
                data = slot.sock.recv(_READ)
            except BlockingIOError:
                return
            except OSError:
                self._finish(slot, now_us, out, FAILED, "Read error with")
                return
            if not data:
                self._done(slot, now_us, out)
                return
            slot.got_data = True
            if slot.body_at >= 0:
                slot.rx += len(data)
                continue
            slot.head += data
            window = bytes(slot.head[:_HEAD_MAX])
            body_at, status, length = parse_head(window)
            if body_at >= 0:
                slot.body_at, slot.status, slot.length = body_at, status, length
                slot.rx = len(slot.head) - body_at

    def _done(self, slot: _Slot, now_us: int, out: list[Outcome]) -> None:
        if slot.body_at < 0:
            self._finish(slot, now_us, out, FAILED, "Read, no data received from ")
        elif slot.status < STATUS_CODES and slot.status_ok[slot.status]:
            self._finish(slot, now_us, out, OK)
        else:
            self._finish(slot, now_us, out, FAILED, "HTTP status code error to")
