# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""IPVS generic-netlink codec, compiled (twin of ``pykad.kernel.ipvs_wire_py``).

The hot functions only: ``encode_ops`` (one request per reconcile operation)
and ``parse_services`` / ``parse_dests`` (dump replies).  Same results as the
pure twin; the bytes are written and read through C pointers.  An operation
whose values the fast path does not take as they are (an int out of its
field's range, a name with a NUL, an address longer than 16 bytes, an
unknown operation) is encoded by the pure twin, so its errors are the twin's.
See ``pykad/kernel/ipvs_wire_py.py`` and docs/reference/ipvs-netlink.md.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_Check
from cpython.unicode cimport PyUnicode_AsUTF8String, PyUnicode_CheckExact
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy, memset, memchr

from pykad.kernel import ipvs_wire_py as _py
from pykad.lb.plan import AddDest, AddService, DelDest, DelService, EditDest, EditService
from pykad.lb.table import Dest, DestKey, Service, ServiceKey

cdef type _AddService = AddService
cdef type _EditService = EditService
cdef type _DelService = DelService
cdef type _AddDest = AddDest
cdef type _EditDest = EditDest
cdef type _DelDest = DelDest
cdef object _Service = Service
cdef object _ServiceKey = ServiceKey
cdef object _Dest = Dest
cdef object _DestKey = DestKey
cdef object _encode_op_py = _py.encode_op

cdef enum:
    AF_INET = 2
    AF_INET6 = 10
    NLM_F_REQUEST = 0x01
    NLMSG_ERROR = 2
    NLMSG_DONE = 3
    GENL_VERSION = 1
    HDR_LEN = 20  # nlmsghdr 16 + genlmsghdr 4
    CMD_NEW_SERVICE = 1
    CMD_SET_SERVICE = 2
    CMD_DEL_SERVICE = 3
    CMD_NEW_DEST = 5
    CMD_SET_DEST = 6
    CMD_DEL_DEST = 7
    ATTR_SERVICE = 1
    ATTR_DEST = 2
    SVC_AF = 1
    SVC_PROTOCOL = 2
    SVC_ADDR = 3
    SVC_PORT = 4
    SVC_FWMARK = 5
    SVC_SCHED_NAME = 6
    SVC_FLAGS = 7
    SVC_TIMEOUT = 8
    SVC_NETMASK = 9
    SVC_PE_NAME = 11
    SVC_F_HASHED = 0x0002
    DEST_ADDR = 1
    DEST_PORT = 2
    DEST_FWD_METHOD = 3
    DEST_WEIGHT = 4
    DEST_U_THRESH = 5
    DEST_L_THRESH = 6
    DEST_ADDR_FAMILY = 11
    DEST_TUN_TYPE = 13
    DEST_TUN_PORT = 14
    DEST_TUN_FLAGS = 15
    FWD_MASK = 7
    FWD_TUNNEL = 2
    NAME_MAX = 64
    BUF = 512
    FALLBACK = -1

cdef uint32_t _U32_MAX = 0xFFFFFFFF


# ---------------------------------------------------------------- writing

cdef inline bint _int_in(object v, long long hi, long long *out):
    """``v`` is an int (or an int subclass: an enum, a bool) in 0..hi: store it in ``out``."""
    cdef int overflow = 0
    cdef long long x = 0
    if not PyLong_Check(v):
        return False
    x = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow or x < 0 or x > hi:
        return False
    out[0] = x
    return True


cdef inline void _put16(char *p, uint16_t v):
    memcpy(p, &v, 2)


cdef inline void _put32(char *p, uint32_t v):
    memcpy(p, &v, 4)


cdef inline int _nla(char *buf, int at, int kind, const char *data, int n):
    """One attribute (header, payload, zero padding to 4); returns the new offset."""
    cdef int padded = (n + 3) & ~3
    _put16(buf + at, <uint16_t>(4 + n))
    _put16(buf + at + 2, <uint16_t>kind)
    memcpy(buf + at + 4, data, n)
    memset(buf + at + 4 + n, 0, padded - n)
    return at + 4 + padded


