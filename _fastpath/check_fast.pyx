# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""TCP_CHECK and plain HTTP_GET attempts in bulk, compiled (twin of ``pykad.drivers.check_fast_py``).

Same API and outcomes as the pure-Python twin for the same events; see
``pykad/drivers/check_fast_py.py`` for the rules.  What is different is how:
the checkers are C structs in one array (a Python dict maps keys to them), the
two timer heaps are C arrays with lazy deletion (each entry carries the slot's
generation), the sockets are driven with plain system calls, and the response
header is parsed in C with lib/html.c's rules.  An absorbed success creates no
Python object.

Differences, at the edges: ``key`` must fit in a C ``int64_t`` and times in
``int64_t`` microseconds (``OverflowError`` otherwise); the response's first
4,095 bytes are kept, the rest only counted (the twin keeps what it reads, with
the same outcome).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.errno cimport errno, EINTR, EAGAIN, EINPROGRESS, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH
from libc.errno cimport ECONNREFUSED, EHOSTDOWN, ENETDOWN, ECONNRESET, ECONNABORTED
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t, UINT64_MAX
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memset, strerror, strlen

include "_sockets.pxi"

cdef extern from "<unistd.h>" nogil:
    int close(int)

cdef extern from "<sys/socket.h>" nogil:
    int socket(int, int, int)
    int connect(int, const sockaddr*, socklen_t)
    int bind(int, const sockaddr*, socklen_t)
    int setsockopt(int, int, int, const void*, socklen_t)
    int getsockopt(int, int, int, void*, socklen_t*)
    ssize_t send(int, const void*, size_t, int)
    ssize_t recv(int, void*, size_t, int)
    int SOCK_STREAM
    int SOCK_NONBLOCK
    int SOCK_CLOEXEC
    int SOL_SOCKET
    int SO_ERROR
    int SO_MARK
    int SO_BINDTODEVICE
    int MSG_NOSIGNAL

include "_epoll.pxi"


OK, FAILED, SETUP = 0, 1, 2
START_SLACK_US = 5000
MAX_STARTS = 64
STATUS_CODES = 600
Outcome = tuple[int, int, str, int, int]

cdef enum:
    C_OK = 0
    C_FAILED = 1
    C_SETUP = 2
    C_SLACK = 5000
    C_MAX_STARTS = 64
    C_STATUS_CODES = 600
    HEAD_MAX = 4095
    READ_SIZE = 65536
    MAX_EVENTS = 256
    IDLE = 0
    CONNECTING = 1
    WRITING = 2
    READING = 3

cdef char READ_SINK[65536]


cdef struct Slot:
    int64_t key
    bint used
    int family
    uint8_t dst[28]
    socklen_t dstlen
    uint8_t src[28]
    socklen_t srclen
    int64_t timeout_us
    int64_t delay_loop_us
    char* request
    size_t request_len
    uint8_t* status_ok
    uint32_t fwmark
    char bind_if[17]
    uint32_t gen
    bint steady
    int phase
    int fd
    size_t sent
    char* head
    int head_len
    int body_at
    uint64_t status
    bint has_length
    uint64_t length
    int64_t rx
    bint got_data


cdef struct Entry:
    int64_t at
    int64_t key
    uint32_t slot
    uint32_t gen


cdef inline bint _before(const Entry* a, const Entry* b) noexcept nogil:
    if a.at != b.at:
        return a.at < b.at
    if a.key != b.key:
        return a.key < b.key
    return a.gen < b.gen


cdef struct Heap:
    Entry* items
    size_t n
    size_t cap


cdef int _push(Heap* h, int64_t at, int64_t key, uint32_t slot, uint32_t gen) except -1:
    cdef size_t i, parent
    cdef Entry e, tmp
    if h.n == h.cap:
        cap = h.cap * 2 if h.cap else 64
        items = <Entry*>realloc(h.items, cap * sizeof(Entry))
        if items == NULL:
            raise MemoryError()
        h.items, h.cap = items, cap
    e.at, e.key, e.slot, e.gen = at, key, slot, gen
    i = h.n
    h.items[i] = e
    h.n += 1
    while i > 0:
        parent = (i - 1) // 2
        if not _before(&h.items[i], &h.items[parent]):
            break
        tmp = h.items[i]
        h.items[i] = h.items[parent]
        h.items[parent] = tmp
        i = parent
    return 0


