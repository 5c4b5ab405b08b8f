"""The sessions of one BFD process: discriminators, lookup of received packets, deadlines.

Owned here: allocating unique non-zero local discriminators (RFC 5880 section
6.8.1, bfd.LocalDiscr), the session lookup of section 6.8.6 (by Your
Discriminator when it is non-zero, else by the source and destination addresses
and the port, single hop or multihop), the TTL / hop-limit check (RFC 5881
section 5, as keepalived applies it: a packet must arrive with at least the
TTL we send with minus ``max_hops``; 255 turns the check off, and so does a
datagram that came without its TTL), the counters of packets no session takes, and the deadline heap
that tells the driver when to call ``handle_timer``.

Sessions come only from the configuration: a packet never creates one, so a
flapping or spoofing peer cannot make the table grow.  Sans-IO: the driver
passes datagrams and ``now`` (microseconds) in and sends what comes out.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
from typing import NamedTuple

from pykad.bfd import wire
from pykad.bfd.packet import TTL, ControlPacket, Malformed, PacketError
from pykad.bfd.session import Session, SessionConfig, StateChange

NO_TTL_CHECK = 255


class Peer(NamedTuple):
    """Where a session's packets come from and go to."""

    remote: str
    """The neighbor's address, as ``socket.inet_ntop`` writes it."""
    local: str | None = None
    """Our source address; ``None``: any."""
    multihop: bool = False
    """RFC 5883 (UDP 4784) rather than RFC 5881 (3784)."""
    ttl: int = TTL
    """The TTL / hop limit we send with; keepalived's default is 64 for IPv6."""
    max_hops: int = 0
    """Packets that arrive with a TTL below ``ttl - max_hops`` are dropped; 255: no check."""


class Transmit(NamedTuple):
    session: Session
    peer: Peer
    data: bytes


class Received(NamedTuple):
    """What one datagram did: the session that took it (if any) and what followed."""

    session: Session | None
    packet: ControlPacket | None
    sends: list[Transmit]
    change: StateChange | None


_NOTHING = Received(None, None, [], None)


class Dropped(NamedTuple):
    """Why a datagram reached no session: one counter each."""

    malformed: Counter[Malformed]
    ttl: int
    unknown_discriminator: int
    no_session: int


