"""BFD peers for interop tests: FRR's bfdd and BIRD's BFD as live daemons in namespaces.

This module owns running the two third-party BFD implementations for tests:

- :class:`BfdPeer` is one session as seen from the daemon's side (its peer's address,
  its own address, timers, ``passive``, ``multihop``); :meth:`BfdPeer.mirror` gives
  the other side, and :func:`keepalived_bfd_instance` writes that side as a keepalived
  ``bfd_instance`` block.
- :class:`Bfdd` (FRR 8.4.4's bfdd, alone, without zebra) and :class:`Bird` (BIRD
  2.0.12's ``protocol bfd``) are one daemon inside one namespace with one or more
  sessions and its own files.  ``start()`` returns once the daemon answers queries and
  lists every configured session; :meth:`BfdDaemon.sessions` gives
  ``{peer address: state}`` with the states normalized to ``Up``, ``Down``, ``Init``
  and ``AdminDown``; :meth:`BfdDaemon.wait_for_state` polls until a session reaches
  a state and returns how long that took; ``stop()`` sends SIGTERM and waits for the
  process group (SIGKILL after a timeout).
- :class:`BfdPeersLab` starts any number of them and stops all of them at teardown,
  also when the test failed or was interrupted (it registers with the netns lab's
  atexit/signal cleanup too).  The ``bfd_peers_lab`` fixture hands one to a test.

What the two daemons need and do here (measured, not guessed):

- bfdd runs in the foreground (no ``-d``) as ``bfdd -f CONF -i PID --vty_socket DIR
  -z DIR/zserv.api --bfdctl DIR/bfdd.sock -u frr -g frr -P 0 --log stdout``.  It must
  run as the ``frr`` user: with ``-u root -g root`` it exits at once ("privs_init:
  user(root) is not part of vty group specified(frrvty)").  As ``frr`` it cannot enter
  pytest's 0700 tmp dirs, so its config, pid file and sockets live in a private
  ``/tmp/pykad-bfdd-*`` directory owned by frr (also short enough for a unix socket
  path); the log (its stdout) and a copy of the config go to the work directory.
  ``-P 0`` turns off its TCP vty (port 2617).  Without zebra it logs nothing about
  the missing ``zserv.api`` and its sessions work, as long as no peer names an
  interface.  While it runs FRR keeps ``/var/tmp/frr/bfdd.PID/logbuf.PID`` (a crash
  log buffer); a clean exit removes it, :meth:`Bfdd.stop` also after a SIGKILL.
  It answers, with every session listed, 30-40 ms after it is spawned.
  ``log timestamp precision 3`` and ``debug bfd peer`` put millisecond
  ``state-change: [mhop:no peer:A local:B vrf:default] init -> up`` lines in its log.
- bfdd is queried over its vty socket (``DIR/bfdd.vty``) directly: send
  ``enable\\0`` then ``show bfd peers json\\0``; each reply ends with three NULs and
  a status byte.  That takes ~0.5 ms where ``vtysh --vty_socket DIR -d bfdd -c ...``
  (which also works against bfdd alone) takes 20 ms warm, 140 ms cold.  bfdd's JSON
  states are ``up``, ``down``, ``init`` and ``shutdown`` (AdminDown).
- bfdd's defaults are 300 ms receive/transmit x 3 (:class:`BfdPeer`'s defaults too;
  they are always written out, since keepalived's are 10 ms x 5 and BIRD's differ
  again).  Echo mode is off, but bfdd still advertises a Required Min Echo RX
  Interval of 50 ms (keepalived and BIRD ignore it).  Until a session is Up every
  side sends once a second (RFC 5880 slow start; keepalived's ``idle_tx`` 1000 ms),
  so a session takes ~1-2 s to come Up whatever its timers; then a poll sequence
  moves both sides to the configured timers.
- bfdd's multihop sessions (port 4784) by default drop packets whose TTL is below
  254 ("exceeded max hop count (expected 254, got 64)"); BIRD sends multihop packets
  with TTL 64, so this module configures ``minimum-ttl 1`` on multihop peers.
- BIRD runs as ``bird -f -c CONF -s DIR/bird.ctl -P DIR/bird.pid`` (as root; ``log
  stderr all`` sends its log to the work directory) and is queried with ``birdc -s
  DIR/bird.ctl show bfd sessions`` (a few ms; states ``AdminDown``, ``Down``,
  ``Init``, ``Up``; interface ``---`` for multihop).  It answers 10-20 ms after it is
  spawned.  ``debug { states, events }`` logs ``Session to A changed state from Down
  to Up`` (ms timestamps).  It needs ``router id`` (set from the first IPv4 local address) and
  ``protocol device`` (to know the interfaces, without which a direct neighbor has no
  session: "Waiting for ADDR to become my neighbor" until ADDR is on a connected
  subnet).  BIRD 2.0.12 takes session options per interface pattern (``interface
  "*" {...}``) and one ``multihop {...}`` block, not per neighbor (``neighbor ADDR
  local ADDR [multihop yes];`` has no options), so all direct peers of one
  :class:`Bird` must share timers and ``passive``, and so must its multihop peers.
- BIRD sends its first packet at once when started and then idles at 1 s (its ``idle
  tx interval``) until Up: with a peer that answers at once (a running bfdd) the
  session is Up within milliseconds; against a keepalived started later, after up to
  ~1 s.
- On SIGTERM neither daemon tells its peers (no Down, no AdminDown); nor does
  keepalived.  Their peers find out by their own timer ("Control Detection Time
  Expired").  bfdd exits within ~30 ms, BIRD within ~5 ms.
- keepalived 2.2.7 logs ``(NAME) Entering Up state`` and ``(NAME) Entering Down
  state (Local diagnostic - ..., Remote diagnostic - ...)``; it runs BFD with ``-P``
  (subsystems ``{"vrrp", "bfd"}``) even with no vrrp_instance in its config (then
  only the BFD child starts).  It has no multihop BFD: it only uses port 3784.
- Timings against keepalived (peer started first; tests/interop/test_bfd_peers_lab.py,
  three runs): Up 1.6-1.8 s after keepalived is spawned with bfdd (bfdd answers
  keepalived's first packet with Init, then both wait out their 1 s slow-start
  interval), 0.8-0.9 s with BIRD; again Up 0.8-1.7 s after a drop is lifted.  When
  the peer stops hearing keepalived (nftables drop) it goes Down after 22-34 ms at
  10 ms x 3 and ~0.69 s at 300 ms x 3 and tells keepalived, which logs "Neighbor
  Signaled Session Down" at once; when keepalived stops, the peer goes Down after
  23-31 ms and ~0.89 s.

None of these daemons is ever run in the host's namespace by this module: the host
has real addresses in 192.0.2.0/24 on its own ``eth0``.
"""

