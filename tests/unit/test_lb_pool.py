"""The server pool (pykad.lb.pool) against keepalived 2.2.7.

The FIFO lines and tables of the two ``CAPTURED_*`` tests were captured from a
real keepalived 2.2.7 checker (``keepalived -n -l -D --check``, MISC_CHECK
scripts driven by files, ``lvs_notify_fifo`` read by ``cat``), with an
LD_PRELOAD shim acknowledging the IPVS requests the host kernel cannot take and
logging them; the tables are those requests replayed.  The events are replayed
here in the order keepalived logged them.  The other tests follow keepalived's
C (check/ipwrapper.c function names cited).
"""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pykad.config.build import NoHost
from pykad.config.load import load
from pykad.config.scripts import Script
from pykad.config.sections._lvs_model import (
    FileCheck,
    LvsConfig,
    MiscCheck,
    Protocol,
    RealServer,
    SorryServer,
    TcpCheck,
    VirtualServer,
)
from pykad.config.sections.global_defs import LvsFlushOnStop
from pykad.drivers.files import LocalFiles
from pykad.lb.desired import services, table, vs_names
from pykad.lb.pool import (
    SORRY,
    CheckerResult,
    CheckerWeight,
    Effect,
    Event,
    FileValue,
    Pool,
    Remove,
    Start,
    Stop,
    Suspend,
)
from pykad.mail.smtp import Alerts
from pykad.vrrp.notify import RunScript, SendMail, WriteFifo


def parse(tmp_path: Path, text: str) -> LvsConfig:
    (tmp_path / "k.conf").write_text(text)
    loaded = load(LocalFiles(), "k.conf", cwd=str(tmp_path), config_id="t", host=NoHost())
    config = loaded.parts["lvs"]
    assert isinstance(config, LvsConfig)
    return config


def lines(effects: list[Effect]) -> bytes:
    return b"".join(e.line for e in effects if isinstance(e, WriteFifo))


def scripts(effects: list[Effect]) -> list[tuple[str, float | None]]:
    return [(e.argv[-1], e.timeout_s) for e in effects if isinstance(e, RunScript)]


def misc(name: str) -> str:
    return f"MISC_CHECK {{\n misc_path \"/bin/sh -c 'test -e /tmp/{name}'\"\n }}"


CAPTURED_1 = f"""
virtual_server_group G1 {{
  192.0.2.10-12 80
}}
virtual_server 192.0.2.1 80 {{
  delay_loop 1
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  quorum 2
  omega
  quorum_up "/bin/echo qup"
  quorum_down "/bin/echo qdown"
  sorry_server 192.0.2.99 8080
  real_server 198.51.100.1 8080 {{
    weight 1
    notify_up "/bin/echo up1"
    notify_down "/bin/echo down1"
    {misc("rs1")}
  }}
  real_server 198.51.100.2 8080 {{
    {misc("rs2")}
  }}
}}
virtual_server 2001:db8:0:0:1:0:0:1 443 {{
  protocol UDP
  lvs_method DR
  omega
  real_server ::ffff:198.51.100.7 443 {{
    {misc("rs3")}
  }}
  real_server ::1.2.3.4 443 {{
    {misc("rs3")}
  }}
}}
virtual_server fwmark 7 {{
  lvs_method DR
  real_server 198.51.100.3 {{
    {misc("rs4")}
  }}
}}
virtual_server group G1 {{
  protocol TCP
  lvs_method DR
  real_server 198.51.100.4 80 {{
    {misc("rs5")}
  }}
}}
"""

