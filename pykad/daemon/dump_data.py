"""keepalived's data dumps beyond VRRP's: the global definitions, the parent's and the
checker's files.

On SIGUSR1 each of keepalived 2.2.7's processes writes its part of the data dump in
``$TMPDIR`` (default /tmp): the parent ``keepalived_parent.data`` (the ``Global
definitions``), the VRRP process ``keepalived.data`` (the same block, with the
``Default interface``, then its ``VRRP Topology``: ``pykad.daemon.dump``) and the
checker ``keepalived_check.data`` (the block, then ``LVS Topology`` and ``Health
checkers``).  This module owns those texts: :func:`format_global` is
``dump_global_data`` (global_data.c) line for line, as 2.2.7 writes it (its lines and
order were read off the real daemon's files for the keywords pykad models); what pykad
does not have is left out rather than invented: ``libnftnl version`` (pykad drives
``nft``, not libnftnl) and the CPU affinity lines.  :func:`format_check` writes the
checker's sections, in keepalived's layout, for what pykad keeps: the virtual and
real servers as configured, with the pool's state (alive, weights, failed checkers),
and the checkers with their connection settings; not the run-time lines pykad does not
keep (``Retries iterations``, a MISC_CHECK's ``Last ran`` / ``Last status``), nor, for
now, a checker's bind settings or a check kind's own lines beyond HTTP's URLs and
MISC's script.  No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pykad.config.scripts import Script
from pykad.config.sections._global_model import (
    DEFAULT_DBUS_SERVICE_NAME,
    RT_RLIMIT_DEFAULT_US,
    LvsFlushOnStop,
    RxBufsPolicy,
)
from pykad.config.sections._lvs_model import (
    AnyCheck,
    BfdCheck,
    Checker,
    DnsCheck,
    FileCheck,
    Forwarding,
    HttpCheck,
    MiscCheck,
    PingCheck,
    RealServer,
    SmtpCheck,
    SslConfig,
    TcpCheck,
    UdpCheck,
    VirtualServer,
)
from pykad.lb.pool import ServerDump

if TYPE_CHECKING:
    from pykad.config.sections.global_defs import GlobalDefs, NotifyFifo, ProcessTuning

PARENT_FILE = "keepalived_parent.data"
CHECK_FILE = "keepalived_check.data"
PARAMETER_UNSET = 4294967295
"""keepalived's ``PARAMETER_UNSET`` (UINT_MAX), printed for an unset lower-priority delay."""


def tf(flag: bool) -> str:
    return "true" if flag else "false"


def enabled(flag: bool) -> str:
    return "enabled" if flag else "disabled"


def on_off(flag: bool) -> str:
    return "ON" if flag else "OFF"


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _alert(value: bool | None) -> str:
    return "unset" if value is None else "on" if value else "off"


def _fifo(label: str, fifo: NotifyFifo, ids: tuple[int, int]) -> list[str]:
    if fifo.path is None:
        return []
    lines = [f" {label} notify fifo = {fifo.path}, uid:gid {ids[0]}:{ids[1]}"]
    if fifo.script is not None:
        lines.append(
            f" {label} notify fifo script = {' '.join(fifo.script.argv)}, uid:gid {ids[0]}:{ids[1]}"
        )
    return lines


def _process(label: str, p: ProcessTuning) -> list[str]:
    limit = p.rlimit_rttime_us
    return [
        f" {label} process priority = {p.priority}",
        f" {label} don't swap = {tf(p.no_swap)}",
        f" {label} realtime priority = {p.rt_priority}",
        f" {label} realtime limit = {RT_RLIMIT_DEFAULT_US if limit is None else limit}",
    ]


