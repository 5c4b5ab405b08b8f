# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Steady-state VRRP adverts without Python per packet, compiled (twin of ``pykad.drivers.fast_py``).

``RxFilter`` drains a raw IPv4 VRRP socket with ``recvmmsg`` and absorbs, in C,
the adverts that only refresh a BACKUP's Master_Down_Timer; ``TxPump`` sends the
adverts of MASTER instances from prebuilt ``msghdr``s with ``sendmmsg``; ``Burst``
sends a takeover's first packets from prebuilt ``msghdr``s in one call; the leave
handler sends a stopping daemon's priority-0 bursts from the stop signal's C
handler, before Python's runs. Same API
and results as the pure-Python twin; see ``pykad/drivers/fast_py.py`` for the rules.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.errno cimport errno, EINTR, EAGAIN
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, calloc, realloc, free, qsort
from libc.string cimport memcpy, memcmp, memset


include "_sockets.pxi"


cdef extern from "<sys/socket.h>" nogil:
    int C_SOL_SOCKET "SOL_SOCKET"
    int C_SCM_TIMESTAMPNS "SCM_TIMESTAMPNS"

cdef enum:
    RX_BATCH = 32
    RX_CTL_WORDS = 8  # 64 bytes, room for one SCM_TIMESTAMPNS cmsg
    TX_BATCH = 1024  # UIO_MAXIOV: the most sendmmsg takes at once
    CMSG_WORDS = 8  # 64 bytes, room for one in6_pktinfo cmsg
    BUF = 4096

MAX_PACKET = BUF
"""Longest IPv4 packet drain() accepts; a valid VRRP advert is at most 1,096 bytes."""
cdef int64_t C_MAX_LATENESS_US = 1_000_000
MAX_LATENESS_US = C_MAX_LATENESS_US
"""A packet's kernel receive time is believed when it is at most this far behind the
read (and not ahead of it): beyond, the wall clock was stepped (or the process stalled)."""

cdef int IPPROTO_VRRP = 112
cdef int TTL = 255


# --------------------------------------------------------------------------- RxFilter

cdef struct RxSlot:
    bint armed
    uint8_t src[4]
    uint8_t dst[4]
    uint8_t* payload
    Py_ssize_t plen
    int64_t hold
    int64_t deadline
    uint64_t absorbed


cdef inline int _vrid(int vrid) except -1:
    if vrid < 0 or vrid > 255:
        raise ValueError(f"VRID must be 0..255, not {vrid}")
    return vrid


