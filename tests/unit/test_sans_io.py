"""The sans-IO rule: protocol cores import no I/O module (DESIGN.md, "functional core").

Checked: every module under pykad/vrrp, pykad/bfd, pykad/config, and the pure
parts of pykad/lb and pykad/check (all but their ``probes`` subpackages, which
are drivers). The compiled twins in _fastpath/ are held to the same rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pykad

FORBIDDEN = {"trio", "socket", "time", "os", "select", "selectors", "subprocess", "asyncio"}
CORES = ("vrrp", "bfd", "config", "lb", "check")
DRIVER_SUBPACKAGES = {"probes"}

PACKAGE = Path(pykad.__file__).parent
FASTPATH_SOURCES = Path(__file__).resolve().parents[2] / "_fastpath"


def io_imports(source: str) -> set[str]:
    """The forbidden top-level modules that ``source`` imports."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {n.split(".")[0] for n in names} & FORBIDDEN
    return found


def core_modules() -> list[Path]:
    modules = []
    for core in CORES:
        for path in sorted((PACKAGE / core).rglob("*.py")):
            if not DRIVER_SUBPACKAGES & set(path.relative_to(PACKAGE).parts):
                modules.append(path)
    return modules


@pytest.mark.parametrize(
    "source",
    ["import os", "import trio.lowlevel", "from time import monotonic", "import socket as s"],
)
def test_the_check_catches_io_imports(source: str) -> None:
    assert io_imports(source)


def test_the_check_allows_pure_imports() -> None:
    assert not io_imports("import struct\nfrom pykad.vrrp.advert import Advert\nimport ipaddress")


def test_cores_exist() -> None:
    assert any(p.parent.name == "vrrp" for p in core_modules())


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_module_does_no_io(path: Path) -> None:
    assert not io_imports(path.read_text()), f"{path} imports an I/O module"


def test_fastpath_sources_do_no_io() -> None:
    sources = sorted(FASTPATH_SOURCES.glob("*.pyx"))
    assert sources, f"no Cython sources in {FASTPATH_SOURCES}"
    for path in sources:
        text = "\n".join(
            line for line in path.read_text().splitlines() if line.startswith(("import ", "from "))
        )
        names = {line.split()[1].split(".")[0] for line in text.splitlines()}
        assert not names & FORBIDDEN, f"{path} imports an I/O module"