cdef inline int _nla_u16(char *buf, int at, int kind, uint16_t v):
    return _nla(buf, at, kind, <const char *>&v, 2)


cdef inline int _nla_be16(char *buf, int at, int kind, uint16_t v):
    cdef uint16_t be = <uint16_t>(((v & 0xFF) << 8) | (v >> 8))
    return _nla(buf, at, kind, <const char *>&be, 2)


cdef inline int _nla_u32(char *buf, int at, int kind, uint32_t v):
    return _nla(buf, at, kind, <const char *>&v, 4)


cdef inline uint32_t _be32(uint32_t v):
    return ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >> 8) & 0xFF00) | (v >> 24)


cdef int _name(char *buf, int at, int kind, object name):
    """A NUL-terminated name attribute; FALLBACK when not a plain short str."""
    cdef bytes raw
    cdef Py_ssize_t n
    cdef char tmp[NAME_MAX]
    if not PyUnicode_CheckExact(name):
        return FALLBACK
    raw = PyUnicode_AsUTF8String(name)
    n = PyBytes_GET_SIZE(raw)
    if n >= NAME_MAX or memchr(PyBytes_AS_STRING(raw), 0, n) != NULL:
        return FALLBACK
    memcpy(tmp, PyBytes_AS_STRING(raw), n)
    tmp[n] = 0
    return _nla(buf, at, kind, tmp, <int>n + 1)


cdef int _addr(char *buf, int at, int kind, object address):
    """A 16-byte address attribute (IPv4 zero-padded); FALLBACK when not bytes <= 16."""
    cdef char tmp[16]
    cdef Py_ssize_t n
    if not PyBytes_CheckExact(address):
        return FALLBACK
    n = PyBytes_GET_SIZE(address)
    if n > 16:
        return FALLBACK
    memset(tmp, 0, 16)
    memcpy(tmp, PyBytes_AS_STRING(address), n)
    return _nla(buf, at, kind, tmp, 16)


cdef int _service_identity(char *buf, int at, object key, long long *af_out):
    cdef long long af = 0, proto = 0, port = 0, fwmark = 0
    cdef object address = key.address
    if not _int_in(key.af, 0xFFFF, &af):
        return FALLBACK
    af_out[0] = af
    at = _nla_u16(buf, at, SVC_AF, <uint16_t>af)
    if not PyBytes_CheckExact(address):
        return FALLBACK
    if PyBytes_GET_SIZE(address) == 0:
        if not _int_in(key.fwmark, _U32_MAX, &fwmark):
            return FALLBACK
        return _nla_u32(buf, at, SVC_FWMARK, <uint32_t>fwmark)
    if not _int_in(key.protocol, 0xFFFF, &proto) or not _int_in(key.port, 0xFFFF, &port):
        return FALLBACK
    at = _nla_u16(buf, at, SVC_PROTOCOL, <uint16_t>proto)
    at = _addr(buf, at, SVC_ADDR, address)
    if at < 0:
        return FALLBACK
    return _nla_be16(buf, at, SVC_PORT, <uint16_t>port)


cdef int _service_full(char *buf, int at, object service):
    cdef long long af = 0, flags = 0, timeout = 0, netmask = 0
    cdef uint32_t pair[2]
    cdef uint32_t mask
    at = _service_identity(buf, at, service.key, &af)
    if at < 0:
        return FALLBACK
    at = _name(buf, at, SVC_SCHED_NAME, service.scheduler)
    if at < 0:
        return FALLBACK
    pe_name = service.pe_name
    if pe_name:
        at = _name(buf, at, SVC_PE_NAME, pe_name)
        if at < 0:
            return FALLBACK
    if (
        not _int_in(service.flags, _U32_MAX, &flags)
        or not _int_in(service.timeout, _U32_MAX, &timeout)
        or not _int_in(service.netmask, _U32_MAX, &netmask)
    ):
        return FALLBACK
    pair[0] = <uint32_t>flags & ~SVC_F_HASHED
    pair[1] = _U32_MAX
    at = _nla(buf, at, SVC_FLAGS, <const char *>pair, 8)
    at = _nla_u32(buf, at, SVC_TIMEOUT, <uint32_t>timeout)
    mask = <uint32_t>netmask if af == AF_INET6 else _be32(<uint32_t>netmask)
    return _nla_u32(buf, at, SVC_NETMASK, mask)