cdef class RxFilter:
    """Per IPv4 VRRP socket: absorbs adverts that only refresh a BACKUP's Master_Down_Timer."""

    cdef RxSlot slots[256]
    cdef mmsghdr* msgs
    cdef iovec* iovs
    cdef uint8_t* bufs
    cdef uint64_t* ctls
    cdef public uint64_t dropped

    def __cinit__(self):
        self.msgs = <mmsghdr*>calloc(RX_BATCH, sizeof(mmsghdr))
        self.iovs = <iovec*>calloc(RX_BATCH, sizeof(iovec))
        self.bufs = <uint8_t*>malloc(RX_BATCH * BUF)
        self.ctls = <uint64_t*>calloc(RX_BATCH * RX_CTL_WORDS, sizeof(uint64_t))
        if self.msgs == NULL or self.iovs == NULL or self.bufs == NULL or self.ctls == NULL:
            raise MemoryError()
        cdef int i
        for i in range(RX_BATCH):
            self.iovs[i].iov_base = self.bufs + i * BUF
            self.iovs[i].iov_len = BUF
        for i in range(256):
            self.slots[i].deadline = -1

    def __init__(self):
        pass

    def __dealloc__(self):
        cdef int i
        for i in range(256):
            free(self.slots[i].payload)
            self.slots[i].payload = NULL
        free(self.msgs)
        free(self.iovs)
        free(self.bufs)
        free(self.ctls)

    def arm(self, int vrid, bytes src not None, bytes dst not None, bytes payload not None,
            int64_t hold_us, int64_t deadline_us=-1):
        """From now on adverts from ``src`` to ``dst`` with TTL 255 and exactly ``payload`` are
        absorbed; ``deadline(vrid)`` starts at ``deadline_us``."""
        _vrid(vrid)
        if PyBytes_GET_SIZE(src) != 4 or PyBytes_GET_SIZE(dst) != 4:
            raise ValueError("src and dst must be packed IPv4 addresses (4 bytes)")
        cdef Py_ssize_t n = PyBytes_GET_SIZE(payload)
        if n < 2 or (<uint8_t*>PyBytes_AS_STRING(payload))[1] != vrid:
            raise ValueError(f"payload is not a VRRP message of VRID {vrid}")
        if hold_us < 0:
            raise ValueError("hold_us must not be negative")
        cdef uint8_t* copy = <uint8_t*>malloc(n)
        if copy == NULL:
            raise MemoryError()
        memcpy(copy, PyBytes_AS_STRING(payload), n)
        cdef RxSlot* s = &self.slots[vrid]
        free(s.payload)
        s.payload = copy
        s.plen = n
        memcpy(s.src, PyBytes_AS_STRING(src), 4)
        memcpy(s.dst, PyBytes_AS_STRING(dst), 4)
        s.hold = hold_us
        s.deadline = deadline_us if deadline_us >= 0 else -1
        s.armed = True

    def disarm(self, int vrid):
        """Stop absorbing for ``vrid`` (its deadline and count stay readable)."""
        cdef RxSlot* s = &self.slots[_vrid(vrid)]
        s.armed = False
        free(s.payload)
        s.payload = NULL
        s.plen = 0

    def armed(self, int vrid):
        return bool(self.slots[_vrid(vrid)].armed)

    def deadline(self, int vrid):
        """``now_us + hold_us`` of the last absorbed advert since ``arm`` (before one, the
        ``deadline_us`` it was armed with); -1 if none."""
        return self.slots[_vrid(vrid)].deadline

    def expiring(self, int64_t before_us):
        """The armed VRIDs (ascending) whose deadline, if any, is before ``before_us``."""
        cdef list out = []
        cdef int i
        for i in range(256):
            if self.slots[i].armed and 0 <= self.slots[i].deadline < before_us:
                out.append(i)
        return out

    def next_deadline(self):
        """The earliest deadline of an armed VRID; -1 if none has one."""
        cdef int64_t best = -1
        cdef int i
        for i in range(256):
            if self.slots[i].armed and self.slots[i].deadline >= 0:
                if best < 0 or self.slots[i].deadline < best:
                    best = self.slots[i].deadline
        return best

    def absorbed(self, int vrid):
        """Adverts absorbed for ``vrid`` since this filter was created."""
        return self.slots[_vrid(vrid)].absorbed

    def drain(self, int fd, int64_t now_us, int64_t wall_us=-1, Py_ssize_t limit=4096):
        """Read ``fd`` until EAGAIN or ``limit`` packets; return the ones not absorbed, each
        with its arrival time (see the pure-Python twin)."""
        cdef list out = []
        cdef Py_ssize_t count = 0
        cdef int want, got, i, e, ihl, ttl
        cdef unsigned int n
        cdef uint8_t* p
        cdef RxSlot* s
        cdef int64_t arrival
        while count < limit:
            want = RX_BATCH if limit - count > RX_BATCH else <int>(limit - count)
            for i in range(want):
                self.msgs[i].msg_hdr.msg_iov = &self.iovs[i]
                self.msgs[i].msg_hdr.msg_iovlen = 1
                self.msgs[i].msg_hdr.msg_flags = 0
                self.msgs[i].msg_hdr.msg_control = self.ctls + i * RX_CTL_WORDS
                self.msgs[i].msg_hdr.msg_controllen = RX_CTL_WORDS * sizeof(uint64_t)
            # The GIL stays held: the call never blocks, and no other thread may reuse bufs.
            got = recvmmsg(fd, self.msgs, want, MSG_DONTWAIT, NULL)
            if got < 0:
                e = errno
                if e == EINTR:
                    continue
                if e == EAGAIN or e == EWOULDBLOCK:
                    break
                if out:
                    break  # hand over what was read; the error shows again on the next call
                raise OSError(e, "recvmmsg")
            if got == 0:
                break
            count += got
            for i in range(got):
                n = self.msgs[i].msg_len
                p = self.bufs + i * BUF
                if self.msgs[i].msg_hdr.msg_flags & MSG_TRUNC or n < 20 or p[0] >> 4 != 4:
                    self.dropped += 1
                    continue
                ihl = (p[0] & 0x0F) * 4
                if ihl < 20 or <unsigned int>ihl > n:
                    self.dropped += 1
                    continue
                arrival = _arrival(&self.msgs[i].msg_hdr, now_us, wall_us)
                ttl = p[8]
                if ttl == TTL and p[9] == IPPROTO_VRRP and n - ihl >= 2:
                    s = &self.slots[p[ihl + 1]]
                    if (s.armed and s.plen == <Py_ssize_t>(n - ihl)
                            and memcmp(p + 12, s.src, 4) == 0 and memcmp(p + 16, s.dst, 4) == 0
                            and memcmp(p + ihl, s.payload, s.plen) == 0):
                        s.deadline = arrival + s.hold
                        s.absorbed += 1
                        continue
                out.append((
                    PyBytes_FromStringAndSize(<char*>p + ihl, n - ihl),
                    PyBytes_FromStringAndSize(<char*>p + 12, 4),
                    PyBytes_FromStringAndSize(<char*>p + 16, 4),
                    ttl,
                    arrival,
                ))
            if got < want:
                break  # the queue is empty: spare the EAGAIN round trip
        return out


