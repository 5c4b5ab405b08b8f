"""Shared pytest set-up: lab markers need root, and both codec twins as fixture params."""

from __future__ import annotations

import pytest

from lab.need import need_root

LAB_MARKERS = ("netns", "vm", "interop")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if any(item.get_closest_marker(m) for m in LAB_MARKERS):
        need_root()


pytest_plugins = ["lab.netns", "lab.keepalived"]