cdef int _dest_identity(char *buf, int at, object key, long long service_af):
    cdef long long af = 0, port = 0
    if not _int_in(key.af, 0xFFFF, &af) or not _int_in(key.port, 0xFFFF, &port):
        return FALLBACK
    at = _nla_u16(buf, at, DEST_ADDR_FAMILY, <uint16_t>(af if af else service_af))
    at = _addr(buf, at, DEST_ADDR, key.address)
    if at < 0:
        return FALLBACK
    return _nla_be16(buf, at, DEST_PORT, <uint16_t>port)


cdef int _dest_full(char *buf, int at, object dest, long long service_af):
    cdef long long fwd = 0, weight = 0, uth = 0, lth = 0, tun_type = 0, tun_port = 0, tun_flags = 0
    cdef uint8_t tun_type_byte
    at = _dest_identity(buf, at, dest.key, service_af)
    if at < 0:
        return FALLBACK
    if (
        not _int_in(dest.fwd, _U32_MAX, &fwd)
        or not _int_in(dest.weight, _U32_MAX, &weight)
        or not _int_in(dest.u_threshold, _U32_MAX, &uth)
        or not _int_in(dest.l_threshold, _U32_MAX, &lth)
    ):
        return FALLBACK
    at = _nla_u32(buf, at, DEST_FWD_METHOD, <uint32_t>(fwd & FWD_MASK))
    at = _nla_u32(buf, at, DEST_WEIGHT, <uint32_t>weight)
    at = _nla_u32(buf, at, DEST_U_THRESH, <uint32_t>uth)
    at = _nla_u32(buf, at, DEST_L_THRESH, <uint32_t>lth)
    if fwd == FWD_TUNNEL:
        if (
            not _int_in(dest.tun_type, 0xFF, &tun_type)
            or not _int_in(dest.tun_port, 0xFFFF, &tun_port)
            or not _int_in(dest.tun_flags, 0xFFFF, &tun_flags)
        ):
            return FALLBACK
        tun_type_byte = <uint8_t>tun_type
        at = _nla(buf, at, DEST_TUN_TYPE, <const char *>&tun_type_byte, 1)
        at = _nla_be16(buf, at, DEST_TUN_PORT, <uint16_t>tun_port)
        at = _nla_u16(buf, at, DEST_TUN_FLAGS, <uint16_t>tun_flags)
    return at


cdef inline int _nest_close(char *buf, int start, int end, int kind):
    _put16(buf + start, <uint16_t>(end - start))
    _put16(buf + start + 2, <uint16_t>kind)
    return end


cdef object _encode_one(int family, object op, uint32_t seq):
    """One request, or None when the pure twin must encode it."""
    cdef char buf[BUF]
    cdef int at = HDR_LEN
    cdef int nest
    cdef int cmd
    cdef long long af = 0
    cdef type kind = type(op)
    nest = at
    at += 4
    if kind is _AddService or kind is _EditService:
        cmd = CMD_NEW_SERVICE if kind is _AddService else CMD_SET_SERVICE
        at = _service_full(buf, at, op.service)
        if at < 0:
            return None
        _nest_close(buf, nest, at, ATTR_SERVICE)
    elif kind is _DelService:
        cmd = CMD_DEL_SERVICE
        at = _service_identity(buf, at, op.key, &af)
        if at < 0:
            return None
        _nest_close(buf, nest, at, ATTR_SERVICE)
    elif kind is _AddDest or kind is _EditDest or kind is _DelDest:
        cmd = CMD_NEW_DEST if kind is _AddDest else (CMD_SET_DEST if kind is _EditDest else CMD_DEL_DEST)
        at = _service_identity(buf, at, op.service, &af)
        if at < 0:
            return None
        _nest_close(buf, nest, at, ATTR_SERVICE)
        nest = at
        at += 4
        if kind is _DelDest:
            at = _dest_identity(buf, at, op.key, af)
        else:
            at = _dest_full(buf, at, op.dest, af)
        if at < 0:
            return None
        _nest_close(buf, nest, at, ATTR_DEST)
    else:
        return None
    _put32(buf, <uint32_t>at)
    _put16(buf + 4, <uint16_t>family)
    _put16(buf + 6, NLM_F_REQUEST)
    _put32(buf + 8, seq)
    _put32(buf + 12, 0)
    buf[16] = <char>cmd
    buf[17] = GENL_VERSION
    buf[18] = 0
    buf[19] = 0
    return PyBytes_FromStringAndSize(buf, at)


