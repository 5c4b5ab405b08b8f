"""The model of ``global_defs`` and the global top-level keywords (keepalived 2.2.7).

Field defaults are the values keepalived 2.2.7 starts from (``alloc_global_data``,
``set_vrrp_defaults``) or, for those it derives after parsing (``init_global_data``,
``vrrp_complete_init``), what it derives. Values that keepalived takes from the
machine at run time (the host name for ``router_id``, ``smtp_helo_name`` and
``notification_email_from``) are None here: the daemon resolves them.
Times are microseconds (``_us``) where keepalived keeps TIMER_HZ units, seconds
(``_s``) where it keeps seconds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

from pykad.config.addresses import IPAddress
from pykad.config.scripts import Script

TIMER_HZ = 1_000_000
RT_RLIMIT_DEFAULT_US = 10_000
"""keepalived's ``*_rlimit_rttime`` when none is set (what its dumps show)."""
PYKAD_RT_RLIMIT_DEFAULT_US = 1_000_000
"""What pykad applies when none is set: a Python child runs longer than 10 ms without
a system call (a garbage collection, the set-up of a thousand instances), and the
kernel would kill it for that."""
DEFAULT_SMTP_PORT = 25
DEFAULT_SMTP_CONNECTION_TIMEOUT_US = 30 * TIMER_HZ
DEFAULT_MCAST_GROUP4 = IPv4Address("224.0.0.18")
DEFAULT_MCAST_GROUP6 = IPv6Address("ff02::12")
DEFAULT_INTERFACE = "eth0"
DEFAULT_DBUS_SERVICE_NAME = "org.keepalived.Vrrp1"
DEFAULT_NFTABLES_TABLE = "keepalived"
DEFAULT_NFTABLES_IPVS_TABLE = "keepalived_ipvs"
DEFAULT_IPVS_NF_START_FWMARK = 1000
DEFAULT_UMASK = 0o177
DEFAULT_CHILD_WAIT_TIME = 5
DEFAULT_SCRIPT_TIMEOUT = 10
DEFAULT_VMAC_PREFIX = "vrrp"
RUNSTATEDIR = "/run"
PACKAGE = "keepalived"


class LvsFlushOnStop(enum.Enum):
    """``lvs_flush_on_stop``: remove every IPVS service, or only keepalived's."""

    FULL = "full"
    VS = "VS"


