"""Checker attempt latency: a fixed-bucket histogram per checker kind (pure, no clock).

Owns how long health-check attempts took, for ``pykadctl stats`` and the
``pykad_checker_latency_seconds`` histogram: the checker service times each
attempt it runs as a trio task (its own clock, in the shell) and calls
:meth:`Latency.observe`; :meth:`Latency.snapshot` is a plain, JSON-able copy.
The buckets are Prometheus's usual ones for network calls.  Attempts run in the
compiled bulk loop (TCP_CHECK and plain HTTP_GET) are not timed here: that loop
does not report a duration.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_S) + 1))
    """Per bucket (not cumulative); the last one is above the largest bound."""
    total_s: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS_S, seconds)] += 1
        self.total_s += seconds


class Latency:
    """One histogram per checker kind (``TCP_CHECK``, ``HTTP_GET``, ``MISC_CHECK``...)."""

    def __init__(self) -> None:
        self._by_kind: dict[str, Histogram] = {}

    def observe(self, kind: str, seconds: float) -> None:
        h = self._by_kind.get(kind)
        if h is None:
            h = self._by_kind[kind] = Histogram()
        h.observe(max(0.0, seconds))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """``{kind: {"buckets": [[le, cumulative count], ...], "count": n, "sum": s}}``
        (the last bucket's ``le`` is ``"+Inf"``)."""
        out: dict[str, dict[str, Any]] = {}
        for kind, h in sorted(self._by_kind.items()):
            running, buckets = 0, []
            for le, n in zip((*BUCKETS_S, "+Inf"), h.counts, strict=True):
                running += n
                buckets.append([le, running])
            out[kind] = {"buckets": buckets, "count": running, "sum": h.total_s}
        return out
