"""Tracked objects and what they do to VRRP instances, as keepalived 2.2.7 applies them.

Owns: the status of every tracked object (interface up/down, ``vrrp_script``
good/bad with rise/fall counting, ``track_file`` value, process quorum, BFD
session up/down), each instance's resulting ``fault`` / ``waiting`` flags and
``effective_priority``, and how a configuration's ``track_*`` lines (on
instances and on sync groups) become the weighted tracks of each instance.
Pure values, no I/O: drivers feed statuses in with ``Tracker.update`` and
receive the instances whose outcome changed.

keepalived keeps a running ``total_priority`` and a fault counter and applies
deltas (``vrrp_track.c``: ``initialise_tracking_priorities``,
``process_script_update_priority``, ``process_update_track_process_status``;
``vrrp_if.c``: ``process_if_status_change``; ``trackers/track_file.c``:
``update_track_file_status``). Those deltas are the differences of one
per-object *contribution*, which is what this module computes:

* weight 0 (the default for interfaces): the object failing puts the instance
  in FAULT. ``reverse`` flips it: the object being *up* is the failure.
* weight w != 0, reverse multiplier m (+1, or -1 with ``reverse``): the object
  contributes ``w * m`` when it is up and w > 0, or when it is down and w < 0,
  otherwise nothing. So ``weight 10`` adds 10 while up; ``weight -10`` takes 10
  off while down; ``weight 10 reverse`` takes 10 off while up.
* ``track_file`` with weight w: ``value * w * m`` (32-bit C arithmetic), at most
  253; a product <= -254 is FAULT. With weight 0 a non-zero value is FAULT
  (with ``reverse``: a zero value is FAULT).
* a script that has not yet reported (keepalived's ``SCRIPT_INIT_STATE_INIT``)
  contributes nothing; if tracked with weight 0 it holds the instance in INIT
  (``num_script_init``): ``Outcome.waiting``.

``vrrp_set_effective_priority``: an address owner (base priority 255) keeps
255; otherwise ``effective = clamp(base + sum of contributions, 1, 254)``.
Objects in FAULT contribute nothing (keepalived subtracts their previous
contribution on entering FAULT).

Configuration rules (``vrrp.c``: ``vrrp_complete_instance`` and
``sync_group_tracking_init``; the 2.2.7 binary prints the same messages):

* an address owner, or a member of a sync group without
  ``sync_group_tracking_weight``, loses its own weighted tracks: weighted
  interfaces become weight 0 in a sync group (the owner stops tracking them),
  weighted scripts and BFDs are dropped, track files tracked with weight 1 (the
  default) become weight 0 and other weighted files are dropped. Weighted
  ``track_process`` lines are left alone (2.2.7 has no rule for them).
* a sync group's own ``track_*`` lines apply to every member with their
  weights (``sync_group_tracking_weight`` is not consulted there); if any member
  is an address owner they become weight 0.
* an object tracked both by an instance and by its sync group is tracked once:
  with the group's weight and reverse, unless the instance tracked it with
  weight 0 ("is configured on VRRP instance and sync group").
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pykad.config.sections._vrrp_model import (
    PRIORITY_OWNER,
    SyncGroup,
    Tracked,
    VrrpConfig,
    VrrpInstance,
)

PRIORITY_MIN = 1
PRIORITY_MAX = PRIORITY_OWNER - 1
"""254: the highest priority tracking can give a non-owner (VRRP_PRIO_OWNER - 1)."""
FILE_FAULT = -254
"""A track_file product at or below this puts the tracking instance in FAULT."""
FILE_MAX = 253


class Kind(enum.Enum):
    """What a tracked object is."""

    INTERFACE = "interface"
    SCRIPT = "script"
    FILE = "file"
    PROCESS = "process"
    BFD = "bfd"


@dataclass(frozen=True, slots=True, order=True)
class ObjectId:
    """A tracked object: its kind and its configured name (an interface name for INTERFACE)."""

    kind: Kind
    name: str


class ScriptState(enum.Enum):
    """A vrrp_script as its trackers see it."""

    INIT = "init"
    """No result yet (keepalived's SCRIPT_INIT_STATE_INIT)."""
    GOOD = "good"
    BAD = "bad"


Status = bool | int | ScriptState
"""bool for INTERFACE / PROCESS / BFD (up, quorum, session up), ScriptState for
SCRIPT, int (the file's value) for FILE."""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A tracked object's new status, as drivers report it (for ``Tracker.update``)."""

    obj: ObjectId
    status: Status


DEFAULT_STATUS: Mapping[Kind, Status] = {
    Kind.INTERFACE: True,
    Kind.SCRIPT: ScriptState.INIT,
    Kind.FILE: 0,
    Kind.PROCESS: False,
    Kind.BFD: False,
}
"""Statuses before anything is known: keepalived starts BFDs down (``bfd_up =
false``) and scripts in INIT; a missing file reads as 0. Drivers should pass the
real interface and process statuses to ``Tracker``."""


# --- script results: rise / fall -------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScriptScore:
    """keepalived's ``vrrp_script`` result counter (``vrrp_scheduler.c``).

    ``result`` runs from 0 to ``rise + fall - 1``; the script is GOOD when
    ``result >= rise``. A success below ``rise - 1`` counts up; the success that
    reaches ``rise`` jumps to ``rise + fall - 1``. A failure above ``rise``
    counts down; the failure that reaches ``rise`` (or any failure while still
    INIT) drops to 0. A timed-out script, one killed by a signal and one exiting
    non-zero all count as a failure.

    Start (``vrrp_init_script``): ``result = rise - 1`` in INIT, so the first
    result decides; with ``init_fail`` ``result = 0`` and BAD. Note that
    keepalived 2.2.7's ``alloc_track_script`` resets the script to INIT whenever
    an instance or sync group tracks it, so ``init_fail`` has no effect on a
    tracked script there: ``Tracker`` follows that (``initial(...,
    init_fail=False)``), and this class honours the flag for whoever asks.
    """

    rise: int
    fall: int
    result: int
    initialising: bool
    """keepalived's init_state == SCRIPT_INIT_STATE_INIT (no result yet)."""

    @classmethod
    def initial(cls, rise: int, fall: int, *, init_fail: bool = False) -> ScriptScore:
        if rise < 1 or fall < 1:
            raise ValueError("rise and fall must be at least 1")
        if init_fail:
            return cls(rise, fall, 0, False)
        return cls(rise, fall, rise - 1, True)

    @property
    def state(self) -> ScriptState:
        if self.initialising:
            return ScriptState.INIT
        return ScriptState.GOOD if self.result >= self.rise else ScriptState.BAD

    def record(self, success: bool) -> ScriptScore:
        """The score after one more run of the script."""
        rise, fall, result = self.rise, self.fall, self.result
        if success:
            if result < rise - 1:
                result += 1
            else:
                result = rise + fall - 1
        elif result > rise:
            result -= 1
        else:
            result = 0
        return ScriptScore(rise, fall, result, False)


def script_succeeded(returncode: int | None, timed_out: bool, signal: int | None) -> bool:
    """keepalived's verdict on one run: only a normal exit with status 0 is a success."""
    return not timed_out and signal is None and returncode == 0


# --- per-object contributions ----------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Track:
    """One object tracked by one instance, with the weight keepalived applies."""

    obj: ObjectId
    weight: int = 0
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Contribution:
    fault: bool = False
    waiting: bool = False
    priority: int = 0


def _int32(value: int) -> int:
    """``value`` wrapped as a C int (keepalived multiplies file values in int)."""
    return (value + 2**31) % 2**32 - 2**31


def contribution(track: Track, status: Status) -> Contribution:
    """What one tracked object in ``status`` does to the instance tracking it."""
    weight, mult = track.weight, (-1 if track.reverse else 1)
    kind = track.obj.kind
    if kind is Kind.FILE:
        if isinstance(status, ScriptState):
            raise TypeError(f"a file's status is an int, not {status!r}")
        value = _int32(int(status))
        if weight == 0:
            return Contribution(fault=(value != 0) == (mult == 1))
        product = _int32(_int32(value * weight) * mult)
        if product <= FILE_FAULT:
            return Contribution(fault=True)
        return Contribution(priority=min(product, FILE_MAX))
    if kind is Kind.SCRIPT:
        if not isinstance(status, ScriptState):
            raise TypeError(f"a script's status is a ScriptState, not {status!r}")
        if status is ScriptState.INIT:
            return Contribution(waiting=weight == 0)
        up = status is ScriptState.GOOD
    else:
        if isinstance(status, ScriptState):
            raise TypeError(f"{kind.value} status must be a bool, not {status!r}")
        up = bool(status)
    if weight == 0:
        return Contribution(fault=up != (mult == 1))
    if up == (weight > 0):
        return Contribution(priority=weight * mult)
    return Contribution()


def effective_priority(base_priority: int, total: int) -> int:
    """``vrrp_set_effective_priority``: owners keep 255, others are clamped to 1..254."""
    if base_priority == PRIORITY_OWNER:
        return PRIORITY_OWNER
    return max(PRIORITY_MIN, min(PRIORITY_MAX, base_priority + total))


# --- instances ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstanceTracks:
    """An instance's base priority and everything it tracks (after keepalived's rules)."""

    name: str
    base_priority: int
    tracks: tuple[Track, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """An instance's tracking result: what the router is told."""

    instance: str
    fault: bool
    """A tracked object failed: the instance must be in FAULT."""
    effective_priority: int
    waiting: bool = False
    """A weight-0 script has not reported yet: keepalived holds the instance in INIT."""
    failed: tuple[ObjectId, ...] = field(default=(), compare=False)
    """The objects putting it in FAULT (for logs and the API; not compared)."""


class Tracker:
    """Statuses of tracked objects and the outcome of every instance.

    ``update`` is event-driven: it returns the outcomes that changed (fault,
    waiting or effective priority), in instance order.
    """

    def __init__(
        self,
        instances: Iterable[InstanceTracks],
        statuses: Mapping[ObjectId, Status] | None = None,
    ) -> None:
        self._instances = {i.name: i for i in instances}
        self._status: dict[ObjectId, Status] = {}
        self._trackers: dict[ObjectId, list[str]] = {}
        for inst in self._instances.values():
            for t in inst.tracks:
                self._status.setdefault(t.obj, DEFAULT_STATUS[t.obj.kind])
                self._trackers.setdefault(t.obj, []).append(inst.name)
        for obj, status in (statuses or {}).items():
            self._status[obj] = status
        self._outcomes = {name: self._compute(inst) for name, inst in self._instances.items()}

    def reloaded(self, instances: Iterable[InstanceTracks]) -> Tracker:
        """A tracker for ``instances`` (a reload's) that starts from this one's statuses;
        an instance whose tracks are the same object as here keeps its outcome."""
        new = Tracker.__new__(Tracker)
        new._instances = {i.name: i for i in instances}
        new._status, new._trackers = {}, {}
        for inst in new._instances.values():
            for t in inst.tracks:
                new._status[t.obj] = self._status.get(t.obj, DEFAULT_STATUS[t.obj.kind])
                new._trackers.setdefault(t.obj, []).append(inst.name)
        new._status.update(self._status)
        mine = self._instances
        new._outcomes = {
            name: self._outcomes[name] if mine.get(name) is inst else new._compute(inst)
            for name, inst in new._instances.items()
        }
        return new

    def _compute(self, inst: InstanceTracks) -> Outcome:
        total, waiting, failed = 0, False, []
        for t in inst.tracks:
            c = contribution(t, self._status[t.obj])
            total += c.priority
            waiting = waiting or c.waiting
            if c.fault:
                failed.append(t.obj)
        return Outcome(
            instance=inst.name,
            fault=bool(failed),
            effective_priority=effective_priority(inst.base_priority, total),
            waiting=waiting,
            failed=tuple(failed),
        )

    def status(self, obj: ObjectId) -> Status:
        return self._status.get(obj, DEFAULT_STATUS[obj.kind])

    def objects(self) -> tuple[ObjectId, ...]:
        """Every object some instance tracks."""
        return tuple(sorted(self._trackers, key=lambda obj: (obj.kind.value, obj.name)))

    def trackers(self, obj: ObjectId) -> tuple[str, ...]:
        """The instances tracking ``obj``."""
        return tuple(self._trackers.get(obj, ()))

    def outcome(self, instance: str) -> Outcome:
        return self._outcomes[instance]

    def outcomes(self) -> tuple[Outcome, ...]:
        return tuple(self._outcomes.values())

    def update(self, obj: ObjectId, status: Status) -> list[Outcome]:
        """Set ``obj``'s status; the outcomes that changed because of it."""
        if obj in self._status and self._status[obj] == status:
            return []
        self._status[obj] = status
        changed = []
        for name in self._trackers.get(obj, ()):
            new = self._compute(self._instances[name])
            old = self._outcomes[name]
            self._outcomes[name] = new
            if new != old:
                changed.append(new)
        return changed


# --- from the configuration -------------------------------------------------------


_KINDS = (
    ("track_interfaces", Kind.INTERFACE),
    ("track_scripts", Kind.SCRIPT),
    ("track_files", Kind.FILE),
    ("track_processes", Kind.PROCESS),
    ("track_bfds", Kind.BFD),
)


def _lines(owner: VrrpInstance | SyncGroup) -> list[Track]:
    out = []
    for attr, kind in _KINDS:
        tracked: tuple[Tracked, ...] = getattr(owner, attr)
        out += [Track(ObjectId(kind, t.name), t.weight, t.reverse) for t in tracked]
    return out


def _own_tracks(inst: VrrpInstance, group: SyncGroup | None) -> list[Track]:
    """The instance's own track lines after ``vrrp_complete_instance``'s weight rules."""
    tracks = _lines(inst)
    owner = inst.priority == PRIORITY_OWNER
    no_weights = group is not None and not group.sync_group_tracking_weight
    if not (owner or no_weights):
        return tracks
    kept = []
    for t in tracks:
        kind = t.obj.kind
        if t.weight == 0 or kind is Kind.PROCESS:
            kept.append(t)
        elif kind is Kind.INTERFACE:
            if no_weights:
                kept.append(Track(t.obj, 0, t.reverse))
        elif kind is Kind.FILE and t.weight == 1:
            kept.append(Track(t.obj, 0, t.reverse))
    return kept


def instance_tracks(
    inst: VrrpInstance,
    group: SyncGroup | None = None,
    *,
    group_has_owner: bool = False,
    track_primary: bool = True,
) -> InstanceTracks:
    """Everything ``inst`` tracks, with keepalived's weights.

    ``group`` is the sync group it belongs to; ``group_has_owner`` says that a
    member of that group is an address owner. With ``track_primary`` the
    instance's own interface is tracked with weight 0 (keepalived does, unless
    ``dont_track_primary``).
    """
    tracks: dict[ObjectId, Track] = {}
    if track_primary and inst.interface and not inst.dont_track_primary:
        obj = ObjectId(Kind.INTERFACE, inst.interface)
        tracks[obj] = Track(obj)
    for t in _own_tracks(inst, group):
        tracks.setdefault(t.obj, t)
    if group is not None:
        for g in _lines(group):
            weight = 0 if group_has_owner else g.weight
            mine = tracks.get(g.obj)
            if mine is None or mine.weight != 0:
                tracks[g.obj] = Track(g.obj, weight, g.reverse)
    return InstanceTracks(inst.name, inst.priority, tuple(tracks.values()))


TracksMade = dict[int, tuple[tuple[object, ...], "InstanceTracks"]]
"""``config_tracks``'s tracks by instance (``id``), with what they were made from."""


def config_tracks(
    vrrp: VrrpConfig,
    *,
    track_primary: bool = True,
    made: TracksMade | None = None,
) -> tuple[InstanceTracks, ...]:
    """``instance_tracks`` for every instance of a configuration, in order.

    ``made`` (kept by the caller from one configuration to the next: a reload) gives
    back the tracks made for the very same instance, group and owner flag."""
    groups: dict[str, SyncGroup] = {}
    for g in vrrp.sync_groups:
        for member in g.members:
            groups.setdefault(member, g)
    priorities = {i.name: i.priority for i in vrrp.instances}
    has_owner = {
        g.name: any(priorities.get(m) == PRIORITY_OWNER for m in g.members)
        for g in vrrp.sync_groups
    }
    out = []
    kept: TracksMade = {}
    for inst in vrrp.instances:
        group = groups.get(inst.name)
        owner = has_owner[group.name] if group is not None else False
        key = (inst, group, owner, track_primary)
        found = made.get(id(inst)) if made is not None else None
        if found is not None and all(a is b for a, b in zip(found[0], key, strict=True)):
            tracks = found[1]
        else:
            tracks = instance_tracks(
                inst, group, group_has_owner=owner, track_primary=track_primary
            )
        kept[id(inst)] = (key, tracks)
        out.append(tracks)
    if made is not None:
        made.clear()
        made.update(kept)
    return tuple(out)


def script_tracks(tracks: Sequence[InstanceTracks]) -> tuple[str, ...]:
    """The names of the scripts some instance tracks (keepalived runs only those)."""
    names = {t.obj.name for inst in tracks for t in inst.tracks if t.obj.kind is Kind.SCRIPT}
    return tuple(sorted(names))


# --- track_file contents ------------------------------------------------------------

TRACK_FILE_READ_MAX = 127
"""keepalived reads at most this many bytes of a track file (``char buf[128]``)."""
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_C_SPACE = b" \t\n\v\f\r"


def parse_track_file(data: bytes) -> int | None:
    """The value keepalived reads from a track file's contents (``process_track_file``).

    ``strtol(buf, NULL, 0)`` over the first 127 bytes: leading white space, an
    optional sign, then ``0x`` for hex or a leading ``0`` for octal, as many
    digits as parse; anything else after them is ignored, and no digits at all
    read as 0 (so does an empty file). None when the number overflows a C long
    or an int: keepalived logs "Invalid number" and keeps the previous value.
    """
    buf = data[:TRACK_FILE_READ_MAX].split(b"\0", 1)[0]
    i, n = 0, len(buf)
    while i < n and buf[i] in _C_SPACE:
        i += 1
    negative = False
    if i < n and buf[i] in b"+-":
        negative = buf[i] == ord("-")
        i += 1
    base = 10
    if buf[i : i + 2].lower() == b"0x" and i + 2 < n and _digit(buf[i + 2], 16):
        base, i = 16, i + 2
    elif i < n and buf[i] == ord("0"):
        base = 8
    value = 0
    while i < n and _digit(buf[i], base):
        value = value * base + int(chr(buf[i]), 16)
        i += 1
    if negative:
        value = -value
    if not _LONG_MIN <= value <= _LONG_MAX or not _INT_MIN <= value <= _INT_MAX:
        return None
    return value


def _digit(byte: int, base: int) -> bool:
    c = chr(byte).lower()
    return c in "0123456789abcdef"[:base]
