"""The daemon processes' garbage-collector settings.

Owns :func:`freeze_long_lived` and :func:`collector_paused`.  What a service builds
from its configuration lives as long as the process, yet every full pass of Python's
cyclic collector walks all of it with the GIL held.  With a large configuration one
pass stalls the process for tens of milliseconds (10,000 checkers: about 60 ms), long
enough to make checkers late and BFD or VRRP timers miss.  Frozen objects (``gc.freeze``) are
left out of those passes; reference counting still frees them.

Reading a configuration makes hundreds of thousands of objects and no garbage in
cycles: every collection it triggers walks the young objects for nothing (half the
checker's read of a 10,000-real-server file).  :func:`collector_paused` keeps the
collector off while a configuration is read.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused", "freeze_long_lived"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off for the block (back on after it, if it was on before:
    of two reads in threads, the first to start switches it on again)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def freeze_long_lived(*, collect: bool = True) -> None:
    """Collect, then freeze what is left.  Called once a service has set up, and again
    after a reload: what the old configuration left in cycles is collected first
    (``unfreeze`` puts the frozen objects back in the collector's reach).  Without
    ``collect`` (where one full pass would stall timers that run, such as VRRP's
    adverts during a reload) only the new objects are frozen."""
    if collect:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