from __future__ import annotations

import grp
import ipaddress
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import pytest

from lab.need import need_program
from lab.netns import (
    DaemonLab,
    LabProcess,
    Topology,
    cleaning,
    kill_process_group,
    pid_alive,
    spawn_in,
    wait_for,
)

__all__ = [
    "BFDD",
    "BIRD",
    "BIRDC",
    "FRR_STATE_DIR",
    "FRR_USER",
    "STATES",
    "BfdDaemon",
    "BfdPeer",
    "BfdPeerError",
    "BfdPeersLab",
    "Bfdd",
    "Bird",
    "bfd_peers_lab",
    "keepalived_bfd_instance",
]

BFDD = "/usr/lib/frr/bfdd"
"""FRR's bfdd (not on PATH: Debian keeps FRR's daemons in its lib folder)."""
BIRD = "bird"
BIRDC = "birdc"
FRR_STATE_DIR = Path("/var/tmp/frr")
"""Where every FRR daemon keeps ``DAEMON.PID/logbuf.PID`` while it runs."""
FRR_USER = "frr"
"""The user and group bfdd runs as (it refuses root: root is not in ``frrvty``)."""

STATES: tuple[str, ...] = ("AdminDown", "Down", "Init", "Up")
"""BFD session states (RFC 5880), as :meth:`BfdDaemon.sessions` spells them."""