FIFO_1 = b"""\
VS [192.0.2.1]:tcp:80 UP
VS [2001:db8::1:0:0:1]:udp:443 UP
VS FWM 7 UP
VS [G1]:0 UP
RS [::1.2.3.4]:udp:443 [2001:db8::1:0:0:1]:udp:443 DOWN
RS [198.51.100.3]:none:0 FWM 7 DOWN
VS FWM 7 DOWN
RS [198.51.100.4]:tcp:80 [G1]:0 DOWN
VS [G1]:0 DOWN
RS [::ffff:198.51.100.7]:udp:443 [2001:db8::1:0:0:1]:udp:443 DOWN
VS [2001:db8::1:0:0:1]:udp:443 DOWN
RS [198.51.100.1]:tcp:8080 [192.0.2.1]:tcp:80 DOWN
VS [192.0.2.1]:tcp:80 DOWN
RS [::1.2.3.4]:udp:443 [2001:db8::1:0:0:1]:udp:443 UP
VS [2001:db8::1:0:0:1]:udp:443 UP
RS [198.51.100.3]:none:0 FWM 7 UP
VS FWM 7 UP
RS [::ffff:198.51.100.7]:udp:443 [2001:db8::1:0:0:1]:udp:443 UP
RS [198.51.100.1]:tcp:8080 [192.0.2.1]:tcp:80 UP
VS [192.0.2.1]:tcp:80 UP
RS [::1.2.3.4]:udp:443 [2001:db8::1:0:0:1]:udp:443 DOWN
RS [::ffff:198.51.100.7]:udp:443 [2001:db8::1:0:0:1]:udp:443 DOWN
VS [2001:db8::1:0:0:1]:udp:443 DOWN
RS [198.51.100.1]:tcp:8080 [192.0.2.1]:tcp:80 DOWN
RS [198.51.100.2]:tcp:8080 [192.0.2.1]:tcp:80 DOWN
VS [192.0.2.1]:tcp:80 DOWN
VS [2001:db8::1:0:0:1]:udp:443 DOWN
"""


def test_captured_1_fifo_lines_are_byte_identical(tmp_path: Path) -> None:
    config = parse(tmp_path, CAPTURED_1)
    pools = [
        Pool(vs, name) for vs, name in zip(config.virtual_servers, vs_names(config), strict=True)
    ]
    vs1, vs6, fwm, grp = pools
    out: list[Effect] = []
    steps: list[tuple[Pool, Event]] = [
        *((p, Start()) for p in pools),
        (vs6, CheckerResult(1, 0, False)),
        (fwm, CheckerResult(0, 0, False)),
        (grp, CheckerResult(0, 0, False)),
        (vs6, CheckerResult(0, 0, False)),
        (vs1, CheckerResult(0, 0, False)),  # quorum lost: the sorry server
        (vs6, CheckerResult(1, 0, True)),
        (fwm, CheckerResult(0, 0, True)),
        (vs6, CheckerResult(0, 0, True)),
        (vs1, CheckerResult(0, 0, True)),
        (vs6, CheckerResult(1, 0, False)),
        (vs6, CheckerResult(0, 0, False)),
        *((p, Stop()) for p in pools),  # omega: RS and VS downs; without: nothing
    ]
    for pool, event in steps:
        out.extend(pool.handle(event))
    assert lines(out) == FIFO_1
    # Scripts: as notify_exec, untimed; at shutdown (omega) with TIMER_HZ.
    assert scripts(out) == [
        ("qup", None),
        ("down1", None),
        ("qdown", None),
        ("up1", None),
        ("qup", None),
        ("down1", 1.0),
        ("qdown", 1.0),
    ]


CAPTURED_2 = f"""
global_defs {{
  rs_init_notifies
}}
virtual_server 192.0.2.2 80 {{
  protocol TCP
  lvs_method NAT
  alpha
  inhibit_on_failure
  quorum 3
  hysteresis 1
  sorry_server 192.0.2.98 80
  sorry_server_inhibit
  real_server 198.51.100.11 80 {{
    weight 2
    MISC_CHECK {{
      misc_path "/bin/sh -c 'exit $(cat /tmp/w11)'"
      misc_dynamic
    }}
  }}
  real_server 198.51.100.12 80 {{
    weight 1
    {misc("r12")}
  }}
}}
virtual_server 192.0.2.3 80 {{
  protocol TCP
  quorum 5
  sorry_server 192.0.2.97 80
  real_server 198.51.100.13 80 {{
    weight 1
    {misc("r13")}
  }}
}}
"""

FIFO_2 = b"""\
VS [192.0.2.2]:tcp:80 DOWN
RS [198.51.100.13]:tcp:80 [192.0.2.3]:tcp:80 UP
VS [192.0.2.3]:tcp:80 UP
RS [198.51.100.11]:tcp:80 [192.0.2.2]:tcp:80 UP
RS [198.51.100.12]:tcp:80 [192.0.2.2]:tcp:80 DOWN
RS [198.51.100.12]:tcp:80 [192.0.2.2]:tcp:80 UP
VS [192.0.2.2]:tcp:80 UP
RS [198.51.100.12]:tcp:80 [192.0.2.2]:tcp:80 DOWN
VS [192.0.2.2]:tcp:80 DOWN
RS [198.51.100.11]:tcp:80 [192.0.2.2]:tcp:80 DOWN
RS [198.51.100.11]:tcp:80 [192.0.2.2]:tcp:80 UP
"""


