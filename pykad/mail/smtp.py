"""An alert mail and the SMTP exchange that sends it, as keepalived 2.2.7 does (``core/smtp.c``).

Owned here:

- :class:`Mail` (a subject and a body) and the subjects keepalived makes:
  ``[ROUTER_ID] VRRP Instance NAME - TEXT`` (:func:`instance_subject`),
  ``[ROUTER_ID] VRRP Group NAME - TEXT`` (:func:`group_subject`),
  ``[ROUTER_ID] Realserver RS of virtual server VS - TEXT``
  (:func:`real_server_subject`), ``[ROUTER_ID] Virtualserver VS - TEXT``
  (:func:`virtual_server_subject`); cut at keepalived's buffer sizes.
- :class:`Alerts`: what decides which alerts go (the router id they name,
  ``no_email_faults``, ``no_checker_emails``), for the VRRP planner and the pools.
- :class:`Envelope`: what every mail of a process shares (HELO name, sender,
  recipients), from the configuration (:func:`envelope`).
- :class:`Transaction`: one mail's exchange with the server, the subset of RFC
  5321 keepalived speaks (section 3.3 "Mail Transactions", 4.1 "SMTP Commands"):
  the greeting 220, ``HELO`` 250, ``MAIL FROM:<sender>`` 250, one ``RCPT TO`` per
  recipient 250, ``DATA`` 354, the message (``Date``, ``From``, ``Subject``,
  ``X-Mailer: Keepalived``, ``To`` headers, the body) and its final dot 250, then
  ``QUIT``. A reply's code is its last line's (lines ``NNN-`` continue it, RFC
  5321 4.2.1). Any other code: keepalived's "Error processing ... cmd" line, then
  ``QUIT``. Fed the server's bytes, it says what to send and what to log.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from pykad.config.sections._global_model import Smtp

__all__ = [
    "MAX_BODY",
    "MAX_SUBJECT",
    "Alerts",
    "Envelope",
    "Mail",
    "Stage",
    "Step",
    "Transaction",
    "envelope",
    "group_subject",
    "instance_subject",
    "real_server_subject",
    "virtual_server_subject",
]

MAX_SUBJECT = 255
"""keepalived's MAX_HEADERS_LENGTH (256) less its NUL: a longer subject is cut."""
MAX_BODY = 511
"""keepalived's MAX_BODY_LENGTH (512) less its NUL."""
MAX_REPLY = 512
"""keepalived's SMTP_BUFFER_MAX: a reply line longer than this ends the exchange."""


@dataclass(frozen=True, slots=True)
class Mail:
    subject: str
    body: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "subject", self.subject[:MAX_SUBJECT])
        object.__setattr__(self, "body", self.body[:MAX_BODY])


def instance_subject(router_id: str, name: str, text: str) -> str:
    return f"[{router_id}] VRRP Instance {name} - {text}"


def group_subject(router_id: str, name: str, text: str) -> str:
    return f"[{router_id}] VRRP Group {name} - {text}"


def real_server_subject(router_id: str, real_server: str, virtual_server: str, text: str) -> str:
    return f"[{router_id}] Realserver {real_server} of virtual server {virtual_server} - {text}"


def virtual_server_subject(router_id: str, virtual_server: str, text: str) -> str:
    return f"[{router_id}] Virtualserver {virtual_server} - {text}"


@dataclass(frozen=True, slots=True)
class Alerts:
    """What the alert planners need (None in their place: no mail goes, for want of a
    server or a recipient)."""

    router_id: str
    no_email_faults: bool = False
    no_checker_emails: bool = False


@dataclass(frozen=True, slots=True)
class Envelope:
    helo: str
    sender: str
    recipients: tuple[str, ...]


def envelope(smtp: Smtp, *, host_name: str, user: str) -> Envelope | None:
    """The envelope of ``smtp`` (None: no mail goes, as keepalived sends none without a
    server or a recipient). Unset, the HELO name is the host name and the sender
    ``user@host name`` (keepalived's ``set_default_email_from``)."""
    if smtp.server is None or not smtp.emails:
        return None
    return Envelope(
        helo=smtp.helo_name or host_name,
        sender=smtp.email_from or f"{user}@{host_name}",
        recipients=smtp.emails,
    )


class Stage(enum.Enum):
    """Where an exchange is: the command whose reply it waits for (its log name)."""

    GREETING = "(E)SMTP"
    HELO = "HELO"
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"
    BODY = "BODY"
    QUIT = "QUIT"
    DONE = "DONE"


