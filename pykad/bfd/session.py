"""One BFD session: RFC 5880's state variables, its timers and its packets, sans-IO.

Owned here: the variables of RFC 5880 section 6.8.1 (named as the RFC names them),
the reception rules of section 6.8.6 that follow the table lookup, Poll
Sequences (sections 6.5 and 6.8.3: every change of DesiredMinTxInterval or
RequiredMinRxInterval while Up starts one, and a slower transmit interval or a
faster receive interval takes effect only when it completes), the Detection
Time (section 6.8.4), and transmission (section 6.8.7: jitter of 75-100 % of
the interval, 75-90 % with a Detect Mult of 1; no periodic packets while
RemoteMinRxInterval is zero, or while the remote is in Demand mode and both
are Up; a passive session stays silent until it knows the remote's
discriminator; a packet with F answers every P at once).

While the session is not Up it transmits no faster than ``idle_tx_us`` (at least
one second, section 6.8.3).  Time is whatever the driver passes as ``now``, in
microseconds; randomness comes from the ``random`` callable it is given.
Authentication is checked and signed through ``pykad.bfd.auth``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

from pykad.bfd import fsm, wire
from pykad.bfd.auth import AuthKey, AuthState
from pykad.bfd.packet import AuthType, ControlPacket, Diag, State

SLOW_TX_MIN_US = 1_000_000
"""bfd.DesiredMinTxInterval while not Up is at least one second (RFC 5880 6.8.3)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """What the configuration says about one session."""

    name: str
    desired_min_tx_us: int
    required_min_rx_us: int
    detect_mult: int
    idle_tx_us: int = SLOW_TX_MIN_US
    passive: bool = False
    admin_down: bool = False
    auth: AuthKey | None = None


class StateChange(NamedTuple):
    """The session moved from ``old`` to ``new``; ``diag`` is bfd.LocalDiag after it."""

    name: str
    old: State
    new: State
    diag: Diag


class Statistics(NamedTuple):
    """A snapshot of one session's counters."""

    state: State
    local_diag: Diag
    remote_state: State
    packets_received: int
    packets_sent: int
    discarded_admin_down: int
    discarded_auth: int
    state_changes: int
    up_transitions: int
    polls_completed: int


