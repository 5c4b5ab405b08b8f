"""pykad's alert mails are keepalived's: the same SMTP sessions, byte for byte but the date.

The real keepalived 2.2.7, then pykad, run alone in namespace A with one config:
two instances with ``smtp_alert`` (one in a sync group with ``smtp_alert`` too), a
mail server in namespace C (``lab.smtp_sink``), two recipients, a HELO name and a
sender. Each goes BACKUP -> MASTER, then is stopped. The sink records every
session as the client sent it; with the ``Date`` header's value taken out, the
sessions of both daemons must be the same (as a multiset: each mail has its own
connection, so they may arrive in any order), and so must their SMTP log lines.

At the stop keepalived opens one connection per "Stopping" mail and exits before
it says anything (the sink records empty sessions, as many as it opened before
it was gone): pykad sends those mails (``pykad.drivers.mailer.CLOSE_GRACE_S``).
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from lab.keepalived import KEEPALIVED, PYKAD, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for
from lab.smtp_sink import SmtpSink

pytestmark = pytest.mark.interop

SINK = "192.0.2.25"
PORT = 2525
GLOBAL = f"""global_defs {{
    router_id lab-A
    notification_email {{
        ops@example.com
        noc@example.com
    }}
    notification_email_from keepalived@example.com
    smtp_server {SINK} {PORT}
    smtp_helo_name lb-a.example.com
    smtp_connect_timeout 5
}}
vrrp_sync_group G1 {{
    group {{
        VI_1
    }}
    smtp_alert
}}
"""
CONFIG = (
    GLOBAL
    + vrrp_instance_config(
        name="VI_1",
        virtual_router_id=51,
        priority=150,
        advert_int=0.1,
        version=3,
        vips=("192.0.2.10/24",),
        extra="smtp_alert",
    )
    + vrrp_instance_config(
        name="VI_2",
        virtual_router_id=52,
        priority=120,
        advert_int=0.1,
        version=3,
        vips=("192.0.2.20/24",),
        extra="smtp_alert",
    )
)
DATE = re.compile(r"^Date: [^\r]*\r\n", re.MULTILINE)
STAMP = re.compile(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: ")
STOP_MAILS = {
    "[lab-A] VRRP Instance VI_1 - Stopping",
    "[lab-A] VRRP Instance VI_2 - Stopping",
    "[lab-A] VRRP Group G1 - Stopping",
}


def run(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, program: str, tag: str
) -> tuple[Counter[str], Counter[str]]:
    sink = SmtpSink(netns_lab, "C", SINK, PORT)
    daemon = keepalived_lab.start(
        (netns_lab, "A"), CONFIG, name=f"A-{tag}", program=(program,), subsystems={"vrrp"}
    )
    daemon.wait_for_state("VI_1", "MASTER", timeout=15)
    daemon.wait_for_state("VI_2", "MASTER", timeout=15)
    # BACKUP and MASTER of both instances and of the group: all six before the
    # stop, or a mail still on its way when keepalived exits is cut short
    wait_for(
        lambda: len(sink.sessions()) >= 6,
        timeout=15,
        message=lambda: f"{tag}'s first mails: {sink.sessions()}",
    )
    assert daemon.stop() == 0
    time.sleep(1.0)  # the stop's mails, if any
    sink.stop()
    sessions = Counter(DATE.sub("Date: -\r\n", s["sent"]) for s in sink.sessions())
    lines = Counter(
        STAMP.sub("", line) for line in daemon.log_text().splitlines() if "SMTP" in line
    )
    return sessions, lines


def subject(session: str) -> str:
    found = re.search(r"Subject: ([^\r]*)", session)
    return found.group(1) if found else ""


def test_alert_mails_match_keepalived(netns_lab: Topology, keepalived_lab: KeepalivedLab) -> None:
    netns_lab.lan({"A": "192.0.2.1/24", "C": f"{SINK}/24"})
    theirs, their_lines = run(netns_lab, keepalived_lab, KEEPALIVED, "keepalived")
    ours, our_lines = run(netns_lab, keepalived_lab, PYKAD, "pykad")
    stopping = Counter({s: n for s, n in ours.items() if subject(s) in STOP_MAILS})
    assert {subject(s) for s in stopping} == STOP_MAILS and sum(stopping.values()) == 3
    # keepalived's stop: a connection per mail (those it opens before it exits), no mail
    assert theirs.pop("", 0) <= len(STOP_MAILS), theirs
    assert "[lab-A] VRRP Instance VI_1 - Entering MASTER state" in map(subject, theirs)
    assert "[lab-A] VRRP Group G1 - Entering MASTER state" in map(subject, theirs)
    assert ours - stopping == theirs
    # keepalived logs nothing for the connections its stop cuts short
    assert our_lines == Counter({line: n + 3 for line, n in their_lines.items()}), our_lines