cdef inline int64_t _arrival(msghdr* hdr, int64_t now_us, int64_t wall_us) noexcept:
    """``now_us`` less how long ago the kernel received the packet (its SCM_TIMESTAMPNS
    against ``wall_us``), or ``now_us`` if that is unknown or not believable."""
    if wall_us < 0:
        return now_us
    cdef cmsghdr* c = CMSG_FIRSTHDR(hdr)
    cdef timespec ts
    cdef int64_t late
    while c != NULL:
        if (c.cmsg_level == C_SOL_SOCKET and c.cmsg_type == C_SCM_TIMESTAMPNS
                and c.cmsg_len >= CMSG_LEN(sizeof(timespec))):
            memcpy(&ts, CMSG_DATA(c), sizeof(timespec))
            late = wall_us - (<int64_t>ts.tv_sec * 1000000 + ts.tv_nsec // 1000)
            if 0 <= late <= C_MAX_LATENESS_US:
                return now_us - late
            return now_us
        c = CMSG_NXTHDR(hdr, c)
    return now_us


# --------------------------------------------------------------------------- TxPump

cdef struct Pkt:
    msghdr hdr
    iovec iov
    sockaddr_in6 addr  # a sockaddr_in for IPv4: the smaller one fits
    uint64_t cmsg[CMSG_WORDS]  # aligned for cmsghdr
    uint8_t* payload


cdef struct Key:
    bint armed
    int fd
    int64_t interval
    int64_t next
    uint64_t gen
    uint64_t sent
    uint64_t errors
    Pkt* pkts
    int npkts


cdef struct HeapEntry:
    int64_t next
    int slot
    uint64_t gen


cdef struct Due:
    int fd
    int seq
    int slot


cdef int _due_cmp(const void* a, const void* b) noexcept nogil:
    cdef const Due* x = <const Due*>a
    cdef const Due* y = <const Due*>b
    if x.fd != y.fd:
        return -1 if x.fd < y.fd else 1
    return -1 if x.seq < y.seq else (1 if x.seq > y.seq else 0)


cdef inline bint _before(HeapEntry* a, HeapEntry* b) noexcept nogil:
    if a.next != b.next:
        return a.next < b.next
    if a.slot != b.slot:
        return a.slot < b.slot
    return a.gen < b.gen


cdef void _free_pkts(Key* k) noexcept nogil:
    cdef int i
    if k.pkts != NULL:
        for i in range(k.npkts):
            free(k.pkts[i].payload)
        free(k.pkts)
    k.pkts = NULL
    k.npkts = 0


cdef int _copy_payload(Pkt* pk, bytes data) except -1:
    """``pk`` sends a malloc'ed copy of ``data`` (one iovec)."""
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    pk.payload = <uint8_t*>malloc(n if n else 1)
    if pk.payload == NULL:
        raise MemoryError()
    memcpy(pk.payload, PyBytes_AS_STRING(data), n)
    pk.iov.iov_base = pk.payload
    pk.iov.iov_len = n
    pk.hdr.msg_iov = &pk.iov
    pk.hdr.msg_iovlen = 1
    return 0


cdef void _rebase(Pkt* pkts, int n) noexcept:
    """Point each moved Pkt's header at its own fields again (a realloc moved them)."""
    cdef int i
    for i in range(n):
        if pkts[i].hdr.msg_iov != NULL:
            pkts[i].hdr.msg_iov = &pkts[i].iov
        if pkts[i].hdr.msg_name != NULL:
            pkts[i].hdr.msg_name = &pkts[i].addr
        if pkts[i].hdr.msg_control != NULL:
            pkts[i].hdr.msg_control = pkts[i].cmsg


cdef int _fill(Pkt* pk, int family, bytes payload, bytes dst, bytes src, int ifindex) except -1:
    """Make ``pk`` (zeroed) the sendmsg of one VRRP message; its payload is malloc'ed."""
    cdef Py_ssize_t alen = 4 if family == 4 else 16
    if PyBytes_GET_SIZE(dst) != alen or (PyBytes_GET_SIZE(src) not in (0, alen)):
        raise ValueError(f"IPv{family} dst must be {alen} bytes and src {alen} or 0")
    _copy_payload(pk, payload)
    pk.hdr.msg_name = &pk.addr
    cdef sockaddr_in* a4
    cdef cmsghdr* c
    cdef in_pktinfo* i4
    cdef in6_pktinfo* i6
    if family == 4:
        a4 = <sockaddr_in*>&pk.addr
        a4.sin_family = AF_INET
        memcpy(&a4.sin_addr, PyBytes_AS_STRING(dst), 4)
        pk.hdr.msg_namelen = sizeof(sockaddr_in)
    else:
        pk.addr.sin6_family = AF_INET6
        memcpy(&pk.addr.sin6_addr, PyBytes_AS_STRING(dst), 16)
        pk.addr.sin6_scope_id = ifindex
        pk.hdr.msg_namelen = sizeof(sockaddr_in6)
    if PyBytes_GET_SIZE(src):
        pk.hdr.msg_control = pk.cmsg
        c = <cmsghdr*>pk.cmsg
        if family == 4:
            pk.hdr.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo))
            c.cmsg_level = IPPROTO_IP
            c.cmsg_type = C_IP_PKTINFO
            c.cmsg_len = CMSG_LEN(sizeof(in_pktinfo))
            i4 = <in_pktinfo*>CMSG_DATA(c)
            memcpy(&i4.ipi_spec_dst, PyBytes_AS_STRING(src), 4)
        else:
            pk.hdr.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo))
            c.cmsg_level = IPPROTO_IPV6
            c.cmsg_type = C_IPV6_PKTINFO
            c.cmsg_len = CMSG_LEN(sizeof(in6_pktinfo))
            i6 = <in6_pktinfo*>CMSG_DATA(c)
            memcpy(&i6.ipi6_addr, PyBytes_AS_STRING(src), 16)
            i6.ipi6_ifindex = ifindex
    return 0


