"""Mutable drafts of VRRP objects while their blocks are read (keepalived's structs).

Fields mirror keepalived 2.2.7's ``vrrp_t`` and friends, with ``None`` where
keepalived uses PARAMETER_UNSET, so that ``vrrp_complete_instance`` can apply
its defaults exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pykad.config.addresses import IPAddress
from pykad.config.diagnostics import Location
from pykad.config.scripts import Script
from pykad.config.sections._vrrp_addr import Address, Route, Rule
from pykad.config.sections._vrrp_model import (
    AuthHmac,
    AuthType,
    ChecksumCompat,
    IpvlanType,
    ParamMatch,
    State,
    Tracked,
    UnicastPeer,
)


@dataclass
class InstanceDraft:
    name: str
    location: Location | None = None
    family: int = 0
    version: int = 0
    wantstate: State | None = None
    priority: int = 0
    vrid: int = 0
    interface: str | None = None
    """The instance's interface, if keepalived has one (exists, or dynamic_interfaces)."""
    interface_present: bool = False
    """The interface exists now (keepalived: ifindex != 0)."""
    vrf: str | None = None
    ttl: int = -1
    accept: bool | None = None
    garp_delay_us: int = 0
    garp_refresh_us: int = 0
    garp_rep: int = 0
    garp_refresh_rep: int = 0
    garp_lower_prio_delay_us: int | None = None
    garp_lower_prio_rep: int | None = None
    down_timer_adverts: int = 3
    garp_extra_if_s: int | None = None
    garp_extra_if_all: bool = False
    lower_prio_no_advert: bool | None = None
    higher_prio_send_advert: bool | None = None
    smtp_alert: bool | None = None
    notify_priority_changes: bool | None = None
    skip_check_adv_addr: bool = False
    bfd_takeover: bool = False
    strict_mode: bool | None = None
    unicast_configured: bool = False
    unicast_fault_no_peer: bool = False
    check_unicast_src: bool = False
    chksum_compat: ChecksumCompat | None = None
    saddr: IPAddress | None = None
    saddr_from_config: bool = False
    unicast_src_keyword: bool = False
    mcast_daddr: IPAddress | None = None
    track_saddr: bool = False
    vips: list[Address] = field(default_factory=list)
    evips: list[Address] = field(default_factory=list)
    vroutes: list[Route] = field(default_factory=list)
    vrules: list[Rule] = field(default_factory=list)
    peers: list[UnicastPeer] = field(default_factory=list)
    track_ifs: list[Tracked] = field(default_factory=list)
    track_scripts: list[Tracked] = field(default_factory=list)
    track_files: list[Tracked] = field(default_factory=list)
    track_processes: list[Tracked] = field(default_factory=list)
    track_bfds: list[Tracked] = field(default_factory=list)
    notify: dict[str, Script] = field(default_factory=dict)
    notify_deleted: bool = False
    nopreempt: bool = False
    preempt_delay_us: int = 0
    debug: int = 0
    promote_secondaries: bool = False
    linkbeat_use_polling: bool = False
    lvs_sync_daemon_interface: str | None = None
    adver_int_us: int = 0
    auth_type: AuthType | None = None
    auth_pass: str = ""
    kernel_rx_buf_size: int = 0
    dont_track_primary: bool = False
    use_vmac: bool = False
    vmac_ifname: str | None = None
    vmac_mac: str | None = None
    use_vmac_addr: bool = False
    vmac_xmit_base: bool = False
    use_ipvlan: bool = False
    ipvlan_ifname: str | None = None
    ipvlan_address: object = None
    ipvlan_type: IpvlanType | None = None
    v3_checksum_as_v2: bool = False
    no_virtual_ipaddress: bool = False
    owner_ignore_adverts: bool = False
    timer_expired_backup: int | None = None
    auth_hmac: AuthHmac | None = None
    sync: SyncGroupDraft | None = None

    @property
    def unicast(self) -> bool:
        """keepalived's VRRP_FLAG_UNICAST (set in vrrp_complete_instance)."""
        return self.unicast_configured and bool(self.peers)


@dataclass
class ScriptDraft:
    name: str
    location: Location | None = None
    argv: tuple[str, ...] = ()
    user: str | None = None
    group: str | None = None
    user_set: bool = False
    remove: bool = False
    interval_us: int = 1_000_000
    timeout_us: int = 0
    weight: int = 0
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    init_fail: bool = False


@dataclass
class ProcessDraft:
    name: str
    process: str | None = None
    parameters: tuple[str, ...] = ()
    param_match: ParamMatch | None = None
    weight: int = 0
    weight_reverse: bool = False
    quorum: int = 1
    quorum_max: int = 2**32 - 1
    terminate_delay_us: int = 0
    fork_delay_us: int = 0
    full_command: bool = False


@dataclass
class SyncGroupDraft:
    name: str
    location: Location | None = None
    members: list[str] | None = None
    track_ifs: list[Tracked] = field(default_factory=list)
    track_scripts: list[Tracked] = field(default_factory=list)
    track_files: list[Tracked] = field(default_factory=list)
    track_processes: list[Tracked] = field(default_factory=list)
    track_bfds: list[Tracked] = field(default_factory=list)
    notify: dict[str, Script] = field(default_factory=dict)
    smtp_alert: bool | None = None
    tracking_weight: bool = False
    notify_priority_changes: bool | None = None
    instances: list[InstanceDraft] = field(default_factory=list)
    state: State | None = None


@dataclass
class GarpDraft:
    garp_interval_us: int | None = None
    gna_interval_us: int | None = None
    interfaces: list[str] = field(default_factory=list)
    aggregated: list[str] | None = None
    aggregation_group: int = 0
