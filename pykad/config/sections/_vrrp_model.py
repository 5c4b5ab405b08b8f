"""The VRRP part of the model: instances, sync groups, scripts and the other VRRP objects.

Values are those keepalived 2.2.7 runs with once its post-parse pass
(``vrrp_complete_init``) has applied the defaults, including those it takes
from ``global_defs``. Times are in microseconds, as keepalived keeps them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv6Interface

from pykad.config.addresses import IPAddress
from pykad.config.scripts import Script
from pykad.config.sections._vrrp_addr import Address, Route, Rule

TIMER_HZ = 1_000_000
UINT_MAX = 2**32 - 1

PRIORITY_DEFAULT = 100
PRIORITY_OWNER = 255
ADVERT_DEFAULT_US = TIMER_HZ
DOWN_TIMER_ADVERTS_DEFAULT = 3
IPV4_TTL_DEFAULT = 255
MCAST_GROUP4 = "224.0.0.18"
MCAST_GROUP6 = "ff02::12"


class State(enum.Enum):
    """The state an instance starts in."""

    BACKUP = "BACKUP"
    MASTER = "MASTER"


class Version(enum.IntEnum):
    """The VRRP version: 2 (RFC 3768) or 3 (RFC 5798)."""

    V2 = 2
    V3 = 3


class AuthType(enum.Enum):
    PASS = "PASS"
    AH = "AH"


class ChecksumCompat(enum.Enum):
    """``old_unicast_checksum`` (no argument: CONFIG; ``never``: NEVER)."""

    CONFIG = "config"
    NEVER = "never"


class IpvlanType(enum.Enum):
    BRIDGE = "bridge"
    PRIVATE = "private"
    VEPA = "vepa"


class ParamMatch(enum.Enum):
    """How a tracked process's parameters must match."""

    EXACT = "exact"
    INITIAL = "initial"
    PARTIAL = "partial"


class LinkbeatType(enum.Enum):
    MII = "MII"
    ETHTOOL = "ETHTOOL"
    IOCTL = "IOCTL"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tracked:
    """A tracked object (interface, script, file, process or BFD) of an instance or group."""

    name: str
    weight: int = 0
    reverse: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class UnicastPeer:
    address: IPAddress
    min_ttl: int = 0
    max_ttl: int = 255


