"""The IPVS socket driver: the kernel's virtual-server table over generic netlink.

Owned here: :class:`IpvsSocket`, one NETLINK_GENERIC socket bound to the "IPVS"
family of the network namespace it was opened in (resolving the family loads
``ip_vs``).  :meth:`IpvsSocket.apply` writes a batch of ``pykad.lb.plan``
operations many messages per ``sendmsg`` (chunks of ``chunk_bytes``), each with
NLM_F_ACK and its own sequence number, and matches every answer to its
operation, so one failure is reported for the operation it belongs to while the
rest of the batch still applies (IPVS has no transactions).  :meth:`IpvsSocket.dump`
reads the whole table back as a ``pykad.lb.table.Table``.  Timeouts
(``lvs_timeouts``), sync daemons (``lvs_sync_daemon``), flush and GET_INFO are
here too.  The bytes come from ``pykad.kernel.ipvs_wire`` (Cython when built).

Blocking, like ``pykad.kernel.netlink.NetlinkBatchWriter``: IPVS handles a
request inside ``sendmsg``, so a chunk's answers are queued when it returns; the
receive buffer is made large (SO_RCVBUFFORCE as root) and NETLINK_CAP_ACK keeps
error answers short.  A caller in an event loop runs it in a worker thread.
"""

from __future__ import annotations

import errno
import os
import select
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pykad.kernel import ipvs_wire, rtnl
from pykad.kernel import ipvs_wire_py as w
from pykad.kernel.netlink import NetlinkSocket
from pykad.lb.plan import Op
from pykad.lb.table import Dest, Service, ServiceKey, Table

__all__ = ["IpvsError", "IpvsResult", "IpvsSocket"]

NETLINK_GENERIC = 16
DEFAULT_RCVBUF = 16 << 20
DEFAULT_CHUNK = 128 << 10
RECV_SIZE = 1 << 17


@dataclass(frozen=True, slots=True)
class IpvsResult:
    """What the kernel answered for one operation of a batch."""

    op: Op
    errno: int
    """0: done; else the errno of its NLMSG_ERROR answer (EEXIST, ESRCH, ENOENT, ...)."""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.errno == 0

    def __str__(self) -> str:
        if self.ok:
            return "ok"
        text = os.strerror(self.errno)
        return f"{text}: {self.message}" if self.message else text


class IpvsError(OSError):
    """IPVS is not there, or a request outside a batch (a dump, info) failed."""