def format_global(
    gd: GlobalDefs, *, script_ids: tuple[int, int], hostname: str, vrrp: bool = False
) -> list[str]:
    """keepalived 2.2.7's ``Global definitions`` block; ``vrrp``: the VRRP process's (it
    alone prints the ``Default interface`` line, and the lower-priority GARP settings
    resolved from the master ones where the others print them unset); ``script_ids``:
    the default script user's uid and gid (as the process resolved them); ``hostname``:
    the router id when none is configured (keepalived's default)."""
    smtp, garp, nft, nl = gd.smtp, gd.garp, gd.nftables, gd.netlink
    out = ["------< Global definitions >------"]
    out.append(f" Network namespace = {gd.net_namespace or '(default)'}")
    out.append(f" Network namespace ipvs = {gd.net_namespace_ipvs or '(main namespace)'}")
    if gd.instance:
        out.append(f" Instance name = {gd.instance}")
    names = gd.process_names
    if names.main:
        out.append(f" Parent process name = {names.main}")
    if names.vrrp:
        out.append(f" VRRP process name = {names.vrrp}")
    if names.checker:
        out.append(f" LVS process name = {names.checker}")
    if names.bfd:
        out.append(f" BFD process name = {names.bfd}")
    out.append(f" Router ID = {gd.router_id or hostname}")
    if smtp.server is not None:
        out.append(f" Smtp server = {smtp.server}")
        out.append(f" Smtp server port = {smtp.port}")
    if smtp.helo_name:
        out.append(f" Smtp HELO name = {smtp.helo_name}")
    if smtp.connect_timeout_us:
        out.append(f" Smtp server connection timeout = {smtp.connect_timeout_us // 1_000_000}")
    if smtp.email_from:
        out.append(f" Email notification from = {smtp.email_from}")
        out.append(" Email notification to:")
        out += [f"   {email}" for email in smtp.emails]
    out.append(f" Default smtp_alert = {_alert(smtp.alert)}")
    out.append(f" Default smtp_alert_vrrp = {_alert(smtp.alert_vrrp)}")
    out.append(f" Default smtp_alert_checker = {_alert(smtp.alert_checker)}")
    out.append(f" Checkers log all failures = {tf(gd.checker_log_all_failures)}")
    if gd.reload.check_config:
        out.append(f" Test config before reload, log to {gd.reload.check_config}")
    else:
        out.append(" No test config before reload")
    out.append(f" Dynamic interfaces = {tf(gd.dynamic_interfaces)}")
    if gd.dynamic_interfaces:
        out.append(f" Allow interface changes = {tf(gd.allow_if_changes)}")
    if smtp.no_email_faults:
        out.append(" Send emails for fault transitions = off")
    t = gd.lvs_timeouts
    if t.tcp:
        out.append(f" LVS TCP timeout = {t.tcp}")
    if t.tcpfin:
        out.append(f" LVS TCP FIN timeout = {t.tcpfin}")
    if t.udp:
        out.append(f" LVS TCP timeout = {t.udp}")  # sic: keepalived's label for UDP
    if vrrp:
        out.append(f" Default interface = {gd.default_interface}")
    out.append(f" Disable local IGMP = {yes_no(gd.disable_local_igmp)}")
    syncd = gd.lvs_sync_daemon
    if syncd is not None and syncd.instance is not None:
        out.append(f" LVS syncd vrrp name = {syncd.instance}")
        out.append(f" LVS syncd interface = {syncd.interface}")
        if syncd.sync_id is not None:
            out.append(f" LVS syncd syncid = {syncd.sync_id}")
    out.append(f" LVS flush = {tf(gd.lvs_flush)}")
    stop = gd.lvs_flush_on_stop
    flush_stop = {None: "disabled", LvsFlushOnStop.FULL: "full", LvsFlushOnStop.VS: "VS"}[stop]
    out.append(f" LVS flush on stop = {flush_stop}")
    out += _fifo("Global", gd.notify_fifo, script_ids)
    out += _fifo("VRRP", gd.vrrp_notify_fifo, script_ids)
    out += _fifo("LVS", gd.lvs_notify_fifo, script_ids)
    out.append(f" FIFO write vrrp states on reload = {tf(gd.fifo_write_vrrp_states_on_reload)}")
    out.append(f" VRRP notify priority changes = {tf(gd.vrrp_notify_priority_changes)}")
    out.append(f" VRRP IPv4 mcast group = {gd.vrrp_mcast_group4}")
    out.append(f" VRRP IPv6 mcast group = {gd.vrrp_mcast_group6}")
    # Unset outside the VRRP process unless configured (pykad's model holds them resolved).
    lower_delay, lower_rep = garp.lower_prio_delay_us, garp.lower_prio_repeat
    unset_delay = not vrrp and lower_delay == garp.master_delay_us
    unset_rep = not vrrp and lower_rep == garp.master_repeat
    lower_delay_text = PARAMETER_UNSET if unset_delay else lower_delay // 1_000_000
    lower_rep_text = PARAMETER_UNSET if unset_rep else lower_rep
    out += [
        f" Gratuitous ARP delay = {garp.master_delay_us // 1_000_000}",
        f" Gratuitous ARP repeat = {garp.master_repeat}",
        f" Gratuitous ARP refresh timer = {garp.master_refresh_s}",
        f" Gratuitous ARP refresh repeat = {garp.master_refresh_repeat}",
        f" Gratuitous ARP lower priority delay = {lower_delay_text}",
        f" Gratuitous ARP lower priority repeat = {lower_rep_text}",
        f" Num adverts before down = {gd.vrrp_down_timer_adverts}",
        f" Gratuitous ARP for each secondary VMAC = {garp.extra_if_s}s",
        " Send advert after receive lower priority advert = "
        f"{tf(not gd.vrrp_lower_prio_no_advert)}",
        " Send advert after receive higher priority advert = "
        f"{tf(gd.vrrp_higher_prio_send_advert)}",
        f" Gratuitous ARP interval = {garp.interval_us / 1_000_000:f}",
        f" Gratuitous NA interval = {garp.gna_interval_us / 1_000_000:f}",
        f" VRRP default protocol version = {gd.vrrp_version}",
    ]
    if nft.table:
        out.append(f" nftables table name = {nft.table}")
        out.append(f" nftables base chain priority = {nft.priority}")
        out.append(f" nftables {'' if nft.ifindex else 'don' + chr(39) + 't '}force use ifindex "
                   "for link local IPv6")  # fmt: skip
    out.append(f" nftables with{'' if nft.counters else 'out'} counters")
    out += [
        f" VRRP check unicast_src = {tf(gd.vrrp_check_unicast_src)}",
        f" VRRP skip check advert addresses = {tf(gd.vrrp_skip_check_adv_addr)}",
        f" VRRP strict mode = {tf(gd.vrrp_strict)}",
        f" Max auto priority = {gd.max_auto_priority}",
        f" Min auto priority delay = {gd.min_auto_priority_delay_us} usecs",
    ]
    out += _process("VRRP", gd.vrrp_process)
    out += _process("Checker", gd.checker_process)
    out += _process("BFD", gd.bfd_process)
    snmp = gd.snmp
    out += [
        f" SNMP vrrp {enabled(snmp.vrrp)}",
        f" SNMP checker {enabled(snmp.checker)}",
        f" SNMP RFCv2 {enabled(snmp.rfcv2)}",
        f" SNMP RFCv3 {enabled(snmp.rfcv3)}",
        f" SNMP traps {enabled(snmp.traps)}",
        f" SNMP socket = {snmp.socket or 'default (unix:/var/agentx/master)'}",
        f" DBus {enabled(gd.dbus.enabled)}",
        " DBus service name = "
        + ("" if gd.dbus.service_name == DEFAULT_DBUS_SERVICE_NAME else gd.dbus.service_name),
        f" Script security {enabled(gd.script_security)}",
        f" Default script uid:gid {script_ids[0]}:{script_ids[1]}",
        f" vrrp_netlink_cmd_rcv_bufs = {nl.vrrp_cmd}",
        f" vrrp_netlink_cmd_rcv_bufs_force = {int(nl.vrrp_cmd_force)}",
        f" vrrp_netlink_monitor_rcv_bufs = {nl.vrrp_monitor}",
        f" vrrp_netlink_monitor_rcv_bufs_force = {int(nl.vrrp_monitor_force)}",
        f" process_monitor_rcv_bufs = {nl.process_monitor}",
        f" process_monitor_rcv_bufs_force = {int(nl.process_monitor_force)}",
        f" lvs_netlink_cmd_rcv_bufs = {nl.lvs_cmd}",
        f" lvs_netlink_cmd_rcv_bufs_force = {int(nl.lvs_cmd_force)}",
        f" lvs_netlink_monitor_rcv_bufs = {nl.lvs_monitor}",
        f" lvs_netlink_monitor_rcv_bufs_force = {int(nl.lvs_monitor_force)}",
        f" rs_init_notifies = {int(gd.rs_init_notifies)}",
        f" no_checker_emails = {int(smtp.no_checker_emails)}",
    ]
    policy = gd.vrrp_rx_bufs_policy
    if policy is RxBufsPolicy.SIZE:
        out.append(f" rx_bufs_size = {gd.vrrp_rx_bufs_size}")
    elif policy is not None:
        out.append(f" rx_bufs_policy = {policy.value}")
    out.append(f" rx_bufs_multiples = {gd.vrrp_rx_bufs_multiplier}")
    out.append(f" umask = 0{gd.umask:o}")
    if gd.vrrp_startup_delay_us:
        out.append(f" vrrp_startup_delay = {gd.vrrp_startup_delay_us / 1_000_000:g}")
    if gd.log_unknown_vrids:
        out.append(" log_unknown_vrids")
    return out


