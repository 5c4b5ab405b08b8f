"""``pykadctl`` status / drain / undrain against real IPVS: tests/vm/guest/test_control_ipvs.py
in one VM boot (the host kernel has no IPVS)."""

from __future__ import annotations

from pathlib import Path

import pytest
from vm import test_ipvs_kernel as vm_tests

pytestmark = [pytest.mark.vm, pytest.mark.slow]


def test_control_of_the_checker_child_in_the_vm(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    vm_tests.run_guest_module("test_control_ipvs.py", tmp_path, pytestconfig)
