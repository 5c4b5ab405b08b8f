"""Alert mails: the SMTP exchange (``pykad.mail.smtp``), the VRRP planner's mails
(``pykad.vrrp.notify``) and the mail driver against a small SMTP server on loopback
(``pykad.drivers.mailer``)."""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import socket
from dataclasses import replace

import pytest
import trio

from pykad.config.sections._global_model import Smtp
from pykad.config.sections._vrrp_model import SyncGroup, VrrpInstance
from pykad.drivers.mailer import Mailer, MailSettings, mail_settings
from pykad.mail.smtp import (
    MAX_BODY,
    MAX_SUBJECT,
    Alerts,
    Envelope,
    Mail,
    Stage,
    Transaction,
    envelope,
    real_server_subject,
    virtual_server_subject,
)
from pykad.vrrp.notify import NotifyPlanner, NotifyState, SendMail

ENVELOPE = Envelope(
    "lb1.example.com", "keepalived@example.com", ("ops@example.com", "b@example.com")
)
MAIL = Mail(
    "[lb1] VRRP Instance VI_1 - Entering MASTER state",
    "=> VRRP Instance is now owning VRRP VIPs <=",
)
DATE = "Sun, 29 Nov 2026 12:00:00 +0000"
SERVER = "[192.0.2.25]:25"


def exchange() -> Transaction:
    return Transaction(ENVELOPE, MAIL, DATE, SERVER)


def test_a_whole_exchange() -> None:
    t = exchange()
    sent = []
    for reply in (b"220 mx ESMTP\r\n", b"250 mx\r\n", b"250 ok\r\n", b"250 ok\r\n", b"250 ok\r\n"):
        step = t.receive(reply)
        assert step is not None and not step.done and not step.log
        sent.append(step.send)
    assert sent == [
        b"HELO lb1.example.com\r\n",
        b"MAIL FROM:<keepalived@example.com>\r\n",
        b"RCPT TO:<ops@example.com>\r\n",
        b"RCPT TO:<b@example.com>\r\n",
        b"DATA\r\n",
    ]
    step = t.receive(b"354 go ahead\r\n")
    assert step is not None
    assert step.send == (
        b"Date: Sun, 29 Nov 2026 12:00:00 +0000\r\nFrom: keepalived@example.com\r\n"
        b"Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state\r\n"
        b"X-Mailer: Keepalived\r\nTo: ops@example.com, b@example.com\r\n\r\n"
        b"=> VRRP Instance is now owning VRRP VIPs <=\r\n\r\n.\r\n"
    )
    step = t.receive(b"250 queued\r\n")
    assert step is not None and step.sent and step.send == b"QUIT\r\n"
    assert step.log == ("SMTP alert successfully sent.",) and not step.done
    step = t.receive(b"221 bye\r\n")
    assert step is not None and step.done and t.stage is Stage.DONE


