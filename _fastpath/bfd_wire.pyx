# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""BFD control packet codec, compiled (twin of ``pykad.bfd.wire_py``).

Same API, results and errors as the pure-Python twin; reads and writes the
bytes through C pointers. See ``pykad/bfd/wire_py.py`` for the rules.

``encode`` handles a ``ControlPacket`` (and ``Auth``) of in-range ints, bools
and ``bytes`` itself; anything else (a value that does not fit its field, a
non-int, password data too long for the Length byte, another type of packet)
is handed to the pure twin, so that errors (``struct.error``, ``ValueError``,
``TypeError``, ``AttributeError``) are the pure twin's, word for word.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_Check, PyLong_CheckExact
from cpython.tuple cimport PyTuple_GET_SIZE
from libc.limits cimport LLONG_MAX, LLONG_MIN
from libc.stdint cimport UINT32_MAX, uint8_t, uint32_t
from libc.string cimport memcpy

from pykad.bfd import wire_py as _wire_py
from pykad.bfd.packet import Auth, ControlPacket, Malformed, PacketError

cdef object _new_tuple = tuple.__new__
cdef type _ControlPacket = ControlPacket
cdef type _Auth = Auth
cdef object _PacketError = PacketError
cdef object _encode_py = _wire_py.encode

cdef object _TOO_SHORT = Malformed.TOO_SHORT
cdef object _VERSION = Malformed.VERSION
cdef object _LENGTH = Malformed.LENGTH
cdef object _DETECT_MULT = Malformed.DETECT_MULT
cdef object _MULTIPOINT = Malformed.MULTIPOINT
cdef object _MY_DISCRIMINATOR = Malformed.MY_DISCRIMINATOR
cdef object _YOUR_DISCRIMINATOR = Malformed.YOUR_DISCRIMINATOR
cdef object _AUTH_SECTION = Malformed.AUTH_SECTION

# The same as the names in pykad.bfd.packet (RFC 5880 sections 4.1-4.4).
cdef enum:
    HEADER_LEN = 24
    VERSION = 1
    FLAG_POLL = 0x20
    FLAG_FINAL = 0x10
    FLAG_CPI = 0x08
    FLAG_AUTH = 0x04
    FLAG_DEMAND = 0x02
    FLAG_MULTIPOINT = 0x01
    SIMPLE_PASSWORD = 1
    PASSWORD_MIN = 1
    PASSWORD_MAX = 16
    MD5_AUTH_LEN = 24
    SHA1_AUTH_LEN = 28
    STATE_DOWN = 1
    PACKET_FIELDS = 15
    AUTH_FIELDS = 4
    FALLBACK = -1

# The YOUR_DISCRIMINATOR detail: f"state {State(state).label}" (only Init and Up get it).
cdef tuple _STATE_DETAIL = ("state AdminDown", "state Down", "state Init", "state Up")


