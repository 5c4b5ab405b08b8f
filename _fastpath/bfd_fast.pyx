# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""BFD sessions in their steady state, in bulk, compiled (twin of ``pykad.drivers.bfd_fast_py``).

Same API and results as the pure-Python twin for the same inputs and seed; see
``pykad/drivers/bfd_fast_py.py`` for the rules.  What is different is how:

- ``wait`` blocks in ``epoll_wait`` without the GIL, drains each receive socket
  with ``recvmmsg`` (cmsgs parsed in C, the session found by its Your
  Discriminator in an open-addressing table) and sends the due packets from
  ``sockaddr``s built at ``arm`` time, one ``sendmmsg`` per socket (``sendto``
  when a socket has one packet due).  An absorbed or a sent packet creates no
  Python object.
- The armed sessions are in a binary heap keyed by ``min(tx_at, detect_at)``,
  so a round looks only at the sessions that are due (``key <= now +
  SLACK_MAX_US``) instead of at every armed session; the due ones are then
  handled in ascending discriminator order, so the jitter draws, the sends,
  the expiries and the wake-up times are the twin's.

Differences, all at the edges:

- Discriminators are 32-bit: ``arm`` raises ``ValueError`` for one outside
  0..2**32-1 (the twin would arm it, though no packet could ever match it),
  ``armed`` says False and ``disarm`` raises ``KeyError`` for one.  Times and
  intervals must fit in a C ``int64_t`` (``OverflowError`` otherwise).
- ``arm`` raises ``OverflowError`` for a ``tx_port`` outside 0..65535 (the twin
  raises it from ``wait``, at the first send).  An address that is not numeric
  counts every send as a send error (the twin would resolve a name).
- A signal that interrupts ``epoll_wait`` runs the Python handlers
  (``PyErr_CheckSignals``; an exception a handler raises propagates, as from
  the twin) and ``wait`` returns (with nothing: it only blocks when it has
  nothing to return), after emptying the wake-up fd if the signal made it
  readable.  The twin's ``epoll.poll`` waits again after the handlers, so it
  returns only when the ``signal.set_wakeup_fd`` byte makes the wake-up fd
  readable: with a wake-up fd (the BFD process) both return once; without
  one, only this one returns.
