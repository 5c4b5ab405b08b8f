"""A reload of the VRRP configuration as a plan: what changed, and how each change is applied.

Owns the diff of two configurations (the running one and the one read again
on SIGHUP) for the VRRP process; ``daemon.vrrp_service.VrrpService.reload``
carries the plan out. Pure: no I/O, no clock.

Instances are matched as keepalived 2.2.7 matches them (``vrrp_exist``): by
VRID, address family, interface and whether they use a VMAC, not by name.
Each matched pair is

- ``UNCHANGED``: nothing to do (not even a notification: keepalived does not
  notify an instance whose state stays the same);
- ``IN_PLACE``: only the priority, the virtual addresses, routes and rules,
  the initial ``state`` or the notification settings changed. The router
  keeps its state and timers; the host gets only the address / route / rule
  difference (keepalived ``clear_diff_vrrp_vip``, ``restore_vrrp_state``);
- ``REBUILT``: anything else changed (advert_int, VIP options are the
  address diff's business, but e.g. ``advert_int``, tracking, sync group
  membership, authentication, peers...). The instance is built again and
  takes over the old one's state (keepalived ``restore_vrrp_state``: state,
  effective priority, counters, AH sequence numbers); as in keepalived's
  ``vrrp_init_state`` after a reload, a master advertises at once and a
  backup starts a fresh Master_Down_Timer.

Instances only in the old configuration are ``removed`` (they leave as on a
stop: priority 0 if master, their VIPs go, DELETED/STOP notification);
instances only in the new one are ``added`` (they start as at start-up).
``static_ipaddress`` / ``static_routes`` / ``static_rules`` are diffed as sets.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pykad.config.iproute import IpAddress, Route, Rule
from pykad.config.model import Config
from pykad.config.sections._vrrp_model import SyncGroup, VrrpInstance

IN_PLACE_FIELDS = frozenset(
    {
        "priority",
        "state",
        "virtual_ipaddresses",
        "virtual_ipaddresses_excluded",
        "virtual_routes",
        "virtual_rules",
        "notify_backup",
        "notify_master",
        "notify_fault",
        "notify_stop",
        "notify_deleted",
        "notify_deleted_script",
        "notify",
        "notify_master_rx_lower_pri",
        "notify_priority_changes",
        "smtp_alert",
    }
)
"""Fields whose change leaves the router as it is (``state`` only matters at start-up)."""

RESTART_GLOBALS = (
    "nftables",
    "notify_fifo",
    "vrrp_notify_fifo",
    "script_user",
    "script_group",
    "lvs_sync_daemon",
)
"""``global_defs`` settings the VRRP service reads only at start-up: a change is reported."""


class Change(enum.Enum):
    UNCHANGED = "unchanged"
    IN_PLACE = "changed in place"
    REBUILT = "rebuilt"


_T = TypeVar("_T")

InstanceKey = tuple[str | None, int, int, bool, object, bool, bool]
"""keepalived's identity of an instance (vrrp.c ``vrrp_exist``): interface, family,
VRID, unicast or not, and then for unicast the source address, for multicast VMAC or
not and ``use_vmac_addr``."""


def instance_key(conf: VrrpInstance) -> InstanceKey:
    if conf.unicast:
        return (conf.interface, conf.family, conf.vrid, True, conf.source_address, False, False)
    vmac = conf.vmac is not None
    return (conf.interface, conf.family, conf.vrid, False, None, vmac, conf.use_vmac_addr)


@dataclass(frozen=True, slots=True)
class HostDiff:
    """Addresses, routes and rules to take away and to put on the host."""

    remove_addresses: tuple[IpAddress, ...] = ()
    add_addresses: tuple[IpAddress, ...] = ()
    remove_routes: tuple[Route, ...] = ()
    add_routes: tuple[Route, ...] = ()
    remove_rules: tuple[Rule, ...] = ()
    add_rules: tuple[Rule, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.remove_addresses
            or self.add_addresses
            or self.remove_routes
            or self.add_routes
            or self.remove_rules
            or self.add_rules
        )

    @classmethod
    def between(
        cls,
        old_addresses: Sequence[IpAddress],
        new_addresses: Sequence[IpAddress],
        old_routes: Sequence[Route] = (),
        new_routes: Sequence[Route] = (),
        old_rules: Sequence[Rule] = (),
        new_rules: Sequence[Rule] = (),
    ) -> HostDiff:
        """The difference as sets, each side in its configuration's order.

        An address whose options changed (label, scope, ...) is removed and added
        again: it is a different address line, and the kernel keeps the old options
        otherwise. Addresses equal in both are never touched.
        """
        return cls(
            remove_addresses=_minus(old_addresses, new_addresses),
            add_addresses=_minus(new_addresses, old_addresses),
            remove_routes=_minus(old_routes, new_routes),
            add_routes=_minus(new_routes, old_routes),
            remove_rules=_minus(old_rules, new_rules),
            add_rules=_minus(new_rules, old_rules),
        )


def _minus(a: Iterable[_T], b: Iterable[_T]) -> tuple[_T, ...]:
    drop = set(b)
    return tuple(x for x in dict.fromkeys(a) if x not in drop)


@dataclass(frozen=True, slots=True)
class InstancePlan:
    """One instance present in both configurations."""

    old: VrrpInstance
    new: VrrpInstance
    change: Change
    host: HostDiff = HostDiff()
    """Its VIPs / eVIPs, virtual routes and rules (applied while its VIPs are set)."""
    reasons: tuple[str, ...] = ()
    """What changed: the fields (and ``sync group``, ``global_defs ...``)."""

    @property
    def priority_changed(self) -> bool:
        return self.old.priority != self.new.priority

    @property
    def advert_changed(self) -> bool:
        """The addresses our adverts carry changed (the advert must be encoded again)."""
        return self.old.virtual_ipaddresses != self.new.virtual_ipaddresses


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    matched: tuple[InstancePlan, ...] = ()
    """In the new configuration's order."""
    added: tuple[VrrpInstance, ...] = ()
    removed: tuple[VrrpInstance, ...] = ()
    static: HostDiff = HostDiff()
    tracking_changed: bool = False
    """Tracked objects or their definitions changed: the tracking drivers start again."""
    sync_groups_changed: bool = False
    garp_changed: bool = False
    """``global_defs`` GARP pacing or ``garp_group``s changed."""
    restart_needed: tuple[str, ...] = ()
    """``global_defs`` settings that changed but take effect only at the next start."""

    def by_change(self, change: Change) -> tuple[InstancePlan, ...]:
        return tuple(p for p in self.matched if p.change is change)

    @property
    def empty(self) -> bool:
        return (
            not self.added
            and not self.removed
            and self.static.empty
            and all(p.change is Change.UNCHANGED for p in self.matched)
            and not (self.tracking_changed or self.sync_groups_changed or self.garp_changed)
        )


