"""Micro benchmark: building one rtnetlink batch of 1000 address messages (pure part).

The kernel side is measured by tests/netns/test_kernel_netlink.py (it prints the
batch time); this is the Python cost of ``rtnl.address_messages`` alone.

Run: .venv/bin/pytest bench/test_bench_kernel.py --benchmark-only
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv6Interface

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pykad.kernel import rtnl
from pykad.kernel.api import AddressOp

BASE = int(IPv4Address("198.18.0.0"))
CASES = {
    "ipv4-add": [
        AddressOp(add=True, ifindex=2, address=IPv4Interface((BASE + i, 32))) for i in range(1000)
    ],
    "ipv4-add-label-brd": [
        AddressOp(
            add=True,
            ifindex=2,
            address=IPv4Interface((BASE + i, 24)),
            label="eth0:vip",
            broadcast=IPv4Address(BASE + 255),
        )
        for i in range(1000)
    ],
    "ipv6-add-deprecated": [
        AddressOp(
            add=True, ifindex=2, address=IPv6Interface(f"2001:db8::{i:x}/128"), preferred_lft=0
        )
        for i in range(1000)
    ],
    "ipv4-delete": [
        AddressOp(add=False, ifindex=2, address=IPv4Interface((BASE + i, 32))) for i in range(1000)
    ],
}


@pytest.mark.parametrize("case", CASES)
def test_build_1000_address_messages(benchmark: BenchmarkFixture, case: str) -> None:
    ops = CASES[case]
    messages = benchmark(rtnl.address_messages, ops, 1)
    assert len(messages) == 1000
