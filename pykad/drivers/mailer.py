"""The mail driver: sends alert mails (``pykad.mail.smtp``) to the SMTP server.

Owned here: :class:`Mailer`. As keepalived 2.2.7's ``smtp_alert`` does, each
mail goes over a connection of its own, all at once, each step (connect, every
read and write) bounded by ``smtp_connect_timeout``, with keepalived's log lines
("smtp fd 15 returned write error" for a refused connection, "Timeout connecting
SMTP server ...", "Error processing RCPT cmd ..."; with ``-D`` also "Remote SMTP
server [192.0.2.25]:25 connected." and "SMTP alert successfully sent.").
Unlike keepalived's, a stopping daemon's last mails ("Stopping") are sent:
keepalived opens their connections and exits. :meth:`Mailer.submit` never
blocks: the VRRP and checker loops hand a mail over and go on. The server's
name, if the configuration gave one, is resolved for each mail. What a mail needs
from the configuration (:class:`MailSettings`, :func:`mail_settings`) is set
again by a reload (:meth:`Mailer.configure`); without a server or a recipient no
mail goes.
"""

from __future__ import annotations

import logging
import math
import os
import pwd
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import trio

from pykad.config.addresses import IPAddress
from pykad.config.sections._global_model import (
    DEFAULT_SMTP_CONNECTION_TIMEOUT_US,
    GlobalDefs,
    Smtp,
)
from pykad.mail.smtp import Alerts, Envelope, Mail, Transaction, envelope

__all__ = [
    "CLOSE_GRACE_S",
    "MailSettings",
    "Mailer",
    "MailerStatistics",
    "configure",
    "mail_settings",
    "rfc822_date",
]

log = logging.getLogger(__name__)

CLOSE_GRACE_S = 1.0
"""How long mails still on their way may take once the mailer is closed (a stopping
daemon's last alerts); the rest are given up."""


def rfc822_date(now: float | None = None) -> str:
    """keepalived's ``Date`` header: ``%a, %d %b %Y %H:%M:%S %z``, local time."""
    return time.strftime("%a, %d %b %Y %H:%M:%S %z", time.localtime(now))


@dataclass(frozen=True, slots=True)
class MailSettings:
    envelope: Envelope
    server: IPAddress | str
    port: int
    timeout_s: float


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def mail_settings(smtp: Smtp, host_name: str | None = None) -> MailSettings | None:
    """The settings of ``smtp`` (None: no mail goes); unset names come from this host
    (``host_name``, default the host name) and user."""
    found = envelope(smtp, host_name=host_name or socket.gethostname(), user=_user())
    if found is None or smtp.server is None:
        return None
    timeout_us = smtp.connect_timeout_us or DEFAULT_SMTP_CONNECTION_TIMEOUT_US
    return MailSettings(found, smtp.server, smtp.port, timeout_us / 1_000_000)


def configure(mailer: Mailer | None, global_defs: GlobalDefs) -> Alerts | None:
    """Give ``mailer`` (if any) the settings of ``global_defs``; what the planners need
    (the mails name ``router_id``, else the host name), or None when no mail goes."""
    smtp = global_defs.smtp
    settings = mail_settings(smtp)
    if mailer is not None:
        mailer.configure(settings)
    if settings is None:
        return None
    router_id = global_defs.router_id or socket.gethostname()
    return Alerts(router_id, smtp.no_email_faults, smtp.no_checker_emails)


@dataclass(frozen=True, slots=True)
class MailerStatistics:
    submitted: int
    sent: int
    failed: int


class Mailer:
    """Sends each mail submitted as its :class:`MailSettings` say (None: drops it)."""

    def __init__(
        self, settings: MailSettings | None = None, *, date: Callable[[], str] = rfc822_date
    ) -> None:
        self.settings = settings
        self._date = date
        self._send, self._receive = trio.open_memory_channel[tuple[MailSettings, Mail]](math.inf)
        self.submitted = self.sent = self.failed = 0

    def configure(self, settings: MailSettings | None) -> None:
        """Settings for the mails submitted from now on (a reload)."""
        self.settings = settings

    def submit(self, mail: Mail) -> None:
        """Queue ``mail``; never blocks. Dropped without settings, or (logged) once closed."""
        if self.settings is None:
            return
        try:
            self._send.send_nowait((self.settings, mail))
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            log.warning("mailer closed: alert %r not sent", mail.subject)
            return
        self.submitted += 1

    def close(self) -> None:
        """No more mails: :meth:`run` returns once those on their way are sent, or after
        :data:`CLOSE_GRACE_S`."""
        self._send.close()

    def statistics(self) -> MailerStatistics:
        return MailerStatistics(self.submitted, self.sent, self.failed)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            task_status.started()
            async with self._receive:
                async for settings, mail in self._receive:
                    nursery.start_soon(self._deliver, settings, mail)
            nursery.cancel_scope.deadline = trio.current_time() + CLOSE_GRACE_S

    @staticmethod
    async def _address(settings: MailSettings) -> tuple[int, tuple[str, int]] | None:
        server, port = settings.server, settings.port
        if not isinstance(server, str):
            family = socket.AF_INET if server.version == 4 else socket.AF_INET6
            return family, (str(server), port)
        try:
            found = await trio.socket.getaddrinfo(server, port, type=socket.SOCK_STREAM)
        except OSError as e:
            log.info("SMTP server %s cannot be resolved: %s", server, e)
            return None
        family, _, _, _, sockaddr = found[0]
        return family, (str(sockaddr[0]), port)

    async def _deliver(self, settings: MailSettings, mail: Mail) -> None:
        ok = False
        try:
            ok = await self._exchange(settings, mail)
        finally:
            if ok:
                self.sent += 1
            else:
                self.failed += 1

    async def _exchange(self, settings: MailSettings, mail: Mail) -> bool:
        where = await self._address(settings)
        if where is None:
            return False
        family, sockaddr = where
        timeout = settings.timeout_s
        shown = f"[{sockaddr[0]}]:{sockaddr[1]}"
        with trio.socket.socket(family, socket.SOCK_STREAM) as sock:
            try:
                with trio.fail_after(timeout):
                    await sock.connect(sockaddr)
            except trio.TooSlowError:
                log.info("Timeout connecting SMTP server %s.", shown)
                return False
            except OSError:
                log.info("smtp fd %d returned write error", sock.fileno())
                return False
            log.debug("Remote SMTP server %s connected.", shown)
            exchange = Transaction(settings.envelope, mail, self._date(), shown)
            sent = False
            while True:
                try:
                    with trio.fail_after(timeout):
                        data = await sock.recv(4096)
                except trio.TooSlowError:
                    log.info("Timeout reading data to remote SMTP server %s.", shown)
                    return sent
                except OSError:
                    log.info("Error reading data from remote SMTP server %s.", shown)
                    return sent
                step = exchange.receive(data) if data else exchange.closed()
                if step is None:
                    continue
                for line in step.log:  # success is a detail (-D), as in keepalived
                    log.log(logging.DEBUG if step.sent else logging.INFO, "%s", line)
                sent = sent or step.sent
                if step.send:
                    try:
                        with trio.fail_after(timeout):
                            await _send_all(sock, step.send)
                    except (trio.TooSlowError, OSError):
                        log.info("Cannot send data to remote SMTP server %s.", shown)
                        return sent
                if step.done:
                    return sent


async def _send_all(sock: trio.socket.SocketType, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = await sock.send(view)
        view = view[n:]
