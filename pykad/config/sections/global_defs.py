"""``global_defs`` and the global top-level keywords (keepalived/core/global_parser.c, 2.2.7).

Owns ``global_defs`` and the top-level keywords keepalived's global parser
installs (``linkbeat_use_polling``, ``net_namespace``, ``net_namespace_ipvs``,
``namespace_with_ipsets``, ``use_pid_dir``, ``instance``, ``child_wait_time``):
their handlers with keepalived's messages, the defaults keepalived applies
after parsing, the start/shutdown script security check, the default script
user other sections need (``Builder.script_ids``) and the writer.

keepalived's parent process reads these (its children install them inactive),
so this section is read in the first pass, before any other, and its messages
appear once. Host facts (users, files) come from ``ctx.host`` and
``ctx.script_host``; nothing here touches the machine.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from pykad.config import scripts
from pykad.config.addresses import IPAddress, inet_stosockaddr
from pykad.config.build import Builders, Context, StopReading
from pykad.config.diagnostics import EXIT_OK, Severity
from pykad.config.sections._global_model import (
    DEFAULT_IPVS_NF_START_FWMARK,
    DEFAULT_NFTABLES_IPVS_TABLE,
    DEFAULT_NFTABLES_TABLE,
    DEFAULT_SCRIPT_TIMEOUT,
    DEFAULT_SMTP_CONNECTION_TIMEOUT_US,
    DEFAULT_SMTP_PORT,
    PACKAGE,
    RUNSTATEDIR,
    TIMER_HZ,
    Dbus,
    Garp,
    GlobalDefs,
    LvsFlushOnStop,
    LvsSyncDaemon,
    LvsTimeouts,
    NetlinkBufs,
    Newer,
    Nftables,
    NotifyFifo,
    ProcessNames,
    ProcessTuning,
    Reload,
    RxBufsPolicy,
    Smtp,
    Snmp,
)
from pykad.config.tree import Statement
from pykad.config.values import INT_MAX, INT_MIN, UINT_MAX, true_false
from pykad.config.values import format_timer as _secs

__all__ = [
    "NAME",
    "ORDER",
    "Builder",
    "Dbus",
    "Garp",
    "GlobalDefs",
    "LvsFlushOnStop",
    "LvsSyncDaemon",
    "LvsTimeouts",
    "NetlinkBufs",
    "Newer",
    "Nftables",
    "NotifyFifo",
    "ProcessNames",
    "ProcessTuning",
    "Reload",
    "RxBufsPolicy",
    "Smtp",
    "Snmp",
    "write",
]

NAME = "global"
ORDER = 10

TASK_COMM_LEN = 16
SCHED_RR_MIN, SCHED_RR_MAX = 1, 99
LVS_MAX_TIMEOUT = 86400 * 31
IP_VS_IFNAME_MAXLEN = 16
NFT_TABLE_MAXNAMELEN = 256
"""Debian's libnftnl headers (keepalived's own fallback is 32)."""
PATH_MAX = 4096
DEFAULT_SCRIPT_USER = scripts.DEFAULT_SCRIPT_USER
INCLUDE_R, INCLUDE_M, INCLUDE_W, INCLUDE_B = 1, 2, 4, 8
_INCLUDE_NAMES = {"read": INCLUDE_R, "match": INCLUDE_M, "wildcard_match": INCLUDE_W,
                  "brace_match": INCLUDE_B}  # fmt: skip
_UMASK_BITS = {"IRUSR": 0o400, "IWUSR": 0o200, "IXUSR": 0o100, "IRGRP": 0o040,
               "IWGRP": 0o020, "IXGRP": 0o010, "IROTH": 0o004, "IWOTH": 0o002,
               "IXOTH": 0o001}  # fmt: skip

TOP_KEYWORDS = frozenset({
    "linkbeat_use_polling", "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets",
    "use_pid_dir", "instance", "child_wait_time", "global_defs",
})  # fmt: skip

_STRTOL = re.compile(r"[ \t\n\r\f\v]*([+-]?)(\d*)")


def _strtol_value(text: str) -> int:
    """What C's ``(int)strtol(text)`` leaves in the result (for messages printing it)."""
    m = _STRTOL.match(text)
    assert m
    value = int(m.group(2) or 0) * (-1 if m.group(1) == "-" else 1)
    value = max(-(2**63), min(2**63 - 1, value))
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


class _Fifo:
    def __init__(self) -> None:
        self.path: str | None = None
        self.user: str | None = None
        self.group: str | None = None
        self.script: scripts.Script | None = None