cdef void _pop(Heap* h) noexcept nogil:
    cdef size_t i = 0, left, right, smallest
    cdef Entry tmp
    h.n -= 1
    if h.n == 0:
        return
    h.items[0] = h.items[h.n]
    while True:
        left = 2 * i + 1
        right = left + 1
        smallest = i
        if left < h.n and _before(&h.items[left], &h.items[smallest]):
            smallest = left
        if right < h.n and _before(&h.items[right], &h.items[smallest]):
            smallest = right
        if smallest == i:
            return
        tmp = h.items[i]
        h.items[i] = h.items[smallest]
        h.items[smallest] = tmp
        i = smallest


# ---- lib/html.c, as pykad.check.probes.http has it

cdef inline bint _space(uint8_t c) noexcept nogil:
    return c == 32 or (9 <= c <= 13)


cdef size_t _strtoul(const uint8_t* buf, size_t i, size_t n, uint64_t* value) noexcept nogil:
    """C strtoul(.., 10): the end offset (``i`` when there are no digits); saturates."""
    cdef size_t start = i, digits
    cdef bint negative = False
    cdef uint64_t v = 0
    cdef bint overflow = False
    while i < n and _space(buf[i]):
        i += 1
    if i < n and (buf[i] == 43 or buf[i] == 45):
        negative = buf[i] == 45
        i += 1
    digits = i
    while i < n and 48 <= buf[i] <= 57:
        if v > (UINT64_MAX - (buf[i] - 48)) // 10:
            overflow = True
        else:
            v = v * 10 + (buf[i] - 48)
        i += 1
    if i == digits:
        value[0] = 0
        return start
    if overflow:
        v = UINT64_MAX
    value[0] = (0 - v) if negative else v
    return i


cdef int _header_end(const uint8_t* buf, size_t n) noexcept nogil:
    cdef size_t i
    if n < 4:
        return -1
    for i in range(n - 3):
        if buf[i] == 13 and buf[i + 1] == 10 and buf[i + 2] == 13 and buf[i + 3] == 10:
            return <int>(i + 4)
    return -1


cdef uint64_t _status_code(const uint8_t* buf, size_t end) noexcept nogil:
    cdef size_t i = 0, stop
    cdef uint64_t value
    while i < end and buf[i] != 32 and buf[i] != 13:
        i += 1
    if i >= end or buf[i] != 32:
        return 0
    i += 1
    if i + 3 >= end or buf[i] == 32 or buf[i + 3] != 32:
        return 0
    stop = _strtoul(buf, i, end, &value)
    return value if stop == i + 3 else 0


cdef bint _content_length(const uint8_t* buf, size_t n, uint64_t* value) noexcept nogil:
    cdef const char* name = b"Content-Length:"
    cdef size_t k = 15, i, j, end
    cdef size_t text = 0
    while text < n and buf[text] != 0:
        text += 1
    if text < k:
        return False
    for i in range(text - k + 1):
        j = 0
        while j < k and buf[i + j] == <uint8_t>name[j]:
            j += 1
        if j == k:
            end = _strtoul(buf, i + k, text, value)
            if end < text and buf[end] != 13 and buf[end] != 10:
                return False
            return True
    return False


def parse_head(window):
    """``(body offset, status code, content length)`` of a response's first bytes (at most
    4,095): the offset -1 when the header does not end there, the length -1 when absent."""
    cdef bytes data = bytes(window)
    cdef const uint8_t* buf = <const uint8_t*>PyBytes_AS_STRING(data)
    cdef size_t n = <size_t>PyBytes_GET_SIZE(data)
    cdef uint64_t length
    cdef int body_at = _header_end(buf, n)
    if body_at < 0:
        return -1, 0, -1
    has = _content_length(buf, n, &length)
    return body_at, _status_code(buf, n), (length if has else -1)


