"""Sync groups: instances that change state together, as keepalived 2.2.7 does it.

Owns the group's rules (keepalived ``vrrp_sync.c``, ``vrrp.c::try_up_instance``
and ``vrrp_track.c::down_instance``), as decisions returned as values:

* FAULT: when any member has a tracking fault, every member is in FAULT
  (``down_instance`` -> ``vrrp_sync_fault``); the group leaves FAULT only when
  no member has a fault and no member waits for its scripts
  (``num_member_fault`` / ``num_member_init``), and then all leave together.
  ``SyncGroup.tracking`` applies this to the members' tracking outcomes: feed
  the routers those combined outcomes rather than each member's own.
* INIT: while a member waits for a weight-0 script's first result, the whole
  group waits (``num_member_init``).
* MASTER: a member whose master-down timer fires may become MASTER only if
  every other member wants MASTER too (``vrrp_sync_can_goto_master``, called
  by ``vrrp_state_goto_master``); until then it stays BACKUP and its wish is
  kept. When the last one wants it, all become MASTER (``vrrp_sync_master``).
* BACKUP: a member that goes BACKUP (a higher-priority advert while MASTER, or
  leaving FAULT) drags the others to BACKUP (``vrrp_sync_backup``).

Tracking weights of members (``sync_group_tracking_weight``) and the group's
own ``track_*`` lines are resolved in ``pykad.vrrp.tracking.instance_tracks``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pykad.vrrp.fsm import State
from pykad.vrrp.tracking import Outcome


class GroupState(enum.Enum):
    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"


@dataclass(frozen=True, slots=True)
class ForceState:
    """A decision: the router of ``instance`` must go to ``state`` now."""

    instance: str
    state: State
    group: str


@dataclass(frozen=True, slots=True)
class GroupChanged:
    """The group itself changed state (keepalived runs the group's notify scripts)."""

    group: str
    state: GroupState


Decision = ForceState | GroupChanged


class SyncGroup:
    """One ``vrrp_sync_group``: its members' states and the decisions that keep them together."""

    def __init__(self, name: str, members: Iterable[str], *, state: GroupState = GroupState.BACKUP):
        self.name = name
        self.members: tuple[str, ...] = tuple(dict.fromkeys(members))
        if not self.members:
            raise ValueError(f"sync group {name} has no members")
        self.state = state
        self._states: dict[str, State] = dict.fromkeys(self.members, State.INIT)
        self._want_master: set[str] = set()

    def restore(self, states: Mapping[str, State]) -> None:
        """A reload: the members' routers are already in ``states`` (missing: INIT)."""
        for m in self.members:
            state = states.get(m, State.INIT)
            self._states[m] = state
            if state is State.MASTER:
                self._want_master.add(m)

    def member_state(self, instance: str) -> State:
        return self._states[instance]

    # --- tracking ---------------------------------------------------------------

    def tracking(self, outcomes: Mapping[str, Outcome]) -> dict[str, Outcome]:
        """The members' outcomes with the group's fault and INIT hold applied to each.

        ``outcomes`` holds each member's own tracking outcome (missing members
        count as healthy). Priorities are left as they are.
        """
        fault = any(o.fault for n, o in outcomes.items() if n in self._states)
        waiting = any(o.waiting for n, o in outcomes.items() if n in self._states)
        return {
            name: dataclasses.replace(o, fault=fault, waiting=waiting and not fault)
            for name, o in outcomes.items()
            if name in self._states
        }

    # --- member state changes ---------------------------------------------------

    def want_master(self, instance: str) -> tuple[bool, list[Decision]]:
        """``instance`` wants to become MASTER (its master-down timer fired, or it preempts).

        Returns whether it may go now and the decisions for the others. When it
        may not, its wish is kept and it must stay BACKUP
        (``vrrp_state_goto_master`` sets ``wantstate`` and returns).
        """
        self._want_master.add(instance)
        if self.state is GroupState.FAULT:
            return False, []
        if self.state is GroupState.MASTER:
            return True, []
        others = [m for m in self.members if m != instance]
        if not all(m in self._want_master for m in others):
            return False, []
        return True, self._sync(instance, State.MASTER)

    def withdraw_master(self, instance: str) -> None:
        """``instance`` no longer wants MASTER (it heard a better master)."""
        self._want_master.discard(instance)

    def member_changed(self, instance: str, state: State) -> list[Decision]:
        """``instance``'s router entered ``state``: what the other members must do."""
        self._states[instance] = state
        if state is State.MASTER:
            self._want_master.add(instance)
            if self.state is GroupState.MASTER:
                return []
            others = [m for m in self.members if m != instance]
            if not all(m in self._want_master for m in others):
                return []
            return self._sync(instance, State.MASTER)
        self._want_master.discard(instance)
        if state is State.BACKUP:
            if self.state is GroupState.BACKUP:
                return []
            return self._sync(instance, State.BACKUP)
        if state is State.FAULT:
            if self.state is GroupState.FAULT:
                return []
            return self._sync(instance, State.FAULT)
        return []

    def _sync(self, instance: str, state: State) -> list[Decision]:
        decisions: list[Decision] = []
        for m in self.members:
            if m == instance or self._states[m] is state:
                continue
            decisions.append(ForceState(m, state, self.name))
            self._states[m] = state
            if state is State.MASTER:
                self._want_master.add(m)
            else:
                self._want_master.discard(m)
        self.state = GroupState(state.value)
        decisions.append(GroupChanged(self.name, self.state))
        return decisions


def group_of(groups: Iterable[SyncGroup]) -> dict[str, SyncGroup]:
    """Instance name -> its sync group (keepalived keeps the first group naming it)."""
    out: dict[str, SyncGroup] = {}
    for g in groups:
        for m in g.members:
            out.setdefault(m, g)
    return out