class Builder:
    """Reads the global statements (the first pass) and finishes ``GlobalDefs``."""

    keywords: ClassVar[frozenset[str]] = TOP_KEYWORDS

    def __init__(self, ctx: Context, builders: Builders) -> None:
        self.ctx = ctx
        self.top: dict[str, Any] = {}
        self.d: dict[str, Any] = {}
        self.smtp: dict[str, Any] = {}
        self.emails: list[str] = []
        self.names: dict[str, Any] = {}
        self.garp: dict[str, Any] = {}
        self.nft: dict[str, Any] = {}
        self.procs: dict[str, dict[str, Any]] = {"vrrp": {}, "checker": {}, "bfd": {}}
        self.netlink: dict[str, Any] = {}
        self.fifos = {"": _Fifo(), "vrrp_": _Fifo(), "lvs_": _Fifo()}
        self.lvs_timeouts: dict[str, int] = {}
        self.syncd: dict[str, Any] | None = None
        self.snmp: dict[str, Any] = {}
        self.dbus: dict[str, Any] = {}
        self.reload: dict[str, Any] = {}
        self.newer: dict[str, Any] = {}
        self.rx_policy = 0
        self.use_pid_dir = False
        self.script_security = False
        # keepalived's default script user state (lib/notify.c)
        self._default_ids: tuple[int, int] | None = None
        self._default_set = False
        self._default_fail = False
        self.defs: GlobalDefs | None = None
        """The finished model (set by ``finish``)."""

    # --- the default script user (lib/notify.c) -----------------------------------------

    def default_script_user(self) -> tuple[int, int] | None:
        """``get_default_script_user``: the default (uid, gid) for a script, None if unusable.

        The first call fixes it: ``script_user`` if given, else ``keepalived_script``
        if that user exists, else root; with script security on and no such user,
        keepalived reports "Unable to set default user keepalived_script for script"
        (at the current statement) and every later script without a user fails.
        """
        if self._default_fail:
            return None
        if not self._default_set:
            self._default_set = True
            found = self.ctx.host.user_ids(DEFAULT_SCRIPT_USER)
            if found is None:
                if self.script_security:
                    self.ctx.error(f"Unable to set default user {DEFAULT_SCRIPT_USER} for script")
                    self._default_fail = True
                    return None
                found = (0, 0)
            self._default_ids = found
        return self._default_ids

    def script_ids(self) -> tuple[int, int]:
        """The default script user's (uid, gid) as keepalived resolves it (root if unusable)."""
        if self._default_set:
            return self._default_ids or (0, 0)
        return self.ctx.host.user_ids(DEFAULT_SCRIPT_USER) or (0, 0)

    def _set_default_script_user(self, user: str, group: str | None) -> bool:
        self._default_set = True
        ids = self.ctx.host.user_ids(user)
        gid = self.ctx.host.group_id(group) if group is not None else None
        if ids is None or (group is not None and gid is None):
            self._default_fail = True
        else:
            self._default_ids = (ids[0], gid if gid is not None else ids[1])
        return self._default_fail

    # --- statements ---------------------------------------------------------------------

    def statement(self, st: Statement) -> None:
        if st.keyword == "global_defs":
            for child in st.children:
                self.ctx.at(child)
                handler = _HANDLERS.get(child.keyword)
                if handler is not None:
                    handler(self, child)
            return
        _TOP_HANDLERS[st.keyword](self, st)

    # top level

    def _linkbeat_use_polling(self, st: Statement) -> None:
        self.top["linkbeat_use_polling"] = True

    def _net_namespace(self, st: Statement) -> None:
        if len(st.words) < 2:
            self.ctx.error("net_namespace name missing - ignoring")
        elif "net_namespace" not in self.top:
            self.top["net_namespace"] = st.words[1]
            self.use_pid_dir = True
        else:
            self.ctx.error(f"Duplicate net_namespace definition {st.words[1]} - ignoring")

    def _net_namespace_ipvs(self, st: Statement) -> None:
        if "net_namespace_ipvs" in self.top:
            word = self.ctx.word(st, 1)
            self.ctx.error(f"Duplicate net_namespace_ipvs definition {word} - ignoring")
            return
        self.top["net_namespace_ipvs"] = st.words[1] if len(st.words) > 1 else ""

    def _namespace_with_ipsets(self, st: Statement) -> None:
        self.top["namespace_with_ipsets"] = True

    def _use_pid_dir(self, st: Statement) -> None:
        self.use_pid_dir = True

    def _instance(self, st: Statement) -> None:
        if len(st.words) < 2:
            self.ctx.error("instance name missing - ignoring")
        elif "instance" not in self.top:
            self.top["instance"] = st.words[1]
            self.use_pid_dir = True
        else:
            self.ctx.error(f"Duplicate instance definition {st.words[1]} - ignoring")

    def _child_wait_time(self, st: Statement) -> None:
        word = self.ctx.word(st, 1)
        value = self.ctx.values.read_unsigned(word, 0, UINT_MAX)
        if value is None:
            self.ctx.error(f"Invalid child_wait_time {word}")
        else:
            self.top["child_wait_time_s"] = value

    # process names

    def _process_name(self, dest: str, name: str | None) -> None:
        if name is None:
            self.ctx.error("Process name missing")
            return
        if len(name) >= TASK_COMM_LEN:
            self.ctx.error(
                f"Process name {name} more than {TASK_COMM_LEN - 1} characters, truncating"
            )
            name = name[: TASK_COMM_LEN - 1]
        self.names[dest] = name

    def _process_names(self, st: Statement) -> None:
        self._process_name("vrrp", "keepalived_vrrp")
        self._process_name("checker", "keepalived_lvs")
        self._process_name("bfd", "keepalived_bfd")

    @staticmethod
    def _named_process(dest: str) -> Callable[[Builder, Statement], None]:
        def handler(self: Builder, st: Statement) -> None:
            self._process_name(dest, self.ctx.word(st, 1))

        return handler

    # identity and email

    def _router_id(self, st: Statement) -> None:
        if len(st.words) < 2:
            self.ctx.error("routerid name missing - ignoring")
        else:
            self.d["router_id"] = st.words[1]

    def _email_from(self, st: Statement) -> None:
        if len(st.words) < 2:
            self.ctx.error("emailfrom missing - ignoring")
        else:
            self.smtp["email_from"] = st.words[1]

    def _smtp_server(self, st: Statement) -> None:
        host = self.ctx.word(st, 1)
        port_word = st.words[2] if len(st.words) >= 3 else str(DEFAULT_SMTP_PORT)
        values = self.ctx.values
        server: IPAddress | str | None = None
        tries = 1 if any(c in host for c in "-/") else 2
        port = None
        for _ in range(tries):  # inet_stosockaddr, then domain_stosockaddr, each reads the port
            port = values.read_unsigned(port_word, 1, 65535, lenient=True)
        if port is not None:
            if tries == 2:
                server = inet_stosockaddr(host)
            if server is None:
                server = _host_name(host)
                resolves = getattr(self.ctx.host, "resolves", None)
                if server is not None and callable(resolves) and not resolves(server):
                    server = None  # keepalived's domain_stosockaddr: getaddrinfo failed
        if server is None:
            self.ctx.error(f"Invalid smtp server {host} {port_word}")
            return
        self.smtp["server"] = server
        self.smtp["port"] = port

    def _smtp_helo_name(self, st: Statement) -> None:
        if len(st.words) >= 2:
            self.smtp["helo_name"] = st.words[1]

    def _smtp_connect_timeout(self, st: Statement) -> None:
        word = self.ctx.word(st, 1)
        high = UINT_MAX // TIMER_HZ
        value = self.ctx.values.read_unsigned(word, 0, high, lenient=True)
        if value is None:
            self.ctx.error(f"smtp_connect_timeout '{word}' must be in [0, {high}] - ignoring")
            return
        if value == 0:
            self.ctx.error("smtp_conect_timeout must be greater than 0, setting to 1")
            value = 1
        self.smtp["connect_timeout_us"] = value * TIMER_HZ

    def _notification_email(self, st: Statement) -> None:
        if not st.values:
            self.ctx.error("Warning - empty notification_email block")
            return
        for line in st.values:
            self.emails.extend(line)

    @staticmethod
    def _bool(
        store: str, key: str, message: str, *, quoted: bool = True
    ) -> Callable[[Builder, Statement], None]:
        """A ``<BOOL>?`` keyword; ``message`` names it in keepalived's error."""

        def handler(self: Builder, st: Statement) -> None:
            value: bool | None = True
            if len(st.words) >= 2:
                value = true_false(st.words[1])
                if value is None:
                    shown = f"'{st.words[1]}' " if quoted else ""
                    self.ctx.error(f"Invalid value {shown}for {message} specified")
                    return
            getattr(self, store)[key] = value

        return handler

    @staticmethod
    def _flag(store: str, key: str) -> Callable[[Builder, Statement], None]:
        def handler(self: Builder, st: Statement) -> None:
            getattr(self, store)[key] = True

        return handler

    def _metrics_address(self, st: Statement) -> None:
        """pykad: ``pykad_metrics_address [HOST:]PORT`` (IPv6 as ``[ADDR]:PORT``)."""
        found = split_host_port(st.words[1]) if len(st.words) >= 2 else None
        if found is None:
            self.ctx.error("pykad_metrics_address takes [HOST:]PORT - ignoring")
        else:
            self.d["metrics_address"] = found

    # start/shutdown scripts

    def _script(self, st: Statement, what: str, *, fifo: bool = False) -> scripts.Script | None:
        """``notify_script_init``: the script, with its user resolved as keepalived does."""
        script = scripts.parse_script(self.ctx, st, what)
        if script is None:
            return None
        if script.user is None and self.default_script_user() is None:
            self.ctx.note(
                f"Failed to set default user for {what} script {script.argv[0]} - ignoring"
            )
            return None
        return script

    def _start_stop(self, st: Statement, kind: str) -> None:
        key = f"{kind}_script"
        if key in self.d:
            self.ctx.error(f"{kind} script already specified")
            return
        if len(st.words) < 2:
            self.ctx.error(f"{kind} script missing")
            return
        script = self._script(st, kind)
        if script is None:
            self.ctx.error(f"Invalid {kind} script")
            return
        self.d[key] = script
        self.d.setdefault(f"{kind}_script_timeout_s", DEFAULT_SCRIPT_TIMEOUT)

    def _start_stop_timeout(self, st: Statement, kind: str) -> None:
        if len(st.words) < 2:
            self.ctx.error(f"{kind}_script_timeout requires value")
            return
        value = self.ctx.values.read_unsigned(st.words[1], 1, 1000, lenient=True)
        if value is None:
            self.ctx.error(f"{kind}_script_timeout '{st.words[1]}' must be in [1, 1000] - ignoring")
            return
        self.d[f"{kind}_script_timeout_s"] = value

    def _startup_script(self, st: Statement) -> None:
        self._start_stop(st, "startup")

    def _shutdown_script(self, st: Statement) -> None:
        self._start_stop(st, "shutdown")

    def _startup_script_timeout(self, st: Statement) -> None:
        self._start_stop_timeout(st, "startup")

    def _shutdown_script_timeout(self, st: Statement) -> None:
        self._start_stop_timeout(st, "shutdown")

    def _script_user(self, st: Statement) -> None:
        if len(st.words) < 2:
            self.ctx.error("No script username specified")
            return
        group = st.words[2] if len(st.words) > 2 else None
        self.d["script_user"], self.d["script_group"] = st.words[1], group
        if self._set_default_script_user(st.words[1], group):
            self.ctx.error("Error setting global script uid/gid")

    def _enable_script_security(self, st: Statement) -> None:
        self.script_security = True

    # priorities

    def _max_auto_priority(self, st: Statement) -> None:
        if len(st.words) < 2:
            self.d["max_auto_priority"] = SCHED_RR_MAX
            return
        value = self.ctx.values.read_int(st.words[1], -1, SCHED_RR_MAX, lenient=True)
        if value is None:
            self.ctx.error(
                f"max_auto_priority '{st.words[1]}' must be in [0, {SCHED_RR_MAX}] "
                "(or -1 to disable) - ignoring"
            )
            return
        self.d["max_auto_priority"] = value

    def _min_auto_priority_delay(self, st: Statement) -> None:
        if len(st.words) < 2:
            self.ctx.error("min_auto_priority_delay requires delay time")
            return
        value = self.ctx.values.read_int(st.words[1], 1, 10_000_000, lenient=True)
        if value is None:
            self.ctx.error(
                f"min_auto_priority_delay '{st.words[1]}' must be in [1, 10000000] - ignoring"
            )
            return
        self.d["min_auto_priority_delay_us"] = value

    def _proc_priority(self, st: Statement, proc: str) -> None:
        value = 0
        if len(st.words) < 2:
            self.ctx.error(f"No {proc} process priority specified")
        else:
            read = self.ctx.values.read_int(st.words[1], -20, 19, lenient=True)
            if read is None:
                self.ctx.error(f"Invalid {proc} process priority specified")
            else:
                value = read
        self.procs[proc]["priority"] = value

    def _proc_rt_priority(self, st: Statement, proc: str) -> None:
        if len(st.words) < 2:
            self.ctx.error(f"No {proc} process real-time priority specified")
            return
        value = self.ctx.values.read_int(st.words[1], INT_MIN, INT_MAX, lenient=True)
        if value is None:
            self.ctx.error(f"{proc} process real-time priority '{st.words[1]}' invalid")
            return
        if value < SCHED_RR_MIN:
            self.ctx.error(
                f"{proc} process real-time priority {value} less than minimum "
                f"{SCHED_RR_MIN} - setting to minimum"
            )
            value = SCHED_RR_MIN
        elif value > SCHED_RR_MAX:
            self.ctx.error(
                f"{proc} process real-time priority {value} greater than maximum "
                f"{SCHED_RR_MAX} - setting to maximum"
            )
            value = SCHED_RR_MAX
        self.procs[proc]["rt_priority"] = value

    def _proc_cpu_affinity(self, st: Statement, proc: str) -> None:
        if len(st.words) < 2:
            self.ctx.error(f"No {proc} cpu_id set specified")
            return
        cpus = _online_cpus(self.ctx)
        chosen: list[int] = []
        for word in st.words[1:]:
            value = self.ctx.values.read_int(word, 0, cpus - 1, lenient=True)
            if value is None:
                self.ctx.error(f"Invalid cpu_id:{_strtol_value(word)} specified for {proc} process")
                self.procs[proc]["cpu_affinity"] = ()
                return
            if value not in chosen:
                chosen.append(value)
        self.procs[proc]["cpu_affinity"] = tuple(sorted(chosen))

    def _proc_rlimit(self, st: Statement, proc: str) -> None:
        word = self.ctx.word(st, 1)
        value = self.ctx.values.read_unsigned(word, 1, UINT_MAX, lenient=True)
        if value is None:
            self.ctx.error(f"Invalid {proc} real-time limit - {word}")
            value = 0
        elif value == 1:
            value = 2
        self.procs[proc]["rlimit_rttime_us"] = value

    def _proc_no_swap(self, st: Statement, proc: str) -> None:
        self.procs[proc]["no_swap"] = True

    # VRRP defaults

    def _dynamic_interfaces(self, st: Statement) -> None:
        self.d["dynamic_interfaces"] = True
        if len(st.words) >= 2:
            if st.words[1] == "allow_if_changes":
                self.d["allow_if_changes"] = True
            else:
                self.ctx.error(f"Unknown dynamic_interfaces option '{st.words[1]}'")

    def _default_interface(self, st: Statement) -> None:
        if len(st.words) < 2:
            self.ctx.error("default_interface requires interface name")
        else:
            self.d["default_interface"] = st.words[1]

    def _mcast_group(self, st: Statement, version: int) -> None:
        word = self.ctx.word(st, 1)
        key = f"vrrp_mcast_group{4 if version == 4 else 6}"
        address = inet_stosockaddr(word)
        if address is None:
            self.ctx.error(f"Can't parse {key} [{word}]. Skipping")
        elif address.version != version:
            self.ctx.error(f"{key} [{word}] is not IPv{version}. Skipping")
        elif not address.is_multicast:
            self.ctx.error(f"{key} [{word}] is not multicast. Skipping")
        else:
            if version == 6 and not _mc_link_local(address):
                self.ctx.error(f"{key} [{word}] should be link-local multicast.", Severity.WARNING)
            self.d[key] = address

    def _vrrp_mcast_group4(self, st: Statement) -> None:
        self._mcast_group(st, 4)

    def _vrrp_mcast_group6(self, st: Statement) -> None:
        self._mcast_group(st, 6)

    def _garp_unsigned(
        self, st: Statement, key: str, low: int, high: int, message: str, scale: int = 1
    ) -> int | None:
        word = self.ctx.word(st, 1)
        value = self.ctx.values.read_unsigned(word, low, high, lenient=True)
        if value is None:
            self.ctx.error(message.format(word))
            return None
        self.garp[key] = value * scale
        return value

    def _garp_master_delay(self, st: Statement) -> None:
        message = "vrrp_garp_master_delay '{}' invalid - ignoring"
        self._garp_unsigned(st, "master_delay_us", 0, UINT_MAX // TIMER_HZ, message, TIMER_HZ)

    def _garp_master_repeat(self, st: Statement) -> None:
        self._repeat(st, "master_repeat", "vrrp_garp_master_repeat")

    def _repeat(self, st: Statement, key: str, keyword: str) -> None:
        value = self._garp_unsigned(st, key, 0, UINT_MAX, keyword + " '{}' invalid - ignoring")
        if value == 0:
            self.ctx.error(f"{keyword} must be greater than 0, setting to 1")
            self.garp[key] = 1

    def _garp_master_refresh(self, st: Statement) -> None:
        word = self.ctx.word(st, 1)
        value = self.ctx.values.read_unsigned(word, 0, UINT_MAX, lenient=True)
        if value is None:
            self.ctx.error(f"Invalid vrrp_garp_master_refresh '{word}' - ignoring")
            value = 0
        self.garp["master_refresh_s"] = value

    def _garp_master_refresh_repeat(self, st: Statement) -> None:
        self._repeat(st, "master_refresh_repeat", "vrrp_garp_master_refresh_repeat")

    def _garp_lower_prio_delay(self, st: Statement) -> None:
        message = "vrrp_garp_lower_prio_delay '{}' invalid - ignoring"
        self._garp_unsigned(st, "lower_prio_delay_us", 0, UINT_MAX // TIMER_HZ, message, TIMER_HZ)

    def _garp_lower_prio_repeat(self, st: Statement) -> None:
        self._garp_unsigned(st, "lower_prio_repeat", 0, INT_MAX,
                            "Invalid vrrp_garp_lower_prio_repeat '{}'")  # fmt: skip

    def _down_timer_adverts(self, st: Statement) -> None:
        word = self.ctx.word(st, 1)
        value = self.ctx.values.read_unsigned(word, 1, 100, lenient=True)
        if value is None:
            self.ctx.error(f"Invalid vrrp_down_timer_adverts [1:100] '{word}'")
        else:
            self.d["vrrp_down_timer_adverts"] = value

    def _garp_interval(self, st: Statement, key: str, keyword: str) -> None:
        word = self.ctx.word(st, 1)
        value = self.ctx.values.read_decimal(word, 1, UINT_MAX, 6, lenient=True)
        if value is None:
            self.ctx.error(f"{keyword} '{word}' is invalid")
        else:
            self.garp[key] = value

    def _vrrp_garp_interval(self, st: Statement) -> None:
        self._garp_interval(st, "interval_us", "vrrp_garp_interval")

    def _vrrp_gna_interval(self, st: Statement) -> None:
        self._garp_interval(st, "gna_interval_us", "vrrp_gna_interval")

    def _vrrp_min_garp(self, st: Statement) -> None:
        if len(st.words) >= 2:
            value = true_false(st.words[1])
            if value is None:
                self.ctx.error("Invalid value for vrrp_min_garp specified")
                return
            if not value:
                return
        defaults = Garp()
        for key, new in (("master_repeat", 1), ("master_refresh_s", 0),
                         ("master_refresh_repeat", 0), ("master_delay_us", 0)):  # fmt: skip
            if self.garp.get(key, getattr(defaults, key)) == getattr(defaults, key):
                self.garp[key] = new

    def _garp_extra_if(self, st: Statement) -> None:
        keyword = st.keyword
        if keyword == "vrrp_vmac_garp_intvl":
            self.ctx.error(
                'Keyword "vrrp_vmac_garp_intvl" is deprecated - please use "vrrp_garp_extra_if"',
                Severity.DEPRECATED,
            )
        delay = 0
        for word in st.words[1:]:
            if word == "all":
                self.garp["extra_if_all"] = True
                continue
            value = self.ctx.values.read_unsigned(word, 1, 86400, lenient=True)
            if value is None:
                self.ctx.error(f"{keyword} '{word}' invalid - ignoring")
                return
            delay = value
        if not delay:
            self.ctx.error(f"{keyword} specified without time - ignoring")
            return
        self.garp["extra_if_s"] = delay

    @staticmethod
    def _bool_plain(key: str, keyword: str) -> Callable[[Builder, Statement], None]:
        """``vrrp_lower_prio_no_advert`` style: "Invalid value for KEYWORD specified"."""

        def handler(self: Builder, st: Statement) -> None:
            if len(st.words) >= 2:
                value = true_false(st.words[1])
                if value is None:
                    self.ctx.error(f"Invalid value for {keyword} specified")
                else:
                    self.d[key] = value
            else:
                self.d[key] = True

        return handler

    def _vrrp_version(self, st: Statement) -> None:
        value = self.ctx.values.read_int(self.ctx.word(st, 1), 2, 3, lenient=True)
        if value is None:
            self.ctx.error("VRRP Error: Version must be either 2 or 3")
        else:
            self.d["vrrp_version"] = value

    def _vrrp_iptables(self, st: Statement) -> None:
        self.ctx.error(
            "iptables not supported, using nftables instead. Please replace 'vrrp_iptables "
            "and 'vrrp_ipsets' with 'nftables' config option"
        )
        self.nft["table"] = DEFAULT_NFTABLES_TABLE
        self.nft["priority"] = -1
        self.nft["iptables_requested"] = True

    def _vrrp_ipsets(self, st: Statement) -> None:
        # Not compiled into keepalived 2.2.7 without libipset (Debian's build).
        self.ctx.error(f"Unknown keyword '{st.keyword}'", Severity.UNKNOWN_KEYWORD)

    def _nftables(self, st: Statement) -> None:
        if "table" in self.nft:
            self.ctx.error("nftables already specified - ignoring")
            return
        name = DEFAULT_NFTABLES_TABLE
        if len(st.words) >= 2:
            if len(st.words[1]) >= NFT_TABLE_MAXNAMELEN:
                self.ctx.error("nftables table name too long - ignoring")
                return
            name = st.words[1]
        self.nft["table"] = name
        self.nft["priority"] = -1

    def _nft_priority(self, st: Statement, key: str, what: str) -> None:
        word = self.ctx.word(st, 1)
        value = self.ctx.values.read_int(word, INT_MIN, INT_MAX)
        if value is None:
            self.ctx.error(
                f"invalid {what}nftables chain priority '{word}'", Severity.INVALID_NUMBER
            )
        else:
            self.nft[key] = value

    def _nftables_priority(self, st: Statement) -> None:
        self._nft_priority(st, "priority", "")

    def _nftables_ipvs(self, st: Statement) -> None:
        if "ipvs_table" in self.nft:
            self.ctx.error("ipvs nftables already specified - ignoring")
            return
        name = DEFAULT_NFTABLES_IPVS_TABLE
        if len(st.words) >= 2:
            if len(st.words[1]) >= NFT_TABLE_MAXNAMELEN:
                self.ctx.error("ipvs nftables table name too long - ignoring")
                return
            name = st.words[1]
        self.nft["ipvs_table"] = name
        self.nft["ipvs_priority"] = -1
        self.nft["ipvs_start_fwmark"] = DEFAULT_IPVS_NF_START_FWMARK

    def _nftables_ipvs_priority(self, st: Statement) -> None:
        self._nft_priority(st, "ipvs_priority", "ipvs ")

    def _nftables_ipvs_start_fwmark(self, st: Statement) -> None:
        word = self.ctx.word(st, 1)
        value = self.ctx.values.read_unsigned(word, 1, UINT_MAX)
        if value is None:
            self.ctx.error(
                f"invalid ipvs nftables start_fwmark priority '{word}'", Severity.INVALID_NUMBER
            )
        else:
            self.nft["ipvs_start_fwmark"] = value

    def _vrrp_rx_bufs_policy(self, st: Statement) -> None:
        if len(st.words) < 2:
            self.ctx.error("vrrp_rx_bufs_policy missing")
            return
        for word in st.words[1:]:
            if word.lower() == "mtu":
                self.rx_policy |= _RX_MTU
            elif word.lower() == "advert":
                self.rx_policy |= _RX_ADVERT
            else:  # sic: keepalived reads the size from word 1 whatever the word
                size = self.ctx.values.read_unsigned(st.words[1], 0, UINT_MAX)
                if size is None:
                    self.ctx.error(f"Invalid vrrp_rx_bufs_policy {word}")
                else:
                    self.d["vrrp_rx_bufs_size"] = size
                    self.rx_policy |= _RX_SIZE
        if self.rx_policy & _RX_SIZE and self.rx_policy & (_RX_MTU | _RX_ADVERT):
            self.ctx.error("Cannot set vrrp_rx_bufs_policy size and policy, ignoring policy")
            self.rx_policy &= ~(_RX_MTU | _RX_ADVERT)
        elif self.rx_policy & _RX_MTU and self.rx_policy & _RX_ADVERT:
            self.ctx.error("Cannot set both vrrp_rx_bufs_policy MTU and ADVERT, ignoring ADVERT")
            self.rx_policy &= ~_RX_ADVERT

    def _vrrp_rx_bufs_multiplier(self, st: Statement) -> None:
        if len(st.words) != 2:
            self.ctx.error("Invalid vrrp_rx_bufs_multiplier")
            return
        value = self.ctx.values.read_unsigned(st.words[1], 1, UINT_MAX)
        if value is None:
            self.ctx.error(f"Invalid vrrp_rx_bufs_multiplier {st.words[1]}")
        else:
            self.d["vrrp_rx_bufs_multiplier"] = value

    def _vrrp_startup_delay(self, st: Statement) -> None:
        word = self.ctx.word(st, 1)
        value = self.ctx.values.read_decimal(word, TIMER_HZ // 1000, UINT_MAX, 6, lenient=True)
        if value is None:
            self.ctx.error(f"vrrp_startup_delay '{word}' is invalid")
        else:
            self.d["vrrp_startup_delay_us"] = value

    def _vmac_prefix(self, st: Statement, key: str, what: str) -> None:
        if key in self.d:
            word = self.ctx.word(st, 1)
            self.ctx.error(f"{what} prefix has already been specified - ignoring {word}")
            return
        self.d[key] = self.ctx.word(st, 1)

    def _vmac_prefix_kw(self, st: Statement) -> None:
        self._vmac_prefix(st, "vmac_prefix", "vmac")

    def _vmac_addr_prefix(self, st: Statement) -> None:
        self._vmac_prefix(st, "vmac_addr_prefix", "vmac_addr")

    # notify FIFOs

    def _notify_fifo(self, st: Statement, kind: str) -> None:
        fifo = self.fifos[kind]
        if len(st.words) < 2:
            self.ctx.error(f"No {kind}notify_fifo name specified")
            return
        if fifo.path is not None:
            self.ctx.error(f"{kind}notify_fifo already specified - ignoring {st.words[1]}")
            return
        if len(st.words) > 2:
            user, group = st.words[2], st.words[3] if len(st.words) > 3 else None
            if self.ctx.host.user_ids(user) is None or (
                group is not None and self.ctx.host.group_id(group) is None
            ):
                self.ctx.note(f"Invalid user/group for {kind} fifo (null) - ignoring")
                return
            fifo.user, fifo.group = user, group
        elif self.default_script_user() is None:
            self.ctx.note(f"Failed to set default user for {kind} fifo (null) - ignoring")
            return
        fifo.path = st.words[1]

    def _notify_fifo_script(self, st: Statement, kind: str) -> None:
        fifo = self.fifos[kind]
        if len(st.words) < 2:
            self.ctx.error(f"No {kind}notify_fifo_script specified")
            return
        if fifo.script is not None:
            self.ctx.error(f"{kind}notify_fifo_script already specified - ignoring {st.words[1]}")
            return
        fifo.script = self._script(st, f"{kind}notify_fifo")

    # LVS

    def _lvs_timeouts(self, st: Statement) -> None:
        words = st.words
        if len(words) < 3:
            self.ctx.error("lvs_timeouts requires at least one option")
            return
        i = 1
        while i < len(words):
            option = words[i]
            if option in ("tcp", "tcpfin", "udp"):
                if i == len(words) - 1:
                    self.ctx.error(f"No value specified for lvs_timeout {option} - ignoring")
                    i += 1
                    continue
                value = self.ctx.values.read_unsigned(words[i + 1], 0, LVS_MAX_TIMEOUT)
                if value is None:
                    self.ctx.error(f"Invalid lvs_timeout {option} ({words[i + 1]}) - ignoring")
                else:
                    self.lvs_timeouts[option] = value
                i += 2
                continue
            self.ctx.error(f"Unknown option {option} specified for lvs_timeouts")
            i += 1

    def _lvs_flush_on_stop(self, st: Statement) -> None:
        if len(st.words) == 1:
            self.d["lvs_flush_on_stop"] = LvsFlushOnStop.FULL
        elif st.words[1] == "VS":
            self.d["lvs_flush_on_stop"] = LvsFlushOnStop.VS
        else:
            self.ctx.error(f"Unknown lvs_flush_on_stop type {st.words[1]}")

    def _lvs_sync_daemon(self, st: Statement) -> None:
        ctx, words = self.ctx, st.words
        if self.syncd is not None:
            ctx.error(
                f"lvs_sync_daemon has already been specified as {self.syncd['interface']} "
                f"{self.syncd.get('instance') or ''} - ignoring"
            )
            return
        if len(words) < 2:
            ctx.error("lvs_sync_daemon requires interface")
            return
        if len(words[1]) >= IP_VS_IFNAME_MAXLEN:
            ctx.error(f"lvs_sync_daemon interface name '{words[1]}' too long - ignoring")
            return
        syncd: dict[str, Any] = {"interface": words[1]}
        self.syncd = syncd
        ranges = {"maxlen": ("max_len", 65535 - 20 - 8), "port": ("port", 65535),
                  "ttl": ("ttl", 255)}  # fmt: skip
        i = 2
        while i < len(words):
            word = words[i]
            if word == "inst":
                name = ctx.word(st, i + 1)
                if "instance" in syncd:
                    ctx.error(
                        "lvs_sync_daemon vrrp instance has already been specified as "
                        f"{syncd['instance']} - ignoring"
                    )
                else:
                    syncd["instance"] = name
                i += 2
                continue
            if word in ("id", "maxlen", "port", "ttl", "group"):
                if i == len(words) - 1:
                    if word == "id":
                        ctx.error("No value specified for lvs_sync_daemon id, defaulting to vrid")
                    else:
                        ctx.error(f"No value specified for lvs_sync_daemon {word} - ignoring")
                    i += 1
                    continue
                arg = words[i + 1]
                if word == "id":
                    value = ctx.values.read_unsigned(arg, 0, 255)
                    if value is None:
                        ctx.error(f"Invalid syncid ({arg}) - defaulting to vrid")
                    else:
                        syncd["sync_id"] = value
                elif word == "group":
                    address = inet_stosockaddr(arg)
                    if address is None:
                        ctx.error(f"Invalid lvs_sync_daemon group ({arg}) - ignoring")
                        syncd.pop("group", None)
                    elif not address.is_multicast:
                        ctx.error(
                            f"lvs_sync_daemon group address {arg} is not multicast - ignoring"
                        )
                        syncd.pop("group", None)
                    else:
                        syncd["group"] = address
                else:
                    key, high = ranges[word]
                    value = ctx.values.read_unsigned(arg, 1, high)
                    if value is None:
                        ctx.error(f"Invalid lvs_sync_daemon {word} ({arg}) - ignoring")
                    else:
                        syncd[key] = value
                i += 2
                continue
            if i == 2:
                syncd["instance"] = word
            elif i == 3:
                value = ctx.values.read_unsigned(word, 0, 255)
                if value is None:
                    ctx.error(f"Invalid syncid ({word}) - defaulting to vrid")
                else:
                    ctx.error('Please use keyword "id" before lvs_sync_daemon SYNCID')
                    syncd["sync_id"] = value
            else:
                ctx.error(f"Unknown option {word} specified for lvs_sync_daemon")
            i += 1

    # SNMP, DBus

    def _snmp_socket(self, st: Statement) -> None:
        if len(st.words) > 2:
            self.ctx.error("Too many parameters specified for snmp_socket - ignoring")
        elif len(st.words) < 2:
            self.ctx.error("SNMP error : snmp socket name missing")
        elif len(st.words[1]) > PATH_MAX - 1:
            self.ctx.error("SNMP error : snmp socket name too long - ignored")
        elif "socket" in self.snmp:
            self.ctx.error(f"SNMP socket already set to {self.snmp['socket']} - ignoring")
        else:
            self.snmp["socket"] = st.words[1]

    def _enable_snmp_rfc(self, st: Statement) -> None:
        self.snmp["rfcv2"] = self.snmp["rfcv3"] = True

    def _dbus_service_name(self, st: Statement) -> None:
        if len(st.words) < 2:
            self.ctx.error("dbus_service_name missing - ignoring")
        else:
            self.dbus["service_name"] = st.words[1]

    # netlink buffers

    @staticmethod
    def _rcv_bufs(key: str, what: str) -> Callable[[Builder, Statement], None]:
        def handler(self: Builder, st: Statement) -> None:
            if len(st.words) < 2:
                self.ctx.error(f"{what}_rcv_bufs size missing")
                return
            value = self.ctx.values.read_unsigned(st.words[1], 0, UINT_MAX)
            if value is None:
                self.ctx.error(f"{what}_rcv_bufs size ({st.words[1]}) invalid")
            elif value:
                self.netlink[key] = value

        return handler

    # files and the rest

    def _umask(self, st: Statement) -> None:
        mask = self.ctx.word(st, 1)
        bits = 0
        if mask[:1].isdigit():
            if len(st.words) != 2:
                self.ctx.error(
                    f"{'Missing' if len(st.words) == 1 else 'Extra'} parameter(s) to umask option"
                )
                return
            value = _strtol_base0(mask)
            if value is None or value < 0 or value & ~0o777:
                self.ctx.error(f"invalid umask value {mask}")
                return
            bits = value
        else:
            need_or = False
            for word in st.words[1:]:
                p = 0
                while p < len(word):
                    if need_or:
                        if word[p] == "|":
                            need_or = False
                            p += 1
                            continue
                        self.ctx.error(f"Invalid umask syntax {word}")
                        return
                    bit = _UMASK_BITS.get(word[p : p + 5])
                    if bit is None:
                        self.ctx.error(f"Unknown umask bit {word[p:]}")
                        return
                    bits |= bit
                    p += 5
                    need_or = True
            if not need_or:
                self.ctx.error("umask missing bit value")
                return
        self.d["umask"] = bits

    def _random_seed(self, st: Statement) -> None:
        word = self.ctx.word(st, 1)
        value = self.ctx.values.read_unsigned(word, 0, UINT_MAX)
        if value is None:
            self.ctx.error(f"random_seed {word} invalid")
        else:
            self.d["random_seed"] = value

    def _reload_check_config(self, st: Statement) -> None:
        self.reload["check_config"] = st.words[1] if len(st.words) >= 2 else "/dev/null"

    def _reload_time_file(self, st: Statement) -> None:
        if len(st.words) != 2:
            self.ctx.error("reload_time_file invalid")
        else:
            self.reload["time_file"] = st.words[1]

    def _reload_file(self, st: Statement) -> None:
        self.reload["file"] = st.words[1] if len(st.words) >= 2 else None
        self.reload["file_given"] = True

    def _include_check(self, st: Statement) -> None:
        # The reader applies (and reports) include_check as it reads; here it is stored.
        self.d["include_check"] = include_check_flags(st.words, self.d.get("include_check") or 0)

    def _config_save_dir(self, st: Statement) -> None:
        name = self.ctx.word(st, 1)
        host = self.ctx.script_host
        if host is not None:
            problem = _save_dir_problem(host, name)
            if problem:
                self.ctx.error(problem)
                return
        self.d["config_save_dir"] = name[:-1] if name.endswith("/") else name

    def _tmp_config_directory(self, st: Statement) -> None:
        if "tmp_config_directory" in self.d:
            self.ctx.error(f"{st.keyword} already specified - ignoring")
        elif len(st.words) >= 2:
            self.d["tmp_config_directory"] = st.words[1]
        else:
            self.ctx.error(f"{st.keyword} missing directory name")

    # newer keywords (2.2.7 reports them unknown; the tree already says so)

    @staticmethod
    def _newer_string(key: str) -> Callable[[Builder, Statement], None]:
        def handler(self: Builder, st: Statement) -> None:
            if len(st.words) >= 2:
                if key == "dbus_no_interface_name":
                    self.dbus["no_interface_name"] = st.words[1]
                else:
                    self.newer[key] = st.words[1]

        return handler

    def _json_version(self, st: Statement) -> None:
        value = self.ctx.values.read_unsigned(self.ctx.word(st, 1), 1, 2)
        if value is not None:
            self.newer["json_version"] = value

    @staticmethod
    def _newer_timer(key: str, low_us: int, high_us: int) -> Callable[[Builder, Statement], None]:
        def handler(self: Builder, st: Statement) -> None:
            value = self.ctx.values.read_timer(self.ctx.word(st, 1), low_us, high_us)
            if value is not None:
                self.newer[key] = value

        return handler

    # --- finish -------------------------------------------------------------------------

    def finish(self) -> GlobalDefs:
        ctx = self.ctx
        ctx.location = None
        smtp = dict(self.smtp, emails=tuple(self.emails))
        if smtp.get("server") is not None and smtp.get("connect_timeout_us") is None:
            smtp["connect_timeout_us"] = DEFAULT_SMTP_CONNECTION_TIMEOUT_US
        garp = dict(self.garp)
        garp.setdefault("lower_prio_repeat", garp.get("master_repeat", Garp().master_repeat))
        garp.setdefault("lower_prio_delay_us", garp.get("master_delay_us", Garp().master_delay_us))
        if self.rx_policy & _RX_SIZE:
            self.d["vrrp_rx_bufs_policy"] = RxBufsPolicy.SIZE
        elif self.rx_policy & _RX_MTU:
            self.d["vrrp_rx_bufs_policy"] = RxBufsPolicy.MTU
        elif self.rx_policy & _RX_ADVERT:
            self.d["vrrp_rx_bufs_policy"] = RxBufsPolicy.ADVERT
        reload = dict(self.reload)
        if reload.pop("file_given", False) and reload.get("file") is None:
            instance = self.top.get("instance")
            if instance is not None:
                reload["file"] = f"{RUNSTATEDIR}/{PACKAGE}/{PACKAGE}_{instance}.reload"
            elif self.use_pid_dir:
                reload["file"] = f"{RUNSTATEDIR}/{PACKAGE}/{PACKAGE}.reload"
            else:
                reload["file"] = f"{RUNSTATEDIR}/{PACKAGE}.reload"
        syncd = LvsSyncDaemon(**self.syncd) if self.syncd is not None else None
        defs = GlobalDefs(
            **self.top,
            **self.d,
            use_pid_dir=self.use_pid_dir,
            script_security=self.script_security,
            process_names=ProcessNames(**self.names),
            smtp=Smtp(**smtp),
            garp=Garp(**garp),
            nftables=Nftables(**self.nft),
            vrrp_process=ProcessTuning(**self.procs["vrrp"]),
            checker_process=ProcessTuning(**self.procs["checker"]),
            bfd_process=ProcessTuning(**self.procs["bfd"]),
            netlink=NetlinkBufs(**self.netlink),
            notify_fifo=_fifo(self.fifos[""]),
            vrrp_notify_fifo=_fifo(self.fifos["vrrp_"]),
            lvs_notify_fifo=_fifo(self.fifos["lvs_"]),
            lvs_timeouts=LvsTimeouts(**self.lvs_timeouts),
            lvs_sync_daemon=syncd,
            snmp=Snmp(**self.snmp),
            dbus=Dbus(**self.dbus),
            reload=Reload(**reload),
            newer=Newer(**self.newer),
        )
        if ctx.script_host is not None and defs.start_stop_scripts():
            scripts.check_scripts(
                ctx,
                ctx.script_host,
                defs.start_stop_scripts(),
                script_security=defs.script_security,
                default_user=self.script_ids(),
                what="start/shutdown scripts",
            )
        self.defs = defs
        self._enter_namespace(defs.net_namespace)
        return defs

    def _enter_namespace(self, name: str | None) -> None:
        """keepalived enters ``net_namespace`` before its processes read their sections.

        If it cannot, it exits there, with 0 (keepalived/core/main.c); the other
        sections' checks then run inside that namespace (its interfaces).
        """
        enter = getattr(self.ctx.host, "enter_namespace", None)
        if name is None or not callable(enter) or enter(name):
            return
        self.ctx.note(f"Unable to set network namespace {name} - exiting")
        raise StopReading(EXIT_OK)


_RX_MTU, _RX_ADVERT, _RX_SIZE = 1, 2, 4


def _fifo(f: _Fifo) -> NotifyFifo:
    return NotifyFifo(path=f.path, user=f.user, group=f.group, script=f.script)


def _mc_link_local(address: IPAddress) -> bool:
    packed = address.packed
    return packed[0] == 0xFF and packed[1] & 0x0F == 0x02


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _host_name(name: str) -> str | None:
    """A name ``getaddrinfo`` may resolve (resolving it is the daemon's business)."""
    labels = name.rstrip(".").split(".")
    if (
        name
        and len(name) <= 253
        and all(_HOST_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    ):
        return name
    return None


def _online_cpus(ctx: Context) -> int:
    """The number of online CPUs, if the host tells (else no upper limit is checked)."""
    count = getattr(ctx.host, "online_cpus", None)
    if callable(count):
        value = count()
        if isinstance(value, int) and value > 0:
            return value
    return INT_MAX


def _strtol_base0(text: str) -> int | None:
    """C ``strtol(text, &end, 0)`` when it reads the whole text, else None."""
    m = re.fullmatch(r"[ \t\n\r\f\v]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)", text)
    if m is None:
        return None
    digits = m.group(2)
    if digits[:2].lower() == "0x":
        value = int(digits, 16)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    return -value if m.group(1) == "-" else value


def include_check_flags(words: tuple[str, ...], current: int) -> int:
    """``include_check_set``: the include checks after an ``include_check`` line."""
    if len(words) < 2:
        return INCLUDE_R | INCLUDE_M | INCLUDE_W | INCLUDE_B
    flags = current
    for i, word in enumerate(words[1:], start=1):
        sign = word[0] if word[:1] in ("+", "-") else ""
        if not sign:
            if i > 1:
                continue
            flags = 0
        flag = _INCLUDE_NAMES.get(word[len(sign) :], 0)
        if not flag:
            continue
        if sign == "+":
            flags |= flag
        elif sign == "-":
            flags &= ~flag
        else:
            flags = INCLUDE_R | flag
    return flags


def _save_dir_problem(host: Any, name: str) -> str | None:
    """What keepalived's parent reports for ``config_save_dir`` (it creates a missing one)."""
    st = host.stat(name)
    if st is not None:
        if st.mode & 0o040000:  # S_IFDIR bit, as keepalived tests it
            return None
        return f"config_save_dir {name} exists and is not a directory"
    parent = name.rstrip("/").rpartition("/")[0] or ("/" if name.startswith("/") else ".")
    up = host.stat(parent)
    components = [c for c in name.split("/")[:-1] if c]
    prefix = "/" if name.startswith("/") else ""
    for comp in components:  # a file on the way: stat fails with ENOTDIR
        prefix = f"{prefix}{comp}" if prefix in ("", "/") else f"{prefix}/{comp}"
        sub = host.stat(prefix)
        if sub is None:
            break
        if not sub.mode & 0o040000:
            return f"config_save_dir {name} error 20 - Not a directory"
    if up is None:
        return f"Unable to create config_save_dir {name} (error 2 - No such file or directory)"
    return None


def _proc(
    method: Callable[[Builder, Statement, str], None], proc: str
) -> Callable[[Builder, Statement], None]:
    def handler(self: Builder, st: Statement) -> None:
        method(self, st, proc)

    return handler


def _smtp_flag(key: str) -> Callable[[Builder, Statement], None]:
    def handler(self: Builder, st: Statement) -> None:
        self.smtp[key] = True

    return handler


def _kind(
    method: Callable[[Builder, Statement, str], None], kind: str
) -> Callable[[Builder, Statement], None]:
    def handler(self: Builder, st: Statement) -> None:
        method(self, st, kind)

    return handler


B = Builder
_TOP_HANDLERS: dict[str, Callable[[Builder, Statement], None]] = {
    "linkbeat_use_polling": B._linkbeat_use_polling,
    "net_namespace": B._net_namespace,
    "net_namespace_ipvs": B._net_namespace_ipvs,
    "namespace_with_ipsets": B._namespace_with_ipsets,
    "use_pid_dir": B._use_pid_dir,
    "instance": B._instance,
    "child_wait_time": B._child_wait_time,
}
_b = B._bool
_HANDLERS: dict[str, Callable[[Builder, Statement], None]] = {
    "process_names": B._process_names,
    "process_name": B._named_process("main"),
    "vrrp_process_name": B._named_process("vrrp"),
    "checker_process_name": B._named_process("checker"),
    "lvs_process_name": B._named_process("checker"),
    "bfd_process_name": B._named_process("bfd"),
    "router_id": B._router_id,
    "notification_email_from": B._email_from,
    "smtp_server": B._smtp_server,
    "smtp_helo_name": B._smtp_helo_name,
    "smtp_connect_timeout": B._smtp_connect_timeout,
    "notification_email": B._notification_email,
    "smtp_alert": _b("smtp", "alert", "global smtp_alert"),
    "startup_script": B._startup_script,
    "startup_script_timeout": B._startup_script_timeout,
    "shutdown_script": B._shutdown_script,
    "shutdown_script_timeout": B._shutdown_script_timeout,
    "max_auto_priority": B._max_auto_priority,
    "min_auto_priority_delay": B._min_auto_priority_delay,
    "smtp_alert_vrrp": _b("smtp", "alert_vrrp", "global smtp_alert_vrrp"),
    "smtp_alert_checker": _b("smtp", "alert_checker", "global smtp_alert_checker"),
    "checker_log_all_failures": _b(
        "d", "checker_log_all_failures", "checker_log_all_failures", quoted=False
    ),
    "dynamic_interfaces": B._dynamic_interfaces,
    "no_email_faults": _smtp_flag("no_email_faults"),
    "default_interface": B._default_interface,
    "disable_local_igmp": B._flag("d", "disable_local_igmp"),
    "lvs_timeouts": B._lvs_timeouts,
    "lvs_flush": B._flag("d", "lvs_flush"),
    "lvs_flush_on_stop": B._lvs_flush_on_stop,
    "lvs_flush_onstop": B._lvs_flush_on_stop,
    "lvs_sync_daemon": B._lvs_sync_daemon,
    "vrrp_mcast_group4": B._vrrp_mcast_group4,
    "vrrp_mcast_group6": B._vrrp_mcast_group6,
    "vrrp_garp_master_delay": B._garp_master_delay,
    "vrrp_garp_master_repeat": B._garp_master_repeat,
    "vrrp_garp_master_refresh": B._garp_master_refresh,
    "vrrp_garp_master_refresh_repeat": B._garp_master_refresh_repeat,
    "vrrp_garp_lower_prio_delay": B._garp_lower_prio_delay,
    "vrrp_garp_lower_prio_repeat": B._garp_lower_prio_repeat,
    "vrrp_down_timer_adverts": B._down_timer_adverts,
    "vrrp_garp_interval": B._vrrp_garp_interval,
    "vrrp_gna_interval": B._vrrp_gna_interval,
    "vrrp_min_garp": B._vrrp_min_garp,
    "vrrp_garp_extra_if": B._garp_extra_if,
    "vrrp_vmac_garp_intvl": B._garp_extra_if,
    "vrrp_lower_prio_no_advert": B._bool_plain(
        "vrrp_lower_prio_no_advert", "vrrp_lower_prio_no_advert"
    ),
    "vrrp_higher_prio_send_advert": B._bool_plain(
        "vrrp_higher_prio_send_advert", "vrrp_higher_prio_send_advert"
    ),
    "vrrp_version": B._vrrp_version,
    "vrrp_iptables": B._vrrp_iptables,
    "vrrp_ipsets": B._vrrp_ipsets,
    "nftables": B._nftables,
    "nftables_priority": B._nftables_priority,
    "nftables_ifindex": B._flag("nft", "ifindex"),
    "nftables_ipvs": B._nftables_ipvs,
    "nftables_ipvs_priority": B._nftables_ipvs_priority,
    "nftables_ipvs_start_fwmark": B._nftables_ipvs_start_fwmark,
    "nftables_counters": B._flag("nft", "counters"),
    "vrrp_check_unicast_src": B._flag("d", "vrrp_check_unicast_src"),
    "vrrp_skip_check_adv_addr": B._flag("d", "vrrp_skip_check_adv_addr"),
    "vrrp_strict": B._flag("d", "vrrp_strict"),
    "notify_fifo": _kind(B._notify_fifo, ""),
    "notify_fifo_script": _kind(B._notify_fifo_script, ""),
    "vrrp_notify_fifo": _kind(B._notify_fifo, "vrrp_"),
    "vrrp_notify_fifo_script": _kind(B._notify_fifo_script, "vrrp_"),
    "vrrp_notify_priority_changes": _b(
        "d", "vrrp_notify_priority_changes", "global vrrp_notify_priority_changes"
    ),
    "fifo_write_vrrp_states_on_reload": B._flag("d", "fifo_write_vrrp_states_on_reload"),
    "lvs_notify_fifo": _kind(B._notify_fifo, "lvs_"),
    "lvs_notify_fifo_script": _kind(B._notify_fifo_script, "lvs_"),
    "snmp_socket": B._snmp_socket,
    "enable_traps": B._flag("snmp", "traps"),
    "enable_snmp_vrrp": B._flag("snmp", "vrrp"),
    "enable_snmp_keepalived": B._flag("snmp", "vrrp"),
    "enable_snmp_rfc": B._enable_snmp_rfc,
    "enable_snmp_rfcv2": B._flag("snmp", "rfcv2"),
    "enable_snmp_rfcv3": B._flag("snmp", "rfcv3"),
    "enable_snmp_checker": B._flag("snmp", "checker"),
    "enable_dbus": B._flag("dbus", "enabled"),
    "dbus_service_name": B._dbus_service_name,
    "script_user": B._script_user,
    "enable_script_security": B._enable_script_security,
    "vrrp_netlink_cmd_rcv_bufs": B._rcv_bufs("vrrp_cmd", "vrrp_netlink_cmd"),
    "vrrp_netlink_cmd_rcv_bufs_force": _b(
        "netlink", "vrrp_cmd_force", "global vrrp_netlink_cmd_rcv_bufs_force"
    ),
    "vrrp_netlink_monitor_rcv_bufs": B._rcv_bufs("vrrp_monitor", "vrrp_netlink_monitor"),
    "vrrp_netlink_monitor_rcv_bufs_force": _b(
        "netlink", "vrrp_monitor_force", "global vrrp_netlink_monitor_rcv_bufs_force"
    ),
    "process_monitor_rcv_bufs": B._rcv_bufs("process_monitor", "process_monitor"),
    "process_monitor_rcv_bufs_force": _b(
        "netlink", "process_monitor_force", "global process_monitor_rcv_bufs_force"
    ),
    "lvs_netlink_cmd_rcv_bufs": B._rcv_bufs("lvs_cmd", "lvs_netlink_cmd"),
    "lvs_netlink_cmd_rcv_bufs_force": _b(
        "netlink", "lvs_cmd_force", "global lvs_netlink_cmd_rcv_bufs_force"
    ),
    "lvs_netlink_monitor_rcv_bufs": B._rcv_bufs("lvs_monitor", "lvs_netlink_monitor"),
    "lvs_netlink_monitor_rcv_bufs_force": _b(
        "netlink", "lvs_monitor_force", "global lvs_netlink_monitor_rcv_bufs_force"
    ),
    "rs_init_notifies": _b("d", "rs_init_notifies", "global rs_init_notifies"),
    "no_checker_emails": _b("smtp", "no_checker_emails", "global no_checker_emails"),
    "vrrp_rx_bufs_policy": B._vrrp_rx_bufs_policy,
    "vrrp_rx_bufs_multiplier": B._vrrp_rx_bufs_multiplier,
    "vrrp_startup_delay": B._vrrp_startup_delay,
    "log_unknown_vrids": B._flag("d", "log_unknown_vrids"),
    "pykad_metrics_address": B._metrics_address,
    "vmac_prefix": B._vmac_prefix_kw,
    "vmac_addr_prefix": B._vmac_addr_prefix,
    "umask": B._umask,
    "random_seed": B._random_seed,
    "reload_check_config": B._reload_check_config,
    "reload_time_file": B._reload_time_file,
    "reload_repeat": B._flag("reload", "repeat"),
    "reload_file": B._reload_file,
    "include_check": B._include_check,
    "config_save_dir": B._config_save_dir,
    "tmp_config_directory": B._tmp_config_directory,
    "data_use_instance": _b("d", "data_use_instance", "global date_use_instance"),
    # newer than 2.2.7
    "dbus_no_interface_name": B._newer_string("dbus_no_interface_name"),
    "iproute_etc_dir": B._newer_string("iproute_etc_dir"),
    "iproute_usr_dir": B._newer_string("iproute_usr_dir"),
    "json_version": B._json_version,
    "state_dump_file": B._newer_string("state_dump_file"),
    "stats_dump_file": B._newer_string("stats_dump_file"),
    "json_dump_file": B._newer_string("json_dump_file"),
    "set_supplementary_groups": B._flag("newer", "set_supplementary_groups"),
    "use_symlink_paths": B._flag("newer", "use_symlink_paths"),
    "snmp_vs_stats_update_interval": B._newer_timer(
        "snmp_vs_stats_update_interval_us", 1000, 30 * TIMER_HZ
    ),
    "snmp_rs_stats_update_interval": B._newer_timer(
        "snmp_rs_stats_update_interval_us", 1000, 30 * TIMER_HZ
    ),
    "vrrp_delay_after_boot": B._newer_timer("vrrp_delay_after_boot_us", 0, 0),
    "vrrp_owner_ignore_adverts": B._flag("newer", "vrrp_owner_ignore_adverts"),
    "v3_checksum_as_v2": B._flag("newer", "v3_checksum_as_v2"),
}
for _p in ("vrrp", "checker", "bfd"):
    _HANDLERS[f"{_p}_priority"] = _proc(B._proc_priority, _p)
    _HANDLERS[f"{_p}_no_swap"] = _proc(B._proc_no_swap, _p)
    _HANDLERS[f"{_p}_rt_priority"] = _proc(B._proc_rt_priority, _p)
    _HANDLERS[f"{_p}_cpu_affinity"] = _proc(B._proc_cpu_affinity, _p)
    _HANDLERS[f"{_p}_rlimit_rttime"] = _proc(B._proc_rlimit, _p)
    _HANDLERS[f"{_p}_rlimit_rtime"] = _proc(B._proc_rlimit, _p)


# --- writer -----------------------------------------------------------------------------


def _word(text: str) -> str:
    """``text`` as one keepalived word (quoted if it holds blanks)."""
    return f'"{text}"' if not text or any(c in text for c in " \t#!{}") else text


def _script_line(keyword: str, script: scripts.Script) -> str:
    return f"{keyword} {script.config_words()}"


def _include_check_words(flags: int) -> str:
    if flags == INCLUDE_R | INCLUDE_M | INCLUDE_W | INCLUDE_B:
        return "include_check"
    words = ["read"] + ([] if flags & INCLUDE_R else ["-read"])
    words += [
        f"+{name}" for name, bit in _INCLUDE_NAMES.items() if bit != INCLUDE_R and flags & bit
    ]
    return "include_check " + " ".join(words)


def write(defs: GlobalDefs) -> Iterator[str]:
    """``defs`` as keepalived.conf lines (every non-default value explicit)."""
    base = GlobalDefs()
    if defs.linkbeat_use_polling:
        yield "linkbeat_use_polling"
    if defs.net_namespace is not None:
        yield f"net_namespace {_word(defs.net_namespace)}"
    if defs.net_namespace_ipvs is not None:
        yield "net_namespace_ipvs" + (
            f" {_word(defs.net_namespace_ipvs)}" if defs.net_namespace_ipvs else ""
        )
    if defs.namespace_with_ipsets:
        yield "namespace_with_ipsets"
    if defs.use_pid_dir:
        yield "use_pid_dir"
    if defs.instance is not None:
        yield f"instance {_word(defs.instance)}"
    if defs.child_wait_time_s != base.child_wait_time_s:
        yield f"child_wait_time {defs.child_wait_time_s}"
    body = list(_body(defs, base))
    if body:
        yield "global_defs {"
        yield from (f"    {line}" for line in body)
        yield "}"


def _body(d: GlobalDefs, base: GlobalDefs) -> Iterator[str]:
    names = d.process_names
    for keyword, name in (("process_name", names.main), ("vrrp_process_name", names.vrrp),
                          ("checker_process_name", names.checker),
                          ("bfd_process_name", names.bfd)):  # fmt: skip
        if name is not None:
            yield f"{keyword} {_word(name)}"
    if d.router_id is not None:
        yield f"router_id {_word(d.router_id)}"
    yield from _smtp_lines(d.smtp)
    for kind in ("startup", "shutdown"):
        script = getattr(d, f"{kind}_script")
        timeout = getattr(d, f"{kind}_script_timeout_s")
        if timeout:
            yield f"{kind}_script_timeout {timeout}"
        if script is not None:
            yield _script_line(f"{kind}_script", script)
    if d.script_user is not None:
        yield f"script_user {d.script_user}" + (f" {d.script_group}" if d.script_group else "")
    if d.script_security:
        yield "enable_script_security"
    if d.max_auto_priority != base.max_auto_priority:
        yield f"max_auto_priority {d.max_auto_priority}"
    if d.min_auto_priority_delay_us != base.min_auto_priority_delay_us:
        yield f"min_auto_priority_delay {d.min_auto_priority_delay_us}"
    if d.checker_log_all_failures:
        yield "checker_log_all_failures"
    if d.dynamic_interfaces:
        yield "dynamic_interfaces" + (" allow_if_changes" if d.allow_if_changes else "")
    if d.default_interface != base.default_interface:
        yield f"default_interface {_word(d.default_interface)}"
    if d.disable_local_igmp:
        yield "disable_local_igmp"
    if d.vrrp_mcast_group4 != base.vrrp_mcast_group4:
        yield f"vrrp_mcast_group4 {d.vrrp_mcast_group4}"
    if d.vrrp_mcast_group6 != base.vrrp_mcast_group6:
        yield f"vrrp_mcast_group6 {d.vrrp_mcast_group6}"
    yield from _garp_lines(d.garp)
    flags = (
        ("vrrp_lower_prio_no_advert", d.vrrp_lower_prio_no_advert),
        ("vrrp_higher_prio_send_advert", d.vrrp_higher_prio_send_advert),
        ("vrrp_check_unicast_src", d.vrrp_check_unicast_src),
        ("vrrp_skip_check_adv_addr", d.vrrp_skip_check_adv_addr),
        ("vrrp_strict", d.vrrp_strict),
        ("vrrp_notify_priority_changes", d.vrrp_notify_priority_changes),
        ("fifo_write_vrrp_states_on_reload", d.fifo_write_vrrp_states_on_reload),
        ("log_unknown_vrids", d.log_unknown_vrids),
        ("lvs_flush", d.lvs_flush),
        ("rs_init_notifies", d.rs_init_notifies),
        ("data_use_instance", d.data_use_instance),
    )
    yield from (keyword for keyword, on in flags if on)
    if d.metrics_address is not None:
        yield f"pykad_metrics_address {join_host_port(*d.metrics_address)}"
    if d.vrrp_down_timer_adverts != base.vrrp_down_timer_adverts:
        yield f"vrrp_down_timer_adverts {d.vrrp_down_timer_adverts}"
    if d.vrrp_version != base.vrrp_version:
        yield f"vrrp_version {d.vrrp_version}"
    if d.vrrp_rx_bufs_policy is RxBufsPolicy.SIZE:
        yield f"vrrp_rx_bufs_policy {d.vrrp_rx_bufs_size}"
    elif d.vrrp_rx_bufs_policy is not None:
        yield f"vrrp_rx_bufs_policy {d.vrrp_rx_bufs_policy.value}"
    if d.vrrp_rx_bufs_multiplier != base.vrrp_rx_bufs_multiplier:
        yield f"vrrp_rx_bufs_multiplier {d.vrrp_rx_bufs_multiplier}"
    if d.vrrp_startup_delay_us:
        yield f"vrrp_startup_delay {_secs(d.vrrp_startup_delay_us)}"
    if d.vmac_prefix is not None:
        yield f"vmac_prefix {_word(d.vmac_prefix)}"
    if d.vmac_addr_prefix is not None:
        yield f"vmac_addr_prefix {_word(d.vmac_addr_prefix)}"
    yield from _nftables_lines(d.nftables)
    for proc in ("vrrp", "checker", "bfd"):
        yield from _process_lines(proc, getattr(d, f"{proc}_process"))
    yield from _netlink_lines(d.netlink)
    for kind in ("", "vrrp_", "lvs_"):
        yield from _fifo_lines(kind, getattr(d, f"{kind}notify_fifo"))
    yield from _lvs_lines(d)
    yield from _snmp_lines(d.snmp, d.dbus)
    if d.umask != base.umask:
        yield f"umask 0{d.umask:o}"
    if d.random_seed is not None:
        yield f"random_seed {d.random_seed}"
    r = d.reload
    if r.check_config is not None:
        yield f"reload_check_config {_word(r.check_config)}"
    if r.time_file is not None:
        yield f"reload_time_file {_word(r.time_file)}"
    if r.repeat:
        yield "reload_repeat"
    if r.file is not None:
        yield f"reload_file {_word(r.file)}"
    if d.include_check is not None:
        yield _include_check_words(d.include_check)
    if d.config_save_dir is not None:
        yield f"config_save_dir {_word(d.config_save_dir)}"
    if d.tmp_config_directory is not None:
        yield f"tmp_config_directory {_word(d.tmp_config_directory)}"
    yield from _newer_lines(d.newer)


def _smtp_lines(s: Smtp) -> Iterator[str]:
    if s.server is not None:
        yield f"smtp_server {s.server} {s.port}"
    if s.helo_name is not None:
        yield f"smtp_helo_name {_word(s.helo_name)}"
    if s.connect_timeout_us is not None:
        yield f"smtp_connect_timeout {s.connect_timeout_us // TIMER_HZ}"
    if s.email_from is not None:
        yield f"notification_email_from {_word(s.email_from)}"
    if s.emails:
        yield "notification_email {"
        yield from (f"    {_word(e)}" for e in s.emails)
        yield "}"
    for keyword, value in (("smtp_alert", s.alert), ("smtp_alert_vrrp", s.alert_vrrp),
                           ("smtp_alert_checker", s.alert_checker)):  # fmt: skip
        if value is not None:
            yield f"{keyword} {'true' if value else 'false'}"
    if s.no_email_faults:
        yield "no_email_faults"
    if s.no_checker_emails:
        yield "no_checker_emails"


def _garp_lines(g: Garp) -> Iterator[str]:
    base = Garp()
    if g.master_refresh_repeat == 0:
        yield "vrrp_min_garp"  # the only way to a refresh repeat of 0
    yield f"vrrp_garp_master_delay {g.master_delay_us // TIMER_HZ}"
    yield f"vrrp_garp_master_repeat {g.master_repeat}"
    yield f"vrrp_garp_master_refresh {g.master_refresh_s}"
    if g.master_refresh_repeat:
        yield f"vrrp_garp_master_refresh_repeat {g.master_refresh_repeat}"
    yield f"vrrp_garp_lower_prio_delay {g.lower_prio_delay_us // TIMER_HZ}"
    yield f"vrrp_garp_lower_prio_repeat {g.lower_prio_repeat}"
    if g.interval_us:
        yield f"vrrp_garp_interval {_secs(g.interval_us)}"
    if g.gna_interval_us:
        yield f"vrrp_gna_interval {_secs(g.gna_interval_us)}"
    if g.extra_if_s or g.extra_if_all != base.extra_if_all:
        words = ["all"] if g.extra_if_all else []
        words += [str(g.extra_if_s)] if g.extra_if_s else []
        yield "vrrp_garp_extra_if " + " ".join(words)


def _nftables_lines(n: Nftables) -> Iterator[str]:
    if n.iptables_requested:
        yield "vrrp_iptables"
    elif n.table is not None:
        yield f"nftables {_word(n.table)}"
    if n.priority != -1:
        yield f"nftables_priority {n.priority}"
    if n.ifindex:
        yield "nftables_ifindex"
    if n.counters:
        yield "nftables_counters"
    if n.ipvs_table is not None:
        yield f"nftables_ipvs {_word(n.ipvs_table)}"
    if n.ipvs_priority != -1:
        yield f"nftables_ipvs_priority {n.ipvs_priority}"
    if n.ipvs_start_fwmark != (DEFAULT_IPVS_NF_START_FWMARK if n.ipvs_table else 0):
        yield f"nftables_ipvs_start_fwmark {n.ipvs_start_fwmark}"


def _process_lines(proc: str, p: ProcessTuning) -> Iterator[str]:
    base = ProcessTuning()
    if p.priority != base.priority:
        yield f"{proc}_priority {p.priority}"
    if p.no_swap:
        yield f"{proc}_no_swap"
    if p.rt_priority != base.rt_priority:
        yield f"{proc}_rt_priority {p.rt_priority}"
    if p.cpu_affinity:
        yield f"{proc}_cpu_affinity " + " ".join(str(c) for c in p.cpu_affinity)
    if p.rlimit_rttime_us != base.rlimit_rttime_us:
        yield f"{proc}_rlimit_rttime {p.rlimit_rttime_us}"


def _netlink_lines(n: NetlinkBufs) -> Iterator[str]:
    for key, keyword in (("vrrp_cmd", "vrrp_netlink_cmd"), ("vrrp_monitor", "vrrp_netlink_monitor"),
                         ("process_monitor", "process_monitor"), ("lvs_cmd", "lvs_netlink_cmd"),
                         ("lvs_monitor", "lvs_netlink_monitor")):  # fmt: skip
        size = getattr(n, key)
        if size:
            yield f"{keyword}_rcv_bufs {size}"
        if getattr(n, f"{key}_force"):
            yield f"{keyword}_rcv_bufs_force"


def _fifo_lines(kind: str, f: NotifyFifo) -> Iterator[str]:
    if f.path is not None:
        line = f"{kind}notify_fifo {_word(f.path)}"
        if f.user is not None:
            line += f" {f.user}" + (f" {f.group}" if f.group else "")
        yield line
    if f.script is not None:
        yield _script_line(f"{kind}notify_fifo_script", f.script)


def _lvs_lines(d: GlobalDefs) -> Iterator[str]:
    t = d.lvs_timeouts
    words = [f"{k} {v}" for k, v in (("tcp", t.tcp), ("tcpfin", t.tcpfin), ("udp", t.udp))
             if v is not None]  # fmt: skip
    if words:
        yield "lvs_timeouts " + " ".join(words)
    if d.lvs_flush_on_stop is LvsFlushOnStop.FULL:
        yield "lvs_flush_on_stop"
    elif d.lvs_flush_on_stop is LvsFlushOnStop.VS:
        yield "lvs_flush_on_stop VS"
    s = d.lvs_sync_daemon
    if s is not None:
        line = f"lvs_sync_daemon {s.interface}"
        if s.instance is not None:
            line += f" inst {_word(s.instance)}"
        if s.sync_id is not None:
            line += f" id {s.sync_id}"
        for word, value in (("maxlen", s.max_len), ("port", s.port), ("ttl", s.ttl)):
            if value:
                line += f" {word} {value}"
        if s.group is not None:
            line += f" group {s.group}"
        yield line


def _snmp_lines(s: Snmp, dbus: Dbus) -> Iterator[str]:
    if s.socket is not None:
        yield f"snmp_socket {_word(s.socket)}"
    for keyword, on in (("enable_traps", s.traps), ("enable_snmp_vrrp", s.vrrp),
                        ("enable_snmp_checker", s.checker), ("enable_snmp_rfcv2", s.rfcv2),
                        ("enable_snmp_rfcv3", s.rfcv3), ("enable_dbus", dbus.enabled)):  # fmt: skip
        if on:
            yield keyword
    if dbus.service_name != Dbus().service_name:
        yield f"dbus_service_name {_word(dbus.service_name)}"
    if dbus.no_interface_name is not None:
        yield f"dbus_no_interface_name {_word(dbus.no_interface_name)}"


def _newer_lines(n: Newer) -> Iterator[str]:
    base = Newer()
    for key in ("iproute_etc_dir", "iproute_usr_dir", "state_dump_file", "stats_dump_file",
                "json_dump_file"):  # fmt: skip
        value = getattr(n, key)
        if value is not None:
            yield f"{key} {_word(value)}"
    if n.json_version != base.json_version:
        yield f"json_version {n.json_version}"
    for key in ("set_supplementary_groups", "use_symlink_paths", "vrrp_owner_ignore_adverts",
                "v3_checksum_as_v2"):  # fmt: skip
        if getattr(n, key):
            yield key
    for key in ("snmp_vs_stats_update_interval", "snmp_rs_stats_update_interval",
                "vrrp_delay_after_boot"):  # fmt: skip
        value = getattr(n, f"{key}_us")
        if value:
            yield f"{key} {_secs(value)}"


def split_host_port(text: str) -> tuple[str, int] | None:
    """``[HOST:]PORT`` (``[V6ADDR]:PORT`` for IPv6; HOST defaults to 127.0.0.1), or None.

    HOST must be a numeric address: the daemon never resolves names."""
    host, port = "127.0.0.1", text
    if text.startswith("["):
        end = text.find("]:")
        if end < 0:
            return None
        host, port = text[1:end], text[end + 2 :]
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if text.startswith("[") != (address.version == 6):
        return None
    return str(address), int(port)


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
