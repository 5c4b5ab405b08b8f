"""Steady-state VRRP adverts in bulk: the pure-Python twin of ``pykad._fastpath.vrrp_fast``.

``pykad.drivers.fast`` picks the compiled module or this one; both have this API
and give the same results.

``RxFilter`` belongs to one raw IPv4 VRRP socket (whose reads include the IP
header). ``arm(vrid, src, dst, payload, hold_us)`` tells it the advert a BACKUP
expects from its master; ``drain`` then absorbs every packet that is exactly that
advert (TTL 255, protocol 112, same source, destination and VRRP bytes) by
pushing ``deadline(vrid)`` to its arrival time plus ``hold_us`` and counting it,
and returns every other packet as ``(vrrp_payload, src, dst, ttl, arrival_us)``.
Packets that are not IPv4 (shorter than 20 bytes, version not 4, IHL below 5 or
past the end, or longer than ``MAX_PACKET``) are dropped and counted in ``dropped``.
``arm`` may give the deadline a start (``deadline_us``, the router's own before
any absorbed advert); ``expiring(before_us)`` and ``next_deadline()`` then watch
the armed deadlines, so that one timer serves all the backups of a socket.

A packet's arrival time is ``now_us`` (CLOCK_MONOTONIC, as the cores count) less
how long ago the kernel received it: its ``SCM_TIMESTAMPNS`` (the socket has
``SO_TIMESTAMPNS`` on) against ``wall_us``, the wall clock read next to ``now_us``.
Without a timestamp, with ``wall_us`` negative, or when the timestamp is ahead of
``wall_us`` or more than ``MAX_LATENESS_US`` behind it (a stepped clock), it is
``now_us``. So a timer started by an advert runs from when the advert came, not
from when the event loop got round to reading it.

``TxPump`` sends the adverts of MASTER instances: ``arm`` gives a key its packets
``(payload, dst, src)``, a socket, an interval and a first send time;
``send_due(now_us)`` sends every due packet (per socket, in the order the keys
fell due), moves each key on by one interval (or to ``now_us + interval`` if it
fell more than an interval behind: no catch-up burst) and returns the next
deadline. ``sent`` and ``errors`` count packets per key since the pump was made;
a send that fails is counted, never raised, and when a socket is full (EAGAIN)
the rest of that socket's packets in the round are counted as failed unsent.

``Burst`` is a list of sends made ready in advance and sent in order by
``fire()``, for the moment a BACKUP takes over (its first advert, the VIPs'
netlink batch, its first gratuitous ARPs): ``add_ip`` takes a VRRP message as
``TxPump`` does, ``add`` bytes for a socket that knows where they go (a netlink
socket to the kernel, a packet socket bound to its interface). ``fire`` returns
the errno of each send, 0 when it was sent.

The leave functions send a stopping daemon's priority-0 adverts (RFC 5798 6.4.3)
from the stop signal's handler itself: ``leave_install(signums)`` puts a handler
in front of the Python handler each signal has (which runs right after it),
``leave_set(bursts)`` gives it the bursts to send (held, unchangeable, until the
next call), and it sends them once; ``leave_results()`` then returns the errno
of each send. No other advert may follow them: every send of one is wrapped in
``send_begin()`` (False once they went: it is not sent) and ``send_end()``, and a
signal that comes in between leaves them to ``send_end``, right after that
advert. ``LeaveWatch.mark()`` (a trio instrument's) stops the handler sending
until the instrument's ``ready`` callback, called right before the loop's next
wait, has set the bursts again. The compiled handler is C, run
when the signal arrives (on the main thread only), before Python's; this twin's
is Python, run when Python runs its handlers.

The relay functions serve the daemon's parent: ``relay_install(signums, notify)``
gives each stop signal a handler that sends SIGTERM on to the process
``relay_to(pid)`` names (``relay_taken()`` then returns that pid once), yields the
CPU (the woken child would otherwise wait behind the parent), then ``notify`` to
the thread that installed it, which waits for it (the signals
themselves are unblocked on that thread only). A forked child that still has the
handler gets the signal as if it were not there.

The sockets belong to the caller: both twins send on the file descriptor number
(this twin through a duplicate it holds while a key or a burst uses that number),
so close a socket only after disarming its keys and dropping its bursts. Reads
and sends never block: both twins pass MSG_DONTWAIT.
"""