cdef class TxPump:
    """Sends the steady-state adverts of MASTER instances, without Python per advert.

    ``early_div`` (0: off): a round also sends the keys due within 1/early_div of their
    interval after the first, each keeping its own grid (see the twin)."""

    cdef int64_t early_div
    cdef dict slots  # key -> index into keys (kept after disarm: counters stay readable)
    cdef Key* keys
    cdef int nkeys, cap
    cdef HeapEntry* heap
    cdef Py_ssize_t hlen, hcap
    cdef Due* due
    cdef Py_ssize_t due_cap
    cdef mmsghdr* mm
    cdef int* owner
    cdef Py_ssize_t mm_cap

    def __cinit__(self):
        self.slots = {}

    def __init__(self, int64_t early_div=0):
        if early_div < 0:
            raise ValueError("early_div must not be negative")
        self.early_div = early_div

    def __dealloc__(self):
        cdef int i
        if self.keys != NULL:
            for i in range(self.nkeys):
                _free_pkts(&self.keys[i])
        free(self.keys)
        free(self.heap)
        free(self.due)
        free(self.mm)
        free(self.owner)

    cdef int _push(self, int64_t next, int slot, uint64_t gen) except -1:
        cdef HeapEntry* h
        cdef Py_ssize_t i, parent
        cdef HeapEntry e
        if self.hlen == self.hcap:
            self.hcap = self.hcap * 2 if self.hcap else 64
            h = <HeapEntry*>realloc(self.heap, self.hcap * sizeof(HeapEntry))
            if h == NULL:
                raise MemoryError()
            self.heap = h
        e.next = next
        e.slot = slot
        e.gen = gen
        i = self.hlen
        self.hlen += 1
        while i > 0:
            parent = (i - 1) >> 1
            if not _before(&e, &self.heap[parent]):
                break
            self.heap[i] = self.heap[parent]
            i = parent
        self.heap[i] = e
        return 0

    cdef void _pop(self) noexcept nogil:
        cdef Py_ssize_t i = 0, child
        self.hlen -= 1
        if self.hlen == 0:
            return
        cdef HeapEntry last = self.heap[self.hlen]
        while True:
            child = 2 * i + 1
            if child >= self.hlen:
                break
            if child + 1 < self.hlen and _before(&self.heap[child + 1], &self.heap[child]):
                child += 1
            if not _before(&self.heap[child], &last):
                break
            self.heap[i] = self.heap[child]
            i = child
        self.heap[i] = last

    cdef inline bint _stale(self, HeapEntry* e) noexcept nogil:
        cdef Key* k = &self.keys[e.slot]
        return not k.armed or k.gen != e.gen

    cdef int64_t _next_deadline(self) noexcept nogil:
        while self.hlen and self._stale(&self.heap[0]):
            self._pop()
        return self.heap[0].next if self.hlen else -1

    def arm(self, key, int fd, int family, packets, int64_t interval_us, int64_t next_us,
            int ifindex=0):
        """Send each of ``packets`` (payload, dst, src) on ``fd`` every ``interval_us``, first at ``next_us``."""
        if family != 4 and family != 6:
            raise ValueError(f"family must be 4 or 6, not {family}")
        if interval_us <= 0:
            raise ValueError("interval_us must be positive")
        if fd < 0:
            raise ValueError("fd must not be negative")
        cdef list items = list(packets)
        cdef bytes payload, dst, src
        cdef int n = len(items)
        cdef Pkt* pkts = <Pkt*>calloc(n if n else 1, sizeof(Pkt))
        if pkts == NULL:
            raise MemoryError()
        cdef Key tmp
        tmp.pkts = pkts
        tmp.npkts = 0
        try:
            for idx in range(n):
                payload, dst, src = items[idx]
                _fill(&pkts[idx], family, payload, dst, src, ifindex)
                tmp.npkts += 1
            slot = self.slots.get(key)
            if slot is None:
                slot = self._new_slot()
        except BaseException:
            _free_pkts(&tmp)
            raise
        cdef int si = slot
        cdef Key* k = &self.keys[si]
        _free_pkts(k)
        k.pkts = pkts
        k.npkts = n
        k.fd = fd
        k.interval = interval_us
        k.next = next_us
        k.gen += 1
        k.armed = True
        self.slots[key] = si
        self._push(next_us, si, k.gen)

    cdef int _new_slot(self) except -1:
        cdef Key* keys
        if self.nkeys == self.cap:
            self.cap = self.cap * 2 if self.cap else 64
            keys = <Key*>realloc(self.keys, self.cap * sizeof(Key))
            if keys == NULL:
                raise MemoryError()
            self.keys = keys
        memset(&self.keys[self.nkeys], 0, sizeof(Key))
        self.nkeys += 1
        return self.nkeys - 1

    def disarm(self, key):
        """Stop ``key``; returns the time it would have sent next (-1 if it was not armed)."""
        slot = self.slots.get(key)
        if slot is None:
            return -1
        cdef Key* k = &self.keys[<int>slot]
        if not k.armed:
            return -1
        k.armed = False
        _free_pkts(k)
        return k.next

    def armed(self, key):
        slot = self.slots.get(key)
        return slot is not None and bool(self.keys[<int>slot].armed)

    def sent(self, key):
        """Packets sent for ``key`` since this pump was created."""
        slot = self.slots.get(key)
        return 0 if slot is None else self.keys[<int>slot].sent

    def errors(self, key):
        """Failed sends for ``key`` since this pump was created."""
        slot = self.slots.get(key)
        return 0 if slot is None else self.keys[<int>slot].errors

    def next_deadline(self):
        """The earliest next send over all armed keys, -1 if none."""
        return self._next_deadline()

    cdef int _reserve(self, Py_ssize_t ndue, Py_ssize_t nmsg) except -1:
        cdef void* p
        if ndue > self.due_cap:
            p = realloc(self.due, ndue * sizeof(Due))
            if p == NULL:
                raise MemoryError()
            self.due = <Due*>p
            self.due_cap = ndue
        if nmsg > self.mm_cap:
            p = realloc(self.mm, nmsg * sizeof(mmsghdr))
            if p == NULL:
                raise MemoryError()
            self.mm = <mmsghdr*>p
            p = realloc(self.owner, nmsg * sizeof(int))
            if p == NULL:
                raise MemoryError()
            self.owner = <int*>p
            self.mm_cap = nmsg
        return 0

    def send_due(self, int64_t now_us):
        """Send every packet of every key due at or before ``now_us``; return next_deadline()."""
        cdef Py_ssize_t ndue = 0, nmsg = 0, i, j
        cdef HeapEntry* top
        cdef Key* k
        while self.hlen:
            top = &self.heap[0]
            if self._stale(top):
                self._pop()
                continue
            if top.next > now_us:
                if ndue == 0 or self.early_div == 0:
                    break
                if top.next - now_us > self.keys[top.slot].interval // self.early_div:
                    break
            if ndue == self.due_cap:
                self._reserve(ndue * 2 if ndue else 64, 0)
            self.due[ndue].slot = top.slot
            self.due[ndue].seq = <int>ndue
            self.due[ndue].fd = self.keys[top.slot].fd
            nmsg += self.keys[top.slot].npkts
            ndue += 1
            self._pop()
        if ndue == 0:
            return self._next_deadline()
        self._reserve(0, nmsg)
        # The GIL stays held (the sends never block): no other thread may free a Pkt meanwhile.
        qsort(self.due, ndue, sizeof(Due), _due_cmp)
        nmsg = 0
        for i in range(ndue):
            k = &self.keys[self.due[i].slot]
            for j in range(k.npkts):
                self.mm[nmsg].msg_hdr = k.pkts[j].hdr
                self.owner[nmsg] = self.due[i].slot
                nmsg += 1
        self._send(nmsg)
        cdef int64_t nxt
        for i in range(ndue):
            k = &self.keys[self.due[i].slot]
            nxt = k.next + k.interval
            if nxt <= now_us:
                nxt = now_us + k.interval
            k.next = nxt
            self._push(nxt, self.due[i].slot, k.gen)
        return self._next_deadline()

    cdef void _send(self, Py_ssize_t nmsg) noexcept nogil:
        # None after the stop signal's priority-0 adverts (see pykad_leave_handler).
        if nmsg == 0 or not pykad_send_begin():
            return
        self._send_all(nmsg)
        pykad_send_end()

    cdef void _send_all(self, Py_ssize_t nmsg) noexcept nogil:
        cdef Py_ssize_t start = 0, end, off, i
        cdef int fd, r, e
        cdef unsigned int batch
        while start < nmsg:
            fd = self.keys[self.owner[start]].fd
            end = start + 1
            while end < nmsg and self.keys[self.owner[end]].fd == fd:
                end += 1
            off = start
            while off < end:
                batch = <unsigned int>(end - off) if end - off < TX_BATCH else TX_BATCH
                r = sendmmsg(fd, &self.mm[off], batch, MSG_DONTWAIT)
                if r > 0:
                    for i in range(off, off + r):
                        self.keys[self.owner[i]].sent += 1
                    off += r
                    continue
                e = errno if r < 0 else 0
                if e == EINTR:
                    continue
                if e == EAGAIN or e == EWOULDBLOCK:
                    for i in range(off, end):  # the socket is full: the rest would fail too
                        self.keys[self.owner[i]].errors += 1
                    break
                self.keys[self.owner[off]].errors += 1
                off += 1
            start = end


