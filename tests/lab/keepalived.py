"""The interop lab: the real keepalived (Debian's 2.2.7) as a live peer in a namespace.

This module owns running keepalived for tests and benchmarks:

- :class:`Keepalived` is one daemon inside one network namespace with its own files
  (config, log, and all four pid files: ``-p -r -c -b``), started as
  ``keepalived -n -l -D -G -f CONF -p .. -r .. -c .. -b .. -i ID [subsystem flags]``.
  It waits until the daemon is really running (the parent's and every expected
  child's pid file name live processes), follows its console log
  (:meth:`Keepalived.wait_for_log`, :meth:`Keepalived.wait_for_state`), and stops it
  the way an operator does: SIGTERM to the parent, then wait for the parent and all
  children (its process group) to exit, SIGKILL after a timeout.
- :class:`KeepalivedLab` starts any number of them and stops all of them at teardown,
  also when the test failed or was interrupted (it registers with the netns lab's
  atexit/signal cleanup too).  The ``keepalived_lab`` fixture hands one to a test.
- :func:`config_test` runs ``keepalived -t -f FILE`` and returns its exit code and
  output (0 ok, 3 cannot run, 4 config error at start-up, 5 errors or warnings found by
  the test, 6 script security notes; see below for what this build really does).

What keepalived 2.2.7 needs and does here (measured, not guessed):

- Nothing under /etc/keepalived when given ``-f`` and its own pid files; several
  instances run at once, one per namespace, each with its own pid files.  It never
  forks into the background with ``-n``; its console log (``-l``) goes to stderr,
  unbuffered.  ``-G`` keeps it off syslog.
- Subsystem flags: ``-P``/``--vrrp`` (VRRP, plus BFD if configured), ``-C``/``--check``
  (checkers, plus BFD), ``-B``/``--no_bfd``; the last of ``-P``/``-C`` wins, so "VRRP
  and checkers" means no flag.  There is no ``--bfd`` option: getopt takes ``--bfd``
  as an abbreviation of ``--bfd_pid`` and eats the next argument as a pid file name.
  A child only starts when the config has something for it (``--all`` forces all).
- The checker child exits FATAL here when the config has a virtual_server (the host
  kernel has no IPVS), and the parent then stops too.
- ``state MASTER`` with a priority below 255 still starts in BACKUP ("Entering BACKUP
  STATE (init)") and becomes MASTER after the master-down interval
  (3 x advert_int + skew, ~3.6 s for priority 100 and 1 s adverts).
- State lines: ``(VI_1) Entering BACKUP STATE (init)``, ``(VI_1) Receive advertisement
  timeout``, ``(VI_1) Entering MASTER STATE``, ``(VI_1) setting VIPs.``,
  ``(VI_1) entering FAULT state``; on SIGTERM ``Stopping``, ``(VI_1) sent 0 priority``,
  ``(VI_1) removing VIPs.``, ``Stopped Keepalived v2.2.7``; exit code 0.
- SIGKILL of the VRRP child: the parent respawns it at once ("VRRP child process(N)
  died: Respawning"); the new child removes the VIPs and starts over in BACKUP (init),
  so a lower-priority peer does not take over.  To emulate a crash, kill the whole
  daemon (:meth:`Keepalived.kill`); its VIPs then stay on the interface.
- SIGHUP reloads ("Reloading ...", "Reload complete") and applies VIP changes in place.
- ``-t``: a missing config file gives 0 (!) unless ``-e`` is given (then 4); unknown
  keywords, bad VRIDs, unparsable VIPs, missing braces and interfaces that do not exist
  in the namespace give 5; scripts without ``enable_script_security`` give 6 (no
  ``keepalived_script`` user exists; use ``script_user root`` and
  ``enable_script_security`` in global_defs, see :data:`SCRIPT_SECURITY`).
- SIGUSR1/SIGUSR2/JSON dumps go to fixed paths (/tmp/keepalived.data,
  /tmp/keepalived_parent.data, ...), shared by every instance on the host.

keepalived is never run in the host's namespace by this module: the host has real
addresses in 192.0.2.0/24 on its own ``eth0``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from lab.need import need_program
from lab.netns import (
    DaemonLab,
    LabProcess,
    Topology,
    WaitTimeout,
    kill_process_group,
    netns_exec_argv,
    pid_alive,
    spawn_in,
    wait_for,
)

__all__ = [
    "EXIT_CONFIG",
    "EXIT_CONFIG_TEST",
    "EXIT_CONFIG_TEST_SECURITY",
    "EXIT_FATAL",
    "EXIT_OK",
    "PYKAD",
    "SCRIPT_SECURITY",
    "SUBSYSTEMS",
    "ConfigTestResult",
    "Keepalived",
    "KeepalivedError",
    "KeepalivedLab",
    "config_test",
    "expected_children",
    "keepalived_lab",
    "subsystem_args",
    "vrrp_instance_config",
]

KEEPALIVED = "keepalived"
PYKAD = str(Path(sys.executable).with_name("pykad"))
"""pykad from the environment the tests run in: it takes keepalived's flags, so
:class:`Keepalived` runs it too (``program=(PYKAD,)``)."""
PYKADCTL = str(Path(sys.executable).with_name("pykadctl"))

# keepalived's exit codes (core/main.h: KEEPALIVED_EXIT_*).
EXIT_OK = 0
EXIT_FATAL = 3
EXIT_CONFIG = 4
EXIT_CONFIG_TEST = 5
EXIT_CONFIG_TEST_SECURITY = 6

SUBSYSTEMS: tuple[str, ...] = ("vrrp", "check", "bfd")
"""keepalived's child processes, by the names used in this module."""

