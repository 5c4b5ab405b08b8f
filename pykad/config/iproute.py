"""keepalived's ``ip addr`` / ``ip route`` / ``ip rule`` config lines (2.2.7).

One line of ``virtual_ipaddress``, ``virtual_ipaddress_excluded`` or
``static_ipaddress`` (``parse_address``: vrrp_ipaddress.c ``alloc_ipaddress``),
of ``virtual_routes`` / ``static_routes`` (``parse_route``: vrrp_iproute.c
``alloc_route``) and of ``virtual_rules`` / ``static_rules`` (``parse_rule``:
vrrp_iprule.c ``alloc_rule``), with keepalived's messages, into frozen models;
``format_*`` write a model back as one line that parses to an equal model.

Each parser returns None where keepalived drops the line. A word a keyword
needs that is missing stops the whole parse, as keepalived's ``strvec_slot``
does (``MissingParameter``, exit 2) — except in address lines, where
keepalived reports "No %s parameter specified for %s" and drops the line.

Shared VRRP-process state lives on the ``Context`` (``state(ctx)``): whether a
named interface was missing (keepalived's ``non_existent_interface_specified``,
reported once by ``report_missing_interface``) and the automatic rule
priorities (16384 down, per family, over static and virtual rules alike).
Names (tables, scopes, protocols, dsfields, realms, groups) come from
``ctx.host.iproute2_file(name)`` if the host has it, else a stock iproute2
install (``_iproute_names``).
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Any

from pykad.config._iproute_names import (
    INT32_MAX,
    UINT32_MAX,
    WHITE_SPACE,
    RtNames,
    names_from_host,
    strtoul,
)
from pykad.config.build import Context, MissingParameter
from pykad.config.diagnostics import Location, Severity

__all__ = [
    "Encap",
    "EncapType",
    "IpAddress",
    "Nexthop",
    "Route",
    "RouteMode",
    "RtNames",
    "Rule",
    "RuleAction",
    "format_address",
    "format_route",
    "format_rule",
    "parse_address",
    "parse_route",
    "parse_rule",
    "report_missing_interface",
    "state",
]

IPAddress = IPv4Address | IPv6Address
IPInterface = IPv4Interface | IPv6Interface

INFINITY_LIFE_TIME = 0xFFFFFFFF
IFNAMSIZ = 16
RTPROT_KEEPALIVED = 18
RULE_START_PRIORITY = 16384
RT_TABLE_MAIN = 254
RTT_MIN_MS, RTT_MAX_MS = 200, 120000
MPLS_LABEL_MAX = 0xFFFFF
MAX_MPLS_LABELS = 2
DEFAULT_INTERFACE = "eth0"

RTN_TYPES = (
    ("local", 2), ("nat", 10), ("broadcast", 3), ("brd", 3), ("anycast", 4), ("multicast", 5),
    ("prohibit", 8), ("unreachable", 7), ("blackhole", 6), ("xresolve", 11), ("unicast", 1),
    ("throw", 9),
)  # fmt: skip
RTN_UNICAST, RTN_BLACKHOLE, RTN_UNREACHABLE, RTN_PROHIBIT = 1, 6, 7, 8


# --- shared VRRP-process state ----------------------------------------------------------


@dataclass
class IprouteState:
    """What keepalived's VRRP process keeps in globals while it parses."""

    names: RtNames
    missing_interface: bool = False
    """keepalived's ``non_existent_interface_specified``."""
    missing_interface_at: Location | None = None
    """Where the first interface that does not exist was named."""
    missing_interface_reported: bool = False
    next_rule_priority: dict[int, int] = field(
        default_factory=lambda: {4: RULE_START_PRIORITY, 6: RULE_START_PRIORITY}
    )
    builders: Any = None
    """The build's ``Builders`` (set by the static section), to read global_defs from."""

    def _global(self, name: str, default: Any) -> Any:
        builder = self.builders.by_name.get("global") if self.builders is not None else None
        for source in (getattr(builder, "defs", None), getattr(builder, "part", None)):
            value = getattr(source, name, None)
            if value is not None:
                return value
        return default

    @property
    def dynamic_interfaces(self) -> bool:
        """global_defs ``dynamic_interfaces`` (a missing interface is then no error)."""
        return bool(self._global("dynamic_interfaces", False))

    @property
    def default_interface(self) -> str:
        """global_defs ``default_interface`` (static addresses without ``dev``)."""
        return str(self._global("default_interface", DEFAULT_INTERFACE))


def state(ctx: Context) -> IprouteState:
    """The state of this parse (created on first use)."""
    found: IprouteState | None = getattr(ctx, "_iproute_state", None)
    if found is None:
        found = IprouteState(names_from_host(ctx.host))
        setattr(ctx, "_iproute_state", found)  # noqa: B010
    return found


def interface_known(ctx: Context, name: str) -> bool:
    """keepalived's ``if_get_by_ifname(name, IF_CREATE_IF_DYNAMIC)`` succeeds."""
    st = state(ctx)
    if ctx.host.interface_exists(name) or st.dynamic_interfaces:
        return True
    if not st.missing_interface:
        st.missing_interface_at = ctx.location
    st.missing_interface = True
    return False


def report_missing_interface(ctx: Context) -> bool:
    """After the VRRP-process parse: "Non-existent interface specified in configuration".

    Reported once (by whichever section finishes first); True if an interface
    was missing (keepalived then stops: no further VRRP checks run).
    """
    st = state(ctx)
    if st.missing_interface and not st.missing_interface_reported:
        st.missing_interface_reported = True
        ctx.after_parse(
            "Non-existent interface specified in configuration",
            Severity.BAD_IF,
            st.missing_interface_at,
        )
    return st.missing_interface


# --- word access and number readers --------------------------------------------------------


class _Line:
    """A value line's words; a missing word stops the parse (``strvec_slot``)."""

    def __init__(self, ctx: Context, words: Sequence[str]) -> None:
        self.ctx = ctx
        self.words = tuple(words)

    def __len__(self) -> int:
        return len(self.words)

    def __getitem__(self, index: int) -> str:
        if index < len(self.words):
            return self.words[index]
        first = self.words[0] if self.words else "***MISSING ***"
        if 0 < index <= len(self.words):
            message = (
                f"*** Configuration line starting `{first}` is missing a parameter after "
                f"keyword `{self.words[index - 1]}` at word position {index + 1}"
            )
        else:
            message = (
                f"*** Configuration line starting `{first}` is missing a parameter at word "
                f"position {index + 1}"
            )
        self.ctx.error(message, Severity.MISSING_PARAMETER)
        raise MissingParameter(message)


def _unsigned(ctx: Context, word: str, low: int, high: int, base: int = 10) -> int | None:
    """``read_unsigned_func`` (not lenient) with a base."""
    offset = len(word) - len(word.lstrip(WHITE_SPACE))
    value, end = strtoul(word[offset:], base)
    end = end + offset if end else offset
    bad = Severity.INVALID_NUMBER
    if word[offset : offset + 1] == "-":
        ctx.error(f"negative number '{word}'", bad)
    elif end != len(word):
        ctx.error(f"invalid number '{word}'", bad)
    elif value > UINT32_MAX:
        ctx.error(f"number '{word}' outside unsigned integer range", bad)
    elif not low <= value <= high:
        ctx.error(f"number '{word}' outside range [{low}, {high}]", bad)
    else:
        return value
    return None


def _get_u(ctx: Context, word: str, high: int, message: str) -> int | None:
    """``get_u8``/``get_u16``/``get_u32``: ``message`` (with %s) when ``word`` is bad."""
    value = _unsigned(ctx, word, 0, high)
    if value is None:
        ctx.error(message.replace("%s", word, 1))
    return value


