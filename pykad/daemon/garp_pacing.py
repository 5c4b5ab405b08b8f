"""Spacing of gratuitous ARPs and unsolicited NAs per interface (keepalived's ``garp_delay``).

Owns one ``pykad.vrrp.gratuitous.GratuitousPacer`` per interface and family whose
interval (``garp_group``'s ``garp_interval`` / ``gna_interval``, else global_defs'
``vrrp_garp_interval`` / ``vrrp_gna_interval``) is not zero, and the timer keys of
their deadlines (negative, below the fast path's): frames offered while an
interface's interval has not passed are queued, one frame per address, and come
back from ``due`` one per interval.  Frames are the keys (one frame per MAC and
address).  With no interval anywhere, ``offer`` returns every frame at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pykad.config.sections._global_model import Garp
from pykad.config.sections._vrrp_model import GarpGroup
from pykad.daemon.fast_paths import PUMP_KEY, WATCH_KEY
from pykad.vrrp.gratuitous import GratuitousPacer, pacing_interval_us

FIRST_KEY = min(PUMP_KEY, WATCH_KEY) - 1
"""Timer key of the first pacer (below the fast paths' keys); the next ones count
down from it."""
_ETHERTYPE_IPV6 = b"\x86\xdd"


class Pacing:
    def __init__(
        self, garp: Garp, groups: Sequence[GarpGroup], ifname: Callable[[int], str]
    ) -> None:
        self.garp, self.groups, self.ifname = garp, tuple(groups), ifname
        self._pacers: dict[tuple[int, bool], tuple[int, GratuitousPacer[bytes] | None]] = {}
        self._by_key: dict[int, tuple[int, GratuitousPacer[bytes]]] = {}

    def _pacer(self, ifindex: int, ipv6: bool) -> tuple[int, GratuitousPacer[bytes] | None]:
        found = self._pacers.get((ifindex, ipv6))
        if found is None:
            interval = pacing_interval_us(self.ifname(ifindex), ipv6, self.garp, self.groups)
            if interval:
                key = FIRST_KEY - len(self._by_key)
                pacer: GratuitousPacer[bytes] = GratuitousPacer(interval)
                self._by_key[key] = (ifindex, pacer)
                found = (key, pacer)
            else:
                found = (0, None)
            self._pacers[(ifindex, ipv6)] = found
        return found

    def offer(
        self, ifindex: int, frames: Sequence[bytes], rounds: int, now: int
    ) -> tuple[list[bytes], list[int]]:
        """The frames to send now, and the timer keys whose deadlines may have moved."""
        out: list[bytes] = []
        keys: list[int] = []
        for _ in range(rounds):
            for frame in frames:
                key, pacer = self._pacer(ifindex, frame[12:14] == _ETHERTYPE_IPV6)
                if pacer is None or pacer.offer(now, frame):
                    out.append(frame)
                elif key not in keys:
                    keys.append(key)
        return out, keys

    def paces(self, ifindex: int, frames: Sequence[bytes]) -> bool:
        """Whether :meth:`offer` may hold back any of ``frames`` on ``ifindex``."""
        return any(self._pacer(ifindex, f[12:14] == _ETHERTYPE_IPV6)[1] is not None for f in frames)

    def is_key(self, key: int) -> bool:
        return key in self._by_key

    def due(self, key: int, now: int) -> tuple[int, list[bytes]]:
        """The interface of pacer ``key`` and the queued frames to send at ``now``."""
        ifindex, pacer = self._by_key[key]
        return ifindex, pacer.due(now)

    def next_deadline(self, key: int) -> int | None:
        return self._by_key[key][1].next_deadline()

    def cancel(self, frames: Sequence[bytes]) -> None:
        """Forget queued ``frames``: their instance left MASTER."""
        for _, pacer in self._by_key.values():
            pacer.cancel(frames)