SCRIPT_SECURITY = "global_defs {\n    script_user root\n    enable_script_security\n}\n"
"""A global_defs block that lets keepalived run notify/track scripts without warnings."""

_SECTION_RES = {
    "vrrp": re.compile(r"^\s*(vrrp_instance|vrrp_sync_group)\b", re.M),
    "check": re.compile(r"^\s*(virtual_server|virtual_server_group)\b", re.M),
    "bfd": re.compile(r"^\s*bfd_instance\b", re.M),
}
_STATE_RE = re.compile(
    r"\((?P<instance>[^()\s]+)\):? (?:Entering (?P<state>MASTER|BACKUP) STATE"
    r"|[Ee]ntering (?P<fault>FAULT) (?:state|STATE))"
)
_STATES = ("MASTER", "BACKUP", "FAULT")


class KeepalivedError(RuntimeError):
    """keepalived did not start, died, or would not stop."""


class ConfigTestResult(NamedTuple):
    """What ``keepalived -t`` said: its exit code and its (merged) output."""

    returncode: int
    output: str


def subsystem_args(subsystems: Collection[str] | None) -> list[str]:
    """keepalived's flags selecting ``subsystems`` (a subset of :data:`SUBSYSTEMS`).

    ``None`` means keepalived's default: every child that has configuration.
    keepalived 2.2.7 cannot run BFD without VRRP or the checkers.
    """
    if subsystems is None:
        return []
    chosen = set(subsystems)
    unknown = chosen - set(SUBSYSTEMS)
    if unknown:
        raise ValueError(f"unknown subsystems {sorted(unknown)}; choose from {SUBSYSTEMS}")
    vrrp, check, bfd = ("vrrp" in chosen), ("check" in chosen), ("bfd" in chosen)
    if vrrp and check:
        args: list[str] = []  # both run by default; -P and -C each reset the other
    elif vrrp:
        args = ["-P"]  # --vrrp
    elif check:
        args = ["-C"]  # --check
    else:
        raise ValueError("keepalived cannot run BFD alone (only with --vrrp or --check)")
    if not bfd:
        args.append("-B")  # --no_bfd
    return args


def expected_children(
    config: str, subsystems: Collection[str] | None = None, *, run_all: bool = False
) -> set[str]:
    """The children keepalived will start for ``config`` (text) and ``subsystems``.

    keepalived starts a child only if the config has something for it, unless
    ``--all`` is given (``run_all``).  Blocks pulled in by ``include`` are not seen.
    """
    selected = set(SUBSYSTEMS if subsystems is None else subsystems)
    if run_all:
        return selected
    return {name for name in selected if _SECTION_RES[name].search(config)}