def _get_u64(ctx: Context, word: str, message: str) -> int | None:
    value = ctx.values.read_unsigned(word, 0, 2**64 - 1, limit=2**64 - 1)
    if value is None:
        ctx.error(message.replace("%s", word, 1))
        return None
    return value & UINT32_MAX  # read_unsigned64 truncates to 32 bits in 2.2.7


def _read_decimal(ctx: Context, word: str, high: int, shift: int) -> int | None:
    """``read_decimal_unsigned`` (not lenient), range [0, high], value x 10**shift."""
    bad = Severity.INVALID_NUMBER
    if word.startswith("-"):
        ctx.error(f"negative number '{word}'", bad)
        return None
    whole, _, frac = word.partition(".")
    round_up = False
    if len(frac) > shift:
        ctx.error(f"number '{word}' has too many decimal places", bad)
        round_up = frac[shift] >= "5"
        frac = frac[:shift]
    digits = whole + frac + "0" * (shift - len(frac))
    value, end = strtoul(digits, 10)
    value += round_up
    if (end or 0) != len(digits) and not (digits == "" and end == 0):
        ctx.error(f"invalid number '{word}'", bad)
    elif value > 2**64 - 1:
        ctx.error(f"number '{word}' outside unsigned decimal range", bad)
        return None
    elif value > high:
        unit = 10**shift

        def fmt(v: int) -> str:
            return f"{v // unit}." + (f"{v % unit:0{shift}d}" if shift else "")

        ctx.error(f"number '{word}' outside range [{fmt(0)}, {fmt(high)}]", bad)
    else:
        return value
    return None


def _get_time_rtt(ctx: Context, word: str, unit_mult: int) -> int | None:
    """``get_time_rtt``: a raw value, or seconds/milliseconds with ``s``/``ms``."""
    text = word.lstrip(WHITE_SPACE)
    m = re.search("[sS]", text)
    raw, shift = True, 0
    number = text
    if m:
        tail = text[m.start() :].lower()
        if tail not in ("s", "sec", "secs"):
            return None
        raw = False
        p = m.start()
        if p > 0 and text[p - 1].lower() == "m":
            shift, p = 0, p - 1
        else:
            shift = 3
        if p == 0:
            return None
        number = text[:p]
    if re.search("[eE]", number):
        ctx.note(f"rtt value exponential form {text} no longer supported")
        return None
    value = _read_decimal(ctx, number, RTT_MAX_MS * unit_mult, shift)
    if value is None:
        return None
    if not raw:
        value *= unit_mult
    return max(RTT_MIN_MS * unit_mult, min(value, RTT_MAX_MS * unit_mult))


_OCTET = r"(0|[1-9][0-9]{0,2})"
_DOTTED_QUAD = re.compile(r"\.".join([_OCTET] * 4), re.ASCII)


def _pton(text: str) -> IPAddress | None:
    """``inet_pton`` of the family ``text`` names (IPv6 if it has a ``:``); the dotted
    quad is read here (``IPv4Address`` reads it alike, slowly: many are read)."""
    if ":" in text:
        try:
            return None if "%" in text else IPv6Address(text)
        except ipaddress.AddressValueError:
            return None
    m = _DOTTED_QUAD.fullmatch(text)
    if m is None:
        return None
    a, b, c, d = (int(x) for x in m.groups())
    if max(a, b, c, d) > 255:
        return None
    return IPv4Address(a << 24 | b << 16 | c << 8 | d)


def _interface(address: IPAddress, prefixlen: int) -> IPInterface:
    if address.version == 6:
        return IPv6Interface((int(address), prefixlen))
    return IPv4Interface((int(address), prefixlen))


def _parse_ipaddress(ctx: Context, text: str, allow_subnet_mask: bool) -> IPInterface | None:
    """``parse_ipaddress``: ``ADDR[/PREFIX]`` with keepalived's messages."""
    v6 = ":" in text
    maxlen = 128 if v6 else 32
    prefixlen = maxlen
    addr_text = text
    if allow_subnet_mask and "/" in text:
        addr_text, _, prefix = text.partition("/")
        value = ctx.values.read_unsigned(prefix, 0, maxlen, lenient=True)
        if value is None:
            ctx.error(f"Invalid address prefix len {prefix} for address {text} - using {maxlen}")
        else:
            prefixlen = value
    address = _pton(addr_text)
    if address is None or (address.version == 6) != v6:
        ctx.error(f"VRRP parsed invalid IP {text}. skipping IP...")
        return None
    return _interface(address, prefixlen)


def _parse_route_dst(ctx: Context, text: str) -> tuple[IPInterface | None, bool]:
    """``parse_route``: (prefix, family given); default/any/all have no family yet."""
    if text in ("default", "any", "all"):
        return IPv4Interface("0.0.0.0/0"), False
    if text == "default6":
        ctx.note("'default6' is deprecated - please replace with 'inet6 default'")
        return IPv6Interface("::/0"), True
    return _parse_ipaddress(ctx, text, True), True


def _with_family(prefix: IPInterface, family: int) -> IPInterface:
    if prefix.version == family:
        return prefix
    return IPv6Interface("::/0") if family == 6 else IPv4Interface("0.0.0.0/0")


# --- addresses --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class IpAddress:
    """One address line (``ip addr add`` in keepalived's syntax)."""

    address: IPInterface
    """The address with its prefix length (with a peer: the peer's, i.e. /32 or /128)."""
    dev: str | None = None
    """None: the VRRP instance's interface (static addresses get the default interface)."""
    scope: int = 0
    broadcast: IPv4Address | None = None
    label: str | None = None
    peer: IPAddress | None = None
    home: bool = False
    nodad: bool = False
    """``-nodad``: keep duplicate address detection (keepalived sets IFA_F_NODAD otherwise)."""
    mngtmpaddr: bool = False
    noprefixroute: bool = False
    autojoin: bool = False
    no_track: bool = False
    use_vmac: bool = False
    preferred_lft: int | None = None
    """IPv6: seconds (INFINITY_LIFE_TIME: forever); default 0 for /128, else forever."""
    track_group: str | None = None


_ADDRESS_PARAMS = frozenset({"dev", "scope", "broadcast", "brd", "label", "peer", "preferred_lft"})


