"""pykad.drivers.process: scripts run as keepalived runs them, and never block trio.

Real processes on the host (no namespaces): exit codes and signals, no shell
unless a ``</path`` file test needs one, a process group of its own with stdio on
/dev/null, timeouts that kill the whole group (grandchildren too), a user switch
to ``nobody``, cancellation, and the detached spawner that still reaps.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
import trio

from pykad.drivers.process import (
    SHELL,
    ScriptResult,
    needs_shell,
    run_script,
    shell_command,
    spawn_detached,
)

T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return trio.run(fn)


def sh(tmp_path: Path, body: str, name: str = "s.sh") -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def gone(pid: int) -> bool:
    """The process no longer runs (it may linger as a zombie of whoever reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.02)
    return False


# ---- the command line


@pytest.mark.parametrize(
    ("argv", "shell"),
    [
        (["/bin/true"], False),
        (["</etc/passwd"], True),
        (["< \t/etc/passwd"], True),
        (["<etc/passwd"], False),
        (["/bin/echo", "</etc/passwd"], False),
        ([], False),
    ],
)
def test_needs_shell_only_for_a_file_test(argv: list[str], shell: bool) -> None:
    assert needs_shell(argv) is shell


def test_shell_command_quotes_all_but_a_leading_redirection() -> None:
    assert shell_command(["</etc/x y", "a b", "it's"]) == "</etc/x y 'a b' 'it'\\''s'"
    assert shell_command(["/bin/echo", "$HOME"]) == "'/bin/echo' '$HOME'"
    assert SHELL == "/bin/sh"


# ---- exit status


@pytest.mark.parametrize(
    ("body", "result"),
    [
        ("exit 0", ScriptResult(0, False, None)),
        ("exit 3", ScriptResult(3, False, None)),
        ("kill -TERM $$", ScriptResult(None, False, signal.SIGTERM)),
        ("kill -KILL $$", ScriptResult(None, False, signal.SIGKILL)),
    ],
)
def test_exit_codes_and_signals(tmp_path: Path, body: str, result: ScriptResult) -> None:
    assert run(lambda: run_script([sh(tmp_path, body)])) == result


def test_words_are_not_given_to_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "argv"
    script = sh(tmp_path, f'for a in "$@"; do printf "%s\\n" "$a"; done > {out}\n')
    words = ["$HOME", "a;b", "`id`", "it's", "two words", "*"]
    assert run(lambda: run_script([script, *words])) == ScriptResult(0, False, None)
    assert out.read_text().splitlines() == words


def test_a_file_test_runs_through_the_shell(tmp_path: Path) -> None:
    present = tmp_path / "present"
    present.write_text("")
    assert run(lambda: run_script([f"<{present}"])) == ScriptResult(0, False, None)
    missing = run(lambda: run_script([f"< {tmp_path / 'missing'}"]))
    assert missing.returncode not in (0, None)


def test_exec_failure_is_exit_0_as_in_keepalived(tmp_path: Path) -> None:
    no_shebang = tmp_path / "plain"
    no_shebang.write_text("exit 5\n")
    no_shebang.chmod(0o755)
    result = run(lambda: run_script([str(no_shebang)]))
    assert result == ScriptResult(0, False, None, exec_errno=errno.ENOEXEC)
    result = run(lambda: run_script([str(tmp_path / "missing")]))
    assert result == ScriptResult(0, False, None, exec_errno=errno.ENOENT)


def test_empty_argv_is_refused() -> None:
    with pytest.raises(ValueError, match="one word"):
        run(lambda: run_script([]))


# ---- the child's set-up


