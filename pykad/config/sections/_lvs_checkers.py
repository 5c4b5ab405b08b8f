"""The checker blocks of a real server, read as keepalived 2.2.7 reads them.

keepalived/check/check_api.c (the common and connection keywords),
check_tcp.c, check_http.c (HTTP_GET and SSL_GET with their ``url`` blocks),
check_smtp.c (with the deprecated ``host`` blocks), check_dns.c,
check_misc.c, check_ping.c, check_udp.c, check_file.c and check_bfd.c: each
block's keywords, their messages, and its end handler's checks. Values are
collected into a ``CheckDraft``; ``resolve`` turns it into the frozen model
once the real server's and virtual server's defaults are known
(``validate_check_config``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Any

from pykad.config.addresses import IPAddress, inet_stosockaddr
from pykad.config.build import Context
from pykad.config.diagnostics import Severity
from pykad.config.lexer import CommandSyntaxError, split_command
from pykad.config.scripts import Script
from pykad.config.sections import _lvs_model as m
from pykad.config.tree import Statement
from pykad.config.values import UINT_MAX, true_false

IFNAMSIZ = 16
BFD_INAME_MAX = 32
HTTP_STATUS_MIN, HTTP_STATUS_MAX = 100, 599
WEIGHT_FAULT = -(2**31)

CHECKER_KEYWORDS = frozenset({
    "TCP_CHECK", "HTTP_GET", "SSL_GET", "SMTP_CHECK", "DNS_CHECK", "MISC_CHECK",
    "PING_CHECK", "UDP_CHECK", "FILE_CHECK", "BFD_CHECK",
})  # fmt: skip
CONNECTION_CHECKERS = frozenset({
    "TCP_CHECK", "HTTP_GET", "SSL_GET", "SMTP_CHECK", "DNS_CHECK", "PING_CHECK", "UDP_CHECK",
})  # fmt: skip

REGEX_OPTIONS = frozenset(
    [
        "allow_empty_class",
        "alt_bsux",
        "auto_callout",
        "caseless",
        "dollar_endonly",
        "dotall",
        "dupnames",
        "extended",
        "firstline",
        "match_unset_backref",
        "multiline",
        "never_ucp",
        "never_utf",
        "no_auto_capture",
        "no_auto_possess",
        "no_dotstar_anchor",
        "no_start_optimize",
        "ucp",
        "ungreedy",
        "utf",
        "never_backslash_c",
        "alt_circumflex",
        "alt_verbnames",
        "use_offset_limit",
    ]
)


def strtoul(text: str, base: int = 10) -> tuple[int, str]:
    """C ``strtoul``: (value, the rest); a negative number wraps as in C."""
    mt = re.match(r"[ \t\n\r\f\v]*([+-]?)", text)
    assert mt
    digits = "0123456789abcdef"[:base]
    i = mt.end()
    j = i
    while j < len(text) and text[j].lower() in digits:
        j += 1
    if j == i:
        return 0, text
    value = int(text[i:j], base)
    if mt.group(1) == "-":
        value = (-value) % 2**64
    return value, text[j:]


@dataclass
class ConnDraft:
    dst_family: int | None
    """The family keepalived holds for the destination (None: AF_UNSPEC)."""
    rs_address: IPAddress
    fields: dict[str, Any] = field(default_factory=dict)
    bind_family: int | None = None

    def destination(self) -> IPAddress:
        address: IPAddress | None = self.fields.get("connect_ip")
        return address if address is not None else self.rs_address


@dataclass
class CheckDraft:
    """One checker block as read, before defaults."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    conn: ConnDraft | None = None
    hosts: list[ConnDraft] = field(default_factory=list)
    urls: list[dict[str, Any]] = field(default_factory=list)
    script: Script | None = None
    script_user: tuple[str, str | None] | None = None
    payload_bad: bool = False
    resolved_timeout_us: int | None = None
    """SMTP_CHECK: the connect timeout its end handler settled (from RS or VS then)."""
    host_timeouts: list[int] = field(default_factory=list)