def encode_ops(family, ops, first_seq):
    """One request per operation, numbered ``first_seq``, ``first_seq + 1``, ..."""
    cdef list out = []
    cdef long long fam = 0, seq = 0
    cdef object op, msg
    if not _int_in(family, 0xFFFF, &fam) or not _int_in(first_seq, _U32_MAX, &seq):
        return _py.encode_ops(family, ops, first_seq)
    for op in ops:
        msg = _encode_one(<int>fam, op, <uint32_t>(seq & _U32_MAX))
        if msg is None:
            msg = _encode_op_py(family, op, seq)
        out.append(msg)
        seq += 1
    return out


# ---------------------------------------------------------------- reading

cdef inline uint16_t _get16(const unsigned char *p):
    cdef uint16_t v
    memcpy(&v, p, 2)
    return v


cdef inline uint32_t _get32(const unsigned char *p):
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v


cdef inline uint16_t _getbe16(const unsigned char *p):
    return (p[0] << 8) | p[1]


cdef inline uint32_t _getbe32(const unsigned char *p):
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef struct Attrs:
    # offset of each attribute's payload (-1: absent) and its length, types 0..15
    int at[16]
    int n[16]


cdef void _scan(const unsigned char *p, int start, int end, Attrs *a):
    cdef int i, length, kind
    for i in range(16):
        a.at[i] = -1
        a.n[i] = 0
    while start + 4 <= end:
        length = _get16(p + start)
        kind = _get16(p + start + 2) & 0x3FFF
        if length < 4 or start + length > end:
            return
        if kind < 16 and a.at[kind] < 0:
            a.at[kind] = start + 4
            a.n[kind] = length - 4
        start += (length + 3) & ~3


cdef inline bint _has(Attrs *a, int kind, int size):
    return a.at[kind] >= 0 and a.n[kind] >= size


cdef object _text(const unsigned char *p, Attrs *a, int kind):
    cdef int n = a.n[kind]
    cdef const unsigned char *s = p + a.at[kind]
    while n > 0 and s[n - 1] == 0:
        n -= 1
    return (<bytes>(s)[:n]).decode()


cdef list _messages(bytes buf, int cmd, int nest_kind):
    """(offset, end) of the nest ``nest_kind`` in each generic-netlink message with ``cmd``."""
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(buf)
    cdef int size = <int>PyBytes_GET_SIZE(buf)
    cdef int at = 0
    cdef int length, kind
    cdef Attrs top
    cdef list found = []
    while at + 16 <= size:
        length = <int>_get32(p + at)
        kind = _get16(p + at + 4)
        if length < 16 or at + length > size:
            raise _py.rtnl.TruncatedMessage(f"netlink message of {length} bytes at {at}/{size}")
        if kind != NLMSG_ERROR and kind != NLMSG_DONE and kind != 1 and length >= HDR_LEN:
            if p[at + 16] == cmd:
                _scan(p, at + HDR_LEN, at + length, &top)
                if top.at[nest_kind] >= 0:
                    found.append((top.at[nest_kind], top.at[nest_kind] + top.n[nest_kind]))
        at += (length + 3) & ~3
    return found


