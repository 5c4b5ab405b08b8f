"""The LVS model back to keepalived.conf lines (every resolved value explicit)."""

from __future__ import annotations

from collections.abc import Iterator

from pykad.config.scripts import Script
from pykad.config.sections import _lvs_model as m
from pykad.config.sections._lvs_checkers import hex_text
from pykad.config.values import format_timer as _secs


def _command_word(text: str) -> str:
    """One word for keepalived's quoted/escaped command tokenizer."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _forwarding(fwd: m.Forwarding) -> str:
    text = fwd.method.value
    if fwd.method is m.Method.TUN:
        text += f" type {fwd.tunnel_type.value}"
        if fwd.tunnel_port:
            text += f" port {fwd.tunnel_port}"
        text += f" {fwd.checksum.value}"
    return text


def _flag(name: str, value: bool) -> str:
    return f"{name} {'true' if value else 'false'}"


def _group(group: m.VirtualServerGroup) -> Iterator[str]:
    yield f"virtual_server_group {group.name} {{"
    for r in group.ranges:
        text = str(r.start) if r.start == r.end else f"{r.start}-{r.end}"
        yield f"    {text} {r.port}" if r.port else f"    {text}"
    for fw in group.fwmarks:
        family = {4: " inet", 6: " inet6"}.get(fw.family or 0, "")
        yield f"    fwmark {fw.fwmark}{family}"
    yield "}"


def _connection(c: m.Connection, indent: str) -> Iterator[str]:
    if c.connect_ip is not None:
        yield f"{indent}connect_ip {c.connect_ip}"
    if c.connect_port is not None:
        yield f"{indent}connect_port {c.connect_port}"
    if c.bindto is not None:
        yield f"{indent}bindto {c.bindto}"
    if c.bind_port is not None:
        yield f"{indent}bind_port {c.bind_port}"
    if c.bind_if is not None:
        yield f"{indent}bind_if {c.bind_if}"
    yield f"{indent}connect_timeout {_secs(c.connect_timeout_us)}"
    if c.fwmark:
        yield f"{indent}fwmark {c.fwmark}"


def _common(c: m.Checker, indent: str) -> Iterator[str]:
    yield f"{indent}{_flag('alpha', c.alpha)}"
    yield f"{indent}retry {c.retry}"
    yield f"{indent}delay_loop {_secs(c.delay_loop_us)}"
    yield f"{indent}warmup {_secs(c.warmup_us)}"
    yield f"{indent}delay_before_retry {_secs(c.delay_before_retry_us)}"
    yield f"{indent}{_flag('log_all_failures', c.log_all_failures)}"


def _url(u: m.Url, indent: str) -> Iterator[str]:
    yield f"{indent}url {{"
    i = indent + "    "
    yield f"{i}path {u.path}"
    if u.digest is not None:
        yield f"{i}digest {u.digest.hex()}"
    codes = " ".join(str(a) if a == b else f"{a}-{b}" for a, b in u.status_codes)
    yield f"{i}status_code {codes}"
    if u.virtualhost is not None:
        yield f"{i}virtualhost {u.virtualhost}"
    if u.regex is not None:
        yield f"{i}regex {_command_word(u.regex)}"
        if u.regex_no_match:
            yield f"{i}regex_no_match"
        if u.regex_options:
            yield f"{i}regex_options {' '.join(u.regex_options)}"
        if u.regex_min_offset:
            yield f"{i}regex_min_offset {u.regex_min_offset}"
        if u.regex_max_offset:
            yield f"{i}regex_max_offset {u.regex_max_offset - 1}"
        if u.regex_stack is not None:
            yield f"{i}regex_stack {u.regex_stack[0]} {u.regex_stack[1]}"
    yield f"{indent}}}"


def _check(c: m.AnyCheck, indent: str) -> Iterator[str]:
    i = indent + "    "
    if isinstance(c, m.FileCheck):
        yield f"{indent}FILE_CHECK {{"
        yield f"{i}track_file {c.track_file}"
        yield f"{i}weight {c.weight}{' reverse' if c.reverse else ''}"
        yield f"{indent}}}"
        return
    if isinstance(c, m.BfdCheck):
        yield f"{indent}BFD_CHECK {{"
        yield f"{i}name {c.name}"
        yield f"{i}{_flag('alpha', c.alpha)}"
        yield f"{indent}}}"
        return
    kind = {
        m.TcpCheck: "TCP_CHECK",
        m.PingCheck: "PING_CHECK",
        m.UdpCheck: "UDP_CHECK",
        m.SmtpCheck: "SMTP_CHECK",
        m.DnsCheck: "DNS_CHECK",
        m.MiscCheck: "MISC_CHECK",
    }.get(type(c))
    if isinstance(c, m.HttpCheck):
        kind = "SSL_GET" if c.ssl else "HTTP_GET"
    yield f"{indent}{kind} {{"
    yield from _common(c, i)
    if isinstance(c, m.MiscCheck):
        yield f"{i}misc_path {Script(c.script.argv).words()}"
        if c.timeout_us:
            yield f"{i}misc_timeout {c.timeout_us // 1_000_000}"
        if c.dynamic:
            yield f"{i}misc_dynamic"
        if c.script.user is not None:
            yield f"{i}user {c.script.user}" + (f" {c.script.group}" if c.script.group else "")
    elif isinstance(c, m.SmtpCheck):
        if c.use_connection:
            yield from _connection(c.connection, i)
        yield f"{i}helo_name {c.helo_name}"
        for host in c.hosts:
            yield f"{i}host {{"
            yield from _connection(host, i + "    ")
            yield f"{i}}}"
    else:
        assert not isinstance(c, m.MiscCheck)
        yield from _connection(c.connection, i)
    if isinstance(c, m.UdpCheck):
        if c.payload is not None:
            yield f"{i}payload {hex_text(c.payload)}"
        if c.require_reply:
            reply = f" {hex_text(c.reply, c.reply_mask)}" if c.reply is not None else ""
            yield f"{i}require_reply{reply}"
        yield f"{i}min_reply_length {c.min_reply_length}"
        yield f"{i}max_reply_length {c.max_reply_length}"
    elif isinstance(c, m.DnsCheck):
        yield f"{i}type {c.type.value}"
        if c.name:
            yield f"{i}name {c.name}"
    elif isinstance(c, m.HttpCheck):
        if c.virtualhost is not None:
            yield f"{i}virtualhost {c.virtualhost}"
        yield f"{i}http_protocol {c.http_protocol.value}"
        yield f"{i}{_flag('enable_sni', c.enable_sni)}"
        yield f"{i}{_flag('fast_recovery', c.fast_recovery)}"
        if c.sni_name is not None:
            yield f"{i}sni_name {c.sni_name}"
        if c.tls_compliant:
            yield f"{i}tls_compliant"
        for url in c.urls:
            yield from _url(url, i)
    yield f"{indent}}}"


def _real_server(rs: m.RealServer) -> Iterator[str]:
    i = "        "
    yield f"    real_server {rs.address} {rs.port} {{"
    yield f"{i}weight {rs.weight}"
    yield f"{i}lvs_method {_forwarding(rs.forwarding)}"
    if rs.uthreshold:
        yield f"{i}uthreshold {rs.uthreshold}"
    if rs.lthreshold:
        yield f"{i}lthreshold {rs.lthreshold}"
    yield f"{i}{_flag('inhibit_on_failure', rs.inhibit_on_failure)}"
    if rs.notify_up is not None:
        yield f"{i}notify_up {rs.notify_up.config_words()}"
    if rs.notify_down is not None:
        yield f"{i}notify_down {rs.notify_down.config_words()}"
    yield f"{i}{_flag('alpha', rs.alpha)}"
    if rs.retry is not None:
        yield f"{i}retry {rs.retry}"
    if rs.delay_before_retry_us is not None:
        yield f"{i}delay_before_retry {_secs(rs.delay_before_retry_us)}"
    if rs.warmup_us is not None:
        yield f"{i}warmup {_secs(rs.warmup_us)}"
    yield f"{i}connect_timeout {_secs(rs.connect_timeout_us)}"
    yield f"{i}delay_loop {_secs(rs.delay_loop_us)}"
    yield f"{i}{_flag('smtp_alert', rs.smtp_alert)}"
    if rs.virtualhost is not None:
        yield f"{i}virtualhost {rs.virtualhost}"
    if rs.snmp_name is not None:
        yield f"{i}snmp_name {rs.snmp_name}"
    for check in rs.checks:
        yield from _check(check, i)
    yield "    }"


def _virtual_server(vs: m.VirtualServer) -> Iterator[str]:
    i = "    "
    if vs.group is not None:
        yield f"virtual_server group {vs.group} {{"
    elif vs.fwmark is not None:
        yield f"virtual_server fwmark {vs.fwmark} {{"
    else:
        yield f"virtual_server {vs.address} {vs.port} {{"
    if vs.family is not None and vs.address is None:
        yield f"{i}ip_family {'inet' if vs.family == 4 else 'inet6'}"
    if vs.protocol is not None:
        yield f"{i}protocol {vs.protocol.value}"
    yield f"{i}lb_algo {vs.scheduler.value}"
    for name in ("ops", "flag_1", "flag_2", "flag_3", "sh_port", "sh_fallback", "mh_port",
                 "mh_fallback"):  # fmt: skip
        if getattr(vs, name):
            yield f"{i}{name.replace('_', '-')}"
    if vs.forwarding is not None:
        yield f"{i}lb_kind {_forwarding(vs.forwarding)}"
    if vs.persistence_engine is not None:
        yield f"{i}persistence_engine {vs.persistence_engine}"
    if vs.persistence_timeout:
        yield f"{i}persistence_timeout {vs.persistence_timeout}"
    if vs.persistence_granularity is not None:
        yield f"{i}persistence_granularity {vs.persistence_granularity}"
    if vs.ha_suspend:
        yield f"{i}ha_suspend"
    yield f"{i}{_flag('smtp_alert', vs.smtp_alert)}"
    if vs.virtualhost is not None:
        yield f"{i}virtualhost {vs.virtualhost}"
    if vs.snmp_name is not None:
        yield f"{i}snmp_name {vs.snmp_name}"
    if vs.alpha:
        yield f"{i}alpha"
    if vs.omega:
        yield f"{i}omega"
    if vs.quorum_up is not None:
        yield f"{i}quorum_up {vs.quorum_up.config_words()}"
    if vs.quorum_down is not None:
        yield f"{i}quorum_down {vs.quorum_down.config_words()}"
    if vs.quorum:
        yield f"{i}quorum {vs.quorum}"
    yield f"{i}hysteresis {vs.hysteresis}"
    yield f"{i}weight {vs.weight}"
    if vs.inhibit_on_failure:
        yield f"{i}inhibit_on_failure"
    if vs.retry is not None:
        yield f"{i}retry {vs.retry}"
    if vs.delay_before_retry_us is not None:
        yield f"{i}delay_before_retry {_secs(vs.delay_before_retry_us)}"
    if vs.warmup_us is not None:
        yield f"{i}warmup {_secs(vs.warmup_us)}"
    yield f"{i}connect_timeout {_secs(vs.connect_timeout_us)}"
    yield f"{i}delay_loop {_secs(vs.delay_loop_us)}"
    if vs.sorry_server is not None:
        s = vs.sorry_server
        yield f"{i}sorry_server {s.address} {s.port}"
        yield f"{i}sorry_server_lvs_method {_forwarding(s.forwarding)}"
        if s.inhibit:
            yield f"{i}sorry_server_inhibit"
    for rs in vs.real_servers:
        yield from _real_server(rs)
    yield "}"


def write(config: m.LvsConfig) -> Iterator[str]:
    """``config`` as keepalived.conf lines."""
    if config.ssl is not None:
        yield "SSL {"
        for key in ("password", "ca", "certificate", "key"):
            value = getattr(config.ssl, key)
            if value is not None:
                yield f"    {key} {value}"
        yield "}"
    for group in config.groups:
        yield from _group(group)
    for vs in config.virtual_servers:
        yield from _virtual_server(vs)
