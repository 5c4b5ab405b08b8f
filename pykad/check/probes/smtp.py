"""SMTP_CHECK: one attempt of keepalived 2.2.7's SMTP dialogue (``check/check_smtp.c``).

Owns the dialogue and its log texts.  An attempt connects (``pykad.check.probes.connect``),
reads the greeting banner, sends ``HELO <helo_name>``, reads the answer, sends
``QUIT`` and reads one more line; it succeeds when that last line arrives.

keepalived's rules, kept here:

- A line is what has been read up to the first ``\\n`` (the ``\\r`` before it
  stays); each line starts with an empty 512-byte buffer, so whatever followed
  the newline in the same read is dropped.  A buffer that fills up without a
  newline is logged ("Buffer overflow ...") and emptied.
- A reply's status is good only when the line starts with exactly three digits
  that ``strtoul`` reads as the code, followed by the end of the line or a
  space: ``220 mail``, ``220`` pass; ``220-mail`` (a multi-line greeting),
  ``220\\r`` (nothing after the code) and ``0220`` fail.  The banner must be 220,
  the answer to HELO 250; the answer to QUIT is not looked at.
- A closed connection or a read error is "Read failure", a failed write "Write
  failure".

Deviation: keepalived gives each read and write its own ``connect_timeout``;
here the whole attempt gets one ``connect_timeout`` (``pykad.check.base``), and
the step that is waiting when it runs out names the timeout ("Connection
timeout", "Read timeout", "Write timeout").

Deprecated ``host`` blocks: keepalived runs one more checker per block, each
with that block's connection (:func:`connections`); pass one of them to
:func:`probe` as ``connection``.
"""

from __future__ import annotations

import logging
import math

import trio

from pykad.check.base import Outcome, Target
from pykad.check.probes import connect
from pykad.check.probes.dgram import format_rs, pair
from pykad.config.sections._lvs_model import Connection, SmtpCheck

__all__ = [
    "SMTP_BUFF_MAX",
    "connections",
    "probe",
    "reply_status",
    "success_message",
]

log = logging.getLogger(__name__)

SMTP_BUFF_MAX = 512
PREFIX = "SMTP_CHECK "
"""keepalived prepends this to every failure it logs (``smtp_final``)."""

"""connect() errnos that come back at once: keepalived's "Network unreachable"."""


def connections(check: SmtpCheck) -> tuple[Connection, ...]:
    """The connection of each keepalived checker this SMTP_CHECK block makes.

    The checker's own connection, unless only (deprecated) ``host`` blocks were
    given: then the first host's; then one more per remaining host.
    """
    if check.use_connection or not check.hosts:
        return (check.connection, *check.hosts)
    return check.hosts


def reply_status(line: bytes) -> int:
    """``smtp_get_status``: the reply code of a line, or -1 if it is not legible."""
    i, n = 0, len(line)
    while i < n and line[i] in b" \t\n\v\f\r":
        i += 1
    if i < n and line[i] in b"+-":
        i += 1
    start = i
    while i < n and 0x30 <= line[i] <= 0x39:
        i += 1
    if i == start:
        return -1  # strtoul read nothing: endptr is the start of the line
    if i != 3 or (i < n and line[i] != 0x20):
        return -1
    return int(line[:3])


def success_message(target: Target) -> str:
    """What keepalived logs when the server comes up."""
    return f"Remote SMTP server {format_rs(target)} succeed on service."


def _c_string(buf: bytearray) -> bytes:
    return bytes(buf).split(b"\0", 1)[0]


class _Failed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Dialogue:
    def __init__(self, stream: trio.SocketStream, server: str) -> None:
        self.stream = stream
        self.server = server
        self.step = "Read"

    async def get_line(self) -> bytes:
        self.step = "Read"
        buf = bytearray()
        while True:
            if len(buf) >= SMTP_BUFF_MAX - 1:
                log.info(
                    "SMTP_CHECK Buffer overflow reading from server %s. "
                    "Increase SMTP_BUFF_MAX in check_smtp.h",
                    self.server,
                )
                buf.clear()
            try:
                data = await self.stream.receive_some(SMTP_BUFF_MAX - 1 - len(buf))
            except (trio.BrokenResourceError, OSError):
                data = b""
            if not data:
                raise _Failed(f"Read failure from server {self.server}")
            buf += data
            text = _c_string(buf)
            newline = text.find(b"\n")
            if newline >= 0:
                return text[:newline]

    async def put_line(self, line: bytes) -> None:
        self.step = "Write"
        try:
            await self.stream.send_all(line)
        except (trio.BrokenResourceError, OSError) as exc:
            raise _Failed(f"Write failure to server {self.server}") from exc

    async def run(self, helo_name: str) -> None:
        if reply_status(await self.get_line()) != 220:
            raise _Failed(f"Bad greeting banner from server {self.server}")
        await self.put_line(f"HELO {helo_name}\r\n".encode()[: SMTP_BUFF_MAX - 1])
        if reply_status(await self.get_line()) != 250:
            raise _Failed(f"Bad HELO response from server {self.server}")
        await self.put_line(b"QUIT\r\n")
        await self.get_line()


def _connect_failure(exc: connect.ConnectFailed, server: str, target: Target) -> str:
    if exc.timeout:
        return f"Connection timeout to server {server}"
    if exc.errno in connect.NETWORK_UNREACHABLE:
        rs = pair(target.address, target.port)
        return f"Network unreachable for server {server} - real server {rs}"
    return f"Could not connect to server {server}"


async def probe(
    check: SmtpCheck, target: Target, *, connection: Connection | None = None
) -> Outcome:
    """One SMTP dialogue with the server, within ``connect_timeout``.

    ``connection``: which of :func:`connections` to use (default: the first).
    A failure's reason is keepalived's log line.  Local errors (bind, fwmark,
    device) raise :class:`~pykad.check.probes.connect.CheckerSetupError`, after
    keepalived's "SMTP_CHECK socket bind failed. Rescheduling.".
    """
    conn = connection if connection is not None else connections(check)[0]
    server = pair(*connect.destination(conn, target))
    timeout = connect.timeout_seconds(conn)
    deadline = trio.current_time() + (timeout if timeout > 0 else math.inf)
    try:
        stream = await connect.open_stream(conn, target)
    except connect.ConnectFailed as exc:
        return Outcome(ok=False, reason=PREFIX + _connect_failure(exc, server, target))
    except connect.CheckerSetupError:
        log.info("SMTP_CHECK socket bind failed. Rescheduling.")
        raise
    dialogue = _Dialogue(stream, server)
    try:
        with trio.move_on_at(deadline):
            await dialogue.run(check.helo_name)
            return Outcome(ok=True)
        if dialogue.step == "Read":
            return Outcome(ok=False, reason=f"{PREFIX}Read timeout from server {server}")
        return Outcome(ok=False, reason=f"{PREFIX}Write timeout to server {server}")
    except _Failed as failed:
        return Outcome(ok=False, reason=PREFIX + failed.message)
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()
