# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""VRRP advertisement codec, compiled (twin of ``pykad.vrrp.wire_py``).

Same API, results and errors as the pure-Python twin; reads and writes the
bytes through C pointers. See ``pykad/vrrp/wire_py.py`` for the rules.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.ref cimport Py_INCREF
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from pykad.vrrp.advert import Advert, AdvertError, Malformed

cdef object _new_tuple = tuple.__new__
cdef object _Advert = Advert
cdef object _EMPTY = b""
cdef int IPPROTO_VRRP = 112
cdef int HEADER_LEN = 8
cdef int AUTH_DATA_LEN = 8


cdef inline uint64_t _sum16(const uint8_t* p, Py_ssize_t n, uint64_t acc) noexcept nogil:
    cdef Py_ssize_t i = 0
    while i + 1 < n:
        acc += (<uint32_t>p[i] << 8) | p[i + 1]
        i += 2
    if n & 1:
        acc += <uint32_t>p[n - 1] << 8
    return acc


cdef inline uint32_t _fold(uint64_t acc) noexcept nogil:
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return <uint32_t>acc


cdef inline uint64_t _pseudo_sum(int ip_version, const uint8_t* src, const uint8_t* dst,
                                 Py_ssize_t alen, Py_ssize_t length) noexcept nogil:
    cdef uint64_t acc = _sum16(src, alen, 0)
    acc = _sum16(dst, alen, acc)
    if ip_version == 4:
        acc += IPPROTO_VRRP + <uint64_t>length
    else:
        acc += (<uint64_t>length >> 16) + (<uint64_t>length & 0xFFFF) + IPPROTO_VRRP
    return acc


def checksum(bytes data):
    """The Internet checksum (RFC 1071) of ``data``."""
    return ~_fold(_sum16(<const uint8_t*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), 0)) & 0xFFFF


def pseudo_header(int ip_version, bytes src, bytes dst, Py_ssize_t length):
    """The pseudo-header that VRRPv3 checksums cover (RFC 5798 section 5.2.8)."""
    if ip_version == 4:
        return src + dst + bytes((0, IPPROTO_VRRP, (length >> 8) & 0xFF, length & 0xFF))
    return src + dst + (length & 0xFFFFFFFF).to_bytes(4, "big") + bytes((0, 0, 0, IPPROTO_VRRP))


cdef inline Py_ssize_t _alen(int ip_version) noexcept:
    return 4 if ip_version == 4 else (16 if ip_version == 6 else 0)


cdef str _ends_error(int ip_version, bytes src, bytes dst):
    cdef Py_ssize_t alen = _alen(ip_version)
    if PyBytes_GET_SIZE(src) != alen or PyBytes_GET_SIZE(dst) != alen:
        return f"IPv{ip_version} source and destination must be {alen} bytes"
    return ""


def decode_untrusted(bytes msg, int ip_version, bytes src=b"", bytes dst=b"", bint pseudo=True):
    """Parse one VRRP message (the IP payload) received over IPv``ip_version``."""
    cdef Py_ssize_t alen = _alen(ip_version)
    if alen == 0:
        raise AdvertError(Malformed.FAMILY, "IP version must be 4 or 6")
    cdef Py_ssize_t n = PyBytes_GET_SIZE(msg)
    if n < HEADER_LEN:
        raise AdvertError(Malformed.TOO_SHORT, f"{n} bytes")
    cdef const uint8_t* p = <const uint8_t*>PyBytes_AS_STRING(msg)
    cdef int version = p[0] >> 4
    if (version != 2 and version != 3) or (version == 2 and ip_version == 6):
        raise AdvertError(Malformed.VERSION, f"version {version} over IPv{ip_version}")
    if p[0] & 0x0F != 1:
        raise AdvertError(Malformed.TYPE, f"type {p[0] & 0x0F}")
    cdef int count = p[3]
    cdef Py_ssize_t end = HEADER_LEN + count * alen
    if n < end + (AUTH_DATA_LEN if version == 2 else 0):
        raise AdvertError(Malformed.LENGTH, f"{n} bytes for {count} addresses")
    cdef uint64_t acc = 0
    cdef str why
    if version == 3 and pseudo:
        why = _ends_error(ip_version, src, dst)
        if why:
            raise AdvertError(Malformed.FAMILY, why)
        acc = _pseudo_sum(ip_version, <const uint8_t*>PyBytes_AS_STRING(src),
                          <const uint8_t*>PyBytes_AS_STRING(dst), alen, n)
    if _fold(_sum16(p, n, acc)) != 0xFFFF:
        raise AdvertError(Malformed.CHECKSUM, f"checksum {p[6] << 8 | p[7]:#06x}")
    cdef tuple addresses = PyTuple_New(count)
    cdef Py_ssize_t i
    cdef object a
    for i in range(count):
        a = PyBytes_FromStringAndSize(<const char*>p + HEADER_LEN + i * alen, alen)
        Py_INCREF(a)
        PyTuple_SET_ITEM(addresses, i, a)
    if version == 2:
        return _new_tuple(_Advert, (2, p[1], p[2], p[5], addresses, p[4],
                                    PyBytes_FromStringAndSize(<const char*>p + end, AUTH_DATA_LEN)))
    return _new_tuple(_Advert, (3, p[1], p[2], (p[4] & 0x0F) << 8 | p[5], addresses, 0, _EMPTY))


