"""Shared pytest set-up: lab markers need root, and both codec twins as fixture params."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.need import need_root
from lab.vm import in_vm

LAB_MARKERS = ("netns", "vm", "interop")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if any(item.get_closest_marker(m) for m in LAB_MARKERS):
        need_root()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/vm/guest/ runs only inside the IPVS VM (booted by the tests in tests/vm/)."""
    if collection_path.name == "guest" and collection_path.parent.name == "vm" and not in_vm():
        return True
    return None


pytest_plugins = ["lab.netns", "lab.keepalived"]