# --------------------------------------------------------------------------- checker


@dataclass(frozen=True, slots=True)
class VsDump:
    """One virtual server for the checker's dump: its config and its pool's state."""

    config: VirtualServer
    active: bool
    quorum_up: bool
    servers: tuple[ServerDump, ...]


def _secs(us: int) -> str:
    return f"{us / 1_000_000:f}"


def _endpoint(address: object, proto: str, port: int) -> str:
    return f"[{address}]:{proto}:{port}"


def _vs_head(vs: VirtualServer) -> str:
    if vs.group is not None:
        return f" VS GROUP = {vs.group}"
    if vs.fwmark is not None:
        return f" VS FWMARK = {vs.fwmark}"
    return f" VS VIP = {vs.address}, VPORT = {vs.port}"


def _proto(vs: VirtualServer) -> str:
    return vs.protocol.value.lower() if vs.protocol is not None else "tcp"


def _real_server(vs: VirtualServer, rs: RealServer, state: ServerDump) -> list[str]:
    method = (rs.forwarding or vs.forwarding or Forwarding()).method.value
    return [
        "   ------< Real server >------",
        f"   RIP = {rs.address}, RPORT = {rs.port}, WEIGHT = {state.initial_weight}"
        f" EFF WEIGHT = {state.effective_weight}",
        f"   forwarding method = {method}",
        f"   Alpha is {on_off(rs.alpha)}",
        f"   connection timeout = {_secs(rs.connect_timeout_us)}",
        f"   connection limit range = {rs.lthreshold} -> {rs.uthreshold}",
        f"   Delay loop = {_secs(rs.delay_loop_us)}",
        f"   Inhibit on failure is {on_off(rs.inhibit_on_failure)}",
        f"   Using smtp notification = {yes_no(rs.smtp_alert)}",
        f"   initial weight = {state.initial_weight}",
        f"   effective weight = {state.effective_weight}",
        "   previous effective_weight = 0",
        f"   alive = {int(state.alive)}",
        f"   num failed checkers = {state.failed}",
        f"   RS set = {int(state.set)}",
        "   reloaded = 0",
    ]


