"""Reading the VRRP blocks, keyword by keyword (keepalived/vrrp/vrrp_parser.c, 2.2.7).

Each handler reports what its C counterpart reports, with the same words, and
fills a draft (``_vrrp_drafts``); ``_vrrp_checks`` then applies the
post-parse pass. References (``track_script``, ``track_file``,
``track_process``, ``track_bfd``) resolve against what is defined *so far*,
in file order, as in keepalived; sync group members resolve at the end.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pykad.config.addresses import inet_stosockaddr
from pykad.config.build import Builders, Context
from pykad.config.diagnostics import Severity
from pykad.config.lexer import CommandSyntaxError, split_command
from pykad.config.scripts import Script, parse_script
from pykad.config.sections import _vrrp_addr as addr
from pykad.config.sections._vrrp_drafts import (
    GarpDraft,
    InstanceDraft,
    ProcessDraft,
    ScriptDraft,
    SyncGroupDraft,
)
from pykad.config.sections._vrrp_globals import Globals
from pykad.config.sections._vrrp_model import (
    TIMER_HZ,
    AuthHmac,
    AuthType,
    ChecksumCompat,
    IpvlanType,
    LinkbeatInterface,
    LinkbeatType,
    ParamMatch,
    State,
    Tracked,
    TrackGroup,
    UnicastPeer,
    UpDownDelay,
)
from pykad.config.sections._vrrp_reuse import InstanceReuse
from pykad.config.tree import Statement
from pykad.config.values import INT_MAX, UINT_MAX, true_false

IFNAMSIZ = 16
BFD_INAME_MAX = 32
TIMER_MAX_SEC = 1000
AUTH_DATA_LEN = 8
DEFAULT_SCRIPT_USER = "keepalived_script"


@dataclass(frozen=True, slots=True)
class _TrackWords:
    """The messages of one flavour of tracked object (they differ in keepalived)."""

    not_found: str
    duplicate: str
    option: str
    no_value: str
    bad_weight: str
    low: int
    high: int
    clamp_254: bool
    reverse_bad: str
    noreverse: bool
    reverse_bad_drops: bool
    bad_weight_keeps_default: bool


TRACK_IF = _TrackWords(
    not_found="({owner}) tracked interface {name} doesn't exist",
    duplicate="({owner}) duplicate track_interface {name} - ignoring",
    option="({owner}) unknown track_interface {name} option {opt} - ignoring",
    no_value="({owner}) weight without value specified for track_interface {name} - ignoring",
    bad_weight="({owner}) weight {word} for {name} must be between [-253..253] inclusive. "
    "Ignoring...",
    low=-254,
    high=254,
    clamp_254=True,
    reverse_bad="({owner}) unknown track_interace {name} weight option {opt} - ignoring",
    noreverse=False,
    reverse_bad_drops=False,
    bad_weight_keeps_default=False,
)
TRACK_SCRIPT = _TrackWords(
    not_found="({owner}) track script {name} not found, ignoring...",
    duplicate="({owner}) duplicate track_script {name} - ignoring",
    option="({owner}) unknown track script option {opt} - ignoring",
    no_value="({owner}) weight without value specified for track script {name} - ignoring",
    bad_weight="({owner}) track script {name}: weight must be between [-253..253] inclusive, "
    "ignoring...",
    low=-254,
    high=254,
    clamp_254=True,
    reverse_bad="({owner}) unknown track_script {name} weight option {opt} - ignoring",
    noreverse=True,
    reverse_bad_drops=False,
    bad_weight_keeps_default=True,
)
TRACK_FILE = _TrackWords(
    not_found="({owner}) track file {name} not found, ignoring...",
    duplicate="({owner}) duplicate track_file {name} - ignoring",
    option="({owner}) unknown track file option {opt} - ignoring",
    no_value="({owner}) weight without value specified for track file {name} - ignoring",
    bad_weight="({owner}) weight for track file {name} must be in [-254..254] inclusive. "
    "Ignoring...",
    low=-254,
    high=254,
    clamp_254=False,
    reverse_bad="({owner}) unknown track file {name} weight option {opt} - ignoring",
    noreverse=True,
    reverse_bad_drops=True,
    bad_weight_keeps_default=True,
)
TRACK_PROCESS = _TrackWords(
    not_found="({owner}) track process {name} not found, ignoring...",
    duplicate="({owner}) duplicate track_process {name} - ignoring",
    option="({owner}) unknown track process option {opt} - ignoring",
    no_value="({owner}) weight without value specified for track process {name} - ignoring",
    bad_weight="({owner}) weight for track process {name} must be in [-254..254] inclusive. "
    "Ignoring...",
    low=-254,
    high=254,
    clamp_254=False,
    reverse_bad="({owner}) unknown track_process {name} weight option {opt} - ignoring",
    noreverse=True,
    reverse_bad_drops=False,
    bad_weight_keeps_default=True,
)
TRACK_BFD = _TrackWords(
    not_found="({owner}) track bfd {name} not found, ignoring...",
    duplicate="({owner}) duplicate track_bfd {name} - ignoring",
    option="({owner}) unknown track bfd {name} option {opt} - ignoring",
    no_value="({owner}) weight without value specified for track bfd {name} - ignoring",
    bad_weight="({owner}) weight for track bfd {name} must be in [-253..253] inclusive. "
    "Ignoring...",
    low=-253,
    high=253,
    clamp_254=False,
    reverse_bad="({owner}) unknown track bfd {name} weight option {opt} - ignoring",
    noreverse=True,
    reverse_bad_drops=True,
    bad_weight_keeps_default=True,
)

_NOTIFY_KEYWORDS = (
    "notify_backup",
    "notify_master",
    "notify_fault",
    "notify_stop",
    "notify",
    "notify_master_rx_lower_pri",
)

_RFC_MAC_PREFIX = (0x00, 0x00, 0x5E, 0x00)


class Parser:
    """The VRRP process's view of the file so far: every VRRP object, in file order."""

    def __init__(self, ctx: Context, builders: Builders, globals_: Globals) -> None:
        self.ctx = ctx
        self.builders = builders
        self.g = globals_
        self.instances: list[InstanceDraft] = []
        self.instance_names: set[str] = set()
        self.scripts: list[ScriptDraft] = []
        self.processes: list[ProcessDraft] = []
        self.sync_groups: list[SyncGroupDraft] = []
        self.track_groups: list[TrackGroup] = []
        self.garp_groups: list[GarpDraft] = []
        self.garp_ifaces: set[str] = set()
        self.linkbeat: list[LinkbeatInterface] = []
        self.up_down: list[UpDownDelay] = []
        self.nonexistent_interface = False
        self.default_user_failed: bool | None = None
        self.vmac_names: set[str] = set()
        self.reuse = InstanceReuse(ctx, builders) if ctx.memo is not None else None
        """What this read takes from the last (``_vrrp_reuse``), if it is a re-read."""

    # --- helpers -------------------------------------------------------------------

    def interface(self, name: str) -> tuple[bool, bool]:
        """keepalived's if_get_by_ifname(name, IF_CREATE_IF_DYNAMIC): (usable, exists now)."""
        if not addr.interface_known(self.ctx, name):
            self.nonexistent_interface = True
            return False, False
        return True, self.ctx.host.interface_exists(name)

    def is_loopback(self, name: str) -> bool:
        probe = getattr(self.ctx.host, "interface_is_loopback", None)
        if callable(probe):
            return bool(probe(name))
        return name == "lo"

    def default_user_ok(self) -> bool:
        """keepalived's get_default_script_user: fails (once reported) under script security."""
        shared = getattr(self.builders.by_name.get("global"), "default_script_user", None)
        if callable(shared):
            return shared() is not None
        if self.default_user_failed is None:
            self.default_user_failed = False
            if (
                not self.g.script_user_set
                and self.g.script_security
                and self.ctx.host.user_ids(DEFAULT_SCRIPT_USER) is None
            ):
                self.ctx.error(f"Unable to set default user {DEFAULT_SCRIPT_USER} for script")
                self.default_user_failed = True
        return not self.default_user_failed

    def notify_script(self, st: Statement) -> Script | None:
        """keepalived's notify_script_init (type "notify")."""
        script = parse_script(self.ctx, st, "notify")
        if script is None:
            return None
        if script.user is None and not self.default_user_ok():
            self.ctx.note(
                f"Failed to set default user for notify script {script.argv[0]} - ignoring"
            )
            return None
        return script

    def bool_opt(self, st: Statement) -> bool | None:
        """``<BOOL>?``: no word is true; a bad word None (the caller reports)."""
        if len(st.words) < 2:
            return True
        return true_false(st.words[1])

    def track(
        self,
        owner: str,
        words: tuple[str, ...],
        existing: list[Tracked],
        kind: _TrackWords,
        lookup: Callable[[str], tuple[int, bool] | None],
    ) -> None:
        """keepalived's alloc_track_if/script/file/process/bfd for one value line."""
        ctx, name = self.ctx, words[0]
        found = lookup(name)
        if found is None:
            ctx.error(kind.not_found.format(owner=owner, name=name))
            return
        if any(t.name == name for t in existing):
            ctx.error(kind.duplicate.format(owner=owner, name=name))
            return
        default_weight, reverse = found
        weight = default_weight
        if len(words) >= 2:
            if words[1] != "weight":
                ctx.error(kind.option.format(owner=owner, name=name, opt=words[1]))
                return
            if len(words) == 2:
                ctx.error(kind.no_value.format(owner=owner, name=name))
                return
            value = ctx.values.read_int(words[2], kind.low, kind.high, lenient=True)
            if value is None:
                ctx.error(kind.bad_weight.format(owner=owner, name=name, word=words[2]))
                weight = default_weight if kind.bad_weight_keeps_default else 0
            elif kind.clamp_254 and value in (-254, 254):
                ctx.error(f"({owner}) weight for {name} cannot be +/-254. Setting to +/-253")
                weight = -253 if value < 0 else 253
            else:
                weight = value
            if len(words) >= 4:
                if words[3] == "reverse":
                    reverse = True
                elif words[3] == "noreverse" and kind.noreverse:
                    reverse = False
                else:
                    ctx.error(kind.reverse_bad.format(owner=owner, name=name, opt=words[3]))
                    if kind.reverse_bad_drops:
                        return
        existing.append(Tracked(name=name, weight=weight, reverse=reverse))

    def track_block(self, owner: str, st: Statement, existing: list[Tracked], which: str) -> None:
        kinds: dict[str, tuple[_TrackWords, Callable[[str], tuple[int, bool] | None]]] = {
            "track_interface": (TRACK_IF, self._find_interface),
            "track_script": (TRACK_SCRIPT, self._find_script),
            "track_file": (TRACK_FILE, self._find_file),
            "track_process": (TRACK_PROCESS, self._find_process),
            "track_bfd": (TRACK_BFD, self._find_bfd),
        }
        kind, lookup = kinds[which]
        for words, where in zip(st.values, st.value_locations, strict=True):
            self.ctx.location = where
            self.track(owner, words, existing, kind, lookup)

    def _find_interface(self, name: str) -> tuple[int, bool] | None:
        usable, _ = self.interface(name)
        return (0, False) if usable else None

    def _find_script(self, name: str) -> tuple[int, bool] | None:
        s = next((s for s in self.scripts if s.name == name), None)
        return None if s is None else (s.weight, s.weight_reverse)

    def _find_process(self, name: str) -> tuple[int, bool] | None:
        p = next((p for p in self.processes if p.name == name), None)
        return None if p is None else (p.weight, p.weight_reverse)

    def _find_file(self, name: str) -> tuple[int, bool] | None:
        find = getattr(self.builders.by_name.get("track_file"), "find", None)
        found = find(name) if callable(find) else None
        return None if found is None else (int(found.weight), bool(found.weight_reverse))

    def _find_bfd(self, name: str) -> tuple[int, bool] | None:
        builder: Any = self.builders.by_name.get("bfd")
        if builder is None or name not in getattr(builder, "names", ()):
            return None
        for b in getattr(builder, "instances", ()):
            if b.name == name:
                if not b.vrrp:
                    return None
                return b.weight, b.weight_reverse
        return 0, False

    # --- vrrp_instance ---------------------------------------------------------------

    def instance(self, st: Statement) -> None:
        ctx = self.ctx
        if len(st.words) != 2:
            ctx.error("vrrp_instance must have a name")
            return
        name = st.words[1]
        if name in self.instance_names:
            ctx.error(f"vrrp instance {name} already defined")
            return
        reuse = self.reuse
        if reuse is not None and (taken := reuse.take(st)) is not None:
            self.instances.append(taken)
            self.instance_names.add(name)
            return
        shared = reuse.shared(self) if reuse is not None else ()
        g = self.g
        d = InstanceDraft(
            name,
            location=st.location,
            garp_delay_us=g.garp_delay_us,
            garp_refresh_us=g.garp_refresh_us,
            garp_rep=g.garp_repeat,
            garp_refresh_rep=g.garp_refresh_repeat,
            down_timer_adverts=g.down_timer_adverts,
            skip_check_adv_addr=g.skip_check_adv_addr,
        )
        self.instances.append(d)
        self.instance_names.add(name)
        for child in st.children:
            ctx.at(child)
            self.instance_keyword(d, child)
        ctx.location = st.end or st.location
        self.instance_end(d)
        if reuse is not None:
            reuse.parsed(st, d, shared, self)

    def instance_end(self, d: InstanceDraft) -> None:
        """keepalived's vrrp_end_handler."""
        ctx = self.ctx
        if d.unicast_configured and (d.use_vmac or d.use_ipvlan):
            if d.interface is None:
                ctx.error(
                    f"({d.name}): Cannot use VMAC/ipvlan with unicast and no interface - "
                    "clearing use_vmac"
                )
                d.use_vmac = d.use_ipvlan = False
                d.vmac_ifname = d.ipvlan_ifname = None
            elif not d.vmac_xmit_base:
                ctx.error(f"({d.name}) unicast with use_vmac requires vmac_xmit_base - setting")
                d.vmac_xmit_base = True
        if not d.peers and d.ttl != -1:
            ctx.error(f"({d.name}): Cannot use unicast_ttl without unicast peers - resetting")
            d.ttl = 0
        if d.interface is None:
            d.linkbeat_use_polling = False

    def instance_keyword(self, d: InstanceDraft, st: Statement) -> None:
        ctx, kw, values, n = self.ctx, st.keyword, self.ctx.values, d.name
        if kw == "use_vmac":
            self.vmac(d, st)
        elif kw == "use_vmac_addr":
            d.use_vmac_addr = True
        elif kw == "vmac_xmit_base":
            d.vmac_xmit_base = True
        elif kw == "use_ipvlan":
            self.ipvlan(d, st)
        elif kw == "unicast_peer":
            d.unicast_configured = True
            for words, where in zip(st.values, st.value_locations, strict=True):
                ctx.location = where
                self.unicast_peer(d, words)
        elif kw == "unicast_fault_no_peer":
            d.unicast_configured = d.unicast_fault_no_peer = True
        elif kw == "check_unicast_src":
            d.unicast_configured = d.check_unicast_src = True
        elif kw == "old_unicast_checksum":
            d.unicast_configured = True
            if len(st.words) >= 2:
                if st.words[1] == "never":
                    d.chksum_compat = ChecksumCompat.NEVER
                else:
                    ctx.error(f"({n}) Unknown old_unicast_chksum mode {st.words[1]} - ignoring")
            else:
                d.chksum_compat = ChecksumCompat.CONFIG
        elif kw == "native_ipv6":
            if d.family == 4:
                ctx.error(f"({n}) Cannot specify native_ipv6 with IPv4 addresses")
            else:
                d.family, d.version = 6, 3
        elif kw == "state":
            word = ctx.word(st, 1)
            if word == "MASTER":
                d.wantstate = State.MASTER
            elif word == "BACKUP":
                if d.wantstate is State.MASTER:
                    ctx.error(f"({n}) state previously set as MASTER - ignoring BACKUP")
                else:
                    d.wantstate = State.BACKUP
            else:
                ctx.error(f"({n}) unknown state '{word}', defaulting to BACKUP")
                d.wantstate = State.BACKUP
        elif kw == "interface":
            word = ctx.word(st, 1)
            if len(word) >= IFNAMSIZ:
                ctx.error(f"Interface name '{word}' too long - ignoring")
                return
            usable, present = self.interface(word)
            d.interface, d.interface_present = (word, present) if usable else (None, False)
            if not usable:
                ctx.error(f"WARNING - interface {word} for vrrp_instance {n} doesn't exist")
            elif self.is_loopback(word):
                ctx.error(f"({n}) cannot use a loopback interface ({word}) for vrrp - ignoring")
                d.interface, d.interface_present = None, False
        elif kw == "vrf":
            word = ctx.word(st, 1)
            if len(word) >= IFNAMSIZ:
                ctx.error(f"({n}) VRF interface name '{word}' too long - ignoring")
            elif d.interface is not None:
                ctx.error(f"({n}) Cannot specify VRF interface and interface - ignoring")
            elif d.vrf is not None:
                ctx.error(f"({n}) VRF interface already specified as '{d.vrf}' - ignoring")
            else:
                usable, _ = self.interface(word)
                if not usable:
                    ctx.error(f"({n}) WARNING - VRF interface {word} doesn't exist")
                elif self.is_loopback(word):
                    ctx.error(f"({n}) cannot use a loopback interface ({word}) for VRF - ignoring")
                else:
                    d.vrf = word
        elif kw == "dont_track_primary":
            d.dont_track_primary = True
        elif kw in ("track_interface", "track_script", "track_file", "track_process", "track_bfd"):
            target = {
                "track_interface": d.track_ifs,
                "track_script": d.track_scripts,
                "track_file": d.track_files,
                "track_process": d.track_processes,
                "track_bfd": d.track_bfds,
            }[kw]
            self.track_block(n, st, target, kw)
        elif kw in ("mcast_src_ip", "unicast_src_ip"):
            if kw == "unicast_src_ip":
                d.unicast_configured = True
            self.source_ip(d, st, kw == "unicast_src_ip")
        elif kw == "mcast_dst_ip":
            self.mcast_dst(d, st)
        elif kw == "track_src_ip":
            d.track_saddr = True
        elif kw == "virtual_router_id":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 1, 255)
            if value is None:
                ctx.error(f"({n}): VRID '{word}' not valid - must be between 1 & 255")
            else:
                d.vrid = value
        elif kw == "unicast_ttl":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, 255)
            if value is None:
                ctx.error(f"({n}): TTL '{word}' not valid - must be between 0 & 255")
            else:
                d.ttl = value
        elif kw == "version":
            word = ctx.word(st, 1)
            value = values.read_int(word, 2, 3, lenient=True)
            if value is None:
                ctx.error(f"({n}): Version must be either 2 or 3")
            elif (d.version and d.version != value) or (value == 2 and d.family == 6):
                ctx.error(
                    f"({n}) vrrp_version {value} conflicts with configured or deduced "
                    f"version {d.version}; ignoring."
                )
            else:
                d.version = value
        elif kw == "priority":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 1, 255)
            if value is None:
                ctx.error(f"({n}) Priority not valid! must be between 1 & 255. Using default 100")
                d.priority = 100
            else:
                d.priority = value
        elif kw == "advert_int":
            word = ctx.word(st, 1)
            value = values.read_decimal(word, TIMER_HZ // 100, 255 * TIMER_HZ, 6, lenient=True)
            if not value:
                ctx.error(f"({n}) Advert interval ({word}) not valid! Must be > 0 - ignoring")
            else:
                d.adver_int_us = value
        elif kw in ("virtual_ipaddress", "virtual_ipaddress_excluded"):
            for words, where in zip(st.values, st.value_locations, strict=True):
                ctx.location = where
                self.vip(d, words, excluded=kw != "virtual_ipaddress")
        elif kw == "promote_secondaries":
            d.promote_secondaries = True
        elif kw == "linkbeat_use_polling":
            d.linkbeat_use_polling = True
            ctx.error(
                f"({n}) 'linkbeat_use_polling' in vrrp instance deprecated - use "
                "linkbeat_interfaces block"
            )
        elif kw == "virtual_routes":
            for words, where in zip(st.values, st.value_locations, strict=True):
                ctx.location = where
                route = addr.parse_route(ctx, words, where=n)
                if route is not None:
                    d.vroutes.append(route)
        elif kw == "virtual_rules":
            for words, where in zip(st.values, st.value_locations, strict=True):
                ctx.location = where
                rule = addr.parse_rule(ctx, words, where=n)
                if rule is not None:
                    d.vrules.append(rule)
        elif kw == "accept":
            d.accept = True
        elif kw == "no_accept":
            d.accept = False
        elif kw == "pykad_bfd_takeover":
            d.bfd_takeover = True
        elif kw == "skip_check_adv_addr":
            value = self.bool_opt(st)
            if value is None:
                ctx.error(f"({n}) invalid skip_check_adv_addr {st.words[1]} specified")
            else:
                d.skip_check_adv_addr = True  # sic: 2.2.7 sets it for any valid value
        elif kw == "strict_mode":
            value = self.bool_opt(st)
            if value is None:
                ctx.error(f"({n}) invalid strict_mode {st.words[1]} specified")
            else:
                d.strict_mode = value
        elif kw == "preempt":
            d.nopreempt = False
        elif kw == "nopreempt":
            d.nopreempt = True
        elif kw == "preempt_delay":
            word = ctx.word(st, 1)
            value = values.read_decimal(word, 0, TIMER_MAX_SEC * TIMER_HZ, 6, lenient=True)
            if value is None:
                ctx.error(f"({n}) Preempt_delay not valid! must be between 0-{TIMER_MAX_SEC}")
                d.preempt_delay_us = 0
            else:
                d.preempt_delay_us = value
        elif kw == "debug":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, 4, lenient=True)
            if value is None:
                ctx.error(f"({n}) Debug value '{word}' not valid; must be between 0-4")
            else:
                d.debug = value
        elif kw in _NOTIFY_KEYWORDS:
            if kw in d.notify:
                what = "notify" if kw == "notify" else kw
                ctx.error(f"({n}) {what} script already specified - ignoring {ctx.word(st, 1)}")
                return
            script = self.notify_script(st)
            if script is not None:
                d.notify[kw] = script
        elif kw == "notify_deleted":
            if d.notify_deleted:
                extra = st.words[1] if len(st.words) > 1 else ""
                ctx.error(f"({n}) notify_deleted already specified - ignoring {extra}")
                return
            if len(st.words) > 1:
                script = self.notify_script(st)
                if script is not None:
                    d.notify["notify_deleted"] = script
            d.notify_deleted = True
        elif kw == "smtp_alert":
            value = self.bool_opt(st)
            if value is None:
                ctx.error(f"Invalid vrrp_instance smtp_alert parameter {st.words[1]}")
            else:
                d.smtp_alert = value
        elif kw == "notify_priority_changes":
            value = self.bool_opt(st)
            if value is None:
                ctx.error(
                    f"({n}) Invalid value '{st.words[1]}' for notify_priority_changes specified"
                )
            else:
                d.notify_priority_changes = value
        elif kw == "lvs_sync_daemon_interface":
            ctx.error(f"({n}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated.")
            ctx.error(f"      {'':{max(len(n) - 2, 0)}}Please use global lvs_sync_daemon")
            word = ctx.word(st, 1)
            first = self.g.lvs_syncd_interface or next(
                (
                    i.lvs_sync_daemon_interface
                    for i in self.instances
                    if i.lvs_sync_daemon_interface
                ),
                None,
            )
            if first is not None:
                ctx.error(
                    f"({n}) lvs_sync_daemon_interface has already been specified as {first} - "
                    "ignoring"
                )
            else:
                d.lvs_sync_daemon_interface = word
        elif kw in ("garp_master_delay", "garp_lower_prio_delay"):
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, UINT_MAX // TIMER_HZ, lenient=True)
            if value is None:
                ctx.error(f"({n}): {kw} '{word}' invalid - ignoring")
            elif kw == "garp_master_delay":
                d.garp_delay_us = value * TIMER_HZ
            else:
                d.garp_lower_prio_delay_us = value * TIMER_HZ
        elif kw == "garp_master_refresh":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, UINT_MAX, lenient=True)
            if value is None:
                ctx.error(f"({n}): Invalid garp_master_refresh '{word}' - ignoring")
                d.garp_refresh_us = 0
            else:
                d.garp_refresh_us = value * TIMER_HZ
        elif kw in ("garp_master_repeat", "garp_master_refresh_repeat"):
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, UINT_MAX, lenient=True)
            if value is None:
                ctx.error(f"({n}): {kw} '{word}' invalid - ignoring")
                return
            if value == 0:
                ctx.error(f"({n}): {kw} must be greater than 0, setting to 1")
                value = 1
            if kw == "garp_master_repeat":
                d.garp_rep = value
            else:
                d.garp_refresh_rep = value
        elif kw == "garp_lower_prio_repeat":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, INT_MAX, lenient=True)
            if value is None:
                ctx.error(f"({n}): Invalid garp_lower_prio_repeat '{word}'")
            else:
                d.garp_lower_prio_rep = value
        elif kw == "down_timer_adverts":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 1, 100, lenient=True)
            if value is None:
                ctx.error(f"({n}): Invalid down_timer_adverts [1:100] '{word}'")
            else:
                d.down_timer_adverts = value
        elif kw in ("garp_extra_if", "vmac_garp_intvl"):
            self.garp_extra_if(d, st)
        elif kw in ("lower_prio_no_advert", "higher_prio_send_advert"):
            value = self.bool_opt(st)
            if value is None:
                ctx.error(f"({n}) invalid {kw} {st.words[1]} specified")
            elif kw == "lower_prio_no_advert":
                d.lower_prio_no_advert = value
            else:
                d.higher_prio_send_advert = value
        elif kw == "kernel_rx_buf_size":
            value = None
            if len(st.words) == 2:
                value = values.read_unsigned(st.words[1], 0, UINT_MAX)
            if value is None:
                ctx.error(f"({n}) invalid kernel_rx_buf_size specified")
            else:
                d.kernel_rx_buf_size = value
        elif kw == "authentication":
            for child in st.children:
                ctx.at(child)
                self.authentication(d, child)
        elif kw == "v3_checksum_as_v2":
            d.v3_checksum_as_v2 = True
        elif kw == "no_virtual_ipaddress":
            d.no_virtual_ipaddress = True
        elif kw == "owner_ignore_adverts":
            d.owner_ignore_adverts = True
        elif kw == "auth_hmac":
            keys: list[tuple[str, str]] = []
            fields: dict[str, Any] = {}
            for child in st.children:
                ctx.at(child)
                if child.keyword == "key" and len(child.words) >= 3:
                    keys.append((child.words[1], child.words[2]))
                elif (
                    child.keyword in ("active_key", "anti_replay", "mode") and len(child.words) > 1
                ):
                    fields[child.keyword] = child.words[1]
                elif child.keyword == "time_window" and len(child.words) > 1:
                    window = values.read_unsigned(child.words[1], 1, 300)
                    if window is not None:
                        fields["time_window_s"] = window
            d.auth_hmac = AuthHmac(keys=tuple(keys), **fields)
        elif kw in ("timer_expired_backup", "thread_timer_expired"):
            value = 0
            if len(st.words) > 1:
                value = values.read_unsigned(st.words[1], 0, 254) or 0
            d.timer_expired_backup = value

    def authentication(self, d: InstanceDraft, st: Statement) -> None:
        ctx = self.ctx
        if st.keyword == "auth_type":
            word = ctx.word(st, 1)
            if word == "AH":
                d.auth_type = AuthType.AH
            elif word == "PASS":
                d.auth_type = AuthType.PASS
            else:
                ctx.error(f"({d.name}) unknown authentication type '{word}'")
        elif st.keyword == "auth_pass":
            word = ctx.word(st, 1)
            if len(word.encode()) > AUTH_DATA_LEN:
                ctx.error(f"Truncating auth_pass to {AUTH_DATA_LEN} characters")
                word = word.encode()[:AUTH_DATA_LEN].decode(errors="ignore")
            d.auth_pass = word

    def vip(self, d: InstanceDraft, words: tuple[str, ...], *, excluded: bool) -> None:
        """keepalived's alloc_vrrp_vip / alloc_vrrp_evip."""
        ctx = self.ctx
        address = addr.parse_address(ctx, words, where=d.name)
        if address is None:
            return
        if excluded:
            d.evips.append(address)
            return
        family = addr.address_ip(address).version
        if d.family == 0:
            d.family = family
        elif family != d.family:
            ctx.error(
                f"({d.name}): address family must match VRRP instance [{words[0]}] - ignoring"
            )
            return
        d.vips.append(address)

    def unicast_peer(self, d: InstanceDraft, words: tuple[str, ...]) -> None:
        """keepalived's alloc_vrrp_unicast_peer."""
        ctx, n = self.ctx, d.name
        address = inet_stosockaddr(words[0])
        if address is None:
            ctx.error(
                f"Configuration error: VRRP instance[{n}] malformed unicast peer "
                f"address[{words[0]}]. Skipping..."
            )
            return
        if not d.family:
            d.family = address.version
        elif address.version != d.family:
            ctx.error(
                f"Configuration error: VRRP instance[{n}] and unicast peer address[{words[0]}] "
                "MUST be of the same family !!! Skipping..."
            )
            return
        min_ttl, max_ttl = 0, 255
        i = 1
        while i < len(words):
            if i + 1 >= len(words):
                ctx.error(f"({n}) {words[i]} is missing a value")
                break
            ttl = ctx.values.read_unsigned(words[i + 1], 0, 255)
            if ttl is not None:
                if words[i] == "min_ttl":
                    min_ttl = ttl
                elif words[i] == "max_ttl":
                    max_ttl = ttl
                else:
                    ctx.error(f"({n}) unknown unicast_peer option {words[i]}")
                    break
                d.check_unicast_src = True
            i += 2
        if min_ttl > max_ttl:
            ctx.error(
                f"({n}) min_ttl {min_ttl} > max_ttl {max_ttl} - all packets will be discarded"
            )
        d.peers.append(UnicastPeer(address=address, min_ttl=min_ttl, max_ttl=max_ttl))

    def source_ip(self, d: InstanceDraft, st: Statement, unicast: bool) -> None:
        ctx, n = self.ctx, d.name
        word = ctx.word(st, 1)
        address = inet_stosockaddr(word)
        if address is None:
            ctx.error(
                f"Configuration error: VRRP instance[{n}] malformed src address[{word}]. "
                "Skipping..."
            )
            return
        d.saddr, d.saddr_from_config = address, True
        d.unicast_src_keyword = unicast
        if not d.family:
            d.family = address.version
        elif address.version != d.family:
            ctx.error(
                f"Configuration error: VRRP instance[{n}] and src address[{word}] MUST be of "
                "the same family !!! Skipping..."
            )
            d.saddr, d.saddr_from_config = None, False

    def mcast_dst(self, d: InstanceDraft, st: Statement) -> None:
        ctx, n = self.ctx, d.name
        word = ctx.word(st, 1)
        address = inet_stosockaddr(word)
        if address is None:
            ctx.error(f"({n}) malformed mcast dest address {word}. Skipping...")
            return
        d.mcast_daddr = address
        if not d.family:
            d.family = address.version
        elif address.version != d.family:
            ctx.error(
                f"({n}) mcast dest address {word} MUST match VRRP instance family. Skipping..."
            )
            d.mcast_daddr = None
        if d.mcast_daddr is not None:
            ok = (
                address.is_multicast
                if address.version == 4
                else (address.is_multicast and (address.packed[1] & 0x0F) == 2)
            )
            if not ok:
                ll = " link-local" if address.version == 6 else ""
                ctx.error(f"({n}) mcast_dst_ip {word} not{ll} multicast. Skipping...")
                d.mcast_daddr = None

    def garp_extra_if(self, d: InstanceDraft, st: Statement) -> None:
        ctx, kw, n = self.ctx, st.keyword, d.name
        if kw == "vmac_garp_intvl":
            ctx.error(
                'Keyword "vmac_garp_intvl" is deprecated - please use "garp_extra_if"',
                Severity.DEPRECATED,
            )
        delay: int | None = None
        for word in st.words[1:]:
            if word == "all":
                d.garp_extra_if_all = True
                continue
            value = ctx.values.read_unsigned(word, 0, 86400, lenient=True)
            if value is None:
                ctx.error(f"({n}): {kw} '{word}' invalid - ignoring")
                return
            delay = value
        if delay is None:
            ctx.error(f"({n}): {kw} specified without time - ignoring")
            return
        d.garp_extra_if_s = delay

    def vmac(self, d: InstanceDraft, st: Statement) -> None:
        """keepalived's vrrp_vmac_handler."""
        ctx, n = self.ctx, d.name
        d.use_vmac = True
        for word in st.words[1:3]:
            if ":" in word:
                if d.vmac_mac is not None:
                    ctx.error("VMAC interface address already specified")
                    continue
                if word.strip("0123456789ABCDEFabcdef:"):
                    ctx.error(f"VMAC invalid MAC address {word}")
                    continue
                octets = _parse_mac(word)
                if octets is None:
                    ctx.error(f"VMAC invalid MAC address {word} - ignored")
                elif octets[0] & 0x01:
                    ctx.error(f"VMAC MAC address is multicast {word} - ignoring")
                elif tuple(octets[:4]) == _RFC_MAC_PREFIX and octets[4] in (1, 2):
                    ctx.error(
                        f"VMAC MAC address not allowed to be RFC5798 address ({word}) - ignoring"
                    )
                else:
                    d.vmac_mac = word
            else:
                if d.vmac_ifname is not None:
                    ctx.error("VMAC interface name already specified")
                    continue
                if not _dev_name_valid(word):
                    ctx.error(
                        f"VMAC interface name '{word}' too long or invalid characters - ignoring"
                    )
                    continue
                other = next((i for i in self.instances if word in (i.vmac_ifname,)), None)
                if other is None:
                    other = next((i for i in self.instances if i.ipvlan_ifname == word), None)
                if other is not None:
                    ctx.error(
                        f"({n}) VRRP instance {other.name} is already using {word} - ignoring name"
                    )
                    continue
                if self.ctx.host.interface_exists(word):
                    ctx.error(
                        f"({n}) interface {word} already exists and is not a private macvlan; "
                        "ignoring vmac if_name"
                    )
                    continue
                d.vmac_ifname = word

    def ipvlan(self, d: InstanceDraft, st: Statement) -> None:
        """keepalived's vrrp_ipvlan_handler."""
        ctx, n = self.ctx, d.name
        if d.use_ipvlan:
            ctx.error(f"({n}) use_ipvlan already specified")
            return
        d.use_ipvlan = True
        had_type = False
        for word in st.words[1:]:
            if word in ("bridge", "private", "vepa"):
                if had_type:
                    ctx.error(f"({n}) ipvlan type already specified - ignoring '{word}'")
                else:
                    d.ipvlan_type = IpvlanType(word)
                    had_type = True
                continue
            iface = _ip_interface(word)
            if iface is not None:
                if d.ipvlan_address is not None:
                    ctx.error(f"({n}) ipvlan address already specified - ignoring '{word}'")
                    continue
                if not d.family:
                    d.family = iface.version
                elif iface.version != d.family:
                    ctx.error(
                        f"({n}) ipvlan address[{word}] MUST match vrrp instance family !!! "
                        "Skipping..."
                    )
                    continue
                d.ipvlan_address = iface
                if d.saddr is None:
                    d.saddr, d.saddr_from_config = iface.ip, True
                continue
            if d.ipvlan_ifname is not None or d.vmac_ifname is not None:
                ctx.error(f"({n}) IPVLAN interface already specified - ignoring '{word}'")
                continue
            if len(word) >= IFNAMSIZ:
                ctx.error(f"({n}) IPVLAN interface name '{word}' too long - ignoring")
                continue
            other = next(
                (i for i in self.instances if word in (i.vmac_ifname, i.ipvlan_ifname)), None
            )
            if other is not None:
                ctx.error(
                    f"({n}) VRRP instance {other.name} is already using {word} - ignoring name"
                )
                continue
            if self.ctx.host.interface_exists(word):
                ctx.error(
                    f"({n}) interface {word} already exists and is not an l2 ipvlan; ignoring "
                    "ipvlan if_name"
                )
                continue
            d.ipvlan_ifname = word

    # --- vrrp_script -------------------------------------------------------------------

    def script(self, st: Statement) -> None:
        ctx = self.ctx
        s = ScriptDraft(ctx.word(st, 1), location=st.location)
        self.scripts.append(s)
        for child in st.children:
            ctx.at(child)
            self.script_keyword(s, child)
        ctx.location = st.end or st.location
        if not s.argv:
            ctx.error(f"No script set for vrrp_script {s.name} - removing")
            s.remove = True
        elif not s.remove and not s.user_set and not self.default_user_ok():
            ctx.error(f"Unable to set default user for vrrp script {s.name} - removing")
            s.remove = True
        if s.remove:
            self.scripts.remove(s)

    def script_keyword(self, s: ScriptDraft, st: Statement) -> None:
        ctx, kw, values = self.ctx, st.keyword, self.ctx.values
        if kw == "script":
            try:
                words = split_command(st.text)
                s.argv = tuple(split_command(words[1])) if len(words) > 1 else ()
            except CommandSyntaxError as e:
                ctx.error(str(e), Severity.UNMATCHED_QUOTE)
        elif kw in ("interval", "timeout"):
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, UINT_MAX // TIMER_HZ, lenient=True)
            if value is None:
                if kw == "interval":
                    ctx.error(
                        f"({s.name}): vrrp script interval '{word}' must be between 1 and "
                        f"{UINT_MAX // TIMER_HZ} - ignoring"
                    )
                else:
                    ctx.error(f"({s.name}): vrrp script timeout '{word}' invalid - ignoring")
                return
            if value == 0:
                ctx.error(f"({s.name}): vrrp script {kw} must be greater than 0, setting to 1")
                value = 1
            if kw == "interval":
                s.interval_us = value * TIMER_HZ
            else:
                s.timeout_us = value * TIMER_HZ
        elif kw == "weight":
            word = ctx.word(st, 1)
            value = values.read_int(word, -253, 253, lenient=True)
            if value is None:
                ctx.error(f"vrrp_script {s.name} weight {word} must be in [-253, 253]")
            else:
                s.weight = value
            if len(st.words) >= 3:
                if st.words[2] == "reverse":
                    s.weight_reverse = True
                else:
                    ctx.error(f"vrrp_script {s.name} unknown weight option {st.words[2]}")
        elif kw in ("rise", "fall"):
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 1, INT_MAX, lenient=True)
            if value is None:
                ctx.error(f"({s.name}): vrrp script {kw} value '{word}' invalid, defaulting to 1")
                value = 1
            setattr(s, kw, value)
        elif kw == "user":
            user = ctx.word(st, 1)
            group = st.words[2] if len(st.words) > 2 else None
            ids = ctx.host.user_ids(user)
            if ids is None or (group is not None and ctx.host.group_id(group) is None):
                ctx.error(f"Unable to set uid/gid for script {_cmd_str(s.argv)}")
                s.remove = True
            else:
                s.user, s.group, s.user_set, s.remove = user, group, True, False
        elif kw == "init_fail":
            s.init_fail = True

    # --- vrrp_track_process -------------------------------------------------------------

    def track_process(self, st: Statement) -> None:
        ctx = self.ctx
        p = ProcessDraft(ctx.word(st, 1))
        self.processes.append(p)
        for child in st.children:
            ctx.at(child)
            self.process_keyword(p, child)
        ctx.location = st.end or st.location
        if p.process is None:
            ctx.error(f"track process '{p.name}' process name not specified")
            self.processes.remove(p)

    def process_keyword(self, p: ProcessDraft, st: Statement) -> None:
        ctx, kw, values = self.ctx, st.keyword, self.ctx.values
        if kw == "process":
            if p.process is not None:
                ctx.error(
                    f"Process already set for track process {p.name} - ignoring {ctx.word(st, 1)}"
                )
                return
            p.process = ctx.word(st, 1)
            if len(st.words) > 2:
                p.parameters = tuple(st.words[2:])
                if p.param_match is None:
                    p.param_match = ParamMatch.EXACT
                p.full_command = True
        elif kw == "param_match":
            if len(st.words) == 1:
                p.param_match, p.full_command = ParamMatch.EXACT, True
            elif st.words[1] in ("initial", "partial"):
                p.param_match, p.full_command = ParamMatch(st.words[1]), True
            else:
                ctx.error(f"Invalid param_match type {st.words[1]} - ignoring")
        elif kw == "weight":
            if len(st.words) < 2:
                ctx.error(f"No weight specified for track process {p.name} - ignoring")
                return
            if p.weight:
                ctx.error(f"Weight already set for track process {p.name} - ignoring {st.words[1]}")
                return
            value = values.read_int(st.words[1], -254, 254, lenient=True)
            if value is None:
                ctx.error(
                    f"Weight ({st.words[1]}) for vrrp_track_process {p.name} must be between "
                    "[-254..254] inclusive. Ignoring..."
                )
                return
            if len(st.words) >= 3:
                if st.words[2] == "reverse":
                    p.weight_reverse = True
                else:
                    ctx.error(f"vrrp_track_process {p.name} unknown weight option {st.words[2]}")
            p.weight = value
        elif kw == "quorum":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 1, 65535, lenient=True)
            if value is None:
                ctx.error(
                    f"Quorum ({word}) for vrrp_track_process {p.name} must be between "
                    "[1..65535] inclusive. Ignoring..."
                )
            elif value > p.quorum_max:
                ctx.error("Quorum is greater than quorum_max - ignoring")
            else:
                p.quorum = value
        elif kw == "quorum_max":
            word = ctx.word(st, 1)
            value = values.read_unsigned(word, 0, 65535, lenient=True)
            if value is None:
                ctx.error(
                    f"quorum_max ({word}) for vrrp_track_process {p.name} must be between "
                    "[0..65535] inclusive. Ignoring..."
                )
                return
            if (value or p.quorum > 1) and value < p.quorum:
                ctx.error("quorum_max is less than quorum - ignoring")
                return
            p.quorum_max = value
            if value == 0:
                p.quorum = 0
            elif not p.quorum:
                p.quorum = 1
        elif kw in ("delay", "terminate_delay", "fork_delay"):
            word = ctx.word(st, 1)
            value = values.read_decimal(word, 1, 3600 * TIMER_HZ, 6, lenient=True)
            if value is None:
                prefix = "" if kw == "delay" else kw[: -len("delay")]
                ctx.error(
                    f"{prefix}delay ({word}) for vrrp_track_process {p.name} must be between "
                    "[0.000001..3600] inclusive. Ignoring..."
                )
                return
            if kw != "fork_delay":
                p.terminate_delay_us = value
            if kw != "terminate_delay":
                p.fork_delay_us = value
        elif kw == "full_command":
            p.full_command = True

    # --- vrrp_sync_group ----------------------------------------------------------------

    def sync_group(self, st: Statement) -> None:
        ctx = self.ctx
        if len(st.words) != 2:
            ctx.error("vrrp_sync_group must have a name - skipping")
            return
        name = st.words[1]
        if any(g.name == name for g in self.sync_groups):
            ctx.error(f"vrrp sync group {name} already defined")
            return
        g = SyncGroupDraft(name, location=st.location)
        self.sync_groups.append(g)
        for child in st.children:
            ctx.at(child)
            if not self.sync_group_keyword(g, child):
                return

    def sync_group_keyword(self, g: SyncGroupDraft, st: Statement) -> bool:
        ctx, kw = self.ctx, st.keyword
        if kw == "group":
            if g.members is not None:
                ctx.error(f"Group list already specified for sync group {g.name}")
                return False
            words = [w for line in st.values for w in line]
            g.members = words or None
            if not words:
                ctx.error(f"Warning - sync group {g.name} has empty group block")
        elif kw in ("track_interface", "track_script", "track_file", "track_process", "track_bfd"):
            target = {
                "track_interface": g.track_ifs,
                "track_script": g.track_scripts,
                "track_file": g.track_files,
                "track_process": g.track_processes,
                "track_bfd": g.track_bfds,
            }[kw]
            self.track_block(g.name, st, target, kw)
        elif kw in ("notify_backup", "notify_master", "notify_fault", "notify_stop", "notify"):
            if kw in g.notify:
                ctx.error(
                    f"vrrp group {g.name}: {kw} script already specified - ignoring "
                    f"{ctx.word(st, 1)}"
                )
                return True
            script = self.notify_script(st)
            if script is not None:
                g.notify[kw] = script
        elif kw == "smtp_alert":
            value = self.bool_opt(st)
            if value is None:
                ctx.error(f"Invalid vrrp_group smtp_alert parameter {st.words[1]}")
            else:
                g.smtp_alert = value
        elif kw == "global_tracking":
            ctx.error(
                f"({g.name}) global_tracking is deprecated. Use track_interface/script/file on "
                "the sync group"
            )
            g.tracking_weight = True
        elif kw == "sync_group_tracking_weight":
            g.tracking_weight = True
        elif kw == "notify_priority_changes":
            value = self.bool_opt(st)
            if value is None:
                ctx.error(
                    f"({g.name}) Invalid value '{st.words[1]}' for sync group "
                    "notify_priority_changes specified"
                )
            else:
                g.notify_priority_changes = value
        return True

    # --- track_group, garp_group, linkbeat_interfaces, interface_up_down_delays ---------

    def track_group(self, st: Statement) -> None:
        ctx = self.ctx
        if len(st.words) != 2:
            ctx.error("track_group must have a name - skipping")
            return
        name = st.words[1]
        if any(t.name == name for t in self.track_groups):
            ctx.error(f"track_group {name} already defined")
            return
        members: list[str] | None = None
        for child in st.children:
            ctx.at(child)
            if child.keyword == "group":
                if members is not None:
                    ctx.error(f"Group list already specified for sync group {name}")
                    break
                members = [w for line in child.values for w in line]
                if not members:
                    ctx.error(f"Warning - track group {name} has empty group block")
        self.track_groups.append(TrackGroup(name=name, members=tuple(members or ())))

    def garp_group(self, st: Statement) -> None:
        ctx, values = self.ctx, self.ctx.values
        g = GarpDraft()
        self.garp_groups.append(g)
        mine: list[str] = []
        for child in st.children:
            ctx.at(child)
            kw = child.keyword
            if kw in ("garp_interval", "gna_interval"):
                word = ctx.word(child, 1)
                value = values.read_decimal(word, 0, INT_MAX, 6, lenient=True)
                if value is None:
                    ctx.error(f"garp_group {kw} '{word}' invalid")
                elif kw == "garp_interval":
                    g.garp_interval_us = value
                else:
                    g.gna_interval_us = value
            elif kw == "interface":
                word = ctx.word(child, 1)
                if self.garp_interface(word, report_missing=True):
                    g.interfaces.append(word)
                    mine.append(word)
            elif kw == "interfaces":
                names = [w for line in child.values for w in line]
                if not names:
                    ctx.error("Warning - empty garp_group interfaces block")
                    continue
                g.aggregation_group = 1 + sum(
                    1 for other in self.garp_groups if other.aggregation_group and other is not g
                )
                g.aggregated = []
                for word in names:
                    if self.garp_interface(word, report_missing=not self.g.dynamic_interfaces):
                        g.aggregated.append(word)
                        mine.append(word)
        ctx.location = st.end or st.location
        if g.garp_interval_us is None and g.gna_interval_us is None:
            ctx.error(f"garp group {g.aggregation_group} does not have any delay set - removing")
            self.garp_groups.remove(g)
            self.garp_ifaces.difference_update(mine)

    def garp_interface(self, name: str, *, report_missing: bool) -> bool:
        usable, _ = self.interface(name)
        if not usable:
            if report_missing:
                self.ctx.error(f"WARNING - interface {name} specified for garp_group doesn't exist")
            return False
        if name in self.garp_ifaces:
            self.ctx.error(f"garp_group already specified for {name} - ignoring")
            return False
        self.garp_ifaces.add(name)
        return True

    def linkbeat_interfaces(self, st: Statement) -> None:
        ctx = self.ctx
        for words, where in zip(st.values, st.value_locations, strict=True):
            ctx.location = where
            name = words[0]
            if not ctx.host.interface_exists(name) and not self.g.dynamic_interfaces:
                ctx.error(
                    f"unknown interface {name} specified for linkbeat interface", Severity.FATAL
                )
                continue
            kind: LinkbeatType | None = None
            if len(words) > 1:
                kind = LinkbeatType(words[1]) if words[1] in ("MII", "ETHTOOL", "IOCTL") else None
                if kind is None or len(words) > 2:
                    ctx.error(f"extra characters {words[1]} in linkbeat interface")
            self.linkbeat = [lb for lb in self.linkbeat if lb.name != name]
            self.linkbeat.append(LinkbeatInterface(name=name, type=kind))

    def up_down_delays(self, st: Statement) -> None:
        ctx = self.ctx
        for words, where in zip(st.values, st.value_locations, strict=True):
            ctx.location = where
            name = words[0]
            if not ctx.host.interface_exists(name) and not self.g.dynamic_interfaces:
                ctx.error(f"unknown interface {name} specified for up/down delay", Severity.FATAL)
                continue
            if len(words) < 2:
                ctx.note(f"No timeouts specified for {name} up/down delays")
                continue
            if len(words) > 3:
                ctx.note(f"Too many parameters for {name} up/down delays")
            down = ctx.values.read_timer(words[1], 0, 255 * TIMER_HZ, lenient=True)
            if down is None:
                ctx.note(f"Invalid down delay {words[1]} for {name}")
                continue
            up = 0
            if len(words) > 2:
                value = ctx.values.read_timer(words[2], 0, 255 * TIMER_HZ, lenient=True)
                if value is None:
                    ctx.note(f"Invalid up delay {words[2]} for {name}")
                    continue
                up = value
            self.up_down = [u for u in self.up_down if u.name != name]
            self.up_down.append(UpDownDelay(name=name, down_us=down, up_us=up))


