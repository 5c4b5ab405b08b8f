"""Two BFD session tables joined by an in-memory link with explicit time (tests only)."""

from __future__ import annotations

import random
from collections.abc import Callable

from pykad.bfd.session import SessionConfig, StateChange
from pykad.bfd.table import Peer, SessionTable, Transmit

ADDRESS = {"A": "192.0.2.1", "B": "192.0.2.2"}
MS = 1000


def config(name: str = "s", **kw: object) -> SessionConfig:
    fields: dict[str, object] = {
        "name": name,
        "desired_min_tx_us": 10 * MS,
        "required_min_rx_us": 10 * MS,
        "detect_mult": 3,
    }
    fields.update(kw)
    return SessionConfig(**fields)  # type: ignore[arg-type]


class Link:
    """Nodes A and B, one session each way; ``drop`` decides per (sender, bytes)."""

    def __init__(
        self, a: SessionConfig | None = None, b: SessionConfig | None = None, seed: int = 1
    ) -> None:
        self.now = 0
        self.rng = random.Random(seed)
        self.tables = {n: SessionTable(self.rng.random) for n in "AB"}
        self.changes: list[tuple[int, str, StateChange]] = []
        self.sent: list[tuple[int, str, bytes]] = []
        self.drop: Callable[[str, bytes], bool] = lambda node, data: False
        self.ttl = 255
        self.add("A", a or config())
        self.add("B", b or config())

    def add(self, node: str, cfg: SessionConfig) -> None:
        other = "B" if node == "A" else "A"
        self.tables[node].add(cfg, Peer(ADDRESS[other], ADDRESS[node]), self.now)

    def session(self, node: str, name: str = "s"):  # type: ignore[no-untyped-def]
        return self.tables[node].sessions[name]

    def deliver(self, node: str, sends: list[Transmit]) -> None:
        other = "B" if node == "A" else "A"
        for t in sends:
            self.sent.append((self.now, node, t.data))
            if self.drop(node, t.data):
                continue
            got = self.tables[other].receive_datagram(
                t.data, ADDRESS[node], ADDRESS[other], self.ttl, False, self.now
            )
            if got.change is not None:
                self.changes.append((self.now, other, got.change))
            self.deliver(other, got.sends)

    def run_until(self, end: int) -> None:
        """Fire every timer up to ``end``; packets arrive at once."""
        while True:
            due = [(d, n) for n, t in self.tables.items() if (d := t.next_deadline()) is not None]
            deadline, node = min(due)
            if deadline > end:
                self.now = end
                return
            self.now = deadline
            sends, changes = self.tables[node].handle_timer(self.now)
            self.changes.extend((self.now, node, c) for c in changes)
            self.deliver(node, sends)

    def run_for(self, duration: int) -> None:
        self.run_until(self.now + duration)