def _group_of(groups: Sequence[SyncGroup]) -> dict[str, SyncGroup]:
    out: dict[str, SyncGroup] = {}
    for g in groups:
        for m in g.members:
            out.setdefault(m, g)
    return out


def _changed_fields(old: object, new: object) -> list[str]:
    if old is new:  # an instance the re-read took from the last (pykad.config.memo)
        return []
    assert dataclasses.is_dataclass(old) and dataclasses.is_dataclass(new)
    if old == new:  # most instances of a reload: one comparison, not one per field
        return []
    return [
        f.name
        for f in dataclasses.fields(old)
        if f.compare and getattr(old, f.name) != getattr(new, f.name)
    ]


def _static_addresses(config: Config) -> tuple[IpAddress, ...]:
    """Static addresses with their interface named (``default_interface`` filled in)."""
    default = config.global_defs.default_interface
    return tuple(
        a if a.dev is not None else dataclasses.replace(a, dev=default)
        for a in config.static.addresses
    )


def _tracking_definitions(config: Config) -> tuple[object, ...]:
    v = config.vrrp
    return (v.scripts, v.track_processes, v.track_groups, config.track_file)


def plan_reload(old: Config, new: Config) -> ReloadPlan:
    """What a reload from ``old`` to ``new`` changes, instance by instance."""
    og, ng = old.global_defs, new.global_defs
    global_rebuild = []
    if og.vrrp_check_unicast_src != ng.vrrp_check_unicast_src:
        global_rebuild.append("global_defs vrrp_check_unicast_src")
    vmac_prefix_changed = og.vmac_prefix != ng.vmac_prefix
    old_groups, new_groups = _group_of(old.vrrp.sync_groups), _group_of(new.vrrp.sync_groups)

    old_keys = [instance_key(conf) for conf in old.vrrp.instances]
    olds: dict[InstanceKey, VrrpInstance] = {}
    for key, conf in zip(old_keys, old.vrrp.instances, strict=True):
        olds.setdefault(key, conf)
    matched: list[InstancePlan] = []
    added: list[VrrpInstance] = []
    seen: set[InstanceKey] = set()
    for conf in new.vrrp.instances:
        key = instance_key(conf)
        prev = olds.get(key)
        if prev is None or key in seen:
            added.append(conf)
            continue
        seen.add(key)
        fields = _changed_fields(prev, conf)
        reasons = [f for f in fields if f not in IN_PLACE_FIELDS]
        og_, ng_ = old_groups.get(prev.name), new_groups.get(conf.name)
        if (og_ and (og_.name, og_.members)) != (ng_ and (ng_.name, ng_.members)):
            reasons.append("sync group")
        elif og_ is not None and ng_ is not None and og_ != ng_:
            reasons.append("sync group tracking")
        reasons += global_rebuild
        if vmac_prefix_changed and conf.vmac is not None and conf.vmac.ifname is None:
            reasons.append("global_defs vmac_prefix")
        host = (
            HostDiff.between(
                prev.virtual_ipaddresses + prev.virtual_ipaddresses_excluded,
                conf.virtual_ipaddresses + conf.virtual_ipaddresses_excluded,
                prev.virtual_routes,
                conf.virtual_routes,
                prev.virtual_rules,
                conf.virtual_rules,
            )
            if fields
            else HostDiff()
        )
        if reasons:
            change = Change.REBUILT
        elif fields:
            change = Change.IN_PLACE
        else:
            change = Change.UNCHANGED
        matched.append(
            InstancePlan(prev, conf, change, host, tuple(dict.fromkeys(fields + reasons)))
        )
    removed = tuple(c for k, c in olds.items() if k not in seen)
    removed += tuple(
        c for k, c in zip(old_keys, old.vrrp.instances, strict=True) if olds[k] is not c
    )  # duplicates of a key in the old config (refused at start; kept for completeness)

    # what the instances track, but for the very same instances in both (a re-read
    # takes unchanged ones from the last): names are unique in a config, so the sets
    # of the others are equal exactly when the whole sets are
    old_ids = {id(t) for t in old.vrrp.instances}
    new_ids = {id(t) for t in new.vrrp.instances}
    old_tracked = {(t.name, tuple(_tracks(t))) for t in old.vrrp.instances if id(t) not in new_ids}
    new_tracked = {(t.name, tuple(_tracks(t))) for t in new.vrrp.instances if id(t) not in old_ids}
    old_group_tracks = {(g.name, tuple(_tracks(g))) for g in old.vrrp.sync_groups}
    new_group_tracks = {(g.name, tuple(_tracks(g))) for g in new.vrrp.sync_groups}
    tracking_changed = (
        _tracking_definitions(old) != _tracking_definitions(new)
        or old_tracked != new_tracked
        or old_group_tracks != new_group_tracks
        or og.default_interface != ng.default_interface
    )
    restart = tuple(f"global_defs {n}" for n in RESTART_GLOBALS if getattr(og, n) != getattr(ng, n))
    return ReloadPlan(
        matched=tuple(matched),
        added=tuple(added),
        removed=removed,
        static=HostDiff.between(
            _static_addresses(old),
            _static_addresses(new),
            old.static.routes,
            new.static.routes,
            old.static.rules,
            new.static.rules,
        ),
        tracking_changed=tracking_changed,
        sync_groups_changed=old.vrrp.sync_groups != new.vrrp.sync_groups,
        garp_changed=og.garp != ng.garp or old.vrrp.garp_groups != new.vrrp.garp_groups,
        restart_needed=restart,
    )


def _tracks(owner: VrrpInstance | SyncGroup) -> list[object]:
    return [
        owner.track_interfaces,
        owner.track_scripts,
        owner.track_files,
        owner.track_processes,
        owner.track_bfds,
    ]