def _cmd_str(argv: tuple[str, ...]) -> str:
    """keepalived's cmd_str: every word in single quotes (not a leading < or > word)."""
    words = [w if i == 0 and w[:1] in ("<", ">") else f"'{w}'" for i, w in enumerate(argv)]
    return " ".join(words)


def _dev_name_valid(name: str) -> bool:
    """The kernel's dev_name_valid (net/core/dev.c)."""
    if not name or len(name.encode()) >= IFNAMSIZ or name in (".", ".."):
        return False
    return not any(c in "/:" or c.isspace() for c in name)


def _parse_mac(text: str) -> list[int] | None:
    """keepalived's VMAC MAC parse: 6 octets, or 5 (the VRID is the sixth); hex and ':' only."""
    octets: list[int] = []
    p = 0
    for j in range(6):
        end = p
        while end < len(text) and text[end] != ":":
            end += 1
        if end == p or end - p > 2:
            return None
        if end == len(text) and j < 4:
            return None
        octets.append(int(text[p:end], 16))
        if j == 4 and (end == len(text) or (text[end] == ":" and end + 1 == len(text))):
            return octets
        p = end + 1
        if p >= len(text) and j < 5:
            return None
    return octets


def _ip_interface(word: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface | None:
    """keepalived's check_valid_ipaddress(word, allow_subnet=true)."""
    try:
        return ipaddress.ip_interface(word)
    except ValueError:
        return None
