"""The IPVS/LVS model: virtual servers, their groups, real servers and checkers.

Frozen dataclasses for the ``lvs`` section (``pykad.config.sections.lvs``), with
keepalived 2.2.7's defaults already applied (keepalived/check/check_data.c
``validate_check_config``): a real server carries the values it inherits from
its virtual server, a checker those it inherits from its real server. Times are
in microseconds, as keepalived keeps them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Address

from pykad.config.addresses import IPAddress
from pykad.config.scripts import Script

US = 1_000_000
DEFAULT_DELAY_LOOP_US = 60 * US
DEFAULT_CONNECT_TIMEOUT_US = 5 * US
PERSISTENT_TIMEOUT_DEFAULT = 360
"""IPVS_SVC_PERSISTENT_TIMEOUT: ``persistence_timeout`` with no value, or implied."""
LVS_MAX_TIMEOUT = 86400 * 31
WEIGHT_LIMIT = 2**31 - 1
SMTP_DEFAULT_HELO = "smtpchecker.keepalived.org"
DNS_DEFAULT_RETRY = 3


class Scheduler(enum.Enum):
    RR = "rr"
    WRR = "wrr"
    LC = "lc"
    WLC = "wlc"
    LBLC = "lblc"
    SH = "sh"
    MH = "mh"
    DH = "dh"
    FO = "fo"
    OVF = "ovf"
    LBLCR = "lblcr"
    SED = "sed"
    NQ = "nq"
    TWOS = "twos"


class Method(enum.Enum):
    """IPVS forwarding method."""

    NAT = "NAT"
    DR = "DR"
    TUN = "TUN"


class TunnelType(enum.Enum):
    IPIP = "ipip"
    GUE = "gue"
    GRE = "gre"


class TunnelChecksum(enum.Enum):
    NOCSUM = "nocsum"
    CSUM = "csum"
    REMCSUM = "remcsum"


@dataclass(frozen=True, slots=True, kw_only=True)
class Forwarding:
    """``lb_kind``/``lvs_method``: the method, and for TUN the tunnel's encapsulation."""

    method: Method = Method.NAT
    tunnel_type: TunnelType = TunnelType.IPIP
    tunnel_port: int = 0
    """GUE only: the UDP port (1-65535)."""
    checksum: TunnelChecksum = TunnelChecksum.NOCSUM


