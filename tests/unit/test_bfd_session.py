"""BFD sessions and the session table, two nodes joined by an in-memory link (RFC 5880)."""

from __future__ import annotations

import itertools
import random

import pytest

from lab.bfd_link import ADDRESS, MS, Link, config
from pykad.bfd import wire_py
from pykad.bfd.auth import AuthKey
from pykad.bfd.packet import AuthType, ControlPacket, Diag, Malformed, State
from pykad.bfd.table import Peer, SessionTable

S = 1_000_000


def up(link: Link) -> None:
    link.run_for(3 * S)
    assert link.session("A").session_state is State.UP
    assert link.session("B").session_state is State.UP


def test_sessions_come_up_with_the_three_way_handshake_and_then_poll_to_fast_timers() -> None:
    link = Link()
    link.run_for(3 * S)
    states = [(node, c.old, c.new) for _, node, c in link.changes]
    # One side goes Down -> Init on the other's Down, the other Down -> Up on that Init.
    assert sorted(states) == [
        ("A", State.DOWN, State.INIT),
        ("A", State.INIT, State.UP),
        ("B", State.DOWN, State.UP),
    ] or sorted(states) == [
        ("A", State.DOWN, State.UP),
        ("B", State.DOWN, State.INIT),
        ("B", State.INIT, State.UP),
    ]
    # The handshake takes no idle interval: every state change is told at once.
    assert link.changes[-1][0] - link.changes[0][0] == 0
    for node in "AB":
        s = link.session(node)
        assert s.polls_completed == 1  # idle 1 s -> 10 ms was a Poll Sequence
        assert not s.poll_active
        assert s.transmit_interval() == 10 * MS
        assert s.detection_time() == 30 * MS
        assert s.remote_discr == link.session("B" if node == "A" else "A").local_discr


