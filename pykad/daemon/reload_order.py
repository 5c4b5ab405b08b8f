"""VRRP first: the other children re-read the configuration after the VRRP child.

A SIGHUP reaches every child at once, and each reads the configuration again. The
VRRP child's reload is the one that waits on nothing but itself (adverts carry the new
priority, VIPs are added), and on a small machine two processes reading beside each
other slow each other down by half or more (measured: a 1,000-instance reload of the
VRRP child takes ~33 ms alone, 45-70 ms beside one busy process). So the VRRP child
marks its reload with a file in the run directory (``vrrp.reloading``, holding its
pid) from the moment it takes the SIGHUP until it has applied the new configuration,
and the background re-reads (the checker and BFD children's, the parent's look at the
top-level keywords) wait while the mark is there before they read. A
mark whose process is gone, or one that stays longer than ``LIMIT_S``, is not waited
for. Without a run directory (``--no-control``) nobody marks and nobody waits.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

MARK = "vrrp.reloading"
SETTLE_S = 0.005
"""How long a child waits for the VRRP child to put its mark (it was signalled first)."""
POLL_S = 0.002
LIMIT_S = 5.0


def _path(directory: str) -> str:
    return os.path.join(directory, MARK)


def mark(directory: str | None) -> None:
    """The VRRP child is reloading (idempotent)."""
    if directory is None:
        return
    with contextlib.suppress(OSError), open(_path(directory), "w") as f:
        f.write(f"{os.getpid()}\n")


def unmark(directory: str | None) -> None:
    if directory is not None:
        with contextlib.suppress(OSError):
            os.unlink(_path(directory))


@contextlib.contextmanager
def reloading(directory: str | None) -> Iterator[None]:
    """Marked for the block (also if it fails or is cancelled)."""
    mark(directory)
    try:
        yield
    finally:
        unmark(directory)


def _marked(directory: str) -> bool:
    try:
        with open(_path(directory)) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def after_vrrp(directory: str | None) -> float:
    """Wait while the VRRP child is reloading (see the module docstring); how long.
    Called by the background re-reads, in their threads."""
    if directory is None:
        return 0.0
    start = time.monotonic()
    time.sleep(SETTLE_S)
    while _marked(directory) and time.monotonic() - start < LIMIT_S:
        time.sleep(POLL_S)
    return time.monotonic() - start