def parse_address(
    ctx: Context,
    words: Sequence[str],
    *,
    where: str,
    static: bool = False,
    track_groups: Collection[str] = (),
) -> IpAddress | None:
    """One ``virtual_ipaddress``/``virtual_ipaddress_excluded``/``static_ipaddress`` line.

    ``where`` names the block's owner (unused by keepalived's messages here);
    ``static`` allows ``track_group`` (from ``track_groups``) instead of
    ``use_vmac`` and gives the default interface to a line without ``dev``.
    """
    del where
    line = _Line(ctx, words)
    first = line[0]
    addr = _parse_ipaddress(ctx, first, True)
    if addr is None:
        return None
    st = state(ctx)
    f: dict[str, object] = {}
    flags: set[str] = set()
    brd_len = 0
    have_broadcast = False
    broadcast: IPv4Address | None = None
    peer: IPAddress | None = None
    prefixlen = addr.network.prefixlen
    preferred_lft_set = False
    missing: str | None = None
    i = 1
    n = len(line)
    while i < n:
        word = line[i]
        param_avail = n >= i + 2
        takes_param = word in _ADDRESS_PARAMS or (static and word == "track_group")
        if takes_param and not param_avail:
            missing = word
            break
        if word == "dev":
            if "dev" in f:
                ctx.error(f"Cannot specify ipaddress device more than once for {first}")
                return None
            i += 1
            if not interface_known(ctx, line[i]):
                ctx.error(f"WARNING - interface {line[i]} for ip address {first} doesn't exist")
                return None
            f["dev"] = line[i]
        elif word == "scope":
            i += 1
            scope = st.names.lookup("scopes", line[i], 255)
            if scope is None:
                ctx.error(f"Invalid scope '{line[i]}' specified for {first} - ignoring")
            else:
                f["scope"] = scope
        elif word in ("broadcast", "brd"):
            if addr.version == 6:
                ctx.error(
                    f"VRRP is trying to assign a broadcast {word} to the IPv6 address {first} "
                    "!!?? WTF... skipping VIP..."
                )
                return None
            have_broadcast = True
            i += 1
            param = line[i]
            if param == "-":
                brd_len = -2
            elif param == "+":
                brd_len = -1
            else:
                value = _pton(param)
                if value is None or value.version != 4:
                    ctx.error(
                        f"VRRP is trying to assign invalid broadcast {param}. skipping VIP..."
                    )
                    return None
                broadcast = IPv4Address(int(value))
        elif word == "label":
            i += 1
            if len(line[i]) >= IFNAMSIZ:
                ctx.error(
                    f"Address label {line[i]} is longer than maximum length {IFNAMSIZ - 1} - "
                    "removing address"
                )
                return None
            f["label"] = line[i]
        elif word == "peer":
            i += 1
            if peer is not None:
                ctx.error(f"Peer {line[i]} - another peer has already been specified")
                continue
            parsed_peer = _parse_ipaddress(ctx, line[i], False)
            value = parsed_peer.ip if parsed_peer is not None else None
            if value is None:
                ctx.error(f"Invalid peer address {line[i]}")
            elif value.version != addr.version:
                ctx.error(f"Peer address {line[i]} does not match address family")
            else:
                if prefixlen != addr.max_prefixlen:
                    ctx.error(
                        "Cannot specify address prefix when specifying peer address - ignoring"
                    )
                peer = value
                prefixlen = value.max_prefixlen
        elif word in ("home", "-nodad", "mngtmpaddr", "noprefixroute", "autojoin", "no_track"):
            flags.add(word)
        elif word == "preferred_lft":
            i += 1
            if line[i] == "forever":
                f["preferred_lft"] = INFINITY_LIFE_TIME
                preferred_lft_set = True
            else:
                value_lft = ctx.values.read_unsigned(line[i], 0, UINT32_MAX, lenient=True)
                if value_lft is not None:
                    f["preferred_lft"] = value_lft
                    preferred_lft_set = True
                else:
                    ctx.error(f"preferred_lft {line[i]} is invalid")
        elif static and word == "track_group":
            i += 1
            if f.get("track_group"):
                ctx.error(f"track_group {line[i]} is a duplicate")
                break
            if line[i] in track_groups:
                f["track_group"] = line[i]
            else:
                ctx.error(f"track_group {line[i]} not found")
        elif not static and word == "use_vmac":
            f["use_vmac"] = True
        else:
            ctx.error(f"Unknown configuration entry '{word}' for ip address - ignoring")
        i += 1

    if missing is not None:
        ctx.error(f"No {missing} parameter specified for {first}")
        return None

    if have_broadcast and peer is not None:
        ctx.error("Cannot specify broadcast and peer addresses - ignoring broadcast address")
        broadcast = None
    elif brd_len < 0 and prefixlen <= 30:
        base = int(peer if peer is not None else addr.ip)
        mask = 0xFFFFFFFF >> prefixlen
        broadcast = IPv4Address(base | mask if brd_len == -1 else base & ~mask)
    elif brd_len < 0:
        ctx.error(f"Address prefix length {prefixlen} too long for broadcast")
    if broadcast is not None and int(broadcast) == 0:
        broadcast = None

    if static and "dev" not in f:
        if not interface_known(ctx, st.default_interface):
            ctx.error(
                f"Static address {first} requires either an interface or default interface "
                "must exist",
                Severity.FATAL,
            )
            return None
        f["dev"] = st.default_interface

    if addr.version == 6:
        if f.get("scope"):
            ctx.error(f"Cannot specify scope for IPv6 addresses ({first}) - ignoring scope")
            f["scope"] = 0
        if "label" in f:
            ctx.error(f"Cannot specify label for IPv6 addresses ({first}) - ignoring label")
            del f["label"]
        if not preferred_lft_set:
            f["preferred_lft"] = 0 if prefixlen == 128 else INFINITY_LIFE_TIME

    return IpAddress(
        address=addr if prefixlen == addr.network.prefixlen else _interface(addr.ip, prefixlen),
        broadcast=broadcast,
        peer=peer,
        home="home" in flags,
        nodad="-nodad" in flags,
        mngtmpaddr="mngtmpaddr" in flags,
        noprefixroute="noprefixroute" in flags,
        autojoin="autojoin" in flags,
        no_track="no_track" in flags,
        **f,  # type: ignore[arg-type]
    )


def format_address(a: IpAddress) -> str:
    """``a`` as one address line (parses back to an equal ``IpAddress``)."""
    out = [str(a.address.ip) if a.peer is not None else str(a.address)]
    if a.dev is not None:
        out += ["dev", a.dev]
    if a.scope:
        out += ["scope", str(a.scope)]
    if a.broadcast is not None:
        out += ["brd", str(a.broadcast)]
    if a.label is not None:
        out += ["label", a.label]
    if a.peer is not None:
        out += ["peer", str(a.peer)]
    for flag, word in (
        (a.home, "home"),
        (a.nodad, "-nodad"),
        (a.mngtmpaddr, "mngtmpaddr"),
        (a.noprefixroute, "noprefixroute"),
        (a.autojoin, "autojoin"),
        (a.no_track, "no_track"),
        (a.use_vmac, "use_vmac"),
    ):
        if flag:
            out.append(word)
    if a.preferred_lft is not None:
        lft = a.preferred_lft
        out += ["preferred_lft", "forever" if lft == INFINITY_LIFE_TIME else str(lft)]
    if a.track_group is not None:
        out += ["track_group", a.track_group]
    return " ".join(out)


# --- routes -----------------------------------------------------------------------------


class EncapType(enum.IntEnum):
    """Lightweight tunnel encapsulations (linux/lwtunnel.h)."""

    MPLS = 1
    IP = 2
    ILA = 3
    IP6 = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Encap:
    """``encap mpls|ip|ip6|ila ...`` of a route or next hop."""

    type: EncapType
    labels: tuple[int, ...] = ()
    """MPLS label stack."""
    id: int | None = None
    dst: IPAddress | None = None
    src: IPAddress | None = None
    tos: int | None = None
    """ip: ``tos``; ip6: ``tc``."""
    ttl: int | None = None
    """ip: ``ttl``; ip6: ``hoplimit``."""
    flags: int | None = None
    locator: int | None = None
    """ILA locator (64 bits)."""


class RouteMode(enum.Enum):
    """How the route is added: ``prepend`` (kernel default, keepalived's), ``add``, ``append``."""

    PREPEND = "prepend"
    ADD = "add"
    APPEND = "append"


@dataclass(frozen=True, slots=True, kw_only=True)
class Nexthop:
    """One ``nexthop`` (or ``or`` gateway) of a multipath route."""

    via: IPAddress | None = None
    dev: str | None = None
    weight: int | None = None
    """1..256 as configured."""
    onlink: bool = False
    realms: int | None = None
    encap: Encap | None = None