def test_not_up_sends_no_faster_than_idle_tx_with_jitter() -> None:
    link = Link(b=config(passive=True, name="s"))
    link.drop = lambda node, data: True  # nobody hears anybody
    link.run_for(20 * S)
    times = [t for t, node, _ in link.sent if node == "A"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps and all(750 * MS <= g <= S for g in gaps)  # 75-100 % of 1 s (6.8.7)
    assert not [1 for _, node, _ in link.sent if node == "B"]  # passive: silent (6.8.7)


def test_jitter_is_75_to_90_percent_with_a_detect_mult_of_one() -> None:
    link = Link(a=config(detect_mult=1), b=config(detect_mult=1))
    up(link)
    start = len(link.sent)
    link.run_for(S)
    times = [t for t, node, _ in link.sent[start:] if node == "A"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) > 50 and all(7500 <= g <= 9000 for g in gaps)


def test_detection_time_expiry_goes_down_with_diag_1_and_the_peer_follows_with_diag_3() -> None:
    link = Link()
    up(link)
    cut = link.now
    link.drop = lambda node, data: node == "B"  # A hears nothing any more
    link.run_for(100 * MS)
    a_down = [(t, c) for t, n, c in link.changes if n == "A" and c.new is State.DOWN]
    b_down = [(t, c) for t, n, c in link.changes if n == "B" and c.new is State.DOWN]
    assert a_down and a_down[0][1].diag is Diag.CONTROL_DETECTION_TIME_EXPIRED
    # Within Detect Mult x the agreed interval of the last packet heard.
    assert a_down[0][0] - cut <= 30 * MS
    assert b_down and b_down[0][1].diag is Diag.NEIGHBOR_SIGNALED_SESSION_DOWN
    assert link.session("A").remote_discr == 0  # 6.8.1: zeroed after a Detection Time


def test_passive_session_answers_and_comes_up() -> None:
    link = Link(a=config(passive=True))
    up(link)


def test_admin_down_takes_the_peer_down_without_a_failure_and_admin_up_recovers() -> None:
    link = Link()
    up(link)
    a = link.session("A")
    sends, change = link.tables["A"].admin_down("s", link.now)
    assert change is not None and change.new is State.ADMIN_DOWN
    assert change.diag is Diag.ADMINISTRATIVELY_DOWN
    link.deliver("A", sends)
    b = link.session("B")
    assert b.session_state is State.DOWN
    assert b.local_diag is Diag.NEIGHBOR_SIGNALED_SESSION_DOWN
    assert b.remote_session_state is State.ADMIN_DOWN
    link.run_for(3 * S)
    assert a.session_state is State.ADMIN_DOWN and a.discarded_admin_down > 0
    link.tables["A"].admin_up("s", link.now)
    up(link)


def test_a_peer_that_restarts_with_a_new_discriminator_is_followed() -> None:
    link = Link()
    up(link)
    old_b = link.session("B").local_discr
    link.tables["B"] = SessionTable(random.Random(99).random)
    link.add("B", config())
    assert link.session("B").local_discr != old_b
    up(link)
    assert link.session("A").remote_discr == link.session("B").local_discr
    downs = [c for _, n, c in link.changes if n == "A" and c.new is State.DOWN]
    assert downs and downs[-1].diag is Diag.NEIGHBOR_SIGNALED_SESSION_DOWN


def test_a_slower_transmit_interval_waits_for_the_poll_sequence() -> None:
    link = Link()
    up(link)
    a = link.session("A")
    link.drop = lambda node, data: node == "B"  # no Final reaches A
    link.tables["A"].set_intervals("s", 50 * MS, 10 * MS, link.now)
    assert a.poll_active and a.transmit_interval() == 10 * MS  # 6.8.3: not yet
    start = len(link.sent)
    link.run_for(15 * MS)  # less than the Detection Time
    polls = [wire_py.decode_untrusted(d) for _, n, d in link.sent[start:] if n == "A"]
    assert polls and all(p.poll and p.desired_min_tx_us == 50 * MS for p in polls)
    link.drop = lambda node, data: False
    link.run_for(20 * MS)
    assert not a.poll_active and a.transmit_interval() == 50 * MS
    assert link.session("B").detection_time() == 150 * MS
    assert a.session_state is State.UP


def test_remote_min_rx_zero_stops_periodic_transmission() -> None:
    link = Link(b=config(required_min_rx_us=0))
    link.run_for(3 * S)
    a = link.session("A")
    assert a.remote_min_rx_interval == 0
    sent_before = a.packets_sent
    link.run_for(S)
    assert a.packets_sent == sent_before


@pytest.mark.parametrize("auth_type", list(AuthType))
def test_authenticated_sessions_come_up(auth_type: AuthType) -> None:
    key = AuthKey(auth_type, 7, b"s3cret")
    link = Link(a=config(auth=key), b=config(auth=key))
    up(link)
    packet = wire_py.decode_untrusted(link.sent[-1][2])
    assert packet.auth is not None and packet.auth.auth_type == auth_type


def test_a_wrong_key_or_a_replay_is_discarded() -> None:
    link = Link(
        a=config(auth=AuthKey(AuthType.METICULOUS_KEYED_SHA1, 1, b"one")),
        b=config(auth=AuthKey(AuthType.METICULOUS_KEYED_SHA1, 1, b"two")),
    )
    link.run_for(3 * S)
    assert link.session("A").session_state is State.DOWN
    assert link.session("A").discarded_auth > 0
    key = AuthKey(AuthType.METICULOUS_KEYED_SHA1, 1, b"one")
    link = Link(a=config(auth=key), b=config(auth=key))
    up(link)
    replay = next(d for _, n, d in reversed(link.sent) if n == "B")
    a = link.session("A")
    before = a.discarded_auth
    link.tables["A"].receive_datagram(replay, ADDRESS["B"], ADDRESS["A"], 255, False, link.now)
    assert a.discarded_auth == before + 1  # meticulous: the sequence must grow (6.7.4)


def test_unauthenticated_packet_to_an_authenticated_session_is_discarded() -> None:
    link = Link(a=config(auth=AuthKey(AuthType.SIMPLE_PASSWORD, 1, b"pw")))
    link.run_for(3 * S)
    assert link.session("A").session_state is State.DOWN
    assert link.session("B").session_state is not State.UP


def test_table_drops_and_counts_what_no_session_takes() -> None:
    table = SessionTable(random.Random(3).random)
    session = table.add(config(), Peer("192.0.2.2", "192.0.2.1"), 0)
    good = ControlPacket(State.DOWN, 0, 3, 0x1234, 0, S, 10 * MS)
    data = wire_py.encode(good)
    table.receive_datagram(data[:20], "192.0.2.2", "192.0.2.1", 255, False, 0)
    table.receive_datagram(data, "192.0.2.2", "192.0.2.1", 254, False, 0)
    table.receive_datagram(data, "192.0.2.9", "192.0.2.1", 255, False, 0)
    other = wire_py.encode(good._replace(state=State.UP, your_disc=session.local_discr + 1))
    table.receive_datagram(other, "192.0.2.2", "192.0.2.1", 255, False, 0)
    table.receive_datagram(data, "192.0.2.2", "192.0.2.1", 255, True, 0)  # multihop port
    dropped = table.dropped()
    assert dropped.malformed == {Malformed.TOO_SHORT: 1}
    assert (dropped.ttl, dropped.unknown_discriminator, dropped.no_session) == (1, 1, 2)
    assert session.packets_received == 0
    got = table.receive_datagram(data, "192.0.2.2", "192.0.2.1", 255, False, 0)
    assert got.session is session and got.change is not None and got.change.new is State.INIT


def test_discriminators_are_unique_and_non_zero() -> None:
    values = iter([0.0, 0.5, 0.5, 0.25])
    table = SessionTable(lambda: next(values))
    a = table.add(config("a"), Peer("192.0.2.2"), 0)
    b = table.add(config("b"), Peer("192.0.2.3"), 0)
    assert (a.local_discr, b.local_discr) == (2**31, 2**30)
    with pytest.raises(ValueError, match="exists"):
        table.add(config("c"), Peer("192.0.2.3"), 0)
