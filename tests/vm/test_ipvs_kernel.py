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


def run_guest_module(name: str, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    """Run tests/vm/guest/NAME in the VM; assert all its tests passed."""
    need_vm()
    repo = pytestconfig.rootpath
    junit = tmp_path / "junit.xml"
    result = run_pytest_in_vm(
        ["-c", str(repo / "pyproject.toml"), "--rootdir", str(repo), str(GUEST / name), "-q"],
        cwd=repo,
        junit_xml=junit,
        timeout=600,
        rwdirs=[tmp_path],
    )
    print(result.stdout, result.stderr, sep="\n--- stderr\n")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", "0")) > 0
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "0")


def test_ipvs_socket_in_the_vm(
    tmp_path: Path, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The codec and socket against the kernel, and the guest harness itself: an outer
    ``PYTEST_ADDOPTS`` must not reach the guest (it would fail on the option)."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "--no-such-option")
    run_guest_module("test_ipvs_socket.py", tmp_path, pytestconfig)


def test_checker_daemon_in_the_vm(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    """NAT and DR traffic, checkers, quorum and sorry server, reload, restart over the
    table, a long TCP stream kept: tests/vm/guest/test_check_daemon.py."""
    run_guest_module("test_check_daemon.py", tmp_path, pytestconfig)