# --------------------------------------------------------------------------- Burst

cdef class Burst:
    """Sends made ready in advance, sent in order by one call (a takeover's first packets)."""

    cdef Key items  # pkts / npkts only
    cdef int* fds
    cdef int cap
    cdef int held  # set by leave_set: the stop signal's handler may send it

    def __dealloc__(self):
        _free_pkts(&self.items)
        free(self.fds)

    def __len__(self):
        return self.items.npkts

    cdef Pkt* _next(self, int fd) except NULL:
        """A zeroed Pkt at the end (counted by the caller once it is filled)."""
        if fd < 0:
            raise ValueError("fd must not be negative")
        if self.held:
            raise RuntimeError("the burst is held by leave_set")
        cdef void* p
        cdef int n = self.items.npkts
        if n == self.cap:
            p = realloc(self.items.pkts, (self.cap * 2 if self.cap else 8) * sizeof(Pkt))
            if p == NULL:
                raise MemoryError()
            self.items.pkts = <Pkt*>p
            _rebase(self.items.pkts, n)
            p = realloc(self.fds, (self.cap * 2 if self.cap else 8) * sizeof(int))
            if p == NULL:
                raise MemoryError()
            self.fds = <int*>p
            self.cap = self.cap * 2 if self.cap else 8
        memset(&self.items.pkts[n], 0, sizeof(Pkt))
        self.fds[n] = fd
        return &self.items.pkts[n]

    def add_ip(self, int fd, int family, bytes payload, bytes dst, bytes src, int ifindex=0):
        """One VRRP message ``payload`` to ``dst`` from ``src`` (empty: the kernel's choice)."""
        if family != 4 and family != 6:
            raise ValueError(f"family must be 4 or 6, not {family}")
        _fill(self._next(fd), family, payload, dst, src, ifindex)
        self.items.npkts += 1

    def add(self, int fd, bytes data):
        """``data`` as it is, on a socket that knows where it goes."""
        _copy_payload(self._next(fd), data)
        self.items.npkts += 1

    def fire(self):
        """Send every item in order, without blocking; the errno of each, 0 if sent."""
        cdef int i, n = self.items.npkts
        cdef ssize_t r
        cdef int* res = <int*>malloc((n if n else 1) * sizeof(int))
        if res == NULL:
            raise MemoryError()
        # The GIL stays held (the sends never block): close() cannot run meanwhile.
        for i in range(n):
            while True:
                r = sendmsg(self.fds[i], &self.items.pkts[i].hdr, MSG_DONTWAIT)
                if r >= 0 or errno != EINTR:
                    break
            res[i] = 0 if r >= 0 else errno
        out = [res[i] for i in range(n)]
        free(res)
        return out

    def close(self):
        """Forget every item (the sockets are the caller's and stay open)."""
        if self.held:
            raise RuntimeError("the burst is held by leave_set")
        _free_pkts(&self.items)
        free(self.fds)
        self.fds = NULL
        self.cap = 0


