"""The BFD process: every configured session, its sockets, its loop and its events.

Owns the drivers around ``pykad.bfd.table.SessionTable``: the receive sockets
(UDP 3784, and 4784 when a session is multihop), one sender per source address
and TTL, the loop (``pykad.drivers.bfd_fast.BfdLoop``, compiled) and the pipes
that carry session events to the VRRP and checker processes
(``pykad.bfd.events``).  A session whose packets stop changing (Up, nothing to
negotiate) is handed to the loop, which sends and matches its packets without
Python; anything different (a packet that is not the one expected, a Detection
Time that passes) brings it back to its ``Session``.  Runs in its own process
(as keepalived's BFD child does), so nothing that VRRP or a checker does can
delay a BFD packet.  Logs what keepalived's BFD process logs: ``(NAME) Entering
Up state``; ``(NAME) Entering Down state (Local diagnostic - ..., Remote
diagnostic - ...)``.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pykad.bfd import events
from pykad.bfd.auth import AuthKey
from pykad.bfd.packet import CONTROL_PORT, MULTIHOP_PORT, AuthType, Diag, State
from pykad.bfd.session import Session, SessionConfig, StateChange
from pykad.bfd.table import NO_TTL_CHECK, Peer, SessionTable, Transmit
from pykad.config.sections.bfd import AUTH_TYPES, BfdConfig, BfdInstance
from pykad.daemon.memory import freeze_long_lived
from pykad.drivers.bfd_fast import BfdLoop, to16
from pykad.drivers.bfd_socket import BfdReceiver, BfdSender
from pykad.drivers.timer import now_us

log = logging.getLogger("pykad.bfd")

IDLE_WAKE_US = 1_000_000

DIAG_TEXT: dict[int, str] = {
    Diag.NONE: "No Diagnostic",
    Diag.CONTROL_DETECTION_TIME_EXPIRED: "Control Detection Time Expired",
    Diag.ECHO_FUNCTION_FAILED: "Echo Function Failed",
    Diag.NEIGHBOR_SIGNALED_SESSION_DOWN: "Neighbor Signaled Session Down",
    Diag.FORWARDING_PLANE_RESET: "Forwarding Plane Reset",
    Diag.PATH_DOWN: "Path Down",
    Diag.CONCATENATED_PATH_DOWN: "Concatenated Path Down",
    Diag.ADMINISTRATIVELY_DOWN: "Administratively Down",
    Diag.REVERSE_CONCATENATED_PATH_DOWN: "Reverse Concatenated Path Down",
}
"""keepalived's diagnostic texts (``bfd.h``: BFD_DIAG_STR)."""


@dataclass(frozen=True, slots=True)
class EventPipe:
    """Where events go: the write end of a pipe, and which sessions it wants."""

    fd: int
    process: str
    """``"vrrp"`` or ``"checker"``: matched against each instance's ``vrrp``/``checker``."""


def session_config(instance: BfdInstance) -> tuple[SessionConfig, Peer]:
    """What the table needs from one ``bfd_instance`` block."""
    auth = instance.auth
    config = SessionConfig(
        auth=None
        if auth is None
        else AuthKey(
            AuthType(AUTH_TYPES.index(auth.auth_type) + 1), auth.key_id, auth.secret.encode()
        ),
        name=instance.name,
        desired_min_tx_us=instance.min_tx_us,
        required_min_rx_us=instance.min_rx_us,
        idle_tx_us=instance.idle_tx_us,
        detect_mult=instance.multiplier,
        passive=instance.passive,
    )
    peer = Peer(
        remote=str(instance.neighbor),
        local=str(instance.source) if instance.source is not None else None,
        multihop=instance.multihop,
        ttl=instance.ttl,
        max_hops=instance.max_hops,
    )
    return config, peer


