"""The raw IPPROTO_AH socket of one interface, for VRRPv2 ``auth_type AH`` (IPv4 only).

As keepalived 2.2.7 opens it (``open_vrrp_send_socket`` / ``open_vrrp_read_socket``
with protocol IPPROTO_AH): a raw IPv4 socket for protocol 51 with IP_HDRINCL (the
caller builds the whole IP header with :func:`pykad.vrrp.ah.build_ah_packet`, because
the ICV covers it; the kernel fills in the header checksum, and the id too if it is
zero, so keep it non-zero), bound to the interface (SO_BINDTODEVICE), a member of
224.0.0.18 there, IP_MULTICAST_ALL and IP_MULTICAST_LOOP off, non-blocking. Reads
return whole IPv4 packets (header included): :func:`pykad.vrrp.ah.verify_ah` needs it.
The kernel's AH handling does not get in the way: raw sockets see every packet of
their protocol before (and whether or not) an xfrm state exists.
"""

from __future__ import annotations

import errno
import socket
import struct

from pykad.vrrp.advert import VRRP_MCAST_V4
from pykad.vrrp.ah import IPPROTO_AH, TTL

IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)


class AhSocket:
    """The raw AH socket of one interface: send built packets, drain whole IPv4 packets."""

    def __init__(self, ifname: str, ifindex: int, *, join: bool = True) -> None:
        self.ifname, self.ifindex = ifname, ifindex
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_AH)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            mreqn = VRRP_MCAST_V4 + bytes(4) + struct.pack("@i", ifindex)
            if join:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, TTL)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.sent = 0
        self.send_errors = 0
        self.received = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, packet: bytes, dst: bytes) -> bool:
        """Send one whole IPv4 packet (from ``build_ah_packet``) to the packed address ``dst``."""
        try:
            self.sock.sendto(packet, (socket.inet_ntop(socket.AF_INET, dst), 0))
        except OSError:
            self.send_errors += 1
            return False
        self.sent += 1
        return True

    def drain(self, limit: int = 1024) -> list[bytes]:
        """Every IPv4 packet waiting (at most ``limit``), header included, without blocking."""
        out: list[bytes] = []
        while len(out) < limit:
            try:
                data = self.sock.recv(65535)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EBADF:
                    break
                continue  # an ICMP error queued on the socket, say: read on
            if len(data) >= 20 and data[0] >> 4 == 4:
                out.append(data)
        self.received += len(out)
        return out

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> AhSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["AhSocket"]