def test_captured_2_tables_and_fifo(tmp_path: Path) -> None:
    """alpha, inhibit_on_failure, hysteresis, sorry_server_inhibit, misc_dynamic,
    rs_init_notifies, quorum down at start: keepalived's IPVS table after each step
    (last octet of each destination: weight)."""
    config = parse(tmp_path, CAPTURED_2)
    a, b = (
        Pool(vs, n, rs_init_notifies=True)
        for vs, n in zip(config.virtual_servers, vs_names(config), strict=True)
    )
    out: list[Effect] = []

    def weights() -> dict[int, dict[int, int]]:
        t = table((services(config, p.vs), p.dests()) for p in (a, b) if p.active)
        return {
            k.address[-1]: {d.key.address[-1]: d.weight for d in ds.values()}
            for k, ds in t.dests.items()
        }

    def step(pool: Pool, *events: Event) -> dict[int, int]:
        for e in events:
            out.extend(pool.handle(e))
        got = weights()
        assert got.get(3) == ({13: 1} if b.active else None)
        return got.get(2, {})

    out.extend(a.handle(Start()))
    out.extend(b.handle(Start()))
    assert weights() == {2: {11: 0, 12: 0, 98: 1}, 3: {13: 1}}
    # alpha: .11's first success adds nothing while the sorry server serves;
    # .12's first failure notifies (update_svr_checker_state, has_run).
    assert step(a, CheckerResult(0, 0, True), CheckerResult(1, 0, False)) == {
        11: 0,
        12: 0,
        98: 1,
    }
    step(b, CheckerResult(0, 0, True))
    assert step(a, CheckerWeight(0, 0, 3)) == {11: 0, 12: 0, 98: 1}  # exit 5
    assert step(a, CheckerResult(1, 0, True)) == {11: 3, 12: 1, 98: 0}  # 3+1 >= 3+1
    assert step(a, CheckerResult(1, 0, False)) == {11: 3, 12: 0, 98: 0}  # 3 >= 3-1
    assert step(a, CheckerWeight(0, 0, 1)) == {11: 0, 12: 0, 98: 1}  # exit 3: 1 < 2
    assert step(a, CheckerResult(0, 0, False)) == {11: 0, 12: 0, 98: 1}
    assert step(a, CheckerWeight(0, 0, None), CheckerResult(0, 0, True)) == {
        11: 0,
        12: 0,
        98: 1,
    }
    step(a, Stop())
    step(b, Stop())
    assert lines(out) == FIFO_2
    assert not a.active and a.dests() == ()


# --- rules from the C ---------------------------------------------------------------

SCRIPT_UP, SCRIPT_DOWN = Script(("/up",)), Script(("/down",))


def rs(i: int, weight: int = 1, checks: int = 1, alpha: bool = False, **kw: object) -> RealServer:
    """A real server with ``checks`` TCP checkers (the model's checkers carry alpha)."""
    return RealServer(
        address=ip_address(f"198.51.100.{i}"),
        port=80,
        weight=weight,
        alpha=alpha,
        checks=tuple(TcpCheck(alpha=alpha) for _ in range(checks)),
        **kw,  # type: ignore[arg-type]
    )


def vs(*servers: RealServer, **kw: object) -> VirtualServer:
    return VirtualServer(
        address=ip_address("192.0.2.1"),
        port=80,
        family=4,
        protocol=Protocol.TCP,
        real_servers=servers,
        **kw,  # type: ignore[arg-type]
    )


def in_pool(pool: Pool) -> dict[str, int]:
    return {str(s.address): w for s, w in pool.dests()}


def started(v: VirtualServer, **kw: bool) -> Pool:
    pool = Pool(v, "[192.0.2.1]:tcp:80", **kw)
    pool.handle(Start())
    return pool


