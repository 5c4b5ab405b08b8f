"""Read a configuration: text, tree, typed model and diagnostics (no I/O of its own)."""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pykad.config.build import Context, Host, NoHost, build
from pykad.config.diagnostics import Diagnostics, Severity
from pykad.config.memo import BlockMemo
from pykad.config.model import Config, from_parts
from pykad.config.reader import INCLUDE_ALL, Files, Reader
from pykad.config.scripts import ScriptHost
from pykad.config.sections import modules
from pykad.config.tree import Statement, build_tree


@dataclass(frozen=True)
class Loaded:
    tree: tuple[Statement, ...]
    config: Config | None
    """None when reading stopped (a keyword missing a parameter)."""
    diagnostics: Diagnostics
    parts: dict[str, Any]
    """Every section's model part by section name (also those ``Config`` does not list yet)."""


def load(
    files: Files,
    path: str,
    *,
    cwd: str,
    config_id: str,
    host: Host | None = None,
    script_host: ScriptHost | None = None,
    all_config: bool = False,
    config_test: bool = True,
    rng: random.Random | None = None,
    environ: Mapping[str, str] | None = None,
    sections: Collection[str] | None = None,
    memo: BlockMemo | None = None,
) -> Loaded:
    """Read ``path`` as keepalived 2.2.7 reads it; ``all_config`` is ``-e``.

    ``sections`` (names of ``pykad.config.sections`` modules; default all) is what a
    process owns, as each of keepalived's processes reads only its own keywords: the
    blocks of the others' top-level keywords are skipped unread (so their findings
    are not reported) and their parts of the model are left at their defaults.

    ``memo``: the top-level blocks of the last read of this configuration by the same
    process (``sections``), taken again where unchanged; this read's go into it."""
    reader = Reader(
        files,
        path,
        cwd,
        config_id,
        rng or random.Random(),
        include_check=INCLUDE_ALL if all_config else 0,
        environ=environ or {},
        memo=memo,
    )
    hooks = {"global_defs>include_check": reader.set_include_check}
    owned = [m for m in modules() if sections is None or m.NAME in sections]
    skip = frozenset().union(*(m.Builder.keywords for m in modules() if m not in owned))
    tree = build_tree(reader.lines(), reader.diagnostics, hooks, skip=skip, source=reader)
    if reader.depth > 0:
        reader.diagnostics.add(
            Severity.MISSING_EOB,
            f"There are {reader.depth} missing '}}'s or extra '{{'s",
            reader.last_location,
        )
    hosts: dict[str, Any] = {"host": host or NoHost(), "script_host": script_host}
    if memo is not None:
        hosts.update(memo.record(hosts))
    ctx = Context(reader.diagnostics, hosts["host"], config_test=config_test)
    ctx.script_host = hosts["script_host"]
    ctx.memo, ctx.tree = memo, tree
    parts = build(tree, ctx, [(m.NAME, m.ORDER, m.Builder) for m in owned])
    if parts is None:
        return Loaded(tree, None, reader.diagnostics, {})
    return Loaded(tree, from_parts(parts), reader.diagnostics, parts)
