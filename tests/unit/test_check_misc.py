"""MISC_CHECK: real scripts on the host, judged as check_misc.c judges them.

Exit 0 and 1, misc_dynamic weights (2..255 -> status - 2), death by a signal, a
script that cannot be exec'd, the script user, and timeouts: the whole process
group gets SIGTERM at the timeout and SIGKILL 2 s later, and when the script dies
of the SIGTERM, a child that ignores SIGTERM is killed too.
"""

from __future__ import annotations

import os
import pwd
import signal
import tempfile
import time
from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path

import pytest
import trio

from pykad.check.base import Outcome, Target
from pykad.check.probes import misc
from pykad.check.schedule import MISC_NOTE
from pykad.config.scripts import Script
from pykad.config.sections._lvs_model import MiscCheck
from pykad.drivers.process import ScriptResult

TARGET = Target(address=IPv4Address("192.0.2.5"), port=80, virtual_server="[10.0.0.1]:tcp:80")
RS = "[192.0.2.5]:tcp:80 VS [10.0.0.1]:tcp:80"


def sh(body: str, **kw: object) -> MiscCheck:
    kw.setdefault("timeout_us", 3_000_000)
    return MiscCheck(script=Script(("/bin/sh", "-c", body)), **kw)  # type: ignore[arg-type]


def probe(check: MiscCheck) -> Outcome:
    """One run; the reason as logged without a retry note (where the schedule puts one,
    the reason holds ``MISC_NOTE``)."""
    out = trio.run(misc.probe, check, TARGET)
    assert out.ok or out.reason.count(MISC_NOTE) == 1
    return replace(out, reason=out.reason.replace(MISC_NOTE, ""))


def gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for its reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def wait_gone(pid: int, timeout: float = 2.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if gone(pid):
            return True
        time.sleep(0.02)
    return gone(pid)


def test_exit_0_succeeds_and_exit_1_fails() -> None:
    assert probe(sh("exit 0")) == Outcome(ok=True, word="succeeded")
    assert probe(sh("exit 1")) == Outcome(
        ok=False,
        reason=f"Misc check for [{RS}] by [/bin/sh] failed (exited with status 1).",
        word="failed",
    )


@pytest.mark.parametrize(("status", "weight"), [(2, 0), (7, 5), (255, 253)])
def test_dynamic_exit_status_sets_the_weight(status: int, weight: int) -> None:
    assert probe(sh(f"exit {status}", dynamic=True)) == Outcome(
        ok=True, weight=weight, word="succeeded"
    )
    # Without misc_dynamic the same status is a failure.
    outcome = probe(sh(f"exit {status}"))
    assert outcome.reason.endswith(f"failed (exited with status {status}).")


def test_dynamic_exit_0_and_1() -> None:
    assert probe(sh("exit 0", dynamic=True)) == Outcome(ok=True, weight=None, word="succeeded")
    assert not probe(sh("exit 1", dynamic=True)).ok


def test_death_by_a_signal_we_did_not_send() -> None:
    outcome = probe(sh("kill -USR1 $$; sleep 5"))
    assert outcome.reason == (
        f"Misc check for [{RS}] by [/bin/sh] failed (due to signal {int(signal.SIGUSR1)})."
    )


def test_exec_failure_is_a_success_as_in_keepalived() -> None:
    check = MiscCheck(script=Script(("/nonexistent/check",)), timeout_us=1_000_000)
    assert probe(check).ok


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    check = MiscCheck(
        script=Script(("/bin/sh", "-c", f"sleep 30 & echo $! > {pidfile}; sleep 30")),
        timeout_us=300_000,
    )
    start = time.monotonic()
    outcome = probe(check)
    elapsed = time.monotonic() - start
    assert outcome == Outcome(
        ok=False, reason=f"Misc check for [{RS}] by [/bin/sh] timed out.", word="timed out"
    )
    assert 0.25 <= elapsed < 1.5
    assert wait_gone(int(pidfile.read_text()))


def test_child_ignoring_sigterm_is_killed_once_the_script_died(tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    body = f"(trap '' TERM; exec sleep 30) & echo $! > {pidfile}; sleep 30"
    check = MiscCheck(script=Script(("/bin/sh", "-c", body)), timeout_us=300_000)
    start = time.monotonic()
    outcome = probe(check)
    assert time.monotonic() - start < 1.5  # no 2 s grace: the script died of SIGTERM
    assert outcome.reason.endswith("timed out.")
    assert wait_gone(int(pidfile.read_text()))


@pytest.mark.slow
def test_script_ignoring_sigterm_gets_sigkill_after_2_s(tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    body = f"trap '' TERM; sleep 30 & echo $! > {pidfile}; wait; wait; sleep 30"
    check = MiscCheck(script=Script(("/bin/sh", "-c", body)), timeout_us=200_000)
    start = time.monotonic()
    outcome = probe(check)
    elapsed = time.monotonic() - start
    assert outcome.reason.endswith("timed out.")
    assert 2.1 <= elapsed < 3.5
    assert wait_gone(int(pidfile.read_text()))


def test_script_trapping_sigterm_is_judged_by_its_exit_status() -> None:
    check = sh("trap 'exit 0' TERM; sleep 30 & wait", timeout_us=300_000)
    assert probe(check).ok


def test_script_user() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    nobody = pwd.getpwnam("nobody")
    with tempfile.TemporaryDirectory() as shared:
        os.chmod(shared, 0o777)  # pytest's tmp_path is not reachable for nobody
        check_user(Path(shared) / "ids", nobody)


def check_user(out: Path, nobody: pwd.struct_passwd) -> None:
    check = MiscCheck(
        script=Script(("/bin/sh", "-c", f"id -u > {out}; id -g >> {out}"), user="nobody"),
        timeout_us=2_000_000,
    )
    assert probe(check).ok
    assert out.read_text().split() == [str(nobody.pw_uid), str(nobody.pw_gid)]
    # The default user applies when the check names none.
    out.unlink()
    check = sh(f"id -u > {out}")
    outcome = trio.run(
        lambda: misc.probe(check, TARGET, default_user=(nobody.pw_uid, nobody.pw_gid))
    )
    assert outcome.ok
    assert out.read_text().split() == [str(nobody.pw_uid)]


def test_timeout_falls_back_to_the_virtual_server_delay_loop() -> None:
    check = MiscCheck(script=Script(("/bin/sh", "-c", "sleep 30")), delay_loop_us=60_000_000)
    start = time.monotonic()
    result = trio.run(lambda: misc.run(check, vs_delay_loop_us=200_000))
    assert result.how == "timed out"
    assert time.monotonic() - start < 1.5


def test_judge_retry_note_and_weights() -> None:
    assert misc.judge(ScriptResult(0, False, None), False).ok
    assert misc.judge(ScriptResult(300 & 0xFF, False, None), True).weight == 42
    killed = misc.judge(ScriptResult(None, True, signal.SIGKILL), False)
    assert (killed.ok, killed.how, killed.reason) == (False, "timed out", None)
    assert misc.judge(ScriptResult(None, False, signal.SIGKILL), False).reason == "due to signal"
    failed = misc.judge(ScriptResult(1, False, None), False)
    assert misc.log_line(TARGET, "/x", failed, " after 2 retries") == (
        f"Misc check for [{RS}] by [/x] failed after 2 retries (exited with status 1)."
    )
    ok = misc.judge(ScriptResult(0, False, None), False)
    assert misc.log_line(TARGET, "/x", ok) == f"Misc check for [{RS}] by [/x] succeeded."
    assert misc.dynamic_weight(7, 100) == 5
    assert misc.dynamic_weight(0, 100) == 100