from __future__ import annotations

import errno
import heapq
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType

from pykad.drivers.vrrp_socket import MAX_LATENESS_US, arrival_us

__all__ = [
    "MAX_LATENESS_US",
    "MAX_PACKET",
    "Burst",
    "LeaveWatch",
    "RxFilter",
    "TxPump",
    "leave_install",
    "leave_installed",
    "leave_results",
    "leave_set",
    "leave_uninstall",
    "relay_install",
    "relay_taken",
    "relay_to",
    "relay_uninstall",
    "send_begin",
    "send_end",
]

MAX_PACKET = 4096
"""Longest IPv4 packet ``drain`` accepts; a valid VRRP advert is at most 1,096 bytes."""
_CONTROL = socket.CMSG_SPACE(16)
"""Room for one ``SCM_TIMESTAMPNS`` (a struct timespec)."""

IPPROTO_VRRP = 112
TTL = 255
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
_READ_SIZE = 65535


def _check_vrid(vrid: int) -> int:
    if not 0 <= vrid <= 255:
        raise ValueError(f"VRID must be 0..255, not {vrid}")
    return vrid


@dataclass(slots=True)
class _RxSlot:
    armed: bool = False
    src: bytes = b""
    dst: bytes = b""
    payload: bytes = b""
    hold: int = 0
    deadline: int = -1
    absorbed: int = 0