D = TypeVar("D", bound="BfdDaemon")

_BFDD_STATES = {"up": "Up", "down": "Down", "init": "Init", "shutdown": "AdminDown"}


class BfdPeerError(RuntimeError):
    """A BFD daemon did not start, died, or did not answer."""


@dataclass(frozen=True)
class BfdPeer:
    """One BFD session as the daemon that runs it sees it.

    ``peer`` is the other side's address and ``local`` this side's (both required:
    bfdd binds its session socket to ``local``).  Timers are in milliseconds.
    """

    peer: str
    local: str
    min_rx_ms: int = 300
    min_tx_ms: int = 300
    multiplier: int = 3
    passive: bool = False
    multihop: bool = False
    auth: tuple[str, int, str] | None = None
    """(type, key id, secret); types as pykad's ``pykad_auth`` names them (BIRD only)."""

    def __post_init__(self) -> None:
        peer, local = ipaddress.ip_address(self.peer), ipaddress.ip_address(self.local)
        if peer.version != local.version:
            raise ValueError(f"peer {self.peer} and local {self.local} differ in family")
        if self.min_rx_ms <= 0 or self.min_tx_ms <= 0:
            raise ValueError("BFD intervals must be positive")
        if not 1 <= self.multiplier <= 255:
            raise ValueError(f"bad detect multiplier {self.multiplier}")

    def mirror(self, *, passive: bool = False) -> BfdPeer:
        """The same session seen from the other side (active unless ``passive``)."""
        return replace(self, peer=self.local, local=self.peer, passive=passive)

    @property
    def options(self) -> tuple[int, int, int, bool, tuple[str, int, str] | None]:
        """What BIRD configures per interface pattern, not per neighbor."""
        return (self.min_rx_ms, self.min_tx_ms, self.multiplier, self.passive, self.auth)


def keepalived_bfd_instance(name: str, peer: BfdPeer) -> str:
    """A keepalived ``bfd_instance`` block for ``peer`` (seen from keepalived's side).

    keepalived 2.2.7 has no multihop BFD (it only listens on and sends to port 3784;
    ``max_hops`` just relaxes its TTL check), so a multihop ``peer`` is refused.
    """
    if peer.multihop:
        raise ValueError("keepalived 2.2.7 has no multihop BFD (port 4784)")
    lines = [
        f"bfd_instance {name} {{",
        f"    neighbor_ip {peer.peer}",
        f"    source_ip {peer.local}",
        f"    min_rx {peer.min_rx_ms}",
        f"    min_tx {peer.min_tx_ms}",
        f"    multiplier {peer.multiplier}",
    ]
    if peer.passive:
        lines.append("    passive")
    return "\n".join([*lines, "}"]) + "\n"


def _live_pid_in(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip() or "0")
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and pid_alive(pid) else None


