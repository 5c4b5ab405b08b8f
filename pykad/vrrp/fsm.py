"""The VRRP state machine as a table (RFC 5798 / RFC 9568 section 6.4; RFC 3768 section 6.4).

``TRANSITIONS[(state, event)]`` gives the next state and the actions, in order;
each row cites its RFC paragraph. Events about received adverts are classified
first (``classify_advert``), so that the table needs no guards. FAULT is
keepalived's state for an instance whose tracked objects failed (not in the RFC).
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class State(enum.Enum):
    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (hot path)

    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"


class Event(enum.Enum):
    __hash__ = object.__hash__

    STARTUP = "startup"
    STARTUP_OWNER = "startup as address owner (priority 255)"
    STARTUP_AS_MASTER = "startup with state MASTER configured"
    SHUTDOWN = "shutdown"
    MASTER_DOWN_TIMER = "master down timer fired"
    ADVER_TIMER = "adver timer fired"
    ADVERT_PRIORITY_ZERO = "advert with priority 0"
    ADVERT_PREEMPTS_US = "advert that wins the election"
    ADVERT_LOSES = "advert that loses the election"
    FAULT = "a tracked object failed"
    RECOVER = "tracked objects recovered"
    RECOVER_OWNER = "tracked objects recovered, address owner"
    SYNC_MASTER = "the sync group goes MASTER"
    SYNC_BACKUP = "the sync group goes BACKUP"
    VIP_DELETED = "one of the master's addresses was deleted from the host"


class Action(enum.Enum):
    SEND_ADVERT = "send an advertisement"
    SEND_ADVERT_PRIORITY_ZERO = "send an advertisement with priority 0"
    SEND_GRATUITOUS = "send gratuitous ARP / unsolicited NA for the VIPs"
    ADD_VIPS = "add the virtual addresses"
    REMOVE_VIPS = "remove the virtual addresses"
    START_ADVER_TIMER = "set the Adver_Timer to Advertisement_Interval"
    CANCEL_ADVER_TIMER = "cancel the Adver_Timer"
    START_MASTER_DOWN_TIMER = "set the Master_Down_Timer to Master_Down_Interval"
    START_SKEW_TIMER = "set the Master_Down_Timer to Skew_Time"
    START_STARTUP_TIMER = "set the Master_Down_Timer to Advertisement_Interval + minimal skew"
    CANCEL_MASTER_DOWN_TIMER = "cancel the Master_Down_Timer"
    LEARN_MASTER_INTERVAL = "set Master_Adver_Interval from the advert (VRRPv3)"
    RESET_MASTER_INTERVAL = "set Master_Adver_Interval back to our Advertisement_Interval"
    SEND_ADVERT_IF_HIGHER_PRIO_SEND_ADVERT = "send an advertisement if higher_prio_send_advert"
    FORCE_ELECTION = "send an advertisement unless lower_prio_no_advert, report the lower priority"
    DISCARD = "discard the advert"


class Transition(NamedTuple):
    next_state: State
    actions: tuple[Action, ...]
    rfc: str


S, E, A = State, Event, Action
_BECOME_MASTER = (
    A.RESET_MASTER_INTERVAL,
    A.SEND_ADVERT,
    A.ADD_VIPS,
    A.SEND_GRATUITOUS,
    A.START_ADVER_TIMER,
)
_KA_MASTER_RX = "keepalived vrrp_state_master_rx"

TRANSITIONS: dict[tuple[State, Event], Transition] = {
    (S.INIT, E.STARTUP_OWNER): Transition(S.MASTER, _BECOME_MASTER, "RFC 5798 6.4.1 (1)"),
    (S.INIT, E.STARTUP): Transition(S.BACKUP, (A.START_MASTER_DOWN_TIMER,), "RFC 5798 6.4.1 (2)"),
    (S.INIT, E.STARTUP_AS_MASTER): Transition(
        S.BACKUP, (A.START_STARTUP_TIMER,), "keepalived vrrp_init_state (state MASTER)"
    ),
    (S.BACKUP, E.SHUTDOWN): Transition(S.INIT, (A.CANCEL_MASTER_DOWN_TIMER,), "RFC 5798 6.4.2"),
    (S.BACKUP, E.MASTER_DOWN_TIMER): Transition(
        S.MASTER, (A.CANCEL_MASTER_DOWN_TIMER, *_BECOME_MASTER), "RFC 5798 6.4.2"
    ),
    (S.BACKUP, E.ADVERT_PRIORITY_ZERO): Transition(
        S.BACKUP, (A.START_SKEW_TIMER,), "RFC 5798 6.4.2 (priority zero)"
    ),
    (S.BACKUP, E.ADVERT_LOSES): Transition(
        S.BACKUP, (A.DISCARD,), "RFC 5798 6.4.2 (Preempt_Mode and lower priority)"
    ),
    (S.BACKUP, E.ADVERT_PREEMPTS_US): Transition(
        S.BACKUP, (A.LEARN_MASTER_INTERVAL, A.START_MASTER_DOWN_TIMER), "RFC 5798 6.4.2"
    ),
    (S.MASTER, E.SHUTDOWN): Transition(
        S.INIT,
        (A.CANCEL_ADVER_TIMER, A.SEND_ADVERT_PRIORITY_ZERO, A.REMOVE_VIPS),
        "RFC 5798 6.4.3",
    ),
    (S.MASTER, E.ADVER_TIMER): Transition(
        S.MASTER, (A.SEND_ADVERT, A.START_ADVER_TIMER), "RFC 5798 6.4.3"
    ),
    (S.MASTER, E.ADVERT_PRIORITY_ZERO): Transition(
        S.MASTER, (A.SEND_ADVERT, A.START_ADVER_TIMER), "RFC 5798 6.4.3 (priority zero)"
    ),
    (S.MASTER, E.ADVERT_PREEMPTS_US): Transition(
        S.BACKUP,
        (
            A.SEND_ADVERT_IF_HIGHER_PRIO_SEND_ADVERT,
            A.CANCEL_ADVER_TIMER,
            A.LEARN_MASTER_INTERVAL,
            A.START_MASTER_DOWN_TIMER,
            A.REMOVE_VIPS,
        ),
        "RFC 5798 6.4.3 (higher priority, or equal and higher primary address)",
    ),
    (S.MASTER, E.ADVERT_LOSES): Transition(
        S.MASTER, (A.FORCE_ELECTION,), f"RFC 5798 6.4.3 discards; {_KA_MASTER_RX} answers"
    ),
    (S.BACKUP, E.FAULT): Transition(S.FAULT, (A.CANCEL_MASTER_DOWN_TIMER,), "keepalived"),
    (S.MASTER, E.FAULT): Transition(
        S.FAULT, (A.CANCEL_ADVER_TIMER, A.SEND_ADVERT_PRIORITY_ZERO, A.REMOVE_VIPS), "keepalived"
    ),
    (S.INIT, E.FAULT): Transition(S.FAULT, (), "keepalived"),
    (S.FAULT, E.RECOVER): Transition(
        S.BACKUP, (A.RESET_MASTER_INTERVAL, A.START_MASTER_DOWN_TIMER), "keepalived"
    ),
    (S.FAULT, E.RECOVER_OWNER): Transition(S.MASTER, _BECOME_MASTER, "keepalived"),
    (S.BACKUP, E.SYNC_MASTER): Transition(
        S.MASTER, (A.CANCEL_MASTER_DOWN_TIMER, *_BECOME_MASTER), "keepalived vrrp_sync_master"
    ),
    (S.MASTER, E.SYNC_BACKUP): Transition(
        S.BACKUP,
        (A.CANCEL_ADVER_TIMER, A.START_MASTER_DOWN_TIMER, A.REMOVE_VIPS),
        "keepalived vrrp_sync_backup",
    ),
    (S.FAULT, E.SHUTDOWN): Transition(S.INIT, (), "keepalived"),
    (S.MASTER, E.VIP_DELETED): Transition(
        S.BACKUP,
        (
            A.CANCEL_ADVER_TIMER,
            A.SEND_ADVERT_PRIORITY_ZERO,
            A.REMOVE_VIPS,
            A.RESET_MASTER_INTERVAL,
            A.START_SKEW_TIMER,
        ),
        "keepalived set_vrrp_backup (back to MASTER after the skew time, VIPs restored)",
    ),
}
"""Pairs not listed change nothing: the event does not apply in that state."""


def classify_advert(
    *,
    state: State,
    advert_priority: int,
    local_priority: int,
    preempt: bool,
    sender: bytes,
    local_primary: bytes,
    preempt_delayed: bool = False,
) -> Event:
    """Which advert event a valid advert is (RFC 5798 6.4.2 and 6.4.3).

    ``preempt_delayed``: a backup's ``preempt_delay`` has not yet run out, so
    even a lower-priority master is accepted (keepalived ``vrrp_state_backup``).
    """
    if advert_priority == 0:
        return Event.ADVERT_PRIORITY_ZERO
    if state is State.MASTER:
        wins = advert_priority > local_priority or (
            advert_priority == local_priority and sender > local_primary
        )
        return Event.ADVERT_PREEMPTS_US if wins else Event.ADVERT_LOSES
    if not preempt or advert_priority >= local_priority or preempt_delayed:
        return Event.ADVERT_PREEMPTS_US
    return Event.ADVERT_LOSES


def step(state: State, event: Event) -> Transition:
    """The transition for ``event`` in ``state`` (no change if the table has none)."""
    return TRANSITIONS.get((state, event), Transition(state, (), "not applicable"))
