"""The daemon processes' garbage-collector settings.

Owns :func:`freeze_long_lived`: what a service builds from its configuration lives
as long as the process, yet every full pass of Python's cyclic collector walks all
of it with the GIL held.  With a large configuration one pass stalls the process
for tens of milliseconds (10,000 checkers: about 60 ms), long enough to make
checkers late and BFD or VRRP timers miss.  Frozen objects (``gc.freeze``) are
left out of those passes; reference counting still frees them.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_long_lived"]


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
