"""The rtnetlink socket driver: many changes per ``send``, one answer per change.

This module owns the NETLINK_ROUTE socket (RFC 3549, netlink(7), rtnetlink(7)) of a
process's current network namespace: :class:`NetlinkBatchWriter` sends a batch of
requests built by ``pykad.kernel.rtnl`` in as few ``send`` calls as fit (chunks of
``chunk_bytes``), each request with NLM_F_ACK and its own sequence number, and
reads until every sequence number is answered, so an error is reported for the
one request it belongs to and the rest of the batch still applies.  rtnetlink
handles a request synchronously inside ``send``, so each chunk's answers are
queued when ``send`` returns; the receive buffer is made large enough to hold
them (SO_RCVBUFFORCE as root) and NETLINK_CAP_ACK keeps error replies short.

``NetlinkBatchWriter`` implements ``pykad.kernel.api.Addresses``, ``Routes`` and
``Rules``.  It is blocking; all reading happens in :meth:`NetlinkBatchWriter.receive`
(``block=False`` drains without waiting) so an event-loop driver can call it when
the socket (:meth:`fileno`) is readable.  The socket belongs to the namespace the
thread was in when it was created.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import select
import socket
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

from pykad.kernel import rtnl
from pykad.kernel.api import (
    AddressEntry,
    AddressOp,
    IPInterface,
    OpResult,
    ReadySend,
    RouteOp,
    RuleOp,
)

_TEMPLATES = 256
"""Address batches kept encoded (:meth:`NetlinkBatchWriter._encoded`)."""

__all__ = ["NetlinkBatchWriter", "NetlinkError"]

NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33
DEFAULT_RCVBUF = 4 << 20
DEFAULT_CHUNK = 64 << 10
RECV_SIZE = 1 << 18


def open_socket(protocol: int, *, sndbuf: int, rcvbuf: int) -> socket.socket:
    """A bound netlink socket for batches: large buffers (forced as root), short error
    answers (NETLINK_CAP_ACK) with the kernel's message (NETLINK_EXT_ACK)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
    try:
        for force, plain, size in (
            (SO_SNDBUFFORCE, socket.SO_SNDBUF, sndbuf),
            (SO_RCVBUFFORCE, socket.SO_RCVBUF, rcvbuf),
        ):
            try:
                sock.setsockopt(socket.SOL_SOCKET, force, size)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, plain, size)
        for option in (NETLINK_CAP_ACK, NETLINK_EXT_ACK):
            # older kernels: full echoes, no error strings
            with contextlib.suppress(OSError):
                sock.setsockopt(SOL_NETLINK, option, 1)
        sock.bind((0, 0))
    except BaseException:
        sock.close()
        raise
    return sock


class NetlinkSocket:
    """A netlink socket for batches (:func:`open_socket`) with its sequence numbers."""

    def __init__(self, protocol: int, *, sndbuf: int, rcvbuf: int) -> None:
        self._sock = open_socket(protocol, sndbuf=sndbuf, rcvbuf=rcvbuf)
        self._seq = 1

    def fileno(self) -> int:
        return self._sock.fileno()

    @property
    def port_id(self) -> int:
        """The socket's netlink port: the ``nlmsg_pid`` of the notifications its
        requests cause (keepalived tells its own changes from others' by it)."""
        port: int = self._sock.getsockname()[0]
        return port

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def reserve(self, count: int) -> int:
        """``count`` consecutive sequence numbers; returns the first (mod 2**32)."""
        first = self._seq
        self._seq = (self._seq + count) & 0xFFFFFFFF or 1
        return first


class NetlinkError(OSError):
    """A dump or the socket itself failed (per-request errors are results, not this)."""