def parse_services(bytes buf):
    """The services of one GET_SERVICE dump buffer (NEW_SERVICE messages)."""
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(buf)
    cdef Attrs a
    cdef int start, end
    cdef uint16_t af
    cdef uint32_t netmask
    cdef list found = []
    for start, end in _messages(buf, CMD_NEW_SERVICE, ATTR_SERVICE):
        _scan(p, start, end, &a)
        if not (_has(&a, SVC_AF, 2) and _has(&a, SVC_SCHED_NAME, 0) and _has(&a, SVC_FLAGS, 4)
                and _has(&a, SVC_TIMEOUT, 4)):
            return _py.parse_services(buf)  # the twin raises as it does
        af = _get16(p + a.at[SVC_AF])
        if a.at[SVC_FWMARK] >= 0 and a.n[SVC_FWMARK] >= 4:
            key = _ServiceKey(af, 0, b"", 0, _get32(p + a.at[SVC_FWMARK]))
        elif _has(&a, SVC_PROTOCOL, 2) and _has(&a, SVC_ADDR, 16 if af != AF_INET else 4) and _has(&a, SVC_PORT, 2):
            key = _ServiceKey(
                af,
                _get16(p + a.at[SVC_PROTOCOL]),
                PyBytes_FromStringAndSize(<const char *>p + a.at[SVC_ADDR], 4 if af == AF_INET else 16),
                _getbe16(p + a.at[SVC_PORT]),
                0,
            )
        else:
            return _py.parse_services(buf)
        if _has(&a, SVC_NETMASK, 4):
            netmask = _get32(p + a.at[SVC_NETMASK]) if af == AF_INET6 else _getbe32(p + a.at[SVC_NETMASK])
        else:
            netmask = 0xFFFFFFFF
        found.append(_Service(
            key=key,
            scheduler=_text(p, &a, SVC_SCHED_NAME),
            flags=_get32(p + a.at[SVC_FLAGS]) & ~SVC_F_HASHED,
            timeout=_get32(p + a.at[SVC_TIMEOUT]),
            netmask=netmask,
            pe_name=_text(p, &a, SVC_PE_NAME) if a.at[SVC_PE_NAME] >= 0 else "",
        ))
    return found


cdef inline uint32_t _u32_or0(const unsigned char *p, Attrs *a, int kind):
    return _get32(p + a.at[kind]) if _has(a, kind, 4) else 0


def parse_dests(bytes buf, int service_af):
    """The destinations of one GET_DEST dump buffer (NEW_DEST messages)."""
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(buf)
    cdef Attrs a
    cdef int start, end
    cdef int af
    cdef list found = []
    for start, end in _messages(buf, CMD_NEW_DEST, ATTR_DEST):
        _scan(p, start, end, &a)
        af = _get16(p + a.at[DEST_ADDR_FAMILY]) if _has(&a, DEST_ADDR_FAMILY, 2) else service_af
        if not (_has(&a, DEST_ADDR, 4 if af == AF_INET else 16) and _has(&a, DEST_PORT, 2)):
            return _py.parse_dests(buf, service_af)
        found.append(_Dest(
            key=_DestKey(
                PyBytes_FromStringAndSize(<const char *>p + a.at[DEST_ADDR], 4 if af == AF_INET else 16),
                _getbe16(p + a.at[DEST_PORT]),
                0 if af == service_af else af,
            ),
            weight=_u32_or0(p, &a, DEST_WEIGHT),
            fwd=_u32_or0(p, &a, DEST_FWD_METHOD) & FWD_MASK,
            u_threshold=_u32_or0(p, &a, DEST_U_THRESH),
            l_threshold=_u32_or0(p, &a, DEST_L_THRESH),
            tun_type=p[a.at[DEST_TUN_TYPE]] if _has(&a, DEST_TUN_TYPE, 1) else 0,
            tun_port=_getbe16(p + a.at[DEST_TUN_PORT]) if _has(&a, DEST_TUN_PORT, 2) else 0,
            tun_flags=_get16(p + a.at[DEST_TUN_FLAGS]) if _has(&a, DEST_TUN_FLAGS, 2) else 0,
        ))
    return found