class RxFilter:
    """Per IPv4 VRRP socket: absorbs adverts that only refresh a BACKUP's Master_Down_Timer."""

    def __init__(self) -> None:
        self.dropped = 0
        self._slots = [_RxSlot() for _ in range(256)]

    def arm(
        self, vrid: int, src: bytes, dst: bytes, payload: bytes, hold_us: int, deadline_us: int = -1
    ) -> None:
        """Absorb from now on adverts src -> dst, TTL 255, VRRP bytes exactly ``payload``;
        ``deadline(vrid)`` starts at ``deadline_us``."""
        _check_vrid(vrid)
        if len(src) != 4 or len(dst) != 4:
            raise ValueError("src and dst must be packed IPv4 addresses (4 bytes)")
        if len(payload) < 2 or payload[1] != vrid:
            raise ValueError(f"payload is not a VRRP message of VRID {vrid}")
        if hold_us < 0:
            raise ValueError("hold_us must not be negative")
        slot = self._slots[vrid]
        slot.src, slot.dst, slot.payload = bytes(src), bytes(dst), bytes(payload)
        slot.hold, slot.deadline, slot.armed = hold_us, max(deadline_us, -1), True

    def disarm(self, vrid: int) -> None:
        """Stop absorbing for ``vrid`` (its deadline and count stay readable)."""
        slot = self._slots[_check_vrid(vrid)]
        slot.armed, slot.payload = False, b""

    def armed(self, vrid: int) -> bool:
        return self._slots[_check_vrid(vrid)].armed

    def deadline(self, vrid: int) -> int:
        """``now_us + hold_us`` of the last absorbed advert since ``arm`` (before one, the
        ``deadline_us`` it was armed with); -1 if none."""
        return self._slots[_check_vrid(vrid)].deadline

    def expiring(self, before_us: int) -> list[int]:
        """The armed VRIDs (ascending) whose deadline, if any, is before ``before_us``."""
        return [v for v, s in enumerate(self._slots) if s.armed and 0 <= s.deadline < before_us]

    def next_deadline(self) -> int:
        """The earliest deadline of an armed VRID; -1 if none has one."""
        return min((s.deadline for s in self._slots if s.armed and s.deadline >= 0), default=-1)

    def absorbed(self, vrid: int) -> int:
        """Adverts absorbed for ``vrid`` since this filter was created."""
        return self._slots[_check_vrid(vrid)].absorbed

    def drain(
        self, fd: int, now_us: int, wall_us: int = -1, limit: int = 4096
    ) -> list[tuple[bytes, bytes, bytes, int, int]]:
        """Read ``fd`` until EAGAIN or ``limit`` packets; return the ones not absorbed."""
        out: list[tuple[bytes, bytes, bytes, int, int]] = []
        slots = self._slots
        with socket.socket(fileno=os.dup(fd)) as sock:  # recvmsg wants a socket object
            for _ in range(limit):
                try:
                    data, ancdata, _, _ = sock.recvmsg(_READ_SIZE, _CONTROL, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                except OSError:
                    if out:
                        break  # hand over what was read; the error shows again next call
                    raise
                n = len(data)
                if n < 20 or n > MAX_PACKET or data[0] >> 4 != 4:
                    self.dropped += 1
                    continue
                ihl = (data[0] & 0x0F) * 4
                if ihl < 20 or ihl > n:
                    self.dropped += 1
                    continue
                arrival = arrival_us(ancdata, now_us, wall_us)
                ttl = data[8]
                payload = data[ihl:]
                if ttl == TTL and data[9] == IPPROTO_VRRP and n - ihl >= 2:
                    slot = slots[payload[1]]
                    if (
                        slot.armed
                        and payload == slot.payload
                        and data[12:16] == slot.src
                        and data[16:20] == slot.dst
                    ):
                        slot.deadline = arrival + slot.hold
                        slot.absorbed += 1
                        continue
                out.append((payload, data[12:16], data[16:20], ttl, arrival))
        return out


_Message = tuple[bytes, list[tuple[int, int, bytes]], tuple[object, ...]]


def _message(family: int, packet: tuple[bytes, bytes, bytes], ifindex: int) -> _Message:
    """sendmsg's arguments for one VRRP message ``(payload, dst, src)``."""
    payload, dst, src = packet
    alen = 4 if family == 4 else 16
    if len(dst) != alen or len(src) not in (0, alen):
        raise ValueError(f"IPv{family} dst must be {alen} bytes and src {alen} or 0")
    anc: list[tuple[int, int, bytes]] = []
    address: tuple[object, ...]
    if family == 4:
        if src:
            info = bytes(4) + bytes(src) + bytes(4)
            anc = [(socket.IPPROTO_IP, IP_PKTINFO, info)]
        address = (socket.inet_ntop(socket.AF_INET, dst), 0)
    else:
        if src:
            info = bytes(src) + ifindex.to_bytes(4, sys.byteorder)
            anc = [(socket.IPPROTO_IPV6, IPV6_PKTINFO, info)]
        address = (socket.inet_ntop(socket.AF_INET6, dst), 0, 0, ifindex)
    return bytes(payload), anc, address


@dataclass(slots=True)
class _Key:
    armed: bool = False
    fd: int = -1
    interval: int = 0
    next: int = 0
    gen: int = 0
    sent: int = 0
    errors: int = 0
    messages: tuple[_Message, ...] = ()


class TxPump:
    """Sends the steady-state adverts of MASTER instances, without Python per advert.

    ``early_div`` (0: off): a round that sends something also sends the keys due
    within 1/early_div of their interval, a little early, each keeping its own grid.
    Masters that came up at different moments then share the loop's wake-ups (a
    thousand of them at 1 s cost a thousand wake-ups a second otherwise).
    """

    def __init__(self, early_div: int = 0) -> None:
        self._slots: dict[object, int] = {}
        self._keys: list[_Key] = []
        self._heap: list[tuple[int, int, int]] = []  # (next, slot, gen)
        self._socks: dict[int, tuple[socket.socket, int]] = {}  # fd -> (duplicate, users)
        if early_div < 0:
            raise ValueError("early_div must not be negative")
        self._early_div = early_div

    def _hold(self, fd: int, family: int) -> None:
        sock, users = self._socks.get(fd, (None, 0))
        if sock is None:
            af = socket.AF_INET if family == 4 else socket.AF_INET6
            sock = socket.socket(af, socket.SOCK_RAW, IPPROTO_VRRP, fileno=os.dup(fd))
        self._socks[fd] = (sock, users + 1)

    def _release(self, fd: int) -> None:
        sock, users = self._socks[fd]
        if users == 1:
            del self._socks[fd]
            sock.close()
        else:
            self._socks[fd] = (sock, users - 1)

    def arm(
        self,
        key: int,
        fd: int,
        family: int,
        packets: Sequence[tuple[bytes, bytes, bytes]],
        interval_us: int,
        next_us: int,
        ifindex: int = 0,
    ) -> None:
        """Send ``packets`` (payload, dst, src) on ``fd`` every ``interval_us`` from ``next_us``."""
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family}")
        if interval_us <= 0:
            raise ValueError("interval_us must be positive")
        if fd < 0:
            raise ValueError("fd must not be negative")
        messages = [_message(family, p, ifindex) for p in packets]
        slot = self._slots.get(key)
        if slot is None:
            slot = len(self._keys)
            self._keys.append(_Key())
            self._slots[key] = slot
        k = self._keys[slot]
        self._hold(fd, family)
        if k.armed:
            self._release(k.fd)
        k.armed, k.fd, k.interval, k.next = True, fd, interval_us, next_us
        k.gen += 1
        k.messages = tuple(messages)
        heapq.heappush(self._heap, (next_us, slot, k.gen))

    def disarm(self, key: int) -> int:
        """Stop ``key``; returns the time it would have sent next (-1 if it was not armed)."""
        slot = self._slots.get(key)
        if slot is None or not self._keys[slot].armed:
            return -1
        k = self._keys[slot]
        k.armed, k.messages = False, ()
        self._release(k.fd)
        return k.next

    def armed(self, key: int) -> bool:
        slot = self._slots.get(key)
        return slot is not None and self._keys[slot].armed

    def sent(self, key: int) -> int:
        """Packets sent for ``key`` since this pump was created."""
        slot = self._slots.get(key)
        return 0 if slot is None else self._keys[slot].sent

    def errors(self, key: int) -> int:
        """Failed sends for ``key`` since this pump was created."""
        slot = self._slots.get(key)
        return 0 if slot is None else self._keys[slot].errors

    def next_deadline(self) -> int:
        """The earliest next send over all armed keys, -1 if none."""
        heap, keys = self._heap, self._keys
        while heap:
            _next, slot, gen = heap[0]
            k = keys[slot]
            if k.armed and k.gen == gen:
                return _next
            heapq.heappop(heap)
        return -1

    def send_due(self, now_us: int) -> int:
        """Send every packet of every key due at or before ``now_us``; return next_deadline()."""
        heap, keys = self._heap, self._keys
        due: list[int] = []
        while heap:
            _next, slot, gen = heap[0]
            k = keys[slot]
            if not (k.armed and k.gen == gen):
                heapq.heappop(heap)
                continue
            if _next > now_us and (
                not due or not self._early_div or _next - now_us > k.interval // self._early_div
            ):
                break
            heapq.heappop(heap)
            due.append(slot)
        if not due:
            return -1 if not heap else self.next_deadline()
        if send_begin():  # none after the stop signal's priority-0 adverts
            try:
                self._send(due)
            finally:
                send_end()
        for slot in due:
            k = keys[slot]
            nxt = k.next + k.interval
            if nxt <= now_us:
                nxt = now_us + k.interval
            k.next = nxt
            heapq.heappush(heap, (nxt, slot, k.gen))
        return self.next_deadline()

    def _send(self, due: list[int]) -> None:
        keys = self._keys
        full = -1  # the fd that answered EAGAIN in this round
        for slot in sorted(due, key=lambda s: keys[s].fd):  # stable: due order within an fd
            k = keys[slot]
            sock = self._socks[k.fd][0]
            for payload, anc, address in k.messages:
                if k.fd == full:
                    k.errors += 1
                    continue
                try:
                    sock.sendmsg([payload], anc, socket.MSG_DONTWAIT, address)
                except BlockingIOError:
                    full = k.fd
                    k.errors += 1
                except OSError:
                    k.errors += 1
                else:
                    k.sent += 1

    def __del__(self) -> None:
        for sock, _users in self._socks.values():
            sock.close()