- Like the twin, the receive and transmit sockets are duplicated (``dup``, at
  ``__init__`` and at a tx_fd's first ``arm``; closed at its last ``disarm``):
  the loop does not depend on the caller's fds staying open.  The destination
  ``sockaddr`` is built once, at ``arm`` (``getaddrinfo`` with
  ``AI_NUMERICHOST``, of the family the twin uses: IPv6 if the address has a
  ``:``).  ``multihop`` is compared and returned as a bool.  ``close`` may be
  called twice; a ``wait`` after ``close`` that has to block raises ``OSError``
  (EBADF), as the twin's.

``_set_clock(now_us)`` is for tests, in both twins: it makes the loop read a
fake clock.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals, PyErr_SetFromErrno
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.errno cimport errno, EINTR
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t, INT64_MAX
from libc.stdlib cimport malloc, calloc, realloc, free, qsort
from libc.string cimport memcpy, memcmp, memset, strlen

cimport cython


include "_sockets.pxi"

cdef extern from "<unistd.h>" nogil:
    int dup(int)
    int close(int)
    ssize_t read(int, void*, size_t)

cdef extern from "<fcntl.h>" nogil:
    int fcntl(int, int, ...)
    int F_DUPFD_CLOEXEC

cdef extern from "<sys/timerfd.h>" nogil:
    struct itimerspec:
        timespec it_interval
        timespec it_value
    int timerfd_create(int, int)
    int timerfd_settime(int, int, const itimerspec*, itimerspec*)
    int TFD_NONBLOCK
    int TFD_CLOEXEC
    int TFD_TIMER_ABSTIME

include "_epoll.pxi"

cdef extern from "<arpa/inet.h>" nogil:
    const char* inet_ntop(int, const void*, char*, socklen_t)
    int inet_pton(int, const char*, void*)

cdef extern from "<netdb.h>" nogil:
    struct addrinfo:
        int ai_flags
        int ai_family
        int ai_socktype
        int ai_protocol
        socklen_t ai_addrlen
        sockaddr* ai_addr
        char* ai_canonname
        addrinfo* ai_next
    int getaddrinfo(const char*, const char*, const addrinfo*, addrinfo**)
    void freeaddrinfo(addrinfo*)
    int AI_NUMERICHOST


SLACK_MAX_US = 1000
JITTER_LOW = 750
"""Per mille of the interval: the shortest gap between two packets (RFC 5880 6.8.7)."""
JITTER_HIGH, JITTER_HIGH_MULT_ONE = 1000, 900
IP_TTL = C_IP_TTL
IP_PKTINFO = C_IP_PKTINFO
IPV6_PKTINFO = C_IPV6_PKTINFO
IPV6_HOPLIMIT = C_IPV6_HOPLIMIT

Datagram = tuple[bytes, str, str, int, bool]
Expired = tuple[int, int, int, int, int]

cdef enum:
    C_SLACK_MAX_US = 1000
    C_JITTER_LOW = 750
    C_JITTER_HIGH = 1000
    C_JITTER_HIGH_MULT_ONE = 900
    BUFFER = 1500  # the twin's recvmsg size: a longer datagram is cut to it, as there
    CMSG_BYTES = 128  # the twin's: 2 * CMSG_SPACE(20) + 2 * CMSG_SPACE(4)
    RX_BATCH = 64
    HEADER_LEN = 24
    EMPTY = -1

cdef uint64_t MASK_DEFAULT_SEED = 0x9E3779B97F4A7C15ULL
cdef uint64_t TAG_TIMER = 1ULL << 32
cdef uint64_t TAG_WAKE = (1ULL << 32) + 1
cdef bytes _MAPPED = bytes(10) + b"\xff\xff"
cdef uint8_t MAPPED[12]
memset(MAPPED, 0, 10)
MAPPED[10] = 0xFF
MAPPED[11] = 0xFF

cdef int64_t _fake_now = -1
cdef bint _fake_clock = False


def slack_us(interval_us):
    return min(SLACK_MAX_US, interval_us // 10)


def to16(address):
    """An address as the loop compares it: 16 bytes, IPv4 mapped."""
    cdef bytes text = address.encode()
    cdef uint8_t packed[16]
    if b"\0" in text:
        raise ValueError("embedded null character")
    if ":" in address:
        if inet_pton(AF_INET6, text, packed) != 1:
            raise OSError("illegal IP address string passed to inet_pton")
        return PyBytes_FromStringAndSize(<char*>packed, 16)
    if inet_pton(AF_INET, text, packed) != 1:
        raise OSError("illegal IP address string passed to inet_pton")
    return _MAPPED + PyBytes_FromStringAndSize(<char*>packed, 4)


def _set_clock(now_us=None):
    """Tests only: make the loop's clock read ``now_us`` (None: CLOCK_MONOTONIC again).

    With a fake clock, call ``wait`` only with a deadline at or before it (one round).
    """
    global _fake_now, _fake_clock
    if now_us is None:
        _fake_clock = False
    else:
        _fake_now = now_us
        _fake_clock = True


cdef inline int64_t _now_us() noexcept nogil:
    cdef timespec ts
    if _fake_clock:
        return _fake_now
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000 + ts.tv_nsec // 1000


cdef inline int64_t _per_mille(int64_t value, int64_t pm) noexcept nogil:
    """``value * pm // 1000`` for ``value >= 0`` without overflowing."""
    return (value // 1000) * pm + (value % 1000) * pm // 1000


cdef inline int64_t _slack(int64_t interval) noexcept nogil:
    cdef int64_t s = interval // 10
    return s if s < C_SLACK_MAX_US else C_SLACK_MAX_US


cdef str _text(const uint8_t* packed16):
    cdef char buf[64]
    if memcmp(packed16, MAPPED, 12) == 0:
        inet_ntop(AF_INET, packed16 + 12, buf, sizeof(buf))
    else:
        inet_ntop(AF_INET6, packed16, buf, sizeof(buf))
    return PyUnicode_DecodeASCII(buf, strlen(buf), NULL)


cdef struct Slot:
    uint32_t discr
    int heap_pos  # -1 when not in the heap (being handled, or free)
    bint used
    bint multihop
    bint dest_ok
    int tx_fd  # the loop's duplicate
    int tx_orig  # the caller's fd, the key of _tx_socks
    int64_t min_ttl
    uint8_t source[16]
    uint8_t* expect
    Py_ssize_t expect_len
    uint8_t* tx
    Py_ssize_t tx_len
    sockaddr_in6 dest  # a sockaddr_in for IPv4: the smaller one fits
    socklen_t dest_len
    int64_t interval
    int64_t slack
    int64_t high
    int64_t detect_time
    int64_t tx_at
    int64_t detect_at
    uint64_t sent
    uint64_t absorbed


cdef struct Due:
    uint32_t discr
    int slot


cdef struct Out:
    int fd
    int seq
    int slot


cdef struct Rx:
    int fd  # the loop's duplicate
    bint multihop


cdef inline void _reset(msghdr* h) noexcept nogil:
    """Undo what recvmmsg wrote to a header it filled: the lengths it gave back, the flags."""
    h.msg_namelen = sizeof(sockaddr_in6)
    h.msg_controllen = CMSG_BYTES
    h.msg_flags = 0


cdef int _due_cmp(const void* a, const void* b) noexcept nogil:
    cdef uint32_t x = (<const Due*>a).discr
    cdef uint32_t y = (<const Due*>b).discr
    return -1 if x < y else (1 if x > y else 0)


cdef int _out_cmp(const void* a, const void* b) noexcept nogil:
    cdef const Out* x = <const Out*>a
    cdef const Out* y = <const Out*>b
    if x.fd != y.fd:
        return -1 if x.fd < y.fd else 1
    return -1 if x.seq < y.seq else (1 if x.seq > y.seq else 0)


cdef inline int64_t _key(Slot* s) noexcept nogil:
    return s.tx_at if s.tx_at < s.detect_at else s.detect_at


cdef inline uint32_t _hash(uint32_t discr, int bits) noexcept nogil:
    return <uint32_t>(discr * 2654435761U) >> (32 - bits)


@cython.no_gc_clear  # __dealloc__ needs _tx_socks (it holds only ints: no cycle to break)
cdef class BfdLoop:
    """The event loop of the BFD process (see ``pykad.drivers.bfd_fast_py``)."""

    cdef uint64_t _state
    cdef int _epfd
    cdef int _timerfd
    cdef bint _timer_armed
    cdef int64_t _timer_at
    cdef int _wake_fd
    cdef Rx* _rx
    cdef int _nrx
    cdef epoll_event* _events
    # sessions
    cdef Slot* _slots
    cdef int _cap  # of _slots, _free, _heap, _due, _out, _mm, _iov
    cdef int _nslots  # high-water mark of _slots
    cdef int _count  # armed
    cdef int* _free
    cdef int _nfree
    cdef int* _heap
    cdef int _hlen
    cdef int* _ht_vals  # discr -> slot, open addressing (linear probing)
    cdef uint32_t* _ht_keys
    cdef int _ht_bits
    cdef Due* _due
    cdef Out* _out
    cdef int* _expired
    cdef mmsghdr* _mm
    cdef iovec* _iov
    cdef dict _tx_socks  # caller's fd -> [duplicate, users]
    # receiving
    cdef mmsghdr* _rmsgs
    cdef iovec* _riovs
    cdef uint8_t* _rbufs
    cdef sockaddr_in6* _raddrs
    cdef uint64_t* _rcmsgs
    cdef public uint64_t sent
    cdef public uint64_t absorbed
    cdef public uint64_t send_errors
    cdef public uint64_t wakeups
    cdef public int64_t late_us  # the latest a packet went out after its time (the caller resets it)

    def __cinit__(self):
        self._epfd = -1
        self._timerfd = -1
        self._wake_fd = -1
        self._tx_socks = {}

    def __init__(self, receivers, *, seed, wake_fd=-1):
        self._state = <uint64_t>((seed & 0xFFFFFFFFFFFFFFFF) or MASK_DEFAULT_SEED)
        cdef list rx = list(receivers)
        cdef int i, fd
        cdef epoll_event ev
        self._rmsgs = <mmsghdr*>calloc(RX_BATCH, sizeof(mmsghdr))
        self._riovs = <iovec*>calloc(RX_BATCH, sizeof(iovec))
        self._rbufs = <uint8_t*>malloc(RX_BATCH * BUFFER)
        self._raddrs = <sockaddr_in6*>calloc(RX_BATCH, sizeof(sockaddr_in6))
        self._rcmsgs = <uint64_t*>calloc(RX_BATCH, CMSG_BYTES)
        self._rx = <Rx*>calloc(len(rx) + 1, sizeof(Rx))
        self._events = <epoll_event*>calloc(len(rx) + 2, sizeof(epoll_event))
        if (self._rmsgs == NULL or self._riovs == NULL or self._rbufs == NULL
                or self._raddrs == NULL or self._rcmsgs == NULL or self._rx == NULL
                or self._events == NULL):
            raise MemoryError()
        for i in range(RX_BATCH):
            self._riovs[i].iov_base = self._rbufs + i * BUFFER
            self._riovs[i].iov_len = BUFFER
            self._rmsgs[i].msg_hdr.msg_name = &self._raddrs[i]
            self._rmsgs[i].msg_hdr.msg_iov = &self._riovs[i]
            self._rmsgs[i].msg_hdr.msg_iovlen = 1
            self._rmsgs[i].msg_hdr.msg_control = <uint8_t*>self._rcmsgs + i * CMSG_BYTES
            _reset(&self._rmsgs[i].msg_hdr)
        self._grow(16)
        self._timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if self._timerfd < 0:
            PyErr_SetFromErrno(OSError)
        self._epfd = epoll_create1(EPOLL_CLOEXEC)
        if self._epfd < 0:
            PyErr_SetFromErrno(OSError)
        seen = set()
        for given, multihop in rx:
            if given in seen:  # the twin's epoll.register says so
                raise FileExistsError(17, "File exists")
            seen.add(given)
            fd = fcntl(<int>given, F_DUPFD_CLOEXEC, 0)
            if fd < 0:
                PyErr_SetFromErrno(OSError)
            self._rx[self._nrx].fd = fd
            self._rx[self._nrx].multihop = bool(multihop)
            ev.events = EPOLLIN
            ev.data.u64 = <uint64_t>self._nrx
            self._nrx += 1
            if epoll_ctl(self._epfd, EPOLL_CTL_ADD, fd, &ev) < 0:
                PyErr_SetFromErrno(OSError)
        ev.events = EPOLLIN
        ev.data.u64 = TAG_TIMER
        if epoll_ctl(self._epfd, EPOLL_CTL_ADD, self._timerfd, &ev) < 0:
            PyErr_SetFromErrno(OSError)
        if wake_fd >= 0:
            if wake_fd in seen:
                raise FileExistsError(17, "File exists")
            ev.events = EPOLLIN
            ev.data.u64 = TAG_WAKE
            if epoll_ctl(self._epfd, EPOLL_CTL_ADD, <int>wake_fd, &ev) < 0:
                PyErr_SetFromErrno(OSError)
            self._wake_fd = wake_fd

    def __dealloc__(self):
        cdef int i
        if self._slots != NULL:
            for i in range(self._nslots):
                free(self._slots[i].expect)
                free(self._slots[i].tx)
        for pair in self._tx_socks.values():
            close(<int>pair[0])
        for i in range(self._nrx):
            close(self._rx[i].fd)
        if self._epfd >= 0:
            close(self._epfd)
        if self._timerfd >= 0:
            close(self._timerfd)
        free(self._slots)
        free(self._free)
        free(self._heap)
        free(self._ht_vals)
        free(self._ht_keys)
        free(self._due)
        free(self._out)
        free(self._expired)
        free(self._mm)
        free(self._iov)
        free(self._rmsgs)
        free(self._riovs)
        free(self._rbufs)
        free(self._raddrs)
        free(self._rcmsgs)
        free(self._rx)
        free(self._events)

    cdef int _grow(self, int cap) except -1:
        """Room for ``cap`` sessions in every per-session array (allocated before use)."""
        cdef void* p
        if cap <= self._cap:
            return 0
        p = realloc(self._slots, cap * sizeof(Slot))
        if p == NULL:
            raise MemoryError()
        self._slots = <Slot*>p
        p = realloc(self._free, cap * sizeof(int))
        if p == NULL:
            raise MemoryError()
        self._free = <int*>p
        p = realloc(self._heap, cap * sizeof(int))
        if p == NULL:
            raise MemoryError()
        self._heap = <int*>p
        p = realloc(self._due, cap * sizeof(Due))
        if p == NULL:
            raise MemoryError()
        self._due = <Due*>p
        p = realloc(self._out, cap * sizeof(Out))
        if p == NULL:
            raise MemoryError()
        self._out = <Out*>p
        p = realloc(self._expired, cap * sizeof(int))
        if p == NULL:
            raise MemoryError()
        self._expired = <int*>p
        p = realloc(self._mm, cap * sizeof(mmsghdr))
        if p == NULL:
            raise MemoryError()
        self._mm = <mmsghdr*>p
        p = realloc(self._iov, cap * sizeof(iovec))
        if p == NULL:
            raise MemoryError()
        self._iov = <iovec*>p
        # the table: at most half full
        cdef int bits = 4
        while (1 << bits) < 2 * cap:
            bits += 1
        self._rehash(bits)
        self._cap = cap
        return 0

    # -- the table: discriminator -> slot ---------------------------------------------

    cdef int _rehash(self, int bits) except -1:
        cdef int size = 1 << bits, i, j, old_size = (1 << self._ht_bits) if self._ht_vals != NULL else 0
        cdef int* vals = <int*>malloc(size * sizeof(int))
        cdef uint32_t* keys = <uint32_t*>malloc(size * sizeof(uint32_t))
        if vals == NULL or keys == NULL:
            free(vals)
            free(keys)
            raise MemoryError()
        for i in range(size):
            vals[i] = EMPTY
        for i in range(old_size):
            if self._ht_vals[i] != EMPTY:
                j = _hash(self._ht_keys[i], bits)
                while vals[j] != EMPTY:
                    j = (j + 1) & (size - 1)
                vals[j] = self._ht_vals[i]
                keys[j] = self._ht_keys[i]
        free(self._ht_vals)
        free(self._ht_keys)
        self._ht_vals = vals
        self._ht_keys = keys
        self._ht_bits = bits
        return 0

    cdef inline int _find(self, uint32_t discr) noexcept nogil:
        cdef int mask = (1 << self._ht_bits) - 1
        cdef int j = _hash(discr, self._ht_bits)
        cdef int v
        while True:
            v = self._ht_vals[j]
            if v == EMPTY or self._ht_keys[j] == discr:
                return v
            j = (j + 1) & mask

    cdef void _ht_insert(self, uint32_t discr, int slot) noexcept nogil:
        cdef int mask = (1 << self._ht_bits) - 1
        cdef int j = _hash(discr, self._ht_bits)
        while self._ht_vals[j] != EMPTY:
            j = (j + 1) & mask
        self._ht_vals[j] = slot
        self._ht_keys[j] = discr

    cdef void _ht_delete(self, uint32_t discr) noexcept nogil:
        cdef int mask = (1 << self._ht_bits) - 1
        cdef int j = _hash(discr, self._ht_bits)
        cdef int k, home
        while self._ht_vals[j] != EMPTY and self._ht_keys[j] != discr:
            j = (j + 1) & mask
        if self._ht_vals[j] == EMPTY:
            return
        # backward shift: move up every later entry of the run that may live at j
        k = j
        while True:
            self._ht_vals[j] = EMPTY
            while True:
                k = (k + 1) & mask
                if self._ht_vals[k] == EMPTY:
                    return
                home = _hash(self._ht_keys[k], self._ht_bits)
                # k's entry may move to j unless its home lies cyclically in (j, k]
                if j <= k:
                    if home <= j or home > k:
                        break
                elif home <= j and home > k:
                    break
            self._ht_vals[j] = self._ht_vals[k]
            self._ht_keys[j] = self._ht_keys[k]
            j = k

    # -- the heap of armed sessions, by min(tx_at, detect_at) --------------------------

    cdef inline bint _before(self, int a, int b) noexcept nogil:
        cdef int64_t ka = _key(&self._slots[a]), kb = _key(&self._slots[b])
        if ka != kb:
            return ka < kb
        return self._slots[a].discr < self._slots[b].discr

    cdef void _sift_up(self, int i) noexcept nogil:
        cdef int s = self._heap[i], parent
        while i > 0:
            parent = (i - 1) >> 1
            if not self._before(s, self._heap[parent]):
                break
            self._heap[i] = self._heap[parent]
            self._slots[self._heap[i]].heap_pos = i
            i = parent
        self._heap[i] = s
        self._slots[s].heap_pos = i

    cdef void _sift_down(self, int i) noexcept nogil:
        cdef int s = self._heap[i], child
        while True:
            child = 2 * i + 1
            if child >= self._hlen:
                break
            if child + 1 < self._hlen and self._before(self._heap[child + 1], self._heap[child]):
                child += 1
            if not self._before(self._heap[child], s):
                break
            self._heap[i] = self._heap[child]
            self._slots[self._heap[i]].heap_pos = i
            i = child
        self._heap[i] = s
        self._slots[s].heap_pos = i

    cdef void _heap_push(self, int s) noexcept nogil:
        self._heap[self._hlen] = s
        self._hlen += 1
        self._sift_up(self._hlen - 1)

    cdef void _heap_remove(self, int s) noexcept nogil:
        cdef int i = self._slots[s].heap_pos
        if i < 0:
            return
        self._slots[s].heap_pos = -1
        self._hlen -= 1
        if i == self._hlen:
            return
        cdef int moved = self._heap[self._hlen]
        self._heap[i] = moved
        self._slots[moved].heap_pos = i
        self._sift_up(i)
        self._sift_down(self._slots[moved].heap_pos)

    cdef inline void _heap_update(self, int s) noexcept nogil:
        cdef int i = self._slots[s].heap_pos
        if i < 0:
            return
        self._sift_up(i)
        self._sift_down(self._slots[s].heap_pos)

    # -- the generator (xorshift64*) ------------------------------------------------------

    cdef inline uint64_t _random64(self) noexcept nogil:
        cdef uint64_t x = self._state
        x ^= x >> 12
        x ^= x << 25
        x ^= x >> 27
        self._state = x
        return x * 0x2545F4914F6CDD1DULL

    def random64(self):
        return self._random64()

    cdef inline int64_t _jitter(self, Slot* s) noexcept nogil:
        cdef int64_t low = _per_mille(s.interval, C_JITTER_LOW) + s.slack
        cdef int64_t high = _per_mille(s.interval, s.high)
        cdef int64_t span = high - low if high > low else 0
        return low + <int64_t>(self._random64() % <uint64_t>(span + 1))

    # -- sessions ---------------------------------------------------------------------

    def arm(
        self,
        discr,
        *,
        source,
        multihop,
        int64_t min_ttl,
        expect,
        tx,
        tx_fd,
        tx_address,
        tx_port,
        int64_t interval_us,
        detect_mult_one,
        int64_t detect_time_us,
        int64_t tx_at,
        int64_t detect_at,
    ):
        """Run session ``discr`` here until it is disarmed or escalated."""
        if not 0 <= discr <= 0xFFFFFFFF:
            raise ValueError(f"discriminator {discr} is not a 32-bit discriminator")
        cdef uint32_t d = discr
        if self._find(d) != EMPTY:
            raise ValueError(f"discriminator {discr} is armed")
        if len(source) != 16:
            raise ValueError("source must be a 16-byte IPv6 (or IPv4-mapped) address")
        if interval_us <= 0 or detect_time_us <= 0:
            raise ValueError("interval and Detection Time must be positive")
        if not 0 <= tx_port <= 0xFFFF:
            raise OverflowError("arm(): port must be 0-65535.")
        cdef bytes source_b = bytes(source), expect_b = bytes(expect), tx_b = bytes(tx)
        cdef bint ipv6 = ":" in tx_address
        cdef bytes host = tx_address.encode("utf-8", "surrogateescape")
        if self._count + 1 > self._cap:
            self._grow(2 * self._cap)
        cdef Py_ssize_t elen = PyBytes_GET_SIZE(expect_b), tlen = PyBytes_GET_SIZE(tx_b)
        cdef uint8_t* ecopy = <uint8_t*>malloc(elen if elen else 1)
        cdef uint8_t* tcopy = <uint8_t*>malloc(tlen if tlen else 1)
        if ecopy == NULL or tcopy == NULL:
            free(ecopy)
            free(tcopy)
            raise MemoryError()
        memcpy(ecopy, PyBytes_AS_STRING(expect_b), elen)
        memcpy(tcopy, PyBytes_AS_STRING(tx_b), tlen)
        cdef int given = tx_fd, fd
        pair = self._tx_socks.get(given)
        if pair is None:
            fd = fcntl(given, F_DUPFD_CLOEXEC, 0)
            if fd < 0:
                free(ecopy)
                free(tcopy)
                PyErr_SetFromErrno(OSError)
            pair = [fd, 0]
            self._tx_socks[given] = pair
        pair[1] += 1
        cdef int si
        if self._nfree:
            self._nfree -= 1
            si = self._free[self._nfree]
        else:
            si = self._nslots
            self._nslots += 1
        cdef Slot* s = &self._slots[si]
        memset(s, 0, sizeof(Slot))
        s.used = True
        s.discr = d
        s.heap_pos = -1
        s.multihop = bool(multihop)
        s.min_ttl = min_ttl
        memcpy(s.source, PyBytes_AS_STRING(source_b), 16)
        s.expect = ecopy
        s.expect_len = elen
        s.tx = tcopy
        s.tx_len = tlen
        s.tx_fd = pair[0]
        s.tx_orig = given
        s.interval = interval_us
        s.slack = _slack(interval_us)
        s.high = C_JITTER_HIGH_MULT_ONE if detect_mult_one else C_JITTER_HIGH
        s.detect_time = detect_time_us
        s.tx_at = tx_at
        s.detect_at = detect_at
        s.dest_ok = _sockaddr(host, ipv6, <unsigned short>tx_port, &s.dest, &s.dest_len)
        self._ht_insert(d, si)
        self._heap_push(si)
        self._count += 1

    cdef tuple _release(self, int si):
        """Disarm slot ``si``: (tx_at, detect_at, sent, absorbed)."""
        cdef Slot* s = &self._slots[si]
        self._heap_remove(si)
        self._ht_delete(s.discr)
        result = (s.tx_at, s.detect_at, s.sent, s.absorbed)
        pair = self._tx_socks[s.tx_orig]
        if pair[1] == 1:
            del self._tx_socks[s.tx_orig]
            close(<int>pair[0])
        else:
            pair[1] -= 1
        free(s.expect)
        free(s.tx)
        s.expect = NULL
        s.tx = NULL
        s.used = False
        self._free[self._nfree] = si
        self._nfree += 1
        self._count -= 1
        return result

    def disarm(self, discr):
        """Take session ``discr`` back: (tx_at, detect_at, sent, absorbed) since ``arm``."""
        cdef int si = EMPTY
        if isinstance(discr, int) and 0 <= discr <= 0xFFFFFFFF:
            si = self._find(<uint32_t>discr)
        if si == EMPTY:
            raise KeyError(discr)
        return self._release(si)

    def armed(self, discr):
        if isinstance(discr, int) and 0 <= discr <= 0xFFFFFFFF:
            return self._find(<uint32_t>discr) != EMPTY
        return False

    def __len__(self):
        return self._count

    # -- the loop ---------------------------------------------------------------------

    def wait(self, int64_t deadline_us):
        """Serve the armed sessions until Python has work (see the module docstring)."""
        cdef list received = []
        cdef list expired = []
        cdef int64_t now, wake
        cdef int i, n
        cdef bint interrupted
        cdef uint64_t junk
        cdef char drain[4096]
        while True:
            now = _now_us()
            for i in range(self._nrx):
                self._drain(&self._rx[i], now, received)
            self._timers(now, expired)
            if received or expired or now >= deadline_us:
                return received, expired
            wake = deadline_us
            if self._hlen and _key(&self._slots[self._heap[0]]) < wake:
                wake = _key(&self._slots[self._heap[0]])
            self._arm_timer(wake)
            with nogil:
                n = epoll_wait(self._epfd, self._events, self._nrx + 2, -1)
            interrupted = False
            if n < 0:
                if errno != EINTR:
                    PyErr_SetFromErrno(OSError)
                PyErr_CheckSignals()  # raises what a handler raised
                # Return, but first empty the wake-up fd if the signal wrote to it
                # (signal.set_wakeup_fd), so that the next wait does not return for it.
                interrupted = True
                n = epoll_wait(self._epfd, self._events, self._nrx + 2, 0)
                if n < 0:
                    n = 0
            else:
                self.wakeups += 1
            for i in range(n):
                if self._events[i].data.u64 == TAG_TIMER:
                    read(self._timerfd, &junk, 8)
                    self._timer_armed = False
                elif self._events[i].data.u64 == TAG_WAKE:
                    read(self._wake_fd, drain, sizeof(drain))
                    return received, expired
            if interrupted:
                return received, expired

    cdef int _arm_timer(self, int64_t deadline_us) except -1:
        cdef itimerspec spec
        cdef int64_t ns
        if self._timer_armed and self._timer_at == deadline_us:
            return 0
        memset(&spec, 0, sizeof(spec))
        if deadline_us >= INT64_MAX // 1000:
            ns = (INT64_MAX // 1000) * 1000
        elif deadline_us <= 0:
            ns = 1  # 0 would disarm: a deadline in the past still fires (at 1 ns)
        else:
            ns = deadline_us * 1000
        spec.it_value.tv_sec = ns // 1000000000
        spec.it_value.tv_nsec = ns % 1000000000
        if timerfd_settime(self._timerfd, TFD_TIMER_ABSTIME, &spec, NULL) < 0:
            PyErr_SetFromErrno(OSError)
        self._timer_armed = True
        self._timer_at = deadline_us
        return 0

    cdef int _drain(self, Rx* rx, int64_t now, list out) except -1:
        cdef int got, i, si
        cdef unsigned int n
        cdef msghdr* h
        cdef cmsghdr* c
        cdef uint8_t* p
        cdef sockaddr_in6* a
        cdef Slot* s
        cdef int ttl
        cdef bint has_dst
        cdef uint8_t source[16]
        cdef uint8_t dest[16]
        cdef uint32_t your
        cdef int64_t key
        while True:
            # The GIL stays held: the call never blocks, and no other thread may reuse the buffers.
            got = recvmmsg(rx.fd, self._rmsgs, RX_BATCH, MSG_DONTWAIT, NULL)
            if got <= 0:
                return 0  # empty (EAGAIN), interrupted or failed: the twin stops there too
            for i in range(got):
                h = &self._rmsgs[i].msg_hdr
                n = self._rmsgs[i].msg_len
                p = self._rbufs + i * BUFFER
                ttl = 0
                has_dst = False
                c = CMSG_FIRSTHDR(h)
                while c != NULL:
                    if c.cmsg_level == IPPROTO_IP:
                        if c.cmsg_type == C_IP_TTL:
                            memcpy(&ttl, CMSG_DATA(c), sizeof(int))
                        elif c.cmsg_type == C_IP_PKTINFO:
                            memcpy(dest, MAPPED, 12)
                            memcpy(dest + 12, CMSG_DATA(c) + 8, 4)  # ipi_addr
                            has_dst = True
                    elif c.cmsg_level == IPPROTO_IPV6:
                        if c.cmsg_type == C_IPV6_HOPLIMIT:
                            memcpy(&ttl, CMSG_DATA(c), sizeof(int))
                        elif c.cmsg_type == C_IPV6_PKTINFO:
                            memcpy(dest, CMSG_DATA(c), 16)  # ipi6_addr
                            has_dst = True
                    c = CMSG_NXTHDR(h, c)
                _reset(h)  # for the next call (the kernel writes only to the headers it fills)
                a = &self._raddrs[i]
                if a.sin6_family == AF_INET6:
                    memcpy(source, &a.sin6_addr, 16)
                elif a.sin6_family == AF_INET:
                    memcpy(source, MAPPED, 12)
                    memcpy(source + 12, &(<sockaddr_in*>a).sin_addr, 4)
                else:
                    memset(source, 0, 16)
                if n >= HEADER_LEN:
                    your = (<uint32_t>p[8] << 24) | (<uint32_t>p[9] << 16) | (<uint32_t>p[10] << 8) | p[11]
                    si = self._find(your)
                    if si != EMPTY:
                        s = &self._slots[si]
                        if (s.expect_len == <Py_ssize_t>n and memcmp(p, s.expect, n) == 0
                                and memcmp(source, s.source, 16) == 0
                                and s.multihop == rx.multihop and ttl >= s.min_ttl):
                            key = _key(s)
                            s.detect_at = now + s.detect_time
                            s.absorbed += 1
                            self.absorbed += 1
                            if _key(s) != key:
                                self._heap_update(si)
                            continue
                out.append((
                    PyBytes_FromStringAndSize(<char*>p, n),
                    _text(source),
                    _text(dest) if has_dst else "",
                    ttl,
                    True if rx.multihop else False,
                ))
            if got < RX_BATCH:
                return 0  # the queue was empty: spare the EAGAIN round trip

    cdef int _timers(self, int64_t now, list out) except -1:
        cdef int64_t threshold = now + C_SLACK_MAX_US
        cdef int ndue = 0, nout = 0, nexp = 0, i, si
        cdef Slot* s
        # every session that may be due is on top: key <= now + the largest slack
        while self._hlen and _key(&self._slots[self._heap[0]]) <= threshold:
            si = self._heap[0]
            self._due[ndue].discr = self._slots[si].discr
            self._due[ndue].slot = si
            ndue += 1
            self._heap_remove(si)
        if ndue == 0:
            return 0
        if ndue > 1:
            qsort(self._due, ndue, sizeof(Due), _due_cmp)
        for i in range(ndue):
            si = self._due[i].slot
            s = &self._slots[si]
            if s.detect_at <= now:
                self._expired[nexp] = si
                nexp += 1
                continue
            if s.tx_at <= now + s.slack:
                if now - s.tx_at > self.late_us:
                    self.late_us = now - s.tx_at
                self._out[nout].fd = s.tx_fd
                self._out[nout].seq = nout
                self._out[nout].slot = si
                nout += 1
                s.tx_at = now + self._jitter(s)
            self._heap_push(si)
        if nout:
            self._send(nout)
        for i in range(nexp):
            si = self._expired[i]
            out.append((self._slots[si].discr,) + self._release(si))
        return 0

    cdef void _send(self, int nout) noexcept:
        cdef int start = 0, end, off, i, r, fd, n
        cdef Slot* s
        cdef mmsghdr* m
        if nout > 1:
            qsort(self._out, nout, sizeof(Out), _out_cmp)
        while start < nout:
            fd = self._out[start].fd
            end = start + 1
            while end < nout and self._out[end].fd == fd:
                end += 1
            if end - start == 1:
                s = &self._slots[self._out[start].slot]
                if not s.dest_ok:
                    self.send_errors += 1
                else:
                    while True:
                        r = sendto(fd, s.tx, s.tx_len, MSG_DONTWAIT, <sockaddr*>&s.dest, s.dest_len)
                        if r >= 0 or errno != EINTR:
                            break
                    if r >= 0:
                        s.sent += 1
                        self.sent += 1
                    else:
                        self.send_errors += 1
                start = end
                continue
            # several packets on one socket: one sendmmsg (a bad destination is not in it)
            n = 0
            for i in range(start, end):
                s = &self._slots[self._out[i].slot]
                if not s.dest_ok:
                    self.send_errors += 1
                    continue
                self._iov[n].iov_base = s.tx
                self._iov[n].iov_len = s.tx_len
                m = &self._mm[n]
                m.msg_hdr.msg_name = &s.dest
                m.msg_hdr.msg_namelen = s.dest_len
                m.msg_hdr.msg_iov = &self._iov[n]
                m.msg_hdr.msg_iovlen = 1
                m.msg_hdr.msg_control = NULL
                m.msg_hdr.msg_controllen = 0
                m.msg_hdr.msg_flags = 0
                self._due[n].slot = self._out[i].slot  # the round is over: reuse as owners
                n += 1
            off = 0
            while off < n:
                r = sendmmsg(fd, &self._mm[off], <unsigned int>(n - off), MSG_DONTWAIT)
                if r > 0:
                    for i in range(off, off + r):
                        self._slots[self._due[i].slot].sent += 1
                    self.sent += r
                    off += r
                    continue
                if r < 0 and errno == EINTR:
                    continue
                self.send_errors += 1  # this packet failed (as its sendto would); try the next
                off += 1
            start = end

    def close(self):
        cdef int i
        for discr in [self._slots[i].discr for i in range(self._nslots) if self._slots[i].used]:
            self.disarm(discr)
        for i in range(self._nrx):
            close(self._rx[i].fd)
        self._nrx = 0
        if self._epfd >= 0:
            close(self._epfd)
            self._epfd = -1
        if self._timerfd >= 0:
            close(self._timerfd)
            self._timerfd = -1
        self._timer_armed = False  # so that a wait that would block fails (EBADF), as the twin's


cdef bint _sockaddr(bytes host, bint ipv6, unsigned short port, sockaddr_in6* out,
                    socklen_t* outlen) noexcept:
    """Where ``sendto`` sends: False if ``host`` is not a numeric address of its family."""
    cdef addrinfo hints
    cdef addrinfo* res = NULL
    if b"\0" in host:
        return False
    memset(&hints, 0, sizeof(hints))
    hints.ai_family = AF_INET6 if ipv6 else AF_INET
    hints.ai_socktype = SOCK_DGRAM
    hints.ai_flags = AI_NUMERICHOST
    if getaddrinfo(PyBytes_AS_STRING(host), NULL, &hints, &res) != 0 or res == NULL:
        return False
    if res.ai_addrlen > sizeof(sockaddr_in6):
        freeaddrinfo(res)
        return False
    memset(out, 0, sizeof(sockaddr_in6))
    memcpy(out, res.ai_addr, res.ai_addrlen)
    outlen[0] = res.ai_addrlen
    freeaddrinfo(res)
    if ipv6:
        out.sin6_port = htons(port)
    else:
        (<sockaddr_in*>out).sin_port = htons(port)
    return True
