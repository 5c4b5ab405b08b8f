"""Send prebuilt Ethernet frames on one interface through an AF_PACKET socket.

Owned here: the link-layer transmit path for frames that the kernel's IP stack will
not build for us, that is the gratuitous ARPs and unsolicited Neighbour Advertisements
of :mod:`pykad.vrrp.gratuitous` (RFC 5798 section 6.4.1 and 8.1.2, RFC 5227, RFC 4861
section 7.2.6).  keepalived does the same (``vrrp_arp.c``/``vrrp_ndisc.c``: a
``PF_PACKET``/``SOCK_RAW`` socket and ``sendto`` with the interface index).

:class:`PacketSender` opens a ``SOCK_RAW`` packet socket with protocol 0 (it receives
nothing), bound to one interface index, non-blocking.  :meth:`PacketSender.send`
never blocks and never raises for a frame that cannot go out (full queue, link down,
interface gone): it counts the failure, logs the first of a run of failures (with its
errno), and moves on, since a lost GARP is repeated by the schedule anyway.  Only
opening the socket raises.  The frames must carry their
whole Ethernet header; the kernel adds nothing but padding on real NICs.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

__all__ = ["PacketSender", "PacketSenderStatistics"]

log = logging.getLogger("pykad.vrrp")


@dataclass(frozen=True, slots=True)
class PacketSenderStatistics:
    """A snapshot of what a :class:`PacketSender` did."""

    ifindex: int
    sent: int
    """Frames the kernel accepted."""
    errors: int
    """Frames that could not be sent (including ``would_block``)."""
    would_block: int
    """Of ``errors``: the socket's send queue was full (EAGAIN)."""
    last_errno: int | None
    closed: bool


class PacketSender:
    """A non-blocking AF_PACKET sender bound to one interface (by index or name)."""

    def __init__(self, ifindex: int | str) -> None:
        if isinstance(ifindex, str):
            self.ifname = ifindex
            self.ifindex = socket.if_nametoindex(ifindex)
        else:
            self.ifindex = ifindex
            self.ifname = socket.if_indextoname(ifindex)
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
        try:
            sock.setblocking(False)
            # Bound by name here, but the kernel keeps the index: a rename later is harmless.
            sock.bind((self.ifname, 0))
        except BaseException:
            sock.close()
            raise
        self._sock: socket.socket | None = sock
        self._sent = 0
        self._errors = 0
        self._would_block = 0
        self._last_errno: int | None = None
        self._failing = False  # the last frame failed (and that was logged)

    def fileno(self) -> int:
        return -1 if self._sock is None else self._sock.fileno()

    def send(self, frames: Sequence[bytes]) -> int:
        """Send each frame, in order, without blocking; return how many went out.

        A frame that fails is counted (see :meth:`statistics`); the rest are still
        tried.  After :meth:`close` every frame counts as an error (EBADF).
        """
        sock = self._sock
        sent = 0
        for frame in frames:
            if sock is None:
                self._failed(errno.EBADF)
                continue
            try:
                sock.send(frame)
            except BlockingIOError:
                self._would_block += 1
                self._failed(errno.EAGAIN)
            except OSError as exc:
                self._failed(exc.errno if exc.errno is not None else errno.EIO)
            else:
                sent += 1
                self._failing = False
        self._sent += sent
        return sent

    def count(self, errnos: Sequence[int]) -> None:
        """Count frames someone else sent on :meth:`fileno` (0: sent, else its errno)."""
        for err in errnos:
            if not err:
                self._sent += 1
                self._failing = False
                continue
            if err in (errno.EAGAIN, errno.EWOULDBLOCK):
                self._would_block += 1
            self._failed(err)

    def _failed(self, err: int) -> None:
        self._errors += 1
        self._last_errno = err
        if not self._failing:  # one line per run of failures: a dead link must not flood
            self._failing = True
            log.warning(
                "%s: cannot send a gratuitous ARP/NA: %s (%d failed so far)",
                self.ifname,
                os.strerror(err),
                self._errors,
            )

    def statistics(self) -> PacketSenderStatistics:
        return PacketSenderStatistics(
            ifindex=self.ifindex,
            sent=self._sent,
            errors=self._errors,
            would_block=self._would_block,
            last_errno=self._last_errno,
            closed=self._sock is None,
        )

    def close(self) -> None:
        """Close the socket (idempotent)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._sock is None else "open"
        return f"<PacketSender {self.ifname} (ifindex {self.ifindex}) {state}>"