def test_a_real_server_is_alive_only_when_all_its_checkers_are_up() -> None:
    pool = started(vs(rs(1, checks=2)))
    pool.handle(CheckerResult(0, 0, False))
    assert in_pool(pool) == {}
    pool.handle(CheckerResult(0, 1, False))
    pool.handle(CheckerResult(0, 0, True))
    assert in_pool(pool) == {} and not pool.alive(0)
    pool.handle(CheckerResult(0, 1, True))
    assert in_pool(pool) == {"198.51.100.1": 1}


def test_inhibit_on_failure_sets_weight_0_instead_of_removing() -> None:
    """ipvs_cmd: DELDEST with inhibit becomes EDITDEST weight 0."""
    pool = started(vs(rs(1, weight=5, inhibit_on_failure=True), rs(2, weight=5)))
    assert in_pool(pool) == {"198.51.100.1": 5, "198.51.100.2": 5}
    pool.handle(CheckerResult(0, 0, False))
    pool.handle(CheckerResult(1, 0, False))
    assert in_pool(pool) == {"198.51.100.1": 0}
    pool.handle(CheckerResult(0, 0, True))
    assert in_pool(pool) == {"198.51.100.1": 5}


def test_alpha_servers_start_out_but_inhibited_ones_at_weight_0() -> None:
    """init_service_rs: alpha checkers start failed; an inhibited server is added at 0."""
    pool = started(vs(rs(1, alpha=True), rs(2, alpha=True, inhibit_on_failure=True)))
    assert in_pool(pool) == {"198.51.100.2": 0}
    assert not pool.quorum_up


def test_notify_scripts_and_rs_init_notifies() -> None:
    v = vs(rs(1, notify_up=SCRIPT_UP, notify_down=SCRIPT_DOWN))
    assert Pool(v, "x").handle(Start()) == (WriteFifo(b"VS x UP\n"),)
    pool = Pool(v, "x", rs_init_notifies=True)
    assert pool.handle(Start()) == (
        RunScript(("/up",)),
        WriteFifo(b"RS [198.51.100.1]:tcp:80 x UP\n"),
        WriteFifo(b"VS x UP\n"),
    )
    assert pool.handle(CheckerResult(0, 0, False)) == (
        RunScript(("/down",)),
        WriteFifo(b"RS [198.51.100.1]:tcp:80 x DOWN\n"),
        WriteFifo(b"VS x DOWN\n"),
    )


def test_without_omega_stop_notifies_nothing_and_flush_modes() -> None:
    """clear_service_vs / clear_services: only omega notifies when stopping."""
    v = vs(rs(1, notify_down=SCRIPT_DOWN), quorum_down=SCRIPT_DOWN)
    assert started(v).handle(Stop()) == ()
    omega = vs(rs(1, notify_down=SCRIPT_DOWN), quorum_down=SCRIPT_DOWN, omega=True)
    assert started(omega).handle(Stop()) == (
        RunScript(("/down",), timeout_s=1.0),
        WriteFifo(b"RS [198.51.100.1]:tcp:80 [192.0.2.1]:tcp:80 DOWN\n"),
        RunScript(("/down",), timeout_s=1.0),
        WriteFifo(b"VS [192.0.2.1]:tcp:80 DOWN\n"),
    )
    for flush in LvsFlushOnStop:  # flushed: no real server notifies
        assert started(omega).handle(Stop(flush)) == (
            RunScript(("/down",), timeout_s=1.0),
            WriteFifo(b"VS [192.0.2.1]:tcp:80 DOWN\n"),
        )


def test_sorry_server_inhibit_is_at_weight_0_while_quorum_holds() -> None:
    sorry = SorryServer(address=ip_address("192.0.2.99"), port=80, inhibit=True)
    pool = started(vs(rs(1), sorry_server=sorry))
    assert in_pool(pool) == {"198.51.100.1": 1, "192.0.2.99": 0}
    pool.handle(CheckerResult(0, 0, False))
    assert in_pool(pool) == {"192.0.2.99": 1} and pool.alive(SORRY)
    pool.handle(CheckerResult(0, 0, True))
    assert in_pool(pool) == {"198.51.100.1": 1, "192.0.2.99": 0}


