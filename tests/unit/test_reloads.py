"""SIGHUP reloads beside the signal loop (``process.Reloads``): one at a time, one more
for SIGHUPs during a reload, and a stop that does not wait for them."""

from __future__ import annotations

import trio
import trio.testing

from pykad.daemon.process import Reloads


def test_one_at_a_time_one_more_after_and_cancelled_by_a_stop() -> None:
    runs: list[float] = []
    ends: list[float] = []

    async def slow_reload() -> None:
        runs.append(trio.current_time())
        await trio.sleep(10)  # a big config read
        ends.append(trio.current_time())

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            reloads = Reloads(nursery, slow_reload)
            reloads.request()
            await trio.sleep(1)
            reloads.request()  # during the first: one more after it
            reloads.request()  # ... not two more
            await trio.sleep(15)
            assert runs == [0, 10] and ends == [10]
            reloads.cancel()  # the stop: the second reload is abandoned at once
            await trio.sleep(0)
        assert ends == [10]
        assert trio.current_time() == 16

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_request_after_a_reload_ended_runs_again() -> None:
    count = 0

    async def reload() -> None:
        nonlocal count
        count += 1

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            reloads = Reloads(nursery, reload)
            reloads.request()
            await trio.testing.wait_all_tasks_blocked()
            reloads.request()
            await trio.testing.wait_all_tasks_blocked()
        assert count == 2

    trio.run(main)
