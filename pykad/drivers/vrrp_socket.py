"""Raw VRRP sockets: one per interface and address family, for sending and receiving.

RFC 5798 section 5.1: VRRP is IP protocol 112, sent to 224.0.0.18 / ff02::12
(or to unicast peers, as keepalived allows) with TTL / Hop Limit 255 and, for
IPv4, keepalived's TOS 0xc0. The socket is bound to its interface and joins
the group there; the source address of each advert is chosen per packet with
IP_PKTINFO / IPV6_PKTINFO, so instances with different ``mcast_src_ip`` or
``unicast_src_ip`` share one socket. IPv4 reads return the IP header (TTL,
source, destination); IPv6 ones carry them as ancillary data. ``drain`` reads
until the socket is empty (DESIGN.md: a drain loop, not a read per wakeup), and
gives each packet the time the kernel received it (``SO_TIMESTAMPNS``).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import socket
import struct
from collections.abc import Iterable

from pykad.vrrp.advert import IPPROTO_VRRP, VRRP_MCAST_V4, VRRP_MCAST_V6

IPTOS_PREC_INTERNETCONTROL = 0xC0
TTL = 255
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
IPV6_CHECKSUM = getattr(socket, "IPV6_CHECKSUM", 7)
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
_TIMESPEC = struct.Struct("@qq")
_CMSG_SPACE = socket.CMSG_SPACE(20) + socket.CMSG_SPACE(4) + socket.CMSG_SPACE(_TIMESPEC.size)
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
SIOCGIFMTU = 0x8921
MAX_LATENESS_US = 1_000_000
"""A packet's kernel receive time is believed when it is at most this far behind the
read (and not ahead of it): beyond, the wall clock was stepped (or the process stalled)."""


class _DropAll:
    """A classic BPF program of one instruction, ``ret #0``: the socket receives nothing."""

    def __init__(self) -> None:
        self.code = ctypes.create_string_buffer(struct.pack("@HBBI", 0x06, 0, 0, 0))
        self.program = struct.pack("@HP", 1, ctypes.addressof(self.code))


_DROP_ALL = _DropAll()


Received = tuple[bytes, bytes, bytes, int, int]
"""One packet: the VRRP message, the IP source and destination (packed), the TTL / Hop
Limit (-1 when unknown), its arrival time (:func:`arrival_us`). Plain tuples: the
Cython fast path returns the same."""


