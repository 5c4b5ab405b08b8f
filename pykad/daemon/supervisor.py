"""The supervising parent: keepalived's main process, which only forks and watches children.

keepalived's parent (``core/main.c``) does no protocol work: it starts one child
per subsystem, passes signals on, respawns a child that dies and stops them all
on SIGTERM/SIGINT.  :class:`Supervisor` does the same, in a plain loop (no
trio: children are forked from here and run trio themselves):

- children: VRRP (``process.start_vrrp``; not with ``-C``), the checkers and
  IPVS (``check_process``; when the config has ``virtual_server`` blocks and not
  with ``-P``), BFD (``bfd_process``; when it has ``bfd_instance`` blocks and not
  with ``-B``).  All stay in the parent's process group (``killpg`` of the
  daemon kills them all) and die with it (PR_SET_PDEATHSIG, SIGTERM).
- the BFD event pipes are made here once and kept open for the parent's life
  (``bfd_process.BfdPipes``): a respawned child of either side uses the same ones.
- its signals are blocked and taken one at a time with ``sigtimedwait``, but
  SIGTERM/SIGINT: their compiled handler (``fast.relay_install``) sends SIGTERM
  on to the VRRP child at once (its priority-0 adverts are the handover, and
  the Python loop's wake-up would delay them by 0.06 ms) and yields the CPU (the
  child, woken on this CPU, waited 0.35 ms behind the parent's stop), then ``RELAYED_STOP``
  to the parent, whose loop sends SIGTERM to the other children; all are then
  waited for (SIGKILL after their stop timeout, with keepalived's "failed to
  die" line).  SIGHUP goes to every child
  (and the configuration is read again before the next respawn); SIGUSR1 writes
  the parent's part of the data dump (``keepalived_parent.data``), then goes to
  every child; SIGUSR2, the JSON and the stats-clear signals to the VRRP child
  only (keepalived's ``propagate_signal``).
- a child that dies is reported as keepalived does ("pid N exited due to
  signal 9 (Killed)..."), then respawned ("VRRP child process(N) died:
  Respawning", keepalived's pace: ``child.RespawnDelay``); with ``-R``
  ("VRRP child process(N) died: Exiting") or a permanent error (the child's
  FATAL or CONFIG exit) the whole daemon stops.  A dead child's pid file is
  removed if it still names it.
- pykad's runtime API: the parent makes the control directory
  (``daemon.control``; ``process.run_dir``) before the first fork and removes it
  at exit; each child serves its socket there.  With ``pykad_metrics_address``
  (or ``--metrics-address``) it also forks the metrics child
  (``daemon.metrics``), supervised and respawned like the others.
- systemd (``daemon.sd_notify``): ``READY=1`` once the children are forked,
  ``RELOADING=1`` then ``READY=1`` around passing SIGHUP on (the children
  reload on their own; the parent does not wait for them), ``STOPPING=1``.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pykad.config.model import Config
from pykad.daemon import bfd_process, check_process, control, sd_notify
from pykad.daemon.child import RespawnDelay, child_died_lines, exit_report
from pykad.daemon.dump_data import PARENT_FILE
from pykad.daemon.process import (
    BFD_SECTIONS,
    CHECKER_SECTIONS,
    PARENT_SIGNALS,
    RELAYED_STOP,
    STOP_SIGNALS,
    Options,
    bfd_pid_path,
    checkers_pid_path,
    global_dump,
    pid_paths,
    reload_config,
    run_dir,
    start_vrrp,
    top_level_keywords,
    write_dump,
)
from pykad.daemon.run_files import syslog_ident
from pykad.daemon.sigfunc import VRRP_ONLY_SIGNALS
from pykad.drivers import fast

log = logging.getLogger("pykad")

VRRP_STOP_TIMEOUT_S = 10.0
FORK_RETRY_S = 1.0
WAITED: tuple[int, ...] = (*(n for n in PARENT_SIGNALS if n not in STOP_SIGNALS), RELAYED_STOP)
"""What the loop waits for: the stop signals have their handler."""


@dataclass
class Kid:
    """One subsystem's child as the parent sees it."""

    name: str
    """``vrrp``, ``check`` or ``bfd``."""
    title: str
    """keepalived's word for it in log lines: VRRP, Healthcheck, BFD."""
    pid_file: str
    stop_timeout: float
    fork: Callable[[Config], int]
    pid: int = 0
    respawn_at: float | None = None
    delay: RespawnDelay = field(default_factory=RespawnDelay)