def test_multiline_and_split_replies_count_once() -> None:
    t = exchange()
    assert t.receive(b"220-mx.example.com ESMTP\r\n220-more") is None
    assert t.receive(b" text\r\n22") is None
    step = t.receive(b"0 ready\r\n")
    assert step is not None and step.send.startswith(b"HELO ")
    step = t.receive(b"250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
    assert step is not None and step.send.startswith(b"MAIL FROM:")


@pytest.mark.parametrize(
    ("replies", "stage", "code"),
    [
        ([b"554 go away\r\n"], "(E)SMTP", 554),
        ([b"220 mx\r\n", b"502 no\r\n"], "HELO", 502),
        ([b"220 mx\r\n", b"250 a\r\n", b"250 b\r\n", b"550 no such user\r\n"], "RCPT", 550),
        (
            [b"220 mx\r\n", b"250\r\n", b"250\r\n", b"250\r\n", b"250\r\n", b"451 later\r\n"],
            "DATA",
            451,
        ),
    ],
)
def test_an_unexpected_code_is_logged_then_quit(
    replies: list[bytes], stage: str, code: int
) -> None:
    t = exchange()
    step = None
    for reply in replies:
        step = t.receive(reply)
    assert step is not None and step.send == b"QUIT\r\n" and not step.sent
    assert step.log == (
        f"Error processing {stage} cmd on SMTP server {SERVER}. SMTP status code = {code}",
    )
    assert t.stage is Stage.QUIT
    final = t.receive(b"221 bye\r\n")
    assert final is not None and final.done


def test_a_closed_connection_and_an_overlong_reply() -> None:
    t = exchange()
    step = t.closed()
    assert step.done and step.log == (f"Remote SMTP server {SERVER} has closed the connection.",)
    t = exchange()
    step = t.receive(b"2" * 600)
    assert step is not None and step.send == b"QUIT\r\n" and "overflow" in step.log[0]


def test_subjects_and_bodies_are_cut_at_keepalived_s_sizes() -> None:
    mail = Mail("s" * 300, "b" * 600)
    assert len(mail.subject) == MAX_SUBJECT and len(mail.body) == MAX_BODY
    assert (
        real_server_subject("lb1", "[192.0.2.10]:tcp:80", "[192.0.2.1]:tcp:80", "UP")
        == "[lb1] Realserver [192.0.2.10]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - UP"
    )
    assert virtual_server_subject("lb1", "[192.0.2.1]:tcp:80", "DOWN") == (
        "[lb1] Virtualserver [192.0.2.1]:tcp:80 - DOWN"
    )


def test_the_envelope_defaults_and_when_no_mail_goes() -> None:
    server = ipaddress.ip_address("192.0.2.25")
    smtp = Smtp(server=server, emails=("ops@example.com",))
    assert envelope(smtp, host_name="lb1", user="root") == Envelope(
        "lb1", "root@lb1", ("ops@example.com",)
    )
    named = replace(smtp, helo_name="mx-client", email_from="ka@example.com")
    assert envelope(named, host_name="lb1", user="root") == Envelope(
        "mx-client", "ka@example.com", ("ops@example.com",)
    )
    assert envelope(replace(smtp, emails=()), host_name="lb1", user="root") is None
    assert envelope(replace(smtp, server=None), host_name="lb1", user="root") is None
    settings = mail_settings(smtp, "lb1")
    assert settings is not None and settings.timeout_s == 30.0 and settings.port == 25


# --------------------------------------------------------------------------- the planner


def instance(name: str, smtp_alert: bool = True) -> VrrpInstance:
    return VrrpInstance(name=name, vrid=51, interface="eth0", smtp_alert=smtp_alert)


def mails(effects: tuple[object, ...]) -> list[tuple[str, str]]:
    return [(e.mail.subject, e.mail.body) for e in effects if isinstance(e, SendMail)]


def test_an_instance_mails_each_new_state_once() -> None:
    planner = NotifyPlanner(
        [instance("VI_1"), instance("VI_2", smtp_alert=False)], (), Alerts("lb1")
    )
    assert mails(planner.instance_state("VI_1", NotifyState.BACKUP, 100)) == [
        (
            "[lb1] VRRP Instance VI_1 - Entering BACKUP state",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
        )
    ]
    assert mails(planner.instance_state("VI_1", NotifyState.BACKUP, 100)) == []
    assert mails(planner.instance_state("VI_1", NotifyState.MASTER, 100)) == [
        (
            "[lb1] VRRP Instance VI_1 - Entering MASTER state",
            "=> VRRP Instance is now owning VRRP VIPs <=",
        )
    ]
    assert mails(planner.instance_state("VI_2", NotifyState.MASTER, 100)) == []
    effects = planner.shutdown({})
    assert mails(effects) == [
        ("[lb1] VRRP Instance VI_1 - Stopping", "=> VRRP Instance stopping <=")
    ]
    # each instance's FIFO line, then its mail (keepalived: vrrp_smtp_notifier last)
    assert [type(e).__name__ for e in effects] == ["WriteFifo", "SendMail", "WriteFifo"]


def test_an_instance_a_reload_deletes_mails_as_keepalived_does() -> None:
    plain = instance("VI_1")
    told = replace(instance("VI_2"), notify_deleted=True)
    planner = NotifyPlanner([plain, told], (), Alerts("lb1"))
    assert mails(planner.deleted("VI_1", 100)) == [
        (
            "[lb1] VRRP Instance VI_1 - Entering FAULT state",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
        )
    ]
    assert mails(planner.deleted("VI_2", 100)) == [
        ("[lb1] VRRP Instance VI_2 - Deleted", "=> VRRP Deleted at reload <=")
    ]


def test_faults_are_not_mailed_with_no_email_faults_and_nothing_without_a_server() -> None:
    quiet = NotifyPlanner([instance("VI_1")], (), Alerts("lb1", no_email_faults=True))
    assert mails(quiet.instance_state("VI_1", NotifyState.FAULT, 100)) == []
    assert len(mails(quiet.instance_state("VI_1", NotifyState.BACKUP, 100))) == 1
    none = NotifyPlanner([instance("VI_1")], ())
    assert mails(none.instance_state("VI_1", NotifyState.MASTER, 100)) == []


def test_a_sync_group_mails_as_a_group_and_remembers_over_a_reload() -> None:
    group = SyncGroup(name="G1", members=("VI_1",), smtp_alert=True)
    planner = NotifyPlanner([instance("VI_1", smtp_alert=False)], [group], Alerts("lb1"))
    assert mails(planner.group_state("G1", NotifyState.MASTER)) == [
        (
            "[lb1] VRRP Group G1 - Entering MASTER state",
            "=> All VRRP group instances are now in MASTER state <=",
        )
    ]
    again = planner.reloaded([instance("VI_1", smtp_alert=False)], [group], Alerts("lb1"))
    assert mails(again.group_state("G1", NotifyState.MASTER)) == []
    assert mails(again.group_state("G1", NotifyState.STOP)) == [
        ("[lb1] VRRP Group G1 - Stopping", "=> All VRRP group instances are now stopping <=")
    ]


# --------------------------------------------------------------------------- the driver


class SmtpServer:
    """Answers as a mail server would (``codes`` per command), records what it got."""

    def __init__(self, greet: bool = True, rcpt_code: int = 250) -> None:
        self.greet = greet
        self.rcpt_code = rcpt_code
        self.sessions: list[bytes] = []

    async def handle(self, stream: trio.SocketStream) -> None:
        got = b""
        if not self.greet:
            await trio.sleep_forever()
        await stream.send_all(b"220 mx.example.com ESMTP\r\n")
        in_data = False
        buffer = b""
        while True:
            data = await stream.receive_some(4096)
            if not data:
                break
            got += data
            buffer += data
            while True:
                if in_data:
                    if b"\r\n.\r\n" not in buffer:
                        break
                    _, buffer = buffer.split(b"\r\n.\r\n", 1)
                    in_data = False
                    await stream.send_all(b"250 2.0.0 queued\r\n")
                    continue
                if b"\r\n" not in buffer:
                    break
                line, buffer = buffer.split(b"\r\n", 1)
                verb = line.split(b" ", 1)[0].upper()
                if verb == b"DATA":
                    in_data = True
                    await stream.send_all(b"354 go ahead\r\n")
                elif verb == b"QUIT":
                    await stream.send_all(b"221 bye\r\n")
                    self.sessions.append(got)
                    return
                elif verb == b"RCPT":
                    await stream.send_all(b"%d rcpt\r\n" % self.rcpt_code)
                else:
                    await stream.send_all(b"250 ok\r\n")
        self.sessions.append(got)


async def serve(server: SmtpServer, mailer: Mailer, *mails: Mail) -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, server.handle, 0, host="127.0.0.1")
        )
        port = listeners[0].socket.getsockname()[1]
        settings = MailSettings(ENVELOPE, ipaddress.ip_address("127.0.0.1"), port, 0.5)
        mailer.configure(settings)
        await nursery.start(mailer.run)
        for mail in mails:
            mailer.submit(mail)
        mailer.close()
        with trio.move_on_after(5):
            while mailer.sent + mailer.failed < len(mails):
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()