cdef inline bint _fail_errno(int err) noexcept nogil:
    return (
        err == ENETUNREACH or err == EHOSTUNREACH or err == ECONNREFUSED or err == EHOSTDOWN
        or err == ENETDOWN or err == ECONNRESET or err == ECONNABORTED or err == ETIMEDOUT
    )


cdef str _strerror(int err):
    return (<bytes>strerror(err)).decode("utf-8", "replace")


cdef class CheckLoop:
    """The attempts of many TCP_CHECK / plain HTTP_GET checkers (see the twin)."""

    cdef int _epfd
    cdef Slot* _slots
    cdef size_t _nslots
    cdef size_t _cap
    cdef list _free
    cdef dict _index
    cdef Heap _starts
    cdef Heap _deadlines
    cdef epoll_event _events[MAX_EVENTS]
    cdef public long long absorbed
    cdef readonly int64_t slack_us

    def __cinit__(self):
        self._epfd = epoll_create1(EPOLL_CLOEXEC)
        if self._epfd < 0:
            raise OSError(errno, _strerror(errno))
        self._free = []
        self._index = {}
        self.absorbed = 0
        self.slack_us = C_SLACK

    def __dealloc__(self):
        self._release()

    cdef void _release(self) noexcept:
        cdef size_t i
        if self._slots != NULL:
            for i in range(self._nslots):
                if self._slots[i].used:
                    self._close(&self._slots[i])
                    free(self._slots[i].request)
                    free(self._slots[i].status_ok)
                    free(self._slots[i].head)
            free(self._slots)
            self._slots = NULL
        self._nslots = self._cap = 0
        free(self._starts.items)
        free(self._deadlines.items)
        memset(&self._starts, 0, sizeof(Heap))
        memset(&self._deadlines, 0, sizeof(Heap))
        if self._epfd >= 0:
            close(self._epfd)
            self._epfd = -1

    def fileno(self):
        if self._epfd < 0:
            raise ValueError("closed")
        return self._epfd

    def close(self):
        self._release()
        self._index = {}
        self._free = []

    def add(
        self,
        key,
        int family,
        address,
        int port,
        int scope_id,
        int64_t timeout_us,
        int64_t delay_loop_us,
        request=None,
        status_ok=b"",
        bind_address=b"",
        int bind_port=0,
        uint32_t fwmark=0,
        str bind_if="",
    ):
        cdef int64_t k = key
        cdef size_t i
        cdef Slot* s
        cdef bytes packed = bytes(address)
        cdef bytes src = bytes(bind_address)
        cdef bytes name = bind_if.encode()
        if key in self._index:
            raise KeyError(f"checker {key} exists")
        if family != AF_INET and family != AF_INET6:
            raise ValueError(f"address family {family}")
        if len(packed) != (4 if family == AF_INET else 16):
            raise ValueError("address length")
        if request is not None and len(status_ok) != C_STATUS_CODES:
            raise ValueError("status_ok must hold 600 bytes")
        if not 0 <= port <= 0xFFFF or not 0 <= bind_port <= 0xFFFF:
            raise OverflowError("port")
        if src and len(src) != len(packed):
            raise ValueError("bind address length")
        if delay_loop_us // 100 < self.slack_us:
            self.slack_us = max(0, delay_loop_us // 100)
        if len(name) > 16:
            name = name[:16]
        if self._free:
            i = self._free.pop()
        else:
            if self._nslots == self._cap:
                cap = self._cap * 2 if self._cap else 64
                slots = <Slot*>realloc(self._slots, cap * sizeof(Slot))
                if slots == NULL:
                    raise MemoryError()
                self._slots, self._cap = slots, cap
            i = self._nslots
            self._nslots += 1
            memset(&self._slots[i], 0, sizeof(Slot))
        s = &self._slots[i]
        gen = s.gen
        memset(s, 0, sizeof(Slot))
        s.gen = gen + 1
        s.used = True
        s.key = k
        s.fd = -1
        s.family = family
        s.dstlen = _sockaddr(s.dst, family, packed, port, scope_id)
        if src:
            s.srclen = _sockaddr(s.src, family, src, bind_port, scope_id)
        s.timeout_us = timeout_us
        s.delay_loop_us = delay_loop_us
        s.fwmark = fwmark
        memcpy(s.bind_if, PyBytes_AS_STRING(name), len(name))
        if request is not None:
            req = bytes(request)
            s.request_len = len(req)
            s.request = <char*>malloc(s.request_len + 1)
            s.status_ok = <uint8_t*>malloc(C_STATUS_CODES)
            s.head = <char*>malloc(HEAD_MAX)
            if s.request == NULL or s.status_ok == NULL or s.head == NULL:
                raise MemoryError()
            memcpy(s.request, PyBytes_AS_STRING(req), s.request_len)
            memcpy(s.status_ok, PyBytes_AS_STRING(bytes(status_ok)), C_STATUS_CODES)
        self._index[key] = i

    def schedule(self, key, int64_t at_us, bint steady):
        cdef size_t i = self._index[key]
        cdef Slot* s = &self._slots[i]
        self._close(s)
        s.gen += 1
        s.steady = steady
        _push(&self._starts, at_us, s.key, <uint32_t>i, s.gen)

    def remove(self, key):
        cdef size_t i = self._index.pop(key)
        cdef Slot* s = &self._slots[i]
        self._close(s)
        free(s.request)
        free(s.status_ok)
        free(s.head)
        s.request = NULL
        s.status_ok = NULL
        s.head = NULL
        s.used = False
        s.gen += 1
        self._free.append(i)

    cdef inline bint _live(self, const Entry* e) noexcept:
        cdef Slot* s = &self._slots[e.slot]
        return s.used and s.gen == e.gen

    def next_at(self):
        cdef int64_t best = -1
        while self._starts.n and not self._live(&self._starts.items[0]):
            _pop(&self._starts)
        while self._deadlines.n and not self._live(&self._deadlines.items[0]):
            _pop(&self._deadlines)
        if self._starts.n:
            best = self._starts.items[0].at
        if self._deadlines.n and (best < 0 or self._deadlines.items[0].at < best):
            best = self._deadlines.items[0].at
        return best

    def run(self, int64_t now_us):
        cdef list out = []
        cdef Entry e
        cdef int started = 0
        if self._epfd < 0:
            raise ValueError("closed")
        self._poll(now_us, out)
        while self._deadlines.n and self._deadlines.items[0].at <= now_us:
            e = self._deadlines.items[0]
            _pop(&self._deadlines)
            if self._live(&e):
                self._timed_out(&self._slots[e.slot], now_us, out)
        while (
            started < C_MAX_STARTS and self._starts.n
            and self._starts.items[0].at <= now_us + self.slack_us
        ):
            e = self._starts.items[0]
            _pop(&self._starts)
            if self._live(&e):
                self._start(e.slot, now_us, out)
                started += 1
        if started:
            self._poll(now_us, out)
        return out

    # ---- internals

    cdef void _close(self, Slot* s) noexcept:
        if s.fd >= 0:
            close(s.fd)
            s.fd = -1
        s.phase = IDLE

    cdef int _finish(self, Slot* s, int64_t now_us, list out, int code, str text) except -1:
        cdef uint32_t i = <uint32_t>(s - self._slots)
        self._close(s)
        s.gen += 1
        if s.request == NULL:
            if code == C_OK and s.steady:
                self.absorbed += 1
                _push(&self._starts, now_us + s.delay_loop_us, s.key, i, s.gen)
                return 0
            out.append((s.key, code, text, -1, 0))
            return 0
        if code == C_OK and s.steady and (not s.has_length or s.length == <uint64_t>s.rx):
            self.absorbed += 1
            _push(&self._starts, now_us + s.delay_loop_us, s.key, i, s.gen)
            return 0
        out.append((s.key, code, text, s.length if s.has_length else -1, s.rx))
        return 0

    cdef int _start(self, uint32_t i, int64_t now_us, list out) except -1:
        cdef Slot* s = &self._slots[i]
        cdef epoll_event ev
        cdef int fd = socket(s.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
        if fd < 0:
            return self._finish(s, now_us, out, C_SETUP,
                                f"Checker can't create socket: {_strerror(errno)}")
        s.fd = fd
        if s.fwmark and setsockopt(fd, SOL_SOCKET, SO_MARK, &s.fwmark, sizeof(uint32_t)) < 0:
            return self._finish(s, now_us, out, C_SETUP,
                                f"Error setting fwmark {s.fwmark} to socket: {_strerror(errno)}")
        if s.bind_if[0] and setsockopt(
            fd, SOL_SOCKET, SO_BINDTODEVICE, s.bind_if, <socklen_t>(strlen(s.bind_if) + 1)
        ) < 0:
            err = errno
            name = (<bytes>s.bind_if).decode()
            return self._finish(s, now_us, out, C_SETUP,
                                f"Checker can't bind to device {name}: {_strerror(err)}")
        if s.srclen and bind(fd, <sockaddr*>s.src, s.srclen) < 0:
            return self._finish(s, now_us, out, C_SETUP, f"Checker bind failed: {_strerror(errno)}")
        s.head_len = 0
        s.body_at = -1
        s.status = 0
        s.has_length = False
        s.length = 0
        s.rx = 0
        s.sent = 0
        s.got_data = False
        _push(&self._deadlines, now_us + s.timeout_us, s.key, i, s.gen)
        if connect(fd, <sockaddr*>s.dst, s.dstlen) < 0 and errno != EINPROGRESS:
            return self._connect_failed(s, errno, now_us, out)
        s.phase = CONNECTING
        ev.events = EPOLLOUT
        ev.data.u64 = (<uint64_t>s.gen << 32) | i
        if epoll_ctl(self._epfd, EPOLL_CTL_ADD, fd, &ev) < 0:
            raise OSError(errno, _strerror(errno))
        return 0

    cdef int _connect_failed(self, Slot* s, int err, int64_t now_us, list out) except -1:
        if not _fail_errno(err):
            return self._finish(s, now_us, out, C_SETUP,
                                f"socket connect error {err} - {_strerror(err)}")
        if s.request == NULL:
            return self._finish(s, now_us, out, C_FAILED,
                                "timeout" if err == ETIMEDOUT else "failed")
        if err == ETIMEDOUT:
            return self._finish(s, now_us, out, C_FAILED, "Timeout connecting")
        if err == ENETUNREACH or err == EHOSTUNREACH or err == ENETDOWN:
            return self._finish(s, now_us, out, C_FAILED, "HTTP_CHECK - network unreachable")
        return self._finish(s, now_us, out, C_FAILED, "Connection failed")

    cdef int _timed_out(self, Slot* s, int64_t now_us, list out) except -1:
        if s.request == NULL:
            text = "timeout"
        elif s.phase == CONNECTING:
            text = "Timeout connecting"
        elif s.phase == WRITING:
            text = "Timeout WEB write"
        else:
            text = "Timeout HTTP read" if s.got_data else "Timeout WEB read"
        return self._finish(s, now_us, out, C_FAILED, text)

    cdef int _poll(self, int64_t now_us, list out) except -1:
        cdef int n, j
        cdef uint32_t i, gen
        cdef Slot* s
        while True:
            n = epoll_wait(self._epfd, self._events, MAX_EVENTS, 0)
            if n < 0:
                if errno == EINTR:
                    continue
                raise OSError(errno, _strerror(errno))
            for j in range(n):
                i = <uint32_t>(self._events[j].data.u64 & 0xFFFFFFFF)
                gen = <uint32_t>(self._events[j].data.u64 >> 32)
                s = &self._slots[i]
                if not s.used or s.gen != gen or s.fd < 0:
                    continue
                if s.phase == CONNECTING:
                    self._connected(s, now_us, out)
                elif s.phase == WRITING:
                    self._write(s, now_us, out)
                else:
                    self._read(s, now_us, out)
            if n < MAX_EVENTS:
                return 0

    cdef int _connected(self, Slot* s, int64_t now_us, list out) except -1:
        cdef int err = 0
        cdef socklen_t size = sizeof(int)
        getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &size)
        if err:
            return self._connect_failed(s, err, now_us, out)
        if s.request == NULL:
            return self._finish(s, now_us, out, C_OK, "")
        s.phase = WRITING
        return self._write(s, now_us, out)

    cdef int _write(self, Slot* s, int64_t now_us, list out) except -1:
        cdef epoll_event ev
        cdef ssize_t n = send(s.fd, s.request + s.sent, s.request_len - s.sent, MSG_NOSIGNAL)
        if n < 0:
            if errno == EAGAIN:
                return 0
            return self._finish(s, now_us, out, C_FAILED, "Cannot send get request to")
        s.sent += n
        if s.sent < s.request_len:
            return 0
        s.phase = READING
        ev.events = EPOLLIN
        ev.data.u64 = (<uint64_t>s.gen << 32) | <uint32_t>(s - self._slots)
        epoll_ctl(self._epfd, EPOLL_CTL_MOD, s.fd, &ev)
        return self._read(s, now_us, out)

    cdef int _read(self, Slot* s, int64_t now_us, list out) except -1:
        cdef ssize_t n
        cdef char* into
        cdef size_t room
        cdef int found
        while True:
            if s.body_at < 0 and s.head_len >= HEAD_MAX:
                return self._finish(s, now_us, out, C_FAILED, "Read, no data received from ")
            if s.body_at < 0:
                into, room = s.head + s.head_len, HEAD_MAX - s.head_len
            else:
                into, room = READ_SINK, READ_SIZE
            n = recv(s.fd, into, room, 0)
            if n < 0:
                if errno == EAGAIN:
                    return 0
                return self._finish(s, now_us, out, C_FAILED, "Read error with")
            if n == 0:
                return self._done(s, now_us, out)
            s.got_data = True
            if s.body_at >= 0:
                s.rx += n
                continue
            s.head_len += <int>n
            found = _header_end(<uint8_t*>s.head, s.head_len)
            if found >= 0:
                s.body_at = found
                s.status = _status_code(<uint8_t*>s.head, s.head_len)
                s.has_length = _content_length(<uint8_t*>s.head, s.head_len, &s.length)
                s.rx = s.head_len - found

    cdef int _done(self, Slot* s, int64_t now_us, list out) except -1:
        if s.body_at < 0:
            return self._finish(s, now_us, out, C_FAILED, "Read, no data received from ")
        if s.status < C_STATUS_CODES and s.status_ok[s.status]:
            return self._finish(s, now_us, out, C_OK, "")
        return self._finish(s, now_us, out, C_FAILED, "HTTP status code error to")


cdef socklen_t _sockaddr(uint8_t* into, int family, bytes packed, int port, int scope_id):
    cdef sockaddr_in* sin
    cdef sockaddr_in6* sin6
    memset(into, 0, 28)
    if family == AF_INET:
        sin = <sockaddr_in*>into
        sin.sin_family = AF_INET
        sin.sin_port = htons(port)
        memcpy(&sin.sin_addr, PyBytes_AS_STRING(packed), 4)
        return sizeof(sockaddr_in)
    sin6 = <sockaddr_in6*>into
    sin6.sin6_family = AF_INET6
    sin6.sin6_port = htons(port)
    memcpy(&sin6.sin6_addr, PyBytes_AS_STRING(packed), 16)
    sin6.sin6_scope_id = scope_id
    return sizeof(sockaddr_in6)