def test_weight_changes_wait_while_the_sorry_server_serves() -> None:
    """update_svr_wgt: pushed only with quorum up or no active sorry server."""
    sorry = SorryServer(address=ip_address("192.0.2.99"), port=80)
    check = MiscCheck(script=Script(("/x",)), dynamic=True)
    v = vs(
        RealServer(address=ip_address("198.51.100.1"), port=80, weight=1, checks=(check,)),
        rs(2, weight=1),
        quorum=2,
        sorry_server=sorry,
    )
    pool = started(v)
    pool.handle(CheckerResult(1, 0, False))
    assert in_pool(pool) == {"192.0.2.99": 1}
    pool.handle(CheckerWeight(0, 0, 1))
    assert in_pool(pool) == {"192.0.2.99": 1}
    pool.handle(CheckerWeight(0, 0, 7))  # 7 >= quorum 2: back, with its new weight
    assert in_pool(pool) == {"198.51.100.1": 7}


def test_file_check_fault_and_weights() -> None:
    """process_update_checker_track_file_status: FAULT is down, else weight += value*w."""
    v = vs(
        RealServer(
            address=ip_address("198.51.100.1"),
            port=80,
            weight=10,
            checks=(FileCheck(track_file="f", weight=2),),
        )
    )
    pool = Pool(v, "x")
    pool.handle(Start({(0, 0): 3}))
    assert in_pool(pool) == {"198.51.100.1": 16}
    pool.handle(FileValue(0, 0, -1))
    assert in_pool(pool) == {"198.51.100.1": 8}
    pool.handle(FileValue(0, 0, -(2**30)))  # -2^31: FAULT
    assert in_pool(pool) == {} and not pool.alive(0)
    pool.handle(FileValue(0, 0, 1))
    assert in_pool(pool) == {"198.51.100.1": 12}
    reverse = vs(
        RealServer(
            address=ip_address("198.51.100.1"),
            port=80,
            checks=(FileCheck(track_file="f", weight=0, reverse=True),),
        )
    )
    pool = Pool(reverse, "x")
    pool.handle(Start())
    assert in_pool(pool) == {"198.51.100.1": 1}
    pool.handle(FileValue(0, 0, 1))
    pool.handle(FileValue(0, 0, 0))  # weight 0 reversed: 0 is the failure
    assert in_pool(pool) == {}


def test_ha_suspend_pauses_scheduled_checkers_only() -> None:
    """update_checker_activity: suspended checkers report nothing; the service stays."""
    v = vs(
        RealServer(
            address=ip_address("198.51.100.1"),
            port=80,
            checks=(TcpCheck(), FileCheck(track_file="f", weight=0)),
        ),
        ha_suspend=True,
    )
    pool = Pool(v, "x", suspended=True)
    pool.handle(Start())
    assert pool.active and not pool.checking and in_pool(pool) == {"198.51.100.1": 1}
    assert pool.handle(CheckerResult(0, 0, False)) == ()
    assert in_pool(pool) == {"198.51.100.1": 1}
    pool.handle(FileValue(0, 1, 1))  # not suspended
    assert in_pool(pool) == {}
    pool.handle(Suspend(False))
    pool.handle(FileValue(0, 1, 0))
    pool.handle(CheckerResult(0, 0, False))
    assert in_pool(pool) == {} and pool.checking


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 4), min_size=1, max_size=5),
    st.integers(1, 8),
    st.integers(0, 3),
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 4), st.booleans()), max_size=40),
)
def test_quorum_hysteresis_and_sorry_server(
    weights: list[int],
    quorum: int,
    hysteresis: int,
    with_sorry: bool,
    events: list[tuple[int, bool]],
) -> None:
    """update_quorum_state: gained at sum >= quorum + hysteresis, lost at sum <
    quorum - hysteresis; while lost the sorry server alone is in the pool."""
    hysteresis = min(hysteresis, quorum - 1)
    sorry = SorryServer(address=ip_address("192.0.2.99"), port=80) if with_sorry else None
    servers = [rs(i + 1, weight=w) for i, w in enumerate(weights)]
    pool = started(vs(*servers, quorum=quorum, hysteresis=hysteresis, sorry_server=sorry))
    up = {i: True for i in range(len(servers))}
    state = sum(weights) >= quorum + hysteresis
    for i, alive in events:
        if i >= len(servers):
            continue
        pool.handle(CheckerResult(i, 0, alive))
        up[i] = alive
        total = sum(w for j, w in enumerate(weights) if up[j])
        if not state and total >= quorum + hysteresis:
            state = True
        elif state and (total == 0 or total < quorum - hysteresis):
            state = False
        assert pool.quorum_up == state
        expected = {str(servers[j].address): w for j, w in enumerate(weights) if up[j]}
        if with_sorry and not state:
            expected = {"192.0.2.99": 1}
        assert in_pool(pool) == expected