def _virtual_server(d: VsDump) -> list[str]:
    vs = d.config
    out = [
        " ------< Virtual server >------",
        _vs_head(vs),
        f"   Address family = {'inet6' if vs.family == 6 else 'inet'}",
        f"   connection timeout = {_secs(vs.connect_timeout_us)}",
        f"   delay_loop = {_secs(vs.delay_loop_us)}",
        f"   lvs_sched = {vs.scheduler.value}",
        "   Hashed = disabled",
        f"   flag-1 = {enabled(vs.sh_fallback or vs.mh_fallback)}",
        f"   flag-2 = {enabled(vs.sh_port or vs.mh_port)}",
        "   flag-3 = disabled",
        f"   One packet scheduling = {enabled(vs.ops)}",
    ]
    if vs.persistence_timeout:
        out.append(f"   persistence timeout = {vs.persistence_timeout}")
    if vs.protocol is not None:
        out.append(f"   protocol = {vs.protocol.value}")
    out += [
        f"   alpha is {on_off(vs.alpha)}",
        f"   omega is {on_off(vs.omega)}",
        f"   Inhibit on failure is {on_off(vs.inhibit_on_failure)}",
        f"   quorum = {vs.quorum}, hysteresis = {vs.hysteresis}",
        f"   Using smtp notification = {yes_no(vs.smtp_alert)}",
    ]
    if vs.forwarding is not None:
        out.append(f"   default forwarding method = {vs.forwarding.method.value}")
    sorry = vs.sorry_server
    if sorry is not None:
        out += [
            f"   sorry server = {_endpoint(sorry.address, _proto(vs), sorry.port)}",
            f"     forwarding method = {sorry.forwarding.method.value}",
            f"     Inhibit on failure is {on_off(sorry.inhibit)}",
        ]
    out += [
        f"   alive = {int(d.active)}",
        f"   quorum_state_up = {int(d.quorum_up)}",
        "   reloaded = 0",
    ]
    for rs, state in zip(vs.real_servers, d.servers, strict=True):
        out += _real_server(vs, rs, state)
    return out


_METHODS: dict[type, str] = {
    TcpCheck: "TCP_CHECK",
    MiscCheck: "MISC_CHECK",
    PingCheck: "PING_CHECK",
    UdpCheck: "UDP_CHECK",
    SmtpCheck: "SMTP_CHECK",
    DnsCheck: "DNS_CHECK",
    BfdCheck: "BFD_CHECK",
}


