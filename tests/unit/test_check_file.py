"""FILE_CHECK: a track_file's value to a real server's weight or fault, as keepalived."""

from __future__ import annotations

import pytest

from pykad.check import file_check
from pykad.check.base import Outcome
from pykad.config.sections._lvs_model import FileCheck

FAULT = file_check.IPVS_WEIGHT_FAULT


@pytest.mark.parametrize(
    ("value", "weight", "reverse", "status"),
    [
        (0, 1, False, 0),
        (5, 1, False, 5),
        (5, 3, False, 15),
        (5, 3, True, -15),
        (-5, 3, True, 15),
        (-(2**31), 1, False, FAULT),
        (2**31 - 1, 2, False, 2**31 - 1),  # clamped to a C int
        (-(2**30), 4, False, FAULT),  # clamped to INT_MIN: the fault
        # weight 0: only zero or not, reverse swaps
        (0, 0, False, 0),
        (7, 0, False, FAULT),
        (-1, 0, False, FAULT),
        (0, 0, True, FAULT),
        (7, 0, True, 0),
    ],
)
def test_file_status(value: int, weight: int, reverse: bool, status: int) -> None:
    assert file_check.file_status(value, weight, reverse) == status


def test_outcome_adds_to_the_configured_weight_and_clamps_for_ipvs() -> None:
    check = FileCheck(track_file="tf", weight=10)
    assert file_check.outcome(check, 3, 100) == Outcome(ok=True, weight=130)
    assert file_check.outcome(check, -20, 100) == Outcome(ok=True, weight=0)
    assert file_check.outcome(check, 2**30, 100).weight == 2**31 - 1
    down = file_check.outcome(FileCheck(track_file="tf", weight=0), 1, 100)
    assert down == Outcome(ok=False, reason="tracked file tf now FAULT state")
    assert file_check.weight_delta(FileCheck(track_file="tf", weight=2, reverse=True), 4) == -8
    assert file_check.weight_delta(FileCheck(track_file="tf", weight=0), 4) is None


def test_start_up_ignores_reverse_for_weight_0() -> None:
    reversed0 = FileCheck(track_file="tf", weight=0, reverse=True)
    assert file_check.initial_down(reversed0, 3)  # runtime would say up
    assert not file_check.initial_down(reversed0, 0)  # runtime would say down
    assert file_check.initial_down(FileCheck(track_file="tf", weight=1), -(2**31))
    assert not file_check.initial_down(FileCheck(track_file="tf", weight=1), -5)