class BfdService:
    """Every session of a configuration, served by one ``BfdLoop``."""

    def __init__(
        self, config: BfdConfig, pipes: Sequence[EventPipe] = (), *, seed: int | None = None
    ) -> None:
        self.instances = {i.name: i for i in config.instances}
        self.pipes = tuple(pipes)
        self.rng = random.Random(seed)
        self.table = SessionTable(self.rng.random)
        self.receivers: dict[bool, BfdReceiver] = {}
        self.senders: dict[tuple[int, str | None, int], BfdSender] = {}
        self._sender_of: dict[str, BfdSender] = {}
        self.loop: BfdLoop | None = None
        self.events_sent = 0
        self.event_errors = 0
        self.flaps: dict[str, int] = {}
        """Per session: how many times it left Up (the control socket and metrics)."""
        self._wake_fd = -1

    def setup(self) -> None:
        """Create the sessions and open the sockets (errors are raised: nothing runs)."""
        now = now_us()
        try:
            for instance in self.instances.values():
                self._add(instance, now)
        except BaseException:
            self.close()
            raise
        for name, session in self.table.sessions.items():
            self._send_event(name, session.session_state is State.UP)

    def _add(self, instance: BfdInstance, now: int) -> None:
        config, peer = session_config(instance)
        self.table.add(config, peer, now)
        family = ipaddress.ip_address(peer.remote).version
        key = (family, peer.local, peer.ttl)
        if key not in self.senders:
            self.senders[key] = BfdSender(family, peer.local, peer.ttl, self.rng)
        self._sender_of[instance.name] = self.senders[key]
        if peer.multihop not in self.receivers:
            port = MULTIHOP_PORT if peer.multihop else CONTROL_PORT
            self.receivers[peer.multihop] = BfdReceiver(port)
            if self.loop is not None:
                self._new_loop()  # the loop reads a fixed set of sockets

    def reload(self, config: BfdConfig) -> tuple[list[str], list[str]]:
        """Apply a new configuration; the sessions (names) removed and added.

        A session whose ``bfd_instance`` is unchanged goes on untouched: same state,
        discriminators and timers, still in the loop, no event.  One that is gone
        tells its peer AdminDown (RFC 5880 6.8.16: the peer goes Down without a
        detection timeout) and ends; one that changed does that and starts again as
        new, like an added one (Down, its readers told so).  Errors opening a new
        session's sockets are raised after the others are applied."""
        new = {i.name: i for i in config.instances}
        removed = [name for name, i in self.instances.items() if new.get(name) != i]
        added = [name for name, i in new.items() if self.instances.get(name) != i]
        now = now_us()
        for name in removed:
            session = self.table.sessions[name]
            self._claim(session)
            sends, _ = self.table.admin_down(name, now)
            self._transmit(sends)
            self.table.remove(name)
            del self._sender_of[name]
            self.flaps.pop(name, None)
        self.instances = new
        for name in added:
            self._add(new[name], now)
            self._send_event(name, False, now)
        return removed, added

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()
            self.loop = None
        for receiver in self.receivers.values():
            receiver.close()
        for sender in self.senders.values():
            sender.close()
        self.receivers.clear()
        self.senders.clear()

    # -- the loop ----------------------------------------------------------------------

    def run(
        self,
        stopping: Callable[[], bool],
        wake_fd: int = -1,
        *,
        on_wake: Callable[[], None] | None = None,
        reloads: Callable[[], BfdConfig | None] | None = None,
        on_late: Callable[[int], None] | None = None,
    ) -> None:
        """Serve until ``stopping()`` says so (checked whenever ``wake_fd`` is readable).

        ``on_wake`` runs after every return of the loop's wait (the control socket,
        whose fd is part of ``wake_fd``): it must not block.  ``reloads`` gives a new
        configuration to apply (:meth:`reload`) when one is ready, else None; it is
        asked before every wait.  ``on_late`` is told after each wait how late its
        timers ran, when they did: the loop's packets (its ``late_us``, then reset)
        and the sessions Python times."""
        freeze_long_lived()  # no full collector pass over the sessions while they run
        self._wake_fd = wake_fd
        self._new_loop()
        table = self.table
        send_errors, told_at, counted = 0, 0, self.loop
        while not stopping():
            if reloads is not None and (config := reloads()) is not None:
                self.reload(config)
            loop = self.loop
            assert loop is not None
            if loop is not counted:  # a new loop counts from zero
                send_errors, counted = 0, loop
            if loop.send_errors > send_errors and now_us() - told_at >= IDLE_WAKE_US:
                # The loop counts failed sends; the service tells, once a second at most.
                log.warning("BFD: %d packets could not be sent", loop.send_errors - send_errors)
                send_errors, told_at = loop.send_errors, now_us()
            deadline = table.next_deadline()
            received, expired = loop.wait(IDLE_WAKE_US + now_us() if deadline is None else deadline)
            if on_wake is not None:
                on_wake()
            if on_late is not None:
                late = max(loop.late_us, 0 if deadline is None else now_us() - deadline)
                if late > 0:
                    on_late(late)
                    loop.late_us = 0
            for data, source, destination, ttl, multihop in received:
                self._received(data, source, destination, ttl, multihop)
            for discr, tx_at, detect_at, sent, absorbed in expired:
                session = table.by_discr(discr)
                if session is not None:
                    table.reclaim(session, tx_at, detect_at, sent, absorbed)
            now = now_us()
            sends, changes = table.handle_timer(now)
            self._transmit(sends)
            for change in changes:
                self._changed(change, now)

    def _received(
        self, data: bytes, source: str, destination: str, ttl: int, multihop: bool
    ) -> None:
        now = now_us()
        got = self.table.receive_datagram(
            data, source, destination, ttl, multihop, now, claim=self._claim
        )
        if got.sends:
            self._transmit(got.sends)
        if got.change is not None:
            self._changed(got.change, now)
        session, packet = got.session, got.packet
        if session is None or packet is None or got.sends or got.change is not None:
            return
        if packet.poll or packet.final:
            return
        tx = session.steady_packet()
        if tx is not None:
            self._delegate(session, tx, data)

    def _new_loop(self) -> None:
        """(Re)make the loop over the current receivers; sessions it held come back."""
        old = self.loop
        if old is not None:
            for session in self.table.sessions.values():
                self._claim(session)
            old.close()
        receivers = [(r.fileno(), multihop) for multihop, r in self.receivers.items()]
        self.loop = BfdLoop(receivers, seed=self.rng.getrandbits(64), wake_fd=self._wake_fd)

    def _delegate(self, session: Session, tx: bytes, expect: bytes) -> None:
        """Hand a session in its steady state to the loop (``BfdLoop.arm``)."""
        assert self.loop is not None and session.detect_at is not None
        peer = self.table.peers[session.name]
        self.loop.arm(
            session.local_discr,
            source=to16(peer.remote),
            multihop=peer.multihop,
            min_ttl=0 if peer.max_hops == NO_TTL_CHECK else peer.ttl - peer.max_hops,
            expect=expect,
            tx=tx,
            tx_fd=self._sender_of[session.name].sock.fileno(),
            tx_address=peer.remote,
            tx_port=MULTIHOP_PORT if peer.multihop else CONTROL_PORT,
            interval_us=session.transmit_interval(),
            detect_mult_one=session.detect_mult == 1,
            detect_time_us=session.detection_time(),
            tx_at=session.tx_at,
            detect_at=session.detect_at,
        )
        self.table.delegate(session)

    def _claim(self, session: Session) -> None:
        """Take a session back from the loop before Python handles its packet."""
        loop = self.loop
        if loop is not None and loop.armed(session.local_discr):
            self.table.reclaim(session, *loop.disarm(session.local_discr))

    def _transmit(self, sends: list[Transmit]) -> None:
        for t in sends:
            sender = self._sender_of[t.session.name]
            port = MULTIHOP_PORT if t.peer.multihop else CONTROL_PORT
            if not sender.send(t.data, t.peer.remote, port) and sender.errors == 1:
                log.error("(%s) Error sending packet: %s", t.session.name, sender.last_error)

    # -- state changes and events ----------------------------------------------------

    def _changed(self, change: StateChange, now: int) -> None:
        session = self.table.sessions[change.name]
        if events.is_event(change, session.remote_session_state):  # first: VRRP waits for it
            self._send_event(change.name, change.new is State.UP, now)
        if change.old is State.UP:
            self.flaps[change.name] = self.flaps.get(change.name, 0) + 1
        if change.new is State.UP:
            log.info("(%s) Entering Up state", change.name)
        elif change.new is State.INIT:
            log.debug("(%s) Entering Init state", change.name)
        elif change.new is State.ADMIN_DOWN:
            log.warning("(%s) Entering AdminDown state", change.name)
        else:
            remote = DIAG_TEXT.get(session.remote_diag, "Unknown")
            log_level = logging.WARNING if change.old is State.UP else logging.DEBUG
            log.log(
                log_level,
                "(%s) Entering Down state (Local diagnostic - %s, Remote diagnostic - %s)",
                change.name,
                DIAG_TEXT[change.diag],
                remote,
            )

    def _send_event(self, name: str, up: bool, now: int | None = None) -> None:
        instance = self.instances[name]
        record = events.encode(events.BfdEvent(name, up, now_us() if now is None else now))
        # keepalived: an instance with neither ``vrrp`` nor ``checker`` goes to both.
        for pipe in self.pipes:
            if not getattr(instance, pipe.process, True):
                continue
            try:
                os.write(pipe.fd, record)
                self.events_sent += 1
            except OSError as e:
                self.event_errors += 1
                if e.errno != errno.EPIPE:
                    log.debug("(%s) %s pipe write() error %s", name, pipe.process, e)
