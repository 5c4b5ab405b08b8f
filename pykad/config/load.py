"""Read a configuration into its block tree and diagnostics (no I/O of its own)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pykad.config.diagnostics import Diagnostics, Severity
from pykad.config.reader import INCLUDE_ALL, Files, Reader
from pykad.config.tree import Statement, build_tree


@dataclass(frozen=True)
class Loaded:
    tree: tuple[Statement, ...]
    diagnostics: Diagnostics


def load(
    files: Files,
    path: str,
    *,
    cwd: str,
    config_id: str,
    all_config: bool = False,
    rng: random.Random | None = None,
) -> Loaded:
    """Read ``path`` as keepalived 2.2.7 reads it; ``all_config`` is ``-e``."""
    reader = Reader(
        files,
        path,
        cwd,
        config_id,
        rng or random.Random(),
        include_check=INCLUDE_ALL if all_config else 0,
    )
    tree = build_tree(reader.lines(), reader.diagnostics)
    if reader.depth > 0:
        reader.diagnostics.add(
            Severity.MISSING_EOB, f"There are {reader.depth} missing '}}'s or extra '{{'s"
        )
    return Loaded(tree, reader.diagnostics)
