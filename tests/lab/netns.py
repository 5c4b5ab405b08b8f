"""The netns lab: throwaway network topologies on the real kernel, always torn down.

This module owns everything a test needs to build and destroy network namespaces:

- :class:`Topology` creates namespaces, veth pairs and a flooding bridge in its own
  "switch" namespace, assigns addresses, runs commands (:meth:`Topology.run`) and
  long-running processes (:meth:`Topology.spawn`) inside a namespace, captures
  traffic with tcpdump (:meth:`Topology.capture`), loads nftables rules for loss and
  partitions (:meth:`Topology.nft`), and tears all of it down in :meth:`Topology.close`.
- Naming: every namespace is called ``pkl-<pid>-<starttime>-<serial>-<node>``.  The
  owner's pid and process start time (base 36) make the name unique between parallel
  runs (pytest-xdist workers, two CI jobs) and let :func:`reap_stale_namespaces`
  remove what a crashed earlier run left behind (owner no longer alive, or its pid
  reused by another process).  Interfaces are created directly inside their
  namespaces (``ip link add ... netns X``), so nothing ever appears in the host's
  namespace and interface names cannot collide; :meth:`Topology.ifname` gives a
  unique name within the 15-character limit for the rare case a name must be global.
- Cleanup happens in three layers: the context manager / pytest fixture finalizer,
  an ``atexit`` hook, and SIGTERM/SIGHUP handlers that turn the signal into
  ``KeyboardInterrupt`` so that pytest unwinds and runs its finalizers.  Anything a
  ``kill -9`` of pytest leaves behind is removed by the reaper on the next run.
- Helpers other lab tests use: :func:`wait_for`, :func:`addresses`, :func:`nft`,
  and the ``netns_lab`` fixture.

The host this runs on has real addresses in 192.0.2.0/24 on its own ``eth0``: this
module never creates or configures anything in the host's namespace.  Only
documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 198.18.0.0/15,
2001:db8::/32) are used inside the namespaces.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Generic, Protocol, Self, TypeVar

import pytest

from lab.need import need_program, need_root
from pykad.tools.pcap import Frame, read_pcap

__all__ = [
    "IFNAMSIZ",
    "Capture",
    "IPInterface",
    "LabCommandError",
    "LabProcess",
    "Topology",
    "WaitTimeout",
    "addresses",
    "cleaning",
    "kill_process_group",
    "list_namespaces",
    "make_netns_name",
    "netns_exec_argv",
    "netns_lab",
    "netns_pids",
    "nft",
    "pid_alive",
    "reap_stale_namespaces",
    "register_cleanup",
    "run_in",
    "spawn_in",
    "unregister_cleanup",
    "wait_for",
]

T = TypeVar("T")
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

NETNS_TAG = "pkl"
"""Every namespace this module creates starts with ``pkl-`` (pykad lab)."""

_NETNS_RE = re.compile(
    rf"^{NETNS_TAG}-(?P<pid>\d+)-(?P<start>[0-9a-z]+)-(?P<serial>[0-9a-z]+)-(?P<node>.+)$"
)
_NODE_RE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}$")
IFNAMSIZ = 15
_SERIAL = itertools.count(1)


# --------------------------------------------------------------------------- waiting


class WaitTimeout(AssertionError):
    """:func:`wait_for` ran out of time (an ``AssertionError`` so pytest shows it plainly)."""


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str | Callable[[], str] | None = None,
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that value.

    Raises :class:`WaitTimeout` after ``timeout`` seconds (the predicate is always
    called at least once, and once more at the deadline).  Exceptions raised by the
    predicate propagate at once, which lets it fail fast (say, when a daemon exited).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            what = message() if callable(message) else message
            name = getattr(predicate, "__name__", repr(predicate))
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what or name}")
        time.sleep(min(interval, remaining))


# --------------------------------------------------------------------------- cleanup registry


class _Closable(Protocol):
    def close(self) -> None: ...


_registry_lock = threading.RLock()
_registry: dict[int, _Closable] = {}
_cleanup_depth = 0
_pending_signal: int | None = None
_exiting = False
_signals_installed = False


def register_cleanup(obj: _Closable) -> None:
    """Make sure ``obj.close()`` runs at interpreter exit or on SIGTERM/SIGHUP.

    Objects are closed in reverse order of registration (daemons before the
    namespaces they run in).  ``close`` must be idempotent and should call
    :func:`unregister_cleanup` when done.
    """
    with _registry_lock:
        _registry[id(obj)] = obj
    _install_signal_handlers()


def unregister_cleanup(obj: _Closable) -> None:
    with _registry_lock:
        _registry.pop(id(obj), None)


@contextlib.contextmanager
def cleaning() -> Iterator[None]:
    """Mark a cleanup in progress: a SIGTERM or SIGHUP arriving now waits until it is done.

    The deferred signal is raised as ``KeyboardInterrupt`` when the outermost cleanup
    finishes (not at interpreter exit, where everything is being cleaned anyway).
    """
    global _cleanup_depth, _pending_signal
    with _registry_lock:
        _cleanup_depth += 1
    try:
        yield
    finally:
        with _registry_lock:
            _cleanup_depth -= 1
            signum = _pending_signal if _cleanup_depth == 0 and not _exiting else None
            if signum is not None:
                _pending_signal = None
        if signum is not None:
            raise KeyboardInterrupt(f"lab: received {signal.Signals(signum).name}")


def _cleanup_all() -> None:
    global _exiting
    with _registry_lock:
        _exiting = True
        objs = list(_registry.values())
    for obj in reversed(objs):
        try:
            obj.close()
        except BaseException as exc:  # keep going: the others must be cleaned too
            print(f"lab cleanup of {obj!r} failed: {exc!r}", file=sys.stderr)


atexit.register(_cleanup_all)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _pending_signal
    if _cleanup_depth or _exiting:
        _pending_signal = signum  # a cleanup is running: let it finish first
        return
    raise KeyboardInterrupt(f"lab: received {signal.Signals(signum).name}")


def _install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so pytest unwinds and runs finalizers.

    Only done once, only from the main thread, and only where the signal still has
    its default disposition (a handler someone else installed is left alone).
    """
    global _signals_installed
    if _signals_installed or threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _on_signal)
    _signals_installed = True