def vrrp_instance_config(
    *,
    name: str = "VI_1",
    interface: str = "eth0",
    virtual_router_id: int = 51,
    priority: int = 100,
    vips: Sequence[str] = ("192.0.2.10/24",),
    advert_int: float = 1,
    state: str = "BACKUP",
    version: int | None = None,
    extra: str = "",
) -> str:
    """A small ``vrrp_instance`` block (documentation addresses only, please)."""
    lines = [
        f"vrrp_instance {name} {{",
        f"    state {state}",
        f"    interface {interface}",
        f"    virtual_router_id {virtual_router_id}",
        f"    priority {priority}",
        f"    advert_int {advert_int:g}",
    ]
    if version is not None:
        lines.append(f"    version {version}")
    lines += [f"    {line}" for line in extra.strip().splitlines()]
    lines += ["    virtual_ipaddress {", *(f"        {vip}" for vip in vips), "    }", "}"]
    return "\n".join(lines) + "\n"


def _config_path_and_tmpdir(
    config: str | os.PathLike[str],
) -> tuple[Path, tempfile.TemporaryDirectory[str] | None]:
    if isinstance(config, os.PathLike) or (
        "\n" not in config and "{" not in config and os.path.isfile(config)
    ):
        return Path(config), None
    tmp = tempfile.TemporaryDirectory(prefix="pykad-kt-")
    path = Path(tmp.name) / "keepalived.conf"
    path.write_text(config)
    return path, tmp