class Burst:
    """Sends made ready in advance, sent in order by one call (a takeover's first packets)."""

    def __init__(self) -> None:
        self._items: list[
            tuple[
                socket.socket | None, bytes, list[tuple[int, int, bytes]], tuple[object, ...] | None
            ]
        ] = []
        self._socks: dict[tuple[int, int], socket.socket] = {}  # (fd, family) -> duplicate
        self._held = 0  # set by leave_set: the stop signal's handler may send it

    def __len__(self) -> int:
        return len(self._items)

    def _check_free(self) -> None:
        if self._held:
            raise RuntimeError("the burst is held by leave_set")

    def _socket(self, fd: int, family: int = 0) -> socket.socket | None:
        """A duplicate of ``fd`` (addresses read as IPv``family``'s, if given); None if
        ``fd`` is not open (its sends fail with EBADF)."""
        if fd < 0:
            raise ValueError("fd must not be negative")
        sock = self._socks.get((fd, family))
        if sock is None:
            af = {4: socket.AF_INET, 6: socket.AF_INET6}.get(family)
            try:
                if af is None:  # whatever it is: the kernel knows where its sends go
                    sock = socket.socket(fileno=os.dup(fd))
                else:
                    sock = socket.socket(af, socket.SOCK_RAW, IPPROTO_VRRP, os.dup(fd))
            except OSError:
                return None
            self._socks[(fd, family)] = sock
        return sock

    def add_ip(
        self, fd: int, family: int, payload: bytes, dst: bytes, src: bytes, ifindex: int = 0
    ) -> None:
        """One VRRP message ``payload`` to ``dst`` from ``src`` (empty: the kernel's choice)."""
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family}")
        self._check_free()
        data, anc, address = _message(family, (payload, dst, src), ifindex)
        self._items.append((self._socket(fd, family), data, anc, address))

    def add(self, fd: int, data: bytes) -> None:
        """``data`` as it is, on a socket that knows where it goes."""
        self._check_free()
        self._items.append((self._socket(fd), bytes(data), [], None))

    def fire(self) -> list[int]:
        """Send every item in order, without blocking; the errno of each, 0 if sent."""
        out = []
        for sock, data, anc, address in self._items:
            try:
                if sock is None:
                    raise OSError(errno.EBADF, os.strerror(errno.EBADF))
                if address is None:
                    sock.sendmsg([data], anc, socket.MSG_DONTWAIT)
                else:
                    sock.sendmsg([data], anc, socket.MSG_DONTWAIT, address)
            except OSError as e:
                out.append(e.errno or -1)
            else:
                out.append(0)
        return out

    def close(self) -> None:
        """Let go of the duplicated descriptors (the caller's sockets stay open)."""
        self._check_free()
        self._forget()

    def _forget(self) -> None:
        for sock in self._socks.values():
            sock.close()
        self._items, self._socks = [], {}

    def __del__(self) -> None:
        self._forget()


