"""What keepalived 2.2.7 runs and writes when VRRP states change (pykad.vrrp.notify).

The formats here are those the real daemon produced in
tests/interop/test_notify_keepalived.py; this file pins them and the rules around
them (script choice, STOP timeouts, sync-group suppression, shutdown order).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pykad.config.scripts import Script
from pykad.config.sections._vrrp_model import SyncGroup, VrrpInstance
from pykad.vrrp import fsm
from pykad.vrrp.notify import (
    STOP_SCRIPT_TIMEOUT_S,
    Event,
    Kind,
    NotifyPlanner,
    NotifyState,
    RunScript,
    WriteFifo,
    fifo_line,
    generic_argv,
)

MASTER, BACKUP, FAULT, STOP, DELETED = (
    NotifyState.MASTER,
    NotifyState.BACKUP,
    NotifyState.FAULT,
    NotifyState.STOP,
    NotifyState.DELETED,
)


def script(*argv: str, user: str | None = None, group: str | None = None) -> Script:
    return Script(tuple(argv), user, group)


def instance(name: str = "VI_1", **kw: object) -> VrrpInstance:
    return VrrpInstance(name=name, vrid=51, **kw)  # type: ignore[arg-type]


def full_instance(name: str = "VI_1") -> VrrpInstance:
    return instance(
        name,
        notify_master=script("/s", "master"),
        notify_backup=script("/s", "backup"),
        notify_fault=script("/s", "fault"),
        notify_stop=script("/s", "stop"),
        notify=script("/s", "generic", "two words"),
        notify_master_rx_lower_pri=script("/s", "rxlow"),
    )


def lines(effects: tuple[object, ...]) -> list[bytes]:
    return [e.line for e in effects if isinstance(e, WriteFifo)]


def runs(effects: tuple[object, ...]) -> list[RunScript]:
    return [e for e in effects if isinstance(e, RunScript)]


# ---- the formats


@pytest.mark.parametrize(
    ("kind", "name", "state", "priority", "line"),
    [
        (Kind.INSTANCE, "VI_1", MASTER, 100, b'INSTANCE "VI_1" MASTER 100\n'),
        (Kind.INSTANCE, "VI_2", BACKUP, 90, b'INSTANCE "VI_2" BACKUP 90\n'),
        (Kind.INSTANCE, "VI_1", FAULT, 0, b'INSTANCE "VI_1" FAULT 0\n'),
        (Kind.INSTANCE, "VI_1", STOP, 100, b'INSTANCE "VI_1" STOP 100\n'),
        (Kind.INSTANCE, "VI_1", DELETED, 100, b'INSTANCE "VI_1" DELETED 100\n'),
        (Kind.GROUP, "G1", MASTER, 0, b'GROUP "G1" MASTER 0\n'),
        (Kind.GROUP, "G1", STOP, 0, b'GROUP "G1" STOP 0\n'),
        (Kind.INSTANCE, "V", Event.MASTER_RX_LOWER_PRI, 1, b'INSTANCE "V" MASTER_RX_LOWER_PRI 1\n'),
        (Kind.INSTANCE, "V", Event.MASTER_PRIORITY, 80, b'INSTANCE "V" MASTER_PRIORITY 80\n'),
        (Kind.INSTANCE, "V", Event.BACKUP_PRIORITY, 255, b'INSTANCE "V" BACKUP_PRIORITY 255\n'),
    ],
)  # fmt: skip
def test_fifo_line(
    kind: Kind, name: str, state: NotifyState | Event, priority: int, line: bytes
) -> None:
    assert fifo_line(kind, name, state, priority) == line


@given(st.text(st.characters(exclude_categories=["Cs"]), min_size=1), st.integers(0, 255))
def test_fifo_line_quotes_any_name_as_is(name: str, priority: int) -> None:
    line = fifo_line(Kind.INSTANCE, name, MASTER, priority)
    assert line == b"INSTANCE " + b'"' + name.encode() + b'"' + f" MASTER {priority}\n".encode()
    assert line.count(b"\n") == name.count("\n") + 1


def test_generic_argv_appends_four_words_without_quotes() -> None:
    s = script("/usr/local/bin/n.sh", "two words")
    assert generic_argv(s, Kind.INSTANCE, "VI_1", MASTER, 100) == (
        "/usr/local/bin/n.sh",
        "two words",
        "INSTANCE",
        "VI_1",
        "MASTER",
        "100",
    )
    assert generic_argv(s, Kind.GROUP, "G 1", STOP, 0)[-4:] == ("GROUP", "G 1", "STOP", "0")


@pytest.mark.parametrize("state", list(fsm.State)[1:])
def test_notify_state_of_other_enums(state: fsm.State) -> None:
    assert NotifyState.of(state).value == state.name
    assert NotifyState.of(state.name) is NotifyState.of(state)


# ---- instances


@pytest.mark.parametrize(
    ("state", "word"), [(MASTER, "master"), (BACKUP, "backup"), (FAULT, "fault")]
)
def test_instance_state_runs_its_script_then_generic_then_writes_the_line(
    state: NotifyState, word: str
) -> None:
    planner = NotifyPlanner([full_instance()])
    effects = planner.instance_state("VI_1", state, 100)
    assert effects == (
        RunScript(("/s", word)),
        RunScript(("/s", "generic", "two words", "INSTANCE", "VI_1", state.value, "100")),
        WriteFifo(f'INSTANCE "VI_1" {state.value} 100\n'.encode()),
    )


def test_stop_scripts_are_timed() -> None:
    effects = NotifyPlanner([full_instance()]).instance_state("VI_1", STOP, 100)
    assert [r.timeout_s for r in runs(effects)] == [STOP_SCRIPT_TIMEOUT_S] * 2
    assert STOP_SCRIPT_TIMEOUT_S == 1.0


def test_no_scripts_still_writes_the_line() -> None:
    planner = NotifyPlanner([instance()])
    assert planner.instance_state("VI_1", MASTER, 100) == (
        WriteFifo(b'INSTANCE "VI_1" MASTER 100\n'),
    )


def test_script_user_and_group_are_carried() -> None:
    inst = instance(notify_master=script("/s", user="nobody", group="nogroup"))
    (run, _line) = NotifyPlanner([inst]).instance_state("VI_1", MASTER, 100)
    assert run == RunScript(("/s",), "nobody", "nogroup", None)


def test_unknown_instance() -> None:
    with pytest.raises(KeyError, match="VI_9"):
        NotifyPlanner([instance()]).instance_state("VI_9", MASTER, 100)


def test_master_rx_lower_pri_runs_its_script_without_words() -> None:
    effects = NotifyPlanner([full_instance()]).master_rx_lower_pri("VI_1", 100)
    assert effects == (
        RunScript(("/s", "rxlow")),
        WriteFifo(b'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100\n'),
    )
    assert NotifyPlanner([instance()]).master_rx_lower_pri("VI_1", 50) == (
        WriteFifo(b'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 50\n'),
    )


@pytest.mark.parametrize(
    ("state", "event"),
    [(MASTER, "MASTER_PRIORITY"), (BACKUP, "BACKUP_PRIORITY"), (FAULT, "BACKUP_PRIORITY")],
)
def test_priority_changes_only_when_asked(state: NotifyState, event: str) -> None:
    assert NotifyPlanner([instance()]).priority_changed("VI_1", state, 90) == ()
    planner = NotifyPlanner([instance(notify_priority_changes=True, notify=script("/s"))])
    assert planner.priority_changed("VI_1", state, 90) == (
        WriteFifo(f'INSTANCE "VI_1" {event} 90\n'.encode()),
    )


def test_deleted_is_stop_unless_notify_deleted() -> None:
    plain = NotifyPlanner([full_instance()]).deleted("VI_1", 100)
    assert lines(plain) == [b'INSTANCE "VI_1" STOP 100\n']
    assert RunScript(("/s", "stop"), timeout_s=1.0) in plain
    inst = instance(
        notify_deleted=True, notify_deleted_script=script("/s", "deleted"), notify=script("/g")
    )
    effects = NotifyPlanner([inst]).deleted("VI_1", 100)
    assert effects == (
        RunScript(("/s", "deleted")),
        RunScript(("/g", "INSTANCE", "VI_1", "DELETED", "100")),
        WriteFifo(b'INSTANCE "VI_1" DELETED 100\n'),
    )


# ---- sync groups


def group(**kw: object) -> SyncGroup:
    return SyncGroup(name="G1", members=("VI_1", "VI_2"), **kw)  # type: ignore[arg-type]


def test_group_state_priority_is_zero_and_group_stop_script_is_untimed() -> None:
    g = group(notify_stop=script("/s", "gstop"), notify=script("/s", "ggeneric"))
    planner = NotifyPlanner([instance("VI_1"), instance("VI_2")], [g])
    assert planner.group_state("G1", STOP) == (
        RunScript(("/s", "gstop")),
        RunScript(("/s", "ggeneric", "GROUP", "G1", "STOP", "0"), timeout_s=1.0),
        WriteFifo(b'GROUP "G1" STOP 0\n'),
    )
    assert planner.group_state("G1", MASTER)[-1] == WriteFifo(b'GROUP "G1" MASTER 0\n')


def test_member_does_not_notify_again_when_its_group_is_already_there() -> None:
    planner = NotifyPlanner([instance("VI_1"), instance("VI_2")], [group()])
    # keepalived at start-up: the group enters BACKUP first, then its members do.
    assert lines(planner.group_state("G1", BACKUP)) == [b'GROUP "G1" BACKUP 0\n']
    assert lines(planner.instance_state("VI_1", BACKUP, 100)) == [b'INSTANCE "VI_1" BACKUP 100\n']
    # Once notified, a member whose group already is in the new state stays quiet...
    planner.group_state("G1", FAULT)
    assert planner.instance_state("VI_1", FAULT, 100) == ()
    # ...but not an instance that never notified, nor one outside any group.
    assert lines(planner.instance_state("VI_2", FAULT, 90)) == [b'INSTANCE "VI_2" FAULT 90\n']
    # The usual order (members first, then the group) notifies every member.
    assert planner.instance_state("VI_1", MASTER, 100) != ()
    assert planner.instance_state("VI_2", MASTER, 90) != ()
    assert lines(planner.group_state("G1", MASTER)) == [b'GROUP "G1" MASTER 0\n']


def test_shutdown_stops_instances_in_order_then_groups() -> None:
    g = group(notify=script("/s", "ggeneric"))
    planner = NotifyPlanner([full_instance("VI_1"), instance("VI_2")], [g])
    planner.group_state("G1", BACKUP)
    planner.instance_state("VI_1", BACKUP, 100)
    planner.instance_state("VI_2", BACKUP, 90)
    effects = planner.shutdown({"VI_2": 90})
    assert lines(effects) == [
        b'INSTANCE "VI_1" STOP 100\n',
        b'INSTANCE "VI_2" STOP 90\n',
        b'GROUP "G1" STOP 0\n',
    ]
    assert all(r.timeout_s == 1.0 for r in runs(effects))
