"""UDP_CHECK: one datagram and its answer, as keepalived 2.2.7 judges them
(``check/check_udp.c``, ``udp_bind_connect``/``udp_socket_state`` in ``core/layer4.c``).

Owns the attempt, the reply test (:func:`reply_mismatch`) and the log texts.

An attempt sends ``payload`` (without one, 32 bytes of "keepalived check - "
repeated) on a UDP socket connected to the server, with ``IP_RECVERR`` set, then
waits up to ``connect_timeout``:

- an ICMP "destination unreachable" on the error queue (e.g. port unreachable)
  is a failure; any other queued ICMP error is a success, as in keepalived;
- a receive error is a failure;
- a datagram is a success, unless ``require_reply`` gave data: then the reply
  must be ``min_reply_length``..``max_reply_length`` bytes long (it is read into
  ``max_reply_length + 1`` bytes) and its first ``min(len, len(reply))`` bytes
  must equal the data except where the mask has wildcards;
- no answer in time is a success, unless ``require_reply`` is set.

keepalived's UDP sockets take ``fwmark`` and ``bindto``/``bind_port`` but not
``bind_if`` (``udp_bind_connect`` has no ``SO_BINDTODEVICE``), and a failing
bind or connect is a failed attempt, not a local error.

Log texts: an attempt's failure is "UDP connection to <rs> failed." or "UDP check
to <rs> reply data mismatch." (keepalived logs it only with
``log_all_failures``; when the send itself failed keepalived logs no such line,
here the "failed" line is the reason then too); the state changes are in
:data:`KIND` (also :func:`success_message` and :func:`failure_message`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import socket

import trio

from pykad.check.base import Outcome, Target
from pykad.check.probes import connect
from pykad.check.probes.dgram import format_rs, plain, read_icmp_error, set_buf, set_recverr
from pykad.check.schedule import Layer4Kind
from pykad.config.sections._lvs_model import UdpCheck

__all__ = [
    "DEFAULT_PAYLOAD",
    "KIND",
    "failure_message",
    "probe",
    "reply_mismatch",
    "success_message",
]

log = logging.getLogger(__name__)

UDP_BUFSIZE = 32
DEFAULT_PAYLOAD = set_buf(UDP_BUFSIZE)
"""What keepalived sends when no ``payload`` is given."""


def reply_mismatch(check: UdpCheck, reply: bytes) -> bool:
    """``check_udp_reply``: True when ``reply`` fails ``require_reply``'s data.

    ``reply`` as received into ``max_reply_length + 1`` bytes.
    """
    if len(reply) < check.min_reply_length or len(reply) > check.max_reply_length:
        return True
    expected = check.reply or b""
    for i in range(min(len(reply), len(expected))):
        mask = check.reply_mask[i] if check.reply_mask is not None else 0
        if (reply[i] ^ expected[i]) & ~mask & 0xFF:
            return True
    return False


KIND = Layer4Kind(
    success="UDP connection to {chk} success.",
    failed="UDP_CHECK on service {chk} failed.",
    failed_after="UDP_CHECK on service {chk} failed after {retry} retries.",
    attempt_failed="{reason}",
    retry_while_down=False,
)
"""keepalived's texts for :class:`pykad.check.schedule.Layer4Schedule` (``udp_epilog``),
the per-attempt line being the probe's reason."""


def success_message(target: Target) -> str:
    """What keepalived logs when the server comes up."""
    return f"UDP connection to {format_rs(target)} success."


def failure_message(target: Target, retries: int = 0) -> str:
    """What keepalived logs when the server goes down (``retries``: after retrying)."""
    if retries:
        return f"UDP_CHECK on service {format_rs(target)} failed after {retries} retries."
    return f"UDP_CHECK on service {format_rs(target)} failed."


async def _open(check: UdpCheck, target: Target) -> trio.socket.SocketType | None:
    """The socket, connected, with the payload sent; None when that failed."""
    conn = check.connection
    address, port = connect.destination(conn, target)
    try:
        sock = connect.prepare_socket(
            dataclasses.replace(conn, bind_if=None),
            target,
            socket.SOCK_DGRAM,
            socket.IPPROTO_UDP,
        )
    except connect.CheckerSetupError as exc:
        if "create socket" in str(exc):
            log.info("UDP connect fail to create socket. Rescheduling.")
            raise
        log.info("%s", exc)
        return None
    try:
        set_recverr(sock, address)
        await sock.connect(connect.sockaddr(address, port, conn.bind_if))
        payload = check.payload if check.payload is not None else DEFAULT_PAYLOAD
        if await sock.send(payload) != len(payload):
            sock.close()
            return None
    except OSError:
        sock.close()
        return None
    except BaseException:
        sock.close()
        raise
    return sock


async def _answer(check: UdpCheck, sock: trio.socket.SocketType, target: Target) -> str:
    """Wait for the answer (cancelled at the timeout): "" for a success, else the failure."""
    failed = f"UDP connection to {format_rs(target)} failed."
    size = check.max_reply_length + 1 if check.require_reply else 1
    with plain(sock) as raw:
        while True:
            await trio.lowlevel.wait_readable(sock)
            # keepalived sees EPOLLERR first: the error queue decides.
            errors = read_icmp_error(raw)
            if errors is not None:
                return failed if any(e.unreachable for e in errors) else ""
            try:
                reply = raw.recv(size)
            except BlockingIOError:
                continue
            except OSError:
                return failed
            if check.require_reply and check.reply is not None and reply_mismatch(check, reply):
                return f"UDP check to {format_rs(target)} reply data mismatch."
            return ""


async def probe(check: UdpCheck, target: Target) -> Outcome:
    """One datagram to the server and the wait for its answer, within ``connect_timeout``.

    A failure's reason is keepalived's per-attempt line.  Only a socket that
    cannot be created raises :class:`~pykad.check.probes.connect.CheckerSetupError`.
    """
    timeout = connect.timeout_seconds(check.connection)
    deadline = trio.current_time() + (timeout if timeout > 0 else math.inf)
    failed = f"UDP connection to {format_rs(target)} failed."
    sock = await _open(check, target)
    if sock is None:
        return Outcome(ok=False, reason=failed)
    with sock:
        # The timeout: a success unless a reply is required.
        reason = failed if check.require_reply else ""
        with trio.move_on_at(deadline):
            reason = await _answer(check, sock, target)
    return Outcome(ok=not reason, reason=reason)