# --------------------------------------------------------------------------- leaving


@dataclass
class _Leaving:
    bursts: list[Burst]
    n: int = 0
    """Sends the handler may make (0: disarmed)."""
    busy: bool = False
    """An advert is going out (between ``send_begin`` and ``send_end``)."""
    due: bool = False
    """The signal came while ``busy``: ``send_end`` sends them."""
    results: list[int] | None = None
    """Set when the handler has sent."""
    previous: dict[int, Callable[[int, FrameType | None], object]] = field(default_factory=dict)
    """Per signal: the handler the leave handler passes it on to."""


_leaving = _Leaving([])


def _leave_send() -> None:
    st = _leaving
    st.due = False
    if st.n and st.results is None:
        st.results = []  # marked first: a signal that comes meanwhile sends nothing more
        st.results += [err for burst in st.bursts for err in burst.fire()]


def _leave_handler(signum: int, frame: FrameType | None) -> None:
    st = _leaving
    if st.n and st.results is None:
        if st.busy:
            st.due = True  # an advert is going out: they follow it
        else:
            _leave_send()
    st.previous[signum](signum, frame)


def send_begin() -> bool:
    """Before an advert other than a priority-0 one goes out (on the main thread):
    False if the stop signal's handler sent the priority-0 adverts already (then
    none may follow); True, and :func:`send_end` once it went."""
    st = _leaving
    st.busy = True
    if st.results is not None:
        st.busy = False
        return False
    return True


def send_end() -> None:
    """After :func:`send_begin`: the priority-0 adverts of a signal that came meanwhile
    go now."""
    st = _leaving
    while True:
        if st.due:
            _leave_send()
        st.busy = False
        if not st.due:  # a signal between the two: it found the send busy
            return
        st.busy = True