# --------------------------------------------------------------------------- processes and commands


class LabCommandError(subprocess.CalledProcessError):
    """A lab command failed; unlike its base class, its message shows the output."""

    def __str__(self) -> str:
        text = super().__str__()
        for label, data in (("stdout", self.stdout), ("stderr", self.stderr)):
            if data:
                shown = data if isinstance(data, str) else data.decode(errors="replace")
                text += f"\n{label}: {shown.strip()}"
        return text


def _run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float | None = 60.0,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env=dict(env) if env is not None else None,
        check=False,
    )
    if check and proc.returncode != 0:
        raise LabCommandError(proc.returncode, proc.args, proc.stdout, proc.stderr)
    return proc


def netns_exec_argv(netns: str | None, argv: Sequence[str]) -> list[str]:
    """The argv that runs ``argv`` inside ``netns`` (or as is, for ``None``).

    ``ip netns exec`` execs the program, so the pid of the resulting process is the
    program's own pid.
    """
    if not argv:
        raise ValueError("empty command")
    if netns is None:
        return [str(a) for a in argv]
    return ["ip", "netns", "exec", netns, *(str(a) for a in argv)]


def run_in(
    netns: str | None,
    *argv: str | os.PathLike[str],
    check: bool = True,
    timeout: float | None = 60.0,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion inside the namespace called ``netns`` (text output)."""
    return _run(
        netns_exec_argv(netns, [os.fspath(a) for a in argv]),
        check=check,
        timeout=timeout,
        input=input,
        env=env,
    )


def pid_alive(pid: int) -> bool:
    """True if process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state not in (b"Z", b"X")


def _process_group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        # fields[0] is the state, fields[2] the process group
        if len(fields) > 2 and fields[0] not in (b"Z", b"X") and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def kill_process_group(
    proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 5.0
) -> int | None:
    """Stop a process started with ``start_new_session=True`` and everything in its group.

    Sends ``sig`` to the group, waits up to ``timeout`` seconds for the leader and
    every member to exit, then SIGKILLs whatever is left.  Returns the leader's exit
    code (negative for a signal, as :class:`subprocess.Popen` reports it).
    """
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if proc.poll() is None or _process_group_members(pgid):
            os.killpg(pgid, sig)
    deadline = time.monotonic() + timeout
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    with contextlib.suppress(WaitTimeout):
        wait_for(
            lambda: not _process_group_members(pgid),
            timeout=max(0.0, deadline - time.monotonic()),
        )
    if proc.poll() is None or _process_group_members(pgid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        proc.wait(timeout=10)
        wait_for(
            lambda: not _process_group_members(pgid),
            timeout=10,
            message=f"process group {pgid} to exit after SIGKILL",
        )
    return proc.returncode


class LabProcess(subprocess.Popen[bytes]):
    """A process started by :meth:`Topology.spawn`: a Popen that knows its log file."""

    log_path: Path | None = None
    netns: str | None = None

    def log_text(self) -> str:
        """Everything the process wrote so far (stdout and stderr, if they went to the log)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")


def spawn_in(
    netns: str | None,
    argv: Sequence[str | os.PathLike[str]],
    *,
    log_path: Path | None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
) -> LabProcess:
    """Start ``argv`` inside ``netns`` in a new session (its own process group).

    Unless ``stdout``/``stderr`` are given, both are appended to ``log_path``.  The
    caller owns the process: stop it with :func:`kill_process_group`.
    """
    full = netns_exec_argv(netns, [os.fspath(a) for a in argv])
    log_file: IO[bytes] | None = None
    if stdout is None and stderr is None and log_path is not None:
        log_file = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        stdout, stderr = log_file, subprocess.STDOUT
    try:
        proc = LabProcess(
            full,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        if log_file is not None:
            log_file.close()
    proc.log_path = log_path if log_file is not None else None
    proc.netns = netns
    return proc


# --------------------------------------------------------------------------- namespaces


def _proc_starttime(pid: int) -> int | None:
    """A process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[19])


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def make_netns_name(pid: int, starttime: int, serial: str, node: str) -> str:
    """The namespace name for ``node`` of the topology ``serial`` owned by process ``pid``."""
    return f"{NETNS_TAG}-{pid}-{_base36(starttime)}-{serial}-{node}"


def list_namespaces() -> list[str]:
    """Names of all named network namespaces (``ip netns list``)."""
    out = _run(["ip", "-j", "netns", "list"]).stdout.strip()
    if not out:
        return []
    data = json.loads(out)
    return [entry["name"] for entry in data if isinstance(entry, dict) and "name" in entry]


def netns_pids(netns: str) -> list[int]:
    """Pids of the processes running inside ``netns`` (``ip netns pids``)."""
    proc = _run(["ip", "netns", "pids", netns], check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def _owner_alive(pid: int, start36: str) -> bool:
    start = _proc_starttime(pid)
    return start is not None and _base36(start) == start36 and pid_alive(pid)


def _kill_netns_processes(netns: str, timeout: float = 5.0) -> None:
    """SIGKILL every process inside ``netns`` and wait until they are gone."""
    pids = netns_pids(netns)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if pids:
        wait_for(
            lambda: not any(pid_alive(p) for p in pids),
            timeout=timeout,
            message=f"processes {pids} in {netns} to die",
        )


def _delete_netns(netns: str) -> None:
    _kill_netns_processes(netns)
    proc = _run(["ip", "netns", "delete", netns], check=False)
    if proc.returncode != 0 and netns in list_namespaces():
        raise LabCommandError(proc.returncode, proc.args, proc.stdout, proc.stderr)


def reap_stale_namespaces() -> list[str]:
    """Delete lab namespaces whose owner process is gone; return their names.

    A namespace is stale when the pid in its name no longer exists, or now belongs to
    a process with another start time (pid reuse).  Processes still running inside a
    stale namespace are killed first.  Namespaces of live runs are never touched.
    """
    reaped = []
    for name in list_namespaces():
        m = _NETNS_RE.match(name)
        if m is None or _owner_alive(int(m["pid"]), m["start"]):
            continue
        try:
            _delete_netns(name)
        except (LabCommandError, WaitTimeout):
            if name in list_namespaces():  # another run may have reaped it meanwhile
                raise
        reaped.append(name)
    return reaped


# --------------------------------------------------------------------------- addresses and nftables


def addresses(
    netns: str | None, ifname: str | None, family: int | None = None
) -> list[IPInterface]:
    """The addresses on ``ifname`` (None: on every interface) inside ``netns``.

    ``family`` may be 4 or 6 to select one family.  Raises :class:`LabCommandError`
    if the interface does not exist.
    """
    argv = ["ip", "-j"]
    if netns is not None:
        argv += ["-n", netns]
    argv += ["addr", "show", *(["dev", ifname] if ifname is not None else [])]
    data = json.loads(_run(argv).stdout or "[]")
    result: list[IPInterface] = []
    for link in data:
        for info in link.get("addr_info", []):
            if "local" not in info:
                continue
            iface = ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}")
            if family is None or iface.version == family:
                result.append(iface)
    return result


def nft(netns: str, ruleset: str) -> None:
    """Load nftables rules (``nft -f -`` syntax) inside ``netns``.

    For example, to drop VRRP arriving at a router::

        nft(ns, '''
            table inet lab {
                chain in { type filter hook input priority -300; ip protocol vrrp drop; }
            }
        ''')

    Random loss: ``numgen random mod 100 < 20 drop``.  Namespaces start with an
    empty ruleset and take it with them when deleted.
    """
    run_in(netns, "nft", "-f", "-", input=ruleset)


class Capture:
    """tcpdump running inside a namespace, writing a pcap file (see :meth:`Topology.capture`)."""

    def __init__(
        self,
        netns: str,
        ifname: str,
        path: Path,
        bpf_filter: str = "",
        *,
        extra_args: Sequence[str] = (),
        ready_timeout: float = 10.0,
    ) -> None:
        self.netns = netns
        self.ifname = ifname
        self.path = path
        self.filter = bpf_filter
        self.log_path = path.with_suffix(".tcpdump.log")
        # -Z root: do not drop privileges, so tcpdump can write into pytest's 0700 tmp dirs.
        argv = ["tcpdump", "-i", ifname, "-U", "--immediate-mode", "-n", "-Z", "root"]
        argv += ["-w", str(path)]
        argv += list(extra_args)
        if bpf_filter:
            argv.append(bpf_filter)
        self.proc = spawn_in(netns, argv, log_path=self.log_path)
        try:
            wait_for(self._listening, timeout=ready_timeout, message=self._describe)
        except BaseException:
            kill_process_group(self.proc, signal.SIGKILL, timeout=1.0)
            raise

    def _log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _describe(self) -> str:
        return f"tcpdump on {self.netns}/{self.ifname} to listen; its output: {self._log()!r}"

    def _listening(self) -> bool:
        if "listening on" in self._log():
            return True
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"tcpdump exited with {self.proc.returncode} before listening: {self._log()}"
            )
        return False

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> Path:
        """Stop tcpdump cleanly (SIGINT, so it flushes and closes the file); return the path.

        Frames still in flight when the signal arrives may be lost: wait for the
        frames a test needs (``wait_for(lambda: ... capture.packets() ...)``) first.
        """
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_process_group(self.proc, signal.SIGKILL, timeout=1.0)
        return self.path

    close = stop

    def packets(self) -> list[Frame]:
        """The frames written so far (``-U`` makes tcpdump write each one at once)."""
        return list(read_pcap(self.path, live=True)) if self.path.exists() else []

    def text(self, *extra_args: str) -> list[str]:
        """The capture decoded by ``tcpdump -r FILE -n -tt`` (one line per packet)."""
        out = _run(["tcpdump", "-r", str(self.path), "-n", "-tt", *extra_args]).stdout
        return out.splitlines()

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Capture {self.netns}/{self.ifname} -> {self.path}>"


