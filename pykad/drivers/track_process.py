"""``vrrp_track_process``: processes followed by kernel process events, not by polling.

keepalived 2.2.7 (``core/track_process.c``) reads /proc once, then listens to the
netlink connector's process events (PROC_EVENT_EXEC, _COMM, _EXIT) and keeps,
per tracker, the set of matching pids. A tracker is up while the number of
matching processes is within ``quorum`` .. ``quorum_max``; ``fork_delay`` delays
reporting up and ``terminate_delay`` delays reporting down (a change back within
the delay cancels it).

Matching, as keepalived does it: the process name is its ``comm`` (15 bytes,
/proc/PID/stat), or with ``full_command`` the first word of its command line;
``param_match`` compares the rest of the command line (NUL-separated words)
with the configured parameters: ``exact`` equal, ``partial`` starting with
them, ``initial`` starting with them where the last may be a prefix of its word;
without parameters and ``param_match``, parameters are not looked at.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import math
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

import trio

from pykad.config.sections._vrrp_model import ParamMatch, TrackProcess
from pykad.vrrp.tracking import Kind, ObjectId, StatusUpdate

log = logging.getLogger("pykad.vrrp")

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_EVENT_EXEC = 0x00000002
PROC_EVENT_COMM = 0x00000200
PROC_EVENT_EXIT = 0x80000000
CLONE_NEWNET = 0x40000000
POLL_S = 1.0
"""How often /proc is read where process events cannot be had."""
_NLMSGHDR = struct.Struct("=IHHII")
_CN_MSG = struct.Struct("=IIIIHH")
_PROC_EVENT = struct.Struct("=IIQ")
_PIDS = struct.Struct("=ii")


@dataclass(frozen=True, slots=True)
class Matcher:
    """How one tracker recognises its processes."""

    name: str
    process: str
    params: bytes | None
    """The configured parameters, NUL-terminated words; None: not compared."""
    match: ParamMatch | None
    full_command: bool

    @classmethod
    def from_config(cls, t: TrackProcess) -> Matcher:
        match = t.param_match or (ParamMatch.EXACT if t.parameters else None)
        params = b"".join(p.encode() + b"\0" for p in t.parameters) if t.parameters else None
        return cls(t.name, t.process, params, match, t.full_command)

    def matches(self, comm: str, cmdline: bytes) -> bool:
        """``comm`` from /proc/PID/stat, ``cmdline`` from /proc/PID/cmdline."""
        first, _, rest = cmdline.partition(b"\0")
        name = first.decode(errors="replace") if self.full_command else comm
        if name != self.process:
            return False
        if self.match is None:
            return True
        want = self.params or b""
        if self.match is ParamMatch.EXACT:
            return rest == want
        if len(rest) < len(want):
            return False
        if self.match is ParamMatch.PARTIAL:
            return rest.startswith(want)
        return len(want) <= 1 or rest.startswith(want[:-1])


def read_process(pid: int) -> tuple[str, bytes] | None:
    """(comm, cmdline) of a live, non-zombie process, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read(512)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read(4096)
    except OSError:
        return None
    start, end = stat.find(b"("), stat.rfind(b")")
    if start < 0 or end < 0 or stat[end + 2 : end + 3] == b"Z":
        return None
    return stat[start + 1 : end].decode(errors="replace"), cmdline


def _ancestors() -> list[int]:
    """Pid 1 and our ancestors, nearest first."""
    chain: list[int] = []
    pid = os.getppid()
    while pid > 1 and len(chain) < 64:
        chain.append(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            pid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return [*chain, 1]


def _listen(sock: socket.socket) -> bool:
    """Ask for process events; False if this namespace has no process connector."""
    op = struct.pack("=I", PROC_CN_MCAST_LISTEN)
    cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(op), 0) + op
    try:
        sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(cn), 3, 0, 0, 0) + cn)
    except OSError:
        return False
    return True


def _connector() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
    sock.bind((0, CN_IDX_PROC))
    return sock


def open_process_events() -> socket.socket | None:
    """A socket that receives process events, or None (then /proc is polled).

    The kernel sends them only to listeners in the initial network namespace; a
    daemon started inside another one (``ip netns exec``) opens its socket in the
    namespace of pid 1 or of the nearest ancestor that has the connector (a
    socket keeps the namespace it was made in), then comes back.
    """
    sock = _connector()
    if _listen(sock):
        return sock
    sock.close()
    try:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    except OSError:
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        for pid in _ancestors():
            try:
                other = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            except OSError:
                continue
            try:
                if os.fstat(other).st_ino == os.fstat(own).st_ino:
                    continue
                if libc.setns(other, CLONE_NEWNET) != 0:
                    continue
                try:
                    sock = _connector()
                finally:
                    if libc.setns(own, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "cannot return to our network namespace")
                if _listen(sock):
                    return sock
                sock.close()
            finally:
                os.close(other)
    finally:
        os.close(own)
    return None


