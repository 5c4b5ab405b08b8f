"""The VRRP configuration: instances, sync groups, scripts and the other VRRP blocks.

Owns the top-level keywords ``vrrp_instance``, ``vrrp_sync_group``,
``vrrp_script``, ``vrrp_track_process``, ``track_group``, ``garp_group``,
``linkbeat_interfaces`` and ``interface_up_down_delays`` (keepalived 2.2.7's
vrrp_parser.c), the ``VrrpConfig`` model part, keepalived's post-parse checks
(vrrp.c ``vrrp_complete_init``) and the writer. The work is split:

- ``_vrrp_model``: the frozen model;
- ``_vrrp_parse``: keyword handlers, in file order, filling ``_vrrp_drafts``;
- ``_vrrp_checks``: defaults and post-parse checks, then the model;
- ``_vrrp_write``: keepalived.conf lines;
- ``_vrrp_addr``: where addresses, routes and rules meet ``pykad.config.iproute``;
- ``_vrrp_globals``: the ``global_defs`` settings used, with keepalived's defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from pykad.config.build import Builders, Context
from pykad.config.sections import _vrrp_addr
from pykad.config.sections._vrrp_checks import Checker
from pykad.config.sections._vrrp_globals import read_globals
from pykad.config.sections._vrrp_model import (
    AuthHmac,
    AuthType,
    ChecksumCompat,
    GarpGroup,
    Ipvlan,
    IpvlanType,
    LinkbeatInterface,
    LinkbeatType,
    ParamMatch,
    State,
    SyncGroup,
    Tracked,
    TrackGroup,
    TrackProcess,
    UnicastPeer,
    UpDownDelay,
    Version,
    Vmac,
    VrrpConfig,
    VrrpInstance,
    VrrpScript,
)
from pykad.config.sections._vrrp_parse import Parser
from pykad.config.sections._vrrp_write import write as _write
from pykad.config.tree import Statement

NAME = "vrrp"
ORDER = 30

__all__ = [
    "NAME",
    "ORDER",
    "AuthHmac",
    "AuthType",
    "Builder",
    "ChecksumCompat",
    "GarpGroup",
    "Ipvlan",
    "IpvlanType",
    "LinkbeatInterface",
    "LinkbeatType",
    "ParamMatch",
    "State",
    "SyncGroup",
    "TrackGroup",
    "TrackProcess",
    "Tracked",
    "UnicastPeer",
    "UpDownDelay",
    "Version",
    "Vmac",
    "VrrpConfig",
    "VrrpInstance",
    "VrrpScript",
    "write",
]


class Builder:
    """Reads the VRRP blocks in file order, then runs keepalived's VRRP post-parse pass."""

    keywords: ClassVar[frozenset[str]] = frozenset(
        {
            "vrrp_instance",
            "vrrp_sync_group",
            "vrrp_script",
            "vrrp_track_process",
            "track_group",
            "garp_group",
            "linkbeat_interfaces",
            "interface_up_down_delays",
        }
    )

    def __init__(self, ctx: Context, builders: Builders) -> None:
        self.ctx = ctx
        self.builders = builders
        self._parser: Parser | None = None

    @property
    def parser(self) -> Parser:
        """Created on first use: global_defs is complete by then (first pass)."""
        if self._parser is None:
            _vrrp_addr.attach(self.ctx, self.builders)
            self._parser = Parser(self.ctx, self.builders, read_globals(self.builders))
        return self._parser

    @property
    def instance_names(self) -> tuple[str, ...]:
        """Names of the instances read so far (file order)."""
        return tuple(d.name for d in self.parser.instances)

    @property
    def track_group_names(self) -> tuple[str, ...]:
        """Names of the track groups read so far (addresses/routes/rules may name one)."""
        return tuple(t.name for t in self.parser.track_groups)

    @property
    def script_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.parser.scripts)

    def statement(self, statement: Statement) -> None:
        p, kw = self.parser, statement.keyword
        if kw == "vrrp_instance":
            p.instance(statement)
        elif kw == "vrrp_sync_group":
            p.sync_group(statement)
        elif kw == "vrrp_script":
            p.script(statement)
        elif kw == "vrrp_track_process":
            p.track_process(statement)
        elif kw == "track_group":
            p.track_group(statement)
        elif kw == "garp_group":
            p.garp_group(statement)
        elif kw == "linkbeat_interfaces":
            p.linkbeat_interfaces(statement)
        elif kw == "interface_up_down_delays":
            p.up_down_delays(statement)

    def finish(self) -> VrrpConfig:
        p = self.parser
        self.ctx.location = None
        return Checker(self.ctx, self.builders, p.g, p).run()


def write(config: VrrpConfig) -> Iterator[str]:
    """``config`` as keepalived.conf lines; ``load(write(config))`` gives ``config`` again."""
    return _write(config)
