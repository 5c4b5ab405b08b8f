"""The notify driver: runs VRRP notify scripts, writes the notify FIFOs, sends alert mails.

Owned here: :class:`Notifier`, which carries out the effects of
:mod:`pykad.vrrp.notify` (:class:`~pykad.vrrp.notify.RunScript`,
:class:`~pykad.vrrp.notify.WriteFifo`, :class:`~pykad.vrrp.notify.SendMail`
through its :class:`~pykad.drivers.mailer.Mailer`) in the order they were submitted, and the
FIFOs themselves, handled as keepalived 2.2.7 does (``core/notify.c``:
``fifo_open``, ``fifo_close``, ``script_killall``):

- A FIFO that does not exist is created (``mkfifo``, mode 0644 less the umask) and
  given the configured user and group; one that exists is used (it must be a FIFO
  owned by us or by that user).  Then its ``script`` (if any) is started with the
  FIFO's path as one more word; it is meant to read the FIFO.  Then the FIFO is
  opened read-write and non-blocking, so writing never blocks and never fails for
  want of a reader; a line that does not fit is dropped, as keepalived drops it.
- On close: the FIFO script gets SIGTERM, and SIGKILL 1 s later if still running;
  STOP scripts still running are waited for (they are killed after their 1 s);
  a FIFO we created is unlinked before its descriptor is closed; other notify
  scripts still running get SIGTERM (keepalived's scripts get it through
  ``PR_SET_PDEATHSIG`` when the VRRP process exits) and are left to finish.

:meth:`Notifier.submit` never blocks (an unbounded memory channel); one task
applies the effects one after another, so FIFO lines keep their order and scripts
are exec'd in order.  Scripts run through :mod:`pykad.drivers.process`.
"""

from __future__ import annotations

import errno
import grp
import logging
import math
import os
import pwd
import signal
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import trio

from pykad.config.scripts import DEFAULT_SCRIPT_USER, Script
from pykad.config.sections._global_model import GlobalDefs, NotifyFifo
from pykad.drivers.mailer import Mailer
from pykad.drivers.process import ScriptResult, signal_group, spawn_detached
from pykad.vrrp.notify import Notification, RunScript, SendMail, WriteFifo

__all__ = [
    "FIFO_MODE",
    "FIFO_SCRIPT_KILL_DELAY_S",
    "Notifier",
    "NotifierStatistics",
    "UserIds",
    "default_script_user",
    "resolve_user",
    "vrrp_fifos",
]

log = logging.getLogger(__name__)

FIFO_MODE = 0o644
"""keepalived's ``mkfifo`` mode: S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH."""
FIFO_SCRIPT_KILL_DELAY_S = 1.0
"""How long a FIFO script has to exit after SIGTERM before SIGKILL (keepalived: TIMER_HZ)."""

UserIds = tuple[int, int]
"""A uid and a gid."""


def resolve_user(user: str | None, group: str | None) -> UserIds | None:
    """keepalived's ``set_uid_gid``: the user's uid and gid, the group's gid if named.

    None when ``user`` is None or a name does not resolve.  A group written
    ``:name`` (keepalived: also set the supplementary groups) is taken as ``name``.
    """
    if user is None:
        return None
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return None
    gid = pw.pw_gid
    if group is not None and group.lstrip(":"):
        try:
            gid = grp.getgrnam(group.lstrip(":")).gr_gid
        except KeyError:
            return None
    return pw.pw_uid, gid


def default_script_user(global_defs: GlobalDefs) -> UserIds:
    """Whom scripts run as by default: ``script_user``, else keepalived_script, else us."""
    if global_defs.script_user is not None:
        ids = resolve_user(global_defs.script_user, global_defs.script_group)
        if ids is not None:
            return ids
    ids = resolve_user(DEFAULT_SCRIPT_USER, None)
    return ids if ids is not None else (os.geteuid(), os.getegid())


def vrrp_fifos(global_defs: GlobalDefs) -> tuple[NotifyFifo, ...]:
    """The FIFOs that get VRRP lines: ``notify_fifo``, then ``vrrp_notify_fifo``."""
    return tuple(
        f for f in (global_defs.notify_fifo, global_defs.vrrp_notify_fifo) if f.path is not None
    )


@dataclass(frozen=True, slots=True)
class NotifierStatistics:
    lines_written: int
    lines_dropped: int
    scripts_started: int
    scripts_failed: int
    """Scripts whose exec failed."""
    scripts_killed: int
    """Scripts killed because their time was up."""
    fifos_open: int


