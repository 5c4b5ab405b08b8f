"""``static_ipaddress``, ``static_routes`` and ``static_rules`` (keepalived 2.2.7).

Addresses, routes and rules keepalived's VRRP process installs at start-up
whatever the VRRP state (vrrp_parser.c ``static_*_handler``, vrrp_data.c
``alloc_s*``): each value line is read by ``pykad.config.iproute`` with
``static=True`` (``track_group`` allowed, no ``use_vmac``; an address without
``dev`` goes on global_defs' ``default_interface``, eth0 by default, which must
exist — else CONFIG_FATAL, and exit 4 when nothing milder is reported).
``track_group`` names refer to the VRRP section's ``track_group`` blocks seen
so far in the file. A named interface that does not exist (without
``dynamic_interfaces``) makes keepalived report "Non-existent interface
specified in configuration" (CONFIG_BAD_IF) once the VRRP parse is done; this
section reports it (once, see ``iproute.report_missing_interface``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pykad.config import iproute
from pykad.config.build import Builders, Context
from pykad.config.iproute import IpAddress, Route, Rule
from pykad.config.tree import Statement

NAME = "static"
ORDER = 29

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StaticConfig:
    addresses: tuple[IpAddress, ...] = ()
    routes: tuple[Route, ...] = ()
    rules: tuple[Rule, ...] = ()


class Builder:
    """Reads the static blocks, line by line, in file order."""

    keywords: ClassVar[frozenset[str]] = frozenset(
        {"static_ipaddress", "static_routes", "static_rules"}
    )

    def __init__(self, ctx: Context, builders: Builders) -> None:
        self.ctx = ctx
        self.builders = builders
        iproute.state(ctx).builders = builders
        self.addresses: list[IpAddress] = []
        self.routes: list[Route] = []
        self.rules: list[Rule] = []

    def track_groups(self) -> frozenset[str]:
        """Names of the ``track_group`` blocks read so far (the VRRP section's)."""
        vrrp = self.builders.by_name.get("vrrp")
        found: Any = ()
        for source in (vrrp, getattr(vrrp, "parser", None), getattr(vrrp, "p", None)):
            found = getattr(source, "track_groups", None)
            if found is not None:
                break
        names = (getattr(t, "name", getattr(t, "gname", t)) for t in found or ())
        return frozenset(n for n in names if isinstance(n, str))

    def statement(self, statement: Statement) -> None:
        if statement.keyword == "static_ipaddress":
            self._lines(statement, iproute.parse_address, self.addresses)
        elif statement.keyword == "static_routes":
            self._lines(statement, iproute.parse_route, self.routes)
        else:
            self._lines(statement, iproute.parse_rule, self.rules)

    def _lines(self, statement: Statement, parse: Callable[..., T | None], into: list[T]) -> None:
        for words, location in zip(statement.values, statement.value_locations, strict=True):
            self.ctx.location = location
            item = parse(
                self.ctx,
                words,
                where=statement.keyword,
                static=True,
                track_groups=self.track_groups(),
            )
            if item is not None:
                into.append(item)

    def finish(self) -> StaticConfig:
        iproute.report_missing_interface(self.ctx)
        return StaticConfig(tuple(self.addresses), tuple(self.routes), tuple(self.rules))


def write(config: StaticConfig) -> Iterator[str]:
    """``config`` as keepalived.conf lines."""
    for keyword, items, fmt in (
        ("static_ipaddress", config.addresses, iproute.format_address),
        ("static_routes", config.routes, iproute.format_route),
        ("static_rules", config.rules, iproute.format_rule),
    ):
        if items:
            yield f"{keyword} {{"
            yield from (f"    {fmt(item)}" for item in items)  # type: ignore[arg-type]
            yield "}"
