"""Every finding of ``pykad -t`` names a file and line (keepalived's post-parse ones do not).

Checked over the whole corpus twice, with a host where no interface exists and
one where every interface does (different checks run), and where every script is
a root-owned executable, so that script-security findings are among them.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pykad.config.build import NoHost
from pykad.config.load import load
from pykad.config.scripts import FileStatus
from pykad.drivers.files import LocalFiles

TESTS = Path(__file__).resolve().parents[1]
CONFIGS = sorted((TESTS / "config_corpus").glob("*/*.conf"))


class RootScripts:
    """Every script exists, root-owned, mode 755, in root-owned directories."""

    def search_path(self, name: str) -> str | None:
        return f"/usr/bin/{name}"

    def realpath(self, path: str) -> str | None:
        return path

    def stat(self, path: str) -> FileStatus | None:
        return FileStatus(stat.S_IFREG | 0o755, 0, 0)

    def lstat(self, path: str) -> FileStatus | None:
        is_dir = not Path(path).suffix and path.count("/") < 3 and "true" not in path
        return FileStatus((stat.S_IFDIR if is_dir else stat.S_IFREG) | 0o755, 0, 0)


class LoopbackHost(NoHost):
    def interface_exists(self, name: str) -> bool:
        return name == "lo"


class EveryInterface(NoHost):
    def interface_exists(self, name: str) -> bool:
        return True


@pytest.mark.parametrize("host", [NoHost(), EveryInterface()], ids=["no-interfaces", "all"])
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_finding_has_a_location(path: Path, host: NoHost) -> None:
    loaded = load(LocalFiles(), path.name, cwd=str(path.parent), config_id="lang",
                  host=host, script_host=RootScripts())  # fmt: skip
    unplaced = [d.message for d in loaded.diagnostics.items if d.location is None]
    assert not unplaced


def test_security_violation_points_at_the_first_script(tmp_path: Path) -> None:
    (tmp_path / "k.conf").write_text(
        "global_defs {\n    router_id x\n}\nvrrp_script chk {\n    script /usr/bin/true\n}\n"
        "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 1\n"
        "    virtual_ipaddress {\n        192.0.2.1/32\n    }\n}\n"
    )
    loaded = load(LocalFiles(), "k.conf", cwd=str(tmp_path), config_id="x",
                  host=LoopbackHost(), script_host=RootScripts())  # fmt: skip
    (violation,) = [d for d in loaded.diagnostics.items if "SECURITY VIOLATION" in d.message]
    assert str(violation.location) == "k.conf:4"