def config_test(
    config: str | os.PathLike[str],
    netns: str | None = None,
    *,
    config_id: str | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 60.0,
) -> ConfigTestResult:
    """``keepalived -t -f FILE``: check a config (text, or a path) without running it.

    A ``str`` is config text unless it is a single line naming an existing file; pass
    a :class:`~pathlib.Path` to be explicit.  Run it inside ``netns`` when the config
    names interfaces: keepalived warns (exit 5) about interfaces it cannot see.
    """
    path, tmp = _config_path_and_tmpdir(config)
    try:
        argv = [KEEPALIVED, "-t", "-f", str(path)]
        if config_id is not None:
            argv += ["-i", config_id]
        argv += list(extra_args)
        proc = subprocess.run(
            netns_exec_argv(netns, argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        return ConfigTestResult(proc.returncode, proc.stdout)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _live_pid_in(path: Path) -> int | None:
    """The pid written in a pid file, if the file exists and that process is alive."""
    try:
        pid = int(path.read_text().strip() or "0")
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and pid_alive(pid) else None


class Keepalived:
    """One keepalived daemon inside one namespace, with its own files in ``workdir``."""

    def __init__(
        self,
        netns: str,
        config: str,
        workdir: str | os.PathLike[str],
        *,
        name: str = "keepalived",
        subsystems: Collection[str] | None = None,
        config_id: str | None = None,
        extra_args: Sequence[str] = (),
        expect: Collection[str] | None = None,
        program: Sequence[str] = (KEEPALIVED,),
    ) -> None:
        self.netns = netns
        self.name = name
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / f"{name}.conf"
        self.log_path = self.workdir / f"{name}.log"
        self.pid_files = {
            "parent": self.workdir / f"{name}.pid",
            "vrrp": self.workdir / f"{name}-vrrp.pid",
            "check": self.workdir / f"{name}-check.pid",
            "bfd": self.workdir / f"{name}-bfd.pid",
        }
        self.config_path.write_text(config)
        self.argv = [
            *program,
            "-n",  # --dont-fork
            "-l",  # --log-console (to stderr, unbuffered)
            "-D",  # --log-detail
            "-G",  # --no-syslog
            "-f", str(self.config_path),
            "-p", str(self.pid_files["parent"]),
            "-r", str(self.pid_files["vrrp"]),
            "-c", str(self.pid_files["check"]),
            "-b", str(self.pid_files["bfd"]),
            "-i", config_id or name,
            *subsystem_args(subsystems),
            *extra_args,
        ]  # fmt: skip
        self.expect = (
            set(expect)
            if expect is not None
            else expected_children(config, subsystems, run_all="--all" in extra_args)
        )
        self.proc: LabProcess | None = None

    # ---- lifecycle

    def start(self, *, wait: bool = True, timeout: float = 15.0) -> Keepalived:
        """Start the daemon; with ``wait``, return once it and its children are running."""
        if self.proc is not None:
            raise KeepalivedError(f"{self.name} was started already")
        for path in self.pid_files.values():
            path.unlink(missing_ok=True)
        self.proc = spawn_in(self.netns, self.argv, log_path=self.log_path)
        if wait:
            self.wait_ready(timeout)
        return self

    def _ready(self) -> bool:
        self._check_running()
        if _live_pid_in(self.pid_files["parent"]) != self.pid:
            return False
        return all(_live_pid_in(self.pid_files[child]) for child in self.expect)

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Wait until the parent and every expected child have written their pid files."""
        wait_for(
            self._ready,
            timeout=timeout,
            message=lambda: f"{self.name} to start {sorted(self.expect)}\n{self.log_tail()}",
        )

    @property
    def pid(self) -> int:
        """The parent process's pid."""
        if self.proc is None:
            raise KeepalivedError(f"{self.name} was not started")
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def _check_running(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise KeepalivedError(
                f"{self.name} exited with {self.proc.returncode}\n{self.log_tail()}"
            )

    def child_pids(self) -> dict[str, int]:
        """Live child processes by subsystem ("vrrp", "check", "bfd"), from their pid files."""
        pids = {}
        for child in SUBSYSTEMS:
            pid = _live_pid_in(self.pid_files[child])
            if pid is not None:
                pids[child] = pid
        return pids

    def processes(self) -> list[int]:
        """Every live process whose command line names this daemon's config file."""
        needle = os.fsencode(self.config_path)
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if needle in args and pid_alive(int(entry.name)):
                found.append(int(entry.name))
        return found

    def signal(self, sig: int, target: str = "parent") -> None:
        """Send ``sig`` to the parent or to one child ("vrrp", "check", "bfd")."""
        pid = self.pid if target == "parent" else self.child_pids().get(target)
        if pid is None:
            raise KeepalivedError(f"{self.name} has no running {target} process")
        os.kill(pid, sig)

    def reload(self, config: str | None = None) -> None:
        """Write a new config (if given) and send SIGHUP, as ``systemctl reload`` does."""
        if config is not None:
            self.config_path.write_text(config)
        self.signal(signal.SIGHUP)

    def kill(self) -> None:
        """SIGKILL the parent and all children at once: a crash (VIPs stay behind)."""
        if self.proc is not None:
            kill_process_group(self.proc, signal.SIGKILL, timeout=5.0)

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop cleanly: SIGTERM to the parent, wait for every process of this daemon.

        The parent stops its children itself (signalling them directly could make it
        respawn them).  After ``timeout`` seconds, whatever is left is SIGKILLed and
        :class:`KeepalivedError` is raised.  Returns the parent's exit code.
        """
        if self.proc is None:
            return None
        proc = self.proc
        deadline = time.monotonic() + timeout
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
        clean = True
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            wait_for(
                lambda: not self.processes(),
                timeout=max(0.0, deadline - time.monotonic()),
                message=f"{self.name}'s children to exit",
            )
        except (subprocess.TimeoutExpired, WaitTimeout):
            clean = False
        if not clean:
            kill_process_group(proc, signal.SIGKILL, timeout=5.0)
            for pid in self.processes():  # anything that left the process group
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not self.processes(), timeout=5.0)
            raise KeepalivedError(
                f"{self.name} did not stop within {timeout:g}s; killed\n{self.log_tail()}"
            )
        return proc.returncode

    def pykad_status(self) -> dict[str, Any]:
        """``pykadctl status --json`` of a pykad daemon: every child's record."""
        done = subprocess.run(
            [PYKADCTL, "-p", str(self.pid_files["parent"]), "status", "--json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        found: dict[str, Any] = json.loads(done.stdout)
        return found

    # ---- the log

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        tail = self.log_text().splitlines()[-lines:]
        return f"--- last lines of {self.log_path}:\n" + "\n".join(tail)

    def log_mark(self) -> int:
        """A position in the log; pass it as ``since`` to look only at later lines."""
        return len(self.log_text())

    def wait_for_log(
        self, pattern: str | re.Pattern[str], timeout: float = 10.0, since: int = 0
    ) -> re.Match[str]:
        """Wait until ``pattern`` (a regex) appears in the log after position ``since``.

        Fails at once, with the log's tail, if keepalived exits first.
        """
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern

        def found() -> re.Match[str] | None:
            exited = self.proc is not None and self.proc.poll() is not None
            m = regex.search(self.log_text(), since)
            if m is None and exited:
                self._check_running()
            return m

        return wait_for(
            found,
            timeout=timeout,
            message=lambda: f"{regex.pattern!r} in {self.name}'s log\n{self.log_tail()}",
        )

    def states(self, instance: str | None = None) -> list[tuple[str, str]]:
        """Every VRRP state change logged so far, as (instance, MASTER|BACKUP|FAULT)."""
        changes = []
        for m in _STATE_RE.finditer(self.log_text()):
            state = m["state"] or m["fault"]
            if instance is None or m["instance"] == instance:
                changes.append((m["instance"], state))
        return changes

    def state(self, instance: str) -> str | None:
        """The last state ``instance`` entered, according to the log."""
        changes = self.states(instance)
        return changes[-1][1] if changes else None

    def wait_for_state(
        self, instance: str, state: str, timeout: float = 10.0, since: int = 0
    ) -> re.Match[str]:
        """Wait until the log says ``instance`` entered ``state`` (after ``since``)."""
        state = state.upper()
        if state not in _STATES:
            raise ValueError(f"state must be one of {_STATES}")
        verb = f"Entering {state} STATE"
        if state == "FAULT":
            verb = "[Ee]ntering FAULT (?:state|STATE)"
        return self.wait_for_log(
            re.compile(rf"\({re.escape(instance)}\):? {verb}"), timeout=timeout, since=since
        )

    def __repr__(self) -> str:
        pid = self.proc.pid if self.proc is not None else None
        return f"<Keepalived {self.name} in {self.netns} pid={pid}>"


class KeepalivedLab(DaemonLab[Keepalived]):
    """Starts keepalived daemons for a test and stops every one of them at teardown."""

    def start(
        self,
        netns: str | tuple[Topology, str],
        config: str,
        *,
        name: str | None = None,
        subsystems: Collection[str] | None = None,
        config_id: str | None = None,
        extra_args: Sequence[str] = (),
        expect: Collection[str] | None = None,
        wait: bool = True,
        timeout: float = 15.0,
        program: Sequence[str] = (KEEPALIVED,),
    ) -> Keepalived:
        """Start keepalived with ``config`` (text) inside ``netns``.

        ``netns`` is a namespace name, or ``(topology, node)``.  ``name`` (default
        ``k1``, ``k2``, ...) names its files and is its default config id (``-i``).
        """
        daemon = self._add(
            Keepalived(
                self.netns_of(netns),
                config,
                self.workdir,
                name=name or f"k{len(self.daemons) + 1}",
                subsystems=subsystems,
                config_id=config_id,
                extra_args=extra_args,
                expect=expect,
                program=program,
            )
        )
        return daemon.start(wait=wait, timeout=timeout)


@pytest.fixture
def keepalived_lab(
    request: pytest.FixtureRequest, netns_lab: Topology, tmp_path: Path
) -> KeepalivedLab:
    """A :class:`KeepalivedLab` for this test; its daemons stop before ``netns_lab`` goes.

    Build the namespaces with ``netns_lab`` and start daemons with
    ``keepalived_lab.start((netns_lab, "A"), config_text)``.
    """
    need_program(KEEPALIVED)
    lab = KeepalivedLab(tmp_path / "keepalived")
    request.addfinalizer(lab.close)
    return lab