def test_the_mailer_sends_each_mail_over_its_own_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pykad.drivers.mailer")
    server = SmtpServer()
    mailer = Mailer(date=lambda: DATE)
    other = Mail("[lb1] VRRP Instance VI_2 - Entering BACKUP state", "=> body <=")
    trio.run(serve, server, mailer, MAIL, other)
    assert mailer.statistics().sent == 2 and mailer.statistics().failed == 0
    assert len(server.sessions) == 2
    assert all(
        s.startswith(b"HELO lb1.example.com\r\nMAIL FROM:<keepalived@example.com>\r\n")
        for s in server.sessions
    )
    assert any(
        b"Subject: [lb1] VRRP Instance VI_2 - Entering BACKUP state\r\n" in s
        for s in server.sessions
    )
    assert all(s.endswith(b"\r\n.\r\nQUIT\r\n") for s in server.sessions)
    assert caplog.text.count("SMTP alert successfully sent.") == 2
    assert "Remote SMTP server [127.0.0.1]:" in caplog.text


def test_the_mailer_gives_up_as_keepalived_does(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pykad.drivers.mailer")
    mailer = Mailer(date=lambda: DATE)
    trio.run(serve, SmtpServer(greet=False), mailer, MAIL)
    assert (
        mailer.failed == 1
        and "Timeout reading data to remote SMTP server [127.0.0.1]:" in caplog.text
    )
    mailer = Mailer(date=lambda: DATE)
    trio.run(serve, SmtpServer(rcpt_code=550), mailer, MAIL)
    assert mailer.failed == 1 and "Error processing RCPT cmd on SMTP server" in caplog.text


def test_a_refused_connection_is_keepalived_s_write_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pykad.drivers.mailer")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailer = Mailer(MailSettings(ENVELOPE, ipaddress.ip_address("127.0.0.1"), port, 0.5))

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(mailer.run)
            mailer.submit(MAIL)
            mailer.close()

    trio.run(main)
    assert mailer.failed == 1 and re.search(r"smtp fd \d+ returned write error", caplog.text)


def test_without_settings_nothing_is_queued() -> None:
    mailer = Mailer()
    mailer.submit(MAIL)
    assert mailer.statistics().submitted == 0
