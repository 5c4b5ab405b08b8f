"""BFD events: the pipe records, keepalived's rule for which changes are events, and
what a BFD Down does to a backup with ``pykad_bfd_takeover`` (``VrrpRouter.master_gone``)."""

from __future__ import annotations

import pytest

from pykad.bfd import events
from pykad.bfd.packet import Diag, State
from pykad.bfd.session import StateChange
from pykad.vrrp.advert import Advert
from pykad.vrrp.fsm import State as VrrpState
from pykad.vrrp.router import RouterConfig, SendAdvert, StateChanged, VrrpRouter

US, PEER, OTHER = bytes((192, 0, 2, 1)), bytes((192, 0, 2, 2)), bytes((192, 0, 2, 3))
VIP = bytes((192, 0, 2, 10))


def test_records_round_trip_and_a_partial_record_waits() -> None:
    up = events.BfdEvent("to_master", True, 123_456_789)
    down = events.BfdEvent("x" * 31, False, 7)
    data = events.encode(up) + events.encode(down)
    assert len(data) == 2 * events.EVENT_SIZE <= 512  # each write is atomic (PIPE_BUF)
    got, rest = events.decode(data[:-5])
    assert got == [up] and rest == data[events.EVENT_SIZE : -5]
    got, rest = events.decode(rest + data[-5:])
    assert got == [down] and rest == b""


@pytest.mark.parametrize(
    ("old", "new", "remote", "event"),
    [
        (State.DOWN, State.UP, State.INIT, True),
        (State.INIT, State.UP, State.UP, True),
        (State.UP, State.DOWN, State.DOWN, True),  # the peer said Down, or silence
        (State.UP, State.DOWN, State.ADMIN_DOWN, False),  # RFC 5880 6.8.16: not a failure
        (State.UP, State.ADMIN_DOWN, State.UP, True),
        (State.DOWN, State.INIT, State.DOWN, False),
        (State.INIT, State.DOWN, State.DOWN, False),  # never was Up: nothing to tell
    ],
)
def test_which_changes_are_events(old: State, new: State, remote: State, event: bool) -> None:
    change = StateChange("b", old, new, Diag.NONE)
    assert events.is_event(change, remote) is event


def backup_following(master: bytes) -> tuple[VrrpRouter, int]:
    r = VrrpRouter(
        RouterConfig(
            name="VI_1",
            vrid=51,
            priority=100,
            primary_address=US,
            addresses=(VIP,),
            version=2,
            advert_int_us=1_000_000,
        )
    )
    r.start(0)
    r.receive_advert(Advert(2, 51, 200, 1, (VIP,)), master, 500_000)
    assert r.state is VrrpState.BACKUP and r.master_address == master
    return r, 600_000


def test_bfd_down_to_the_master_fires_the_master_down_timer_now() -> None:
    r, now = backup_following(PEER)
    assert r.master_down_deadline is not None and r.master_down_deadline > now + 3_000_000
    effects = r.master_gone(PEER, now)
    assert r.state is VrrpState.MASTER
    assert any(isinstance(e, StateChanged) for e in effects)
    assert any(isinstance(e, SendAdvert) for e in effects)


def test_bfd_down_to_another_router_changes_nothing() -> None:
    r, now = backup_following(PEER)
    assert r.master_gone(OTHER, now) == []
    assert r.state is VrrpState.BACKUP
    fresh = VrrpRouter(r.config)
    fresh.start(0)
    assert fresh.master_gone(PEER, now) == []  # has heard no master yet