_TRANSITIONS: dict[Stage, tuple[int, Stage]] = {
    # waiting for the reply to: (the code that lets it go on, the next command)
    Stage.GREETING: (220, Stage.HELO),  # RFC 5321 4.3.2, connection establishment
    Stage.HELO: (250, Stage.MAIL),  # 4.1.1.1
    Stage.MAIL: (250, Stage.RCPT),  # 4.1.1.2
    Stage.RCPT: (250, Stage.DATA),  # 4.1.1.3, once per recipient
    Stage.DATA: (354, Stage.BODY),  # 4.1.1.4, then the message
    Stage.BODY: (250, Stage.QUIT),  # 4.1.1.4, the final dot: the mail is taken
}


@dataclass(frozen=True, slots=True)
class Step:
    """What to do after a reply: ``send`` (may be empty), ``log`` lines, and whether the
    exchange is over (close the connection)."""

    send: bytes = b""
    log: tuple[str, ...] = ()
    done: bool = False
    sent: bool = False
    """The server took the mail (its reply to the final dot)."""


@dataclass
class Transaction:
    """One mail's exchange. ``server``: the server as keepalived writes it in its log
    lines (``[192.0.2.25]:25``); ``date``: the ``Date`` header (RFC 5322 3.3)."""

    envelope: Envelope
    mail: Mail
    date: str
    server: str
    stage: Stage = Stage.GREETING
    _next_rcpt: int = 0
    _buffer: bytes = field(default=b"", repr=False)

    def message(self) -> bytes:
        """The DATA part: headers, a blank line, the body, the final dot."""
        e, m = self.envelope, self.mail
        to = ", ".join(e.recipients)
        text = (
            f"Date: {self.date}\r\nFrom: {e.sender}\r\nSubject: {m.subject}\r\n"
            f"X-Mailer: Keepalived\r\nTo: {to}\r\n\r\n{m.body}\r\n\r\n.\r\n"
        )
        return text.encode(errors="surrogateescape")

    def receive(self, data: bytes) -> Step | None:
        """The server's bytes; the step once a whole reply is in (None: not yet)."""
        self._buffer += data
        code = None
        while b"\r\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\r\n", 1)
            if len(line) >= 4 and line[3:4] == b"-":
                continue  # a multiline reply goes on
            code = int(line[:3]) if line[:3].isdigit() else -1
            break
        if code is None:
            if len(self._buffer) >= MAX_REPLY:
                return self._quit(
                    f"Received buffer from remote SMTP server {self.server} overflow our"
                    " get read buffer length."
                )
            return None
        return self._reply(code)

    def closed(self) -> Step:
        """The server closed the connection."""
        if self.stage in (Stage.QUIT, Stage.DONE):
            self.stage = Stage.DONE
            return Step(done=True)
        self.stage = Stage.DONE
        line = f"Remote SMTP server {self.server} has closed the connection."
        return Step(log=(line,), done=True)

    def _reply(self, code: int) -> Step:
        stage = self.stage
        if stage in (Stage.QUIT, Stage.DONE):
            self.stage = Stage.DONE
            return Step(done=True)
        expected, after = _TRANSITIONS[stage]
        if code != expected:
            return self._quit(
                f"Error processing {stage.value} cmd on SMTP server {self.server}."
                f" SMTP status code = {code}"
            )
        if stage is Stage.RCPT and self._next_rcpt < len(self.envelope.recipients):
            after = Stage.RCPT
        self.stage = after
        if after is Stage.QUIT:
            return Step(send=b"QUIT\r\n", log=("SMTP alert successfully sent.",), sent=True)
        return Step(send=self._command(after))

    def _command(self, stage: Stage) -> bytes:
        e = self.envelope
        if stage is Stage.HELO:
            text = f"HELO {e.helo}\r\n"
        elif stage is Stage.MAIL:
            text = f"MAIL FROM:<{e.sender}>\r\n"
        elif stage is Stage.RCPT:
            text = f"RCPT TO:<{e.recipients[self._next_rcpt]}>\r\n"
            self._next_rcpt += 1
        elif stage is Stage.DATA:
            text = "DATA\r\n"
        else:
            return self.message()
        return text.encode(errors="surrogateescape")

    def _quit(self, line: str) -> Step:
        self.stage = Stage.QUIT
        return Step(send=b"QUIT\r\n", log=(line,))
