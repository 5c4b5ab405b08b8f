"""Tracking of VRRP instances (pykad.vrrp.tracking) against keepalived 2.2.7's rules.

Each expectation is what keepalived's running ``total_priority`` and fault
counter give for the same sequence (vrrp_track.c, vrrp_if.c, track_file.c).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pykad.config.sections._vrrp_model import SyncGroup, Tracked, VrrpConfig, VrrpInstance
from pykad.vrrp.tracking import (
    Contribution,
    InstanceTracks,
    Kind,
    ObjectId,
    Outcome,
    ScriptScore,
    ScriptState,
    Track,
    Tracker,
    config_tracks,
    contribution,
    effective_priority,
    instance_tracks,
    parse_track_file,
    script_succeeded,
)

IF = ObjectId(Kind.INTERFACE, "eth1")
SCR = ObjectId(Kind.SCRIPT, "chk")
FILE = ObjectId(Kind.FILE, "tf")
PROC = ObjectId(Kind.PROCESS, "haproxy")
BFD = ObjectId(Kind.BFD, "b1")
GOOD, BAD, INIT = ScriptState.GOOD, ScriptState.BAD, ScriptState.INIT


def one(track: Track, base: int = 100, **statuses: object) -> Tracker:
    return Tracker([InstanceTracks("VI", base, (track,))])


# --- contributions -------------------------------------------------------------------


@pytest.mark.parametrize("obj", [IF, PROC, BFD])
@pytest.mark.parametrize(
    ("weight", "reverse", "up", "expected"),
    [
        (10, False, True, 10),
        (10, False, False, 0),
        (-10, False, True, 0),
        (-10, False, False, -10),
        (10, True, True, -10),
        (10, True, False, 0),
        (-10, True, True, 0),
        (-10, True, False, 10),
    ],
)
def test_weighted_boolean_objects(
    obj: ObjectId, weight: int, reverse: bool, up: bool, expected: int
) -> None:
    assert contribution(Track(obj, weight, reverse), up) == Contribution(priority=expected)


@pytest.mark.parametrize("obj", [IF, PROC, BFD])
def test_weight_zero_faults_when_down_and_reverse_when_up(obj: ObjectId) -> None:
    assert contribution(Track(obj), False).fault
    assert not contribution(Track(obj), True).fault
    assert contribution(Track(obj, 0, True), True).fault
    assert not contribution(Track(obj, 0, True), False).fault


def test_scripts_follow_the_same_rule_once_they_have_reported() -> None:
    assert contribution(Track(SCR, 20), GOOD).priority == 20
    assert contribution(Track(SCR, -20), BAD).priority == -20
    assert contribution(Track(SCR, 0), BAD).fault
    assert contribution(Track(SCR, 0, True), GOOD).fault


def test_a_script_without_result_holds_weight_zero_trackers_and_adds_nothing() -> None:
    assert contribution(Track(SCR, 0), INIT) == Contribution(waiting=True)
    assert contribution(Track(SCR, 20), INIT) == Contribution()
    assert contribution(Track(SCR, -20), INIT) == Contribution()


@pytest.mark.parametrize(
    ("weight", "reverse", "value", "expected"),
    [
        (1, False, 0, Contribution()),
        (1, False, 5, Contribution(priority=5)),
        (1, False, -5, Contribution(priority=-5)),
        (10, False, 3, Contribution(priority=30)),
        (-10, False, 3, Contribution(priority=-30)),
        (10, True, 3, Contribution(priority=-30)),
        (1, False, 300, Contribution(priority=253)),
        (1, False, 253, Contribution(priority=253)),
        (1, False, -253, Contribution(priority=-253)),
        (1, False, -254, Contribution(fault=True)),
        (2, False, -127, Contribution(fault=True)),
        (-1, False, 254, Contribution(fault=True)),
        (1, True, 254, Contribution(fault=True)),
        (0, False, 0, Contribution()),
        (0, False, 7, Contribution(fault=True)),
        (0, False, -7, Contribution(fault=True)),
        (0, True, 0, Contribution(fault=True)),
        (0, True, 7, Contribution()),
    ],
)
def test_track_file_values(weight: int, reverse: bool, value: int, expected: Contribution) -> None:
    assert contribution(Track(FILE, weight, reverse), value) == expected


def test_track_file_product_wraps_like_a_c_int() -> None:
    # 2**30 * 4 overflows int to 0 in keepalived: no change, no fault
    assert contribution(Track(FILE, 4), 2**30) == Contribution()
    # 2**31 - 1 times 2 wraps to -2: a small negative, not a fault
    assert contribution(Track(FILE, 2), 2**31 - 1) == Contribution(priority=-2)


def test_wrong_status_types_are_refused() -> None:
    with pytest.raises(TypeError):
        contribution(Track(SCR), True)
    with pytest.raises(TypeError):
        contribution(Track(IF), GOOD)
    with pytest.raises(TypeError):
        contribution(Track(FILE), GOOD)


# --- effective priority ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "total", "expected"),
    [(100, 0, 100), (100, 50, 150), (100, 200, 254), (100, -99, 1), (100, -500, 1), (1, 0, 1)],
)
def test_effective_priority_is_clamped(base: int, total: int, expected: int) -> None:
    assert effective_priority(base, total) == expected


def test_address_owner_keeps_255() -> None:
    assert effective_priority(255, -100) == 255
    assert effective_priority(255, 100) == 255


@given(st.integers(1, 255), st.lists(st.integers(-253, 253), max_size=6))
def test_effective_priority_range(base: int, weights: list[int]) -> None:
    p = effective_priority(base, sum(weights))
    assert p == 255 if base == 255 else 1 <= p <= 254


# --- the tracker ---------------------------------------------------------------------------


def test_tracker_sums_weights_and_reports_only_changes() -> None:
    t = Tracker(
        [InstanceTracks("VI", 100, (Track(IF, 10), Track(SCR, -30), Track(FILE, 5)))],
        {IF: True},
    )
    assert t.outcome("VI") == Outcome("VI", False, 110)
    assert t.update(SCR, GOOD) == []  # no change: weight -30 counts only when BAD
    assert t.update(SCR, BAD) == [Outcome("VI", False, 80)]
    assert t.update(FILE, 4) == [Outcome("VI", False, 100)]
    assert t.update(FILE, 4) == []
    assert t.update(IF, False) == [Outcome("VI", False, 90)]


def test_tracker_fault_and_recovery() -> None:
    t = Tracker([InstanceTracks("VI", 100, (Track(IF), Track(FILE, 1)))], {IF: True})
    [out] = t.update(IF, False)
    assert out.fault and out.failed == (IF,)
    assert t.update(FILE, 20) == [Outcome("VI", True, 120)]
    assert t.update(FILE, -300)[0].failed == (IF, FILE)
    assert t.update(IF, True) == []  # still in FAULT, through the file now
    assert t.outcome("VI").failed == (FILE,)
    assert t.update(FILE, 0) == [Outcome("VI", False, 100)]


def test_a_file_in_fault_contributes_nothing() -> None:
    t = Tracker([InstanceTracks("VI", 100, (Track(FILE, 1), Track(IF, 10)))], {IF: True})
    assert t.update(FILE, 50) == [Outcome("VI", False, 160)]
    assert t.update(FILE, -254) == [Outcome("VI", True, 110)]
    assert t.update(FILE, -10) == [Outcome("VI", False, 100)]


def test_script_weight_zero_waits_then_faults_or_comes_up() -> None:
    t = Tracker([InstanceTracks("VI", 100, (Track(SCR),))])
    assert t.outcome("VI") == Outcome("VI", False, 100, waiting=True)
    assert t.update(SCR, BAD) == [Outcome("VI", True, 100)]
    assert t.update(SCR, GOOD) == [Outcome("VI", False, 100)]


def test_one_object_tracked_by_several_instances() -> None:
    t = Tracker(
        [
            InstanceTracks("A", 100, (Track(BFD, 50),)),
            InstanceTracks("B", 90, (Track(BFD, -50),)),
            InstanceTracks("C", 80, (Track(IF),)),
        ]
    )
    assert [o.effective_priority for o in t.outcomes()] == [100, 40, 80]
    assert t.update(BFD, True) == [Outcome("A", False, 150), Outcome("B", False, 90)]
    assert t.trackers(BFD) == ("A", "B")


def test_owner_is_never_changed_but_can_fault() -> None:
    t = Tracker([InstanceTracks("VI", 255, (Track(IF), Track(PROC, -100)))], {IF: True})
    assert t.outcome("VI").effective_priority == 255
    assert t.update(IF, False) == [Outcome("VI", True, 255)]


# --- rise / fall -------------------------------------------------------------------------------


def states(score: ScriptScore, results: str) -> str:
    out = []
    for r in results:
        score = score.record(r == "+")
        out.append({GOOD: "G", BAD: "B", INIT: "I"}[score.state])
    return "".join(out)


def test_first_result_decides() -> None:
    assert ScriptScore.initial(3, 3).state is INIT
    assert states(ScriptScore.initial(3, 3), "+") == "G"
    assert states(ScriptScore.initial(3, 3), "-") == "B"


def test_rise_and_fall() -> None:
    s = ScriptScore.initial(3, 2)
    assert states(s, "-++-+++--+") == "BBBBBBGGBB"
    assert states(s, "+-+--") == "GGGGB"


def test_result_counter_range() -> None:
    s = ScriptScore.initial(2, 3)
    assert s.result == 1
    s = s.record(True)
    assert s.result == 4  # rise + fall - 1
    s = s.record(False).record(False)
    assert (s.result, s.state) == (2, GOOD)
    s = s.record(False)
    assert (s.result, s.state) == (0, BAD)


def test_init_fail_starts_bad() -> None:
    s = ScriptScore.initial(2, 2, init_fail=True)
    assert (s.result, s.state) == (0, BAD)
    assert states(s, "-++") == "BBG"


def test_rise_and_fall_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ScriptScore.initial(0, 1)


@pytest.mark.parametrize(
    ("returncode", "timed_out", "signal", "ok"),
    [
        (0, False, None, True),
        (1, False, None, False),
        (None, True, 15, False),
        (None, False, 9, False),
    ],
)
def test_script_verdicts(
    returncode: int | None, timed_out: bool, signal: int | None, ok: bool
) -> None:
    assert script_succeeded(returncode, timed_out, signal) is ok


@given(st.integers(1, 5), st.integers(1, 5), st.lists(st.booleans(), max_size=40))
def test_score_invariants(rise: int, fall: int, results: list[bool]) -> None:
    s = ScriptScore.initial(rise, fall)
    for ok in results:
        prev = s
        s = s.record(ok)
        assert 0 <= s.result <= rise + fall - 1
        if ok and prev.state is not BAD:
            assert s.state is GOOD  # one success keeps or makes it good from INIT/GOOD
        if not ok and prev.state is not GOOD:
            assert s.state is BAD


# --- track files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"", 0),
        (b"5\n", 5),
        (b"  \t-12 apples", -12),
        (b"+7", 7),
        (b"0x1f", 31),
        (b"0X1F\n", 31),
        (b"010", 8),
        (b"08", 0),
        (b"0x", 0),
        (b"0xg", 0),
        (b"abc", 0),
        (b"- 5", 0),
        (b"2147483647", 2**31 - 1),
        (b"-2147483648", -(2**31)),
        (b"2147483648", None),
        (b"99999999999999999999", None),
        (b" " * 127 + b"5", 0),
        (b"12\x0034", 12),
    ],
)
def test_parse_track_file(data: bytes, value: int | None) -> None:
    assert parse_track_file(data) == value


# --- from the configuration -------------------------------------------------------------------


def vi(name: str = "VI", priority: int = 100, **kw: object) -> VrrpInstance:
    return VrrpInstance(name=name, vrid=1, interface="eth0", priority=priority, **kw)  # type: ignore[arg-type]


def T(name: str, weight: int = 0, reverse: bool = False) -> Tracked:
    return Tracked(name=name, weight=weight, reverse=reverse)


def test_instance_tracks_its_interface_unless_told_not_to() -> None:
    assert instance_tracks(vi()).tracks == (Track(ObjectId(Kind.INTERFACE, "eth0")),)
    assert instance_tracks(vi(dont_track_primary=True)).tracks == ()
    assert instance_tracks(vi(), track_primary=False).tracks == ()


def test_owner_drops_weighted_tracks() -> None:
    inst = vi(
        priority=255,
        track_interfaces=(T("eth1", 10), T("eth2")),
        track_scripts=(T("s1", 5), T("s2")),
        track_files=(T("f1", 1), T("f2", 3), T("f3")),
        track_bfds=(T("b1", 5),),
        track_processes=(T("p1", 5),),
    )
    names = {(t.obj.name, t.weight) for t in instance_tracks(inst, track_primary=False).tracks}
    assert names == {("eth2", 0), ("s2", 0), ("f1", 0), ("f3", 0), ("p1", 5)}


def test_sync_group_without_tracking_weight_unweights_members() -> None:
    inst = vi(
        track_interfaces=(T("eth1", 10, True),),
        track_scripts=(T("s1", 5),),
        track_files=(T("f1", 1), T("f2", -3)),
    )
    group = SyncGroup(name="G", members=("VI",))
    tracks = instance_tracks(inst, group, track_primary=False).tracks
    assert tracks == (
        Track(ObjectId(Kind.INTERFACE, "eth1"), 0, True),
        Track(ObjectId(Kind.FILE, "f1"), 0),
    )
    weighted = SyncGroup(name="G", members=("VI",), sync_group_tracking_weight=True)
    assert len(instance_tracks(inst, weighted, track_primary=False).tracks) == 4


def test_group_tracks_apply_to_members_with_their_weights() -> None:
    group = SyncGroup(name="G", members=("A", "B"), track_scripts=(T("gs", 20),))
    a = vi("A", track_scripts=(T("gs", 0),))
    b = vi("B", track_scripts=(T("gs", 7),), track_files=(T("f", 2),))
    cfg = VrrpConfig(instances=(a, b), sync_groups=(group,))
    ta, tb = config_tracks(cfg, track_primary=False)
    assert ta.tracks == (Track(ObjectId(Kind.SCRIPT, "gs"), 0),)  # the member's weight 0 stays
    # B's own weighted script was dropped (no sync_group_tracking_weight); the group's applies
    assert tb.tracks == (Track(ObjectId(Kind.SCRIPT, "gs"), 20),)


def test_group_with_an_owner_member_unweights_group_tracks() -> None:
    group = SyncGroup(name="G", members=("A", "B"), track_files=(T("f", 5),))
    cfg = VrrpConfig(instances=(vi("A", 255), vi("B")), sync_groups=(group,))
    for t in config_tracks(cfg, track_primary=False):
        assert t.tracks == (Track(ObjectId(Kind.FILE, "f"), 0),)


def test_group_weights_replace_weighted_member_lines_when_weights_are_kept() -> None:
    group = SyncGroup(
        name="G", members=("A",), track_files=(T("f", 5, True),), sync_group_tracking_weight=True
    )
    a = vi("A", track_files=(T("f", 2),))
    [ta] = config_tracks(VrrpConfig(instances=(a,), sync_groups=(group,)), track_primary=False)
    assert ta.tracks == (Track(ObjectId(Kind.FILE, "f"), 5, True),)


def test_a_reload_keeps_the_tracks_and_outcomes_of_the_same_instances() -> None:
    """``config_tracks(made=...)`` gives back the tracks of the very same instance
    objects (a re-read takes them from the last read), and ``Tracker.reloaded`` their
    outcomes; the others are made again, and the result is what a new tracker says."""
    a, b = vi("A", track_files=(T("f", 2),)), vi("B", track_scripts=(T("s", -20),))
    made: dict[int, tuple[tuple[object, ...], InstanceTracks]] = {}
    first = config_tracks(VrrpConfig(instances=(a, b)), made=made)
    tracker = Tracker(first)
    tracker.update(ObjectId(Kind.SCRIPT, "s"), BAD)
    tracker.update(ObjectId(Kind.FILE, "f"), 3)
    b2 = vi("B", 150, track_scripts=(T("s", -20),))
    c = vi("C", track_bfds=(T("b", 5),))
    group = SyncGroup(name="G", members=("A",))
    for config in (
        VrrpConfig(instances=(a, b2, c)),
        VrrpConfig(instances=(a, b2, c), sync_groups=(group,)),
    ):
        again = config_tracks(config, made=made)
        assert again == config_tracks(config)
        assert (again[0] is first[0]) == (not config.sync_groups)
        reloaded = tracker.reloaded(again)
        statuses = {obj: tracker.status(obj) for obj in tracker.objects()}
        assert reloaded.outcomes() == Tracker(again, statuses).outcomes()
