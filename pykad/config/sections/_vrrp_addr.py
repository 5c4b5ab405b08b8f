"""The one place where the VRRP section meets ``pykad.config.iproute``.

Virtual addresses, routes and rules are parsed and written by
``pykad.config.iproute``; interface lookups go through its shared VRRP-process
state (keepalived's ``non_existent_interface_specified``), which the static
section uses too. The VRRP checks only ask the few questions below.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from pykad.config import iproute
from pykad.config.build import Builders, Context
from pykad.config.iproute import IpAddress as Address
from pykad.config.iproute import Route, Rule, format_address, format_route, format_rule

__all__ = [
    "Address",
    "Route",
    "Rule",
    "address_dev",
    "address_ip",
    "format_address",
    "format_route",
    "format_rule",
    "interface_known",
    "parse_address",
    "parse_route",
    "parse_rule",
    "report_missing_interface",
]


def attach(ctx: Context, builders: Builders) -> None:
    """Let iproute's shared state see global_defs (dynamic_interfaces)."""
    st = iproute.state(ctx)
    if st.builders is None:
        st.builders = builders


def interface_known(ctx: Context, name: str) -> bool:
    """keepalived's ``if_get_by_ifname(name, IF_CREATE_IF_DYNAMIC)`` succeeds."""
    return iproute.interface_known(ctx, name)


def report_missing_interface(ctx: Context) -> bool:
    return iproute.report_missing_interface(ctx)


def parse_address(
    ctx: Context, words: tuple[str, ...], *, where: str, track_groups: tuple[str, ...] = ()
) -> Address | None:
    return iproute.parse_address(ctx, words, where=where, track_groups=track_groups)


def parse_route(
    ctx: Context, words: tuple[str, ...], *, where: str, track_groups: tuple[str, ...] = ()
) -> Route | None:
    return iproute.parse_route(ctx, words, where=where, track_groups=track_groups)


def parse_rule(
    ctx: Context, words: tuple[str, ...], *, where: str, track_groups: tuple[str, ...] = ()
) -> Rule | None:
    return iproute.parse_rule(ctx, words, where=where, track_groups=track_groups)


def address_ip(a: Address) -> IPv4Address | IPv6Address:
    """The address itself (without prefix)."""
    return a.address.ip


def address_dev(a: Address) -> str | None:
    """The interface named with ``dev``, if any."""
    return a.dev