class RxBufsPolicy(enum.Enum):
    """``vrrp_rx_bufs_policy``: how the VRRP receive buffer size is chosen."""

    MTU = "MTU"
    ADVERT = "ADVERT"
    SIZE = "SIZE"
    """``rx_bufs_size`` bytes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessNames:
    """``process_name`` and the child process names (``process_names`` sets all three)."""

    main: str | None = None
    vrrp: str | None = None
    checker: str | None = None
    bfd: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Smtp:
    """Email alerts: the SMTP server and the addresses."""

    server: IPAddress | str | None = None
    """An address, or a host name to resolve (keepalived resolves it while parsing)."""
    port: int = DEFAULT_SMTP_PORT
    helo_name: str | None = None
    """None: the local host name (when a server is set)."""
    connect_timeout_us: int | None = None
    """30 s when a server is set and no timeout was given."""
    email_from: str | None = None
    """None: ``<user>@<host name>`` (when a server is set)."""
    emails: tuple[str, ...] = ()
    alert: bool | None = None
    """None: not set (VRRP and virtual servers then do not alert; real servers do)."""
    alert_vrrp: bool | None = None
    alert_checker: bool | None = None
    no_email_faults: bool = False
    no_checker_emails: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessTuning:
    """Scheduling of one child process (``vrrp_*``, ``checker_*``, ``bfd_*``)."""

    priority: int = 0
    """nice value, -20..19."""
    no_swap: bool = False
    rt_priority: int = 0
    """SCHED_RR priority 1..99; 0: not real-time."""
    cpu_affinity: tuple[int, ...] = ()
    rlimit_rttime_us: int | None = None
    """None: not set (keepalived's 10 ms in dumps, ``PYKAD_RT_RLIMIT_DEFAULT_US`` applied)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Garp:
    """Gratuitous ARP / unsolicited NA defaults for VRRP instances."""

    master_delay_us: int = 5 * TIMER_HZ
    master_repeat: int = 5
    master_refresh_s: int = 0
    master_refresh_repeat: int = 1
    lower_prio_delay_us: int = 5 * TIMER_HZ
    """Defaults to ``master_delay_us`` (resolved after parsing)."""
    lower_prio_repeat: int = 5
    """Defaults to ``master_repeat`` (resolved after parsing)."""
    interval_us: int = 0
    gna_interval_us: int = 0
    extra_if_s: int = 0
    """``vrrp_garp_extra_if``: also send GARPs on the base interface of VMACs."""
    extra_if_all: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Nftables:
    table: str | None = None
    """VRRP's nftables table (None: none configured)."""
    priority: int = -1
    ifindex: bool = False
    counters: bool = False
    ipvs_table: str | None = None
    ipvs_priority: int = -1
    ipvs_start_fwmark: int = 0
    """1000 once ``nftables_ipvs`` is given."""
    iptables_requested: bool = False
    """``vrrp_iptables`` was given (this build maps it to nftables, with an error)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LvsTimeouts:
    """``lvs_timeouts``, seconds; None: the kernel's."""

    tcp: int | None = None
    tcpfin: int | None = None
    udp: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LvsSyncDaemon:
    """``lvs_sync_daemon``: the IPVS sync daemon follows a VRRP instance's state."""

    interface: str
    instance: str | None = None
    """The VRRP instance it follows (checked by the VRRP section)."""
    sync_id: int | None = None
    """None: the instance's VRID."""
    max_len: int = 0
    port: int = 0
    ttl: int = 0
    group: IPAddress | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyFifo:
    path: str | None = None
    user: str | None = None
    group: str | None = None
    script: Script | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Snmp:
    socket: str | None = None
    traps: bool = False
    vrrp: bool = False
    checker: bool = False
    rfcv2: bool = False
    rfcv3: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Dbus:
    enabled: bool = False
    service_name: str = DEFAULT_DBUS_SERVICE_NAME
    no_interface_name: str | None = None
    """keepalived 2.3.0+."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NetlinkBufs:
    """Netlink receive buffer sizes (0: the kernel's) and whether to force them."""

    vrrp_cmd: int = 0
    vrrp_cmd_force: bool = False
    vrrp_monitor: int = 0
    vrrp_monitor_force: bool = False
    process_monitor: int = 0
    process_monitor_force: bool = False
    lvs_cmd: int = 0
    lvs_cmd_force: bool = False
    lvs_monitor: int = 0
    lvs_monitor_force: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Reload:
    check_config: str | None = None
    """``reload_check_config``: log file of the check run before a reload."""
    time_file: str | None = None
    repeat: bool = False
    file: str | None = None
    """``reload_file`` (the default name resolved as keepalived does)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Newer:
    """Keywords of keepalived versions after 2.2.7 (read, but 2.2.7 rejects them)."""

    iproute_etc_dir: str | None = None
    iproute_usr_dir: str | None = None
    json_version: int = 1
    state_dump_file: str | None = None
    stats_dump_file: str | None = None
    json_dump_file: str | None = None
    set_supplementary_groups: bool = False
    use_symlink_paths: bool = False
    snmp_vs_stats_update_interval_us: int | None = None
    snmp_rs_stats_update_interval_us: int | None = None
    vrrp_delay_after_boot_us: int = 0
    vrrp_owner_ignore_adverts: bool = False
    v3_checksum_as_v2: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GlobalDefs:
    """``global_defs`` and the global top-level keywords, with keepalived's defaults."""

    # top level
    linkbeat_use_polling: bool = False
    net_namespace: str | None = None
    net_namespace_ipvs: str | None = None
    """``""``: the default namespace."""
    namespace_with_ipsets: bool = False
    use_pid_dir: bool = False
    """Also set by ``net_namespace`` and ``instance``."""
    instance: str | None = None
    child_wait_time_s: int = DEFAULT_CHILD_WAIT_TIME

    # global_defs
    process_names: ProcessNames = field(default_factory=ProcessNames)
    router_id: str | None = None
    """None: the local host name."""
    smtp: Smtp = field(default_factory=Smtp)
    startup_script: Script | None = None
    startup_script_timeout_s: int = 0
    """10 when a startup script is set and no timeout was given."""
    shutdown_script: Script | None = None
    shutdown_script_timeout_s: int = 0
    script_user: str | None = None
    script_group: str | None = None
    script_security: bool = False
    max_auto_priority: int = 0
    """0: no automatic real-time priority; -1: disabled."""
    min_auto_priority_delay_us: int = 1_000_000
    checker_log_all_failures: bool = False

    # VRRP defaults
    dynamic_interfaces: bool = False
    allow_if_changes: bool = False
    default_interface: str = DEFAULT_INTERFACE
    disable_local_igmp: bool = False
    vrrp_mcast_group4: IPv4Address = DEFAULT_MCAST_GROUP4
    vrrp_mcast_group6: IPv6Address = DEFAULT_MCAST_GROUP6
    garp: Garp = field(default_factory=Garp)
    vrrp_down_timer_adverts: int = 3
    vrrp_lower_prio_no_advert: bool = False
    vrrp_higher_prio_send_advert: bool = False
    vrrp_version: int = 2
    vrrp_check_unicast_src: bool = False
    vrrp_skip_check_adv_addr: bool = False
    vrrp_strict: bool = False
    vrrp_notify_priority_changes: bool = False
    fifo_write_vrrp_states_on_reload: bool = False
    vrrp_rx_bufs_policy: RxBufsPolicy | None = None
    vrrp_rx_bufs_size: int = 0
    vrrp_rx_bufs_multiplier: int = 3
    vrrp_startup_delay_us: int = 0
    log_unknown_vrids: bool = False
    metrics_address: tuple[str, int] | None = None
    """pykad: where the Prometheus endpoint listens (``pykad_metrics_address``); None: off."""
    vmac_prefix: str | None = None
    """None: ``vrrp``."""
    vmac_addr_prefix: str | None = None
    """None: as ``vmac_prefix``."""
    nftables: Nftables = field(default_factory=Nftables)

    # processes
    vrrp_process: ProcessTuning = field(default_factory=ProcessTuning)
    checker_process: ProcessTuning = field(default_factory=ProcessTuning)
    bfd_process: ProcessTuning = field(default_factory=ProcessTuning)
    netlink: NetlinkBufs = field(default_factory=NetlinkBufs)

    # notify FIFOs
    notify_fifo: NotifyFifo = field(default_factory=NotifyFifo)
    vrrp_notify_fifo: NotifyFifo = field(default_factory=NotifyFifo)
    lvs_notify_fifo: NotifyFifo = field(default_factory=NotifyFifo)

    # LVS
    lvs_timeouts: LvsTimeouts = field(default_factory=LvsTimeouts)
    lvs_flush: bool = False
    lvs_flush_on_stop: LvsFlushOnStop | None = None
    lvs_sync_daemon: LvsSyncDaemon | None = None
    rs_init_notifies: bool = False

    snmp: Snmp = field(default_factory=Snmp)
    dbus: Dbus = field(default_factory=Dbus)

    # files, reload and the rest
    umask: int = DEFAULT_UMASK
    random_seed: int | None = None
    reload: Reload = field(default_factory=Reload)
    include_check: int | None = None
    """``include_check`` flags (pykad.config.reader INCLUDE_*); None: not given."""
    config_save_dir: str | None = None
    tmp_config_directory: str | None = None
    data_use_instance: bool = False

    newer: Newer = field(default_factory=Newer)

    def start_stop_scripts(self) -> tuple[Script, ...]:
        return tuple(s for s in (self.startup_script, self.shutdown_script) if s is not None)