# --------------------------------------------------------------------------- leaving

cdef extern from *:
    """
    #include <sched.h>
    #include <signal.h>
    #include <stdatomic.h>
    #include <sys/syscall.h>
    #include <unistd.h>

    /* The stop signal's handler: the prepared priority-0 adverts go out from the
       handler itself, then the handler that was there before (Python's) runs. No
       other advert may follow them: a send of one (pykad_send_begin/end around it)
       that the signal interrupts makes the handler leave the priority-0 adverts to
       pykad_send_end, right after it; once they went, pykad_send_begin says no. */
    static struct sigaction pykad_leave_old[_NSIG];
    static volatile sig_atomic_t pykad_leave_fired = 0, pykad_send_busy = 0, pykad_leave_due = 0;
    static volatile int pykad_leave_n = 0;
    static struct msghdr** pykad_leave_hdrs = NULL;
    static int* pykad_leave_fds = NULL;
    static int* pykad_leave_res = NULL;
    static long pykad_leave_tid = 0;

    /* Marked fired first: a signal that comes meanwhile sends nothing more. */
    static void pykad_leave_send(void) {
        int saved = errno;
        pykad_leave_due = 0;
        if (pykad_leave_n > 0 && !pykad_leave_fired) {
            pykad_leave_fired = 1;
            atomic_signal_fence(memory_order_seq_cst);
            for (int i = 0; i < pykad_leave_n; i++) {
                ssize_t r;
                do r = sendmsg(pykad_leave_fds[i], pykad_leave_hdrs[i], MSG_DONTWAIT);
                while (r < 0 && errno == EINTR);
                pykad_leave_res[i] = r < 0 ? errno : 0;
            }
        }
        errno = saved;
    }

    static void pykad_leave_handler(int sig, siginfo_t* info, void* ctx) {
        if (pykad_leave_n > 0 && !pykad_leave_fired && syscall(SYS_gettid) == pykad_leave_tid) {
            if (pykad_send_busy)
                pykad_leave_due = 1;  /* an advert is going out: they follow it */
            else
                pykad_leave_send();
        }
        struct sigaction* old = &pykad_leave_old[sig];
        if (old->sa_flags & SA_SIGINFO)
            old->sa_sigaction(sig, info, ctx);
        else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN)
            old->sa_handler(sig);
    }

    /* Around the send of any advert but a priority-0 one, on the main thread: 0 (and
       nothing to end) when the priority-0 adverts went already. */
    static inline int pykad_send_begin(void) {
        pykad_send_busy = 1;
        atomic_signal_fence(memory_order_seq_cst);
        if (pykad_leave_fired) {
            pykad_send_busy = 0;
            return 0;
        }
        return 1;
    }

    static inline void pykad_send_end(void) {
        for (;;) {
            atomic_signal_fence(memory_order_seq_cst);
            if (pykad_leave_due)
                pykad_leave_send();
            pykad_send_busy = 0;
            atomic_signal_fence(memory_order_seq_cst);
            if (!pykad_leave_due)  /* a signal between the two: it found the loop busy */
                return;
            pykad_send_busy = 1;
        }
    }

    static int pykad_leave_installed(int sig) {
        struct sigaction cur;
        return sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO)
            && cur.sa_sigaction == pykad_leave_handler;
    }

    /* -1 with errno EINVAL: no handler to pass the signal on to. */
    static int pykad_leave_install(int sig) {
        struct sigaction cur, act;
        if (sig <= 0 || sig >= _NSIG || sigaction(sig, NULL, &cur) < 0) {
            errno = EINVAL;
            return -1;
        }
        if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == pykad_leave_handler)
            return 0;
        if (!(cur.sa_flags & SA_SIGINFO) && (cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN)) {
            errno = EINVAL;
            return -1;
        }
        pykad_leave_old[sig] = cur;
        pykad_leave_tid = syscall(SYS_gettid);
        act = cur;
        act.sa_sigaction = pykad_leave_handler;
        act.sa_flags = cur.sa_flags | SA_SIGINFO;
        return sigaction(sig, &act, NULL);
    }

    static int pykad_leave_uninstall(int sig) {
        if (sig <= 0 || sig >= _NSIG || !pykad_leave_installed(sig))
            return 0;
        return sigaction(sig, &pykad_leave_old[sig], NULL);
    }

    /* The handler runs on this thread (the main one) or not at all: a store it
       cannot interrupt half-way is enough, in this order. */
    static void pykad_leave_publish(struct msghdr** hdrs, int* fds, int* res, int n) {
        pykad_leave_n = 0;
        atomic_signal_fence(memory_order_seq_cst);
        pykad_leave_hdrs = hdrs;
        pykad_leave_fds = fds;
        pykad_leave_res = res;
        atomic_signal_fence(memory_order_seq_cst);
        pykad_leave_n = n;
    }
    """
    int pykad_leave_fired
    int pykad_leave_n
    int* pykad_leave_res
    int pykad_leave_install(int sig)
    int pykad_leave_uninstall(int sig)
    int pykad_leave_installed(int sig)
    void pykad_leave_publish(msghdr** hdrs, int* fds, int* res, int n)
    int pykad_send_begin() nogil
    void pykad_send_end() nogil