class NetlinkBatchWriter(NetlinkSocket):
    """A NETLINK_ROUTE socket that applies batches of address, route and rule changes."""

    def __init__(
        self,
        *,
        rcvbuf: int = DEFAULT_RCVBUF,
        chunk_bytes: int = DEFAULT_CHUNK,
        timeout: float = 10.0,
    ) -> None:
        self.chunk_bytes = chunk_bytes
        self.timeout = timeout
        super().__init__(NETLINK_ROUTE, sndbuf=max(chunk_bytes * 2, 1), rcvbuf=rcvbuf)
        self._buf = bytearray(RECV_SIZE)
        self._templates: dict[tuple[AddressOp, ...], tuple[bytes, tuple[int, ...]]] = {}

    # ---- the batch

    def transact(self, messages: Sequence[bytes], first_seq: int) -> list[rtnl.Ack]:
        """Send ``messages`` (numbered from ``first_seq``); one :class:`rtnl.Ack` each.

        Messages go out in chunks of at most ``chunk_bytes`` (one ``send`` each);
        after each chunk its answers are read before the next is sent, so the
        receive buffer never holds more than one chunk's answers.  A reply lost to
        a receive-buffer overrun becomes ENOBUFS, a missing one ETIMEDOUT.
        """
        tracker = rtnl.AckTracker(first_seq, len(messages))
        start = 0
        while start < len(messages):
            end, size = start, 0
            while end < len(messages) and (
                end == start or size + len(messages[end]) <= self.chunk_bytes
            ):
                size += len(messages[end])
                end += 1
            chunk = rtnl.AckTracker(first_seq + start, end - start)
            self._sock.send(b"".join(messages[start:end]))
            self.receive(chunk)
            for ack in chunk.results():
                tracker.add(ack)
            start = end
        return tracker.results()

    def receive(self, tracker: rtnl.AckTracker, *, block: bool = True) -> None:
        """Read answers into ``tracker`` until it is done (or, non-blocking, until
        the socket is empty).  The one receive loop of this class.

        The socket itself never blocks (every read is MSG_DONTWAIT); a blocking
        call waits for readability with ``select`` up to ``timeout`` seconds, then
        gives what is still unanswered ETIMEDOUT.
        """
        sock, buf = self._sock, self._buf
        deadline = time.monotonic() + self.timeout
        overrun = False
        while not tracker.done:
            try:
                n = sock.recv_into(buf, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                if overrun:
                    tracker.fail_pending(errno.ENOBUFS, "answer lost: receive buffer full")
                    return
                if not block:
                    return
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([sock], [], [], left)[0]:
                    tracker.fail_pending(errno.ETIMEDOUT, "no answer from the kernel")
                    return
                continue
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                # Answers were dropped: read what is still queued, the rest is lost.
                overrun = True
                continue
            tracker.feed(bytes(buf[:n]))

    # ---- Addresses, Routes, Rules

    def apply(self, ops: Sequence[AddressOp]) -> list[OpResult[AddressOp]]:
        """Apply address changes as one batch (``pykad.kernel.api.Addresses``)."""
        first = self.reserve(len(ops))
        acks = self.transact(rtnl.address_messages(ops, first), first)
        return [OpResult(op, ack.errno, ack.message) for op, ack in zip(ops, acks, strict=True)]

    def send(self, ops: Sequence[AddressOp]) -> Callable[[], list[OpResult[AddressOp]]]:
        """Send address changes now, read the answers when called (``Addresses.send``).

        A batch larger than one chunk is applied at once (its answers must be read
        between chunks).
        """
        ready = self.ready_to_send(ops)
        if ready is None:
            done = self.apply(ops)
            return lambda: done
        self._sock.send(ready.message)
        return ready.answers

    def ready_to_send(self, ops: Sequence[AddressOp]) -> ReadySend | None:
        """``ops`` numbered (sequence numbers reserved now) for a send on :meth:`fileno`."""
        encoded = self._encoded(ops)
        if encoded is None:
            return None
        batch, offsets = encoded
        first = self.reserve(len(ops))
        message = bytearray(batch)
        for i, offset in enumerate(offsets):
            rtnl.SEQ.pack_into(message, offset, (first + i) & 0xFFFFFFFF)

        def answers() -> list[OpResult[AddressOp]]:
            tracker = rtnl.AckTracker(first, len(ops))
            self.receive(tracker)
            acks = tracker.results()
            return [OpResult(op, a.errno, a.message) for op, a in zip(ops, acks, strict=True)]

        return ReadySend(self.fileno(), bytes(message), answers, self.fileno)

    def prepare(self, ops: Sequence[AddressOp]) -> None:
        """Encode ``ops`` now: :meth:`send` then only numbers them (``Addresses.prepare``)."""
        self._encoded(ops)

    def _encoded(self, ops: Sequence[AddressOp]) -> tuple[bytes, tuple[int, ...]] | None:
        """The messages of ``ops`` with where their sequence numbers go, made once (a
        takeover sends the same VIP set again); None if they take more than a chunk."""
        key = tuple(ops)
        found = self._templates.get(key)
        if found is None:
            messages = rtnl.address_messages(ops, 0)
            if sum(map(len, messages)) > self.chunk_bytes:
                return None
            offsets = tuple(itertools.accumulate((len(m) for m in messages[:-1]), initial=0))
            found = (b"".join(messages), tuple(o + rtnl.SEQ_OFFSET for o in offsets))
            if len(self._templates) >= _TEMPLATES:
                self._templates.clear()
            self._templates[key] = found
        return found

    def apply_routes(self, ops: Sequence[RouteOp]) -> list[OpResult[RouteOp]]:
        first = self.reserve(len(ops))
        messages = [rtnl.route_message(op, first + i) for i, op in enumerate(ops)]
        acks = self.transact(messages, first)
        return [OpResult(op, ack.errno, ack.message) for op, ack in zip(ops, acks, strict=True)]

    def apply_rules(self, ops: Sequence[RuleOp]) -> list[OpResult[RuleOp]]:
        first = self.reserve(len(ops))
        messages = [rtnl.rule_message(op, first + i) for i, op in enumerate(ops)]
        acks = self.transact(messages, first)
        return [OpResult(op, ack.errno, ack.message) for op, ack in zip(ops, acks, strict=True)]

    def links(self) -> list[rtnl.LinkEvent]:
        """Every interface (RTM_GETLINK dump): index, name, flags, MAC."""
        seq = self.reserve(1)
        self._sock.send(rtnl.dump_links_request(seq))
        found: list[rtnl.LinkEvent] = []
        while True:
            if not select.select([self._sock], [], [], self.timeout)[0]:
                raise NetlinkError(errno.ETIMEDOUT, "link dump: no answer")
            n = self._sock.recv_into(self._buf)
            data = bytes(self._buf[:n])
            found += [e for e in rtnl.parse_links(data) if not e.deleted]
            done, err = rtnl.dump_done(data, seq)
            if err:
                raise NetlinkError(err, f"link dump failed: {errno.errorcode.get(err, err)}")
            if done:
                return found

    def entries(self, ifindex: int | None = None, family: int = 0) -> list[AddressEntry]:
        """Every address (on ``ifindex``; ``family`` AF_INET/AF_INET6, 0 both) with details."""
        seq = self.reserve(1)
        self._sock.send(rtnl.dump_addresses_request(seq, family))
        found: list[AddressEntry] = []
        while True:
            if not select.select([self._sock], [], [], self.timeout)[0]:
                raise NetlinkError(errno.ETIMEDOUT, "address dump: no answer")
            n = self._sock.recv_into(self._buf)
            entries, done, err = rtnl.parse_address_dump(bytes(self._buf[:n]), seq)
            found += entries
            if err:
                raise NetlinkError(err, f"address dump failed: {errno.errorcode.get(err, err)}")
            if done:
                break
        return [e for e in found if ifindex is None or e.ifindex == ifindex]

    def dump(self, ifindex: int | None = None) -> list[tuple[int, IPInterface]]:
        """(ifindex, address) of every address (``pykad.kernel.api.Addresses``)."""
        return [e.key for e in self.entries(ifindex)]
