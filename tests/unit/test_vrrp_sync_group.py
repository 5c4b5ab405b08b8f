"""Sync groups (pykad.vrrp.sync_group) against keepalived 2.2.7's vrrp_sync.c rules."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pykad.vrrp.fsm import State
from pykad.vrrp.sync_group import ForceState, GroupChanged, GroupState, SyncGroup, group_of
from pykad.vrrp.tracking import Outcome


def group(*members: str, state: GroupState = GroupState.BACKUP) -> SyncGroup:
    g = SyncGroup("G", members, state=state)
    for m in members:
        g.member_changed(m, State.BACKUP) if state is GroupState.BACKUP else None
    return g


def forced(decisions: Sequence[object]) -> list[tuple[str, State]]:
    return [(d.instance, d.state) for d in decisions if isinstance(d, ForceState)]


def test_one_fault_faults_the_group_and_recovery_is_together() -> None:
    g = group("A", "B", "C")
    own = {
        "A": Outcome("A", False, 100),
        "B": Outcome("B", True, 90),
        "C": Outcome("C", False, 80),
    }
    combined = g.tracking(own)
    assert [o.fault for o in combined.values()] == [True, True, True]
    assert [o.effective_priority for o in combined.values()] == [100, 90, 80]
    own["B"] = Outcome("B", False, 90)
    assert not any(o.fault for o in g.tracking(own).values())


def test_a_waiting_member_holds_the_group_in_init() -> None:
    g = group("A", "B")
    combined = g.tracking(
        {"A": Outcome("A", False, 100, waiting=True), "B": Outcome("B", False, 1)}
    )
    assert [o.waiting for o in combined.values()] == [True, True]
    combined = g.tracking({"A": Outcome("A", True, 100, waiting=True), "B": Outcome("B", False, 1)})
    assert [(o.fault, o.waiting) for o in combined.values()] == [(True, False), (True, False)]


def test_tracking_ignores_instances_outside_the_group() -> None:
    g = group("A", "B")
    combined = g.tracking({"A": Outcome("A", False, 1), "X": Outcome("X", True, 1)})
    assert list(combined) == ["A"] and not combined["A"].fault


def test_member_fault_drags_the_others_to_fault() -> None:
    g = group("A", "B", "C")
    g.member_changed("C", State.FAULT)
    assert g.state is GroupState.FAULT
    assert g.member_changed("A", State.FAULT) == []


def test_fault_decisions() -> None:
    g = group("A", "B")
    d = g.member_changed("A", State.FAULT)
    assert forced(d) == [("B", State.FAULT)]
    assert GroupChanged("G", GroupState.FAULT) in d


def test_all_become_master_only_when_all_want_it() -> None:
    g = group("A", "B", "C")
    assert g.want_master("A") == (False, [])
    assert g.want_master("B") == (False, [])
    ok, d = g.want_master("C")
    assert ok
    assert forced(d) == [("A", State.MASTER), ("B", State.MASTER)]
    assert g.state is GroupState.MASTER
    assert g.want_master("A") == (True, [])
    assert g.member_changed("C", State.MASTER) == []


def test_a_member_that_hears_a_better_master_drags_the_group_to_backup() -> None:
    g = group("A", "B")
    g.want_master("A")
    g.want_master("B")
    g.member_changed("A", State.MASTER)
    g.member_changed("B", State.MASTER)
    d = g.member_changed("B", State.BACKUP)
    assert forced(d) == [("A", State.BACKUP)]
    assert g.state is GroupState.BACKUP
    # after that, going master needs everyone again
    assert g.want_master("A") == (False, [])


def test_withdrawn_wish_blocks_master() -> None:
    g = group("A", "B")
    g.want_master("A")
    g.withdraw_master("A")
    assert g.want_master("B") == (False, [])


def test_no_master_while_the_group_is_in_fault() -> None:
    g = group("A", "B")
    g.member_changed("A", State.FAULT)
    g.want_master("A")
    assert g.want_master("B") == (False, [])


def test_leaving_fault_goes_backup_together() -> None:
    g = group("A", "B")
    g.member_changed("A", State.FAULT)
    d = g.member_changed("A", State.BACKUP)
    assert forced(d) == [("B", State.BACKUP)]
    assert g.state is GroupState.BACKUP


def test_a_member_becoming_master_when_all_want_it_syncs_the_rest() -> None:
    g = group("A", "B")
    g.want_master("B")
    d = g.member_changed("A", State.MASTER)
    assert forced(d) == [("B", State.MASTER)]


def test_group_needs_members_and_first_group_wins() -> None:
    with pytest.raises(ValueError):
        SyncGroup("G", [])
    g1, g2 = SyncGroup("G1", ["A", "B"]), SyncGroup("G2", ["B", "C"])
    assert {k: v.name for k, v in group_of([g1, g2]).items()} == {"A": "G1", "B": "G1", "C": "G2"}
