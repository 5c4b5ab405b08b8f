"""The reading end of the BFD process's event pipe (``pykad.bfd.events``).

``BfdEventReader.run`` waits for the pipe, reads what is there, and hands each
whole record to its callback with the time it was read; it returns when the
BFD process has gone (end of file).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import trio

from pykad.bfd import events
from pykad.drivers.timer import now_us


class BfdEventReader:
    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.received = 0

    async def run(self, deliver: Callable[[events.BfdEvent, int], None]) -> None:
        pending = b""
        while True:
            await trio.lowlevel.wait_readable(self.fd)
            try:
                chunk = os.read(self.fd, 64 * events.EVENT_SIZE)
            except BlockingIOError:
                continue
            if not chunk:
                return
            got, pending = events.decode(pending + chunk)
            now = now_us()
            self.received += len(got)
            for event in got:
                deliver(event, now)

    def close(self) -> None:
        os.close(self.fd)
