"""What VRRP puts on the host: virtual (and static) addresses, routes and rules, in batches.

Owns the translation of configured ``virtual_ipaddress``,
``virtual_ipaddress_excluded``, ``virtual_routes``, ``virtual_rules`` and the
``static_*`` blocks into kernel operations (``pykad.kernel.api``), applied as one
netlink batch per kind, in keepalived's order: addresses, then routes, then rules
when adding; rules, routes, then addresses when removing. Failures are logged per
operation; "already there" / "already gone" are not failures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from pykad.config.iproute import IpAddress, Route, Rule
from pykad.kernel.api import (
    Addresses,
    AddressOp,
    OpResult,
    ReadySend,
    RouteOp,
    Routes,
    RuleOp,
    Rules,
)

log = logging.getLogger("pykad.vrrp")


class Kernel(Addresses, Routes, Rules, Protocol):
    """The kernel interfaces the host side needs (``NetlinkBatchWriter``, ``FakeKernel``)."""


class Ops(NamedTuple):
    """One change of the host side: its address, route and rule operations."""

    add: bool
    addresses: tuple[AddressOp, ...]
    routes: tuple[RouteOp, ...]
    rules: tuple[RuleOp, ...]


class HostSide:
    """Applies sets of addresses, routes and rules; ``ifindex`` resolves ``dev`` names."""

    def __init__(self, kernel: Kernel, ifindex: Callable[[str], int]) -> None:
        self.kernel = kernel
        self.ifindex = ifindex

    def change(
        self,
        owner: str,
        add: bool,
        addresses: Sequence[tuple[IpAddress, int]] = (),
        routes: Sequence[Route] = (),
        rules: Sequence[Rule] = (),
    ) -> None:
        """Add or remove everything given; ``addresses`` come with their interface index."""
        self.apply(owner, self.ops(add, addresses, routes, rules))

    def ops(
        self,
        add: bool,
        addresses: Sequence[tuple[IpAddress, int]] = (),
        routes: Sequence[Route] = (),
        rules: Sequence[Rule] = (),
    ) -> Ops:
        """The kernel operations for a change (callers may keep them: they are values)."""
        return Ops(
            add,
            tuple(AddressOp.from_config(a, i, add) for a, i in addresses),
            tuple(
                RouteOp.from_config(r, self.ifindex(r.dev) if r.dev else None, add) for r in routes
            ),
            tuple(RuleOp.from_config(r, add) for r in rules),
        )

    def prepare(self, ops: Ops) -> None:
        """Make ready what :meth:`begin` of ``ops`` sends first (a takeover's addresses)."""
        if ops.add and ops.addresses:
            self.kernel.prepare(ops.addresses)

    def apply(self, owner: str, ops: Ops) -> None:
        """Carry out ``ops``: one batch per kind, in keepalived's order."""
        self.begin(owner, ops)()

    def begin(self, owner: str, ops: Ops) -> Callable[[], None]:
        """Add the addresses of ``ops`` now; the returned function finishes the change.

        It reads the kernel's answers and then applies routes and rules: a new
        master calls it after its first gratuitous ARPs.  Removals happen at once
        (rules, routes, then addresses, as keepalived).
        """
        add, address_ops, route_ops, rule_ops = ops
        if add:
            return self.sent(owner, ops, self.kernel.send(address_ops) if address_ops else list)
        self._report(owner, self.kernel.apply_rules(rule_ops) if rule_ops else [])
        self._report(owner, self.kernel.apply_routes(route_ops) if route_ops else [])
        self._report(owner, self.kernel.apply(address_ops) if address_ops else [])
        return _done

    def ready(self, ops: Ops) -> ReadySend | None:
        """The addresses of adding ``ops`` made ready for someone else to send (a
        takeover burst); None when :meth:`begin` must send them."""
        if not (ops.add and ops.addresses):
            return None
        return self.kernel.ready_to_send(ops.addresses)

    def sent(
        self,
        owner: str,
        ops: Ops,
        answers: Callable[[], Sequence[OpResult[AddressOp]]],
    ) -> Callable[[], None]:
        """:meth:`begin`'s result for adding ``ops`` once their addresses were sent."""
        _, _, route_ops, rule_ops = ops

        def finish() -> None:
            self._report(owner, answers())
            self._report(owner, self.kernel.apply_routes(route_ops) if route_ops else [])
            self._report(owner, self.kernel.apply_rules(rule_ops) if rule_ops else [])

        return finish

    @staticmethod
    def _report(
        owner: str, results: Sequence[OpResult[AddressOp] | OpResult[RouteOp] | OpResult[RuleOp]]
    ) -> None:
        for result in results:
            if result.failed:
                verb = "add" if result.op.add else "remove"
                log.warning("(%s) cannot %s %s: %s", owner, verb, _what(result.op), result)


def _done() -> None:
    pass


def _what(op: AddressOp | RouteOp | RuleOp) -> str:
    if isinstance(op, AddressOp):
        return f"address {op.address}"
    if isinstance(op, RouteOp):
        return f"route {op.dst}"
    return f"rule {op.priority if op.priority is not None else ''}".rstrip()
