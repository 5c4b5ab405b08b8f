"""A child's CPU scheduling and memory locking, from its ``*_priority``, ``*_rt_priority``,
``*_rlimit_rttime``, ``*_no_swap`` and ``*_cpu_affinity`` keywords.

keepalived's ``set_process_priorities`` and ``set_process_cpu_affinity``
(core/process.c), applied by each child when its loop starts (after its set-up,
which in Python runs longer without a system call than the real-time limit allows):

- ``rt_priority``: the main thread runs SCHED_RR at that priority, with
  SCHED_RESET_ON_FORK (scripts, the configuration reader and helper threads run
  as normal tasks); RLIMIT_RTTIME is then ``rlimit_rttime`` (soft: half of it, so
  SIGXCPU warns first; hard: the kernel kills the child, and the parent's
  "has rlimit_rttime been exceeded?" line says why).  Unset, it is 1 s, not
  keepalived's 10 ms: Python runs longer than that without a system call.
- else ``priority``: the nice value (of every thread: Linux keeps one per thread).
- ``no_swap``: ``mlockall`` of current and future pages, faulted in on use.
- ``cpu_affinity``: the CPUs every thread may run on.

:class:`AutoPriority` is ``max_auto_priority`` and ``min_auto_priority_delay``
(scheduler.c ``thread_fetch_next_queue``, process.c ``increment_process_priority``):
a child whose timer ran more than the delay late logs it and goes real-time at
priority 1, or one higher, up to the maximum.  The VRRP child watches its timer
loop, the BFD child its packet loop (each packet sent late); the checker child
does not watch.

A failure is logged with keepalived's words and the child runs on without it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import resource
import signal

from pykad.config.sections._global_model import (
    PYKAD_RT_RLIMIT_DEFAULT_US,
    GlobalDefs,
    ProcessTuning,
)

log = logging.getLogger("pykad")

MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4

TITLES = {"vrrp": "VRRP", "checker": "Checker", "bfd": "BFD"}
"""keepalived's name of each child in its SIGXCPU line."""


def apply(tuning: ProcessTuning, child: str) -> None:
    """Apply ``tuning`` to the calling process (``child``: vrrp, checker or bfd)."""
    if tuning.rt_priority:
        _realtime(tuning.rt_priority, _rlimit(tuning), child)
    elif tuning.priority:
        _nice(tuning.priority)
    if tuning.no_swap:
        _lock_memory()
    if tuning.cpu_affinity:
        _affinity(tuning.cpu_affinity, child)


class AutoPriority:
    """Real-time priority raised by late timers, up to ``max_priority``."""

    def __init__(self, max_priority: int, min_delay_us: int, tuning: ProcessTuning, child: str):
        self.max_priority, self.min_delay_us = max_priority, min_delay_us
        self.rt_priority = tuning.rt_priority
        self._tuning, self._child = tuning, child

    def late(self, late_us: int) -> None:
        """A timer ran ``late_us`` late (past ``min_delay_us``: logged, one step up)."""
        if late_us <= self.min_delay_us:
            return
        log.info("A thread timer expired %d.%06d seconds ago", *divmod(late_us, 1_000_000))
        if self.rt_priority >= self.max_priority:
            return
        first = not self.rt_priority
        wanted = self.rt_priority + 1 if self.rt_priority else 1
        if _realtime(wanted, _rlimit(self._tuning) if first else 0, self._child):
            self.rt_priority = wanted
            log.info("Set realtime priority %d", wanted)


def auto_priority(
    global_defs: GlobalDefs, tuning: ProcessTuning, child: str
) -> AutoPriority | None:
    """The child's :class:`AutoPriority`, if ``max_auto_priority`` is set."""
    if global_defs.max_auto_priority <= 0:
        return None
    return AutoPriority(
        global_defs.max_auto_priority, global_defs.min_auto_priority_delay_us, tuning, child
    )


def _rlimit(tuning: ProcessTuning) -> int:
    limit = tuning.rlimit_rttime_us
    return PYKAD_RT_RLIMIT_DEFAULT_US if limit is None else limit


def _threads() -> list[int]:
    return [int(tid) for tid in os.listdir("/proc/self/task")]


def _realtime(priority: int, rlimit_us: int, child: str) -> bool:
    """SCHED_RR at ``priority`` (and with ``rlimit_us``, RLIMIT_RTTIME); False if refused."""
    try:
        os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
    except OSError:
        log.warning("child process: cannot raise priority")
        return False
    if not rlimit_us:
        return True
    line = (
        f"{TITLES[child]} process has used too much CPU time, "
        f"{child}_rlimit_rttime may need to be increased"
    )
    signal.signal(signal.SIGXCPU, lambda _n, _f: log.info(line))
    try:
        resource.setrlimit(resource.RLIMIT_RTTIME, (rlimit_us // 2, rlimit_us))
    except (OSError, ValueError):
        log.warning("child process cannot set realtime rlimit")
    return True


def _nice(priority: int) -> None:
    for tid in _threads():
        try:
            os.setpriority(os.PRIO_PROCESS, tid, priority)
        except OSError as e:
            log.info("Unable to set process priority to %d - %s", priority, e.strerror)
            return


def _lock_memory() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == -1:
        log.info("Unable to lock process in memory - %s", os.strerror(ctypes.get_errno()))


def _affinity(cpus: tuple[int, ...], child: str) -> None:
    for tid in _threads():
        try:
            os.sched_setaffinity(tid, cpus)
        except OSError as e:
            log.warning("unable to set cpu affinity to %s process (%s)", child, e.strerror)
            return
