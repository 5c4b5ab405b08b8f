"""FakeKernel: the kernel's answers in memory, and a log of batches for driver tests.

Owns: the errno semantics (EEXIST, EADDRNOTAVAIL, ENODEV, EINVAL), IPv4
secondaries (flag, deletion with or without promotion), dump details, the batch
log, injected failures, the Links facts, and the route/rule subsets.  That the
fake agrees with the real kernel is tests/netns/test_kernel_netlink.py's job.
"""

from __future__ import annotations

import errno
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface

import pytest

from pykad.kernel.api import (
    IFA_F_DEPRECATED,
    IFA_F_NODAD,
    IFA_F_PERMANENT,
    Addresses,
    AddressOp,
    Links,
    RouteOp,
    RuleOp,
)
from pykad.kernel.fake import FakeKernel


@pytest.fixture
def kernel() -> FakeKernel:
    k = FakeKernel()
    k.add_link("lo")
    k.add_link("eth0", mac=bytes.fromhex("020000000001"))
    return k


def add(address: str, ifindex: int = 2, **kw: object) -> AddressOp:
    from ipaddress import ip_interface

    return AddressOp(add=True, ifindex=ifindex, address=ip_interface(address), **kw)  # type: ignore[arg-type]


def delete(address: str, ifindex: int = 2) -> AddressOp:
    from ipaddress import ip_interface

    return AddressOp(add=False, ifindex=ifindex, address=ip_interface(address))


def errnos(kernel: FakeKernel, *ops: AddressOp) -> list[int]:
    return [r.errno for r in kernel.apply(ops)]


def test_it_satisfies_the_protocols(kernel: FakeKernel) -> None:
    addresses: Addresses = kernel
    links: Links = kernel
    assert addresses.dump() == [] and links.ifindex("eth0") == 2


def test_one_batch_is_logged_once_with_per_op_errors(kernel: FakeKernel) -> None:
    ops = [add(f"198.51.100.{i}/32") for i in range(1, 11)] + [add("203.0.113.1/24", ifindex=99)]
    results = kernel.apply(ops)
    assert kernel.batches == [tuple(ops)]
    assert [r.errno for r in results] == [0] * 10 + [errno.ENODEV]
    assert len(kernel.dump(2)) == 10


def test_double_add_and_missing_delete_are_already_so(kernel: FakeKernel) -> None:
    a, d = add("192.0.2.5/24"), delete("192.0.2.5/24")
    results = kernel.apply([a, a, d, d])
    assert [r.errno for r in results] == [0, errno.EEXIST, 0, errno.EADDRNOTAVAIL]
    assert [r.already for r in results] == [False, True, False, True]


def test_ipv4_identity_includes_the_prefix_length(kernel: FakeKernel) -> None:
    assert errnos(kernel, add("192.0.2.5/24"), add("192.0.2.5/25")) == [0, 0]
    assert errnos(kernel, delete("192.0.2.5/26")) == [errno.EADDRNOTAVAIL]


def test_ipv6_identity_is_the_address_alone(kernel: FakeKernel) -> None:
    assert errnos(kernel, add("2001:db8::1/64"), add("2001:db8::1/128")) == [0, errno.EEXIST]
    assert errnos(kernel, delete("2001:db8::1/128"), delete("2001:db8::1/64")) == [
        errno.EADDRNOTAVAIL,
        0,
    ]


def test_secondaries_go_with_their_primary(kernel: FakeKernel) -> None:
    kernel.apply([add("192.0.2.1/24"), add("192.0.2.10/24"), add("198.51.100.1/24")])
    entries = {str(e.address): e for e in kernel.entries(2)}
    assert [entries[a].secondary for a in ("192.0.2.1/24", "192.0.2.10/24", "198.51.100.1/24")] == [
        False,
        True,
        False,
    ]
    assert kernel.primary_ipv4(2) == IPv4Address("192.0.2.1")
    kernel.apply([delete("192.0.2.1/24")])
    assert kernel.dump(2) == [(2, IPv4Interface("198.51.100.1/24"))]


def test_promote_secondaries() -> None:
    kernel = FakeKernel(promote_secondaries=True)
    kernel.add_link("eth0")
    kernel.apply([add("192.0.2.1/24", 1), add("192.0.2.10/24", 1), add("192.0.2.11/24", 1)])
    kernel.apply([delete("192.0.2.1/24", 1)])
    assert kernel.primary_ipv4(1) == IPv4Address("192.0.2.10")
    assert [e.secondary for e in kernel.entries(1)] == [False, True]


def test_another_scope_in_the_same_subnet_is_invalid(kernel: FakeKernel) -> None:
    assert errnos(kernel, add("192.0.2.1/24"), add("192.0.2.2/24", scope=253)) == [
        0,
        errno.EINVAL,
    ]


def test_dump_details(kernel: FakeKernel) -> None:
    kernel.apply(
        [
            add("192.0.2.1/24", broadcast=IPv4Address("192.0.2.255"), label="eth0:v"),
            add("192.0.2.2/32"),
            add("2001:db8::1/128", preferred_lft=0),
            add("fe80::1/64"),
        ]
    )
    by_addr = {str(e.address.ip): e for e in kernel.entries()}
    assert by_addr["192.0.2.1"].label == "eth0:v"
    assert by_addr["192.0.2.1"].broadcast == IPv4Address("192.0.2.255")
    assert by_addr["192.0.2.2"].label == "eth0"
    v6 = by_addr["2001:db8::1"]
    assert v6.flags == IFA_F_NODAD | IFA_F_PERMANENT | IFA_F_DEPRECATED
    assert (v6.label, v6.preferred_lft, v6.scope) == (None, 0, 0)
    assert by_addr["fe80::1"].scope == 253
    assert kernel.link_local_ipv6(2) == IPv6Address("fe80::1")


def test_injected_failure(kernel: FakeKernel) -> None:
    op = add("192.0.2.1/24")
    kernel.fail[op.key] = errno.ENOBUFS
    assert errnos(kernel, op, add("192.0.2.2/32")) == [errno.ENOBUFS, 0]
    assert kernel.dump() == [(2, IPv4Interface("192.0.2.2/32"))]


def test_links(kernel: FakeKernel) -> None:
    assert kernel.mac(2) == bytes.fromhex("020000000001")
    assert kernel.is_up(2) and not kernel.is_up(42)
    kernel.links[2].running = False
    assert not kernel.is_up(2)
    assert kernel.ifindex("nope") is None and kernel.mac(42) is None
    with pytest.raises(ValueError):
        kernel.add_link("eth0")


def test_routes_and_rules(kernel: FakeKernel) -> None:
    route = RouteOp(add=True, dst=IPv4Interface("198.51.100.0/24"), ifindex=2)
    gone = RouteOp(add=False, dst=route.dst)
    assert [r.errno for r in kernel.apply_routes([route, route, gone, gone])] == [
        0,
        errno.EEXIST,
        0,
        errno.ESRCH,
    ]
    bad = RouteOp(add=True, dst=IPv6Interface("2001:db8::/64"), ifindex=9)
    assert kernel.apply_routes([bad])[0].errno == errno.ENODEV
    rule = RuleOp(add=True, family=4, priority=100, table=7)
    unrule = RuleOp(add=False, family=4, priority=100, table=7)
    assert [r.errno for r in kernel.apply_rules([rule, rule, unrule, unrule])] == [
        0,
        errno.EEXIST,
        0,
        errno.ENOENT,
    ]
    assert len(kernel.batches) == 3
