"""The typed configuration: one part per section module, frozen and comparable.

``Config`` gathers the parts that ``pykad.config.sections`` modules build
(``FIELD`` maps a section's NAME to its field where they differ); ``to_jsonable``
turns any part into plain JSON data (``pykad -t -d``), and ``write`` turns a
whole ``Config`` back into keepalived.conf text with the sections' writers
(parse(write(model)) == model).
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from pykad.config.sections import bfd, global_defs, lvs, modules, static, track_file, vrrp

FIELD = {"global": "global_defs"}
"""Section NAME -> Config field, where the name is not a valid field name."""

WRITE_ORDER = ("global", "track_file", "bfd", "vrrp", "static", "lvs")
"""keepalived resolves references in file order: what is referred to is written first
(track_file before FILE_CHECK and track_file users, bfd before track_bfd/BFD_CHECK,
VRRP's track_group before static addresses that name one)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    global_defs: global_defs.GlobalDefs = field(default_factory=global_defs.GlobalDefs)
    track_file: track_file.TrackFiles = field(default_factory=track_file.TrackFiles)
    static: static.StaticConfig = field(default_factory=static.StaticConfig)
    bfd: bfd.BfdConfig = field(default_factory=bfd.BfdConfig)
    vrrp: vrrp.VrrpConfig = field(default_factory=vrrp.VrrpConfig)
    lvs: lvs.LvsConfig = field(default_factory=lvs.LvsConfig)


def field_name(section: str) -> str:
    return FIELD.get(section, section)


def from_parts(parts: dict[str, Any]) -> Config:
    """The ``Config`` of the sections' parts (parts of sections it has no field for are left)."""
    known = {f.name for f in dataclasses.fields(Config)}
    return Config(**{field_name(n): p for n, p in parts.items() if field_name(n) in known})


def to_jsonable(value: Any) -> Any:
    """Plain JSON data for a model value (addresses and enums as text)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list | frozenset | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(
        value,
        ipaddress.IPv4Address
        | ipaddress.IPv6Address
        | ipaddress.IPv4Network
        | ipaddress.IPv6Network
        | ipaddress.IPv4Interface
        | ipaddress.IPv6Interface,
    ):
        return str(value)
    return value


def write(config: Config) -> str:
    """keepalived.conf text for ``config``."""
    by_name = {m.NAME: m for m in modules()}
    order = [n for n in WRITE_ORDER if n in by_name] + sorted(set(by_name) - set(WRITE_ORDER))
    fields = {f.name for f in dataclasses.fields(config)}
    lines: list[str] = []
    for name in order:
        if name == "vrrp":
            lines += _dropped_bfd_instances(config)
        if field_name(name) in fields:
            lines += by_name[name].write(getattr(config, field_name(name)))
    return "\n".join(lines) + "\n"


def _dropped_bfd_instances(config: Config) -> list[str]:
    """Empty ``bfd_instance`` blocks for BFD names VRRP tracks but the BFD section dropped.

    keepalived's VRRP process tracks every ``bfd_instance`` name, even one its BFD
    process rejects (no neighbor): an empty block recreates exactly that.
    """
    known = {b.name for b in config.bfd.instances}
    tracked = [t for i in config.vrrp.instances for t in i.track_bfds]
    tracked += [t for g in config.vrrp.sync_groups for t in g.track_bfds]
    names = dict.fromkeys(t.name for t in tracked if t.name not in known)
    return [line for name in names for line in (f"bfd_instance {name} {{", "}")]