class Protocol(enum.Enum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class HttpProtocol(enum.Enum):
    HTTP_1_0 = "1.0"
    HTTP_1_1 = "1.1"
    HTTP_1_0C = "1.0C"


class DnsType(enum.Enum):
    A = "A"
    NS = "NS"
    CNAME = "CNAME"
    SOA = "SOA"
    MX = "MX"
    TXT = "TXT"
    AAAA = "AAAA"
    RRSIG = "RRSIG"
    DNSKEY = "DNSKEY"


@dataclass(frozen=True, slots=True, kw_only=True)
class SslConfig:
    """The top-level ``SSL`` block (client context of SSL_GET checkers)."""

    password: str | None = None
    ca: str | None = None
    certificate: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupRange:
    """A ``virtual_server_group`` address entry: one address or a range, with a port."""

    start: IPAddress
    end: IPAddress
    port: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupFwmark:
    """A ``virtual_server_group`` ``fwmark N [inet|inet6]`` entry."""

    fwmark: int
    family: int | None = None
    """4, 6, or None (no family given)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VirtualServerGroup:
    name: str
    ranges: tuple[GroupRange, ...] = ()
    fwmarks: tuple[GroupFwmark, ...] = ()

    @property
    def has_ipv4(self) -> bool:
        return any(r.start.version == 4 for r in self.ranges) or any(
            f.family == 4 for f in self.fwmarks
        )

    @property
    def has_ipv6(self) -> bool:
        return any(r.start.version == 6 for r in self.ranges) or any(
            f.family == 6 for f in self.fwmarks
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    """A checker's connection options (``conn_opts_t``)."""

    connect_ip: IPAddress | None = None
    """None: the real server's address."""
    connect_port: int | None = None
    """None: the real server's port."""
    bindto: IPAddress | None = None
    bind_port: int | None = None
    bind_if: str | None = None
    connect_timeout_us: int = DEFAULT_CONNECT_TIMEOUT_US
    """From the checker, else its real server, else its virtual server."""
    fwmark: int = 0
    """SO_MARK for the checker's socket."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Checker:
    """What every checker has (install_checker_common_keywords), defaults applied."""

    alpha: bool = False
    retry: int = 1
    delay_loop_us: int = DEFAULT_DELAY_LOOP_US
    warmup_us: int = DEFAULT_DELAY_LOOP_US
    delay_before_retry_us: int = US
    log_all_failures: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpCheck(Checker):
    connection: Connection = Connection()


@dataclass(frozen=True, slots=True, kw_only=True)
class PingCheck(Checker):
    connection: Connection = Connection()


@dataclass(frozen=True, slots=True, kw_only=True)
class UdpCheck(Checker):
    connection: Connection = Connection()
    payload: bytes | None = None
    require_reply: bool = False
    reply: bytes | None = None
    reply_mask: bytes | None = None
    """Per byte, the nibbles given as ``x`` (wildcards) in ``require_reply``."""
    min_reply_length: int = 0
    max_reply_length: int = 255


@dataclass(frozen=True, slots=True, kw_only=True)
class Url:
    path: str
    digest: bytes | None = None
    status_codes: tuple[tuple[int, int], ...] = ((200, 299),)
    """Accepted status codes as sorted, disjoint, inclusive ranges."""
    virtualhost: str | None = None
    regex: str | None = None
    regex_no_match: bool = False
    regex_options: tuple[str, ...] = ()
    regex_min_offset: int = 0
    regex_max_offset: int = 0
    """0: none; else one beyond the last offset (as keepalived keeps it)."""
    regex_stack: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpCheck(Checker):
    """HTTP_GET, or SSL_GET when ``ssl``."""

    ssl: bool = False
    connection: Connection = Connection()
    virtualhost: str | None = None
    http_protocol: HttpProtocol = HttpProtocol.HTTP_1_0
    enable_sni: bool = False
    fast_recovery: bool = False
    urls: tuple[Url, ...] = ()
    sni_name: str | None = None
    """keepalived > 2.2.7."""
    tls_compliant: bool = False
    """keepalived 2.2.8+."""
    delay_before_retry_us: int = 3 * US


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpCheck(Checker):
    connection: Connection = Connection()
    helo_name: str = SMTP_DEFAULT_HELO
    hosts: tuple[Connection, ...] = ()
    """Deprecated ``host`` blocks: keepalived runs one more checker per host."""
    use_connection: bool = True
    """False when only ``host`` blocks are given (no connection option at checker level)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsCheck(Checker):
    connection: Connection = Connection()
    type: DnsType = DnsType.SOA
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MiscCheck(Checker):
    script: Script
    timeout_us: int = 0
    """0: the virtual server's delay_loop."""
    dynamic: bool = False
    retry: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class FileCheck:
    """FILE_CHECK: a track_file whose value adjusts the real server's weight."""

    track_file: str
    weight: int = 1
    reverse: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdCheck:
    """BFD_CHECK: the real server follows a bfd_instance's state."""

    name: str
    alpha: bool = False


AnyCheck = (
    TcpCheck
    | PingCheck
    | UdpCheck
    | HttpCheck
    | SmtpCheck
    | DnsCheck
    | MiscCheck
    | FileCheck
    | BfdCheck
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SorryServer:
    address: IPAddress
    port: int = 0
    forwarding: Forwarding = Forwarding()
    inhibit: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RealServer:
    address: IPAddress
    port: int = 0
    weight: int = 1
    forwarding: Forwarding = Forwarding()
    uthreshold: int = 0
    lthreshold: int = 0
    inhibit_on_failure: bool = False
    notify_up: Script | None = None
    notify_down: Script | None = None
    alpha: bool = False
    retry: int | None = None
    """None: each checker's own default."""
    connect_timeout_us: int = DEFAULT_CONNECT_TIMEOUT_US
    delay_loop_us: int = DEFAULT_DELAY_LOOP_US
    warmup_us: int | None = None
    """None: each checker's delay_loop."""
    delay_before_retry_us: int | None = None
    """None: each checker's own default."""
    smtp_alert: bool = True
    virtualhost: str | None = None
    snmp_name: str | None = None
    checks: tuple[AnyCheck, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class VirtualServer:
    """A virtual service: by address and port, by firewall mark, or by group."""

    address: IPAddress | None = None
    port: int = 0
    fwmark: int | None = None
    group: str | None = None
    family: int | None = None
    """4 or 6; None only for a group of both families."""
    protocol: Protocol | None = Protocol.UDP
    """None for a firewall-mark service (keepalived ignores a protocol there)."""
    scheduler: Scheduler = Scheduler.WLC
    forwarding: Forwarding | None = Forwarding()
    """None when never set and not needed (every real and sorry server has its own)."""
    ops: bool = False
    flag_1: bool = False
    flag_2: bool = False
    flag_3: bool = False
    sh_port: bool = False
    sh_fallback: bool = False
    mh_port: bool = False
    mh_fallback: bool = False
    persistence_engine: str | None = None
    persistence_timeout: int = 0
    persistence_granularity: IPv4Address | int | None = None
    """An IPv4 netmask, or an IPv6 prefix length."""
    ha_suspend: bool = False
    smtp_alert: bool = False
    virtualhost: str | None = None
    snmp_name: str | None = None
    alpha: bool = False
    omega: bool = False
    quorum: int = 1
    hysteresis: int = 0
    quorum_up: Script | None = None
    quorum_down: Script | None = None
    weight: int = 1
    inhibit_on_failure: bool = False
    retry: int | None = None
    connect_timeout_us: int = DEFAULT_CONNECT_TIMEOUT_US
    delay_loop_us: int = DEFAULT_DELAY_LOOP_US
    warmup_us: int | None = None
    delay_before_retry_us: int | None = None
    sorry_server: SorryServer | None = None
    real_servers: tuple[RealServer, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LvsConfig:
    ssl: SslConfig | None = None
    groups: tuple[VirtualServerGroup, ...] = ()
    virtual_servers: tuple[VirtualServer, ...] = ()

    def group(self, name: str) -> VirtualServerGroup | None:
        return next((g for g in self.groups if g.name == name), None)
