"""The IPVS socket driver and codec against Debian's kernel: tests/vm/guest/ in one VM boot.

The host kernel has no IPVS, so the guest modules run inside the VM lab
(``lab.vm.run_pytest_in_vm``); this test boots it once, runs them, and fails
unless every guest test ran and passed (a guest skip is a failure too).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.vm import need_vm, run_pytest_in_vm

pytestmark = [pytest.mark.vm, pytest.mark.slow]

GUEST = Path(__file__).with_name("guest")


def run_guest_modules(names: list[str], tmp_path: Path, pytestconfig: pytest.Config) -> None:
    """Run tests/vm/guest/NAME for each of ``names`` in one VM boot; assert all their
    tests passed (a boot and the guest's pytest start cost ~30 s each time)."""
    need_vm()
    repo = pytestconfig.rootpath
    junit = tmp_path / "junit.xml"
    paths = [str(GUEST / name) for name in names]
    result = run_pytest_in_vm(
        ["-c", str(repo / "pyproject.toml"), "--rootdir", str(repo), *paths, "-q"],
        cwd=repo,
        junit_xml=junit,
        timeout=900,
        rwdirs=[tmp_path],
    )
    print(result.stdout, result.stderr, sep="\n--- stderr\n")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", "0")) > 0
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "0")


def test_the_guest_modules_in_the_vm(
    tmp_path: Path, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one boot: the IPVS codec and socket against the kernel, and the guest harness
    itself (an outer ``PYTEST_ADDOPTS`` must not reach the guest: it would fail on the
    option), test_ipvs_socket.py; the checker daemon (NAT and DR traffic, checkers,
    quorum and sorry server, reload, restart over the table, a long TCP stream kept,
    alert mails against keepalived's), test_check_daemon.py; ``pykadctl`` status /
    drain / undrain of the checker child, test_control_ipvs.py."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "--no-such-option")
    modules = ["test_ipvs_socket.py", "test_check_daemon.py", "test_control_ipvs.py"]
    run_guest_modules(modules, tmp_path, pytestconfig)