class SessionTable:
    """Every configured session, found by discriminator or by address."""

    def __init__(self, random: Callable[[], float]) -> None:
        self._random = random
        self.sessions: dict[str, Session] = {}
        self.peers: dict[str, Peer] = {}
        self._by_discr: dict[int, Session] = {}
        self._by_address: dict[tuple[bool, str, str | None], Session] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._pushed: dict[str, int] = {}
        self.delegated: set[str] = set()
        self._serial = 0
        self.malformed: Counter[Malformed] = Counter()
        self.ttl_errors = 0
        self.unknown_discriminator = 0
        self.no_session = 0

    def add(self, config: SessionConfig, peer: Peer, now: int) -> Session:
        """A session from the configuration; its discriminator is new and non-zero."""
        if config.name in self.sessions:
            raise ValueError(f"BFD session {config.name} exists")
        key = (peer.multihop, peer.remote, peer.local)
        if key in self._by_address:
            raise ValueError(f"BFD session to {peer.remote} from {peer.local} exists")
        discr = 0
        while discr == 0 or discr in self._by_discr:
            discr = int(self._random() * 2**32) & 0xFFFFFFFF
        session = Session(config, discr, now, self._random)
        self.sessions[config.name] = session
        self.peers[config.name] = peer
        self._by_discr[discr] = session
        self._by_address[key] = session
        self._schedule(session)
        return session

    def remove(self, name: str) -> Session:
        """Forget a session (a reload removed it); its heap entries lapse."""
        session = self.sessions.pop(name)
        peer = self.peers.pop(name)
        self._pushed.pop(name, None)
        self.delegated.discard(name)
        del self._by_discr[session.local_discr]
        del self._by_address[(peer.multihop, peer.remote, peer.local)]
        return session

    def by_discr(self, discr: int) -> Session | None:
        return self._by_discr.get(discr)

    def admin_down(self, name: str, now: int) -> tuple[list[Transmit], StateChange | None]:
        """Disable one session (RFC 5880 6.8.16); it tells the peer AdminDown."""
        session = self.sessions[name]
        sent, change = session.admin_down(now)
        self._schedule(session)
        return [Transmit(session, self.peers[name], d) for d in sent], change

    def admin_up(self, name: str, now: int) -> StateChange | None:
        """Enable a disabled session again: it starts over in Down."""
        session = self.sessions[name]
        change = session.admin_up(now)
        self._schedule(session)
        return change

    def set_intervals(
        self, name: str, desired_min_tx_us: int, required_min_rx_us: int, now: int
    ) -> None:
        """New timers for one session (a reload); a Poll Sequence carries them while Up."""
        session = self.sessions[name]
        session.set_intervals(desired_min_tx_us, required_min_rx_us, now)
        self._schedule(session)

    # -- reception -------------------------------------------------------------------

    def receive_datagram(
        self,
        data: bytes,
        source: str,
        destination: str,
        ttl: int,
        multihop: bool,
        now: int,
        claim: Callable[[Session], None] | None = None,
    ) -> Received:
        """One datagram from a BFD socket; ``ttl`` is the IP TTL / hop limit it came with.

        ``claim`` is called with the session the datagram is for, before the session
        sees it (a driver that runs sessions elsewhere takes this one back).
        """
        try:
            packet = wire.decode_untrusted(data)
        except PacketError as error:
            self.malformed[error.reason] += 1
            return _NOTHING
        if packet.your_disc:
            session = self._by_discr.get(packet.your_disc)
            if session is None:
                self.unknown_discriminator += 1
                return _NOTHING
            peer = self.peers[session.name]
            if peer.remote != source or peer.multihop != multihop:
                self.unknown_discriminator += 1
                return _NOTHING
        else:
            found = self._by_address.get((multihop, source, destination))
            if found is None:
                found = self._by_address.get((multihop, source, None))
            if found is None:
                self.no_session += 1
                return _NOTHING
            session = found
            peer = self.peers[session.name]
        if ttl and peer.max_hops != NO_TTL_CHECK and ttl < peer.ttl - peer.max_hops:
            self.ttl_errors += 1
            return _NOTHING
        if claim is not None:
            claim(session)
        sent, change = session.receive(packet, data, now)
        if session.name not in self.delegated:
            self._schedule(session)
        return Received(session, packet, [Transmit(session, peer, d) for d in sent], change)

    # -- sessions run elsewhere (the driver's fast loop) ------------------------------

    def delegate(self, session: Session) -> None:
        """The driver runs ``session``'s timers now: the heap forgets it until ``reclaim``."""
        self.delegated.add(session.name)
        self._pushed.pop(session.name, None)

    def reclaim(
        self, session: Session, tx_at: int, detect_at: int, sent: int, received: int
    ) -> None:
        """The driver gives ``session`` back, with its timers and what it counted."""
        self.delegated.discard(session.name)
        session.tx_at, session.detect_at = tx_at, detect_at
        session.packets_sent += sent
        session.packets_received += received
        self._schedule(session)

    def dropped(self) -> Dropped:
        return Dropped(
            Counter(self.malformed), self.ttl_errors, self.unknown_discriminator, self.no_session
        )

    # -- timers ------------------------------------------------------------------------

    def _schedule(self, session: Session) -> None:
        deadline = session.next_deadline()
        if self._pushed.get(session.name) != deadline:
            self._pushed[session.name] = deadline
            self._serial += 1
            heapq.heappush(self._heap, (deadline, self._serial, session.name))

    def next_deadline(self) -> int | None:
        """When ``handle_timer`` has work next, ``None`` without sessions."""
        heap = self._heap
        while heap:
            deadline, _, name = heap[0]
            if self._pushed.get(name) == deadline:
                return deadline
            heapq.heappop(heap)  # a stale entry: the session moved its deadline or left
        return None

    def handle_timer(self, now: int) -> tuple[list[Transmit], list[StateChange]]:
        """Run every session whose deadline is at or before ``now``."""
        sends: list[Transmit] = []
        changes: list[StateChange] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, name = heapq.heappop(heap)
            if self._pushed.get(name) != deadline:
                continue
            session = self.sessions[name]
            del self._pushed[name]
            sent, change = session.handle_timer(now)
            if sent:
                peer = self.peers[name]
                sends.extend(Transmit(session, peer, d) for d in sent)
            if change is not None:
                changes.append(change)
            self._schedule(session)
        return sends, changes
