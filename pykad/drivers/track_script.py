"""Running ``vrrp_script`` checks: one trio loop for all of a process's scripts.

Owns the schedule and the runs; the verdict is ``pykad.vrrp.tracking.ScriptScore``.
As keepalived 2.2.7 (``vrrp_scheduler.c``: ``vrrp_init_script``,
``vrrp_script_thread``, ``vrrp_script_child_thread``):

* every script runs once at start, then every ``interval`` counted from the
  start of the previous run (the timer is re-armed before the child is forked);
* a run is limited to ``timeout`` (the interval when the timeout is 0); the
  process runner terminates it (SIGTERM, then SIGKILL) and the run counts as a
  failure, as does an exit by signal or a non-zero exit status;
* a script still running when its next run is due is not started again
  (keepalived logs "Track script %s is already running, expect idle - skipping
  run");
* each result moves the rise/fall counter; only changes of the script's state
  (INIT -> GOOD/BAD, GOOD <-> BAD) are sent, as ``StatusUpdate`` values on a
  trio memory channel, for ``pykad.vrrp.tracking.Tracker.update``.

The runner is ``pykad.drivers.process.run_script`` unless one is injected (tests).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import trio

from pykad.config.sections._vrrp_model import TIMER_HZ, VrrpScript
from pykad.vrrp.tracking import (
    Kind,
    ObjectId,
    ScriptScore,
    ScriptState,
    StatusUpdate,
    script_succeeded,
)

TERMINATE_GRACE_S = 2.0
"""A timed-out script gets SIGTERM, then SIGKILL this much later (keepalived's 2 s)."""


class RunResult(Protocol):
    """What a runner reports (``pykad.drivers.process.ScriptResult``)."""

    @property
    def returncode(self) -> int | None: ...

    @property
    def timed_out(self) -> bool: ...

    @property
    def signal(self) -> int | None: ...


class Runner(Protocol):
    def __call__(
        self,
        argv: Sequence[str],
        *,
        uid: int | None = None,
        gid: int | None = None,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        terminate_grace_s: float | None = None,
    ) -> Awaitable[RunResult]: ...


@dataclass(frozen=True, slots=True)
class ScriptSpec:
    """One script to run: its command, whom it runs as, its timing and scoring."""

    name: str
    argv: tuple[str, ...]
    interval_s: float
    timeout_s: float
    rise: int = 1
    fall: int = 1
    init_fail: bool = False
    uid: int | None = None
    gid: int | None = None

    @classmethod
    def from_config(
        cls,
        script: VrrpScript,
        *,
        uid: int | None = None,
        gid: int | None = None,
        init_fail: bool | None = None,
    ) -> ScriptSpec:
        """The spec of a configured ``vrrp_script`` (``uid``/``gid`` already resolved).

        ``init_fail`` defaults to False: keepalived 2.2.7 resets a tracked
        script to INIT (``alloc_track_script``), which cancels ``init_fail``.
        """
        timeout_us = script.timeout_us or script.interval_us
        return cls(
            name=script.name,
            argv=script.script.argv,
            interval_s=script.interval_us / TIMER_HZ,
            timeout_s=timeout_us / TIMER_HZ,
            rise=script.rise,
            fall=script.fall,
            init_fail=False if init_fail is None else init_fail,
            uid=uid,
            gid=gid,
        )


@dataclass(frozen=True, slots=True)
class ScriptStatistics:
    name: str
    state: ScriptState
    result: int
    runs: int
    skipped: int
    last_returncode: int | None
    last_timed_out: bool


class _Script:
    def __init__(self, spec: ScriptSpec) -> None:
        self.spec = spec
        self.score = ScriptScore.initial(spec.rise, spec.fall, init_fail=spec.init_fail)
        self.running = False
        self.runs = 0
        self.skipped = 0
        self.last_returncode: int | None = None
        self.last_timed_out = False


def _default_runner() -> Runner:
    from pykad.drivers import process  # another module's; imported when first needed

    run: Runner = process.run_script
    return run


class ScriptTracker:
    """Runs every script on its schedule and reports state changes.

    ``run(send)`` runs until cancelled; ``send`` receives a ``StatusUpdate`` per
    state change. ``statistics()`` is a snapshot of every script.
    """

    def __init__(
        self,
        specs: Iterable[ScriptSpec],
        *,
        runner: Runner | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._scripts = {s.name: _Script(s) for s in specs}
        self._runner = runner
        self._env = env

    def state(self, name: str) -> ScriptState:
        return self._scripts[name].score.state

    def statistics(self) -> tuple[ScriptStatistics, ...]:
        return tuple(
            ScriptStatistics(
                name=n,
                state=s.score.state,
                result=s.score.result,
                runs=s.runs,
                skipped=s.skipped,
                last_returncode=s.last_returncode,
                last_timed_out=s.last_timed_out,
            )
            for n, s in self._scripts.items()
        )

    def initial_updates(self) -> list[StatusUpdate]:
        """The scripts' statuses before any run (INIT, or BAD with ``init_fail``)."""
        return [
            StatusUpdate(ObjectId(Kind.SCRIPT, n), s.score.state) for n, s in self._scripts.items()
        ]

    async def run(self, send: trio.MemorySendChannel[StatusUpdate]) -> None:
        runner = self._runner if self._runner is not None else _default_runner()
        now = trio.current_time()
        heap: list[tuple[float, str]] = [(now, name) for name in self._scripts]
        heapq.heapify(heap)
        async with trio.open_nursery() as nursery:
            while heap:
                due, name = heap[0]
                await trio.sleep_until(due)
                heapq.heapreplace(heap, (due + self._scripts[name].spec.interval_s, name))
                script = self._scripts[name]
                if script.running:
                    script.skipped += 1
                    continue
                script.running = True
                nursery.start_soon(self._run_once, script, runner, send)
            await trio.sleep(math.inf)

    async def _run_once(
        self, script: _Script, runner: Runner, send: trio.MemorySendChannel[StatusUpdate]
    ) -> None:
        spec = script.spec
        try:
            result = await runner(
                spec.argv,
                uid=spec.uid,
                gid=spec.gid,
                timeout_s=spec.timeout_s,
                env=self._env,
                terminate_grace_s=TERMINATE_GRACE_S,
            )
            success = script_succeeded(result.returncode, result.timed_out, result.signal)
            script.last_returncode, script.last_timed_out = result.returncode, result.timed_out
        except OSError:
            # could not be started (keepalived: the fork or exec failed): a failed run
            success = False
            script.last_returncode, script.last_timed_out = None, False
        finally:
            script.running = False
        script.runs += 1
        before = script.score.state
        script.score = script.score.record(success)
        after = script.score.state
        if after is not before:
            await send.send(StatusUpdate(ObjectId(Kind.SCRIPT, spec.name), after))
