"""Steady-state adverts without Python: the service lends its routers' two timers to C.

A backup that keeps hearing the same master, and a master that keeps
advertising, are most of a director's VRRP work (100,000 adverts a second at
1,000 instances x 10 ms). ``drivers.fast`` (Cython, with a pure-Python twin)
carries both:

- ``RxFilter`` (one per IPv4 socket): once a BACKUP router has accepted an
  advert and nothing changed (no effect at all), byte-identical adverts from
  the same master only push that router's Master_Down_Timer; they never reach
  Python. The router's deadline is brought up to date (``reclaim``) before
  anything else touches the router. While it is armed (``watched``), the
  router's own timer sleeps: one timer (``WATCH_KEY``) wakes at the filters'
  earliest deadline (``next_watch``) and hands over the routers whose
  deadline came (``expiring``), a few wake-ups a second instead of one per
  backup per Master_Down interval (30,000 a second at 1,000 x 10 ms).
- ``TxPump``: a MASTER router with nothing else to do hands its Adver_Timer and
  its encoded adverts to the pump, which sends them on time with ``sendmmsg``;
  the router takes the timer back (``reclaim``) before any input.

The protocol decisions stay in ``VrrpRouter``: the fast path only repeats what
the router did for the previous, identical advert.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykad.drivers import fast
from pykad.vrrp.fsm import State

if TYPE_CHECKING:
    from pykad.daemon.vrrp_service import Instance

PUMP_KEY = -1
"""The pump's key in the service's timer loop."""
WATCH_KEY = -2
"""The key of the filters' Master_Down watch in the service's timer loop."""

PUMP_EARLY_DIV = 8
"""A pump round also sends the adverts due within 1/8 of their interval (125 ms at
1 s, 1.25 ms at 10 ms): masters that came up one by one share wake-ups (at most 8
rounds an interval) instead of waking the loop once per advert, and their backups'
readers wake as seldom. Each keeps its own grid, so an advert is never late and at
most 1/8 early; a backup's Master_Down interval (3 intervals and the skew) never
notices. (1/32 cost 2.5x the CPU at 100 x 10 ms on both sides, measured.)"""


class FastPaths:
    def __init__(self) -> None:
        self.pump = fast.TxPump(PUMP_EARLY_DIV)
        self.filters: dict[int, fast.RxFilter] = {}
        """By socket fd (IPv4 receive sockets only)."""
        self._pumped: set[int] = set()
        self._filtered: dict[int, int] = {}
        """Instance index -> fd of the filter it is armed in."""
        self._watched: dict[tuple[int, int], int] = {}
        """(fd, VRID) -> index of the instance armed there."""

    def filter_for(self, fd: int) -> fast.RxFilter:
        found = self.filters.get(fd)
        if found is None:
            found = self.filters[fd] = fast.RxFilter()
        return found

    def reclaim(self, inst: Instance) -> None:
        """Give the router back its timers, up to date, before it sees any input."""
        r = inst.router
        if inst.index in self._pumped:
            self._pumped.discard(inst.index)
            nxt = self.pump.disarm(inst.index)
            r.adver_deadline = nxt if nxt >= 0 else r.adver_deadline
        if inst.index in self._filtered:
            self.refresh(inst)
            fd = self._filtered.pop(inst.index)
            self._watched.pop((fd, inst.conf.vrid), None)
            f = self.filters.get(fd)
            if f is not None:
                f.disarm(inst.conf.vrid)

    def refresh(self, inst: Instance) -> int | None:
        """The router's Master_Down deadline with what the filter absorbed (timer fired)."""
        fd = self._filtered.get(inst.index)
        r = inst.router
        f = self.filters.get(fd) if fd is not None else None
        if f is not None:
            d = f.deadline(inst.conf.vrid)
            if d >= 0 and r.master_down_deadline is not None and d > r.master_down_deadline:
                r.master_down_deadline = d
        return r.master_down_deadline

    def watched(self, inst: Instance) -> bool:
        """Whether a filter holds the instance's Master_Down_Timer (its own timer sleeps)."""
        return inst.index in self._filtered

    def expiring(self, before: int) -> list[int]:
        """The watched instances (indexes) whose Master_Down deadline is before ``before``."""
        return [
            index
            for fd, f in self.filters.items()
            for vrid in f.expiring(before)
            if (index := self._watched.get((fd, vrid))) is not None
        ]

    def next_watch(self) -> int | None:
        """The earliest Master_Down deadline the filters watch (None: none)."""
        found = [d for f in self.filters.values() if (d := f.next_deadline()) >= 0]
        return min(found) if found else None

    def arm_backup(self, inst: Instance, payload: bytes, src: bytes, dst: bytes, now: int) -> None:
        """The router accepted this advert in BACKUP with no effect: absorb the same again."""
        r = inst.router
        fd = inst.rx_fd
        if fd < 0 or r.state is not State.BACKUP or r.master_down_deadline is None:
            return
        if inst.router.config.preempt_delay_us:
            return  # its bookkeeping depends on each advert's time
        deadline = r.master_down_deadline
        self.filter_for(fd).arm(inst.conf.vrid, src, dst, payload, deadline - now, deadline)
        self._filtered[inst.index] = fd
        self._watched[(fd, inst.conf.vrid)] = inst.index

    def delegate_master(self, inst: Instance) -> bool:
        """A MASTER router's Adver_Timer goes to the pump; True if it did."""
        r = inst.router
        if r.state is not State.MASTER or r.adver_deadline is None or inst.ah is not None:
            return False  # AH adverts change with every send (sequence number, ICV)
        packets = [
            (inst.encoded(r.effective_priority, dst), dst, inst.source) for dst in inst.destinations
        ]
        s = inst.socket
        self.pump.arm(
            inst.index, s.fileno(), s.family, packets, r.config.advert_int_us, r.adver_deadline,
            s.ifindex,
        )  # fmt: skip
        r.adver_deadline = None
        self._pumped.add(inst.index)
        return True