@dataclass(slots=True)
class _OpenFifo:
    path: str
    fd: int
    created: bool


@dataclass(slots=True)
class _Counters:
    lines_written: int = 0
    lines_dropped: int = 0
    scripts_started: int = 0
    scripts_failed: int = 0
    scripts_killed: int = 0


@dataclass(slots=True)
class _FifoScript:
    pid: int
    exited: trio.Event = field(default_factory=trio.Event)


class Notifier:
    """Runs notify scripts and writes FIFO lines, in the order they are submitted.

    ``fifos``: the FIFOs to write (:func:`vrrp_fifos`).  ``default_user``: whom
    scripts without their own user run as (None: as we are).  ``user_ids`` resolves
    a script's ``user``/``group`` (default :func:`resolve_user`).  ``env``: the
    scripts' environment (None: ours).  ``mailer``: where alert mails go (None: they
    are dropped).
    """

    def __init__(
        self,
        fifos: Sequence[NotifyFifo] = (),
        *,
        default_user: UserIds | None = None,
        user_ids: Callable[[str | None, str | None], UserIds | None] = resolve_user,
        env: Mapping[str, str] | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        self._fifo_config = tuple(f for f in fifos if f.path is not None)
        self.mailer = mailer
        self._default_user = default_user
        self._user_ids = user_ids
        self._env = env
        self._send, self._receive = trio.open_memory_channel[tuple[Notification, ...]](math.inf)
        self._fifos: list[_OpenFifo] = []
        self._counters = _Counters()
        self._users: dict[tuple[str | None, str | None], UserIds | None] = {}

    # ---- the caller's side

    def submit(self, effects: Iterable[Notification]) -> None:
        """Queue ``effects``; never blocks.  Dropped (logged) once :meth:`close` was called."""
        batch = tuple(effects)
        if not batch:
            return
        try:
            self._send.send_nowait(batch)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            log.warning("notifier closed: dropping %d notifications", len(batch))

    def close(self) -> None:
        """No more effects: :meth:`run` applies what is queued, cleans up and returns."""
        self._send.close()

    def statistics(self) -> NotifierStatistics:
        c = self._counters
        return NotifierStatistics(
            lines_written=c.lines_written,
            lines_dropped=c.lines_dropped,
            scripts_started=c.scripts_started,
            scripts_failed=c.scripts_failed,
            scripts_killed=c.scripts_killed,
            fifos_open=len(self._fifos),
        )

    # ---- the driver

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Open the FIFOs, start their scripts, then apply effects until :meth:`close`."""
        try:
            async with trio.open_nursery() as untimed:
                # On leaving: FIFO scripts are stopped first, then the timed (STOP)
                # scripts are waited for; they are killed after their timeout.
                async with trio.open_nursery() as timed, trio.open_nursery() as fifo_nursery:
                    if self.mailer is not None:  # waited for: a stop's mails get their grace
                        await timed.start(self.mailer.run)
                    fifo_scripts = await self._open_fifos(fifo_nursery)
                    task_status.started()
                    async with self._receive:
                        async for batch in self._receive:
                            for effect in batch:
                                await self._apply(effect, untimed, timed)
                    if self.mailer is not None:
                        self.mailer.close()
                    await self._stop_fifo_scripts(fifo_scripts)
                    fifo_nursery.cancel_scope.cancel()
                self._close_fifos()
                untimed.cancel_scope.cancel()  # SIGTERM to what is left, not waited for
        finally:
            self._close_fifos()

    async def _apply(
        self, effect: Notification, untimed: trio.Nursery, timed: trio.Nursery
    ) -> None:
        if isinstance(effect, WriteFifo):
            self._write(effect.line)
        elif isinstance(effect, RunScript):
            await self._run_script(effect, timed if effect.timeout_s is not None else untimed)
        elif isinstance(effect, SendMail):
            if self.mailer is not None:
                self.mailer.submit(effect.mail)
        else:  # pragma: no cover - the union is closed
            raise TypeError(f"not a notification: {effect!r}")

    def _ids(self, user: str | None, group: str | None) -> UserIds | None:
        if user is None:
            return self._default_user
        key = (user, group)
        if key not in self._users:
            self._users[key] = self._user_ids(user, group)
        ids = self._users[key]
        if ids is None:
            log.warning("cannot resolve script user %s:%s; using the default", user, group)
            return self._default_user
        return ids

    def _on_exit(self, result: ScriptResult) -> None:
        if result.exec_errno is not None:
            self._counters.scripts_failed += 1
        if result.timed_out:
            self._counters.scripts_killed += 1

    async def _run_script(self, effect: RunScript, nursery: trio.Nursery) -> None:
        ids = self._ids(effect.user, effect.group)
        self._counters.scripts_started += 1
        await spawn_detached(
            nursery,
            effect.argv,
            uid=ids[0] if ids is not None else None,
            gid=ids[1] if ids is not None else None,
            timeout_s=effect.timeout_s,
            env=self._env,
            on_exit=self._on_exit,
            cancel_signal=signal.SIGKILL if effect.timeout_s is not None else signal.SIGTERM,
        )

    def _write(self, line: bytes) -> None:
        for fifo in self._fifos:
            try:
                os.write(fifo.fd, line)
            except OSError as exc:  # full (EAGAIN) or broken: keepalived ignores it too
                self._counters.lines_dropped += 1
                log.debug("dropped a line for %s: %s", fifo.path, exc)
            else:
                self._counters.lines_written += 1

    # ---- FIFOs

    async def _open_fifos(self, nursery: trio.Nursery) -> list[_FifoScript]:
        scripts: list[_FifoScript] = []
        for config in self._fifo_config:
            assert config.path is not None
            owner = self._ids(config.user, config.group)
            created = self._make_fifo(config.path, owner)
            if created is None:
                continue
            if config.script is not None:
                started = await self._start_fifo_script(nursery, config.script, config.path)
                if started is not None:
                    scripts.append(started)
            fifo = self._open_fifo(config.path, created, owner)
            if fifo is not None:
                self._fifos.append(fifo)
        return scripts

    @staticmethod
    def _make_fifo(path: str, owner: UserIds | None) -> bool | None:
        """mkfifo; True if we created it, False if it existed, None on failure."""
        try:
            os.mkfifo(path, FIFO_MODE)
        except FileExistsError:
            return False
        except OSError as exc:
            log.info("Unable to create notify fifo %s: %s", path, exc)
            return None
        if owner is not None and owner != (os.geteuid(), os.getegid()):
            try:
                os.chown(
                    path,
                    owner[0] if owner[0] != os.geteuid() else -1,
                    owner[1] if owner[1] != os.getegid() else -1,
                )
            except OSError:
                log.info("Failed to set uid:gid for fifo %s", path)
        return True

    @staticmethod
    def _open_fifo(path: str, created: bool, owner: UserIds | None) -> _OpenFifo | None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError as exc:
            log.info("Unable to open notify fifo %s - errno %d", path, exc.errno or 0)
            if created:
                os.unlink(path)
            return None
        st = os.fstat(fd)
        owners = {os.geteuid()} | ({owner[0]} if owner is not None else set())
        if not stat.S_ISFIFO(st.st_mode) or st.st_uid not in owners:
            log.info("notify fifo %s is not a fifo we own - not using", path)
            os.close(fd)
            return None
        return _OpenFifo(path, fd, created)

    async def _start_fifo_script(
        self, nursery: trio.Nursery, script: Script, path: str
    ) -> _FifoScript | None:
        ids = self._ids(script.user, script.group)
        handle: list[_FifoScript] = []

        def exited(result: ScriptResult) -> None:
            self._on_exit(result)
            if handle:
                handle[0].exited.set()

        pid = await spawn_detached(
            nursery,
            (*script.argv, path),
            uid=ids[0] if ids is not None else None,
            gid=ids[1] if ids is not None else None,
            env=self._env,
            on_exit=exited,
        )
        self._counters.scripts_started += 1
        if pid is None:
            return None
        handle.append(_FifoScript(pid))
        return handle[0]

    @staticmethod
    async def _stop_fifo_scripts(scripts: Sequence[_FifoScript]) -> None:
        for script in scripts:
            if not script.exited.is_set():
                signal_group(script.pid, signal.SIGTERM)
        with trio.move_on_after(FIFO_SCRIPT_KILL_DELAY_S):
            for script in scripts:
                await script.exited.wait()
        # Whatever is left is SIGKILLed and reaped when the nursery is cancelled.

    def _close_fifos(self) -> None:
        while self._fifos:
            fifo = self._fifos.pop()
            if fifo.created:  # unlink first, so a reader that reopens cannot find it
                try:
                    os.unlink(fifo.path)
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        log.info("cannot remove notify fifo %s: %s", fifo.path, exc)
            os.close(fifo.fd)
