"""IPVS/LVS: ``SSL``, ``virtual_server_group`` and ``virtual_server`` (keepalived 2.2.7).

Owns those top-level keywords, the ``LvsConfig`` model
(``pykad.config.sections._lvs_model``), keepalived's checks on them and the
writer. Statements are read in file order as keepalived's checker process
does (keepalived/check/check_parser.c, check_data.c's ``alloc_*``; checker
blocks in ``_lvs_checkers``), then ``finish`` runs ``link_vsg_to_vs``
(ipwrapper.c) and ``validate_check_config`` (check_data.c): defaults,
inheritance from virtual to real server to checker, and the post-parse
messages, with keepalived's exact text. Check scripts (MISC_CHECK,
notify_up/down, quorum_up/down) are vetted as keepalived's
``check_check_script_security`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, ClassVar

from pykad.config.addresses import IPAddress, inet_stosockaddr
from pykad.config.build import Builders, Context
from pykad.config.diagnostics import Location, Severity
from pykad.config.scripts import Script, check_scripts, parse_script
from pykad.config.sections import _lvs_model as m
from pykad.config.sections._lvs_checkers import (
    CHECKER_KEYWORDS,
    CheckDraft,
    CheckerReader,
    ConnDraft,
    strtoul,
)
from pykad.config.sections._lvs_model import (
    BfdCheck,
    Connection,
    DnsCheck,
    FileCheck,
    Forwarding,
    GroupFwmark,
    GroupRange,
    HttpCheck,
    LvsConfig,
    Method,
    MiscCheck,
    PingCheck,
    Protocol,
    RealServer,
    Scheduler,
    SmtpCheck,
    SorryServer,
    SslConfig,
    TcpCheck,
    TunnelChecksum,
    TunnelType,
    UdpCheck,
    Url,
    VirtualServer,
    VirtualServerGroup,
)
from pykad.config.sections._lvs_write import write as write
from pykad.config.tree import Statement
from pykad.config.values import UINT_MAX, true_false

NAME = "lvs"
ORDER = 20

_VS_TIMERS = {  # keyword: (low, high (0: none), message), as check_parser.c has them
    "delay_before_retry": (0, 0, "virtual server delay before retry '{}' invalid - ignoring"),
    "warmup": (0, 0, "virtual server warmup '{}' invalid - ignoring"),
    "connect_timeout": (1, UINT_MAX, "virtual server connect_timeout {} invalid - ignoring"),
    "delay_loop": (1, 0, "virtual server delay loop '{}' invalid - ignoring"),
}
_RS_TIMERS = {
    "delay_before_retry": (0, 0, "real server delay_before_retry '{}' invalid - ignoring"),
    "warmup": (0, 0, "real server warmup '{}' invalid - ignoring"),
    "connect_timeout": (1, UINT_MAX, "real server connect_timeout {} invalid - ignoring"),
    "delay_loop": (1, 0, "real server delay_loop '{}' invalid - ignoring"),
}

__all__ = ["NAME", "ORDER", "Builder", "LvsConfig", "write"]

PE_NAME_MAX = 15
FWMARK_MAX = 2**32 - 1


@dataclass
class _Server:
    """A real or sorry server as read (``real_server_t``)."""

    address: IPAddress
    port: int
    forwarding: Forwarding | None
    """None: not set yet (keepalived's IP_VS_CONN_F_FWD_MASK)."""
    fields: dict[str, Any] = field(default_factory=dict)
    checks: list[CheckDraft] = field(default_factory=list)
    bfds: list[str] = field(default_factory=list)
    inhibit: bool = False


@dataclass
class _Vs:
    """A virtual server as read (``virtual_server_t``)."""

    address: IPAddress | None = None
    port: int = 0
    fwmark: int | None = None
    group: str | None = None
    family: int | None = None
    protocol: Protocol | None = None
    scheduler: Scheduler | None = None
    forwarding: Forwarding | None = None
    flags: set[str] = field(default_factory=set)
    fields: dict[str, Any] = field(default_factory=dict)
    servers: list[_Server] = field(default_factory=list)
    sorry: _Server | None = None
    group_ref: VirtualServerGroup | None = None
    location: Location | None = None
    """Where its ``virtual_server`` line is (post-parse findings point there)."""

    def format(self) -> str:
        """keepalived's FMT_VS."""
        if self.group is not None:
            return f"[{self.group}]:{self.port}"
        if self.fwmark is not None:
            return f"FWM {self.fwmark}"
        return _trio(self.address, self.protocol, self.port)

    def format_rs(self, rs: _Server) -> str:
        return _trio(rs.address, self.protocol, rs.port)


def _trio(address: IPAddress | None, protocol: Protocol | None, port: int) -> str:
    name = protocol.value.lower() if protocol else "none"
    return f"[{address}]:{name}:{port}"


def _port_word(word: str | None) -> str | None:
    """keepalived passes no port for an absent or all-zero port word."""
    return word if word is not None and word.strip("0") else None


class Builder:
    """Reads the LVS configuration in file order, as keepalived's checker process does."""

    keywords: ClassVar[frozenset[str]] = frozenset(
        {"SSL", "virtual_server_group", "virtual_server"}
    )

    def __init__(self, ctx: Context, builders: Builders) -> None:
        self.ctx = ctx
        self.builders = builders
        self.ssl: dict[str, str] | None = None
        self.groups: list[VirtualServerGroup] = []
        self.servers: list[_Vs] = []
        self.default_user_reported = False

    # --- other sections ---------------------------------------------------------------

    def _global(self, name: str, default: Any) -> Any:
        g = self.builders.by_name.get("global")
        if g is None:
            return default
        for obj in (g, getattr(g, "part", None), getattr(g, "config", None)):
            if obj is not None and hasattr(obj, name):
                value = getattr(obj, name)
                return value() if callable(value) else value
        return default

    def _script_security(self) -> bool:
        return bool(self._global("script_security", self._global("enable_script_security", False)))

    def _default_user_fails(self) -> bool:
        """get_default_script_user: no script_user, no keepalived_script, and security on."""
        lookup = getattr(self.builders.by_name.get("global"), "default_script_user", None)
        if callable(lookup):
            return lookup() is None
        if not self._script_security() or self._global("script_user", None) is not None:
            return False
        if self.ctx.host.user_ids("keepalived_script") is not None:
            return False
        if not self.default_user_reported:
            self.default_user_reported = True
            self.ctx.error("Unable to set default user keepalived_script for script")
        return True

    def _bfd_known(self, name: str) -> bool:
        """The checker process knows every named bfd_instance read so far (file order)."""
        bfd = self.builders.by_name.get("bfd")
        if bfd is None:
            return False
        names: set[str] = getattr(bfd, "names", set())
        instance = next((b for b in getattr(bfd, "instances", ()) if b.name == name), None)
        return name in names and (instance is None or instance.checker)

    def _track_file(self, name: str) -> tuple[int, bool] | None:
        tf = self.builders.by_name.get("track_file")
        if tf is None:
            return None
        found: Any = None
        for attr in ("find", "by_name", "get"):
            lookup = getattr(tf, attr, None)
            if callable(lookup):
                found = lookup(name)
                break
        else:
            for attr in ("files", "track_files", "items", "tracked"):
                seq = getattr(tf, attr, None)
                if seq is not None:
                    found = next((f for f in seq if getattr(f, "name", None) == name), None)
                    break
        if found is None:
            return None
        weight = getattr(found, "weight", 1)
        reverse = getattr(found, "weight_reverse", getattr(found, "reverse", False))
        return int(weight), bool(reverse)

    # --- statements -------------------------------------------------------------------

    def statement(self, statement: Statement) -> None:
        if statement.keyword == "SSL":
            self._ssl(statement)
        elif statement.keyword == "virtual_server_group":
            self._group(statement)
        else:
            self._virtual_server(statement)

    def _ssl(self, st: Statement) -> None:
        ctx = self.ctx
        if self.ssl is not None:
            ctx.error("SSL context already specified - replacing")
        self.ssl = {}
        names = {
            "password": "password",
            "ca": "cafile",
            "certificate": "certfile",
            "key": "keyfile",
        }
        for child in st.children:
            ctx.at(child)
            what = names[child.keyword]
            if len(child.words) < 2:
                ctx.error(f"SSL {what} missing")
                continue
            if child.keyword in self.ssl:
                ctx.error(f"SSL {what} already specified - replacing")
            self.ssl[child.keyword] = child.words[1]

    def _group(self, st: Statement) -> None:
        ctx = self.ctx
        name = ctx.word(st, 1)
        ranges: list[GroupRange] = []
        fwmarks: list[GroupFwmark] = []
        no_family = False
        for words, location in zip(st.values, st.value_locations, strict=True):
            ctx.location = location
            if words[0] == "fwmark":
                entry = self._group_fwmark(name, st, words)
                if entry is not None:
                    fwmarks.append(entry)
                    no_family |= entry.family is None
            else:
                found = self._group_range(words)
                if found is not None:
                    ranges.append(found)
        ctx.location = st.location
        group = VirtualServerGroup(name=name, ranges=tuple(ranges), fwmarks=tuple(fwmarks))
        if not ranges and not fwmarks:
            ctx.error(f"virtual server group {name} has no entries - removing")
        elif group.has_ipv4 and group.has_ipv6 and no_family:
            ctx.error(
                f"virtual server group {name} cannot have IPv4, IPv6 and fwmark without "
                "family - removing"
            )
        else:
            self.groups.append(group)

    def _group_fwmark(self, name: str, st: Statement, words: tuple[str, ...]) -> GroupFwmark | None:
        ctx = self.ctx
        line = Statement("fwmark", words, " ".join(words), ctx.location or st.location, "")
        word = ctx.word(line, 1)
        value = ctx.values.read_unsigned(word, 0, FWMARK_MAX, lenient=True)
        if value is None:
            ctx.error(f"({name}): fwmark '{word}' must be in [0, {FWMARK_MAX}] - ignoring")
            return None
        family = None
        if len(words) > 2:
            family = {"inet": 4, "inet6": 6}.get(words[2])
            if family is None:
                ctx.error(f"({name}): fwmark '{value}' family {words[2]} unknown - ignoring")
                return None
        return GroupFwmark(fwmark=value, family=family)

    def _group_range(self, words: tuple[str, ...]) -> GroupRange | None:
        ctx = self.ctx
        text = words[0]
        port_word = _port_word(words[1] if len(words) >= 2 else None)
        start = self._address(text, port_word)
        if start is None:
            pw = f"/port/{port_word}" if port_word else ""
            ctx.error(f"Invalid virtual server group IP address {text} {pw} - skipping")
            return None
        port = int(strtoul(port_word)[0]) if port_word else 0
        bits = 32 if start.version == 4 else 128
        if "/" in text:
            mask, rest = strtoul(text[text.index("/") + 1 :])
            if rest or not mask or mask > bits:
                ctx.error(f"Invalid netmask - {text} - skipping")
                return None
            host = (1 << (bits - mask)) - 1 if mask < bits else 0
            if start.version == 4 and mask == 32:
                host = 0
            if int(start) & host:
                ctx.error(f"Address mask bits not empty - {text} - skipping")
                return None
            end = (
                ip_address(int(start) | host)
                if start.version == 4
                else IPv6Address(int(start) | host)
            )
            return GroupRange(start=start, end=end, port=port)
        dash = text.find("-")
        if dash >= 0 and (("." if start.version == 4 else ":") in text[dash + 1 :]):
            end_ip = self._address(text[dash + 1 :], port_word)
            if end_ip is None:
                ctx.error(f"Invalid range end {text} - skipping")
                return None
            if end_ip.version != start.version:
                ctx.error(f"Range address families do not match {text} - skipping")
                return None
            if int(end_ip) < int(start):
                ctx.error(f"Address range end is less than address range start - {text} - skipping")
                return None
            return GroupRange(start=start, end=end_ip, port=port)
        if dash < 0:
            return GroupRange(start=start, end=start, port=port)
        # inet_stor: the last octet (IPv4, decimal) or 16-bit group (IPv6, hex)
        tail = text[dash + 1 :]
        value, rest = strtoul(tail, 10 if start.version == 4 else 16)
        if rest:
            warn = "" if ctx.config_test else "WARNING - "
            ctx.error(
                f"{warn}Virtual server group range '{text}' has extra characters at end '{rest}'",
                Severity.INVALID_NUMBER,
            )
            if ctx.config_test:
                return None
        elif value > (255 if start.version == 4 else 0xFFFF):
            ctx.error(
                f"Virtual server group range '{text}' end '{tail}' too large",
                Severity.INVALID_NUMBER,
            )
            return None
        unit = 0xFF if start.version == 4 else 0xFFFF
        low = int(start) & unit
        if low >= value:
            ctx.error(
                f"Address range end is not greater than address range start - {text} - skipping"
            )
            return None
        end = (
            ip_address((int(start) & ~unit) | value)
            if start.version == 4
            else IPv6Address((int(start) & ~unit) | value)
        )
        return GroupRange(start=start, end=end, port=port)

    def _address(self, text: str, port_word: str | None) -> IPAddress | None:
        """inet_stosockaddr with a port: the port is read (and reported) first."""
        if (
            port_word is not None
            and self.ctx.values.read_unsigned(port_word, 1, 65535, lenient=True) is None
        ):
            return None
        return inet_stosockaddr(text)

    def _virtual_server(self, st: Statement) -> None:
        ctx = self.ctx
        first = ctx.word(st, 1)
        vs = _Vs(location=st.location)
        if first == "group":
            vs.group = ctx.word(st, 2)
        elif first == "fwmark":
            word = ctx.word(st, 2)
            value = ctx.values.read_unsigned(word, 0, FWMARK_MAX, lenient=True)
            if value is None:
                ctx.error(f"virtual server fwmark '{word}' must be in [0, {FWMARK_MAX}] - ignoring")
                return
            vs.fwmark = value
        else:
            port_word = _port_word(st.words[2] if len(st.words) >= 3 else None)
            address = self._address(first, port_word)
            if address is None:
                slash = "/port" if port_word else ""
                tail = f"/{port_word}" if port_word else ""
                ctx.error(f"Invalid virtual server IP address{slash} {first}{tail} - skipping")
                return
            vs.address, vs.family = address, address.version
            vs.port = int(strtoul(port_word)[0]) if port_word else 0
        self.servers.append(vs)
        for child in st.children:
            ctx.at(child)
            self._vs_keyword(vs, child)
        ctx.location = st.end or st.location
        self._vs_end(vs)

    def _vs_end(self, vs: _Vs) -> None:
        """vs_end_handler: the sorry server's family, and a family for fwmark services."""
        s = vs.sorry
        if s is not None and (s.forwarding is None or s.forwarding.method is not Method.TUN):
            if vs.family is None:
                vs.family = s.address.version
            elif vs.family != s.address.version:
                self.ctx.error(
                    f"Address family of virtual server and sorry server {s.address} don't "
                    "match - skipping sorry server."
                )
                vs.sorry = None
        if vs.family is None and vs.group is None:
            families = [x.address.version for x in ([vs.sorry] if vs.sorry else [])]
            families += [rs.address.version for rs in vs.servers]
            vs.family = families[0] if families and len(set(families)) == 1 else 4

    def _forwarding(
        self, st: Statement, current: Forwarding | None, kind: str
    ) -> Forwarding | None:
        """svr_forwarding_handler: the method is set even if a tunnel option is wrong."""
        ctx = self.ctx
        word = ctx.word(st, 1)
        try:
            method = Method(word)
        except ValueError:
            ctx.error(f"PARSER : unknown [{word}] routing method for {kind} server.")
            return current
        base = current or Forwarding()
        partial = replace(base, method=method)
        tun_type, port, csum = TunnelType.IPIP, 0, TunnelChecksum.NOCSUM
        words = st.words
        i = 2
        while i < len(words):
            w = words[i]
            if w == "type":
                if i + 1 == len(words):
                    ctx.error(f"Missing tunnel type for {kind} server.")
                    return partial
                try:
                    tun_type = TunnelType(words[i + 1])
                except ValueError:
                    ctx.error(f"Unknown tunnel type {words[i + 1]} for {kind} server.")
                    return partial
                i += 1
            elif w == "port":
                if i + 1 == len(words):
                    ctx.error(f"Missing port for {kind} server gue tunnel.")
                    return partial
                value = ctx.values.read_unsigned(words[i + 1], 1, 65535)
                if value is None:
                    ctx.error(f"Invalid gue tunnel port {words[i + 1]} for {kind} server.")
                    return partial
                port = value
                i += 1
            elif w in ("nocsum", "csum", "remcsum"):
                csum = TunnelChecksum(w)
            else:
                ctx.error(f"Invalid tunnel option {w} for {kind} server.")
                return partial
            i += 1
        if (tun_type is TunnelType.GUE) != (port != 0):
            ctx.error("gue tunnels require port, otherwise cannot have port.")
            return partial
        if tun_type is TunnelType.IPIP and csum is not TunnelChecksum.NOCSUM:
            ctx.error("ipip tunnels do not support checksum option.")
            return partial
        if tun_type is TunnelType.GRE and csum is TunnelChecksum.REMCSUM:
            ctx.error("gre tunnels do not support remote checksum option.")
            return partial
        return Forwarding(method=method, tunnel_type=tun_type, tunnel_port=port, checksum=csum)

    def _retry_or_timer(
        self, st: Statement, f: dict[str, Any], timers: dict[str, tuple[int, int, str]]
    ) -> None:
        """``retry`` and the timers virtual and real servers share (their messages differ)."""
        if st.keyword == "retry":
            word = self.ctx.word(st, 1)
            retry = self.ctx.values.read_unsigned(word, 1, UINT_MAX)
            if retry is None:
                self.ctx.error(f"retry value invalid - {word}")
            else:
                f["retry"] = retry
            return
        low, high, message = timers[st.keyword]
        value = self._timer(st, low, high, message)
        if value is not None:
            f[f"{st.keyword}_us"] = value

    def _timer(self, st: Statement, low: int, high: int, message: str) -> int | None:
        word = self.ctx.word(st, 1)
        value = self.ctx.values.read_timer(word, low, high, lenient=True)
        if value is None:
            self.ctx.error(message.format(word))
        return value

    def _bool(self, st: Statement, message: str) -> bool | None:
        if len(st.words) < 2:
            return True
        value = true_false(st.words[1])
        if value is None:
            self.ctx.error(f"{message} {st.words[1]}")
        return value

    def _script(self, st: Statement, what: str) -> Script | None:
        if len(st.words) < 2:
            # notify_script_init logs "Unable to parse script '%s'" with word 1: exit 2
            self.ctx.word(st, 1)
        script = parse_script(self.ctx, st, what)
        if script is not None and script.user is None and self._default_user_fails():
            return None  # keepalived only logs "Failed to set default user ..."
        return script

    def _vs_keyword(self, vs: _Vs, st: Statement) -> None:
        ctx, values, kw, f = self.ctx, self.ctx.values, st.keyword, vs.fields
        if kw == "ip_family":
            word = ctx.word(st, 1)
            family = {"inet": 4, "inet6": 6}.get(word)
            if family is None:
                ctx.error(f"unknown address family {word}")
            elif vs.family is not None and family != vs.family:
                ctx.error(f"Virtual server specified family {word} conflicts with server family")
            else:
                vs.family = family
        elif kw in _VS_TIMERS or kw == "retry":
            self._retry_or_timer(st, f, _VS_TIMERS)
        elif kw == "inhibit_on_failure":
            f["inhibit_on_failure"] = True
        elif kw in ("lb_algo", "lvs_sched"):
            word = ctx.word(st, 1)
            try:
                vs.scheduler = Scheduler(word)
            except ValueError:
                ctx.error(f"Invalid lvs_scheduler '{word}' - ignoring")
        elif kw in ("hashed", "ops", "flag-1", "flag-2", "flag-3") or kw[:3] in ("sh-", "mh-"):
            if kw in ("ops", "flag-1", "flag-2", "flag-3"):
                vs.flags.add(kw)
            elif vs.scheduler is Scheduler.SH:
                if kw in ("sh-port", "sh-fallback"):
                    vs.flags.add(kw)
            elif vs.scheduler is Scheduler.MH:
                if kw in ("mh-port", "mh-fallback"):
                    vs.flags.add(kw)
            else:
                ctx.error(f"{kw} only applies to sh scheduler - ignoring")
        elif kw in ("lb_kind", "lvs_method"):
            vs.forwarding = self._forwarding(st, vs.forwarding, "virtual")
        elif kw == "persistence_engine":
            word = ctx.word(st, 1)
            if len(word) > PE_NAME_MAX:
                ctx.error(f"persistence_name too long, truncating - {word}")
            f["persistence_engine"] = word[:PE_NAME_MAX]
        elif kw == "persistence_timeout":
            if len(st.words) < 2:
                f["persistence_timeout"] = m.PERSISTENT_TIMEOUT_DEFAULT
                return
            value = values.read_unsigned(st.words[1], 1, m.LVS_MAX_TIMEOUT)
            if value is None:
                ctx.error("persistence_timeout invalid")
            else:
                f["persistence_timeout"] = value
        elif kw == "persistence_granularity":
            self._granularity(vs, st)
        elif kw == "protocol":
            word = ctx.word(st, 1)
            try:
                vs.protocol = Protocol(word.upper())
            except ValueError:
                ctx.error(f"Unknown protocol {word} - ignoring")
        elif kw in ("ha_suspend", "alpha", "omega"):
            f[kw] = True
        elif kw == "smtp_alert":
            flag = self._bool(st, "Invalid virtual_server smtp_alert parameter")
            if flag is not None:
                f["smtp_alert"] = flag
        elif kw == "virtualhost":
            if len(st.words) < 2:
                ctx.error("virtual server virtualhost missing")
            else:
                f["virtualhost"] = st.words[1]
        elif kw == "snmp_name":
            if len(st.words) != 2:
                ctx.error("virtual server snmp_name missing or extra parameters")
            else:
                f["snmp_name"] = st.words[1]
        elif kw in ("quorum_up", "quorum_down"):
            if kw in f:
                ctx.error(
                    f"({vs.group or '(null)'}) {kw} script already specified - ignoring "
                    f"{ctx.word(st, 1)}"
                )
                return
            script = self._script(st, "quorum")
            if script is not None:
                f[kw] = script
        elif kw == "quorum":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 1, UINT_MAX, lenient=True)
            if value is None:
                ctx.error(f"Quorum {word} must be in [1, {UINT_MAX}]. Setting to 1.")
                value = 1
            f["quorum"] = value
        elif kw == "hysteresis":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, UINT_MAX, lenient=True)
            if value is None:
                ctx.error(f"Hysteresis {word} must be in [0, {UINT_MAX}] - ignoring")
            else:
                f["hysteresis"] = value
        elif kw == "weight":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 1, m.WEIGHT_LIMIT, lenient=True)
            if value is None:
                ctx.error(f"Virtual server weight {word} is outside range 1-{m.WEIGHT_LIMIT}")
            else:
                f["weight"] = value
        elif kw == "sorry_server":
            address_word = ctx.word(st, 1)
            port_word = _port_word(st.words[2] if len(st.words) >= 3 else None)
            address = self._address(address_word, port_word)
            if address is None:
                ctx.error(f"Invalid sorry server IP address {address_word} - skipping")
                return
            port = int(strtoul(port_word)[0]) if port_word else 0
            vs.sorry = _Server(address, port, vs.forwarding)
        elif kw == "sorry_server_inhibit":
            if vs.sorry is None:
                ctx.error("Ignoring sorry_server inhibit used before or without sorry_server")
            else:
                vs.sorry.inhibit = True
        elif kw == "sorry_server_lvs_method":
            if vs.sorry is None:
                ctx.error("sorry_server forwarding used without sorry_server")
            else:
                vs.sorry.forwarding = self._forwarding(st, vs.sorry.forwarding, "sorry")
        elif kw == "real_server":
            self._real_server(vs, st)

    def _granularity(self, vs: _Vs, st: Statement) -> None:
        ctx = self.ctx
        word = ctx.word(st, 1)
        family = vs.family or (4 if "." in word else 6)
        value: IPv4Address | int | None
        if family == 6:
            value = ctx.values.read_unsigned(word, 1, 128)
            if value is None:
                ctx.error(f"Invalid IPv6 persistence_granularity specified - {word}")
                return
        else:
            value = _inet_aton(word)
            if value is None:
                ctx.error(f"Invalid IPv4 persistence_granularity specified - {word}")
                return
        vs.fields["persistence_granularity"] = value
        if vs.family is None:
            vs.family = family
        if not vs.fields.get("persistence_timeout"):
            vs.fields["persistence_timeout"] = m.PERSISTENT_TIMEOUT_DEFAULT

    def _real_server(self, vs: _Vs, st: Statement) -> None:
        ctx = self.ctx
        address_word = ctx.word(st, 1)
        raw_port = st.words[2] if len(st.words) >= 3 else None
        port_word = _port_word(raw_port)
        address = self._address(address_word, port_word)
        if address is None:
            ctx.error(
                f"Invalid real server ip address/port {address_word}/{raw_port or '(null)'} "
                "- skipping"
            )
            return
        rs = _Server(address, int(strtoul(port_word)[0]) if port_word else 0, vs.forwarding)
        vs.servers.append(rs)
        for child in st.children:
            ctx.at(child)
            if child.keyword in CHECKER_KEYWORDS:
                self._checker(vs, rs, child)
            else:
                self._rs_keyword(vs, rs, child)
        ctx.location = st.end or st.location
        # rs_end_handler
        if rs.forwarding is None or rs.forwarding.method is not Method.TUN:
            if vs.family is None:
                vs.family = rs.address.version
            elif vs.family != rs.address.version:
                ctx.error(
                    f"Address family of virtual server and real server {rs.address} don't "
                    "match - skipping real server."
                )
                vs.servers.remove(rs)

    def _checker(self, vs: _Vs, rs: _Server, st: Statement) -> None:
        def timeouts() -> int:
            value = rs.fields.get("connect_timeout_us")
            if value is None:
                value = vs.fields.get("connect_timeout_us", m.DEFAULT_CONNECT_TIMEOUT_US)
            return int(value)

        reader = CheckerReader(
            self.ctx,
            rs.address,
            format_rs=lambda: vs.format_rs(rs),
            bfd_known=self._bfd_known,
            find_track_file=self._track_file,
            default_script_user_fails=self._default_user_fails,
            timeouts=timeouts,
            rs_bfds=rs.bfds,
        )
        draft = reader.read(st)
        if draft is not None:
            draft.fields.setdefault("_rs_port", rs.port)
            rs.checks.append(draft)

    def _rs_keyword(self, vs: _Vs, rs: _Server, st: Statement) -> None:
        ctx, values, kw, f = self.ctx, self.ctx.values, st.keyword, rs.fields
        if kw == "weight":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, m.WEIGHT_LIMIT, lenient=True)
            if value is None:
                ctx.error(f"Real server weight {word} is outside range 0-{m.WEIGHT_LIMIT}")
            else:
                f["weight"] = value
        elif kw == "lvs_method":
            rs.forwarding = self._forwarding(st, rs.forwarding, "real")
        elif kw in ("uthreshold", "lthreshold"):
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, UINT_MAX, lenient=True)
            if value is None:
                ctx.error(f"Invalid real_server {kw} '{word}' - ignoring")
            else:
                f[kw] = value
        elif kw in ("inhibit_on_failure", "alpha", "smtp_alert"):
            message = {
                "inhibit_on_failure": "Invalid inhibit_on_failure parameter",
                "alpha": "Invalid alpha parameter",
                "smtp_alert": "Invalid real_server smtp_alert parameter",
            }[kw]
            flag = self._bool(st, message)
            if flag is not None:
                f[kw] = flag
        elif kw in ("notify_up", "notify_down"):
            if kw in f:
                ctx.error(
                    f"({vs.group or '(null)'}) {kw} script already specified - ignoring "
                    f"{ctx.word(st, 1)}"
                )
                return
            script = self._script(st, "notify")
            if script is not None:
                f[kw] = script
        elif kw in _RS_TIMERS or kw == "retry":
            self._retry_or_timer(st, f, _RS_TIMERS)
        elif kw == "virtualhost":
            if len(st.words) < 2:
                ctx.error("real server virtualhost missing")
            else:
                f["virtualhost"] = st.words[1]
        elif kw == "snmp_name":
            if len(st.words) != 2:
                ctx.error("real server snmp_name missing or extra parameters")
            else:
                f["snmp_name"] = st.words[1]

    # --- post-parse -------------------------------------------------------------------

    def finish(self) -> LvsConfig:
        ctx = self.ctx
        ctx.location = None
        servers = self._link_groups()
        result: list[VirtualServer] = []
        for vs in servers:
            ctx.subject = vs.location
            built = self._validate(vs)
            if built is not None:
                result.append(built)
        ctx.subject = None
        ssl = SslConfig(**self.ssl) if self.ssl is not None else None
        config = LvsConfig(ssl=ssl, groups=tuple(self.groups), virtual_servers=tuple(result))
        self._check_scripts(config)
        return config

    def _link_groups(self) -> list[_Vs]:
        """ipwrapper.c link_vsg_to_vs: unknown or mismatched groups drop the service (logged)."""
        kept: list[_Vs] = []
        for vs in self.servers:
            if vs.group is None:
                kept.append(vs)
                continue
            group = next((g for g in self.groups if g.name == vs.group), None)
            if group is None:
                continue
            v4, v6 = group.has_ipv4, group.has_ipv6
            group_family = None if v4 == v6 else (4 if v4 else 6)
            if v4 and v6 and vs.family is not None:
                continue
            if (v4 and vs.family == 6) or (v6 and vs.family == 4):
                continue
            if group_family is not None and vs.family is None:
                vs.family = group_family
            vs.group_ref = group
            kept.append(vs)
        for group in self.groups:
            members = [vs for vs in kept if vs.group == group.name]
            for number, vs in enumerate(members):
                vs.port = number
        return kept

    def _validate(self, vs: _Vs) -> VirtualServer | None:
        """validate_check_config for one virtual server."""
        ctx, f = self.ctx, vs.fields
        if not vs.servers:
            ctx.after_parse(f"Virtual server {vs.format()} has no real servers - ignoring")
            return None
        group = vs.group_ref
        has_fwmark = vs.fwmark is not None or (group is not None and bool(group.fwmarks))
        if f.get("ha_suspend") and has_fwmark:
            ctx.after_parse(
                f"Virtual server {vs.format()}: cannot use ha_suspend with fwmarks - clearing "
                "ha_suspend"
            )
            f["ha_suspend"] = False
        by_address = (group is not None and bool(group.ranges)) or (
            group is None and vs.fwmark is None
        )
        if by_address:
            if vs.protocol is None:
                ctx.after_parse(
                    f"Virtual server {vs.format()}: no protocol set - defaulting to UDP"
                )
                vs.protocol = Protocol.UDP
            if "ops" in vs.flags and vs.protocol is not Protocol.UDP:
                ctx.after_parse(
                    f"Virtual server {vs.format()}: one packet scheduling requires UDP - resetting"
                )
                vs.flags.discard("ops")
            if not f.get("persistence_timeout") and group is None and not vs.port:
                ctx.after_parse(
                    f"Virtual server {vs.format()}: zero port only valid for persistent "
                    "services - setting"
                )
                f["persistence_timeout"] = m.PERSISTENT_TIMEOUT_DEFAULT
        if (
            not f.get("persistence_timeout")
            and group is not None
            and any(not r.port for r in group.ranges)
        ):
            ctx.after_parse(
                f"Virtual server {vs.format()}: zero port only valid for persistent "
                "services - setting"
            )
            f["persistence_timeout"] = m.PERSISTENT_TIMEOUT_DEFAULT
        fwmark_only = (group is not None and not group.ranges and bool(group.fwmarks)) or (
            group is None and vs.fwmark is not None
        )
        if vs.protocol is not None and fwmark_only:
            ctx.after_parse(
                f"Warning: Virtual server {vs.format()}: protocol specified for fwmark - "
                "protocol will be ignored"
            )
            vs.protocol = None
        if vs.scheduler is None:
            ctx.after_parse(
                f"Virtual server {vs.format()}: no scheduler set, setting default 'wlc'",
                corrected=True,
            )
            vs.scheduler = Scheduler.WLC
        if "smtp_alert" not in f:
            f["smtp_alert"] = self._smtp_alert_default(False)

        weight_sum = 0
        kept: list[_Server] = []
        for rs in vs.servers:
            if any(o.address == rs.address and o.port == rs.port for o in kept):
                ctx.after_parse(
                    f"VS {vs.format()}: real server {vs.format_rs(rs)} is duplicated - "
                    "removing second rs"
                )
                continue
            kept.append(rs)
            if rs.forwarding is None:
                rs.forwarding = self._vs_forwarding(vs)
            rf, vf = rs.fields, f
            rf.setdefault("alpha", vf.get("alpha", False))
            rf.setdefault("inhibit_on_failure", vf.get("inhibit_on_failure", False))
            for key in ("retry", "warmup_us", "delay_before_retry_us"):
                if key not in rf and key in vf:
                    rf[key] = vf[key]
            rf.setdefault(
                "connect_timeout_us", vf.get("connect_timeout_us", m.DEFAULT_CONNECT_TIMEOUT_US)
            )
            rf.setdefault("delay_loop_us", vf.get("delay_loop_us", m.DEFAULT_DELAY_LOOP_US))
            rf.setdefault("weight", vf.get("weight", 1))
            if "smtp_alert" not in rf:
                rf["smtp_alert"] = self._smtp_alert_default(True)
            weight_sum = (weight_sum + rf["weight"]) % 2**32  # unsigned in keepalived
            s = vs.sorry
            same = s is not None and s.address == rs.address and s.port == rs.port
            if s is not None and same and s.inhibit != rf["inhibit_on_failure"]:
                ctx.after_parse(
                    f"Virtual server {vs.format()}: real server {vs.format_rs(rs)} matches "
                    "sorry server, but inhibit setting differs, "
                    f"{'sett' if rf['inhibit_on_failure'] else 'clear'}ing on sorry server"
                )
                s.inhibit = rf["inhibit_on_failure"]
        vs.servers = kept
        if vs.sorry is not None and vs.sorry.forwarding is None:
            vs.sorry.forwarding = self._vs_forwarding(vs)

        quorum = f.get("quorum", 1)
        if quorum > weight_sum:
            ctx.after_parse(
                f"Warning - quorum {quorum} for {vs.format()} exceeds total weight of real "
                f"servers {weight_sum}, reducing quorum to {weight_sum}",
                corrected=True,
            )
            quorum = weight_sum
        hysteresis = f.get("hysteresis", 0)
        if hysteresis >= quorum:
            new = (quorum - 1) % 2**32
            ctx.after_parse(
                f"Virtual server {vs.format()}: hysteresis {hysteresis} >= quorum {quorum}; "
                f"setting hysteresis to {new}",
                corrected=True,
            )
            hysteresis = new
        f["quorum"], f["hysteresis"] = quorum, hysteresis
        self._ports(vs)
        return self._build_vs(vs)

    def _vs_forwarding(self, vs: _Vs) -> Forwarding:
        if vs.forwarding is None:
            self.ctx.after_parse(
                f"Virtual server {vs.format()}: no forwarding method set, setting default NAT",
                corrected=True,
            )
            vs.forwarding = Forwarding()
        return vs.forwarding

    def _smtp_alert_default(self, fallback: bool) -> bool:
        """smtp_alert_checker, else smtp_alert (global_defs), else ``fallback``."""
        smtp = self._global("smtp", None)
        for key in ("alert_checker", "alert"):
            value = smtp.get(key) if isinstance(smtp, dict) else None
            if value is None:
                value = self._global(f"smtp_{key}", None)
            if isinstance(value, bool):
                return value
        return fallback

    def _ports(self, vs: _Vs) -> None:
        """The real/sorry server port checks (and corrections) for non-NAT forwarding."""
        ctx, group = self.ctx, vs.group_ref
        nat = Method.NAT
        if group is not None:
            if group.fwmarks:
                for rs in vs.servers:
                    assert rs.forwarding is not None
                    if rs.forwarding.method is not nat and rs.port:
                        ctx.after_parse(
                            f"WARNING - fwmark virtual server {vs.format()}, real server "
                            f"{vs.format_rs(rs)} has port specified - port will be ignored"
                        )
                s = vs.sorry
                if s is not None and s.forwarding and s.forwarding.method is not nat and s.port:
                    ctx.after_parse(
                        f"WARNING - fwmark virtual server {vs.format()}, sorry server has port "
                        "specified - port will be ignored"
                    )
            for entry in group.ranges:
                for rs in vs.servers:
                    assert rs.forwarding is not None
                    if rs.forwarding.method is nat:
                        continue
                    if rs.port and entry.port != rs.port:
                        ctx.after_parse(
                            f"virtual server {vs.format()}:[{_format_entry(entry)}] and real "
                            f"server {vs.format_rs(rs)} ports don't match"
                        )
                s = vs.sorry
                if (
                    s is not None
                    and s.forwarding
                    and s.forwarding.method is not nat
                    and s.port
                    and entry.port != s.port
                ):
                    ctx.after_parse(
                        f"WARNING - virtual server {vs.format()}, sorry server has port "
                        "specified - port will be ignored"
                    )
            return
        for rs in vs.servers:
            assert rs.forwarding is not None
            if rs.forwarding.method is nat:
                if vs.fwmark is None and not rs.port:
                    rs.port = vs.port
                continue
            if vs.fwmark is not None:
                if rs.port:
                    ctx.after_parse(
                        f"WARNING - fwmark virtual server {vs.format()}, real server "
                        f"{vs.format_rs(rs)} has port specified - clearing"
                    )
                    rs.port = 0
            elif not rs.port:
                rs.port = vs.port
            elif rs.port != vs.port:
                ctx.after_parse(
                    f"WARNING - virtual server {vs.format()} and real server "
                    f"{vs.format_rs(rs)} ports don't match - resetting"
                )
                rs.port = vs.port
        s = vs.sorry
        if s is not None and s.forwarding and s.forwarding.method is not nat:
            if vs.fwmark is not None:
                if s.port:
                    ctx.after_parse(
                        f"WARNING - virtual server {vs.format()}, sorry server has port "
                        "specified - clearing"
                    )
                    s.port = 0
            elif not s.port:
                s.port = vs.port
            elif s.port != vs.port:
                ctx.after_parse(
                    f"WARNING - virtual server {vs.format()} and sorry server ports don't "
                    "match - resetting"
                )
                s.port = vs.port

    def _build_vs(self, vs: _Vs) -> VirtualServer:
        f = vs.fields
        flags: dict[str, Any] = {name.replace("-", "_"): True for name in vs.flags}
        sorry = None
        if vs.sorry is not None:
            s = vs.sorry
            assert s.forwarding is not None
            sorry = SorryServer(
                address=s.address, port=s.port, forwarding=s.forwarding, inhibit=s.inhibit
            )
        fields = {k: v for k, v in f.items() if not k.startswith("_")}
        assert vs.scheduler is not None
        return VirtualServer(
            address=vs.address,
            port=vs.port if vs.group is None else 0,
            fwmark=vs.fwmark,
            group=vs.group,
            family=vs.family,
            protocol=vs.protocol,
            scheduler=vs.scheduler,
            forwarding=vs.forwarding,
            sorry_server=sorry,
            real_servers=tuple(self._build_rs(vs, rs) for rs in vs.servers),
            **flags,
            **fields,
        )

    def _build_rs(self, vs: _Vs, rs: _Server) -> RealServer:
        f = rs.fields
        assert rs.forwarding is not None
        checks = tuple(self._build_check(vs, rs, c) for c in rs.checks)
        return RealServer(
            address=rs.address,
            port=rs.port,
            forwarding=rs.forwarding,
            checks=checks,
            **f,
        )

    def _build_check(self, vs: _Vs, rs: _Server, c: CheckDraft) -> m.AnyCheck:
        f = {k: v for k, v in c.fields.items() if not k.startswith("_")}
        rf = rs.fields
        if c.kind == "FILE_CHECK":
            return FileCheck(track_file=f["track_file"], weight=f["weight"], reverse=f["reverse"])
        if c.kind == "BFD_CHECK":
            return BfdCheck(name=f["name"], alpha=f.get("alpha", rf["alpha"]))
        common: dict[str, Any] = {"alpha": f.get("alpha", rf["alpha"])}
        default_retry = {"MISC_CHECK": 0, "DNS_CHECK": m.DNS_DEFAULT_RETRY}.get(c.kind, 1)
        common["retry"] = f.get("retry", rf.get("retry", default_retry))
        delay_loop = f.get("delay_loop_us", rf["delay_loop_us"])
        common["delay_loop_us"] = delay_loop
        common["warmup_us"] = f.get("warmup_us", rf.get("warmup_us", delay_loop))
        default_dbr = {"HTTP_GET": 3 * m.US, "SSL_GET": 3 * m.US, "DNS_CHECK": 0}.get(c.kind, m.US)
        common["delay_before_retry_us"] = f.get(
            "delay_before_retry_us", rf.get("delay_before_retry_us", default_dbr or delay_loop)
        )
        common["log_all_failures"] = f.get("log_all_failures", False)
        for key in ("alpha", "retry", "delay_loop_us", "warmup_us", "delay_before_retry_us",
                    "log_all_failures"):  # fmt: skip
            f.pop(key, None)
        if c.kind == "MISC_CHECK":
            assert c.script is not None
            return MiscCheck(script=c.script, **common, **f)
        assert c.conn is not None
        timeout = rf["connect_timeout_us"]
        if c.kind == "SMTP_CHECK":
            timeout = c.resolved_timeout_us if c.resolved_timeout_us is not None else timeout
        conn = _connection(c.conn, timeout)
        if c.kind == "TCP_CHECK":
            return TcpCheck(connection=conn, **common)
        if c.kind == "PING_CHECK":
            return PingCheck(connection=conn, **common)
        if c.kind == "UDP_CHECK":
            return UdpCheck(connection=conn, **common, **f)
        if c.kind == "DNS_CHECK":
            return DnsCheck(connection=conn, **common, **f)
        if c.kind == "SMTP_CHECK":
            hosts = tuple(_connection(h, t) for h, t in zip(c.hosts, c.host_timeouts, strict=True))
            if not f.get("use_connection", True):
                conn = Connection()
            return SmtpCheck(connection=conn, hosts=hosts, **common, **f)
        urls = tuple(Url(**u) for u in c.urls)
        return HttpCheck(connection=conn, urls=urls, **common, **f)

    def _check_scripts(self, config: LvsConfig) -> None:
        ctx = self.ctx
        if ctx.script_host is None or not config.virtual_servers:
            return
        scripts: list[Script] = []
        for vs in config.virtual_servers:
            for rs in vs.real_servers:
                scripts += [c.script for c in rs.checks if isinstance(c, MiscCheck)]
        for vs in config.virtual_servers:
            scripts += [s for s in (vs.quorum_up, vs.quorum_down) if s is not None]
            for rs in vs.real_servers:
                scripts += [s for s in (rs.notify_up, rs.notify_down) if s is not None]
        g = self.builders.by_name.get("global")
        ids_fn = getattr(g, "script_ids", None)
        ids = ids_fn() if callable(ids_fn) else (0, 0)
        check_scripts(
            ctx,
            ctx.script_host,
            scripts,
            script_security=self._script_security(),
            default_user=ids,
            what="check scripts",
        )


def _connection(conn: ConnDraft, timeout: int) -> Connection:
    fields = dict(conn.fields)
    fields.setdefault("connect_timeout_us", timeout)
    return Connection(**fields)


def _format_entry(entry: GroupRange) -> str:
    if entry.start != entry.end:
        return f"{entry.start}-{entry.end},{entry.port}"
    return f"{entry.start},{entry.port}"


def _inet_aton(text: str) -> IPv4Address | None:
    """glibc inet_aton (as getaddrinfo with AI_NUMERICHOST reads IPv4): a, a.b, a.b.c, a.b.c.d."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        if not part:
            return None
        try:
            if part.lower().startswith("0x"):
                numbers.append(int(part[2:], 16) if part[2:] else 0)
            elif part.startswith("0") and len(part) > 1:
                numbers.append(int(part, 8))
            else:
                numbers.append(int(part, 10) if part.isdigit() else -1)
        except ValueError:
            return None
        if numbers[-1] < 0:
            return None
    limits = [2**32, 2**24, 2**16, 2**8][len(numbers) - 1]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= limits:
        return None
    value = 0
    for n in numbers[:-1]:
        value = value << 8 | n
    value = value << (8 * (4 - len(numbers) + 1)) | numbers[-1]
    return IPv4Address(value)