NEEDS = {"check": "virtual_server", "bfd": "bfd_instance"}
"""The top-level keyword that makes a child needed (keepalived's ``have_*_config``)."""


class Supervisor:
    """keepalived's parent process for one configuration."""

    def __init__(
        self, opts: Options, config: Config, listener: logging.handlers.QueueListener
    ) -> None:
        self.opts = opts
        self.config = config
        self.listener = listener
        self.config_stale = False
        self.pipes: bfd_process.BfdPipes | None = None
        self.kids: list[Kid] = []
        self.run_dir = run_dir(opts)
        directory = self.run_dir
        if not opts.no_bfd:  # always: a reload may start the BFD child
            self.pipes = bfd_process.BfdPipes.open()
        pipes = self.pipes
        if not opts.check_only:
            self.kids.append(
                Kid(
                    "vrrp",
                    "VRRP",
                    pid_paths(opts)[1],
                    VRRP_STOP_TIMEOUT_S,
                    lambda c: start_vrrp(
                        opts,
                        c,
                        listener,
                        pipes.vrrp_read if pipes else None,
                        child_closes=pipes.but(pipes.vrrp_read) if pipes else (),
                    ),
                )
            )
        self.kids += self._needed(config)
        metrics_at = metrics_address(opts, config)
        if metrics_at is not None and directory is not None:
            from pykad.daemon import metrics

            served = tuple(  # every child it may run: a reload may start one
                name
                for name, off in (
                    ("vrrp", opts.check_only),
                    ("check", opts.vrrp_only),
                    ("bfd", opts.no_bfd),
                )
                if not off
            )
            self.kids.append(
                Kid(
                    "metrics",
                    "Metrics",
                    os.path.join(directory, "metrics.pid"),
                    metrics.STOP_TIMEOUT_S,
                    lambda c: metrics.start(
                        metrics_at,
                        directory,
                        served,
                        os.path.join(directory, "metrics.pid"),
                        listener,
                        ident_suffix=syslog_ident(opts, ""),
                    ),
                )
            )

    # ---- children

    def _may_start(self) -> set[str]:
        """The checker and BFD children the options allow that are not there yet."""
        there = {kid.name for kid in self.kids}
        allowed = {"check": not self.opts.vrrp_only, "bfd": self.pipes is not None}
        return {name for name, ok in allowed.items() if ok and name not in there}

    def _needed(self, config: Config) -> list[Kid]:
        """The checker and BFD children ``config`` needs that are not there yet."""
        opts, pipes, directory = self.opts, self.pipes, self.run_dir
        may = self._may_start()
        kids = []
        if "check" in may and (config.lvs.virtual_servers or opts.run_all):
            kids.append(
                Kid(
                    "check",
                    "Healthcheck",
                    checkers_pid_path(opts),
                    check_process.STOP_TIMEOUT_S,
                    lambda c: check_process.start(
                        c,
                        checkers_pid_path(opts),
                        self.listener,
                        pipes.checker_read if pipes else None,
                        lambda: reload_config(opts, CHECKER_SECTIONS, background=True),
                        child_closes=pipes.but(pipes.checker_read) if pipes else (),
                        control_dir=directory,
                        ident_suffix=syslog_ident(opts, ""),
                        release_ipvs=not opts.dont_release_ipvs,
                    ),
                )
            )
        if "bfd" in may and pipes is not None and (config.bfd.instances or opts.run_all):
            kids.append(
                Kid(
                    "bfd",
                    "BFD",
                    bfd_pid_path(opts),
                    bfd_process.STOP_TIMEOUT_S,
                    lambda c: bfd_process.start(
                        c,
                        bfd_pid_path(opts),
                        self.listener,
                        pipes,
                        lambda: reload_config(opts, BFD_SECTIONS, background=True),
                        control_dir=directory,
                        ident_suffix=syslog_ident(opts, ""),
                    ),
                )
            )
        return kids

    def _start_needed(self) -> None:
        """After a SIGHUP: start the checker and BFD children the new configuration
        needs, as keepalived 2.2.7 does (it stops none).  A first look reads only the
        top-level keywords; the whole configuration is read only if one is needed."""
        wanted = {NEEDS[name] for name in self._may_start()}
        if not wanted or not wanted & top_level_keywords(self.opts):
            return
        new = reload_config(self.opts)
        if new is None:
            return
        self.config, self.config_stale = new, False
        for kid in self._needed(new):
            self.kids.append(kid)
            self._start(kid)

    def _start(self, kid: Kid) -> None:
        if self.config_stale:
            self.config_stale = False
            new = reload_config(self.opts)
            if new is None:
                log.error("The configuration cannot be used; the running one is kept")
            else:
                self.config = new
        kid.respawn_at = None
        kid.delay.start(time.monotonic())
        # blocked across the fork: the child takes them over before it unblocks them
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            kid.pid = kid.fork(self.config)
        except OSError as e:  # keepalived logs it and tries again at its respawn
            log.info("%s child process: fork error(%s)", kid.title, e.strerror)
            kid.respawn_at = time.monotonic() + FORK_RETRY_S
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        if kid.name == "vrrp":
            fast.relay_to(kid.pid)

    def _kill(self, kid: Kid, signum: int) -> None:
        if kid.pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(kid.pid, signum)

    def _reaped(self) -> list[tuple[Kid, int, int]]:
        """Every child that ended since the last call, with its pid and wait status."""
        ended = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            for kid in self.kids:
                if kid.pid == pid:
                    kid.pid = 0
                    ended.append((kid, pid, status))
                    if kid.name == "vrrp":
                        fast.relay_to(0)  # before its pid can be another's
        return ended

    @staticmethod
    def _forget_pid_file(kid: Kid, pid: int) -> None:
        """A killed child cannot remove its pid file; the parent does, if it is its."""
        try:
            with open(kid.pid_file) as f:
                named = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return
        if named == pid:
            with contextlib.suppress(OSError):
                os.unlink(kid.pid_file)

    # ---- the loop

    def run(self) -> int:
        """Start the children and supervise them until told to stop; the exit code."""
        fast.relay_install(STOP_SIGNALS, RELAYED_STOP)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # this thread's only
        try:
            if self.run_dir is not None:
                try:
                    control.make_dir(self.run_dir)
                except OSError as e:
                    log.error("control directory %s: %s", self.run_dir, e)
                control.clear_dir(self.run_dir)  # a new daemon inherits no socket or action
            for kid in self.kids:
                self._start(kid)
            sd_notify.ready(f"{len(self.kids)} children")
            return self._loop()
        finally:
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            fast.relay_uninstall()
            if self.pipes is not None:
                self.pipes.close()
            if self.run_dir is not None:
                control.remove_dir(self.run_dir)

    def _next_timeout(self) -> float | None:
        due = [k.respawn_at for k in self.kids if k.respawn_at is not None]
        return None if not due else max(0.0, min(due) - time.monotonic())

    def _loop(self) -> int:
        while True:
            timeout = self._next_timeout()
            info: signal.struct_siginfo | None
            if timeout is None:
                info = signal.sigwaitinfo(WAITED)
            else:
                info = signal.sigtimedwait(WAITED, timeout)
            if info is None:
                now = time.monotonic()
                for kid in self.kids:
                    if kid.respawn_at is not None and kid.respawn_at <= now:
                        self._start(kid)
                continue
            signum = info.si_signo
            if signum == RELAYED_STOP:
                if info.si_pid != os.getpid():
                    continue  # not the handler's
                return self.stop_all(0, "Stopping")
            if signum == signal.SIGCHLD:
                code = self._children_ended()
                if code is not None:
                    return code
                continue
            if signum == signal.SIGHUP:
                self.config_stale = True
                sd_notify.reloading()
            elif signum == signal.SIGUSR1:  # keepalived's parent writes its part first
                log.info("Printing parent data for process(%d) on signal", os.getpid())
                write_dump(PARENT_FILE, "\n".join(global_dump(self.config)) + "\n")
            for kid in self.kids:
                if kid.name == "vrrp" or signum not in VRRP_ONLY_SIGNALS:
                    self._kill(kid, signum)
            if signum == signal.SIGHUP:
                self._start_needed()
                sd_notify.ready()

    def _children_ended(self) -> int | None:
        """Report and respawn the children that died; an exit code if the daemon stops."""
        for kid, dead, status in self._reaped():
            report = exit_report(f"pid {dead}", status)
            self._forget_pid_file(kid, dead)
            if report.line is not None:
                log.info("%s", report.line)
            if report.permanent:
                return self.stop_all(1, "Stopping")
            if self.opts.dont_respawn:
                log.critical("%s child process(%d) died: Exiting", kid.title, dead)
                return self.stop_all(0, "Stopping")
            for line in child_died_lines(kid.title, dead):
                log.info("%s", line)
            delay = kid.delay.after_death(time.monotonic())
            if delay is None:
                self._start(kid)
                continue
            log.info(
                "Restart of %s process delayed %d seconds to limit respawn rate", kid.title, delay
            )
            if delay == 0:
                self._start(kid)
            else:
                kid.respawn_at = time.monotonic() + delay
        return None

    def stop_all(self, code: int, line: str | None = None) -> int:
        """SIGTERM to every child at once (VRRP first: its priority-0 adverts hand the
        VIPs over, nothing may delay them, not even ``line``), wait for them, SIGKILL
        stragglers."""
        fast.relay_to(0)
        relayed = fast.relay_taken()
        if relayed:
            log.debug("the stop signal's handler passed SIGTERM on to pid %d", relayed)
        for kid in self.kids:
            kid.respawn_at = None
            if kid.pid != relayed:
                self._kill(kid, signal.SIGTERM)
        sd_notify.stopping()  # after the SIGTERMs: nothing may delay VRRP's handover
        if line is not None:
            log.info("%s", line)
        deadlines = {kid.name: time.monotonic() + kid.stop_timeout for kid in self.kids}
        while any(kid.pid > 0 for kid in self.kids):
            for kid, dead, status in self._reaped():
                self._forget_pid_file(kid, dead)
                report = exit_report(kid.title, status)
                if report.line is not None:
                    log.info("%s", report.line)
            now = time.monotonic()
            for kid in self.kids:
                if kid.pid > 0 and now >= deadlines[kid.name]:
                    log.info("%s process failed to die - forcing termination", kid.title)
                    self._kill(kid, signal.SIGKILL)
                    deadlines[kid.name] = now + 5.0
            live = [deadlines[k.name] for k in self.kids if k.pid > 0]
            if live:
                with contextlib.suppress(OSError):
                    signal.sigtimedwait([signal.SIGCHLD], max(0.01, min(live) - now))
        return code


def metrics_address(opts: Options, config: Config) -> tuple[str, int] | None:
    """Where the metrics child listens: the command line's, else ``pykad_metrics_address``."""
    if opts.metrics_address:
        from pykad.config.sections.global_defs import split_host_port

        return split_host_port(opts.metrics_address)
    return config.global_defs.metrics_address
