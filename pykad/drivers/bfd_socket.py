"""BFD's UDP sockets: one receiver per port, one sender per source address.

RFC 5881 section 4: control packets go to UDP 3784 (RFC 5883 section 5: 4784 for
multihop) from a source port in 49152-65535 that stays the same for a session.
Like keepalived (``bfd.c``: ``bfd_open_fd_in`` / ``bfd_open_fd_out``), the
receiver is one dual-stack IPv6 socket bound to ``[::]:PORT`` that reports each
packet's TTL / hop limit and destination address (``IP_RECVTTL``,
``IP_PKTINFO`` and their IPv6 twins; ``BfdLoop`` reads it), and senders set
the TTL / hop limit the session sends with.  Unlike keepalived, sessions with
the same source address and TTL share one sender socket (and so one source
port), and a sender without a source address is bound to a port of the RFC's
range too.
"""

from __future__ import annotations

import errno
import random
import socket

from pykad.bfd.packet import SOURCE_PORT_MAX, SOURCE_PORT_MIN

IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_TTL = socket.IP_TTL
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
RCVBUF = 8 * 1024 * 1024


class BfdReceiver:
    """The socket that receives every session's control packets on one port."""

    def __init__(self, port: int, *, bind: str = "::") -> None:
        self.port = port
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        except OSError as e:
            if e.errno != errno.EAFNOSUPPORT:
                raise
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if sock.family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
            else:
                bind = "0.0.0.0" if bind == "::" else bind
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            # 1,000 sessions at 10 ms are 100,000 packets a second: the default buffer
            # (~270 packets) overflows in a 3 ms stall, and sessions flap.
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.bind((bind, port))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


class BfdSender:
    """A socket that sends control packets from one source address with one TTL."""

    def __init__(self, family: int, source: str | None, ttl: int, rng: random.Random) -> None:
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        sock = socket.socket(af, socket.SOCK_DGRAM)
        try:
            if family == 4:
                sock.setsockopt(socket.IPPROTO_IP, IP_TTL, ttl)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
            self.port = self._bind(sock, source or ("0.0.0.0" if family == 4 else "::"), rng)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.sent = 0
        self.errors = 0
        self.last_error: OSError | None = None

    @staticmethod
    def _bind(sock: socket.socket, address: str, rng: random.Random) -> int:
        """A free port of RFC 5881's range, tried from a random start (as keepalived)."""
        span = SOURCE_PORT_MAX - SOURCE_PORT_MIN + 1
        first = rng.randrange(span)
        for i in range(span):
            port = SOURCE_PORT_MIN + (first + i) % span
            try:
                sock.bind((address, port))
                return port
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
        raise OSError(errno.EADDRINUSE, "no free BFD source port")

    def send(self, data: bytes, destination: str, port: int) -> bool:
        """Send one packet; a failure is counted and kept, never raised."""
        try:
            self.sock.sendto(data, (destination, port))
        except OSError as e:
            self.errors += 1
            self.last_error = e
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        self.sock.close()
