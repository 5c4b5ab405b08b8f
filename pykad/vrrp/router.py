"""One VRRP virtual router, sans-IO (RFC 5798 / RFC 9568 section 6; RFC 3768 section 6).

``VrrpRouter`` holds the protocol state of one instance and its two timers. The
driver calls ``start``, ``receive_advert``, ``handle_timer`` and ``shutdown`` with
the current time (microseconds) and carries out the returned effects; it wakes
the router at ``next_deadline()``. The state changes come from ``fsm.TRANSITIONS``.
Validation of received packets (TTL, checksum, VRID, auth) happens before
``receive_advert``; here an advert is already known to be for this router.
"""

from __future__ import annotations

from dataclasses import dataclass

from pykad.config.sections.vrrp import VrrpInstance
from pykad.vrrp import fsm
from pykad.vrrp.advert import Advert
from pykad.vrrp.fsm import Action, Event, State
from pykad.vrrp.timers import master_down_interval_us, skew_time_us

PRIORITY_OWNER = 255


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterConfig:
    vrid: int
    priority: int
    version: int = 3
    advert_int_us: int = 1_000_000
    preempt: bool = True
    primary_address: bytes = b""
    """This router's address on the LAN (compared when priorities tie, RFC 5798 6.4.3)."""
    down_timer_adverts: int = 3

    @classmethod
    def from_instance(cls, instance: VrrpInstance, primary_address: bytes) -> RouterConfig:
        """The protocol settings of a configured ``vrrp_instance`` (defaults already applied).

        ``primary_address`` is the router's own address on the LAN: the
        instance's ``unicast_src_ip``/``mcast_src_ip`` if set, else the
        interface's primary address, which only the driver knows.
        """
        source = instance.source_address
        return cls(
            vrid=instance.vrid,
            priority=instance.priority,
            version=int(instance.version),
            advert_int_us=instance.advert_int_us,
            preempt=not instance.nopreempt,
            primary_address=source.packed if source is not None else primary_address,
            down_timer_adverts=instance.down_timer_adverts,
        )


@dataclass(frozen=True, slots=True)
class SendAdvert:
    priority: int


@dataclass(frozen=True, slots=True)
class ChangeVips:
    add: bool


@dataclass(frozen=True, slots=True)
class SendGratuitous:
    pass


@dataclass(frozen=True, slots=True)
class StateChanged:
    old: State
    new: State
    rfc: str


Effect = SendAdvert | ChangeVips | SendGratuitous | StateChanged


class VrrpRouter:
    """The state machine of one VRRP instance with its Adver and Master_Down timers."""

    def __init__(self, config: RouterConfig) -> None:
        self.config = config
        self.state = State.INIT
        self.master_adver_interval_us = config.advert_int_us
        self.adver_deadline: int | None = None
        self.master_down_deadline: int | None = None

    # --- inputs -------------------------------------------------------------------

    def start(self, now: int) -> list[Effect]:
        owner = self.config.priority == PRIORITY_OWNER
        return self._fire(Event.STARTUP_OWNER if owner else Event.STARTUP, now)

    def shutdown(self, now: int) -> list[Effect]:
        return self._fire(Event.SHUTDOWN, now)

    def receive_advert(self, advert: Advert, sender: bytes, now: int) -> list[Effect]:
        event = fsm.classify_advert(
            state=self.state,
            advert_priority=advert.priority,
            local_priority=self.config.priority,
            preempt=self.config.preempt,
            sender=sender,
            local_primary=self.config.primary_address,
        )
        if self.state not in (State.BACKUP, State.MASTER):
            return []
        return self._fire(event, now, advert)

    def handle_timer(self, now: int) -> list[Effect]:
        effects: list[Effect] = []
        if self.master_down_deadline is not None and now >= self.master_down_deadline:
            effects += self._fire(Event.MASTER_DOWN_TIMER, now)
        if self.adver_deadline is not None and now >= self.adver_deadline:
            effects += self._fire(Event.ADVER_TIMER, now)
        return effects

    def next_deadline(self) -> int | None:
        deadlines = [d for d in (self.adver_deadline, self.master_down_deadline) if d is not None]
        return min(deadlines, default=None)

    # --- the table ----------------------------------------------------------------

    def _fire(self, event: Event, now: int, advert: Advert | None = None) -> list[Effect]:
        transition = fsm.step(self.state, event)
        effects: list[Effect] = []
        for action in transition.actions:
            effects += self._act(action, now, advert)
        if transition.next_state is not self.state:
            effects.append(StateChanged(self.state, transition.next_state, transition.rfc))
            self.state = transition.next_state
        return effects

    def _act(self, action: Action, now: int, advert: Advert | None) -> list[Effect]:
        c = self.config
        if action is Action.SEND_ADVERT:
            return [SendAdvert(c.priority)]
        if action is Action.SEND_ADVERT_PRIORITY_ZERO:
            return [SendAdvert(0)]
        if action is Action.SEND_GRATUITOUS:
            return [SendGratuitous()]
        if action in (Action.ADD_VIPS, Action.REMOVE_VIPS):
            return [ChangeVips(add=action is Action.ADD_VIPS)]
        if action is Action.START_ADVER_TIMER:
            self.adver_deadline = now + c.advert_int_us
        elif action is Action.CANCEL_ADVER_TIMER:
            self.adver_deadline = None
        elif action is Action.START_MASTER_DOWN_TIMER:
            self.master_down_deadline = now + master_down_interval_us(
                c.version, c.priority, self.master_adver_interval_us, c.down_timer_adverts
            )
        elif action is Action.START_SKEW_TIMER:
            self.master_down_deadline = now + skew_time_us(
                c.version, c.priority, self.master_adver_interval_us
            )
        elif action is Action.CANCEL_MASTER_DOWN_TIMER:
            self.master_down_deadline = None
        elif action is Action.LEARN_MASTER_INTERVAL and advert is not None and c.version == 3:
            self.master_adver_interval_us = advert.max_advert_int * 10_000
        return []