class BfdDaemon:
    """One BFD daemon inside one namespace, with its own files; see :class:`Bfdd`, :class:`Bird`.

    ``workdir`` holds its log (``NAME.log``) and a copy of its config (``NAME.conf``);
    sockets and the pid file live in a private directory under the system temporary
    directory (unix socket paths are limited to 107 bytes), removed by :meth:`stop`.
    """

    program: ClassVar[str]
    kind: ClassVar[str]

    def __init__(
        self,
        netns: str,
        peers: BfdPeer | Sequence[BfdPeer],
        workdir: str | os.PathLike[str],
        *,
        name: str | None = None,
    ) -> None:
        self.netns = netns
        self.peers: tuple[BfdPeer, ...] = (peers,) if isinstance(peers, BfdPeer) else tuple(peers)
        if not self.peers:
            raise ValueError("a BFD daemon needs at least one peer")
        addresses = [p.peer for p in self.peers]
        if len(set(addresses)) != len(addresses):
            raise ValueError(f"one session per peer address, please: {addresses}")
        self.name = name or self.kind
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.name}.log"
        self.config_path = self.workdir / f"{self.name}.conf"
        self.config = self.render_config()
        self.rundir: Path | None = None
        self.proc: LabProcess | None = None
        self.started_at: float | None = None
        """``time.monotonic()`` just before the daemon was spawned."""
        self.ready_after: float | None = None
        """Seconds from spawning until it answered and listed every session."""

    # ---- what subclasses provide

    def render_config(self) -> str:
        raise NotImplementedError

    def argv(self, rundir: Path) -> list[str]:
        raise NotImplementedError

    def pid_file(self, rundir: Path) -> Path:
        raise NotImplementedError

    def _prepare_rundir(self, rundir: Path) -> None:
        """Put what the daemon reads into ``rundir`` (and fix its ownership)."""

    def _query(self) -> dict[str, dict[str, Any]]:
        """Every session the daemon reports: peer address -> details (with "state")."""
        raise NotImplementedError

    # ---- lifecycle

    def start(self, *, wait: bool = True, timeout: float = 10.0) -> Self:
        """Start the daemon; with ``wait``, return once it lists every session."""
        if self.proc is not None:
            raise BfdPeerError(f"{self.name} was started already")
        self.config_path.write_text(self.config)
        self.rundir = Path(tempfile.mkdtemp(prefix=f"pykad-{self.kind}-"))
        try:
            self._prepare_rundir(self.rundir)
            self.started_at = time.monotonic()
            self.proc = spawn_in(self.netns, self.argv(self.rundir), log_path=self.log_path)
            if wait:
                self.wait_ready(timeout)
        except BaseException:
            with cleaning():
                self._teardown(timeout=2.0)
            raise
        return self

    def _ready(self) -> bool:
        self._check_running()
        assert self.rundir is not None
        if _live_pid_in(self.pid_file(self.rundir)) != self.pid:
            return False
        try:
            seen = self._query()
        except (OSError, BfdPeerError, ValueError):
            return False  # not answering yet
        return all(p.peer in seen for p in self.peers)

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until the daemon wrote its pid file, answers, and lists every session."""
        wait_for(
            self._ready,
            timeout=timeout,
            interval=0.005,
            message=lambda: f"{self.name} to answer and list every session\n{self.log_tail()}",
        )
        if self.started_at is not None:
            self.ready_after = time.monotonic() - self.started_at

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise BfdPeerError(f"{self.name} was not started")
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def _check_running(self) -> None:
        if self.proc is None:
            raise BfdPeerError(f"{self.name} was not started")
        if self.proc.poll() is not None:
            raise BfdPeerError(f"{self.name} exited with {self.proc.returncode}\n{self.log_tail()}")

    def _teardown(self, timeout: float) -> int | None:
        code = None
        try:
            if self.proc is not None:
                code = kill_process_group(self.proc, signal.SIGTERM, timeout=timeout)
        finally:
            if self.rundir is not None:
                shutil.rmtree(self.rundir, ignore_errors=True)
                self.rundir = None
        return code

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, wait for its process group (SIGKILL after ``timeout``); idempotent.

        Returns the exit code (negative for a signal).  Neither daemon tells its
        peers on the way out: they see the session expire.
        """
        with cleaning():
            return self._teardown(timeout)

    # ---- sessions

    def session_info(self, peer: str) -> dict[str, Any]:
        """What the daemon reports about the session to ``peer`` (raises if none)."""
        self._check_running()
        info = self._query().get(peer)
        if info is None:
            raise BfdPeerError(f"{self.name} has no session to {peer}")
        return info

    def sessions(self) -> dict[str, str]:
        """Peer address -> state (``Up``, ``Down``, ``Init``, ``AdminDown``)."""
        self._check_running()
        return {peer: info["state"] for peer, info in self._query().items()}

    def state(self, peer: str) -> str | None:
        """The state of the session to ``peer`` (None if there is none)."""
        return self.sessions().get(peer)

    def wait_for_state(
        self, peer: str, state: str, timeout: float = 5.0, interval: float = 0.005
    ) -> float:
        """Poll until the session to ``peer`` is in ``state``; return the seconds it took.

        Fails at once if the daemon exits, and with the daemon's log tail on timeout.
        """
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}")
        t0 = time.monotonic()
        last: list[str | None] = [None]

        def reached() -> bool:
            last[0] = self.state(peer)
            return last[0] == state

        wait_for(
            reached,
            timeout=timeout,
            interval=interval,
            message=lambda: (
                f"{self.name}'s session to {peer} to be {state} (it is {last[0]})\n"
                f"{self.log_tail()}"
            ),
        )
        return time.monotonic() - t0

    # ---- the log

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        tail = self.log_text().splitlines()[-lines:]
        return f"--- last lines of {self.log_path}:\n" + "\n".join(tail)

    def __repr__(self) -> str:
        pid = self.proc.pid if self.proc is not None else None
        return f"<{type(self).__name__} {self.name} in {self.netns} pid={pid}>"