def _checker(vs: VirtualServer, rs: RealServer, check: AnyCheck, up: bool, run: bool,
             weight: int, script_view: ScriptView) -> list[str]:  # fmt: skip
    proto = _proto(vs)
    head = (
        f" {_endpoint(vs.address, proto, vs.port)} -> {_endpoint(rs.address, proto, rs.port)}"
        if vs.address is not None
        else f" FWM {vs.fwmark} -> {_endpoint(rs.address, proto, rs.port)}"
    )
    if not isinstance(check, Checker):  # FILE_CHECK, BFD_CHECK: no schedule of their own
        return [head, f"   Up = {yes_no(up)}", f"   Keepalive method = {_kind(check)}"]
    default_retry_delay = 3_000_000 if isinstance(check, HttpCheck) else 1_000_000
    out = [
        head,
        "   Enabled = yes",
        f"   Up = {yes_no(up)}",
        f"   Has run = {yes_no(run)}",
        f"   Current weight = {weight}",
        f"   Alpha = {yes_no(check.alpha)}",
        f"   Delay loop = {check.delay_loop_us} us",
        f"   Warmup = {check.warmup_us} us",
        f"   Retries = {check.retry}",
    ]
    if check.retry:
        out.append(f"   Delay before retry = {check.delay_before_retry_us} us")
    out += [
        f"   Default delay before retry = {default_retry_delay} us",
        f"   Log all failures = {yes_no(check.log_all_failures)}",
    ]
    connection = getattr(check, "connection", None)
    if connection is not None and not isinstance(check, MiscCheck):
        port = connection.connect_port if connection.connect_port is not None else rs.port
        out += [
            "   Connection",
            f"     Dest = [{connection.connect_ip or rs.address}]:{port}",
            f"     Timeout = {_secs(connection.connect_timeout_us)}",
        ]
    out.append(f"   Keepalive method = {_kind(check)}")
    if isinstance(check, HttpCheck):
        out.append(f"   Enable SNI {'set' if check.enable_sni else 'unset'}")
        out.append(f"   Fast recovery {'set' if check.fast_recovery else 'unset'}")
        for url in check.urls:
            out += [f"   Checked url = {url.path}", "     HTTP Status Code(s)"]
            out += [
                f"       {lo}" if lo == hi else f"       {lo}-{hi}" for lo, hi in url.status_codes
            ]
    elif isinstance(check, MiscCheck):
        path, uid, gid = script_view(check.script)
        out += [
            f"   script = '{path}'",
            f"   timeout = {check.timeout_us // 1_000_000}",
            f"   dynamic = {'YES' if check.dynamic else 'NO'}",
            f"   uid:gid = {uid}:{gid}",
        ]
    return out


def _kind(check: object) -> str:
    if isinstance(check, HttpCheck):
        name = "SSL_GET" if check.ssl else "HTTP_GET"
        return f"{name}, http protocol {check.http_protocol.value}"
    if isinstance(check, FileCheck):
        return "FILE_CHECK"
    return _METHODS.get(type(check), type(check).__name__.upper())


ScriptView = Callable[[Script], tuple[str, int, int]]
"""A script as the checker runs it: its resolved path (keepalived shows the real path
it vetted), uid and gid."""


def format_ssl(ssl: SslConfig | None, servers: Sequence[VsDump]) -> list[str]:
    """keepalived's ``SSL definitions``: the ``SSL`` block's settings, or the context it
    makes itself when an SSL_GET needs one and there is no block; nothing otherwise."""
    if ssl is None:
        if not any(
            isinstance(c, HttpCheck) and c.ssl
            for d in servers
            for rs in d.config.real_servers
            for c in rs.checks
        ):
            return []
        return ["------< SSL definitions >------", " Using autogen SSL context"]
    out = ["------< SSL definitions >------"]
    for label, value in (
        ("Password", ssl.password),
        ("CA-file", ssl.ca),
        ("Certificate file", ssl.certificate),
        ("Key file", ssl.key),
    ):
        if value is not None:
            out.append(f" {label} : {value}")
    return out


def format_check(
    servers: Sequence[VsDump], script_view: ScriptView, ssl: SslConfig | None = None
) -> list[str]:
    """The checker's ``SSL definitions``, ``LVS Topology`` and ``Health checkers``."""
    out = format_ssl(ssl, servers)
    out += ["------< LVS Topology >------", " System is compiled with LVS v1.2.1"]
    for d in servers:
        out += _virtual_server(d)
    out.append("------< Health checkers >------")
    for d in servers:
        for rs, state in zip(d.config.real_servers, d.servers, strict=True):
            for check, (up, run, weight) in zip(rs.checks, state.checkers, strict=False):
                out += _checker(d.config, rs, check, up, run, weight, script_view)
    return out
