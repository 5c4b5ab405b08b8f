"""Reconciling IPVS tables: the plan makes the kernel's table the desired one, and
touches nothing that is already right (no flush, ever)."""

from __future__ import annotations

import socket

from hypothesis import given, settings
from hypothesis import strategies as st

from pykad.lb.plan import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    EditDest,
    EditService,
    apply,
    reconcile,
)
from pykad.lb.table import FWD_DROUTE, FWD_MASQ, Dest, DestKey, Service, ServiceKey, Table

V4 = socket.AF_INET


def vip(i: int) -> ServiceKey:
    return ServiceKey(V4, socket.IPPROTO_TCP, bytes((203, 0, 113, i)), 80)


def rs(i: int, weight: int = 1) -> Dest:
    return Dest(key=DestKey(bytes((198, 51, 100, i)), 80), weight=weight)


def big_table(services: int = 100, servers: int = 10) -> Table:
    return Table.of(
        (Service(key=vip(s)), [rs(r) for r in range(1, servers + 1)]) for s in range(services)
    )


def test_equal_tables_need_nothing() -> None:
    assert reconcile(big_table(), big_table()) == []


def test_one_real_server_changed_is_one_operation() -> None:
    current = big_table()
    dests = {k: dict(v) for k, v in current.dests.items()}
    dests[vip(7)][rs(3).key] = rs(3, weight=0)
    desired = Table(current.services, dests)
    assert reconcile(current, desired) == [EditDest(vip(7), rs(3, weight=0))]


def test_a_removed_service_is_one_operation_with_its_destinations() -> None:
    current = big_table(3)
    desired = Table.of((Service(key=vip(s)), [rs(r) for r in range(1, 11)]) for s in (0, 2))
    assert reconcile(current, desired) == [DelService(vip(1))]


def test_order_destinations_leave_first_and_services_come_before_destinations() -> None:
    current = Table.of([(Service(key=vip(1)), [rs(1), rs(2)]), (Service(key=vip(2)), [rs(1)])])
    desired = Table.of(
        [
            (Service(key=vip(1), scheduler="rr"), [rs(1), Dest(key=rs(3).key, fwd=FWD_DROUTE)]),
            (Service(key=ServiceKey.by_fwmark(V4, 7)), [rs(1)]),
        ]
    )
    ops = reconcile(current, desired)
    assert ops == [
        DelDest(vip(1), rs(2).key),
        DelService(vip(2)),
        EditService(Service(key=vip(1), scheduler="rr")),
        AddService(Service(key=ServiceKey.by_fwmark(V4, 7))),
        AddDest(vip(1), Dest(key=rs(3).key, fwd=FWD_DROUTE)),
        AddDest(ServiceKey.by_fwmark(V4, 7), rs(1)),
    ]
    assert apply(current, ops) == desired


_services = st.sampled_from([vip(i) for i in range(4)] + [ServiceKey.by_fwmark(V4, 9)])
_dests = st.builds(
    lambda i, w, f: Dest(key=rs(i).key, weight=w, fwd=f),
    st.integers(1, 4),
    st.integers(0, 3),
    st.sampled_from([FWD_MASQ, FWD_DROUTE]),
)
_tables = st.dictionaries(
    _services,
    st.tuples(st.sampled_from(["wlc", "rr", "sh"]), st.lists(_dests, max_size=4)),
    max_size=5,
).map(lambda d: Table.of((Service(key=k, scheduler=s), ds) for k, (s, ds) in d.items()))


@settings(max_examples=300)
@given(_tables, _tables)
def test_the_plan_reaches_the_desired_table_and_touches_only_differences(
    current: Table, desired: Table
) -> None:
    ops = reconcile(current, desired)
    assert apply(current, ops) == desired
    assert reconcile(desired, desired) == []
    # Nothing that is equal on both sides appears in the plan.
    for op in ops:
        if isinstance(op, EditDest | AddDest):
            assert current.dests.get(op.service, {}).get(op.dest.key) != op.dest
        if isinstance(op, EditService):
            assert current.services[op.service.key] != op.service
