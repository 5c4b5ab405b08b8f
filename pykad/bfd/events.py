"""BFD session events for the VRRP and checker processes, and their pipe format.

keepalived's BFD process writes one fixed-size record per event into a pipe to
each process that uses BFD (``bfd_event.c``): the instance name, Up or Down, and
when it was sent, so the reader can log the delivery delay.  pykad's record is
``EVENT_SIZE`` bytes (the name NUL-padded to 32, the state, the send time in
microseconds of CLOCK_MONOTONIC); a record is smaller than PIPE_BUF, so a write
is atomic and a reader never sees half of one.

Which state changes are events is keepalived's rule too (``bfd_scheduler.c``):
every entry to Up; a departure from Up, unless the peer took the session down
administratively (RFC 5880 section 6.8.16: that is not a failure); and the
state of every session when the BFD process starts.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from pykad.bfd.packet import State
from pykad.bfd.session import StateChange

NAME_SIZE = 32
_RECORD = struct.Struct(f"={NAME_SIZE}s?xxxq")
EVENT_SIZE = _RECORD.size


class BfdEvent(NamedTuple):
    """A session came up or went down."""

    name: str
    up: bool
    sent_us: int


def is_event(change: StateChange, remote_state: State) -> bool:
    """Whether ``change`` is told to BFD's users (keepalived's rule, see above)."""
    if change.new is State.UP:
        return True
    return change.old is State.UP and remote_state is not State.ADMIN_DOWN


def encode(event: BfdEvent) -> bytes:
    return _RECORD.pack(event.name.encode()[:NAME_SIZE], event.up, event.sent_us)


def decode(buffer: bytes) -> tuple[list[BfdEvent], bytes]:
    """The whole records in ``buffer``, and what is left of an incomplete one."""
    whole = len(buffer) - len(buffer) % EVENT_SIZE
    events = [
        BfdEvent(name.rstrip(b"\0").decode(errors="replace"), up, sent)
        for name, up, sent in _RECORD.iter_unpack(buffer[:whole])
    ]
    return events, buffer[whole:]