def leave_install(signums: Sequence[int]) -> None:
    """Send the bursts of :func:`leave_set` from the handler of ``signums`` (each
    must have a handler, Python's, which runs right after)."""
    for signum in signums:
        if leave_installed(signum):
            continue
        previous = signal.getsignal(signum)
        if not callable(previous):
            raise OSError(errno.EINVAL, f"signal {signum}: no handler to pass it on to")
        signal.signal(signum, _leave_handler)
        _leaving.previous[signum] = previous


def leave_installed(signum: int) -> bool:
    """Whether ``signum``'s handler is the leave handler (a later ``signal.signal``
    replaces it)."""
    return signum in _leaving.previous and signal.getsignal(signum) is _leave_handler


def leave_set(bursts: Sequence[Burst]) -> None:
    """The bursts the handler sends, in order (an empty list: none); the handler holds
    them (they cannot change) until the next call. No change once it has fired."""
    st = _leaving
    if st.results is not None:
        return
    new = list(bursts)
    for burst in new:
        burst._held += 1
    for burst in st.bursts:
        burst._held -= 1
    st.bursts, st.n = new, sum(len(b) for b in new)


def leave_results() -> list[int] | None:
    """The errno of each send (0: sent) if the handler has sent the bursts, else None."""
    return None if _leaving.results is None else list(_leaving.results)


def leave_uninstall() -> None:
    """Put the handlers back as they were and forget the bursts and whether they went."""
    st = _leaving
    for signum, previous in st.previous.items():
        if leave_installed(signum):
            signal.signal(signum, previous)
    st.previous.clear()
    st.results, st.busy, st.due = None, False, False
    leave_set([])


class LeaveWatch:
    """A trio instrument: ``mark()`` says the bursts are out of date: none is sent
    until ``ready`` (called before the loop's next wait) has set them again."""

    def __init__(self, ready: Callable[[], object]) -> None:
        self.ready = ready
        self.dirty = True

    def mark(self) -> None:
        self.dirty = True
        if _leaving.results is None:
            _leaving.n = 0

    def before_io_wait(self, timeout: float) -> None:
        if self.dirty:
            self.dirty = False
            self.ready()


# --------------------------------------------------------------------------- relaying


@dataclass
class _Relaying:
    to: int = 0
    sent: int = 0
    notify: int = 0
    owner: int = 0
    thread: int = 0
    previous: dict[int, object] = field(default_factory=dict)


_relaying = _Relaying()


def _relay_handler(signum: int, frame: FrameType | None) -> None:
    st = _relaying
    if os.getpid() != st.owner:  # a child that kept it: as if it were not there
        signal.signal(signum, st.previous[signum])  # type: ignore[arg-type]
        os.kill(os.getpid(), signum)
        return
    if st.to > 0:
        try:
            os.kill(st.to, signal.SIGTERM)
        except OSError:
            pass
        else:
            st.sent = st.to
            os.sched_yield()  # the child runs before the rest of the parent's stop
    signal.pthread_kill(st.thread, st.notify)


def relay_install(signums: Sequence[int], notify: int) -> None:
    """In the daemon's parent: each of ``signums`` (unblocked on the calling thread
    only) sends SIGTERM on to the process :func:`relay_to` names, from the handler
    itself, then ``notify`` (blocked, waited for) to the calling thread."""
    st = _relaying
    st.owner, st.thread, st.notify = os.getpid(), threading.get_ident(), notify
    for signum in signums:
        previous = signal.signal(signum, _relay_handler)
        st.previous.setdefault(signum, previous)


def relay_to(pid: int) -> None:
    """Where the stop signals go on to (0: nowhere)."""
    _relaying.to = pid


def relay_taken() -> int:
    """The pid a stop signal went on to since the last call (0: none)."""
    pid, _relaying.sent = _relaying.sent, 0
    return pid


def relay_uninstall() -> None:
    """Put the handlers back as they were; relay to nowhere."""
    st = _relaying
    relay_to(0)
    relay_taken()
    for signum, previous in st.previous.items():
        if signal.getsignal(signum) is _relay_handler:
            signal.signal(signum, previous)  # type: ignore[arg-type]
    st.previous.clear()