def encode(advert, int ip_version, bytes src=b"", bytes dst=b"", bint pseudo=True):
    """The bytes of ``advert`` as the IP payload, checksum filled in."""
    version, vrid, priority, max_advert_int, addresses, auth_type, auth_data = advert
    cdef Py_ssize_t alen = _alen(ip_version)
    if alen == 0:
        raise ValueError("IP version must be 4 or 6")
    cdef int b4, b5
    if version == 2:
        if ip_version != 4:
            raise ValueError("VRRPv2 is IPv4 only (RFC 3768)")
        if not 0 <= max_advert_int <= 0xFF:
            raise ValueError(f"VRRPv2 advert interval {max_advert_int} is not 0-255 seconds")
        if not 0 <= auth_type <= 0xFF or len(auth_data) > AUTH_DATA_LEN:
            raise ValueError("VRRPv2 auth type must be 0-255 and auth data at most 8 bytes")
        b4 = auth_type
        b5 = max_advert_int
    elif version == 3:
        if not 0 <= max_advert_int <= 0xFFF:
            raise ValueError(f"VRRPv3 max advert interval {max_advert_int} is not 0-4095 centiseconds")
        if auth_type or auth_data:
            raise ValueError("VRRPv3 has no authentication")
        b4 = max_advert_int >> 8
        b5 = max_advert_int & 0xFF
    else:
        raise ValueError(f"VRRP version {version} is not 2 or 3")
    if not (0 <= vrid <= 0xFF and 0 <= priority <= 0xFF):
        raise ValueError("VRID and priority must be 0-255")
    cdef Py_ssize_t count = len(addresses)
    if count > 0xFF:
        raise ValueError(f"{count} addresses: at most 255 fit")
    for a in addresses:
        if len(a) != alen:
            raise ValueError(f"IPv{ip_version} address must be {alen} bytes, not {len(a)}")
    cdef Py_ssize_t n = HEADER_LEN + count * alen + (AUTH_DATA_LEN if version == 2 else 0)
    cdef str why
    if version == 3 and pseudo:
        why = _ends_error(ip_version, src, dst)
        if why:
            raise ValueError(why)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef uint8_t* q = <uint8_t*>PyBytes_AS_STRING(out)
    memset(q, 0, n)
    q[0] = (version << 4) | 1
    q[1] = vrid
    q[2] = priority
    q[3] = count
    q[4] = b4
    q[5] = b5
    cdef Py_ssize_t i
    cdef bytes ab
    for i in range(count):
        ab = addresses[i]
        memcpy(q + HEADER_LEN + i * alen, PyBytes_AS_STRING(ab), alen)
    if version == 2:
        ab = auth_data
        memcpy(q + HEADER_LEN + count * alen, PyBytes_AS_STRING(ab), PyBytes_GET_SIZE(ab))
    cdef uint64_t acc = 0
    if version == 3 and pseudo:
        acc = _pseudo_sum(ip_version, <const uint8_t*>PyBytes_AS_STRING(src),
                          <const uint8_t*>PyBytes_AS_STRING(dst), alen, n)
    cdef uint32_t c = ~_fold(_sum16(q, n, acc)) & 0xFFFF
    q[6] = c >> 8
    q[7] = c & 0xFF
    return out