# --------------------------------------------------------------------------- alert mails


def mails(effects: tuple[Effect, ...] | list[Effect]) -> list[tuple[str, str]]:
    return [(e.mail.subject, e.mail.body) for e in effects if isinstance(e, SendMail)]


RS1 = "[lb1] Realserver [198.51.100.1]:tcp:80 of virtual server [192.0.2.1]:tcp:80"
TCP_DOWN = "=> TCP CHECK failed on service <="
TCP_UP = "=> TCP CHECK succeed on service <="


def alerting(v: VirtualServer, **kw: bool) -> Pool:
    pool = Pool(v, "[192.0.2.1]:tcp:80", alerts=Alerts("lb1", **kw))
    pool.handle(Start())
    return pool


def test_a_checker_mails_when_its_state_changes_after_the_notifies() -> None:
    pool = alerting(vs(rs(1, checks=2)))
    effects = pool.handle(CheckerResult(0, 0, False, TCP_DOWN))
    assert mails(effects) == [(f"{RS1} - DOWN", TCP_DOWN)]
    assert isinstance(effects[-1], SendMail)  # after the FIFO line (do_rs_notifies)
    # the second checker fails too: the server stays down, the checker changed: a mail
    assert mails(pool.handle(CheckerResult(0, 1, False, TCP_DOWN))) == [(f"{RS1} - DOWN", TCP_DOWN)]
    assert mails(pool.handle(CheckerResult(0, 1, False, TCP_DOWN))) == []  # no change
    assert mails(pool.handle(CheckerResult(0, 0, True, TCP_UP))) == [(f"{RS1} - DOWN", TCP_UP)]
    assert mails(pool.handle(CheckerResult(0, 1, True, TCP_UP))) == [(f"{RS1} - UP", TCP_UP)]


def test_no_checker_emails_keeps_only_the_mails_of_a_server_s_changes() -> None:
    pool = alerting(vs(rs(1, checks=2)), no_checker_emails=True)
    assert len(mails(pool.handle(CheckerResult(0, 0, False, TCP_DOWN)))) == 1  # server down
    assert mails(pool.handle(CheckerResult(0, 1, False, TCP_DOWN))) == []  # still down
    assert mails(pool.handle(CheckerResult(0, 0, True, TCP_UP))) == []
    assert mails(pool.handle(CheckerResult(0, 1, True, TCP_UP))) == [(f"{RS1} - UP", TCP_UP)]


def test_misc_check_mails_every_verdict_and_smtp_alert_off_mails_nothing() -> None:
    pool = alerting(vs(rs(1)))
    text = "=> MISC CHECK succeeded on service <="
    # the first verdict confirms the initial state: MISC_CHECK mails it, TCP would not
    assert mails(pool.handle(CheckerResult(0, 0, True, text, mail_always=True))) == [
        (f"{RS1} - UP", text)
    ]
    assert mails(pool.handle(CheckerResult(0, 0, True, TCP_UP))) == []
    quiet = alerting(vs(rs(1, smtp_alert=False)))
    assert mails(quiet.handle(CheckerResult(0, 0, False, TCP_DOWN))) == []
    assert mails(started(vs(rs(1))).handle(CheckerResult(0, 0, False, TCP_DOWN))) == []


def test_quorum_and_shutdown_mails_of_a_virtual_server() -> None:
    v = vs(rs(1, weight=2), rs(2, weight=1), quorum=2, smtp_alert=True, omega=True)
    pool = Pool(v, "[192.0.2.1]:tcp:80", alerts=Alerts("lb1"))
    vs_subject = "[lb1] Virtualserver [192.0.2.1]:tcp:80"
    assert mails(pool.handle(Start())) == [
        (f"{vs_subject} - UP", "=> Starting with quorum up 2+0=2 <= 3 <=")
    ]
    down = mails(pool.handle(CheckerResult(0, 0, False, TCP_DOWN)))
    assert (f"{vs_subject} - DOWN", "=> Lost quorum 2+0=2 <= 1 <=") in down
    assert mails(pool.handle(Stop(None))) == [
        (
            "[lb1] Realserver [198.51.100.2]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - DOWN",
            "=> Shutting down <=",
        ),
        (f"{vs_subject} - DOWN", "=> Shutting down <="),
    ]


