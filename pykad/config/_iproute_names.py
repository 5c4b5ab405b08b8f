"""iproute2 names as keepalived 2.2.7 resolves them (lib/rttables.c), and C number parsing.

keepalived looks names up in ``/etc/iproute2/{rt_tables,rt_dsfield,rt_realms,
rt_protos,rt_scopes,group}`` (each line ``<number> <name>``; a line with other
than two words, or a bad number, is skipped), then adds built-in defaults for
tables, protocols and scopes whose numbers the file did not name. A word that
is a whole C ``strtoul`` base-0 number (decimal, ``0x`` hex, ``0`` octal) is
taken as the number itself. IP protocol names (``ipproto``) come from
``/etc/protocols`` (``getprotobyname``: names and aliases).

Pure code reads no file: ``RtNames.from_texts`` takes the files' texts (from
the host), ``RtNames.stock()`` is what a stock iproute2 + netbase install holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

ULONG_MAX = 2**64 - 1
UINT32_MAX = 2**32 - 1
INT32_MAX = 2**31 - 1
WHITE_SPACE = " \t\n\r\f\v"

_DIGITS = {8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


def strtoul(text: str, base: int = 10) -> tuple[int, int]:
    """C ``strtoul``: (value, index after the number); no digits gives (0, 0).

    A leading ``-`` negates modulo 2**64; overflow gives ULONG_MAX.
    """
    i = 0
    while i < len(text) and text[i] in WHITE_SPACE:
        i += 1
    negative = False
    if i < len(text) and text[i] in "+-":
        negative = text[i] == "-"
        i += 1
    if (
        base in (0, 16)
        and text[i : i + 2] in ("0x", "0X")
        and text[i + 2 : i + 3]
        and (text[i + 2] in _DIGITS[16])
    ):
        i += 2
        base = 16
    elif base == 0:
        base = 8 if text[i : i + 1] == "0" else 10
    start = i
    while i < len(text) and text[i] in _DIGITS[base]:
        i += 1
    if i == start:
        return 0, 0
    value = int(text[start:i], base)
    if value > ULONG_MAX:
        value = ULONG_MAX
    elif negative:
        value = (-value) % (ULONG_MAX + 1)
    return value, i


def whole_number(text: str, base: int = 0) -> int | None:
    """``text`` if it is entirely a ``strtoul`` number (keepalived's find_entry test)."""
    value, end = strtoul(text, base)
    if end == 0 or end != len(text):
        return None
    return value


TABLES = (("default", 253), ("main", 254), ("local", 255))
PROTOS = (
    ("none", 0), ("redirect", 1), ("kernel", 2), ("boot", 3), ("static", 4), ("gated", 8),
    ("ra", 9), ("mrt", 10), ("zebra", 11), ("bird", 12), ("babel", 42), ("dnrouted", 13),
    ("xorp", 14), ("ntk", 15), ("dhcp", 16),
)  # fmt: skip
SCOPES = (("global", 0), ("nowhere", 255), ("host", 254), ("link", 253), ("site", 200))

STOCK_FILES = {
    "rt_tables": "255 local\n254 main\n253 default\n0 unspec\n",
    "rt_dsfield": (
        "0x0 default\n0x28 AF11\n0x30 AF12\n0x38 AF13\n0x48 AF21\n0x50 AF22\n0x58 AF23\n"
        "0x68 AF31\n0x70 AF32\n0x78 AF33\n0x88 AF41\n0x90 AF42\n0x98 AF43\n0x20 CS1\n"
        "0x40 CS2\n0x60 CS3\n0x80 CS4\n0xA0 CS5\n0xC0 CS6\n0xE0 CS7\n0xB8 EF\n"
    ),
    "rt_protos": (
        "0 unspec\n1 redirect\n2 kernel\n3 boot\n4 static\n8 gated\n9 ra\n10 mrt\n11 zebra\n"
        "12 bird\n13 dnrouted\n14 xorp\n15 ntk\n16 dhcp\n18 keepalived\n42 babel\n99 openr\n"
        "186 bgp\n187 isis\n188 ospf\n189 rip\n192 eigrp\n"
    ),
    "rt_realms": "0 cosmos\n",
    "rt_scopes": "0 global\n255 nowhere\n254 host\n253 link\n200 site\n",
    "group": "0 default\n",
}
"""/etc/iproute2 as iproute2 (Debian 12) installs it."""

STOCK_PROTOCOLS = (
    "ip 0 IP;hopopt 0 HOPOPT;icmp 1 ICMP;igmp 2 IGMP;ggp 3 GGP;ipencap 4 IP-ENCAP;st 5 ST;"
    "tcp 6 TCP;egp 8 EGP;igp 9 IGP;pup 12 PUP;udp 17 UDP;hmp 20 HMP;xns-idp 22 XNS-IDP;"
    "rdp 27 RDP;iso-tp4 29 ISO-TP4;dccp 33 DCCP;xtp 36 XTP;ddp 37 DDP;idpr-cmtp 38 IDPR-CMTP;"
    "ipv6 41 IPv6;ipv6-route 43 IPv6-Route;ipv6-frag 44 IPv6-Frag;idrp 45 IDRP;rsvp 46 RSVP;"
    "gre 47 GRE;esp 50 IPSEC-ESP;ah 51 IPSEC-AH;skip 57 SKIP;ipv6-icmp 58 IPv6-ICMP;"
    "ipv6-nonxt 59 IPv6-NoNxt;ipv6-opts 60 IPv6-Opts;rspf 73 RSPF CPHB;vmtp 81 VMTP;"
    "eigrp 88 EIGRP;ospf 89 OSPFIGP;ax.25 93 AX.25;ipip 94 IPIP;etherip 97 ETHERIP;"
    "encap 98 ENCAP;pim 103 PIM;ipcomp 108 IPCOMP;vrrp 112 VRRP;l2tp 115 L2TP;isis 124 ISIS;"
    "sctp 132 SCTP;fc 133 FC;mobility-header 135 Mobility-Header;udplite 136 UDPLite;"
    "mpls-in-ip 137 MPLS-in-IP;manet 138;hip 139 HIP;shim6 140 Shim6;wesp 141 WESP;"
    "rohc 142 ROHC;ethernet 143 Ethernet;mptcp 262 MPTCP"
)
"""/etc/protocols as netbase installs it (name, number, aliases)."""

_COMMENT = re.compile(r"[#!].*")

Entries = tuple[tuple[str, int], ...]


def parse_rt_file(text: str, maximum: int) -> Entries:
    """keepalived's rttables.c ``read_file``: ``<number> <name>`` lines, in order."""
    entries: list[tuple[str, int]] = []
    for line in text.splitlines():
        words = _COMMENT.sub("", line).split()
        if len(words) != 2:
            continue
        number = words[0].lstrip(" \t")
        value = whole_number(number)
        if number.startswith("-") or value is None or value > maximum:
            continue
        entries.append((words[1], value))
    return tuple(entries)


def _with_defaults(entries: Entries, defaults: Entries) -> Entries:
    ids = {number for _, number in entries}
    return entries + tuple((name, number) for name, number in defaults if number not in ids)


def parse_protocols(text: str) -> Entries:
    """/etc/protocols: name, number, aliases (comments from ``#``)."""
    entries: list[tuple[str, int]] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[1].isdigit():
            entries += [(name, int(words[1])) for name in (words[0], *words[2:])]
    return tuple(entries)


@dataclass(frozen=True, slots=True)
class RtNames:
    """The name tables keepalived consults for routes, rules and addresses."""

    tables: Entries = TABLES
    dsfields: Entries = ()
    realms: Entries = ()
    protos: Entries = PROTOS
    scopes: Entries = SCOPES
    groups: Entries = ()
    ip_protocols: Entries = ()

    @classmethod
    def from_texts(cls, read: Callable[[str], str | None], protocols: str | None = None) -> RtNames:
        """From the texts of /etc/iproute2/<name> (``read(name)``; None: no such file)."""

        def entries(name: str, maximum: int, defaults: Entries = ()) -> Entries:
            text = read(name)
            return _with_defaults(parse_rt_file(text, maximum) if text else (), defaults)

        return cls(
            tables=entries("rt_tables", UINT32_MAX, TABLES),
            dsfields=entries("rt_dsfield", 255),
            realms=entries("rt_realms", 255),
            protos=entries("rt_protos", 255, PROTOS),
            scopes=entries("rt_scopes", 255, SCOPES),
            groups=entries("group", INT32_MAX),
            ip_protocols=parse_protocols(protocols) if protocols else (),
        )

    @classmethod
    def stock(cls) -> RtNames:
        """A stock iproute2 and netbase install (what a host that says nothing has)."""
        return _STOCK

    def lookup(self, kind: str, word: str, maximum: int) -> int | None:
        """keepalived's ``find_entry``: a whole number (at most ``maximum``) or a name."""
        value, end = strtoul(word, 0)
        if end and end == len(word):
            value &= UINT32_MAX
            return value if value <= maximum else None
        entries: Entries = getattr(self, kind)
        return next((number for name, number in entries if name == word), None)

    def ip_protocol(self, word: str) -> int | None:
        """``inet_proto_a2n``: a number up to 127, or an /etc/protocols name or alias."""
        text = word.lstrip(WHITE_SPACE)
        if not text or text.startswith("-"):
            return None
        value, end = strtoul(text, 10)
        if value > 127:
            return None
        if end == len(text):
            return value
        number = next((n for name, n in self.ip_protocols if name == text), None)
        return number if number is not None and number <= 255 else None


STOCK_PROTOCOLS_TEXT = STOCK_PROTOCOLS.replace(";", "\n")
_STOCK = RtNames.from_texts(STOCK_FILES.get, STOCK_PROTOCOLS_TEXT)


def names_from_host(host: object) -> RtNames:
    """Names from ``host.iproute2_file(name)`` / ``host.etc_protocols()`` if it has them."""
    read = getattr(host, "iproute2_file", None)
    if read is None:
        return RtNames.stock()
    protocols = getattr(host, "etc_protocols", None)
    return RtNames.from_texts(read, protocols() if protocols else STOCK_PROTOCOLS_TEXT)


RT_TABLE_NAMES: Mapping[str, int] = dict(TABLES)
