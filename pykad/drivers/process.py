"""Running external scripts the way keepalived does: the one process runner of pykad.

Owned here: :func:`run_script` (run a script and wait for it, with a timeout),
:func:`spawn_detached` (start a script now and reap it in the background), and
:class:`ScriptResult`.  Notify scripts, FIFO scripts and track scripts all go
through this module.

What keepalived 2.2.7 does (``core/notify.c``: ``system_call_script``,
``set_script_env``, ``cmd_str``; ``check_script_secure``), and so what we do:

- The script's words are exec'd directly (``execve``), never through a shell,
  unless the first word is a redirection-only file test (``</path``, possibly
  with blanks between ``<`` and ``/``; keepalived's ``SC_SYSTEM``): that runs as
  ``system(cmd)``, i.e. ``/bin/sh -c CMD`` where CMD is the first word as it is
  and every other word single-quoted (:func:`shell_command`).  Debian's 2.2.7 is
  built without libmagic, so a script without a ``#!`` line is not handed to the
  shell either: its exec fails (``ENOEXEC``) and the child exits 0.  That is
  what :func:`run_script` reports too (``returncode`` 0, ``exec_errno`` set).
- The child sets its gid, clears its supplementary groups and sets its uid
  (``script_user`` or the script's own user), moves into its own process group
  (``setpgid(0, 0)``), has stdin, stdout and stderr on ``/dev/null`` and no other
  descriptor open, and inherits keepalived's environment.
- A script that must finish in time (a STOP notify script gets 1 s) has its
  whole process group killed with SIGKILL when the time is up
  (``child_killed_thread``).  Track scripts (``vrrp_script_child_thread``) first
  get SIGTERM, then SIGKILL 2 s later: pass ``terminate_grace_s=2``.

Not done: keepalived also sets ``PR_SET_PDEATHSIG`` (SIGTERM) in the child; Python's
subprocess offers that only through ``preexec_fn``, which is unsafe with threads.
The :class:`~pykad.drivers.notify.Notifier` signals its scripts when it closes.

Processes are started by :func:`trio.lowlevel.open_process` (the fork/exec runs in
a worker thread) and waited for through a pidfd, so the trio loop never blocks.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import trio

__all__ = [
    "SHELL",
    "ScriptResult",
    "needs_shell",
    "run_script",
    "shell_command",
    "signal_group",
    "spawn_detached",
]

log = logging.getLogger(__name__)

SHELL = "/bin/sh"
"""What ``system(3)`` runs: ``/bin/sh -c COMMAND``."""


@dataclass(frozen=True, slots=True)
class ScriptResult:
    """How a script ended."""

    returncode: int | None
    """Its exit status; None when a signal ended it."""
    timed_out: bool
    """It was still running when its time was up, and its process group was killed."""
    signal: int | None
    """The signal that ended it, if one did."""
    exec_errno: int | None = None
    """The exec failed with this errno (keepalived's child then exits 0: ``returncode`` 0)."""


def needs_shell(argv: Sequence[str]) -> bool:
    """Whether keepalived runs ``argv`` through the shell: a ``</path`` file test."""
    if not argv:
        return False
    first = argv[0]
    return first.startswith("<") and first[1:].lstrip(" \t").startswith("/")


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def shell_command(argv: Sequence[str]) -> str:
    """The command line keepalived gives ``system()`` (``cmd_str``).

    The first word goes as it is when it starts with ``<`` or ``>`` (a redirection);
    every other word is single-quoted.  An embedded single quote is written as
    ``'\\''`` (keepalived 2.2.7 did not escape it; later releases do).
    """
    words = []
    for i, word in enumerate(argv):
        words.append(word if i == 0 and word[:1] in ("<", ">") else _quote(word))
    return " ".join(words)


def _command(argv: Sequence[str]) -> list[str]:
    if needs_shell(argv):
        return [SHELL, "-c", shell_command(argv)]
    return list(argv)


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False if the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        log.warning("not allowed to signal process group %d", pgid)
        return False
    return True


async def _start(
    argv: Sequence[str],
    uid: int | None,
    gid: int | None,
    env: Mapping[str, str] | None,
) -> trio.Process:
    if not argv:
        raise ValueError("a script needs at least one word")
    switch = uid is not None or gid is not None
    return await trio.lowlevel.open_process(
        _command(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        process_group=0,  # keepalived's setpgid(0, 0)
        user=uid,
        group=gid,
        # keepalived sets the script user's supplementary groups: none by default.
        extra_groups=[] if switch and os.geteuid() == 0 else None,
        env=dict(env) if env is not None else None,
        restore_signals=True,
    )


def _exec_failed(argv: Sequence[str], exc: OSError) -> ScriptResult:
    code = exc.errno if exc.errno is not None else errno.ENOEXEC
    log.warning("Error exec-ing command '%s', error %d: %s", argv[0], code, exc.strerror)
    return ScriptResult(returncode=0, timed_out=False, signal=None, exec_errno=code)


def _result(status: int, timed_out: bool) -> ScriptResult:
    if status < 0:
        return ScriptResult(returncode=None, timed_out=timed_out, signal=-status)
    return ScriptResult(returncode=status, timed_out=timed_out, signal=None)


async def _reap(
    proc: trio.Process,
    timeout_s: float | None,
    terminate_grace_s: float | None,
    cancel_signal: int | None,
) -> ScriptResult:
    """Wait for ``proc``; on timeout kill its process group; always reap it.

    While the leader is not reaped its pid is its group's id and cannot be reused,
    so signalling the group before the final ``wait`` is safe.
    """
    status: int | None = None
    try:
        with trio.move_on_after(math.inf if timeout_s is None else timeout_s):
            status = await proc.wait()
        if status is not None:
            return _result(status, timed_out=False)
        if terminate_grace_s is not None:
            signal_group(proc.pid, signal.SIGTERM)
            with trio.move_on_after(terminate_grace_s):
                status = await proc.wait()
            if status is not None:
                return _result(status, timed_out=True)
        signal_group(proc.pid, signal.SIGKILL)
        with trio.CancelScope(shield=True):
            killed = status = await proc.wait()
        return _result(killed, timed_out=True)
    finally:
        if status is None and cancel_signal is not None:
            # Cancelled from outside: do not leave the script behind.
            signal_group(proc.pid, cancel_signal)
            if cancel_signal == signal.SIGKILL:
                with trio.CancelScope(shield=True):
                    await proc.wait()


async def run_script(
    argv: Sequence[str],
    *,
    uid: int | None = None,
    gid: int | None = None,
    timeout_s: float | None = None,
    env: Mapping[str, str] | None = None,
    terminate_grace_s: float | None = None,
) -> ScriptResult:
    """Run ``argv`` as keepalived runs a script, and wait for it to end.

    ``uid``/``gid``: whom it runs as (None: as we are).  ``timeout_s``: after this
    long its whole process group is killed (SIGKILL; with ``terminate_grace_s``,
    SIGTERM first and SIGKILL that much later) and reaped.  ``env``: its
    environment (None: ours).  If the caller is cancelled, the group is killed
    and reaped before the cancellation goes on.
    """
    try:
        proc = await _start(argv, uid, gid, env)
    except OSError as exc:
        return _exec_failed(argv, exc)
    return await _reap(proc, timeout_s, terminate_grace_s, signal.SIGKILL)


async def spawn_detached(
    nursery: trio.Nursery,
    argv: Sequence[str],
    *,
    uid: int | None = None,
    gid: int | None = None,
    timeout_s: float | None = None,
    env: Mapping[str, str] | None = None,
    terminate_grace_s: float | None = None,
    on_exit: Callable[[ScriptResult], object] | None = None,
    cancel_signal: int | None = signal.SIGKILL,
) -> int | None:
    """Start ``argv`` now (fire and forget) and reap it in a task of ``nursery``.

    Returns once the script has been exec'd (so scripts start in call order), with
    its pid, or None when the exec failed.  ``timeout_s`` and ``terminate_grace_s``
    are as for :func:`run_script`; ``on_exit`` gets the result.  If ``nursery`` is
    cancelled first, ``cancel_signal`` goes to the script's process group (SIGKILL,
    then the script is reaped; another signal is sent without waiting; None: none).
    """
    try:
        proc = await _start(argv, uid, gid, env)
    except OSError as exc:
        result = _exec_failed(argv, exc)
        if on_exit is not None:
            on_exit(result)
        return None

    async def reaper() -> None:
        result = await _reap(proc, timeout_s, terminate_grace_s, cancel_signal)
        if result.timed_out:
            log.info("script %s (pid %d) timed out and was killed", argv[0], proc.pid)
        if on_exit is not None:
            try:
                on_exit(result)
            except Exception:
                log.exception("on_exit of script %s failed", argv[0])

    nursery.start_soon(reaper, name=f"reap {argv[0]} [{proc.pid}]")
    return proc.pid
