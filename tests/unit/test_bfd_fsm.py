"""The BFD state table: every (state, event) pair has a row that cites RFC 5880."""

from __future__ import annotations

import itertools

from pykad.bfd import fsm
from pykad.bfd.packet import Diag, State


def test_every_state_and_event_has_a_row_citing_rfc_5880() -> None:
    for state, event in itertools.product(State, fsm.Event):
        row = fsm.step(state, event)
        assert row.rfc.startswith("RFC 5880 6."), (state, event)
    assert len(fsm.TRANSITIONS) == len(State) * len(fsm.Event)


def test_three_way_handshake_and_failures() -> None:
    step = fsm.step
    assert step(State.DOWN, fsm.Event.RECV_DOWN).next_state is State.INIT
    assert step(State.DOWN, fsm.Event.RECV_INIT).next_state is State.UP
    assert step(State.DOWN, fsm.Event.RECV_UP).next_state is State.DOWN
    assert step(State.INIT, fsm.Event.RECV_UP).next_state is State.UP
    up_down = step(State.UP, fsm.Event.RECV_DOWN)
    assert (up_down.next_state, up_down.diag) == (State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN)
    expired = step(State.UP, fsm.Event.DETECTION_TIME_EXPIRED)
    assert (expired.next_state, expired.diag) == (State.DOWN, Diag.CONTROL_DETECTION_TIME_EXPIRED)
    # A remote AdminDown is not a failure of an already Down session: no new diagnostic.
    assert step(State.DOWN, fsm.Event.RECV_ADMIN_DOWN) == fsm.Transition(
        State.DOWN, None, step(State.DOWN, fsm.Event.RECV_ADMIN_DOWN).rfc
    )


def test_admin_down_is_left_only_by_admin_up() -> None:
    for event in fsm.Event:
        row = fsm.step(State.ADMIN_DOWN, event)
        expected = State.DOWN if event is fsm.Event.ADMIN_UP else State.ADMIN_DOWN
        assert row.next_state is expected
    for state in (State.DOWN, State.INIT, State.UP):
        row = fsm.step(state, fsm.Event.ADMIN_DOWN)
        assert (row.next_state, row.diag) == (State.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN)


def test_every_received_state_has_an_event() -> None:
    assert set(fsm.RECEIVED) == set(State)