class IpvsSocket(NetlinkSocket):
    """A generic-netlink socket speaking to IPVS in this network namespace."""

    def __init__(
        self,
        *,
        rcvbuf: int = DEFAULT_RCVBUF,
        chunk_bytes: int = DEFAULT_CHUNK,
        timeout: float = 10.0,
    ) -> None:
        self.chunk_bytes = chunk_bytes
        self.timeout = timeout
        super().__init__(NETLINK_GENERIC, sndbuf=chunk_bytes * 2, rcvbuf=rcvbuf)
        self._buf = bytearray(RECV_SIZE)
        try:
            self.family = self._resolve()
        except BaseException:
            self._sock.close()
            raise

    def _recv(self, deadline: float) -> bytes:
        if not select.select([self._sock], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise IpvsError(errno.ETIMEDOUT, "IPVS: no answer from the kernel")
        n = self._sock.recv_into(self._buf)
        return bytes(self._buf[:n])

    def _ask(self, message: bytes, seq: int, what: str) -> bytes:
        """Send one request, return the reply buffer(s) up to its ACK or NLMSG_DONE."""
        self._sock.send(message)
        deadline = time.monotonic() + self.timeout
        replies = []
        while True:
            data = self._recv(deadline)
            replies.append(data)
            for msg in rtnl.iter_messages(data):
                if msg.seq != seq:
                    continue
                if msg.type == w.NLMSG_ERROR:
                    err = -int.from_bytes(msg.payload[:4], "little", signed=True)
                    if err:
                        raise IpvsError(err, f"IPVS {what}: {os.strerror(err)}")
                    return b"".join(replies)
                if msg.type == w.NLMSG_DONE:
                    err = -int.from_bytes(msg.payload[:4], "little", signed=True)
                    if err:
                        raise IpvsError(err, f"IPVS {what}: {os.strerror(err)}")
                    return b"".join(replies)

    def _resolve(self) -> int:
        seq = self.reserve(1)
        try:
            reply = self._ask(w.get_family_request(seq), seq, "family lookup")
        except IpvsError as exc:
            if exc.errno == errno.ENOENT:
                raise IpvsError(errno.ENOENT, "IPVS is not available (no ip_vs module)") from exc
            raise
        family = w.parse_family(reply)
        if family is None:
            raise IpvsError(errno.EPROTO, "IPVS: the family lookup carried no family id")
        return family

    def _simple(self, cmd: int, what: str, body: bytes = b"") -> bytes:
        seq = self.reserve(1)
        return self._ask(w.request(self.family, cmd, seq, body), seq, what)

    # ---- writing

    def apply(self, ops: Sequence[Op]) -> list[IpvsResult]:
        """Apply ``ops`` in order; one result per operation (errno 0: done).

        Operations go out in chunks of at most ``chunk_bytes``, one ``sendmsg``
        each; only the last request of a chunk asks for an acknowledgement
        (``ipvs_wire_py.with_ack``): every failed request is answered with its
        errno, so once that acknowledgement is read, a request of the chunk
        without an answer succeeded.  A lost answer (receive buffer overrun)
        gives the chunk's unanswered requests ENOBUFS, a missing one ETIMEDOUT:
        the table is then unknown and the caller dumps it again.
        """
        if not ops:
            return []
        first = self.reserve(len(ops))
        messages = ipvs_wire.encode_ops(self.family, ops, first)
        errors: dict[int, rtnl.Ack] = {}
        start = 0
        while start < len(messages):
            end, size = start, 0
            while end < len(messages) and (
                end == start or size + len(messages[end]) <= self.chunk_bytes
            ):
                size += len(messages[end])
                end += 1
            last = (first + end - 1) & 0xFFFFFFFF
            self._sock.send(b"".join([*messages[start : end - 1], w.with_ack(messages[end - 1])]))
            lost = self._await_ack(last, errors)
            if lost:
                for i in range(start, end):
                    errors.setdefault((first + i) & 0xFFFFFFFF, rtnl.Ack(first + i, lost))
            start = end
        results = []
        for i, op in enumerate(ops):
            ack = errors.get((first + i) & 0xFFFFFFFF)
            results.append(IpvsResult(op, ack.errno, ack.message) if ack else IpvsResult(op, 0))
        return results

    def _await_ack(self, seq: int, errors: dict[int, rtnl.Ack]) -> int:
        """Read answers into ``errors`` until request ``seq`` is answered; 0, or the
        errno (ENOBUFS, ETIMEDOUT) for what is unknown."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                data = self._recv(deadline)
            except IpvsError as exc:
                return exc.errno or errno.ETIMEDOUT
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                return errno.ENOBUFS
            for ack in rtnl.parse_acks(data):
                if ack.errno:
                    errors[ack.seq] = ack
                if ack.seq == seq:
                    return 0

    def flush(self) -> None:
        """IPVS_CMD_FLUSH: every service and destination goes (``lvs_flush``)."""
        self._simple(w.CMD_FLUSH, "flush")

    def set_timeouts(self, timeouts: w.Timeouts) -> None:
        seq = self.reserve(1)
        self._ask(w.set_timeouts_request(self.family, timeouts, seq), seq, "set timeouts")

    def start_daemon(self, daemon: w.SyncDaemon) -> None:
        seq = self.reserve(1)
        self._ask(w.new_daemon_request(self.family, daemon, seq), seq, "start sync daemon")

    def stop_daemon(self, state: int) -> None:
        seq = self.reserve(1)
        self._ask(w.del_daemon_request(self.family, state, seq), seq, "stop sync daemon")

    # ---- reading

    def info(self) -> w.Info:
        info = w.parse_info(self._simple(w.CMD_GET_INFO, "info"))
        if info is None:
            raise IpvsError(errno.EPROTO, "IPVS info: no reply")
        return info

    def timeouts(self) -> w.Timeouts:
        found = w.parse_timeouts(self._simple(w.CMD_GET_CONFIG, "get timeouts"))
        if found is None:
            raise IpvsError(errno.EPROTO, "IPVS get timeouts: no reply")
        return found

    def daemons(self) -> list[w.SyncDaemon]:
        seq = self.reserve(1)
        reply = self._ask(w.request(self.family, w.CMD_GET_DAEMON, seq, dump=True), seq, "daemons")
        return w.parse_daemons(reply)

    def services(self) -> list[Service]:
        return ipvs_wire.parse_services(self.service_dump())

    def service_dump(self) -> bytes:
        """The raw answer to a GET_SERVICE dump (every service, with its counters)."""
        seq = self.reserve(1)
        return self._ask(
            w.request(self.family, w.CMD_GET_SERVICE, seq, dump=True), seq, "service dump"
        )

    def dests(self, key: ServiceKey) -> list[Dest]:
        """The destinations of one service (a GET_DEST dump).

        One dump at a time: IPVS fills the first part of a dump when it is asked
        and ends it only when that part is read, so a second dump request in the
        same ``sendmsg`` would fail with EBUSY."""
        seq = self.reserve(1)
        reply = self._ask(w.dump_dests_request(self.family, key, seq), seq, "destination dump")
        return ipvs_wire.parse_dests(reply, key.af)

    def dump(self) -> Table:
        """The whole table: every service and its destinations."""
        services = {s.key: s for s in self.services()}
        return Table(services, {k: {d.key: d for d in self.dests(k)} for k in services})
