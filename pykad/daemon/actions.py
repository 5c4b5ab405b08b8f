"""Runtime actions that outlive a respawn: what ``pykadctl`` demoted or drained.

A demote (VRRP child) or a drain (checker child) lasts until it is undone or the next
reload.  A child that dies and is respawned by the parent must come back with them, so
each child keeps its actions in a small JSON file in the run directory
(``vrrp.actions`` / ``check.actions``, next to its control socket), written after each
change, read when it starts, and emptied by a reload.  The parent clears the run
directory when the daemon starts (``control.clear_dir``): a new daemon inherits nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from typing import Any

log = logging.getLogger("pykad")


def path(directory: str, child: str) -> str:
    return os.path.join(directory, f"{child}.actions")


class Actions:
    """One child's action file (no file: no actions); ``directory`` None keeps nothing."""

    def __init__(self, directory: str | None, child: str) -> None:
        self.path = None if directory is None else path(directory, child)

    def save(self, items: list[Any]) -> None:
        """Replace the recorded actions (written whole, then renamed into place)."""
        if self.path is None:
            return
        if not items:
            self.clear()
            return
        tmp = self.path + ".tmp"
        try:
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                json.dump(items, f)
            os.replace(tmp, self.path)
        except OSError as e:
            log.warning("cannot record runtime actions in %s: %s", self.path, e)

    def load(self) -> list[Any]:
        if self.path is None:
            return []
        try:
            with open(self.path) as f:
                items = json.load(f)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as e:
            log.warning("cannot read runtime actions from %s: %s", self.path, e)
            return []
        return items if isinstance(items, list) else []

    def clear(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
