"""The typed configuration: one part per section module, frozen and comparable.

``Config`` gathers the parts that ``pykad.config.sections`` modules build;
``to_jsonable`` turns any part into plain JSON data (``pykad -t -d``), and
``write`` turns a whole ``Config`` back into keepalived.conf text with the
sections' writers (parse(write(model)) == model).
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from dataclasses import dataclass
from typing import Any

from pykad.config.sections import bfd, modules


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    bfd: bfd.BfdConfig = dataclasses.field(default_factory=bfd.BfdConfig)


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
    lines: list[str] = []
    fields = {f.name for f in dataclasses.fields(config)}
    for module in modules():
        if module.NAME in fields:
            lines += module.write(getattr(config, module.NAME))
    return "\n".join(lines) + "\n"
