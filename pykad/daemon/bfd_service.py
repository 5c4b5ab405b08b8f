"""The BFD process: every configured session, its sockets, its timers and its events.

Owns the drivers around ``pykad.bfd.table.SessionTable``: the receive sockets
(UDP 3784, and 4784 when a session is multihop), one sender per source address
and TTL, one timerfd armed for the table's next deadline, and the pipes that
carry session events to the VRRP and checker processes (``pykad.bfd.events``).
Runs in its own process (as keepalived's BFD child does), so nothing that VRRP
or a checker does can delay a BFD packet.  Logs what keepalived's BFD process
logs: ``(NAME) Entering Up state``; ``(NAME) Entering Down state (Local
diagnostic - ..., Remote diagnostic - ...)``.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass

import trio

from pykad.bfd import events
from pykad.bfd.packet import CONTROL_PORT, MULTIHOP_PORT, Diag, State
from pykad.bfd.session import SessionConfig, StateChange
from pykad.bfd.table import Peer, SessionTable, Transmit
from pykad.config.sections.bfd import BfdConfig, BfdInstance
from pykad.drivers.bfd_socket import BfdReceiver, BfdSender
from pykad.drivers.timer import TimerFd, now_us

log = logging.getLogger("pykad.bfd")

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
    config = SessionConfig(
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
    """Every session of a configuration, run by one trio program."""

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
        self.timer: TimerFd | None = None
        self.events_sent = 0
        self.event_errors = 0

    def setup(self) -> None:
        """Create the sessions and open the sockets (errors are raised: nothing runs)."""
        now = now_us()
        try:
            for instance in self.instances.values():
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
            self.timer = TimerFd()
        except BaseException:
            self.close()
            raise
        for name, session in self.table.sessions.items():
            self._send_event(name, session.session_state is State.UP)

    def close(self) -> None:
        for receiver in self.receivers.values():
            receiver.close()
        for sender in self.senders.values():
            sender.close()
        self.receivers.clear()
        self.senders.clear()
        if self.timer is not None:
            self.timer.close()
            self.timer = None

    # -- the loop ----------------------------------------------------------------------

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; sockets are closed on the way out."""
        try:
            async with trio.open_nursery() as nursery:
                for multihop, receiver in self.receivers.items():
                    nursery.start_soon(self._receive, receiver, multihop)
                nursery.start_soon(self._timers)
                self._arm()
                task_status.started()
        finally:
            self.close()

    def _arm(self) -> None:
        assert self.timer is not None
        self.timer.arm(self.table.next_deadline())

    async def _timers(self) -> None:
        timer = self.timer
        assert timer is not None
        while True:
            await trio.lowlevel.wait_readable(timer.fd)
            timer.consume()
            timer.armed_us = None
            now = now_us()
            sends, changes = self.table.handle_timer(now)
            self._transmit(sends)
            for change in changes:
                self._changed(change, now)
            self._arm()

    async def _receive(self, receiver: BfdReceiver, multihop: bool) -> None:
        table = self.table
        while True:
            await trio.lowlevel.wait_readable(receiver.sock)
            now = now_us()
            for data, source, destination, ttl in receiver.drain():
                sends, change = table.receive_datagram(
                    data, source, destination, ttl, multihop, now
                )
                if sends:
                    self._transmit(sends)
                if change is not None:
                    self._changed(change, now)
            self._arm()

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