cdef list _leave_bursts = []
cdef msghdr** _leave_hdrs = NULL
cdef int* _leave_fds = NULL
cdef int* _leave_res = NULL
cdef list _leave_signals = []


def leave_install(signums):
    """Send the bursts of :func:`leave_set` from the handler of ``signums`` (each
    must have a handler, Python's, which runs right after)."""
    for signum in signums:
        if pykad_leave_install(signum) < 0:
            raise OSError(errno, f"signal {signum}: no handler to pass it on to")
        if signum not in _leave_signals:
            _leave_signals.append(signum)


def leave_installed(int signum):
    """Whether ``signum``'s handler is the leave handler (a later ``signal.signal``
    replaces it)."""
    return bool(pykad_leave_installed(signum))


def leave_set(bursts):
    """The bursts the handler sends, in order (an empty list: none); the handler holds
    them (they cannot change) until the next call. No change once it has fired."""
    global _leave_bursts, _leave_hdrs, _leave_fds, _leave_res
    if pykad_leave_fired:
        return
    cdef Burst b
    cdef int n = 0, i, at = 0
    new = list(bursts)
    for b in new:
        n += b.items.npkts
    cdef msghdr** hdrs = <msghdr**>malloc((n if n else 1) * sizeof(msghdr*))
    cdef int* fds = <int*>malloc((n if n else 1) * sizeof(int))
    cdef int* res = <int*>calloc(n if n else 1, sizeof(int))
    if hdrs == NULL or fds == NULL or res == NULL:
        free(hdrs)
        free(fds)
        free(res)
        raise MemoryError()
    for b in new:
        for i in range(b.items.npkts):
            hdrs[at] = &b.items.pkts[i].hdr
            fds[at] = b.fds[i]
            at += 1
        b.held += 1
    pykad_leave_publish(hdrs, fds, res, n)
    for b in _leave_bursts:
        b.held -= 1
    free(_leave_hdrs)
    free(_leave_fds)
    free(_leave_res)
    _leave_bursts, _leave_hdrs, _leave_fds, _leave_res = new, hdrs, fds, res