class Session:
    """One BFD session in asynchronous mode (RFC 5880 section 6)."""

    def __init__(
        self, config: SessionConfig, local_discr: int, now: int, random: Callable[[], float]
    ) -> None:
        self.config = config
        self.name = config.name
        self._random = random
        # RFC 5880 6.8.1 state variables.
        self.session_state = State.ADMIN_DOWN if config.admin_down else State.DOWN
        self.remote_session_state = State.DOWN
        self.local_discr = local_discr
        self.remote_discr = 0
        self.remote_diag = 0
        self.local_diag = Diag.ADMINISTRATIVELY_DOWN if config.admin_down else Diag.NONE
        self.desired_min_tx_interval = self._desired_tx()
        self.required_min_rx_interval = config.required_min_rx_us
        self.remote_min_rx_interval = 1
        self.remote_demand_mode = False
        self.detect_mult = config.detect_mult
        self.remote_desired_min_tx = 0
        self.remote_detect_mult = 0
        self.auth = (
            AuthState(config.auth, int(random() * 2**32)) if config.auth is not None else None
        )
        # Intervals in effect while a Poll Sequence runs (6.8.3).
        self._tx_in_effect = self.desired_min_tx_interval
        self._rx_in_effect = self.required_min_rx_interval
        self.poll_active = False
        self.tx_at = now
        self.detect_at: int | None = None
        self._cached: bytes | None = None
        self.packets_received = 0
        self.packets_sent = 0
        self.discarded_admin_down = 0
        self.discarded_auth = 0
        self.state_changes = 0
        self.up_transitions = 0
        self.polls_completed = 0

    # -- timers -----------------------------------------------------------------------

    def next_deadline(self) -> int:
        """The earliest time at which ``handle_timer`` has something to do."""
        detect = self.detect_at
        return self.tx_at if detect is None or self.tx_at < detect else detect

    def transmit_interval(self) -> int:
        """The interval before jitter (6.8.7): the larger of ours and the remote's."""
        return max(self._tx_in_effect, self.remote_min_rx_interval)

    def detection_time(self) -> int:
        """The Detection Time in asynchronous mode (6.8.4), 0 before a packet came in."""
        return self.remote_detect_mult * max(self._rx_in_effect, self.remote_desired_min_tx)

    def handle_timer(self, now: int) -> tuple[list[bytes], StateChange | None]:
        """Fire what is due at ``now``: the Detection Time, then the transmit timer."""
        change = None
        if self.detect_at is not None and now >= self.detect_at:
            change = self._detection_time_expired(now)
        out: list[bytes] = []
        if now >= self.tx_at:
            if self._may_transmit():
                out.append(self._packet())
            self._schedule_tx(now)
        return out, change

    def _detection_time_expired(self, now: int) -> StateChange | None:
        # 6.8.1: without a valid packet for a Detection Time, bfd.RemoteDiscr is zeroed.
        self.detect_at = None
        self.remote_discr = 0
        self.remote_session_state = State.DOWN
        return self._apply(fsm.Event.DETECTION_TIME_EXPIRED, now)

    def _may_transmit(self) -> bool:
        if self.config.passive and self.remote_discr == 0:
            return False
        if self.remote_min_rx_interval == 0:
            return False
        return not (
            self.remote_demand_mode
            and self.session_state is State.UP
            and self.remote_session_state is State.UP
        )

    def _schedule_tx(self, now: int) -> None:
        interval = self.transmit_interval()
        low, high = (0.75, 0.90) if self.detect_mult == 1 else (0.75, 1.0)
        self.tx_at = now + int(interval * (low + (high - low) * self._random()))

    # -- reception (6.8.6, after the table selected this session) ----------------------

    def receive(
        self, packet: ControlPacket, data: bytes, now: int
    ) -> tuple[list[bytes], StateChange | None]:
        """A valid packet for this session arrived; ``data`` is its UDP payload."""
        if self.auth is not None or packet.auth is not None:
            auth = self.auth
            if auth is None or not auth.verify(packet, data, now, self.detection_time()):
                self.discarded_auth += 1
                return [], None
        self.packets_received += 1
        if packet.my_disc != self.remote_discr:
            self._cached = None
        self.remote_discr = packet.my_disc
        self.remote_session_state = State(packet.state)
        self.remote_diag = packet.diag
        self.remote_demand_mode = packet.demand
        if (
            packet.required_min_rx_us != self.remote_min_rx_interval
            or packet.desired_min_tx_us != self.remote_desired_min_tx
        ):
            self.remote_min_rx_interval = packet.required_min_rx_us
            self.remote_desired_min_tx = packet.desired_min_tx_us
            # 6.8.2: the new transmit interval applies from now, not after the old one.
            self.tx_at = min(self.tx_at, now + self.transmit_interval())
        self.remote_detect_mult = packet.detect_mult
        if packet.final and self.poll_active:
            self._poll_completed()
        if self.session_state is State.ADMIN_DOWN:
            self.discarded_admin_down += 1
            return [], None
        self.detect_at = now + self.detection_time()
        change = self._apply(fsm.RECEIVED[packet.state], now)
        # 6.8.7: a P is answered with an F at once, whatever the transmit timer says.
        return ([self._packet(final=True)] if packet.poll else []), change

    def _poll_completed(self) -> None:
        self.poll_active = False
        self._cached = None
        self.polls_completed += 1
        self._tx_in_effect = self.desired_min_tx_interval
        self._rx_in_effect = self.required_min_rx_interval

    # -- state changes -----------------------------------------------------------------

    def _apply(self, event: fsm.Event, now: int) -> StateChange | None:
        old = self.session_state
        transition = fsm.step(old, event)
        if transition.diag is not None:
            self.local_diag = transition.diag
        new = transition.next_state
        if new is old:
            return None
        self.session_state = new
        self._cached = None
        self.state_changes += 1
        if new is State.UP:
            self.up_transitions += 1
            self.local_diag = Diag.NONE
        self._set_intervals(self._desired_tx(), self.required_min_rx_interval, now)
        self.tx_at = now  # tell the peer at once rather than one (idle) interval later
        return StateChange(self.name, old, new, self.local_diag)

    def _desired_tx(self) -> int:
        if self.session_state is State.UP:
            return self.config.desired_min_tx_us
        return max(self.config.idle_tx_us, SLOW_TX_MIN_US)

    def _set_intervals(self, desired_min_tx: int, required_min_rx: int, now: int) -> None:
        """Change bfd.DesiredMinTxInterval / bfd.RequiredMinRxInterval (6.8.3)."""
        if (
            desired_min_tx == self.desired_min_tx_interval
            and required_min_rx == self.required_min_rx_interval
        ):
            return
        self.desired_min_tx_interval = desired_min_tx
        self.required_min_rx_interval = required_min_rx
        self._cached = None
        if self.session_state is not State.UP:
            self._tx_in_effect, self._rx_in_effect = desired_min_tx, required_min_rx
            self.poll_active = False
            return
        self.poll_active = True
        # A faster transmit interval and a slower receive interval are safe at once.
        self._tx_in_effect = min(self._tx_in_effect, desired_min_tx)
        self._rx_in_effect = max(self._rx_in_effect, required_min_rx)

    # -- administration -----------------------------------------------------------------

    def admin_down(self, now: int) -> tuple[list[bytes], StateChange | None]:
        """Disable the session (6.8.16): AdminDown is sent, then nothing is received."""
        change = self._apply(fsm.Event.ADMIN_DOWN, now)
        self.detect_at = None
        return ([self._packet()] if self._may_transmit() else []), change

    def admin_up(self, now: int) -> StateChange | None:
        """Enable the session again (6.8.16): it starts over in Down."""
        self.remote_discr = 0
        return self._apply(fsm.Event.ADMIN_UP, now)

    def set_intervals(self, desired_min_tx_us: int, required_min_rx_us: int, now: int) -> None:
        """A reload changed the timers: a Poll Sequence carries the change while Up."""
        self.config = replace(
            self.config, desired_min_tx_us=desired_min_tx_us, required_min_rx_us=required_min_rx_us
        )
        self._set_intervals(self._desired_tx(), required_min_rx_us, now)

    # -- packets ------------------------------------------------------------------------

    def _packet(self, final: bool = False) -> bytes:
        """The next packet to send (6.8.7); ``final`` answers a received P."""
        self.packets_sent += 1
        if final or self.auth is not None or self._cached is None:
            packet = ControlPacket(
                self.session_state,
                self.local_diag,
                self.detect_mult,
                self.local_discr,
                self.remote_discr,
                self.desired_min_tx_interval,
                self.required_min_rx_interval,
                0,
                self.poll_active and not final,
                final,
            )
            if self.auth is not None:
                return self.auth.sign(packet)
            data = wire.encode(packet)
            if final:
                return data
            self._cached = data
        return self._cached

    def steady_packet(self) -> bytes | None:
        """The one packet this session sends while nothing changes, if there is one.

        That is: Up on both sides, no Poll Sequence, periodic transmission on, and
        no authentication that changes every packet (sequence numbers).  A driver
        may then send it, and match the peer's identical packets, without the session.
        """
        if (
            self.session_state is not State.UP
            or self.remote_session_state is not State.UP
            or self.poll_active
            or not self._may_transmit()
            or (self.auth is not None and self.auth.key.auth_type is not AuthType.SIMPLE_PASSWORD)
        ):
            return None
        data = self._packet()
        self.packets_sent -= 1  # built, not sent
        return data

    def statistics(self) -> Statistics:
        return Statistics(
            self.session_state,
            self.local_diag,
            self.remote_session_state,
            self.packets_received,
            self.packets_sent,
            self.discarded_admin_down,
            self.discarded_auth,
            self.state_changes,
            self.up_transitions,
            self.polls_completed,
        )