@dataclass(frozen=True, slots=True, kw_only=True)
class Vmac:
    """``use_vmac``: a macvlan interface carrying the virtual MAC address."""

    ifname: str | None = None
    """The name configured (keepalived picks ``vrrp.<VRID>`` and so on when None)."""
    mac: str | None = None
    """A configured MAC address, as written; with 5 octets the VRID is the sixth."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ipvlan:
    """``use_ipvlan``: an ipvlan interface for the instance."""

    ifname: str | None = None
    address: IPv4Interface | IPv6Interface | None = None
    type: IpvlanType | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthHmac:
    """``auth_hmac`` (keepalived 2.4.0+; 2.2.7 calls it unknown): as written, unchecked."""

    keys: tuple[tuple[str, str], ...] = ()
    """(id, key) pairs: ``hex:HEX``, ``file:PATH`` or plain text."""
    active_key: str | None = None
    anti_replay: str | None = None
    """``time`` or ``monotonic``."""
    time_window_s: int | None = None
    mode: str | None = None
    """``enforce`` (keepalived's default), ``permissive`` or ``receive-only``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VrrpInstance:
    """One ``vrrp_instance``: a virtual router on an interface (RFC 3768 / RFC 5798)."""

    name: str
    vrid: int
    interface: str | None = None
    vrf: str | None = None
    family: int = 4
    """4 or 6: the family of the addresses (IPv4 when nothing says)."""
    version: Version = Version.V2
    state: State = State.BACKUP
    priority: int = PRIORITY_DEFAULT
    advert_int_us: int = ADVERT_DEFAULT_US
    virtual_ipaddresses: tuple[Address, ...] = ()
    virtual_ipaddresses_excluded: tuple[Address, ...] = ()
    virtual_routes: tuple[Route, ...] = ()
    virtual_rules: tuple[Rule, ...] = ()
    unicast_peers: tuple[UnicastPeer, ...] = ()
    source_address: IPAddress | None = None
    """``mcast_src_ip`` / ``unicast_src_ip`` (one setting in keepalived)."""
    unicast_src_keyword: bool = False
    """The source address was given as ``unicast_src_ip`` (a unicast keyword)."""
    mcast_dst_ip: IPAddress | None = None
    """The multicast group adverts go to (global default when not set); None for unicast."""
    unicast_ttl: int | None = IPV4_TTL_DEFAULT
    """TTL of unicast adverts; None: the kernel's default (IPv6)."""
    unicast_fault_no_peer: bool = False
    check_unicast_src: bool = False
    old_unicast_checksum: ChecksumCompat | None = None
    track_src_ip: bool = False
    vmac: Vmac | None = None
    use_vmac_addr: bool = False
    vmac_xmit_base: bool = False
    ipvlan: Ipvlan | None = None
    dont_track_primary: bool = False
    track_interfaces: tuple[Tracked, ...] = ()
    track_scripts: tuple[Tracked, ...] = ()
    track_files: tuple[Tracked, ...] = ()
    track_processes: tuple[Tracked, ...] = ()
    track_bfds: tuple[Tracked, ...] = ()
    accept: bool = True
    nopreempt: bool = False
    preempt_delay_us: int = 0
    strict_mode: bool = False
    skip_check_adv_addr: bool = False
    bfd_takeover: bool = False
    """pykad: take over as soon as a BFD session to the master goes down
    (``pykad_bfd_takeover``; keepalived reports it as an unknown keyword)."""
    debug: int = 0
    promote_secondaries: bool = False
    linkbeat_use_polling: bool = False
    notify_backup: Script | None = None
    notify_master: Script | None = None
    notify_fault: Script | None = None
    notify_stop: Script | None = None
    notify_deleted: bool = False
    notify_deleted_script: Script | None = None
    notify: Script | None = None
    notify_master_rx_lower_pri: Script | None = None
    smtp_alert: bool = False
    notify_priority_changes: bool = False
    lvs_sync_daemon_interface: str | None = None
    garp_master_delay_us: int = 5 * TIMER_HZ
    garp_master_refresh_us: int = 0
    garp_master_repeat: int = 5
    garp_master_refresh_repeat: int = 1
    garp_lower_prio_delay_us: int = 5 * TIMER_HZ
    garp_lower_prio_repeat: int = 5
    down_timer_adverts: int = DOWN_TIMER_ADVERTS_DEFAULT
    garp_extra_if_s: int = 0
    garp_extra_if_all: bool = False
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    kernel_rx_buf_size: int = 0
    auth_type: AuthType | None = None
    auth_pass: str | None = None
    # keepalived 2.2.8+ keywords (2.2.7 calls them unknown)
    v3_checksum_as_v2: bool = False
    no_virtual_ipaddress: bool = False
    owner_ignore_adverts: bool = False
    timer_expired_backup: int | None = None
    """``timer_expired_backup [PRIO]`` (2.2.8+): None when off."""
    auth_hmac: AuthHmac | None = None

    @property
    def unicast(self) -> bool:
        return bool(self.unicast_peers)


@dataclass(frozen=True, slots=True, kw_only=True)
class VrrpScript:
    """``vrrp_script``: a command run periodically; its result can change priorities."""

    name: str
    script: Script
    """The command, and the user (``user`` keyword) it runs as (None: the default user)."""
    interval_us: int = TIMER_HZ
    timeout_us: int = 0
    """0: the interval is used."""
    weight: int = 0
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    init_fail: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackProcess:
    """``vrrp_track_process``: a process whose presence is tracked."""

    name: str
    process: str
    parameters: tuple[str, ...] = ()
    param_match: ParamMatch | None = None
    weight: int = 0
    weight_reverse: bool = False
    quorum: int = 1
    quorum_max: int = UINT_MAX
    terminate_delay_us: int = 0
    fork_delay_us: int = 0
    full_command: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncGroup:
    """``vrrp_sync_group``: instances that change state together."""

    name: str
    members: tuple[str, ...]
    track_interfaces: tuple[Tracked, ...] = ()
    track_scripts: tuple[Tracked, ...] = ()
    track_files: tuple[Tracked, ...] = ()
    track_processes: tuple[Tracked, ...] = ()
    track_bfds: tuple[Tracked, ...] = ()
    notify_backup: Script | None = None
    notify_master: Script | None = None
    notify_fault: Script | None = None
    notify_stop: Script | None = None
    notify: Script | None = None
    smtp_alert: bool = False
    sync_group_tracking_weight: bool = False
    notify_priority_changes: bool | None = None
    """None: not set on the group (members then use the global setting)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackGroup:
    """``track_group``: instances that static addresses, routes and rules can track."""

    name: str
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GarpGroup:
    """``garp_group``: pacing of gratuitous ARPs / NAs on some interfaces."""

    garp_interval_us: int | None = None
    gna_interval_us: int | None = None
    interfaces: tuple[str, ...] = ()
    """From ``interface`` lines."""
    aggregated_interfaces: tuple[str, ...] | None = None
    """From an ``interfaces`` block (an aggregation group); None when there is none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkbeatInterface:
    name: str
    type: LinkbeatType | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UpDownDelay:
    """``interface_up_down_delays``: debounce delays of an interface."""

    name: str
    down_us: int = 0
    up_us: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class VrrpConfig:
    instances: tuple[VrrpInstance, ...] = ()
    sync_groups: tuple[SyncGroup, ...] = ()
    scripts: tuple[VrrpScript, ...] = ()
    track_processes: tuple[TrackProcess, ...] = ()
    track_groups: tuple[TrackGroup, ...] = ()
    garp_groups: tuple[GarpGroup, ...] = ()
    linkbeat_interfaces: tuple[LinkbeatInterface, ...] = ()
    up_down_delays: tuple[UpDownDelay, ...] = ()

    def instance(self, name: str) -> VrrpInstance | None:
        return next((i for i in self.instances if i.name == name), None)
