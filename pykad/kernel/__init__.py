"""Kernel interfaces for VRRP's host side: addresses, routes, rules and link facts.

``api`` holds the operations, results and ``typing.Protocol`` interfaces;
``rtnl`` the rtnetlink message codec (sans-IO, RFC 3549 / rtnetlink(7));
``netlink`` the batched socket driver; ``links`` interface facts via pyroute2;
``fake`` an in-memory ``FakeKernel`` with an operation log for driver tests.
"""

from __future__ import annotations

from pykad.kernel.api import (
    AddressEntry,
    Addresses,
    AddressOp,
    Links,
    OpResult,
    RouteOp,
    Routes,
    RuleOp,
    Rules,
)

__all__ = [
    "AddressEntry",
    "AddressOp",
    "Addresses",
    "Links",
    "OpResult",
    "RouteOp",
    "Routes",
    "RuleOp",
    "Rules",
]