def test_own_process_group_and_stdio_on_dev_null(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = sh(
        tmp_path,
        f"echo $$ $(ps -o pgid= -p $$) > {out}\n"
        "fds=$(for fd in 0 1 2; do readlink /proc/$$/fd/$fd; done)\n"
        f'echo "$fds" >> {out}\n'
        "echo to-stdout; echo to-stderr >&2\n",
    )
    assert run(lambda: run_script([script])) == ScriptResult(0, False, None)
    first, *fds = out.read_text().splitlines()
    pid, pgid = map(int, first.split())
    assert pid == pgid != os.getpgid(0)
    assert fds == ["/dev/null"] * 3


def test_environment(tmp_path: Path) -> None:
    out = tmp_path / "env"
    script = sh(tmp_path, f'printf "%s|%s" "$PYKAD_T" "${{HOME-unset}}" > {out}\n')
    run(lambda: run_script([script], env={"PYKAD_T": "x y"}))
    assert out.read_text() == "x y|unset"
    os.environ["PYKAD_T"] = "inherited"
    try:
        run(lambda: run_script([script]))
    finally:
        del os.environ["PYKAD_T"]
    assert out.read_text().startswith("inherited|")


def test_runs_as_another_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch users")
    import pwd

    nobody = pwd.getpwnam("nobody")
    shared = Path(tempfile.mkdtemp(prefix="pykad-proc-"))  # pytest's tmp_path is 0700
    try:
        shared.chmod(0o777)
        out = shared / "ids"
        script = sh(shared, f'echo "$(id -u) $(id -g) $(id -G)" > {out}\n')
        result = run(lambda: run_script([script], uid=nobody.pw_uid, gid=nobody.pw_gid))
        ids = out.read_text().split()
        owner = out.stat().st_uid
    finally:
        shutil.rmtree(shared)
    assert result == ScriptResult(0, False, None)
    uid, gid, *groups = ids
    assert (int(uid), int(gid)) == (nobody.pw_uid, nobody.pw_gid)
    assert [int(g) for g in groups] == [nobody.pw_gid]  # no supplementary groups kept
    assert owner == nobody.pw_uid


# ---- timeouts and cancellation


def grandparent(tmp_path: Path, trap: str = "") -> tuple[str, Path]:
    """A script that starts a grandchild in its group, records its pid and hangs."""
    pids = tmp_path / "pids"
    body = f"{trap}\nsleep 300 &\necho $! > {pids}\nwhile :; do sleep 1; done\n"
    return sh(tmp_path, body), pids


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    script, pids = grandparent(tmp_path)
    started = time.monotonic()
    result = run(lambda: run_script([script], timeout_s=0.5))
    assert 0.5 <= time.monotonic() - started < 3
    assert result == ScriptResult(None, True, signal.SIGKILL)
    assert wait_gone(int(pids.read_text()))


def test_timeout_with_grace_sends_sigterm_first(tmp_path: Path) -> None:
    out = tmp_path / "term"
    script, pids = grandparent(tmp_path, f"trap 'echo TERM > {out}; exit 7' TERM")
    result = run(lambda: run_script([script], timeout_s=0.3, terminate_grace_s=2))
    assert result == ScriptResult(7, True, None)
    assert out.read_text() == "TERM\n"
    assert wait_gone(int(pids.read_text()))  # the grandchild got SIGTERM too


def test_timeout_with_grace_then_sigkill(tmp_path: Path) -> None:
    script, pids = grandparent(tmp_path, "trap '' TERM")
    started = time.monotonic()
    result = run(lambda: run_script([script], timeout_s=0.3, terminate_grace_s=0.5))
    assert time.monotonic() - started >= 0.8
    assert result == ScriptResult(None, True, signal.SIGKILL)
    assert wait_gone(int(pids.read_text()))


def test_cancelling_the_caller_kills_and_reaps(tmp_path: Path) -> None:
    script, pids = grandparent(tmp_path)

    async def outer() -> bool:
        with trio.move_on_after(0.5) as scope:
            await run_script([script])
        return scope.cancelled_caught

    assert run(outer) is True
    assert wait_gone(int(pids.read_text()))


def test_the_trio_loop_keeps_running(tmp_path: Path) -> None:
    script = sh(tmp_path, "sleep 0.5\n")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await trio.sleep(0.01)
            ticks += 1

    async def main() -> list[ScriptResult]:
        results: list[ScriptResult] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            async with trio.open_nursery() as scripts:
                for _ in range(10):

                    async def one() -> None:
                        results.append(await run_script([script]))

                    scripts.start_soon(one)
            nursery.cancel_scope.cancel()
        return results

    started = time.monotonic()
    results = run(main)
    elapsed = time.monotonic() - started
    assert results == [ScriptResult(0, False, None)] * 10
    assert elapsed < 2.5  # ten half-second scripts ran side by side
    assert ticks >= 0.5 * elapsed / 0.01 * 0.5  # the loop was never stalled for long


# ---- detached


def test_spawn_detached_returns_at_once_and_reaps(tmp_path: Path) -> None:
    script = sh(tmp_path, "sleep 0.3; exit 4\n")
    seen: list[ScriptResult] = []

    async def main() -> tuple[int | None, float]:
        async with trio.open_nursery() as nursery:
            started = time.monotonic()
            pid = await spawn_detached(nursery, [script], on_exit=seen.append)
            return pid, time.monotonic() - started

    pid, took = run(main)
    assert took < 0.25
    assert seen == [ScriptResult(4, False, None)]
    assert pid is not None and gone(pid)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped already


def test_spawn_detached_timeout_and_exec_failure(tmp_path: Path) -> None:
    script, pids = grandparent(tmp_path)
    seen: list[ScriptResult] = []

    async def main() -> int | None:
        async with trio.open_nursery() as nursery:
            await spawn_detached(nursery, [script], timeout_s=0.3, on_exit=seen.append)
            return await spawn_detached(nursery, [str(tmp_path / "nope")], on_exit=seen.append)

    assert run(main) is None
    assert seen == [
        ScriptResult(0, False, None, exec_errno=errno.ENOENT),
        ScriptResult(None, True, signal.SIGKILL),
    ]
    assert wait_gone(int(pids.read_text()))


def test_spawn_detached_on_cancel_signal(tmp_path: Path) -> None:
    out = tmp_path / "term"
    script = sh(tmp_path, f"trap 'echo TERM > {out}; exit 0' TERM\nwhile :; do sleep 0.05; done\n")

    async def main() -> int | None:
        async with trio.open_nursery() as nursery:
            pid = await spawn_detached(nursery, [script], cancel_signal=signal.SIGTERM)
            await trio.sleep(0.2)
            nursery.cancel_scope.cancel()
        return pid

    pid = run(main)
    assert isinstance(pid, int)
    deadline = time.monotonic() + 5
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert out.read_text() == "TERM\n"
    assert wait_gone(pid)
    with contextlib.suppress(ChildProcessError):  # SIGTERM is sent without waiting
        os.waitpid(pid, 0)