cdef inline uint32_t _u32(const uint8_t* p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef inline void _put32(uint8_t* p, uint32_t v) noexcept nogil:
    p[0] = v >> 24
    p[1] = (v >> 16) & 0xFF
    p[2] = (v >> 8) & 0xFF
    p[3] = v & 0xFF


cdef inline int _auth_len(int auth_type) noexcept nogil:
    """pykad.bfd.packet.AUTH_LEN, or -1 for a type that has no fixed length."""
    if auth_type == 2 or auth_type == 3:
        return MD5_AUTH_LEN
    if auth_type == 4 or auth_type == 5:
        return SHA1_AUTH_LEN
    return -1


cdef inline object _auth(object auth_type, object key_id, object sequence, object data):
    return _new_tuple(_Auth, (auth_type, key_id, sequence, data))


def decode_untrusted(bytes data not None):
    """Parse one received control packet (the UDP payload)."""
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    if size < HEADER_LEN:
        raise _PacketError(_TOO_SHORT, f"{size} bytes")
    cdef const uint8_t* p = <const uint8_t*>PyBytes_AS_STRING(data)
    cdef int version = p[0] >> 5
    if version != VERSION:
        raise _PacketError(_VERSION, str(version))
    cdef int flags = p[1] & 0x3F
    cdef bint has_auth = flags & FLAG_AUTH
    cdef Py_ssize_t length = p[3]
    if length < (HEADER_LEN + 2 if has_auth else HEADER_LEN) or length > size:
        raise _PacketError(_LENGTH, f"length {length}, {size} bytes received")
    if p[2] == 0:
        raise _PacketError(_DETECT_MULT)
    if flags & FLAG_MULTIPOINT:
        raise _PacketError(_MULTIPOINT)
    cdef uint32_t my_disc = _u32(p + 4)
    if my_disc == 0:
        raise _PacketError(_MY_DISCRIMINATOR)
    cdef uint32_t your_disc = _u32(p + 8)
    cdef int state = p[1] >> 6
    if your_disc == 0 and state > STATE_DOWN:
        raise _PacketError(_YOUR_DISCRIMINATOR, _STATE_DETAIL[state])
    cdef object auth = None
    if has_auth:
        auth = _decode_auth(p, length)
    return _new_tuple(_ControlPacket, (
        state,
        p[0] & 0x1F,
        p[2],
        my_disc,
        your_disc,
        _u32(p + 12),
        _u32(p + 16),
        _u32(p + 20),
        True if flags & FLAG_POLL else False,
        True if flags & FLAG_FINAL else False,
        True if flags & FLAG_CPI else False,
        True if flags & FLAG_DEMAND else False,
        False,
        auth,
        version,
    ))


cdef object _decode_auth(const uint8_t* p, Py_ssize_t length):
    cdef int auth_type = p[HEADER_LEN]
    cdef int auth_len = p[HEADER_LEN + 1]
    if HEADER_LEN + auth_len != length:
        raise _PacketError(_AUTH_SECTION, f"auth length {auth_len}, packet {length}")
    if auth_type == SIMPLE_PASSWORD:
        if not PASSWORD_MIN + 3 <= auth_len <= PASSWORD_MAX + 3:
            raise _PacketError(_AUTH_SECTION, f"password auth length {auth_len}")
        return _auth(auth_type, p[HEADER_LEN + 2], 0, PyBytes_FromStringAndSize(
            <const char*>p + HEADER_LEN + 3, length - HEADER_LEN - 3))
    if _auth_len(auth_type) != auth_len:
        raise _PacketError(_AUTH_SECTION, f"auth type {auth_type} length {auth_len}")
    return _auth(auth_type, p[HEADER_LEN + 2], _u32(p + HEADER_LEN + 4), PyBytes_FromStringAndSize(
        <const char*>p + HEADER_LEN + 8, length - HEADER_LEN - 8))


cdef inline bint _int(object value, long long low, long long high, long long* out) noexcept:
    """Store ``value`` in ``out`` if it is an int in [low, high]; False otherwise."""
    if not PyLong_Check(value):
        return False
    cdef int overflow = 0
    cdef long long v = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow or v < low or v > high:
        return False
    out[0] = v
    return True


cdef inline int _flag(object value, int bit) noexcept:
    """``bit`` if ``value`` is true, 0 if false, FALLBACK if it is neither a bool nor an int."""
    if value is True:
        return bit
    if value is False:
        return 0
    if not PyLong_CheckExact(value):
        return FALLBACK
    cdef int overflow = 0
    return bit if PyLong_AsLongLongAndOverflow(value, &overflow) != 0 or overflow else 0


def encode(packet):
    """The wire bytes of ``packet`` (the Length field is computed)."""
    if type(packet) is not _ControlPacket:
        return _encode_py(packet)
    out = _encode(<tuple>packet)
    if out is None:
        return _encode_py(packet)
    return out


cdef object _encode(tuple t):
    """The bytes, or None if the pure twin must decide (out of range, not an int, ...)."""
    if PyTuple_GET_SIZE(t) != PACKET_FIELDS:
        return None
    cdef int poll = _flag(t[8], FLAG_POLL)
    cdef int final = _flag(t[9], FLAG_FINAL)
    cdef int cpi = _flag(t[10], FLAG_CPI)
    cdef int demand = _flag(t[11], FLAG_DEMAND)
    cdef int multipoint = _flag(t[12], FLAG_MULTIPOINT)
    if poll < 0 or final < 0 or cpi < 0 or demand < 0 or multipoint < 0:
        return None
    cdef int flags = poll | final | cpi | demand | multipoint
    cdef long long state = 0, diag = 0, detect_mult = 0, version = 0
    cdef long long my_disc = 0, your_disc = 0, tx = 0, rx = 0, echo = 0
    if not (
        _int(t[0], LLONG_MIN, LLONG_MAX, &state)
        and _int(t[1], LLONG_MIN, LLONG_MAX, &diag)
        and _int(t[2], 0, 255, &detect_mult)
        and _int(t[3], 0, UINT32_MAX, &my_disc)
        and _int(t[4], 0, UINT32_MAX, &your_disc)
        and _int(t[5], 0, UINT32_MAX, &tx)
        and _int(t[6], 0, UINT32_MAX, &rx)
        and _int(t[7], 0, UINT32_MAX, &echo)
        and _int(t[14], LLONG_MIN, LLONG_MAX, &version)
    ):
        return None
    cdef object auth = t[13]
    cdef long long auth_type = 0, key_id = 0, sequence = 0
    cdef Py_ssize_t section = 0
    cdef bytes auth_data = None
    if auth is not None:
        if type(auth) is not _Auth or PyTuple_GET_SIZE(<tuple>auth) != AUTH_FIELDS:
            return None
        flags |= FLAG_AUTH
        if not (
            _int((<tuple>auth)[0], 0, 255, &auth_type)
            and _int((<tuple>auth)[1], 0, 255, &key_id)
            and PyBytes_CheckExact((<tuple>auth)[3])
        ):
            return None
        auth_data = (<tuple>auth)[3]
        if auth_type == SIMPLE_PASSWORD:
            section = 3 + PyBytes_GET_SIZE(auth_data)
        else:
            if not _int((<tuple>auth)[2], 0, UINT32_MAX, &sequence):
                return None
            section = 8 + PyBytes_GET_SIZE(auth_data)
        if HEADER_LEN + section > 255:
            return None
    cdef Py_ssize_t n = HEADER_LEN + section
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef uint8_t* q = <uint8_t*>PyBytes_AS_STRING(out)
    q[0] = <uint8_t>(((version & 0x7) << 5) | (diag & 0x1F))
    q[1] = <uint8_t>(((state & 0x3) << 6) | flags)
    q[2] = <uint8_t>detect_mult
    q[3] = <uint8_t>n
    _put32(q + 4, <uint32_t>my_disc)
    _put32(q + 8, <uint32_t>your_disc)
    _put32(q + 12, <uint32_t>tx)
    _put32(q + 16, <uint32_t>rx)
    _put32(q + 20, <uint32_t>echo)
    if auth is None:
        return out
    q[HEADER_LEN] = <uint8_t>auth_type
    q[HEADER_LEN + 1] = <uint8_t>section
    q[HEADER_LEN + 2] = <uint8_t>key_id
    if auth_type == SIMPLE_PASSWORD:
        memcpy(q + HEADER_LEN + 3, PyBytes_AS_STRING(auth_data), section - 3)
    else:
        q[HEADER_LEN + 3] = 0
        _put32(q + HEADER_LEN + 4, <uint32_t>sequence)
        memcpy(q + HEADER_LEN + 8, PyBytes_AS_STRING(auth_data), section - 8)
    return out