def parse_events(buf: bytes) -> list[tuple[int, int, int]]:
    """(what, pid, tgid) of each process event in one connector read."""
    events = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(buf):
        length = _NLMSGHDR.unpack_from(buf, offset)[0]
        if length < _NLMSGHDR.size:
            break
        body = offset + _NLMSGHDR.size + _CN_MSG.size
        if body + _PROC_EVENT.size + _PIDS.size <= offset + length:
            what = _PROC_EVENT.unpack_from(buf, body)[0]
            pid, tgid = _PIDS.unpack_from(buf, body + _PROC_EVENT.size)
            events.append((what, pid, tgid))
        offset += (length + 3) & ~3
    return events


class ProcessWatcher:
    """Counts the matching processes of each tracker and reports up/down changes."""

    def __init__(self, trackers: Iterable[TrackProcess]) -> None:
        self.trackers = {t.name: t for t in trackers}
        self.matchers = [Matcher.from_config(t) for t in self.trackers.values()]
        self.pids: dict[str, set[int]] = {t: set() for t in self.trackers}
        self.reported: dict[str, bool] = {}
        self._pending: dict[str, tuple[bool, trio.CancelScope]] = {}
        """A delayed report per tracker: the status it will report, and its cancel scope."""

    def _quorum(self, name: str) -> bool:
        t = self.trackers[name]
        return t.quorum <= len(self.pids[name]) <= t.quorum_max

    def _check(self, pid: int) -> None:
        found = read_process(pid)
        for m in self.matchers:
            if found is not None and m.matches(*found):
                self.pids[m.name].add(pid)
            else:
                self.pids[m.name].discard(pid)

    def scan(self) -> list[StatusUpdate]:
        """Read /proc (start-up): every tracker's status now."""
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                self._check(int(entry))
        self.reported = {name: self._quorum(name) for name in self.trackers}
        return [StatusUpdate(ObjectId(Kind.PROCESS, n), up) for n, up in self.reported.items()]

    async def run(self, send: trio.MemorySendChannel[StatusUpdate]) -> None:
        sock = open_process_events()
        if sock is None:
            log.warning("no process events here: polling /proc for track_process every %gs", POLL_S)
            await self._poll(send)
            return
        sock.setblocking(False)
        try:
            async with trio.open_nursery() as nursery:
                while True:
                    await trio.lowlevel.wait_readable(sock)
                    while True:
                        try:
                            data = sock.recv(65536)
                        except BlockingIOError:
                            break
                        except OSError as e:  # ENOBUFS: events lost; read /proc again
                            if e.errno != errno.ENOBUFS:
                                raise
                            self.scan_quietly()
                            continue
                        for what, pid, tgid in parse_events(data):
                            if pid != tgid:
                                continue  # a thread
                            if what in (PROC_EVENT_EXEC, PROC_EVENT_COMM):
                                self._check(pid)
                            elif what == PROC_EVENT_EXIT:
                                for pids in self.pids.values():
                                    pids.discard(pid)
                        self._changes(nursery, send)
        finally:
            sock.close()

    async def _poll(self, send: trio.MemorySendChannel[StatusUpdate]) -> None:
        async with trio.open_nursery() as nursery:
            while True:
                await trio.sleep(POLL_S)
                self.scan_quietly()
                self._changes(nursery, send)

    def scan_quietly(self) -> None:
        for pids in self.pids.values():
            pids.clear()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                self._check(int(entry))

    def _changes(self, nursery: trio.Nursery, send: trio.MemorySendChannel[StatusUpdate]) -> None:
        for name, t in self.trackers.items():
            up = self._quorum(name)
            pending = self._pending.get(name)
            if pending is not None:
                if pending[0] == up:
                    continue  # already on its way
                pending[1].cancel()
                del self._pending[name]
            if up == self.reported.get(name):
                continue
            scope = trio.CancelScope()
            self._pending[name] = (up, scope)
            delay_us = t.fork_delay_us if up else t.terminate_delay_us
            nursery.start_soon(self._report, name, up, delay_us / 1e6, scope, send)

    async def _report(
        self,
        name: str,
        up: bool,
        delay_s: float,
        scope: trio.CancelScope,
        send: trio.MemorySendChannel[StatusUpdate],
    ) -> None:
        with scope:
            if delay_s > 0 and not math.isinf(delay_s):
                await trio.sleep(delay_s)
            self._pending.pop(name, None)
            self.reported[name] = up
            await send.send(StatusUpdate(ObjectId(Kind.PROCESS, name), up))