class Bfdd(BfdDaemon):
    """FRR's bfdd alone (no zebra) in one namespace, running as the ``frr`` user."""

    program = BFDD
    kind = "bfdd"

    def render_config(self) -> str:
        lines = ["log timestamp precision 3", "debug bfd peer", "!", "bfd"]
        for p in self.peers:
            hop = " multihop" if p.multihop else ""
            lines += [
                f" peer {p.peer}{hop} local-address {p.local}",
                f"  receive-interval {p.min_rx_ms}",
                f"  transmit-interval {p.min_tx_ms}",
                f"  detect-multiplier {p.multiplier}",
            ]
            if p.passive:
                lines.append("  passive-mode")
            if p.multihop:
                lines.append("  minimum-ttl 1")  # BIRD's multihop packets carry TTL 64
            lines += ["  no shutdown", " !"]
        return "\n".join([*lines, "!"]) + "\n"

    def pid_file(self, rundir: Path) -> Path:
        return rundir / "bfdd.pid"

    def _prepare_rundir(self, rundir: Path) -> None:
        try:
            uid, gid = pwd.getpwnam(FRR_USER).pw_uid, grp.getgrnam(FRR_USER).gr_gid
        except KeyError as exc:
            raise BfdPeerError(f"bfdd needs the user and group {FRR_USER!r}") from exc
        (rundir / "bfdd.conf").write_text(self.config)
        os.chown(rundir / "bfdd.conf", uid, gid)
        os.chown(rundir, uid, gid)

    def argv(self, rundir: Path) -> list[str]:
        return [
            self.program,
            "-f", str(rundir / "bfdd.conf"),
            "-i", str(self.pid_file(rundir)),
            "--vty_socket", str(rundir),
            "-z", str(rundir / "zserv.api"),
            "--bfdctl", str(rundir / "bfdd.sock"),
            "-u", FRR_USER,
            "-g", FRR_USER,
            "-P", "0",  # no TCP vty
            "--log", "stdout",
        ]  # fmt: skip

    def _teardown(self, timeout: float) -> int | None:
        try:
            return super()._teardown(timeout)
        finally:
            # FRR's crash-log buffer: removed on a clean exit, left behind by SIGKILL.
            if self.proc is not None and not pid_alive(self.proc.pid):
                shutil.rmtree(FRR_STATE_DIR / f"bfdd.{self.proc.pid}", ignore_errors=True)

    def vty(self, *commands: str, timeout: float = 5.0) -> str:
        """Run vty commands (after ``enable``) over bfdd's socket; return the last output.

        This is what vtysh does (command, NUL; reply, three NULs, status byte), without
        vtysh's start-up cost.  A status other than 0 raises :class:`BfdPeerError`.
        """
        if self.rundir is None:
            raise BfdPeerError(f"{self.name} is not running")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(self.rundir / "bfdd.vty"))
            out = ""
            for command in ("enable", *commands):
                sock.sendall(command.encode() + b"\0")
                buf = b""
                while len(buf) < 4 or buf[-4:-1] != b"\0\0\0":
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise BfdPeerError(f"{self.name}'s vty closed during {command!r}")
                    buf += chunk
                out = buf[:-4].decode(errors="replace")
                if buf[-1] != 0:
                    raise BfdPeerError(f"{self.name}: {command!r} gave {buf[-1]}: {out.strip()}")
            return out

    def _query(self) -> dict[str, dict[str, Any]]:
        sessions: dict[str, dict[str, Any]] = {}
        for info in json.loads(self.vty("show bfd peers json")):
            state = _BFDD_STATES.get(info.get("status", ""), info.get("status", "?"))
            sessions[info["peer"]] = {**info, "state": state}
        return sessions


