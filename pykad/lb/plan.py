"""Reconcile: the operations that turn the kernel's IPVS table into the desired one.

``reconcile(current, desired)`` is a pure diff: services and destinations that
are equal in both are not touched (no flush, ever), so live connections to them
keep flowing.  A service missing from ``desired`` is deleted with its
destinations (one operation); a changed one is edited in place when IPVS can
edit what changed (``IPVS_CMD_SET_SERVICE``: scheduler, flags, timeout, netmask,
persistence engine); a destination is added, edited (``IPVS_CMD_SET_DEST``:
weight, forwarding method, thresholds, tunnel) or deleted.

Order: destinations leave first, then services; services are edited and added
before destinations are added or edited (a destination needs its service).
"""

from __future__ import annotations

from dataclasses import dataclass

from pykad.lb.table import Dest, DestKey, Service, ServiceKey, Table


@dataclass(frozen=True, slots=True)
class AddService:
    service: Service


@dataclass(frozen=True, slots=True)
class EditService:
    service: Service


@dataclass(frozen=True, slots=True)
class DelService:
    key: ServiceKey


@dataclass(frozen=True, slots=True)
class AddDest:
    service: ServiceKey
    dest: Dest


@dataclass(frozen=True, slots=True)
class EditDest:
    service: ServiceKey
    dest: Dest


@dataclass(frozen=True, slots=True)
class DelDest:
    service: ServiceKey
    key: DestKey


Op = AddService | EditService | DelService | AddDest | EditDest | DelDest


def reconcile(current: Table, desired: Table) -> list[Op]:
    """The fewest operations that make ``current`` equal to ``desired``."""
    del_dests: list[Op] = []
    del_services: list[Op] = []
    services: list[Op] = []
    dests: list[Op] = []
    for key in current.services:
        if key not in desired.services:
            del_services.append(DelService(key))
    for key, want in desired.services.items():
        have = current.services.get(key)
        if have is None:
            services.append(AddService(want))
            dests.extend(AddDest(key, d) for d in desired.dests.get(key, {}).values())
            continue
        if have != want:
            services.append(EditService(want))
        have_dests = current.dests.get(key, {})
        want_dests = desired.dests.get(key, {})
        for dkey in have_dests:
            if dkey not in want_dests:
                del_dests.append(DelDest(key, dkey))
        for dkey, d in want_dests.items():
            old = have_dests.get(dkey)
            if old is None:
                dests.append(AddDest(key, d))
            elif old != d:
                dests.append(EditDest(key, d))
    return del_dests + del_services + services + dests


def apply(table: Table, ops: list[Op]) -> Table:
    """``table`` after ``ops`` (what the kernel holds once they succeeded)."""
    services = dict(table.services)
    dests: dict[ServiceKey, dict[DestKey, Dest]] = dict(table.dests)  # type: ignore[arg-type]
    copied: set[ServiceKey] = set()

    def own(key: ServiceKey) -> dict[DestKey, Dest]:
        """The destinations of ``key``, copied before the first change (the input
        table is never changed; untouched services share their mappings)."""
        if key not in copied:
            dests[key] = dict(dests.get(key, {}))
            copied.add(key)
        return dests[key]

    for op in ops:
        if isinstance(op, AddService | EditService):
            services[op.service.key] = op.service
            own(op.service.key)
        elif isinstance(op, DelService):
            services.pop(op.key, None)
            dests.pop(op.key, None)
            copied.discard(op.key)
        elif isinstance(op, AddDest | EditDest):
            own(op.service)[op.dest.key] = op.dest
        else:
            own(op.service).pop(op.key, None)
    return Table(services, dests)
