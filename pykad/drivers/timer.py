"""The one timer loop of a process: a deadline heap woken by a timerfd.

DESIGN.md ("the fast path"): a trio task per timer cannot keep up with
thousands of 10 ms timers, and ``trio.sleep`` is about 0.6 ms late because
epoll rounds to milliseconds. Here one task waits on a Linux timerfd
(CLOCK_MONOTONIC, absolute, nanosecond resolution) armed for the earliest
deadline of a heap. Keys are whatever the owner uses (an instance index);
scheduling a key again replaces its deadline (stale heap entries are skipped).

Times are integer microseconds of ``time.monotonic_ns()``, the clock the
sans-IO cores are given as ``now``.
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import os
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import trio

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = os.O_CLOEXEC
TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.timerfd_settime.argtypes = [
    ctypes.c_int,
    ctypes.c_int,
    ctypes.POINTER(_Itimerspec),
    ctypes.c_void_p,
]


def now_us() -> int:
    """The current time for the cores: CLOCK_MONOTONIC in microseconds."""
    return time.monotonic_ns() // 1000


def wall_us() -> int:
    """CLOCK_REALTIME in microseconds: the clock of the kernel's packet timestamps."""
    return time.time_ns() // 1000


class TimerFd:
    """A non-blocking CLOCK_MONOTONIC timerfd armed at absolute times."""

    def __init__(self) -> None:
        fd = _libc.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self.fd: int = fd
        self.armed_us: int | None = None

    def arm(self, deadline_us: int | None) -> None:
        """Fire at ``deadline_us`` (absolute, microseconds); None disarms."""
        if deadline_us == self.armed_us:
            return
        spec = _Itimerspec()
        if deadline_us is not None:
            # 0 would disarm: a deadline in the past still fires (at 1 ns).
            ns = max(deadline_us * 1000, 1)
            spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(ns, 1_000_000_000)
        if _libc.timerfd_settime(self.fd, TFD_TIMER_ABSTIME, ctypes.byref(spec), None) < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self.armed_us = deadline_us

    def consume(self) -> None:
        """Read the expiry count so that the fd is no longer readable."""
        with contextlib.suppress(BlockingIOError):
            os.read(self.fd, 8)

    def close(self) -> None:
        os.close(self.fd)


K = TypeVar("K", bound=Hashable)


class TimerLoop(Generic[K]):
    """Deadlines by key; ``run`` calls ``fire(key, now)`` for each one that is due."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, K]] = []
        self._deadline: dict[K, int] = {}
        self._serial = 0
        self._fd = TimerFd()
        self.fired = 0
        self.late: tuple[int, Callable[[int], None]] | None = None
        """(threshold, callback): ``callback(late_us)`` when a wake-up finds its first
        deadline more than the threshold past (``max_auto_priority``)."""

    def schedule(self, key: K, deadline_us: int | None) -> None:
        """Set (or with None, cancel) the deadline of ``key``."""
        if deadline_us is None:
            self._deadline.pop(key, None)
            return
        if self._deadline.get(key) == deadline_us:
            return
        self._deadline[key] = deadline_us
        self._serial += 1
        heapq.heappush(self._heap, (deadline_us, self._serial, key))
        if self._fd.armed_us is None or deadline_us < self._fd.armed_us:
            self._fd.arm(deadline_us)

    def schedule_by(self, key: K, deadline_us: int) -> None:
        """Set the deadline of ``key`` to ``deadline_us`` unless it is due sooner already."""
        current = self._deadline.get(key)
        if current is None or deadline_us < current:
            self.schedule(key, deadline_us)

    def _pop_due(self, now: int) -> list[K]:
        due = []
        heap, current = self._heap, self._deadline
        while heap and heap[0][0] <= now:
            deadline, _, key = heapq.heappop(heap)
            if current.get(key) == deadline:
                del current[key]
                due.append(key)
        while heap and current.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)  # stale: rescheduled or cancelled
        return due

    async def run(self, fire: Callable[[K, int], None]) -> None:
        """Wait for deadlines forever; ``fire`` may schedule again."""
        try:
            while True:
                await trio.lowlevel.wait_readable(self._fd.fd)
                self._fd.consume()
                self._fd.armed_us = None
                now = now_us()
                if self.late is not None and self._heap:
                    threshold, callback = self.late
                    first, _, key = self._heap[0]  # skipped if stale (cancelled since)
                    if now - first > threshold and self._deadline.get(key) == first:
                        callback(now - first)
                for key in self._pop_due(now):
                    self.fired += 1
                    fire(key, now)
                self._fd.arm(self._heap[0][0] if self._heap else None)
        finally:
            self._fd.close()