def leave_results():
    """The errno of each send (0: sent) if the handler has sent the bursts, else None."""
    if not pykad_leave_fired:
        return None
    return [_leave_res[i] for i in range(pykad_leave_n)]


def leave_uninstall():
    """Put the handlers back as they were and forget the bursts and whether they went."""
    global pykad_leave_fired
    for signum in _leave_signals:
        pykad_leave_uninstall(signum)
    _leave_signals.clear()
    pykad_leave_fired = 0
    leave_set([])


def send_begin():
    """Before an advert other than a priority-0 one goes out (on the main thread):
    False if the stop signal's handler sent the priority-0 adverts already (then
    none may follow); True, and :func:`send_end` once it went."""
    return bool(pykad_send_begin())


def send_end():
    """After :func:`send_begin`: the priority-0 adverts of a signal that came meanwhile
    go now."""
    pykad_send_end()


cdef class LeaveWatch:
    """A trio instrument: ``mark()`` says the bursts are out of date: none is sent
    until ``ready`` (called before the loop's next wait) has set them again."""

    cdef object ready
    cdef bint dirty

    def __init__(self, ready):
        self.ready = ready
        self.dirty = True

    def mark(self):
        global pykad_leave_n
        self.dirty = True
        if not pykad_leave_fired:
            pykad_leave_n = 0

    def before_io_wait(self, timeout):
        if self.dirty:
            self.dirty = False
            self.ready()


# --------------------------------------------------------------------------- relaying

cdef extern from *:
    """
    /* The daemon's parent: a stop signal goes on to the VRRP child from the handler
       itself, then the parent is told with a signal its loop waits for. */
    static struct sigaction pykad_relay_old[_NSIG];
    static volatile sig_atomic_t pykad_relay_pid = 0, pykad_relay_sent = 0;
    static int pykad_relay_notify = 0;
    static pid_t pykad_relay_owner = 0;
    static long pykad_relay_thread = 0;

    static void pykad_relay_handler(int sig, siginfo_t* info, void* ctx) {
        int saved = errno;
        pid_t to = pykad_relay_pid;
        if (getpid() != pykad_relay_owner) {  /* a child that kept it: as if it were not there */
            sigaction(sig, &pykad_relay_old[sig], NULL);
            raise(sig);
        } else {
            if (to > 0 && kill(to, SIGTERM) == 0) {
                pykad_relay_sent = to;
                /* The child was woken on this CPU, behind the rest of the parent's stop:
                   let it run first (its priority-0 adverts are the handover). */
                sched_yield();
            }
            syscall(SYS_tgkill, pykad_relay_owner, pykad_relay_thread, pykad_relay_notify);
        }
        errno = saved;
    }

    static int pykad_relay_install(int sig, int notify) {
        struct sigaction act;
        if (sig <= 0 || sig >= _NSIG || notify <= 0 || notify >= _NSIG) {
            errno = EINVAL;
            return -1;
        }
        pykad_relay_owner = getpid();
        pykad_relay_thread = syscall(SYS_gettid);
        pykad_relay_notify = notify;
        memset(&act, 0, sizeof act);
        sigfillset(&act.sa_mask);
        act.sa_sigaction = pykad_relay_handler;
        act.sa_flags = SA_SIGINFO | SA_RESTART;
        return sigaction(sig, &act, &pykad_relay_old[sig]);
    }

    static int pykad_relay_uninstall(int sig) {
        struct sigaction cur;
        if (sig <= 0 || sig >= _NSIG || sigaction(sig, NULL, &cur) < 0)
            return 0;
        if (!(cur.sa_flags & SA_SIGINFO) || cur.sa_sigaction != pykad_relay_handler)
            return 0;
        return sigaction(sig, &pykad_relay_old[sig], NULL);
    }
    """
    int pykad_relay_pid
    int pykad_relay_sent
    int pykad_relay_install(int sig, int notify)
    int pykad_relay_uninstall(int sig)


cdef list _relay_signals = []


def relay_install(signums, int notify):
    """In the daemon's parent: each of ``signums`` (unblocked on the calling thread
    only) sends SIGTERM on to the process :func:`relay_to` names, from the handler
    itself, then ``notify`` (blocked, waited for) to the calling thread."""
    for signum in signums:
        if pykad_relay_install(signum, notify) < 0:
            raise OSError(errno, f"signal {signum} cannot be relayed")
        if signum not in _relay_signals:
            _relay_signals.append(signum)


def relay_to(int pid):
    """Where the stop signals go on to (0: nowhere)."""
    global pykad_relay_pid
    pykad_relay_pid = pid


def relay_taken():
    """The pid a stop signal went on to since the last call (0: none)."""
    global pykad_relay_sent
    pid = pykad_relay_sent
    pykad_relay_sent = 0
    return pid


def relay_uninstall():
    """Put the handlers back as they were; relay to nowhere."""
    relay_to(0)
    relay_taken()
    for signum in _relay_signals:
        pykad_relay_uninstall(signum)
    _relay_signals.clear()
