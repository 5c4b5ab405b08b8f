"""BFD under hostile input: random and mutated datagrams, flapping peers, changed discriminators.

Every datagram a table receives is either dropped and counted (one counter, the
session untouched) or taken by exactly the session it names; nothing raises,
and the session table never grows (sessions come from the configuration only).
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from lab.bfd_link import ADDRESS, MS, Link, config
from pykad.bfd import wire_py
from pykad.bfd.packet import State
from pykad.bfd.table import SessionTable

S = 1_000_000


def up_link() -> Link:
    link = Link()
    link.run_for(3 * S)
    assert link.session("A").session_state is State.UP
    return link


def dropped_total(table: SessionTable) -> int:
    d = table.dropped()
    return sum(d.malformed.values()) + d.ttl + d.unknown_discriminator + d.no_session


def steady_packet(link: Link) -> bytes:
    """The last packet B sent A (B is Up: a steady, valid packet)."""
    return next(d for _, node, d in reversed(link.sent) if node == "B")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=80), source=st.sampled_from(["192.0.2.2", "192.0.2.9", "::1"]))
def test_random_datagrams_are_counted_and_change_nothing_they_should_not(
    data: bytes, source: str
) -> None:
    link = up_link()
    table, session = link.tables["A"], link.session("A")
    before = (session.session_state, session.remote_discr, dropped_total(table))
    received = session.packets_received
    got = table.receive_datagram(data, source, ADDRESS["A"], 255, False, link.now)
    assert len(table.sessions) == 1
    if got.session is None:
        assert dropped_total(table) == before[2] + 1
        assert (session.session_state, session.remote_discr) == before[:2]
        assert session.packets_received == received
    else:
        # Only a packet that names the session (or comes from its peer) reaches it.
        assert got.packet is not None
        assert got.packet.your_disc == session.local_discr or source == ADDRESS["B"]
        assert dropped_total(table) == before[2]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_packets_from_the_peer_are_dropped_or_taken_by_its_session(
    data: st.DataObject,
) -> None:
    link = up_link()
    table, session = link.tables["A"], link.session("A")
    packet = bytearray(steady_packet(link))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(packet) - 1))
        packet[i] ^= 1 << data.draw(st.integers(0, 7))
    before = dropped_total(table)
    got = table.receive_datagram(bytes(packet), ADDRESS["B"], ADDRESS["A"], 255, False, link.now)
    if got.session is None:
        assert dropped_total(table) == before + 1
        assert session.session_state is State.UP
    else:
        assert got.session is session and dropped_total(table) == before
        decoded = wire_py.decode_untrusted(bytes(packet))
        if got.change is not None:  # what the mutated State field says, per RFC 5880 6.8.6
            assert decoded.state in (State.ADMIN_DOWN, State.DOWN)
            assert got.change.new is State.DOWN


def test_a_flapping_peer_does_not_grow_the_table() -> None:
    link = up_link()
    for seed in range(20):
        link.tables["B"] = SessionTable(random.Random(seed + 100).random)
        link.add("B", config())
        link.run_for(3 * S)
        assert link.session("A").session_state is State.UP
        assert link.session("A").remote_discr == link.session("B").local_discr
    assert len(link.tables["A"].sessions) == 1
    assert len(link.tables["A"]._heap) < 10  # stale entries do not pile up


def test_a_discriminator_change_while_up_is_followed() -> None:
    """RFC 5880 6.8.6: bfd.RemoteDiscr is set from every accepted packet's My Discriminator."""
    link = up_link()
    a = link.session("A")
    changed = wire_py.decode_untrusted(steady_packet(link))._replace(my_disc=0xABCD1234)
    got = link.tables["A"].receive_datagram(
        wire_py.encode(changed), ADDRESS["B"], ADDRESS["A"], 255, False, link.now
    )
    assert got.session is a and got.change is None
    assert a.remote_discr == 0xABCD1234 and a.session_state is State.UP
    # Our next packets carry the new Your Discriminator.
    link.drop = lambda node, data: node == "B"
    link.run_for(10 * MS)
    mine = wire_py.decode_untrusted(next(d for _, n, d in reversed(link.sent) if n == "A"))
    assert mine.your_disc == 0xABCD1234
