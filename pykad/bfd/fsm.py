"""The BFD session state machine as a table (RFC 5880 sections 6.2, 6.8.4, 6.8.6, 6.8.16).

``TRANSITIONS[(state, event)]`` gives the next state and the diagnostic to set
(``None``: leave bfd.LocalDiag as it is); each row cites its RFC paragraph.
Received packets are classified by the remote state they carry (``received``),
so that the table needs no guards.  Every (state, event) pair has a row: a pair
that changes nothing says so.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from pykad.bfd.packet import Diag, State


class Event(enum.Enum):
    __hash__ = object.__hash__  # members are singletons: hash by identity, in C

    RECV_ADMIN_DOWN = "received State AdminDown"
    RECV_DOWN = "received State Down"
    RECV_INIT = "received State Init"
    RECV_UP = "received State Up"
    DETECTION_TIME_EXPIRED = "Detection Time passed without a valid packet"
    ADMIN_DOWN = "the session is administratively disabled"
    ADMIN_UP = "the session is administratively enabled"


RECEIVED: dict[int, Event] = {
    State.ADMIN_DOWN: Event.RECV_ADMIN_DOWN,
    State.DOWN: Event.RECV_DOWN,
    State.INIT: Event.RECV_INIT,
    State.UP: Event.RECV_UP,
}
"""The event of a received packet, by the State field it carries."""


class Transition(NamedTuple):
    next_state: State
    diag: Diag | None
    rfc: str


S, E = State, Event
_RX = "RFC 5880 6.8.6"
_STAY_DOWN = "RFC 5880 6.2: Down stays Down on a remote Up (the peer must see us first)"
_ADMIN = "RFC 5880 6.8.16"
_ADMIN_STAYS = "RFC 5880 6.8.16: nothing but ADMIN_UP leaves AdminDown"
_NO_CHANGE = "RFC 5880 6.8.6: no state change"

TRANSITIONS: dict[tuple[State, Event], Transition] = {
    # AdminDown: received packets and timers change nothing (6.8.6: "If
    # bfd.SessionState is AdminDown, discard the packet"; 6.8.16).
    (S.ADMIN_DOWN, E.RECV_ADMIN_DOWN): Transition(S.ADMIN_DOWN, None, _ADMIN_STAYS),
    (S.ADMIN_DOWN, E.RECV_DOWN): Transition(S.ADMIN_DOWN, None, _ADMIN_STAYS),
    (S.ADMIN_DOWN, E.RECV_INIT): Transition(S.ADMIN_DOWN, None, _ADMIN_STAYS),
    (S.ADMIN_DOWN, E.RECV_UP): Transition(S.ADMIN_DOWN, None, _ADMIN_STAYS),
    (S.ADMIN_DOWN, E.DETECTION_TIME_EXPIRED): Transition(S.ADMIN_DOWN, None, _ADMIN_STAYS),
    (S.ADMIN_DOWN, E.ADMIN_DOWN): Transition(S.ADMIN_DOWN, None, _ADMIN_STAYS),
    (S.ADMIN_DOWN, E.ADMIN_UP): Transition(S.DOWN, Diag.NONE, f"{_ADMIN}: to Down"),
    # Down (6.2 diagram; 6.8.6 "If bfd.SessionState is Down").
    (S.DOWN, E.RECV_ADMIN_DOWN): Transition(S.DOWN, None, f"{_RX}: AdminDown, already Down"),
    (S.DOWN, E.RECV_DOWN): Transition(S.INIT, None, f"{_RX}: Down + received Down -> Init"),
    (S.DOWN, E.RECV_INIT): Transition(S.UP, None, f"{_RX}: Down + received Init -> Up"),
    (S.DOWN, E.RECV_UP): Transition(S.DOWN, None, _STAY_DOWN),
    (S.DOWN, E.DETECTION_TIME_EXPIRED): Transition(S.DOWN, None, "RFC 5880 6.8.4: already Down"),
    (S.DOWN, E.ADMIN_DOWN): Transition(S.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN, _ADMIN),
    (S.DOWN, E.ADMIN_UP): Transition(S.DOWN, None, f"{_ADMIN}: not AdminDown"),
    # Init.
    (S.INIT, E.RECV_ADMIN_DOWN): Transition(
        S.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN, f"{_RX}: received AdminDown -> Down"
    ),
    (S.INIT, E.RECV_DOWN): Transition(S.INIT, None, _NO_CHANGE),
    (S.INIT, E.RECV_INIT): Transition(S.UP, None, f"{_RX}: Init + received Init -> Up"),
    (S.INIT, E.RECV_UP): Transition(S.UP, None, f"{_RX}: Init + received Up -> Up"),
    (S.INIT, E.DETECTION_TIME_EXPIRED): Transition(
        S.DOWN, Diag.CONTROL_DETECTION_TIME_EXPIRED, "RFC 5880 6.8.4"
    ),
    (S.INIT, E.ADMIN_DOWN): Transition(S.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN, _ADMIN),
    (S.INIT, E.ADMIN_UP): Transition(S.INIT, None, f"{_ADMIN}: not AdminDown"),
    # Up.
    (S.UP, E.RECV_ADMIN_DOWN): Transition(
        S.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN, f"{_RX}: received AdminDown -> Down"
    ),
    (S.UP, E.RECV_DOWN): Transition(
        S.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN, f"{_RX}: Up + received Down -> Down"
    ),
    (S.UP, E.RECV_INIT): Transition(S.UP, None, _NO_CHANGE),
    (S.UP, E.RECV_UP): Transition(S.UP, None, _NO_CHANGE),
    (S.UP, E.DETECTION_TIME_EXPIRED): Transition(
        S.DOWN, Diag.CONTROL_DETECTION_TIME_EXPIRED, "RFC 5880 6.8.4"
    ),
    (S.UP, E.ADMIN_DOWN): Transition(S.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN, _ADMIN),
    (S.UP, E.ADMIN_UP): Transition(S.UP, None, f"{_ADMIN}: not AdminDown"),
}


def step(state: State, event: Event) -> Transition:
    """The row for ``(state, event)``; every pair has one."""
    return TRANSITIONS[(state, event)]
