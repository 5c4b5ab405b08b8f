"""FILE_CHECK: how a track_file's value sets a real server's weight or takes it down,
as keepalived 2.2.7 computes it (``trackers/track_file.c``,
``check/check_file.c``, ``check/ipwrapper.c``).

Pure functions only; the file is watched by :mod:`pykad.drivers.track_file`,
whose values (``parse_track_file``: ``strtol`` of the file, 0 for a missing or
unreadable file) are what these take.

keepalived's rules (``update_track_file_status`` and
``process_update_checker_track_file_status``):

- With a ``weight`` (the FILE_CHECK's own, else the track_file's), the checker's
  status is ``value * weight``, negated with ``reverse``, clamped to a C int.
  The real server's weight is its configured weight plus that status (then
  clamped to 0..2**31-1 when given to IPVS); a status of ``-2**31`` or less is a
  fault: the checker is down.
- With ``weight 0``, only zero or not matters: a non-zero value is a fault, 0 is
  up with no change of weight; ``reverse`` swaps the two.

At start-up keepalived decides differently for ``weight 0`` (``init_service_rs``
and ``set_track_file_checkers_down`` ignore ``reverse`` there): any non-zero
value is down and 0 is up, reversed or not, until the value next changes
(:func:`initial_down`).
"""

from __future__ import annotations

from pykad.check.base import Outcome
from pykad.config.sections._lvs_model import FileCheck

__all__ = [
    "IPVS_WEIGHT_FAULT",
    "IPVS_WEIGHT_LIMIT",
    "file_status",
    "initial_down",
    "outcome",
    "real_weight",
    "weight_delta",
]

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
IPVS_WEIGHT_LIMIT = INT_MAX
IPVS_WEIGHT_FAULT = INT_MIN
"""The status that means "down" (``-IPVS_WEIGHT_MAX - 1``)."""


def _weight_range(value: int) -> int:
    return max(INT_MIN, min(INT_MAX, value))


def file_status(value: int, weight: int, reverse: bool) -> int:
    """keepalived's status of a FILE_CHECK for a file value: a weight change, or the fault."""
    if not weight:
        fault = (value != 0) != reverse
        return IPVS_WEIGHT_FAULT if fault else 0
    return _weight_range(value * weight * (-1 if reverse else 1))


def weight_delta(check: FileCheck, value: int) -> int | None:
    """What the file adds to the real server's configured weight; None: the server is down."""
    status = file_status(value, check.weight, check.reverse)
    return None if status == IPVS_WEIGHT_FAULT else status


def real_weight(effective_weight: int) -> int:
    """``real_weight``: the weight IPVS gets for an effective weight (0..2**31-1)."""
    return max(0, min(IPVS_WEIGHT_LIMIT, effective_weight))


def outcome(check: FileCheck, value: int, configured_weight: int) -> Outcome:
    """The file's verdict on the real server, with its weight for IPVS.

    ``configured_weight``: the real server's ``weight`` (keepalived's ``iweight``;
    with other weight-setting checkers, add their parts first).
    """
    delta = weight_delta(check, value)
    if delta is None:
        return Outcome(ok=False, reason=f"tracked file {check.track_file} now FAULT state")
    return Outcome(ok=True, weight=real_weight(configured_weight + delta))


def initial_down(check: FileCheck, value: int) -> bool:
    """Whether keepalived starts the real server with this checker down (``init_service_rs``)."""
    if check.weight:
        return value * check.weight * (-1 if check.reverse else 1) <= IPVS_WEIGHT_FAULT
    return value != 0
