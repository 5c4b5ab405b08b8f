"""Prerequisites of lab tests: skip where they are missing, or fail in strict mode.

The README's test command sets ``PYKAD_STRICT_LABS=1`` so that a netns, vm or
interop test whose prerequisite is missing fails loudly instead of skipping;
on a developer's machine without root the same tests skip and say why.
"""

from __future__ import annotations

import os
import shutil

import pytest

STRICT_ENV = "PYKAD_STRICT_LABS"


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


def need(ok: bool, why: str) -> None:
    """Skip (or, in strict mode, fail) the running test unless ``ok``."""
    if ok:
        return
    if strict():
        pytest.fail(f"lab prerequisite missing ({STRICT_ENV}=1): {why}", pytrace=False)
    pytest.skip(why)


def need_root() -> None:
    need(os.geteuid() == 0, "needs root")


def need_program(*names: str) -> None:
    for name in names:
        need(shutil.which(name) is not None, f"needs the program {name!r} on PATH")