class CheckerReader:
    """Reads one checker block into a ``CheckDraft`` (or None if keepalived drops it)."""

    def __init__(
        self,
        ctx: Context,
        rs_address: IPAddress,
        *,
        format_rs: Callable[[], str],
        bfd_known: Callable[[str], bool],
        find_track_file: Callable[[str], tuple[int, bool] | None],
        default_script_user_fails: Callable[[], bool],
        timeouts: Callable[[], int],
        rs_bfds: list[str],
    ) -> None:
        self.ctx = ctx
        self.rs_address = rs_address
        self.format_rs = format_rs
        self.bfd_known = bfd_known
        self.find_track_file = find_track_file
        self.default_script_user_fails = default_script_user_fails
        self.timeouts = timeouts
        self.rs_bfds = rs_bfds

    def read(self, st: Statement) -> CheckDraft | None:
        kind = st.keyword
        draft = CheckDraft(kind)
        if kind in CONNECTION_CHECKERS:
            family = None if kind == "SMTP_CHECK" else self.rs_address.version
            draft.conn = ConnDraft(family, self.rs_address)
        reader = getattr(self, "_" + kind.lower())
        keep: bool = reader(draft, st)
        return draft if keep else None

    # --- common keywords --------------------------------------------------------------

    def _common(self, draft: CheckDraft, st: Statement, conn: ConnDraft | None) -> bool:
        """install_checker_common_keywords: True if ``st`` was one of them."""
        ctx, values, kw = self.ctx, self.ctx.values, st.keyword
        if conn is not None and kw in (
            "connect_ip", "connect_port", "bindto", "bind_port", "bind_if",
            "connect_timeout", "fwmark",
        ):  # fmt: skip
            self._connection(conn, st)
        elif kw == "retry":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, UINT_MAX, lenient=True)
            if value is None:
                ctx.error(f"Invalid retry connection value '{word}'")
            else:
                draft.fields["retry"] = value
        elif kw in ("delay_before_retry", "warmup", "delay_loop"):
            word = ctx.word(st, 1)
            value = values.read_timer(word, 1 if kw == "delay_loop" else 0, lenient=True)
            if value is None:
                ctx.error(
                    f"delay_loop '{word}' is invalid - ignoring"
                    if kw == "delay_loop"
                    else f"Invalid {kw} connection value '{word}'"
                )
            else:
                draft.fields[f"{kw}_us"] = value
        elif kw in ("alpha", "log_all_failures"):
            flag = self._bool(st, f"Invalid {kw} parameter")
            if flag is not None:
                draft.fields[kw] = flag
        else:
            return False
        return True

    def _bool(self, st: Statement, message: str) -> bool | None:
        if len(st.words) < 2:
            return True
        value = true_false(st.words[1])
        if value is None:
            self.ctx.error(f"{message} {st.words[1]}")
        return value

    def _connection(self, conn: ConnDraft, st: Statement) -> None:
        ctx, values, kw = self.ctx, self.ctx.values, st.keyword
        if kw in ("connect_ip", "bindto"):
            word = ctx.word(st, 1)
            address = inet_stosockaddr(word)
            name = "connect_ip" if kw == "connect_ip" else "bindto"
            if address is None:
                ctx.error(f"Invalid {name} address {word} - ignoring")
                if kw == "connect_ip":
                    conn.dst_family = None
                    conn.fields.pop("connect_ip", None)
                else:
                    conn.bind_family = None
                    conn.fields.pop("bindto", None)
                return
            if kw == "connect_ip":
                if conn.bind_family is not None and conn.bind_family != address.version:
                    ctx.error(
                        f"connect_ip address {word} does not match address family of "
                        "bindto - skipping"
                    )
                    conn.dst_family = None
                    conn.fields.pop("connect_ip", None)
                    return
                conn.dst_family = address.version
                conn.fields["connect_ip"] = address
            else:
                if conn.dst_family is not None and conn.dst_family != address.version:
                    ctx.error(
                        f"bindto address {word} does not match address family of "
                        "connect_ip - skipping"
                    )
                    conn.bind_family = None
                    conn.fields.pop("bindto", None)
                    return
                conn.bind_family = address.version
                conn.fields["bindto"] = address
        elif kw in ("connect_port", "bind_port"):
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 1, 65535, lenient=True)
            if value is None:
                ctx.error(f"Invalid checker {kw} '{word}'")
            else:
                conn.fields[kw] = value
        elif kw == "bind_if":
            word = ctx.word(st, 1)
            if len(word) > IFNAMSIZ - 1:
                ctx.error(f"Interface name {word} is too long - ignoring")
            else:
                conn.fields["bind_if"] = word
        elif kw == "connect_timeout":
            word = ctx.word(st, 1)
            value = values.read_timer(word, 1, UINT_MAX, lenient=True)
            if value is None:
                ctx.error(f"connect_timeout {word} invalid - ignoring")
            else:
                conn.fields["connect_timeout_us"] = value
        elif kw == "fwmark":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, UINT_MAX, lenient=True)
            if value is None:
                ctx.error(f"Invalid fwmark connection value '{word}'")
            else:
                conn.fields["fwmark"] = value

    def _conn_ok(self, conn: ConnDraft) -> bool:
        """check_conn_opts: an IPv6 link-local destination needs a bind_if."""
        if conn.dst_family == 6 and "bind_if" not in conn.fields:
            dst = conn.destination()
            if isinstance(dst, IPv6Address) and dst.is_link_local:
                self.ctx.error(f"Checker link local address {dst} requires a bind_if")
                return False
        return True

    def _children(
        self, draft: CheckDraft, st: Statement, extra: Callable[[Statement], None]
    ) -> None:
        for child in st.children:
            self.ctx.at(child)
            if not self._common(draft, child, draft.conn):
                extra(child)
        self.ctx.location = st.end or st.location

    # --- the checkers -----------------------------------------------------------------

    def _tcp_check(self, draft: CheckDraft, st: Statement) -> bool:
        self._children(draft, st, lambda c: None)
        assert draft.conn is not None
        return self._conn_ok(draft.conn)

    _ping_check = _tcp_check

    def _udp_check(self, draft: CheckDraft, st: Statement) -> bool:
        ctx, values = self.ctx, self.ctx.values

        def extra(c: Statement) -> None:
            if c.keyword == "payload":
                if len(c.words) == 1:
                    ctx.error("UDP_CHECK payload requires a payload")
                    return
                data = read_hex(" ".join(c.words[1:]), wildcard=False)
                if data is None:
                    ctx.error("Invalid hex string for UDP_CHECK payload")
                    draft.fields.pop("payload", None)
                else:
                    draft.fields["payload"] = data[0]
            elif c.keyword == "require_reply":
                draft.fields["require_reply"] = True
                if len(c.words) == 1:
                    return
                data = read_hex(" ".join(c.words[1:]), wildcard=True)
                if data is None:
                    ctx.error("Invalid hex string for UDP_CHECK reply")
                    draft.fields.pop("reply", None)
                    draft.fields.pop("reply_mask", None)
                else:
                    draft.fields["reply"], draft.fields["reply_mask"] = data
            elif c.keyword in ("min_reply_length", "max_reply_length"):
                word = ctx.word(c, 1)
                value = values.read_unsigned(word, 0, 65535)
                which = c.keyword.split("_")[0]
                if value is None:
                    ctx.error(
                        f"UDP_CHECK {which} length {word} not valid - must be between 0 & 65535"
                    )
                else:
                    draft.fields[c.keyword] = value

        self._children(draft, st, extra)
        assert draft.conn is not None
        if not self._conn_ok(draft.conn):
            return False
        low = draft.fields.get("min_reply_length", 0)
        high = draft.fields.get("max_reply_length", 255)
        if low > high:
            ctx.error(
                f"UDP_CHECK min_reply length {low} > max_reply_length {high} - will always fail"
            )
        return True

    def _http_get(self, draft: CheckDraft, st: Statement) -> bool:
        ctx, values = self.ctx, self.ctx.values
        draft.fields["ssl"] = st.keyword == "SSL_GET"

        def extra(c: Statement) -> None:
            kw = c.keyword
            if kw == "nb_get_retry":
                ctx.error("nb_get_retry is deprecated - please use 'retry'")
                word = ctx.word(c, 1)
                value = values.read_unsigned(word, 0, UINT_MAX, lenient=True)
                if value is None:
                    ctx.error(f"Invalid nb_get_retry value '{word}'")
                else:
                    draft.fields["retry"] = value
            elif kw == "virtualhost":
                if len(c.words) < 2:
                    ctx.error("HTTP_GET virtualhost name missing")
                else:
                    draft.fields["virtualhost"] = c.words[1]
            elif kw == "http_protocol":
                if len(c.words) < 2:
                    ctx.error("Missing http_protocol version")
                    return
                word = c.words[1]
                proto = {"1.0": "1.0", "1.1": "1.1", "1.0C": "1.0C", "1.0c": "1.0C"}.get(word)
                if proto is None:
                    ctx.error(f"Invalid http_protocol version {word}")
                else:
                    draft.fields["http_protocol"] = m.HttpProtocol(proto)
            elif kw in ("enable_sni", "fast_recovery"):
                flag = self._bool(c, f"Invalid {kw} parameter")
                if flag is not None:
                    draft.fields[kw] = flag
            elif kw == "sni_name":
                draft.fields["sni_name"] = ctx.word(c, 1)
            elif kw == "tls_compliant":
                draft.fields["tls_compliant"] = True
            elif kw == "url":
                self._url(draft, c)

        self._children(draft, st, extra)
        if not draft.urls:
            # keepalived 2.2.7 then crashes (use after free) under -t
            ctx.error("HTTP/SSL_GET checker has no urls specified - ignoring")
            return False
        assert draft.conn is not None
        return self._conn_ok(draft.conn)

    _ssl_get = _http_get

    def _url(self, draft: CheckDraft, st: Statement) -> None:
        ctx = self.ctx
        url: dict[str, Any] = {}
        codes: set[int] = set()
        regex: str | None = None
        options: list[str] = []
        for c in st.children:
            ctx.at(c)
            kw = c.keyword
            if kw == "path":
                url["path"] = ctx.word(c, 1)
            elif kw == "digest":
                word = ctx.word(c, 1)
                if "digest" in url:
                    ctx.error(f"Digest '{word}' is a duplicate")
                    continue
                if len(word) != 32:
                    ctx.error(
                        f"digest '{word}' character length should be 32 rather than {len(word)}"
                    )
                    continue
                digest = _read_digest(ctx, word)
                if digest is not None:
                    url["digest"] = digest
            elif kw == "status_code":
                for word in c.words[1:]:
                    low, rest = strtoul(word)
                    high = low
                    if rest.startswith("-"):
                        high, rest = strtoul(rest[1:])
                    if (
                        rest
                        or not HTTP_STATUS_MIN <= low <= HTTP_STATUS_MAX
                        or not HTTP_STATUS_MIN <= high <= HTTP_STATUS_MAX
                        or low > high
                    ):
                        ctx.error(f"Invalid HTTP_GET status code '{word}'")
                        continue
                    codes.update(range(low, high + 1))
            elif kw == "virtualhost":
                if len(c.words) < 2:
                    ctx.error("Missing HTTP_GET virtualhost name")
                else:
                    url["virtualhost"] = c.words[1]
            elif kw == "regex":
                try:
                    words = split_command(c.text)
                except CommandSyntaxError as e:
                    ctx.error(str(e), Severity.UNMATCHED_QUOTE)
                    continue
                if len(words) == 2:  # else keepalived only logs "regex missing or too many fields"
                    regex = words[1]
            elif kw == "regex_no_match":
                url["regex_no_match"] = True
            elif kw == "regex_options":
                options += [w for w in c.words[1:] if w in REGEX_OPTIONS and w not in options]
            elif kw in ("regex_min_offset", "regex_max_offset"):
                value = 0
                if len(c.words) == 2:
                    number, rest = strtoul(c.words[1])
                    value = 0 if rest else number
                url[kw] = value + (1 if kw == "regex_max_offset" else 0)
            elif kw == "regex_stack" and len(c.words) == 3:
                start, rest1 = strtoul(c.words[1])
                top, rest2 = strtoul(c.words[2])
                if not rest1 and not rest2 and start <= top:
                    old = url.get("regex_stack") or (0, 0)
                    url["regex_stack"] = (max(old[0], start), max(old[1], top))
        ctx.location = st.end or st.location
        if "path" not in url:
            ctx.error("HTTP/SSL_GET checker url has no path - ignoring")
            return
        url["status_codes"] = _ranges(codes) if codes else ((200, 299),)
        if regex is not None:
            url["regex"] = regex
            url["regex_options"] = tuple(options)
        else:  # "regex parameters specified without regex" (logged): all reset
            for key in ("regex_no_match", "regex_min_offset", "regex_max_offset", "regex_stack"):
                url.pop(key, None)
        high = url.get("regex_max_offset", 0)
        if high and url.get("regex_min_offset", 0) >= high:
            url.pop("regex_min_offset", None)
            url.pop("regex_max_offset", None)
        draft.urls.append(url)

    def _smtp_check(self, draft: CheckDraft, st: Statement) -> bool:
        ctx = self.ctx

        def extra(c: Statement) -> None:
            if c.keyword == "helo_name":
                if len(c.words) < 2:
                    ctx.error("SMTP_CHECK helo name missing")
                else:
                    draft.fields["helo_name"] = c.words[1]
            elif c.keyword == "host":
                host = ConnDraft(self.rs_address.version, self.rs_address)
                for hc in c.children:
                    ctx.at(hc)
                    self._common(draft, hc, host)
                ctx.location = c.end or c.location
                if self._conn_ok(host):
                    draft.hosts.append(host)

        self._children(draft, st, extra)
        conn = draft.conn
        assert conn is not None
        used = bool(conn.fields) or not draft.hosts
        draft.fields["use_connection"] = used
        if used:
            if conn.dst_family is None:
                conn.fields.pop("connect_ip", None)
                conn.dst_family = self.rs_address.version
            if not self._conn_ok(conn):
                return False
        timeout = self.timeouts()
        draft.resolved_timeout_us = conn.fields.get("connect_timeout_us", timeout)
        draft.host_timeouts = [h.fields.get("connect_timeout_us", timeout) for h in draft.hosts]
        return True

    def _dns_check(self, draft: CheckDraft, st: Statement) -> bool:
        ctx = self.ctx

        def extra(c: Statement) -> None:
            if c.keyword == "type":
                word = ctx.word(c, 1)
                try:
                    draft.fields["type"] = m.DnsType(word.upper())
                except ValueError:
                    ctx.error(f"Unknown DNS check type {word} - ignoring")
            elif c.keyword == "name":
                if "name" in draft.fields:
                    ctx.error("DNS_CHECK name already specified - ignoring")
                    return
                name = ctx.word(c, 1)
                if _dns_name_invalid(name):
                    ctx.error(f"DNS_CHECK name '{name}' has empty label - ignoring")
                    return
                draft.fields["name"] = name

        self._children(draft, st, extra)
        assert draft.conn is not None
        return self._conn_ok(draft.conn)

    def _misc_check(self, draft: CheckDraft, st: Statement) -> bool:
        ctx, values = self.ctx, self.ctx.values
        for c in st.children:
            ctx.at(c)
            if self._common(draft, c, None):
                continue
            kw = c.keyword
            if kw == "misc_path":
                try:
                    words = split_command(c.text)
                    argv = split_command(words[1]) if len(words) > 1 else []
                except CommandSyntaxError as e:
                    ctx.error(str(e), Severity.UNMATCHED_QUOTE)
                    continue
                if argv:
                    draft.script = Script(tuple(argv), location=c.location)
            elif kw == "misc_timeout":
                word = ctx.word(c, 1)
                value = values.read_unsigned(word, 0, UINT_MAX // 1_000_000, lenient=True)
                if value is None:
                    ctx.error(f"Invalid misc_timeout value '{word}'")
                else:
                    draft.fields["timeout_us"] = value * 1_000_000
            elif kw == "misc_dynamic":
                draft.fields["dynamic"] = True
            elif kw == "user":
                command = cmd_str(draft.script.argv) if draft.script else ""
                if len(c.words) < 2:
                    ctx.error(f"No user specified for misc checker script {command}")
                    continue
                user, group = c.words[1], c.words[2] if len(c.words) > 2 else None
                if ctx.host.user_ids(user) is None or (
                    group is not None and ctx.host.group_id(group) is None
                ):
                    ctx.error(f"Failed to set uid/gid for misc checker script {command} - removing")
                    return False  # keepalived ignores the rest of the block
                draft.script_user = (user, group)
        ctx.location = st.end or st.location
        if draft.script is None:
            ctx.error("No script path has been specified for MISC_CHECKER - skipping")
            return False
        if draft.script_user is None and self.default_script_user_fails():
            ctx.error(
                "Unable to set default user for misc script "
                f"{cmd_str(draft.script.argv)} - removing"
            )
            return False
        if draft.script_user is not None:
            user, group = draft.script_user
            draft.script = Script(draft.script.argv, user, group, draft.script.location)
        return True

    def _file_check(self, draft: CheckDraft, st: Statement) -> bool:
        ctx = self.ctx
        weight: tuple[int, bool] | None = None
        for c in st.children:
            ctx.at(c)
            if c.keyword == "track_file":
                name = ctx.word(c, 1)
                found = self.find_track_file(name)
                if found is None:
                    ctx.error(f"track_file {name} not found")
                    continue
                draft.fields["track_file"] = name
                draft.fields["file_weight"] = found
            elif c.keyword == "weight":
                if len(c.words) < 2:
                    ctx.error("track file weight missing")
                    continue
                value = ctx.values.read_int(
                    c.words[1], -m.WEIGHT_LIMIT, m.WEIGHT_LIMIT, lenient=True
                )
                if value is None:
                    ctx.error(
                        "weight for track file must be in "
                        f"[{-m.WEIGHT_LIMIT}..{m.WEIGHT_LIMIT}] inclusive. Ignoring..."
                    )
                    continue
                reverse = False
                if len(c.words) >= 3:
                    if c.words[2] == "reverse":
                        reverse = True
                    elif c.words[2] != "noreverse":
                        ctx.error(f"unknown track file weight option {c.words[2]} - ignoring")
                        continue
                weight = (value, reverse)
        ctx.location = st.end or st.location
        if "track_file" not in draft.fields:
            ctx.error("FILE_CHECK has no track_file specified - ignoring")
            return False
        draft.fields["weight"], draft.fields["reverse"] = weight or draft.fields["file_weight"]
        return True

    def _bfd_check(self, draft: CheckDraft, st: Statement) -> bool:
        ctx = self.ctx
        for c in st.children:
            ctx.at(c)
            if c.keyword == "name":
                name = c.words[1] if len(c.words) >= 2 else None
                error = True
                if len(c.words) != 2 or name is None:
                    ctx.error(
                        f"({self.format_rs()}) BFD_CHECK - No or too many names specified"
                        " - skipping checker"
                    )
                elif not self.bfd_known(name):
                    ctx.error(f"({self.format_rs()}) BFD_CHECK - BFD {name} not configured")
                elif "name" in draft.fields:
                    ctx.error(
                        f"({self.format_rs()}) BFD_CHECK - BFD {name} already specified as "
                        f"{draft.fields['name']}"
                    )
                elif len(name) >= BFD_INAME_MAX:
                    ctx.error(f"({self.format_rs()}) BFD_CHECK - BFD name {name} too long")
                elif name in self.rs_bfds:
                    ctx.error(f"({self.format_rs()}) BFD_CHECK - RS already monitoring {name}")
                else:
                    error = False
                if error:
                    return False  # the checker is gone; keepalived ignores the rest
                draft.fields["name"] = name
            elif c.keyword == "alpha":
                flag = self._bool(c, "Invalid alpha parameter")
                if flag is not None:
                    draft.fields["alpha"] = flag
        ctx.location = st.end or st.location
        if "name" not in draft.fields:
            ctx.error(f"({self.format_rs()}) No name has been specified for BFD_CHECKER - skipping")
            return False
        self.rs_bfds.append(draft.fields["name"])
        return True


def cmd_str(argv: tuple[str, ...]) -> str:
    """lib/notify.c ``cmd_str``: each word in single quotes (not a leading redirection)."""
    return " ".join(a if i == 0 and a[:1] in ("<", ">") else f"'{a}'" for i, a in enumerate(argv))


def _dns_name_invalid(name: str) -> bool:
    """check_dns.c's empty-label test, including its quirk on a 1-character first label."""
    if name.startswith(".") and len(name) > 1:
        return True
    p: int = 0
    while True:
        if name[p + 1 : p + 2] == ".":
            return True
        nxt = name.find(".", p + 1)
        if nxt < 0:
            return False
        p = nxt


def _read_digest(ctx: Context, word: str) -> bytes | None:
    out = bytearray(16)
    for i in range(15, -1, -1):
        pair = word[2 * i : 2 * i + 2]
        value, rest = strtoul(pair, 16)
        if rest:
            ctx.error(
                f"Unable to interpret hex digit in '{word[: 2 * i + 2]}' at offset "
                f"{2 * i}/{2 * i + 1}"
            )
            return None
        out[i] = value & 0xFF
    return bytes(out)


def _ranges(codes: set[int]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for code in sorted(codes):
        if out and out[-1][1] == code - 1:
            out[-1] = (out[-1][0], code)
        else:
            out.append((code, code))
    return tuple(out)


def _hex_val(c: str, wildcard: bool) -> int:
    if "0" <= c <= "9":
        return ord(c) - 48
    up = c.upper() if c >= "a" else c
    if "A" <= up <= "F":
        return ord(up) - 55
    if wildcard and up == "X":
        return 0xFE
    return 0xFF


def read_hex(text: str, *, wildcard: bool) -> tuple[bytes, bytes | None] | None:
    """lib/parser.c ``read_hex_str``: (data, wildcard mask or None), or None if invalid."""
    data, mask = bytearray(), bytearray()
    using_mask = False
    i, n = 0, len(text)
    val = 0
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            break
        val = _hex_val(text[i], wildcard)
        i += 1
        if val == 0xFF:
            break
        mask_val = 0
        if val == 0xFE:
            mask_val, val, using_mask = 0x0F, 0, True
        if i < n and text[i] != " ":
            high, mask_val = val << 4, mask_val << 4
            val = _hex_val(text[i], wildcard)
            i += 1
            if val == 0xFF:
                break
            if val == 0xFE:
                mask_val |= 0x0F
                val = 0
                using_mask = True
            val |= high
        data.append(val)
        mask.append(mask_val)
    if val == 0xFF or not data:
        return None
    return bytes(data), (bytes(mask) if using_mask else None)


def hex_text(data: bytes, mask: bytes | None = None) -> str:
    """Bytes (with wildcard nibbles) as ``read_hex`` reads them back."""
    out = []
    for i, b in enumerate(data):
        mk = mask[i] if mask else 0
        hi = "x" if mk & 0xF0 else f"{b >> 4:x}"
        lo = "x" if mk & 0x0F else f"{b & 0xF:x}"
        out.append(hi + lo)
    return " ".join(out)