# --------------------------------------------------------------------------- topology


class Closing:
    """``with obj:`` closes ``obj`` on the way out, whatever happened."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


class _Stoppable(Protocol):
    def stop(self, timeout: float = ...) -> int | None: ...


DaemonT = TypeVar("DaemonT", bound=_Stoppable)


class DaemonLab(Closing, Generic[DaemonT]):
    """Daemons a test started, each in a namespace, all stopped at teardown.

    Registers with the lab's atexit/signal cleanup; ``close`` stops the daemons in
    reverse order (each its own way: SIGTERM, then SIGKILL) and raises the first
    failure at the end.  Subclasses start daemons and ``_add`` them.
    """

    stop_timeout = 10.0

    def __init__(self, workdir: str | os.PathLike[str]) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.daemons: list[DaemonT] = []
        self._closed = False
        register_cleanup(self)

    @staticmethod
    def netns_of(netns: str | tuple[Topology, str]) -> str:
        """A namespace name, from a name or ``(topology, node)``."""
        if isinstance(netns, tuple):
            topo, node = netns
            return topo.netns(node)
        return netns

    def _add(self, daemon: DaemonT) -> DaemonT:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} already closed")
        self.daemons.append(daemon)
        return daemon

    def close(self) -> None:
        if self._closed:
            return
        errors: list[BaseException] = []
        with cleaning():
            for daemon in reversed(self.daemons):
                try:
                    daemon.stop(timeout=self.stop_timeout)
                except BaseException as exc:
                    errors.append(exc)
            self._closed = True
            unregister_cleanup(self)
        if errors:
            raise errors[0]

    def __iter__(self) -> Iterator[DaemonT]:
        return iter(self.daemons)


class Topology(Closing):
    """A set of namespaces wired together, owned by one test, always torn down.

    Nodes are addressed by short logical names ("A", "sw"); :meth:`netns` gives the
    real namespace name (for ``ip -n``, ``ip netns exec`` or another lab).  Methods
    that take a node also accept the real name.

    Typical use, the README's failover LAN::

        with Topology(tmp_path) as topo:
            topo.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24", "C": "192.0.2.100/24"})
            topo.run("A", "ping", "-c1", "192.0.2.2")
    """

    def __init__(
        self,
        workdir: str | os.PathLike[str] | None = None,
        *,
        ipv6: bool = False,
        reap: bool = True,
    ) -> None:
        pid = os.getpid()
        starttime = _proc_starttime(pid) or 0
        self.serial = f"{_base36(next(_SERIAL))}{secrets.token_hex(2)}"
        self.prefix = make_netns_name(pid, starttime, self.serial, "")
        """Every namespace of this topology is called ``prefix + node``."""
        self.tag = f"{_base36(pid)}{self.serial}"[-10:]
        """A short unique tag for names that must be global (see :meth:`ifname`)."""
        self.ipv6 = ipv6
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="pykad-netns-") if workdir is None else workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._nodes: dict[str, str] = {}
        self._bridges: dict[str, str] = {}
        self._procs: list[LabProcess] = []
        self._captures: list[Capture] = []
        self._counter = itertools.count(1)
        self._closed = False
        if reap:
            reap_stale_namespaces()
        register_cleanup(self)

    # ---- names

    def netns(self, node: str) -> str:
        """The namespace name of ``node`` (a logical name, or already a namespace name)."""
        if node in self._nodes:
            return self._nodes[node]
        if node in self._nodes.values():
            return node
        raise KeyError(f"no node {node!r} in this topology (have {sorted(self._nodes)})")

    @property
    def nodes(self) -> dict[str, str]:
        """Logical node name -> namespace name, in creation order."""
        return dict(self._nodes)

    def ifname(self, suffix: str = "") -> str:
        """A globally unique interface name (at most 15 characters) ending in ``suffix``."""
        name = f"{self.tag}{_base36(next(self._counter))}{suffix}"
        if len(name) > IFNAMSIZ:
            raise ValueError(f"interface name {name!r} longer than {IFNAMSIZ} characters")
        return name

    # ---- building

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("topology already torn down")

    def add_node(self, node: str, *, ipv6: bool | None = None) -> str:
        """Create a namespace for ``node`` (loopback up; IPv6 off unless asked)."""
        self._check_open()
        if not _NODE_RE.match(node):
            raise ValueError(f"bad node name {node!r}")
        if node in self._nodes:
            raise ValueError(f"node {node!r} exists already")
        name = self.prefix + node
        self._nodes[node] = name  # record first: a half-made namespace is still removed
        _run(["ip", "netns", "add", name])
        if not (self.ipv6 if ipv6 is None else ipv6):
            self.sysctl(
                node,
                {
                    "net.ipv6.conf.all.disable_ipv6": "1",
                    "net.ipv6.conf.default.disable_ipv6": "1",
                },
            )
        self.ip(node, "link", "set", "lo", "up")
        return name

    def add_switch(self, node: str = "sw", bridge: str = "br0") -> str:
        """Create a namespace holding a bridge that floods everything.

        STP off, no forward delay, no multicast snooping, and ageing time 0 so that
        it learns no MAC addresses and floods unicast too: an observer on the bridge
        sees all traffic between the other ports.
        """
        name = self.add_node(node)
        self.ip(
            node,
            "link", "add", bridge, "type", "bridge",
            "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0", "ageing_time", "0",
        )  # fmt: skip
        self.ip(node, "link", "set", bridge, "up")
        self._bridges[node] = bridge
        return name

    def add_veth(self, node_a: str, if_a: str, node_b: str, if_b: str, *, up: bool = True) -> None:
        """A veth pair with one end in each namespace (created in place, never on the host)."""
        self._check_open()
        ns_a, ns_b = self.netns(node_a), self.netns(node_b)
        for name in (if_a, if_b):
            if not 0 < len(name) <= IFNAMSIZ:
                raise ValueError(f"bad interface name {name!r}")
        _run(
            ["ip", "link", "add", "name", if_a, "netns", ns_a,
             "type", "veth", "peer", "name", if_b, "netns", ns_b]
        )  # fmt: skip
        if up:
            self.link_set(node_a, if_a, up=True)
            self.link_set(node_b, if_b, up=True)

    def connect(
        self,
        node: str,
        switch: str = "sw",
        *,
        ifname: str = "eth0",
        addrs: Iterable[str] = (),
        port: str | None = None,
        mac: str | None = None,
    ) -> str:
        """Plug ``node``'s ``ifname`` into ``switch``'s bridge; return the bridge port name."""
        if switch not in self._bridges:
            raise KeyError(f"{switch!r} is not a switch of this topology")
        port = port or f"p{node}-{ifname}"[:IFNAMSIZ]
        self.add_veth(node, ifname, switch, port, up=False)
        if mac is not None:
            self.ip(node, "link", "set", ifname, "address", mac)
        self.ip(switch, "link", "set", port, "master", self._bridges[switch])
        self.link_set(switch, port, up=True)
        for addr in addrs:
            self.add_address(node, ifname, addr)
        self.link_set(node, ifname, up=True)
        return port

    def lan(
        self,
        hosts: Mapping[str, str | Sequence[str]],
        *,
        switch: str = "sw",
        ifname: str = "eth0",
    ) -> None:
        """A switch namespace plus one namespace per host, each host's ``ifname`` on the bridge.

        ``hosts`` maps node names to an address ("192.0.2.1/24") or a list of them.
        """
        if switch not in self._bridges:
            self.add_switch(switch)
        for node, addrs in hosts.items():
            if node not in self._nodes:
                self.add_node(node)
            self.connect(
                node, switch, ifname=ifname, addrs=[addrs] if isinstance(addrs, str) else addrs
            )

    def add_address(self, node: str, ifname: str, cidr: str) -> None:
        """``ip addr add CIDR dev IFNAME`` inside ``node`` (IPv6 addresses skip DAD)."""
        extra = ["nodad"] if ipaddress.ip_interface(cidr).version == 6 else []
        self.ip(node, "addr", "add", cidr, "dev", ifname, *extra)

    def link_set(self, node: str, ifname: str, *, up: bool) -> None:
        """Bring a link up or down (``ip -n NS link set IF up|down``): also a fault."""
        self.ip(node, "link", "set", ifname, "up" if up else "down")

    def sysctl(self, node: str, settings: Mapping[str, str]) -> None:
        """Set per-namespace sysctls (net.*) inside ``node``."""
        self.run(node, "sysctl", "-q", "-w", *(f"{k}={v}" for k, v in settings.items()))

    # ---- running things

    def ip(self, node: str, *args: str) -> subprocess.CompletedProcess[str]:
        """``ip -n NS ARGS...`` (raises :class:`LabCommandError` on failure)."""
        return _run(["ip", "-n", self.netns(node), *args])

    def run(
        self,
        node: str,
        *argv: str | os.PathLike[str],
        check: bool = True,
        timeout: float | None = 60.0,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command to completion inside ``node``; output is captured as text."""
        self._check_open()
        return run_in(self.netns(node), *argv, check=check, timeout=timeout, input=input, env=env)

    def spawn(
        self,
        node: str,
        *argv: str | os.PathLike[str],
        log_path: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
    ) -> LabProcess:
        """Start a long-running process inside ``node``, in its own process group.

        Unless ``stdout``/``stderr`` are given, both go to ``log_path`` (by default a
        file in the work directory; see ``proc.log_path``).  The process is stopped
        (its whole group: SIGTERM, then SIGKILL) when the topology is torn down; stop
        it earlier with :meth:`stop`.
        """
        self._check_open()
        ns = self.netns(node)
        if log_path is None and stdout is None and stderr is None:
            base = Path(os.fspath(argv[0])).name if argv else "proc"
            log_path = self.workdir / f"{node}-{base}-{next(self._counter)}.log"
        proc = spawn_in(
            ns,
            argv,
            log_path=Path(log_path) if log_path is not None else None,
            env=env,
            cwd=Path(cwd) if cwd is not None else None,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
        )
        self._procs.append(proc)
        return proc

    def stop(
        self, proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 5.0
    ) -> int | None:
        """Stop a spawned process and its group (``sig``, then SIGKILL after ``timeout``)."""
        return kill_process_group(proc, sig, timeout)

    def pids(self, node: str) -> list[int]:
        """Pids of all processes inside ``node``."""
        return netns_pids(self.netns(node))

    def capture(
        self,
        node: str,
        ifname: str = "eth0",
        bpf_filter: str = "",
        *,
        name: str | None = None,
        extra_args: Sequence[str] = (),
        ready_timeout: float = 10.0,
    ) -> Capture:
        """Start tcpdump on ``node``'s ``ifname`` and return once it is really listening.

        Writes a pcap file in the work directory (packet-buffered, ``-U``).  Stop it
        with ``capture.stop()`` (SIGINT; returns the path) or use it as a context
        manager; it is stopped at teardown otherwise.
        """
        self._check_open()
        need_program("tcpdump")
        base = name or f"{node}-{ifname}-{next(self._counter)}"
        cap = Capture(
            self.netns(node),
            ifname,
            self.workdir / f"{base}.pcap",
            bpf_filter,
            extra_args=extra_args,
            ready_timeout=ready_timeout,
        )
        self._captures.append(cap)
        return cap

    def addresses(
        self, node: str, ifname: str | None, family: int | None = None
    ) -> list[IPInterface]:
        """The addresses on ``ifname`` inside ``node`` (see :func:`addresses`)."""
        return addresses(self.netns(node), ifname, family)

    def nft(self, node: str, ruleset: str) -> None:
        """Load nftables rules inside ``node`` (see :func:`nft`)."""
        nft(self.netns(node), ruleset)

    def exists(self) -> dict[str, bool]:
        """For each node, whether its namespace currently exists."""
        present = set(list_namespaces())
        return {node: name in present for node, name in self._nodes.items()}

    # ---- teardown

    def close(self) -> None:
        """Tear everything down: captures, processes, namespaces (idempotent).

        Every step runs even if an earlier one failed; the first error is raised at
        the end so that a broken teardown fails the test loudly.
        """
        if self._closed:
            return
        errors: list[BaseException] = []
        with cleaning():
            for cap in self._captures:
                try:
                    cap.stop(timeout=3.0)
                except BaseException as exc:
                    errors.append(exc)
            for proc in reversed(self._procs):
                try:
                    kill_process_group(proc, signal.SIGTERM, timeout=3.0)
                except BaseException as exc:
                    errors.append(exc)
            present = set(list_namespaces())
            for name in reversed(list(self._nodes.values())):
                if name not in present:
                    continue
                try:
                    _delete_netns(name)
                except BaseException as exc:
                    errors.append(exc)
            self._closed = True
            unregister_cleanup(self)
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            raise errors[0]

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Topology {self.prefix}* nodes={sorted(self._nodes)} {state}>"


# --------------------------------------------------------------------------- pytest fixture


@pytest.fixture
def netns_lab(request: pytest.FixtureRequest, tmp_path: Path) -> Topology:
    """An empty :class:`Topology` for this test, torn down after it (also on failure).

    Needs root and ``ip``; build the nodes in the test (``netns_lab.lan({...})``).
    Captures and process logs land in ``tmp_path / "netns"``.
    """
    need_root()
    need_program("ip")
    topo = Topology(tmp_path / "netns")
    request.addfinalizer(topo.close)
    return topo
