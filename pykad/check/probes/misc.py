"""MISC_CHECK: one run of the check script, judged as keepalived 2.2.7 judges it
(``check/check_misc.c``).

Owns the run (through :func:`pykad.drivers.process.spawn_detached`), the
verdict on how the script ended (:func:`judge`), the weight rules of
``misc_dynamic`` (:func:`dynamic_weight`) and the log line.

keepalived's rules, kept here:

- The script runs as ``user`` (or the default script user), in its own process
  group.  Its time is ``misc_timeout``, else the virtual server's
  ``delay_loop``.  When the time is up its process group gets SIGTERM; if the
  script is still there 2 s later, the group gets SIGKILL.  If the script
  itself died of our SIGTERM, the group gets SIGKILL at once, so that no child
  it started lives on.
- Exit 0 is a success; with ``misc_dynamic`` an exit status 2..255 is one too,
  and sets the real server's weight to ``status - 2`` (0..253); exit 0 puts back
  the configured weight.  Any other exit status is a failure ("exited with
  status N"), as is death by a signal we did not send ("due to signal N").
  Death by our SIGTERM (or, after it, by SIGTERM or SIGKILL) is "timed out".
  A script that traps SIGTERM and exits is judged by its exit status.
- A script that cannot be exec'd is a success (keepalived's child exits 0).

The log line is ``Misc check for [<rs> VS <vs>] by [<script>] <how><retry note>
(<reason> <code>).``; the retry note (keepalived 2.2.7: " after N retries" on a
failure when retry is set) is the schedule's (``schedule.MiscSchedule``).
"""

from __future__ import annotations

import logging
import math
import signal
from dataclasses import dataclass

import trio

from pykad.check.base import Outcome, Target
from pykad.check.probes.dgram import format_rs, format_vs
from pykad.check.schedule import MISC_NOTE
from pykad.config.sections._lvs_model import MiscCheck
from pykad.drivers.notify import UserIds, resolve_user
from pykad.drivers.process import ScriptResult, signal_group, spawn_detached

__all__ = [
    "TERMINATE_GRACE_S",
    "MiscResult",
    "dynamic_weight",
    "judge",
    "log_line",
    "probe",
    "run",
]

log = logging.getLogger(__name__)

TERMINATE_GRACE_S = 2.0
"""keepalived's wait between SIGTERM and SIGKILL of a script that timed out."""


@dataclass(frozen=True, slots=True)
class MiscResult:
    """How one run of the script is judged."""

    ok: bool
    how: str
    """keepalived's word: ``succeeded``, ``failed`` or ``timed out``."""
    reason: str | None = None
    """``exited with status`` or ``due to signal`` (failures only)."""
    code: int = 0
    exit_status: int | None = None
    """The exit status, when the script exited."""
    weight: int | None = None
    """misc_dynamic: the real server's new weight (``status - 2``); None: the configured one."""


def dynamic_weight(status: int, configured_weight: int) -> int:
    """The real server's weight after a successful dynamic run (``cur_weight`` + ``iweight``)."""
    return status - 2 if status else configured_weight


def judge(result: ScriptResult, dynamic: bool) -> MiscResult:
    """keepalived's ``misc_check_child_thread`` verdict on how the script ended."""
    if result.returncode is not None:
        status = result.returncode & 0xFF
        if status == 0 or (dynamic and 2 <= status <= 255):
            weight = status - 2 if dynamic and status else None
            return MiscResult(True, "succeeded", exit_status=status, weight=weight)
        return MiscResult(False, "failed", "exited with status", status, exit_status=status)
    sig = result.signal or 0
    if result.timed_out and sig in (signal.SIGTERM, signal.SIGKILL):
        return MiscResult(False, "timed out")
    return MiscResult(False, "failed", "due to signal", sig)


def log_line(target: Target, script: str, result: MiscResult, note: str = "") -> str:
    """keepalived's line for a run (``note``: the retry note, or ``schedule.MISC_NOTE``
    where the schedule puts it)."""
    head = f"Misc check for [{format_rs(target)} VS {format_vs(target)}] by [{script}] {result.how}"
    if result.reason is not None:
        return f"{head}{note} ({result.reason} {result.code})."
    return f"{head}{note}."


def _timeout_s(check: MiscCheck, vs_delay_loop_us: int | None) -> float:
    timeout_us = check.timeout_us or (
        vs_delay_loop_us if vs_delay_loop_us is not None else check.delay_loop_us
    )
    return timeout_us / 1_000_000 if timeout_us > 0 else math.inf


async def run(
    check: MiscCheck,
    *,
    default_user: UserIds | None = None,
    vs_delay_loop_us: int | None = None,
) -> MiscResult:
    """Run the script once and judge how it ended.

    ``default_user``: whom it runs as when the check names no ``user`` (None: as
    we are).  ``vs_delay_loop_us``: the virtual server's ``delay_loop``, the
    timeout when there is no ``misc_timeout`` (default: the checker's).
    """
    script = check.script
    ids = resolve_user(script.user, script.group) if script.user is not None else default_user
    results: list[ScriptResult] = []
    async with trio.open_nursery() as nursery:
        pid = await spawn_detached(
            nursery,
            script.argv,
            uid=ids[0] if ids is not None else None,
            gid=ids[1] if ids is not None else None,
            timeout_s=_timeout_s(check, vs_delay_loop_us),
            terminate_grace_s=TERMINATE_GRACE_S,
            on_exit=results.append,
        )
    result = results[0]
    if pid is not None and result.timed_out and result.signal == signal.SIGTERM:
        # Our SIGTERM ended the script: make sure nothing it started lives on.
        signal_group(pid, signal.SIGKILL)
    return judge(result, check.dynamic)


async def probe(
    check: MiscCheck,
    target: Target,
    *,
    default_user: UserIds | None = None,
    vs_delay_loop_us: int | None = None,
) -> Outcome:
    """One run of the script (see :func:`run`).

    The reason of a failure is keepalived's log line, with ``schedule.MISC_NOTE``
    where the schedule puts its retry note.
    ``weight``: with ``misc_dynamic``, ``status - 2`` after exit 2..255; None
    otherwise, which means the configured weight (keepalived puts it back after
    exit 0 and when the checker goes down).
    """
    result = await run(check, default_user=default_user, vs_delay_loop_us=vs_delay_loop_us)
    if result.ok:
        return Outcome(ok=True, weight=result.weight, word=result.how)
    line = log_line(target, check.script.argv[0], result, MISC_NOTE)
    return Outcome(ok=False, reason=line, word=result.how)