METRICS = (
    "mtu", "advmss", "rtt", "rttvar", "reordering", "window", "cwnd", "ssthresh",
    "rto_min", "initcwnd", "initrwnd", "hoplimit",
)  # fmt: skip
"""RTAX_* metrics with a number, in keepalived's dump order."""
LOCKABLE = frozenset(
    {"mtu", "advmss", "rtt", "rttvar", "reordering", "cwnd", "ssthresh", "rto_min", "congctl"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """One route line (``ip route add`` in keepalived's syntax)."""

    dst: IPInterface
    """Destination prefix (``default``/``any``/``all``: 0.0.0.0/0 or ::/0)."""
    type: int = RTN_UNICAST
    src: IPAddress | None = None
    """Preferred source (``src``)."""
    from_prefix: IPv6Interface | None = None
    """IPv6 source prefix (``from``)."""
    via: IPAddress | None = None
    dev: str | None = None
    table: int = RT_TABLE_MAIN
    protocol: int | None = None
    """RTPROT_KEEPALIVED (18) for a tracked route."""
    scope: int | None = None
    metric: int | None = None
    tos: int | None = None
    onlink: bool = False
    encap: Encap | None = None
    expires: int | None = None
    mtu: int | None = None
    advmss: int | None = None
    rtt: int | None = None
    """In the kernel's units (1/8 ms)."""
    rttvar: int | None = None
    """In the kernel's units (1/4 ms)."""
    reordering: int | None = None
    window: int | None = None
    cwnd: int | None = None
    ssthresh: int | None = None
    rto_min: int | None = None
    """Milliseconds."""
    initcwnd: int | None = None
    initrwnd: int | None = None
    hoplimit: int | None = None
    locked: frozenset[str] = frozenset()
    """Metrics given with ``lock``."""
    realms: int | None = None
    features_ecn: bool = False
    quickack: int | None = None
    congctl: str | None = None
    pref: int | None = None
    ttl_propagate: bool | None = None
    fastopen_no_cookie: bool | None = None
    mode: RouteMode = RouteMode.PREPEND
    nexthops: tuple[Nexthop, ...] = ()
    no_track: bool = False
    track_group: str | None = None

    @property
    def family(self) -> int:
        return self.dst.version


class _Fail(Exception):
    """keepalived's ``goto err``: the line is dropped."""


def _rttype(word: str) -> int | None:
    """``find_rttables_rtntype``."""
    found = next((n for name, n in RTN_TYPES if name == word), None)
    if found is not None:
        return found
    value, end = strtoul(word, 0)
    if end != len(word) or value > 255 or word.startswith("-"):
        return None
    return value


def _realms(names: RtNames, word: str) -> int | None:
    """``get_realms``: ``FROM/TO`` or ``TO`` realm names or numbers."""
    first, slash, second = word.partition("/")
    value = names.lookup("realms", first, 255)
    if value is None:
        return None
    if slash:
        low = names.lookup("realms", second, 255)
        if low is None:
            return None
        value = (value << 16) | low
    return value


def _mpls_labels(text: str) -> tuple[int, ...] | None:
    """``parse_mpls_address``: up to 2 labels ``L1/L2``."""
    text = text.lstrip(WHITE_SPACE)
    labels: list[int] = []
    while len(labels) < MAX_MPLS_LABELS:
        if text.startswith("-") or text[:1] in tuple(WHITE_SPACE):
            return None
        value, end = strtoul(text, 0)
        if end == 0 or value > UINT32_MAX or value & ~MPLS_LABEL_MAX:
            return None
        labels.append(value)
        if end == len(text):
            return tuple(labels)
        if text[end] != "/":
            return None
        text = text[end + 1 :]
    return None


def _addr64(text: str) -> int | None:
    """``get_addr64``: an ILA locator ``x:x:x:x`` (hex)."""
    parts = text.lstrip(WHITE_SPACE).split(":")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part or part[0] not in "0123456789abcdefABCDEF":
            return None
        n, end = strtoul(part, 16)
        if end != len(part) or n > 0xFFFF:
            return None
        value = (value << 16) | n
    return value


def _encap(ctx: Context, line: _Line, i: int, names: RtNames) -> tuple[int, Encap | None]:
    """``parse_encap`` with ``i`` at ``encap``: (index the caller's ``i++`` follows, encap)."""
    i += 1
    if len(line) <= i:
        ctx.error("Missing encap type")
        return i, None
    kind = line[i]
    i += 1
    if kind in ("ip", "ip6"):
        i, encap = _encap_ip(ctx, line, i, names, six=kind == "ip6")
    elif kind == "mpls":
        encap = Encap(type=EncapType.MPLS)
        if i >= len(line):
            ctx.error("missing address for MPLS encapsulation")
        else:
            labels = _mpls_labels(line[i])
            if labels is None:
                ctx.error(f"invalid mpls address {line[i]} for encapsulation")
            else:
                encap = Encap(type=EncapType.MPLS, labels=labels)
            i += 1
    elif kind == "ila":
        encap = Encap(type=EncapType.ILA)
        if i >= len(line):
            ctx.error("missing locator for ILA encapsulation")
        else:
            locator = _addr64(line[i])
            if locator is None:
                ctx.error(f"invalid locator {line[i]} for ila encapsulation")
            else:
                encap = Encap(type=EncapType.ILA, locator=locator)
            i += 1
    else:
        ctx.error(f"Unknown encap type - {kind}")
        return i, None
    return i - 1, encap


def _encap_ip(ctx: Context, line: _Line, i: int, names: RtNames, *, six: bool) -> tuple[int, Encap]:
    v = "ip6" if six else "ip"
    f: dict[str, object] = {}
    ok = True
    while i + 1 < len(line):
        key, value = line[i], line[i + 1]
        if key == "id":
            number = _get_u64(
                ctx,
                value,
                "id %s value invalid for IPv6 encapsulation"
                if six
                else "encap id %s value is invalid",
            )
            if number is None:
                ok = False
                break
            f["id"] = number
        elif key in ("dst", "src"):
            f.pop(key, None)
            parsed = _parse_ipaddress(ctx, value, False)
            if parsed is None:
                ctx.error(f"Invalid encap {v} {key} {value}")
                ok = False
                break
            if parsed.version != (6 if six else 4):
                other = "IPv4" if six else "IPv6"
                ctx.error(f"{other} address {value} not valid for {v} encapsulation")
                ok = False
                break
            f[key] = parsed.ip
        elif key == ("tc" if six else "tos"):
            tos = names.lookup("dsfields", value, 255)
            if tos is None:
                ctx.error(
                    f"tc value {key} is invalid for ip6 encapsulation"
                    if six
                    else f"dsfield {value} not valid for ip encapsulation"
                )
                ok = False
                break
            f["tos"] = tos
        elif key == ("hoplimit" if six else "ttl"):
            number = _get_u(
                ctx,
                value,
                255,
                "Invalid hoplimit %s specified for ip6 encapsulation"
                if six
                else "ttl %s is not valid for ip encapsulation",
            )
            if number is None:
                ok = False
                break
            f["ttl"] = number
        elif key == "flags":
            number = _get_u(ctx, value, 0xFFFF, f"flags %s is not valid for {v} encapsulation")
            if number is None:
                ok = False
                break
            f["flags"] = number
        else:
            break
        i += 2
    if ok and "dst" not in f and "id" not in f:
        ctx.error(f"address or id missing for {v} encapsulation")
        ok = False
    if not ok:
        f.pop("dst", None)
        f.pop("src", None)
    return i, Encap(type=EncapType.IP6 if six else EncapType.IP, **f)  # type: ignore[arg-type]


class _RouteDraft:
    def __init__(self) -> None:
        self.family = 0
        self.f: dict[str, object] = {}
        self.locked: set[str] = set()
        self.nexthops: list[Nexthop] = []

    def set_family(self, family: int) -> bool:
        """Adopt ``family`` if none yet; False on a clash."""
        if self.family == 0:
            self.family = family
        return self.family == family


def parse_route(
    ctx: Context,
    words: Sequence[str],
    *,
    where: str,
    static: bool = False,
    track_groups: Collection[str] = (),
    names: RtNames | None = None,
) -> Route | None:
    """One ``virtual_routes``/``static_routes`` line; None where keepalived drops it.

    ``static`` allows ``track_group`` (one of ``track_groups``); ``names`` are
    the iproute2 names to resolve (default: the host's, see ``state``).
    """
    del where
    line = _Line(ctx, words)
    try:
        return _parse_route(ctx, line, static, track_groups, names or state(ctx).names)
    except _Fail:
        return None


def _parse_route(
    ctx: Context, line: _Line, static: bool, track_groups: Collection[str], names: RtNames
) -> Route | None:
    d = _RouteDraft()
    f = d.f
    dst: IPInterface | None = None
    dst_family_given = False
    dest = ""
    do_nexthop = False
    i = 0
    n = len(line)

    def fail(message: str) -> _Fail:
        ctx.error(message)
        return _Fail()

    while i < n:
        word = line[i]
        if word in ("inet", "inet6"):
            family = 6 if word == "inet6" else 4
            if not d.set_family(family):
                other = "IPv4" if family == 6 else "IPv6"
                raise fail(f"{word} specified for {other} route")
            i += 1  # sic: keepalived 2.2.7 also skips the word after inet/inet6
        elif word == "src":
            i += 1
            parsed = _parse_ipaddress(ctx, line[i], False)
            if parsed is None:
                raise fail(f"invalid route src address {line[i]}")
            if not d.set_family(parsed.version):
                raise fail("Cannot mix IPv4 and IPv6 addresses for route")
            f["src"] = parsed.ip
        elif word == "as":
            i += 1
            if line[i] == "to":
                i += 1
            ctx.error('"as to" for MPLS only - ignoring')
        elif word in ("via", "gw"):
            if word == "gw":
                ctx.error('"gw" for routes is deprecated. Please use "via"')
            i += 1
            text = line[i]
            family = d.family
            if text in ("inet", "inet6"):
                family = 6 if text == "inet6" else 4
                i += 1
                text = line[i]
            if family and not d.set_family(family):
                raise fail("Cannot mix IPv4 and IPv6 addresses for route")
            f.pop("via", None)
            parsed = _parse_ipaddress(ctx, text, False)
            if parsed is None:
                raise fail(f"invalid route via address {line[i]}")
            if not d.set_family(parsed.version):
                raise fail("Cannot mix IPv4 and IPv6 addresses for route")
            f["via"] = parsed.ip
        elif word == "from":
            i += 1
            prefix, given = _parse_route_dst(ctx, line[i])
            if prefix is None:
                raise fail(f"invalid route from address {line[i]}")
            if not given or prefix.version != 6:
                raise fail(f"route from address only supported with IPv6 ({line[i]})")
            if not d.set_family(6):
                raise fail("Cannot mix IPv4 and IPv6 addresses for route")
            f["from_prefix"] = prefix
        elif word in ("tos", "dsfield"):
            i += 1
            tos = names.lookup("dsfields", line[i], 255)
            if tos is None:
                raise fail(f"TOS value {line[i]} is invalid")
            f["tos"] = tos
        elif word == "table":
            i += 1
            table = names.lookup("tables", line[i], UINT32_MAX)
            if table is None:
                raise fail(f"Routing table {line[i]} not found for route")
            f["table"] = table
        elif word == "protocol":
            i += 1
            proto = names.lookup("protos", line[i], 255)
            if proto is None:
                raise fail(f"Protocol {line[i]} not found or invalid for route")
            f["protocol"] = proto
        elif word == "scope":
            i += 1
            scope = names.lookup("scopes", line[i], 255)
            if scope is None:
                raise fail(f"Scope {line[i]} not found or invalid for route")
            f["scope"] = scope
        elif word in ("metric", "priority", "preference"):
            i += 1
            f["metric"] = _need(
                _get_u(ctx, line[i], UINT32_MAX, "Invalid metric %s specified for route")
            )
        elif word in ("dev", "oif"):
            i += 1
            if not interface_known(ctx, line[i]):
                raise fail(f"WARNING - interface {line[i]} for VROUTE nexthop doesn't exist")
            f["dev"] = line[i]
        elif word == "onlink":
            f["onlink"] = True
        elif word == "encap":
            i, encap = _encap(ctx, line, i, names)
            if encap is not None:
                f["encap"] = encap
        elif word == "expires":
            i += 1
            if d.family == 4:
                raise fail("expires is only valid for IPv6")
            d.family = 6
            f["expires"] = _need(
                _get_u(ctx, line[i], UINT32_MAX, "Invalid expires time %s specified for route")
            )
        elif word in ("mtu", "advmss", "reordering", "cwnd", "ssthresh"):
            i += 1
            if line[i] == "lock":
                d.locked.add(word)
                i += 1
            what = {
                "mtu": "MTU %s",
                "advmss": "advmss %s",
                "reordering": "reordering value %s",
                "cwnd": "cwnd value %s",
                "ssthresh": "ssthresh value %s",
            }[word]
            f[word] = _need(_get_u(ctx, line[i], UINT32_MAX, f"Invalid {what} specified for route"))
        elif word in ("rtt", "rttvar", "rto_min"):
            i += 1
            if line[i] == "lock":
                d.locked.add(word)
                i += 1
            value = _get_time_rtt(ctx, line[i], {"rtt": 8, "rttvar": 4, "rto_min": 1}[word])
            if value is None:
                raise fail(
                    f"Invalid rto_min value {line[i]} specified for route"
                    if word == "rto_min"
                    else f"Invalid {word} {line[i]} for route"
                )
            f[word] = value
        elif word == "hoplimit":
            i += 1
            f["hoplimit"] = _need(
                _get_u(ctx, line[i], 255, "Invalid hoplimit %s specified for route")
            )
        elif word in ("window", "initcwnd", "initrwnd"):
            i += 1
            f[word] = _need(
                _get_u(ctx, line[i], UINT32_MAX, f"Invalid {word} value %s specified for route")
            )
        elif word == "realms":
            i += 1
            realms = _realms(names, line[i])
            if realms is None:
                raise fail(f"Invalid realms {line[i]} for route")
            if d.family == 6:
                raise fail("realms are only valid for IPv4")
            d.family = 4
            f["realms"] = realms
        elif word == "features":
            i += 1
            if line[i] == "ecn":
                f["features_ecn"] = True
            else:
                ctx.error(f"feature {line[i]} not supported")
        elif word in ("quickack", "fastopen_no_cookie"):
            i += 1
            value = _need(_get_u(ctx, line[i], 1, f"Invalid {word} value %s specified for route"))
            f[word] = value if word == "quickack" else bool(value)
        elif word == "congctl":
            i += 1
            if line[i] == "lock":
                d.locked.add(word)
                i += 1
            f["congctl"] = line[i]
        elif word == "pref":
            i += 1
            if d.family == 4:
                raise fail("pref is only valid for IPv6")
            d.family = 6
            text = line[i]
            pref = {"low": 3, "medium": 0, "high": 1}.get(text)
            if pref is None:
                pref = _need(_get_u(ctx, text, 255, "Invalid pref value %s specified for route"))
            f["pref"] = pref
        elif word == "ttl-propagate":
            i += 1
            text = line[i]
            if text in ("enabled", "disabled"):
                f["ttl_propagate"] = text == "enabled"
            else:
                ctx.error(f"ttl-propagate value {text} not recognised")
                f["ttl_propagate"] = f.get("ttl_propagate", False)
        elif word in ("add", "prepend", "append"):
            f["mode"] = RouteMode(word)
        elif word == "or":
            ctx.error('"or" for routes is deprecated. Please use "nexthop"')
            if d.nexthops:
                ctx.error('"or" route already specified - ignoring subsequent')
                i += 2
                continue
            via = f.pop("via", None)
            d.nexthops.append(Nexthop(via=via))  # type: ignore[arg-type]
            i += 1
            parsed = _parse_ipaddress(ctx, line[i], False)
            if parsed is None:
                raise fail(f'Invalid "or" address {line[i]}')
            d.nexthops.append(Nexthop(via=parsed.ip))
        elif word == "nexthop":
            if d.nexthops:
                ctx.error('Cannot specify nexthops with "or" route')
            else:
                do_nexthop = True
            break
        elif word == "no_track":
            f["no_track"] = True
        elif static and word == "track_group":
            i += 1
            if f.get("track_group"):
                ctx.error(f"track_group {line[i]} is a duplicate")
                break
            if line[i] in track_groups:
                f["track_group"] = line[i]
            else:
                ctx.error(f"track_group {line[i]} not found")
        elif word == "vrf":
            i += 1
            vrf_table = getattr(ctx.host, "vrf_table", None)
            table_id = vrf_table(line[i]) if vrf_table is not None else None
            if not ctx.host.interface_exists(line[i]):
                raise fail(f"VRF {line[i]} not found for route")
            if table_id is None:
                raise fail(f"Route specified VRF {line[i]} is not a VRF")
            f["table"] = table_id
        else:
            if word == "to":
                i += 1
            rtype = _rttype(word)
            if rtype is not None:
                f["type"] = rtype
                i += 1
            dest = line[i]
            dst, dst_family_given = _parse_route_dst(ctx, dest)
            if dst is None:
                raise fail(f"unknown route keyword {dest}")
            dst_family = dst.version if dst_family_given else 0
            if d.family == 0:
                d.family = dst_family
            elif d.family != dst_family:
                raise fail(f"Cannot mix IPv4 and IPv6 addresses for route ({dest})")
        i += 1

    if do_nexthop:
        _nexthops(ctx, line, i, d, names)
    elif i < n:
        raise fail(f"Route has trailing nonsense - {line[i]}")

    if dst is None:
        raise fail("Route must have a destination")

    if not f.get("no_track"):
        if f.get("protocol", RTPROT_KEEPALIVED) != RTPROT_KEEPALIVED:
            ctx.error(
                "Route cannot be tracked if protocol is not RTPROT_KEEPALIVED"
                f"({RTPROT_KEEPALIVED}), resetting protocol"
            )
        f["protocol"] = RTPROT_KEEPALIVED
        if "dev" not in f:
            ctx.error(
                f"Warning - cannot track route {dest} with no interface specified, not tracking"
            )
            f["no_track"] = True

    if f.get("track_group") and "dev" not in f:
        ctx.error("Static route cannot have track group if no oif specified")
        f["track_group"] = None
    if not f.get("track_group"):
        f.pop("track_group", None)

    family = d.family or 4
    return Route(
        dst=dst if dst_family_given else _with_family(dst, family),
        locked=frozenset(d.locked),
        nexthops=tuple(d.nexthops),
        **f,  # type: ignore[arg-type]
    )


def _need(value: int | None) -> int:
    if value is None:
        raise _Fail
    return value


def _nexthops(ctx: Context, line: _Line, i: int, d: _RouteDraft, names: RtNames) -> None:
    """``parse_nexthops``: a bad next hop is dropped, with the rest of the line."""
    family = 0
    n = len(line)
    while i < n and line[i] == "nexthop":
        i += 1
        nh: dict[str, object] = {}
        try:
            while i < n:
                word = line[i]
                if word == "via":
                    i += 1
                    text = line[i]
                    if text in ("inet", "inet6"):
                        family = 6 if text == "inet6" else 4
                        i += 1
                        text = line[i]
                    if family and not d.set_family(family):
                        ctx.error("IPv4/6 mismatch for nexthop")
                        raise _Fail
                    parsed = _parse_ipaddress(ctx, text, False)
                    if parsed is None:
                        ctx.error(f"invalid nexthop address {text}")
                        raise _Fail
                    if not d.set_family(parsed.version):
                        ctx.error("Address family mismatch for next hop")
                        raise _Fail
                    nh["via"] = parsed.ip
                elif word == "dev":
                    i += 1
                    if not interface_known(ctx, line[i]):
                        ctx.error(f"WARNING - interface {line[i]} for VROUTE nexthop doesn't exist")
                        raise _Fail
                    nh["dev"] = line[i]
                elif word == "weight":
                    i += 1
                    weight = _get_u(ctx, line[i], 256, "Invalid weight %s specified for route")
                    if weight is None:
                        raise _Fail
                    if weight == 0:
                        ctx.error("Invalid weight 0 specified for route")
                        raise _Fail
                    nh["weight"] = weight
                elif word == "onlink":
                    nh["onlink"] = True
                elif word == "encap":
                    i, encap = _encap(ctx, line, i, names)
                    if encap is not None:
                        nh["encap"] = encap
                elif word == "realms":
                    i += 1
                    realms = _realms(names, line[i])
                    if realms is None:
                        ctx.error(f"Invalid realms {line[i]} for route")
                        raise _Fail
                    if not d.set_family(4):
                        ctx.error("realms are only supported for IPv4")
                        raise _Fail
                    nh["realms"] = realms
                elif word == "as":
                    i += 1
                    if line[i] == "to":
                        i += 1
                    ctx.error("'as [to]' (nat) not supported")
                    raise _Fail
                else:
                    break
                i += 1
        except _Fail:
            return
        d.nexthops.append(Nexthop(**nh))  # type: ignore[arg-type]
    if i < n:
        ctx.error(f"Route has trailing nonsense after nexthops - {line[i]}")


def _metric_words(r: Route, name: str) -> list[str]:
    value = getattr(r, name)
    if value is None:
        return []
    return [name, *(["lock"] if name in r.locked else []), str(value)]


def _format_encap(e: Encap) -> list[str]:
    out = ["encap"]
    if e.type is EncapType.MPLS:
        return [*out, "mpls", "/".join(str(label) for label in e.labels)]
    if e.type is EncapType.ILA:
        loc = e.locator or 0
        return [*out, "ila", ":".join(f"{(loc >> s) & 0xFFFF:x}" for s in (48, 32, 16, 0))]
    six = e.type is EncapType.IP6
    out.append("ip6" if six else "ip")
    if e.id is not None:
        out += ["id", str(e.id)]
    if e.dst is not None:
        out += ["dst", str(e.dst)]
    if e.src is not None:
        out += ["src", str(e.src)]
    if e.tos is not None:
        out += ["tc" if six else "tos", str(e.tos)]
    if e.ttl is not None:
        out += ["hoplimit" if six else "ttl", str(e.ttl)]
    if e.flags is not None:
        out += ["flags", str(e.flags)]
    return out


def format_route(r: Route) -> str:
    """``r`` as one route line (parses back to an equal ``Route``)."""
    out: list[str] = []  # the destination gives the family ("inet" would skip a word)
    if r.type != RTN_UNICAST:
        name = next((nm for nm, n in RTN_TYPES if n == r.type), None)
        out.append(name or str(r.type))
    out.append(str(r.dst))
    if r.src is not None:
        out += ["src", str(r.src)]
    if r.from_prefix is not None:
        out += ["from", str(r.from_prefix)]
    if r.via is not None:
        out += ["via", str(r.via)]
    if r.dev is not None:
        out += ["dev", r.dev]
    if r.table != RT_TABLE_MAIN:
        out += ["table", str(r.table)]
    if r.protocol is not None and not (r.protocol == RTPROT_KEEPALIVED and not r.no_track):
        out += ["protocol", str(r.protocol)]
    if r.scope is not None:
        out += ["scope", str(r.scope)]
    if r.metric is not None:
        out += ["metric", str(r.metric)]
    if r.tos is not None:
        out += ["tos", str(r.tos)]
    if r.onlink:
        out.append("onlink")
    if r.encap is not None:
        out += _format_encap(r.encap)
    if r.expires is not None:
        out += ["expires", str(r.expires)]
    for name in METRICS:
        out += _metric_words(r, name)
    if r.realms is not None:
        out += ["realms", f"{r.realms >> 16}/{r.realms & 0xFFFF}"]
    if r.features_ecn:
        out += ["features", "ecn"]
    if r.quickack is not None:
        out += ["quickack", str(r.quickack)]
    if r.congctl is not None:
        out += ["congctl", *(["lock"] if "congctl" in r.locked else []), r.congctl]
    if r.pref is not None:
        out += ["pref", str(r.pref)]
    if r.ttl_propagate is not None:
        out += ["ttl-propagate", "enabled" if r.ttl_propagate else "disabled"]
    if r.fastopen_no_cookie is not None:
        out += ["fastopen_no_cookie", str(int(r.fastopen_no_cookie))]
    if r.mode is not RouteMode.PREPEND:
        out.append(r.mode.value)
    if r.no_track:
        out.append("no_track")
    if r.track_group is not None:
        out += ["track_group", r.track_group]
    for nh in r.nexthops:
        out.append("nexthop")
        if nh.via is not None:
            out += ["via", str(nh.via)]
        if nh.dev is not None:
            out += ["dev", nh.dev]
        if nh.weight is not None:
            out += ["weight", str(nh.weight)]
        if nh.onlink:
            out.append("onlink")
        if nh.realms is not None:
            out += ["realms", f"{nh.realms >> 16}/{nh.realms & 0xFFFF}"]
        if nh.encap is not None:
            out += _format_encap(nh.encap)
    return " ".join(out)


# --- rules ------------------------------------------------------------------------------


class RuleAction(enum.IntEnum):
    """FR_ACT_* (linux/fib_rules.h)."""

    TO_TBL = 1
    GOTO = 2
    NOP = 3
    BLACKHOLE = 6
    UNREACHABLE = 7
    PROHIBIT = 8


_RULE_ACTION_WORDS = {
    RuleAction.NOP: "nop",
    RuleAction.BLACKHOLE: "blackhole",
    RuleAction.UNREACHABLE: "unreachable",
    RuleAction.PROHIBIT: "prohibit",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One rule line (``ip rule add`` in keepalived's syntax)."""

    family: int = 4
    action: RuleAction
    priority: int
    """``preference`` (keepalived numbers rules without one from 16384 down)."""
    from_prefix: IPInterface | None = None
    """None: ``all``/not given."""
    to_prefix: IPInterface | None = None
    invert: bool = False
    table: int | None = None
    goto: int | None = None
    tos: int = 0
    fwmark: int | None = None
    fwmask: int | None = None
    realms: int | None = None
    suppress_prefixlength: int | None = None
    suppress_ifgroup: int | None = None
    iif: str | None = None
    oif: str | None = None
    tunnel_id: int | None = None
    uidrange: tuple[int, int] | None = None
    l3mdev: bool = False
    protocol: int | None = None
    """RTPROT_KEEPALIVED (18) for a tracked rule."""
    ipproto: int | None = None
    sport: tuple[int, int] | None = None
    dport: tuple[int, int] | None = None
    no_track: bool = False
    track_group: str | None = None


_SCAN_U = re.compile(r"[ \t\n\r\f\v]*([+-]?)(\d+)")


def _scan_range(text: str, bits: int) -> tuple[int, int | None] | None:
    """``sscanf(text, "%u-%u")`` (or ``%hu``): (start, end or None), None if nothing."""
    modulus = 1 << bits

    def number(m: re.Match[str]) -> int:
        value = min(int(m.group(2)), 2**64 - 1)
        value = (-value) % 2**64 if m.group(1) == "-" else value
        return value % modulus

    m = _SCAN_U.match(text)
    if not m:
        return None
    start = number(m)
    rest = text[m.end() :]
    if not rest.startswith("-"):
        return start, None
    m2 = _SCAN_U.match(rest, 1)
    return (start, number(m2)) if m2 else (start, None)


def parse_rule(
    ctx: Context,
    words: Sequence[str],
    *,
    where: str,
    static: bool = False,
    track_groups: Collection[str] = (),
    names: RtNames | None = None,
) -> Rule | None:
    """One ``virtual_rules``/``static_rules`` line; None where keepalived drops it."""
    del where
    line = _Line(ctx, words)
    try:
        return _parse_rule(ctx, line, static, track_groups, names or state(ctx).names)
    except _Fail:
        return None


def _parse_rule(
    ctx: Context, line: _Line, static: bool, track_groups: Collection[str], names: RtNames
) -> Rule:
    f: dict[str, object] = {}
    family = 0
    action: RuleAction | None = None
    table_option = False
    i = 0
    n = len(line)

    def fail(message: str) -> _Fail:
        ctx.error(message)
        return _Fail()

    while i < n:
        word = line[i]
        if word in ("inet", "inet6"):
            fam = 6 if word == "inet6" else 4
            if family == 0:
                family = fam
            elif family != fam:
                raise fail(f"{word} specified for {'IPv4' if fam == 6 else 'IPv6'} rule")
            i += 1  # sic: keepalived 2.2.7 also skips the word after inet/inet6
        elif word in ("from", "to"):
            i += 1
            prefix, given = _parse_route_dst(ctx, line[i])
            if prefix is None:
                raise fail(f"Invalid rule {word} address {line[i]}")
            fam = prefix.version if given else 0
            if family == 0:
                family = fam
            elif fam != family:
                raise fail("rule specification has mixed IPv4 and IPv6")
            f[f"{word}_prefix"] = prefix if given else None
        elif word in ("table", "lookup"):
            i += 1
            table = names.lookup("tables", line[i], UINT32_MAX)
            if table is None:
                raise fail(f"Routing table {line[i]} not found for rule")
            if table == 0:
                raise fail("Table 0 is not valid")
            f["table"] = table
            if action is not None:
                raise fail(
                    "Cannot specify more than one of table/nop/goto/blackhole/prohibit/"
                    "unreachable for rule"
                )
            action = RuleAction.TO_TBL
        elif word == "not":
            f["invert"] = True
        elif word in ("preference", "order", "priority"):
            i += 1
            value = _unsigned(ctx, line[i], 0, UINT32_MAX, base=0)
            if value is None:
                raise fail(f"Invalid rule preference {word} specified")
            f["priority"] = value
        elif word in ("tos", "dsfield"):
            i += 1
            tos = names.lookup("dsfields", line[i], 255)
            if tos is None:
                raise fail(f"TOS value {line[i]} is invalid")
            f["tos"] = tos
        elif word == "fwmark":
            i += 1
            text = line[i].lstrip(WHITE_SPACE)
            mark_mask = _fwmark(text)
            if mark_mask is None:
                raise fail(f"Invalid rule fwmark {text} specified")
            f["fwmark"], f["fwmask"] = mark_mask
        elif word == "realms":
            i += 1
            realms = _realms(names, line[i])
            if realms is None:
                raise fail(f"invalid realms {line[i]} for rule")
            f["realms"] = realms
            table_option = True
            if family == 0:
                family = 4
            elif family != 4:
                raise fail("realms is only valid for IPv4")
        elif word in ("suppress_prefixlength", "sup_pl"):
            i += 1
            value = _unsigned(ctx, line[i], 0, INT32_MAX)
            if value is None:
                raise fail(f"Invalid suppress_prefixlength {word} specified")
            f["suppress_prefixlength"] = value
            table_option = True
        elif word in ("suppress_ifgroup", "sup_group"):
            i += 1
            group = names.lookup("groups", line[i], INT32_MAX)
            if group is None:
                raise fail(f"suppress_group {line[i]} is invalid")
            f["suppress_ifgroup"] = group
            table_option = True
        elif word in ("dev", "iif", "oif"):
            i += 1
            if not interface_known(ctx, line[i]):
                raise fail(f"WARNING - interface {line[i]} for rule doesn't exist")
            f["oif" if word == "oif" else "iif"] = line[i]
        elif word == "tunnel-id":
            i += 1
            value = ctx.values.read_unsigned(line[i], 0, 2**64 - 1, limit=2**64 - 1)
            if value is None:
                raise fail(f"Invalid tunnel-id {word} specified")
            f["tunnel_id"] = value & UINT32_MAX  # read_unsigned64 truncates in 2.2.7
        elif word == "uidrange":
            i += 1
            scanned = _scan_range(line[i], 32)
            if scanned is None or scanned[1] is None:
                raise fail(f"Invalid uidrange {word} specified")
            f["uidrange"] = scanned
        elif word == "l3mdev":
            f["l3mdev"] = True
            if action is not None:
                raise fail("Cannot specify l3mdev with other action")
            action = RuleAction.TO_TBL
        elif word == "protocol":
            i += 1
            value = _unsigned(ctx, line[i], 0, 255)
            if value is None:
                ctx.error(f"Invalid protocol {line[i]}")
            else:
                f["protocol"] = value
        elif word == "ipproto":
            i += 1
            proto = names.ip_protocol(line[i])
            if proto is None:
                ctx.error(f"Invalid ipproto {line[i]}")
            else:
                f["ipproto"] = proto
        elif word in ("sport", "dport"):
            i += 1
            scanned = _scan_range(line[i], 16)
            if scanned is None or scanned[1] is None:
                ctx.error(f"invalid {word} range {line[i]}")
            else:
                f[word] = scanned
        elif word == "no_track":
            f["no_track"] = True
        elif static and word == "track_group":
            i += 1
            if f.get("track_group"):
                ctx.error(f"track_group {line[i]} is a duplicate")
                break
            if line[i] in track_groups:
                f["track_group"] = line[i]
            else:
                ctx.error(f"track_group {line[i]} not found")
        else:
            if word == "type":
                i += 1
                word = line[i]
            if word == "goto":
                i += 1
                value = _unsigned(ctx, line[i], 0, UINT32_MAX)
                if value is None:
                    raise fail(f"Invalid target {word} specified")
                f["goto"] = value
                new_action = RuleAction.GOTO
            elif word == "nop":
                new_action = RuleAction.NOP
            else:
                rtype = _rttype(word)
                if rtype is None:
                    raise fail(f"Unknown rule option {word}")
                by_type = {
                    RTN_BLACKHOLE: RuleAction.BLACKHOLE,
                    RTN_UNREACHABLE: RuleAction.UNREACHABLE,
                    RTN_PROHIBIT: RuleAction.PROHIBIT,
                }
                if rtype not in by_type:
                    raise fail(f"Invalid rule action {word}")
                new_action = by_type[rtype]
            if action is not None:
                raise fail(
                    "Cannot specify more than one of table/nop/goto/blackhole/prohibit/"
                    "unreachable/l3mdev for rule"
                )
            action = new_action
        i += 1

    priority = f.get("priority")
    if action is RuleAction.GOTO:
        target = f["goto"]
        if priority is None:
            raise fail(f"Invalid rule - goto target {target} specified without preference")
        if priority >= target:  # type: ignore[operator]
            raise fail(f"Invalid rule - preference {priority} >= goto target {target}")
    if action is None:
        raise fail("No action specified for rule - ignoring")
    if action is not RuleAction.TO_TBL and table_option:
        raise fail("suppressor/realm specified for non table action - skipping")
    if f.get("table") and f.get("l3mdev"):
        raise fail("table cannot be specified for l3mdev rules")
    if not f.get("no_track"):
        if f.get("protocol", RTPROT_KEEPALIVED) != RTPROT_KEEPALIVED:
            ctx.error(
                "Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED"
                f"({RTPROT_KEEPALIVED}), resetting protocol"
            )
        f["protocol"] = RTPROT_KEEPALIVED
    if f.get("track_group") and "iif" not in f:
        ctx.error("Static rule cannot have track_group if dev/iif not specified")
        f["track_group"] = None
    if not f.get("track_group"):
        f.pop("track_group", None)
    family = family or 4
    for key in ("from_prefix", "to_prefix"):
        if f.get(key) is None:
            f.pop(key, None)
    if priority is None:
        counters = state(ctx).next_rule_priority
        priority = counters[family]
        counters[family] -= 1
        ctx.error(
            f"Rule has no preference specified - setting to {priority}. This is probably not "
            "what you want."
        )
    f["priority"] = priority
    return Rule(family=family, action=action, **f)  # type: ignore[arg-type]


def _fwmark(text: str) -> tuple[int, int | None] | None:
    """A rule's ``fwmark MARK[/MASK]`` (C strtoul base 0 each)."""
    if text.startswith("-"):
        return None
    mark, end = strtoul(text, 0)
    if mark > UINT32_MAX:
        return None
    mask: int | None = None
    if text[end : end + 1] == "/":
        after = text[end + 1 : end + 2]
        if (after and after in WHITE_SPACE) or after == "-":
            return None
        rest = text[end + 1 :]
        mask, used = strtoul(rest, 0)
        if mask > UINT32_MAX:
            return None
        end = end + 1 + used
    if end != len(text):
        return None
    return mark, mask


def format_rule(r: Rule) -> str:
    """``r`` as one rule line (parses back to an equal ``Rule``)."""
    out: list[str] = []
    if r.family == 6 and r.from_prefix is None and r.to_prefix is None:
        out += ["inet6", "inet6"]  # keepalived 2.2.7 skips the word after inet6
    if r.invert:
        out.append("not")
    if r.from_prefix is not None:
        out += ["from", str(r.from_prefix)]
    if r.to_prefix is not None:
        out += ["to", str(r.to_prefix)]
    out += ["preference", str(r.priority)]
    if r.tos:
        out += ["tos", str(r.tos)]
    if r.fwmark is not None:
        out += ["fwmark", str(r.fwmark) + (f"/{r.fwmask}" if r.fwmask is not None else "")]
    if r.realms is not None:
        out += ["realms", f"{r.realms >> 16}/{r.realms & 0xFFFF}"]
    if r.suppress_prefixlength is not None:
        out += ["suppress_prefixlength", str(r.suppress_prefixlength)]
    if r.suppress_ifgroup is not None:
        out += ["suppress_ifgroup", str(r.suppress_ifgroup)]
    if r.iif is not None:
        out += ["iif", r.iif]
    if r.oif is not None:
        out += ["oif", r.oif]
    if r.tunnel_id is not None:
        out += ["tunnel-id", str(r.tunnel_id)]
    if r.uidrange is not None:
        out += ["uidrange", f"{r.uidrange[0]}-{r.uidrange[1]}"]
    if r.protocol is not None and not (r.protocol == RTPROT_KEEPALIVED and not r.no_track):
        out += ["protocol", str(r.protocol)]
    if r.ipproto is not None:
        out += ["ipproto", str(r.ipproto)]
    if r.sport is not None:
        out += ["sport", f"{r.sport[0]}-{r.sport[1]}"]
    if r.dport is not None:
        out += ["dport", f"{r.dport[0]}-{r.dport[1]}"]
    if r.no_track:
        out.append("no_track")
    if r.track_group is not None:
        out += ["track_group", r.track_group]
    if r.l3mdev:
        out.append("l3mdev")
    elif r.action is RuleAction.TO_TBL:
        out += ["table", str(r.table)]
    elif r.action is RuleAction.GOTO:
        out += ["goto", str(r.goto)]
    else:
        out.append(_RULE_ACTION_WORDS[r.action])
    return " ".join(out)
