"""Watching ``track_file`` files with inotify, as keepalived 2.2.7 does.

Owns the I/O side of ``trackers/track_file.c``: each file's directory is
watched (``IN_CLOSE_WRITE | IN_DELETE | IN_MOVE``), so that a file created,
rewritten or renamed into place is seen. On ``IN_CLOSE_WRITE`` or
``IN_MOVED_TO`` the file is read again (``pykad.vrrp.tracking.parse_track_file``
gives its value; a number that does not fit is ignored, keeping the previous
value); on ``IN_DELETE`` or ``IN_MOVED_FROM`` its value is 0. A file that cannot
be opened reads as 0. Paths are resolved as keepalived resolves them at start
(``realpath`` of the file, or of its directory when the file does not exist
yet); a file whose directory does not exist is not watched ("Track file
directory for %s does not exist - removing").

Values are sent as ``StatusUpdate`` on a trio memory channel (every read is
sent; ``Tracker.update`` ignores a value that did not change).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass

import trio

from pykad.config.sections.track_file import TrackFile
from pykad.vrrp.tracking import (
    TRACK_FILE_READ_MAX,
    Kind,
    ObjectId,
    StatusUpdate,
    parse_track_file,
)

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_MOVE = IN_MOVED_FROM | IN_MOVED_TO
IN_DELETE = 0x00000200
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
WATCH_MASK = IN_CLOSE_WRITE | IN_DELETE | IN_MOVE
_EVENT = struct.Struct("iIII")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_init1.restype = ctypes.c_int
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
_libc.inotify_add_watch.restype = ctypes.c_int


def _check(result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


@dataclass(frozen=True, slots=True)
class WatchedFile:
    name: str
    """The ``track_file`` name (the tracked object's name)."""
    path: str
    """The resolved path that is read."""


def resolve(path: str) -> str | None:
    """keepalived's ``init_track_files`` path: the realpath of the file or of its directory."""
    if os.path.exists(path):
        return os.path.realpath(path)
    directory, base = os.path.split(path)
    directory = os.path.realpath(directory or ".")
    if not os.path.isdir(directory):
        return None
    return os.path.join(directory, base)


def read_value(path: str) -> int | None:
    """The file's value (0 when it cannot be read; None for a number that does not fit)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return 0
    try:
        data = os.read(fd, TRACK_FILE_READ_MAX)
    except OSError:
        return 0
    finally:
        os.close(fd)
    return parse_track_file(data)


def parse_events(data: bytes) -> list[tuple[int, int, str]]:
    """(watch descriptor, mask, name) of each inotify event in ``data``."""
    events, offset = [], 0
    while offset + _EVENT.size <= len(data):
        wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
        offset += _EVENT.size
        raw = data[offset : offset + length].split(b"\0", 1)[0]
        offset += length
        events.append((wd, mask, os.fsdecode(raw)))
    return events


class FileWatcher:
    """Watches the files of some ``track_file`` blocks and reports their values."""

    def __init__(self, files: Iterable[TrackFile]) -> None:
        self.files: list[WatchedFile] = []
        self.missing: list[str] = []
        """Names whose directory does not exist (not watched, as keepalived removes them)."""
        for f in files:
            resolved = resolve(f.path)
            if resolved is None:
                self.missing.append(f.name)
            else:
                self.files.append(WatchedFile(f.name, resolved))
        self._fd = -1
        self._watches: dict[tuple[int, str], list[WatchedFile]] = {}

    def read_all(self) -> list[StatusUpdate]:
        """Every file's value now (keepalived reads them at start, before any event)."""
        updates = []
        for f in self.files:
            value = read_value(f.path)
            if value is not None:
                updates.append(StatusUpdate(ObjectId(Kind.FILE, f.name), value))
        return updates

    def open(self) -> None:
        """Create the inotify instance and the watches (idempotent)."""
        if self._fd >= 0:
            return
        self._fd = _check(_libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC))
        for f in self.files:
            directory, base = os.path.split(f.path)
            wd = _check(_libc.inotify_add_watch(self._fd, os.fsencode(directory), WATCH_MASK))
            self._watches.setdefault((wd, base), []).append(f)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._watches.clear()

    def handle(self, data: bytes) -> list[StatusUpdate]:
        """The updates that a batch of inotify events calls for."""
        updates = []
        for wd, mask, name in parse_events(data):
            if mask & (IN_ISDIR | IN_IGNORED):
                continue
            for f in self._watches.get((wd, name), ()):
                obj = ObjectId(Kind.FILE, f.name)
                if mask & (IN_MOVED_FROM | IN_DELETE):
                    updates.append(StatusUpdate(obj, 0))
                elif mask & (IN_MOVED_TO | IN_CLOSE_WRITE):
                    value = read_value(f.path)
                    if value is not None:
                        updates.append(StatusUpdate(obj, value))
        return updates

    async def run(
        self, send: trio.MemorySendChannel[StatusUpdate], *, initial: bool = True
    ) -> None:
        """Watch until cancelled; with ``initial``, first send every file's current value."""
        self.open()
        try:
            if initial:
                for update in self.read_all():
                    await send.send(update)
            while True:
                await trio.lowlevel.wait_readable(self._fd)
                while True:
                    try:
                        data = os.read(self._fd, 65536)
                    except BlockingIOError:
                        break
                    except InterruptedError:
                        continue
                    except OSError as e:
                        if e.errno == errno.EAGAIN:
                            break
                        raise
                    for update in self.handle(data):
                        await send.send(update)
        finally:
            self.close()
