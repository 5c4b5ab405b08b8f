"""systemd's readiness protocol (``sd_notify(3)``), written without libsystemd.

Owns the datagram the parent sends to ``$NOTIFY_SOCKET`` (a ``Type=notify``
unit, ``conf/systemd/pykad.service``): ``READY=1`` once every child has been
started, ``RELOADING=1`` with ``MONOTONIC_USEC`` when SIGHUP is passed on and
``READY=1`` again after, ``STOPPING=1`` when it stops.  The socket is a Unix
datagram socket named by a path or, with a leading ``@``, in the abstract
namespace.  No ``$NOTIFY_SOCKET`` (not under systemd): nothing is sent.  An
error is never fatal (systemd would time the unit out, which says enough).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping


def address(environ: Mapping[str, str]) -> str | bytes | None:
    """Where to send, from ``NOTIFY_SOCKET`` (None: not under a notify unit)."""
    path = environ.get("NOTIFY_SOCKET", "")
    if not path or path[0] not in "/@":
        return None
    if path[0] == "@":
        return b"\0" + path[1:].encode()
    return path


def message(*, ready: bool = False, reloading: bool = False, stopping: bool = False,
            status: str | None = None, monotonic_us: int | None = None) -> bytes:  # fmt: skip
    """The datagram's text (``KEY=VALUE`` lines)."""
    lines = []
    if reloading:
        lines.append("RELOADING=1")
        if monotonic_us is not None:
            lines.append(f"MONOTONIC_USEC={monotonic_us}")
    if ready:
        lines.append("READY=1")
    if stopping:
        lines.append("STOPPING=1")
    if status is not None:
        lines.append(f"STATUS={status}")
    return ("\n".join(lines) + "\n").encode()


def notify(data: bytes, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``data`` to systemd; whether it was sent."""
    where = address(os.environ if environ is None else environ)
    if where is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(data, where)
    except OSError:
        return False
    return True


def ready(status: str | None = None) -> bool:
    return notify(message(ready=True, status=status))


def reloading() -> bool:
    now_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify(message(reloading=True, monotonic_us=now_us))


def stopping() -> bool:
    return notify(message(stopping=True))
