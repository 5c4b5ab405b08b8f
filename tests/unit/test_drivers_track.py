"""The tracking drivers: vrrp_script runs (pykad.drivers.track_script) and track files
watched with inotify (pykad.drivers.track_file)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
import trio.testing

from pykad.config.scripts import Script
from pykad.config.sections._vrrp_model import VrrpScript
from pykad.config.sections.track_file import TrackFile
from pykad.drivers.track_file import FileWatcher, parse_events, read_value, resolve
from pykad.drivers.track_script import TERMINATE_GRACE_S, ScriptSpec, ScriptTracker
from pykad.vrrp.tracking import Kind, ObjectId, ScriptState, StatusUpdate

GOOD, BAD = ScriptState.GOOD, ScriptState.BAD


@dataclass(frozen=True)
class Result:
    returncode: int | None
    timed_out: bool = False
    signal: int | None = None


class FakeRunner:
    """Answers each run from a script of (duration, result); records calls with their times."""

    def __init__(self, plan: Sequence[tuple[float, Result]]) -> None:
        self.plan = list(plan)
        self.calls: list[tuple[float, dict[str, object]]] = []

    async def __call__(
        self,
        argv: Sequence[str],
        *,
        uid: int | None = None,
        gid: int | None = None,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        terminate_grace_s: float | None = None,
    ) -> Result:
        self.calls.append(
            (
                trio.current_time(),
                {
                    "argv": tuple(argv),
                    "uid": uid,
                    "timeout_s": timeout_s,
                    "grace": terminate_grace_s,
                },
            )
        )
        duration, result = self.plan.pop(0) if self.plan else (0.0, Result(0))
        await trio.sleep(duration)
        return result


def run_with_clock(main: Callable[[], Awaitable[None]]) -> None:
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def collect_for(tracker: ScriptTracker, seconds: float) -> list[tuple[float, StatusUpdate]]:
    send, receive = trio.open_memory_channel[StatusUpdate](100)
    got: list[tuple[float, StatusUpdate]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(tracker.run, send)

        async def drain() -> None:
            async for u in receive:
                got.append((trio.current_time(), u))

        nursery.start_soon(drain)
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()
    return got


def spec(**kw: object) -> ScriptSpec:
    base: dict[str, object] = {
        "name": "chk",
        "argv": ("/bin/check",),
        "interval_s": 2.0,
        "timeout_s": 1.0,
    }
    base.update(kw)
    return ScriptSpec(**base)  # type: ignore[arg-type]


def test_spec_from_config_uses_interval_as_default_timeout() -> None:
    s = VrrpScript(
        name="chk",
        script=Script(("/bin/true", "x")),
        interval_us=3_000_000,
        rise=2,
        fall=4,
        init_fail=True,
    )
    got = ScriptSpec.from_config(s, uid=1000)
    assert (got.interval_s, got.timeout_s, got.rise, got.fall, got.uid) == (3.0, 3.0, 2, 4, 1000)
    assert got.argv == ("/bin/true", "x")
    assert not got.init_fail  # keepalived 2.2.7 resets a tracked script to INIT
    assert ScriptSpec.from_config(s, init_fail=True).init_fail
    assert (
        ScriptSpec.from_config(
            VrrpScript(name="t", script=Script(("x",)), timeout_us=500_000)
        ).timeout_s
        == 0.5
    )


def test_runs_every_interval_and_reports_state_changes() -> None:
    runner = FakeRunner([(0.1, Result(0)), (0.1, Result(1)), (0.1, Result(1)), (0.1, Result(0))])
    tracker = ScriptTracker([spec(rise=1, fall=2)], runner=runner)

    async def main() -> None:
        t0 = trio.current_time()
        got = await collect_for(tracker, 7.5)
        assert [round(t - t0, 3) for t, _ in runner.calls] == [0.0, 2.0, 4.0, 6.0]
        obj = ObjectId(Kind.SCRIPT, "chk")
        # GOOD after the first run; fall 2: BAD after the 2nd failure (t=4.1); GOOD at t=6.1
        assert [(round(t - t0, 3), u) for t, u in got] == [
            (0.1, StatusUpdate(obj, GOOD)),
            (4.1, StatusUpdate(obj, BAD)),
            (6.1, StatusUpdate(obj, GOOD)),
        ]
        assert runner.calls[0][1] == {
            "argv": ("/bin/check",),
            "uid": None,
            "timeout_s": 1.0,
            "grace": TERMINATE_GRACE_S,
        }
        [stats] = tracker.statistics()
        assert (stats.runs, stats.skipped, stats.state) == (4, 0, GOOD)

    run_with_clock(main)


def test_a_timeout_is_a_failure() -> None:
    runner = FakeRunner([(1.0, Result(None, timed_out=True, signal=15))])
    tracker = ScriptTracker([spec()], runner=runner)

    async def main() -> None:
        got = await collect_for(tracker, 1.5)
        assert [u.status for _, u in got] == [BAD]
        assert tracker.statistics()[0].last_timed_out

    run_with_clock(main)


def test_a_run_still_going_is_not_started_again() -> None:
    runner = FakeRunner([(5.0, Result(0))])
    tracker = ScriptTracker([spec(interval_s=2.0, timeout_s=10.0)], runner=runner)

    async def main() -> None:
        t0 = trio.current_time()
        await collect_for(tracker, 6.5)
        # due at 0, 2, 4, 6: 2 and 4 are skipped (still running), 6 runs
        assert [round(t - t0, 3) for t, _ in runner.calls] == [0.0, 6.0]
        assert tracker.statistics()[0].skipped == 2

    run_with_clock(main)


def test_scripts_run_independently_in_one_loop() -> None:
    runner = FakeRunner([])
    tracker = ScriptTracker(
        [spec(name="a", interval_s=1.0), spec(name="b", interval_s=3.0)], runner=runner
    )

    async def main() -> None:
        t0 = trio.current_time()
        got = await collect_for(tracker, 3.5)
        names = [(round(t - t0, 3), c["argv"]) for t, c in runner.calls]
        assert len([n for n in names if n[0] == 0.0]) == 2
        assert len(names) == 4 + 2
        assert {u.obj.name for _, u in got} == {"a", "b"}

    run_with_clock(main)


def test_init_fail_reports_bad_before_any_run() -> None:
    tracker = ScriptTracker([spec(init_fail=True, rise=2)], runner=FakeRunner([]))
    assert [u.status for u in tracker.initial_updates()] == [BAD]
    assert tracker.state("chk") is BAD


def test_an_exec_failure_counts_as_a_failed_run() -> None:
    async def broken(argv: Sequence[str], **kw: object) -> Result:
        raise FileNotFoundError(argv[0])

    tracker = ScriptTracker([spec()], runner=broken)

    async def main() -> None:
        got = await collect_for(tracker, 0.5)
        assert [u.status for _, u in got] == [BAD]

    run_with_clock(main)


def test_real_scripts_with_the_process_runner(tmp_path: Path) -> None:
    pytest.importorskip("pykad.drivers.process")
    flag = tmp_path / "ok"
    check = tmp_path / "check.sh"
    check.write_text(f"#!/bin/sh\ntest -e {flag}\n")
    check.chmod(0o755)
    hang = tmp_path / "hang.sh"
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(0o755)
    tracker = ScriptTracker(
        [
            spec(name="check", argv=(str(check),), interval_s=0.2, timeout_s=2.0),
            spec(name="hang", argv=(str(hang),), interval_s=5.0, timeout_s=0.3),
        ]
    )

    async def main() -> None:
        send, receive = trio.open_memory_channel[StatusUpdate](100)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(tracker.run, send)
            with trio.fail_after(10):
                seen: dict[str, object] = {}
                while len(seen) < 2:
                    u = await receive.receive()
                    seen[u.obj.name] = u.status
                assert seen == {"check": BAD, "hang": BAD}
                flag.touch()
                u = await receive.receive()
                assert u == StatusUpdate(ObjectId(Kind.SCRIPT, "check"), GOOD)
            nursery.cancel_scope.cancel()
        assert tracker.statistics()[1].last_timed_out

    trio.run(main)


# --- track files --------------------------------------------------------------------------


def test_read_value(tmp_path: Path) -> None:
    f = tmp_path / "v"
    assert read_value(str(f)) == 0
    f.write_bytes(b" 42\n")
    assert read_value(str(f)) == 42
    f.write_bytes(b"99999999999")
    assert read_value(str(f)) is None


def test_resolve(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    os.symlink(tmp_path / "d", tmp_path / "link")
    assert resolve(str(tmp_path / "link" / "f")) == str((tmp_path / "d" / "f").resolve())
    assert resolve(str(tmp_path / "nodir" / "f")) is None


def test_parse_events() -> None:
    import struct

    data = struct.pack("iIII", 1, 8, 0, 16) + b"name\0".ljust(16, b"\0")
    data += struct.pack("iIII", 2, 0x200, 0, 0)
    assert parse_events(data) == [(1, 8, "name"), (2, 0x200, "")]


def test_inotify_watch(tmp_path: Path) -> None:
    path = tmp_path / "prio"
    path.write_text("5\n")
    other = tmp_path / "other"
    watcher = FileWatcher(
        [
            TrackFile(name="tf", path=str(path)),
            TrackFile(name="later", path=str(other)),
            TrackFile(name="gone", path=str(tmp_path / "missing" / "x")),
        ]
    )
    assert watcher.missing == ["gone"]
    tf, later = ObjectId(Kind.FILE, "tf"), ObjectId(Kind.FILE, "later")

    async def main() -> None:
        send, receive = trio.open_memory_channel[StatusUpdate](100)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watcher.run, send)
            with trio.fail_after(5):
                assert await receive.receive() == StatusUpdate(tf, 5)
                assert await receive.receive() == StatusUpdate(later, 0)
                path.write_text("-30\n")  # close after write
                assert await receive.receive() == StatusUpdate(tf, -30)
                tmp = tmp_path / "tmp"
                tmp.write_text("0x10")
                os.rename(tmp, other)  # moved into place
                assert await receive.receive() == StatusUpdate(later, 16)
                path.unlink()
                assert await receive.receive() == StatusUpdate(tf, 0)
                shutil.move(str(other), str(tmp_path / "elsewhere"))  # moved away
                assert await receive.receive() == StatusUpdate(later, 0)
            nursery.cancel_scope.cancel()

    trio.run(main)


@pytest.mark.skipif(sys.platform != "linux", reason="inotify")
def test_watcher_closes_its_descriptor(tmp_path: Path) -> None:
    watcher = FileWatcher([TrackFile(name="tf", path=str(tmp_path / "f"))])
    watcher.open()
    watcher.open()
    watcher.close()
    watcher.close()
