"""pykad.drivers.timer.TimerLoop: deadlines fired in order, and late wake-ups told."""

from __future__ import annotations

import trio

from pykad.drivers.timer import TimerLoop, now_us


def run_until_fired(loop: TimerLoop[str], count: int) -> list[str]:
    fired: list[str] = []

    async def main() -> None:
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:

                def fire(key: str, now: int) -> None:
                    fired.append(key)
                    if len(fired) == count:
                        nursery.cancel_scope.cancel()

                nursery.start_soon(loop.run, fire)

    trio.run(main)
    return fired


def watched() -> tuple[TimerLoop[str], list[int], int]:
    """A loop telling wake-ups more than 1 s late into a list; the time now."""
    told: list[int] = []
    loop: TimerLoop[str] = TimerLoop()
    loop.late = (1_000_000, told.append)
    return loop, told, now_us()


def test_a_wake_up_past_the_threshold_is_told_how_late() -> None:
    loop, told, start = watched()
    loop.schedule("late", start - 2_000_000)
    loop.schedule("next", start + 1_000)
    assert run_until_fired(loop, 2) == ["late", "next"]
    assert len(told) == 1 and 2_000_000 <= told[0] < 3_000_000


def test_a_cancelled_deadline_is_not_taken_for_a_late_one() -> None:
    loop, told, start = watched()
    loop.schedule("gone", start - 5_000_000)
    loop.schedule("gone", None)  # its heap entry stays, stale
    loop.schedule("due", start + 1_000)
    assert run_until_fired(loop, 1) == ["due"]
    assert told == []