def test_a_reload_that_removes_real_servers_mails_removing_without_omega() -> None:
    """clear_diff_rs / clear_service_rs, not stopping: each alive real server that goes
    is notified down and mailed ``=> Removing <=``, omega or not; the ones kept say
    nothing (their new pool has them); the quorum, if it is lost, is notified."""
    v = vs(
        rs(1, weight=2, notify_down=SCRIPT_DOWN),
        rs(2, weight=1),
        rs(3),
        quorum=2,
        smtp_alert=True,
        quorum_down=SCRIPT_DOWN,
    )
    pool = Pool(v, "[192.0.2.1]:tcp:80", alerts=Alerts("lb1"))
    pool.handle(Start())
    pool.handle(CheckerResult(0, 0, True, TCP_UP))
    pool.handle(CheckerResult(2, 0, False, TCP_DOWN))  # not alive: no notifies when it goes
    effects = pool.handle(Remove(frozenset({1})))
    assert [type(e).__name__ for e in effects] == [
        *("RunScript", "WriteFifo", "SendMail"),  # do_rs_notifies, then the mail
        *("RunScript", "WriteFifo", "SendMail"),  # do_vs_notifies
    ]
    assert scripts(list(effects)) == [("/down", None), ("/down", None)]
    assert lines(list(effects)) == (
        b"RS [198.51.100.1]:tcp:80 [192.0.2.1]:tcp:80 DOWN\nVS [192.0.2.1]:tcp:80 DOWN\n"
    )
    assert mails(effects) == [
        (f"{RS1} - DOWN", "=> Removing <="),
        ("[lb1] Virtualserver [192.0.2.1]:tcp:80 - DOWN", "=> Lost quorum 2+0=2 <= 1 <="),
    ]
    assert in_pool(pool) == {} and not pool.active
    # all kept: nothing at all
    again = Pool(v, "[192.0.2.1]:tcp:80", alerts=Alerts("lb1"))
    again.handle(Start())
    assert again.handle(Remove(frozenset({0, 1, 2}))) == ()


def test_a_reload_that_removes_the_virtual_server_mails_each_alive_real_server() -> None:
    """clear_service_vs, not stopping: every real server goes (the mails as above), then
    the quorum.  With lvs_flush_on_stop the service alone goes: update_vs_notifies still
    weighs every real server alive, so nothing is notified."""
    v = vs(rs(1), rs(2), smtp_alert=True)
    gone = alerting(v).handle(Remove(None))
    assert [body for _, body in mails(gone)] == ["=> Removing <="] * 2 + [
        "=> Lost quorum 1+0=1 <= 0 <="
    ]
    for flush in LvsFlushOnStop:
        flushed = alerting(v).handle(Remove(None, flush))
        assert flushed == ()


def test_each_checker_s_text_is_keepalived_s() -> None:
    from pykad.check.base import Outcome
    from pykad.config.sections._lvs_model import BfdCheck, HttpCheck, MiscCheck, SmtpCheck
    from pykad.daemon.check_service import checker_mail

    assert checker_mail(TcpCheck(), True, None) == (TCP_UP, False)
    assert checker_mail(HttpCheck(), False, None) == (
        "=> CHECK failed on service : HTTP request failed <=",
        False,
    )
    failed = Outcome(False, "SMTP_CHECK Bad HELO response from server [198.51.100.1]:25")
    assert checker_mail(SmtpCheck(), False, failed) == (
        "=> CHECK failed on service : Bad HELO response from server [198.51.100.1]:25 <=",
        False,
    )
    timed_out = Outcome(False, "Misc check ... timed out.", word="timed out")
    assert checker_mail(MiscCheck(script=Script(("/bin/check",))), False, timed_out) == (
        "=> MISC CHECK timed out on service <=",
        True,
    )
    assert checker_mail(BfdCheck(name="to_rs"), True, None) == (
        "=> BFD CHECK to_rs succeeded on service <=",
        False,
    )
