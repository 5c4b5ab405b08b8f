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

A failure is logged with keepalived's words and the child runs on without it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import resource
import signal

from pykad.config.sections._global_model import PYKAD_RT_RLIMIT_DEFAULT_US, ProcessTuning

log = logging.getLogger("pykad")

MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4

TITLES = {"vrrp": "VRRP", "checker": "Checker", "bfd": "BFD"}
"""keepalived's name of each child in its SIGXCPU line."""


def apply(tuning: ProcessTuning, child: str) -> None:
    """Apply ``tuning`` to the calling process (``child``: vrrp, checker or bfd)."""
    if tuning.rt_priority:
        limit = tuning.rlimit_rttime_us
        _realtime(tuning.rt_priority, PYKAD_RT_RLIMIT_DEFAULT_US if limit is None else limit, child)
    elif tuning.priority:
        _nice(tuning.priority)
    if tuning.no_swap:
        _lock_memory()
    if tuning.cpu_affinity:
        _affinity(tuning.cpu_affinity, child)


def _threads() -> list[int]:
    return [int(tid) for tid in os.listdir("/proc/self/task")]


def _realtime(priority: int, rlimit_us: int, child: str) -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
    except OSError:
        log.warning("child process: cannot raise priority")
        return
    if not rlimit_us:
        return
    line = (
        f"{TITLES[child]} process has used too much CPU time, "
        f"{child}_rlimit_rttime may need to be increased"
    )
    signal.signal(signal.SIGXCPU, lambda _n, _f: log.info(line))
    try:
        resource.setrlimit(resource.RLIMIT_RTTIME, (rlimit_us // 2, rlimit_us))
    except (OSError, ValueError):
        log.warning("child process cannot set realtime rlimit")


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