_BIRD_ROW = re.compile(
    r"^(?P<peer>[0-9A-Fa-f:.]+)\s+(?P<interface>\S+)\s+(?P<state>AdminDown|Down|Init|Up)"
    r"\s+(?P<since>\S+(?: \S+)?)\s+(?P<interval>[\d.]+)\s+(?P<timeout>[\d.]+)\s*$"
)


_BIRD_AUTH = {
    "simple_password": "simple",
    "keyed_md5": "keyed md5",
    "meticulous_keyed_md5": "meticulous keyed md5",
    "keyed_sha1": "keyed sha1",
    "meticulous_keyed_sha1": "meticulous keyed sha1",
}
"""pykad's ``pykad_auth`` types in BIRD's ``authentication`` words."""


class Bird(BfdDaemon):
    """BIRD 2's ``protocol bfd`` in one namespace (runs as root, in the foreground).

    BIRD sets session options per interface pattern and for multihop as a whole, so
    all direct peers must share timers and ``passive``, and so must all multihop
    peers (a :class:`ValueError` says so otherwise).  ``router_id`` defaults to the
    first IPv4 local address.
    """

    program = BIRD
    kind = "bird"

    def __init__(
        self,
        netns: str,
        peers: BfdPeer | Sequence[BfdPeer],
        workdir: str | os.PathLike[str],
        *,
        name: str | None = None,
        router_id: str | None = None,
    ) -> None:
        self.router_id = router_id
        super().__init__(netns, peers, workdir, name=name)

    @staticmethod
    def _block(keyword: str, peers: Sequence[BfdPeer]) -> list[str]:
        options = {p.options for p in peers}
        if len(options) > 1:
            raise ValueError(
                f"BIRD takes one set of {keyword} options (timers, passive) for "
                f"{[p.peer for p in peers]}; start another Bird for other options"
            )
        p = peers[0]
        auth = []
        if p.auth is not None:
            kind, key_id, secret = p.auth
            auth = [
                f"        authentication {_BIRD_AUTH[kind]};",
                f'        password "{secret}" {{ id {key_id}; }};',
            ]
        return [
            f"    {keyword} {{",
            f"        min rx interval {p.min_rx_ms} ms;",
            f"        min tx interval {p.min_tx_ms} ms;",
            f"        multiplier {p.multiplier};",
            f"        passive {'yes' if p.passive else 'no'};",
            *auth,
            "    };",
        ]

    def render_config(self) -> str:
        router_id = self.router_id or next(
            (p.local for p in self.peers if ipaddress.ip_address(p.local).version == 4),
            "192.0.2.254",
        )
        direct = [p for p in self.peers if not p.multihop]
        multihop = [p for p in self.peers if p.multihop]
        lines = [
            f"router id {router_id};",
            "log stderr all;",
            "protocol device {}",
            "protocol bfd {",
            "    debug { states, events };",
        ]
        if direct:
            lines += self._block('interface "*"', direct)
        if multihop:
            lines += self._block("multihop", multihop)
        for p in self.peers:
            hop = " multihop yes" if p.multihop else ""
            lines.append(f"    neighbor {p.peer} local {p.local}{hop};")
        return "\n".join([*lines, "}"]) + "\n"

    def pid_file(self, rundir: Path) -> Path:
        return rundir / "bird.pid"

    def _prepare_rundir(self, rundir: Path) -> None:
        (rundir / "bird.conf").write_text(self.config)

    def argv(self, rundir: Path) -> list[str]:
        return [
            self.program,
            "-f",  # foreground
            "-c", str(rundir / "bird.conf"),
            "-s", str(rundir / "bird.ctl"),
            "-P", str(self.pid_file(rundir)),
        ]  # fmt: skip

    def birdc(self, *command: str, timeout: float = 5.0) -> str:
        """``birdc -s CTL COMMAND...`` (from the host: the socket is a file); its output."""
        if self.rundir is None:
            raise BfdPeerError(f"{self.name} is not running")
        proc = subprocess.run(
            [BIRDC, "-s", str(self.rundir / "bird.ctl"), *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0 or "Unable to connect" in proc.stdout + proc.stderr:
            raise BfdPeerError(f"birdc {' '.join(command)}: {proc.stdout}{proc.stderr}".strip())
        return proc.stdout

    def _query(self) -> dict[str, dict[str, Any]]:
        sessions: dict[str, dict[str, Any]] = {}
        for line in self.birdc("show", "bfd", "sessions").splitlines():
            m = _BIRD_ROW.match(line.strip())
            if m is not None:
                sessions[m["peer"]] = {
                    **m.groupdict(),
                    "multihop": m["interface"] == "---",
                    "interval": float(m["interval"]),
                    "timeout": float(m["timeout"]),
                }
        return sessions


def negotiated_timers(daemon: BfdDaemon, peer: str) -> tuple[float, float]:
    """(transmit interval, detection time) in ms that ``daemon`` uses for ``peer`` now."""
    info = daemon.session_info(peer)
    if isinstance(daemon, Bfdd):
        tx = max(info["transmit-interval"], info["remote-receive-interval"])
        rx = max(info["receive-interval"], info["remote-transmit-interval"])
        return tx, info["remote-detect-multiplier"] * rx
    return info["interval"] * 1000, info["timeout"] * 1000


class BfdPeersLab(DaemonLab[BfdDaemon]):
    """Starts bfdd and BIRD daemons for a test and stops every one of them at teardown."""

    stop_timeout = 5.0

    def _start(self, daemon: D, wait: bool, timeout: float) -> D:
        self._add(daemon)
        return daemon.start(wait=wait, timeout=timeout)

    def bfdd(
        self,
        netns: str | tuple[Topology, str],
        peers: BfdPeer | Sequence[BfdPeer],
        *,
        name: str | None = None,
        wait: bool = True,
        timeout: float = 10.0,
    ) -> Bfdd:
        """Start FRR's bfdd in ``netns`` (a name, or ``(topology, node)``) for ``peers``.

        ``name`` (default ``bfdd1``, ``bfdd2``, ...) names its files in the work dir.
        """
        need_program(BFDD)
        name = name or f"bfdd{sum(isinstance(d, Bfdd) for d in self.daemons) + 1}"
        daemon = Bfdd(self.netns_of(netns), peers, self.workdir, name=name)
        return self._start(daemon, wait, timeout)

    def bird(
        self,
        netns: str | tuple[Topology, str],
        peers: BfdPeer | Sequence[BfdPeer],
        *,
        name: str | None = None,
        router_id: str | None = None,
        wait: bool = True,
        timeout: float = 10.0,
    ) -> Bird:
        """Start BIRD's BFD in ``netns`` for ``peers`` (see :class:`Bird` for limits)."""
        need_program(BIRD, BIRDC)
        name = name or f"bird{sum(isinstance(d, Bird) for d in self.daemons) + 1}"
        daemon = Bird(self.netns_of(netns), peers, self.workdir, name=name, router_id=router_id)
        return self._start(daemon, wait, timeout)


@pytest.fixture
def bfd_peers_lab(
    request: pytest.FixtureRequest, netns_lab: Topology, tmp_path: Path
) -> BfdPeersLab:
    """A :class:`BfdPeersLab` for this test; its daemons stop before ``netns_lab`` goes.

    ``bfd_peers_lab.bfdd((netns_lab, "B"), BfdPeer("192.0.2.1", "192.0.2.2"))``.
    """
    lab = BfdPeersLab(tmp_path / "bfd")
    request.addfinalizer(lab.close)
    return lab