def arrival_us(ancdata: Iterable[tuple[int, int, bytes]], now_us: int, wall_us: int) -> int:
    """When the kernel received a packet, on the cores' clock: ``now_us`` (CLOCK_MONOTONIC)
    less how long before ``wall_us`` (the wall clock, read next to it) its
    ``SCM_TIMESTAMPNS`` says it came; ``now_us`` without a timestamp, with ``wall_us``
    negative, or when the timestamp is ahead of ``wall_us`` or more than
    ``MAX_LATENESS_US`` behind it (a stepped clock).  A Master_Down_Timer then runs from
    when the advert came, not from when the event loop got round to reading it."""
    if wall_us < 0:
        return now_us
    for level, kind, value in ancdata:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(value) >= 16:
            sec, nsec = _TIMESPEC.unpack_from(value)
            late = wall_us - (sec * 1_000_000 + nsec // 1000)
            return now_us - late if 0 <= late <= MAX_LATENESS_US else now_us
    return now_us


class VrrpSocket:
    """The raw VRRP socket of one interface for one address family (4 or 6)."""

    def __init__(self, ifname: str, ifindex: int, family: int, *, send_only: bool = False) -> None:
        self.ifname, self.ifindex, self.family = ifname, ifindex, family
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        sock = socket.socket(af, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)  # arrival times
            if family == 4:
                self._setup4(sock, join=not send_only)
            else:
                self._setup6(sock, join=not send_only)
            if send_only:  # a VMAC's socket: adverts go out here, come in on the base
                sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, _DROP_ALL.program)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.sent = 0
        self.send_errors = 0
        self.received = 0

    def _setup4(self, sock: socket.socket, *, join: bool) -> None:
        mreqn = VRRP_MCAST_V4 + bytes(4) + struct.pack("@i", self.ifindex)
        if join:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, TTL)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, IPTOS_PREC_INTERNETCONTROL)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, TTL)

    def _setup6(self, sock: socket.socket, *, join: bool) -> None:
        mreq = VRRP_MCAST_V6 + struct.pack("@I", self.ifindex)
        if join:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, TTL)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, TTL)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_CHECKSUM, 6)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)

    def fileno(self) -> int:
        return self.sock.fileno()

    def mtu(self) -> int:
        """The MTU of the socket's interface (SIOCGIFMTU)."""
        req = struct.pack("16si", self.ifname.encode()[:15], 0)
        return int(struct.unpack_from("16si", fcntl.ioctl(self.sock, SIOCGIFMTU, req))[1])

    def receive_buffer(self) -> int:
        """The receive buffer's size as the kernel counts it (twice what was asked)."""
        return self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    def size_receive_buffer(self, configured: int, floor: int) -> None:
        """``configured`` bytes (SO_RCVBUF, as keepalived sets it: capped by rmem_max);
        with none, at least ``floor`` (SO_RCVBUFFORCE, past rmem_max, as root)."""
        if configured:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, configured)
        elif floor * 2 > self.receive_buffer():
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, floor)
            except PermissionError:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, floor)

    def set_ttl(self, ttl: int) -> None:
        """The TTL / Hop Limit of unicast adverts (``unicast_ttl``)."""
        if self.family == 4:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        else:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)

    def send(self, payload: bytes, dst: bytes, src: bytes = b"") -> bool:
        """Send one VRRP message to ``dst`` from ``src`` (empty: the kernel's choice)."""
        try:
            if self.family == 4:
                anc = []
                if src:
                    info = struct.pack("@i4s4s", 0, src, bytes(4))
                    anc = [(socket.IPPROTO_IP, IP_PKTINFO, info)]
                self.sock.sendmsg([payload], anc, 0, (socket.inet_ntop(socket.AF_INET, dst), 0))
            else:
                anc = []
                if src:
                    info = src + struct.pack("@I", self.ifindex)
                    anc = [(socket.IPPROTO_IPV6, IPV6_PKTINFO, info)]
                address = (socket.inet_ntop(socket.AF_INET6, dst), 0, 0, self.ifindex)
                self.sock.sendmsg([payload], anc, 0, address)
        except OSError:
            self.send_errors += 1
            return False
        self.sent += 1
        return True

    def drain(self, now_us: int, wall_us: int = -1, limit: int = 1024) -> list[Received]:
        """Every packet waiting (at most ``limit``), without blocking; ``now_us`` and
        ``wall_us``: the two clocks, read together, for the arrival times."""
        out: list[Received] = []
        recv = self._recv4 if self.family == 4 else self._recv6
        while len(out) < limit:
            try:
                packet = recv(now_us, wall_us)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EBADF:
                    break
                continue  # an ICMP error queued on the socket, say: read on
            if packet is not None:
                out.append(packet)
        self.received += len(out)
        return out

    def _recv4(self, now_us: int, wall_us: int) -> Received | None:
        data, ancdata, _flags, _address = self.sock.recvmsg(65535, _CMSG_SPACE)
        if len(data) < 20 or data[0] >> 4 != 4:
            return None
        ihl = (data[0] & 0x0F) * 4
        arrival = arrival_us(ancdata, now_us, wall_us)
        return data[ihl:], data[12:16], data[16:20], data[8], arrival

    def _recv6(self, now_us: int, wall_us: int) -> Received | None:
        data, ancdata, _flags, address = self.sock.recvmsg(65535, _CMSG_SPACE)
        dst, hops = b"", -1
        for level, kind, value in ancdata:
            if level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO and len(value) >= 16:
                dst = value[:16]
            elif level == socket.IPPROTO_IPV6 and kind == IPV6_HOPLIMIT and len(value) >= 4:
                hops = struct.unpack("@i", value[:4])[0]
        src = socket.inet_pton(socket.AF_INET6, address[0].split("%")[0])
        return data, src, dst, hops, arrival_us(ancdata, now_us, wall_us)

    def close(self) -> None:
        self.sock.close()
