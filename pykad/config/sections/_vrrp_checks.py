"""keepalived's VRRP post-parse pass (vrrp.c ``vrrp_complete_init`` and what it calls).

The order is keepalived's: a non-existent interface anywhere stops the VRRP
checks at once; then script security, ``chk_min_cfg`` for every instance,
sync groups, ``vrrp_complete_instance`` for each instance, duplicate VRIDs
and sync group tracking. A *rejected* instance (``return false`` in the C)
stops the checks there: keepalived's VRRP process exits, so later instances
are never looked at. Messages and error classes are keepalived 2.2.7's.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from pykad.config import scripts
from pykad.config.build import Builders, Context
from pykad.config.diagnostics import Location, Severity
from pykad.config.scripts import Script
from pykad.config.sections import _vrrp_addr as addr
from pykad.config.sections._vrrp_drafts import InstanceDraft, SyncGroupDraft
from pykad.config.sections._vrrp_globals import Globals
from pykad.config.sections._vrrp_model import (
    TIMER_HZ,
    AuthType,
    Ipvlan,
    State,
    SyncGroup,
    TrackProcess,
    Version,
    Vmac,
    VrrpConfig,
    VrrpInstance,
    VrrpScript,
)
from pykad.config.sections._vrrp_parse import Parser

PRIO_OWNER = 255
TIMER_CENTI_HZ = TIMER_HZ // 100
DEFAULT_MTU = 1500
ETHER_HDR, IP4_HDR, IP6_HDR, VRRP_HDR, VRRP_AUTH_LEN, AH_LEN = 14, 20, 40, 8, 8, 24
VRRP_MAX_ADDR = 255


def _as_keepalived_runs_it(host: scripts.ScriptHost, script: Script) -> Script:
    """The command as keepalived's check_script_secure rewrites it before vetting its path.

    keepalived replaces the command by its real path (keeping the file name the
    command was given by when that names the same file), so a symlinked
    directory such as ``/bin`` is not itself vetted.
    """
    command = script.argv[0] if script.argv else ""
    if not command or (command.startswith("<") and command[1:].lstrip(" \t").startswith("/")):
        return script
    found = command if "/" in command else host.search_path(command)
    real = host.realpath(found) if found else None
    if not real or real == command:
        return script
    name = command.rsplit("/", 1)[-1]
    path = real
    if real.rsplit("/", 1)[-1] != name:
        candidate = real.rsplit("/", 1)[0] + "/" + name
        if host.realpath(candidate) == real:
            path = candidate
    return Script((path, *script.argv[1:]), script.user, script.group)


def _ipaddresstos(a: addr.Address) -> str:
    """keepalived's ipaddresstos: the address, with its prefix unless a host prefix."""
    iface = a.address
    full = 32 if iface.version == 4 else 128
    return str(iface.ip) if iface.network.prefixlen == full else str(iface.with_prefixlen)


class _Rejected(Exception):
    """keepalived's vrrp_complete_init returned false: no further VRRP checks."""


@dataclass
class Checker:
    ctx: Context
    builders: Builders
    g: Globals
    p: Parser

    def run(self) -> VrrpConfig:
        done: list[VrrpInstance] = []
        groups: list[SyncGroup] = []
        with contextlib.suppress(_Rejected):
            self._complete(done, groups)
        self.ctx.subject = None
        return VrrpConfig(
            instances=tuple(done),
            sync_groups=tuple(groups),
            scripts=tuple(self._scripts()),
            track_processes=tuple(self._processes()),
            track_groups=tuple(self.p.track_groups),
            garp_groups=tuple(self._garp_groups()),
            linkbeat_interfaces=tuple(self.p.linkbeat),
            up_down_delays=tuple(self.p.up_down),
        )

    def _complete(self, done: list[VrrpInstance], groups: list[SyncGroup]) -> None:
        ctx, p = self.ctx, self.p
        if addr.report_missing_interface(ctx) or p.nonexistent_interface:
            raise _Rejected
        self._script_security()
        for d in p.instances:
            ctx.subject = d.location
            if d.vrid == 0:
                ctx.after_parse(f"({d.name}) the virtual router id must be set")
                raise _Rejected
            if d.interface is None:
                ctx.after_parse(f"({d.name}) Unknown interface!")
                raise _Rejected
        live_groups: list[SyncGroupDraft] = []
        for sg in p.sync_groups:
            ctx.subject = sg.location
            if sg.members is None:
                ctx.after_parse(f"Sync group {sg.name} has no virtual router(s). removing")
                continue
            if self._set_group(sg):
                live_groups.append(sg)
        reuse = p.reuse
        for d in p.instances:
            taken = reuse.instance(d) if reuse is not None else None
            if taken is not None:
                done.append(taken)
                continue
            findings = len(ctx.diagnostics.items)
            done.append(self._complete_instance(d))
            if reuse is not None:
                reuse.completed(d, done[-1], findings)
        self._vrid_conflicts(done)
        groups.extend(self._group_tracking(live_groups, done))

    # --- scripts -------------------------------------------------------------------

    def _ids(self, script: Script) -> tuple[int, int] | None:
        ids = self.g.script_ids or (0, 0)
        if script.user is not None:
            found = self.ctx.host.user_ids(script.user)
            if found is None:
                return None
            ids = found
            if script.group is not None:
                gid = self.ctx.host.group_id(script.group)
                ids = (ids[0], gid if gid is not None else ids[1])
        return ids

    def _check(self, host: scripts.ScriptHost, script: Script) -> scripts.Flag:
        ids = self._ids(script)
        if ids is None:
            return scripts.Flag.NONE
        script = _as_keepalived_runs_it(host, script)
        return scripts.check_script(host, script, ids[0], ids[1], self.g.script_security)

    def _script_security(self) -> None:
        """keepalived's check_vrrp_script_security (only when there are instances)."""
        host = self.ctx.script_host
        if host is None or not self.p.instances:
            return
        err, flags, Flag = self.ctx.after_parse, scripts.Flag.NONE, scripts.Flag
        insecure: set[str] = set()
        first: Location | None = None  # the SECURITY VIOLATION is reported at the first script
        for s in self.p.scripts:
            self.ctx.subject = s.location
            found = self._check(host, Script(s.argv, s.user, s.group))
            if found & Flag.ISSCRIPT and first is None:
                first = s.location
            flags |= found
            if found & Flag.INHIBIT:
                err(f"Disabling track script {s.name} due to insecure")
                insecure.add(s.name)
            elif found & Flag.NOTFOUND:
                err(f"Disabling track script {s.name} since not found/accessible")
                insecure.add(s.name)
            elif not found & (Flag.EXECUTABLE | Flag.SYSTEM):
                insecure.add(s.name)
        owners: list[InstanceDraft | SyncGroupDraft] = [*self.p.instances, *self.p.sync_groups]
        for owner in owners:
            for keyword, script in list(owner.notify.items()):
                found = self._check(host, script)
                if found & Flag.ISSCRIPT and first is None:
                    first = owner.location
                flags |= found
                if found & (Flag.INHIBIT | Flag.NOTFOUND) or not found & Flag.EXECUTABLE:
                    del owner.notify[keyword]
            owner.track_scripts[:] = [t for t in owner.track_scripts if t.name not in insecure]
        for script in self.g.fifo_scripts:
            found = self._check(host, script)
            if found & Flag.ISSCRIPT and first is None:
                first = script.location
            flags |= found
        if not self.g.script_security and flags & Flag.ISSCRIPT:
            more = " There are insecure scripts." if flags & Flag.INSECURE else ""
            err(
                "SECURITY VIOLATION - scripts are being executed but script_security not "
                f"enabled.{more}",
                Severity.SECURITY_ERROR,
                first,
            )

    # --- sync groups -------------------------------------------------------------------

    def _set_group(self, sg: SyncGroupDraft) -> bool:
        """keepalived's vrrp_sync_set_group."""
        ctx = self.ctx
        ctx.subject = sg.location
        for name in sg.members or ():
            d = next((i for i in self.p.instances if i.name == name), None)
            if d is None:
                ctx.after_parse(
                    f"Virtual router {name} specified in sync group {sg.name} doesn't exist - "
                    "ignoring"
                )
                continue
            if d.sync is not None:
                ctx.after_parse(
                    f"Virtual router {name} cannot exist in more than one sync group; "
                    f"ignoring {sg.name}"
                )
                continue
            sg.instances.append(d)
            d.sync = sg
            if sg.state is State.MASTER and d.wantstate is State.BACKUP:
                ctx.after_parse(
                    f"Sync group {sg.name} has some member(s) as address owner and some not as "
                    "address owner. This won't work."
                )
            if sg.state is not State.BACKUP:
                owner = d.wantstate is State.MASTER and d.priority == PRIO_OWNER
                sg.state = State.MASTER if owner else State.BACKUP
        if not sg.instances:
            ctx.after_parse(
                f"Sync group {sg.name}, no matching virtual router found in group declaration - "
                "removing"
            )
            return False
        if len(sg.instances) == 1:
            ctx.after_parse(
                f"Sync group {sg.name} has only 1 virtual router(s) - this probably isn't what "
                "you want"
            )
        return True

    def _group_tracking(
        self, live: list[SyncGroupDraft], done: list[VrrpInstance]
    ) -> list[SyncGroup]:
        """keepalived's sync_group_tracking_init (weights vs address owners) and defaults."""
        ctx, g = self.ctx, self.g
        out: list[SyncGroup] = []
        for sg in live:
            ctx.subject = sg.location
            owner = any(d.priority == PRIO_OWNER for d in sg.instances) or any(
                i.priority == PRIO_OWNER for i in done if i.name in [d.name for d in sg.instances]
            )
            lists = (
                (sg.track_scripts, "script", "clearing weight"),
                (sg.track_files, "file", "setting weight 0"),
                (sg.track_processes, "process", "setting weight 0"),
                (sg.track_bfds, "bfd", "setting weight 0"),
                (sg.track_ifs, "interface", "clearing weight"),
            )
            for tracked, what, action in lists:
                for i, t in enumerate(tracked):
                    if owner and t.weight:
                        ctx.after_parse(
                            f"({sg.name}) Cannot have weighted track {what} '{t.name}' with "
                            f"member having priority {PRIO_OWNER} - {action}"
                        )
                        tracked[i] = replace(t, weight=0)
            smtp = sg.smtp_alert
            if smtp is None:
                smtp = next((v for v in (g.smtp_alert_vrrp, g.smtp_alert) if v is not None), False)
            out.append(
                SyncGroup(
                    name=sg.name,
                    members=tuple(d.name for d in sg.instances),
                    track_interfaces=tuple(sg.track_ifs),
                    track_scripts=tuple(sg.track_scripts),
                    track_files=tuple(sg.track_files),
                    track_processes=tuple(sg.track_processes),
                    track_bfds=tuple(sg.track_bfds),
                    notify_backup=sg.notify.get("notify_backup"),
                    notify_master=sg.notify.get("notify_master"),
                    notify_fault=sg.notify.get("notify_fault"),
                    notify_stop=sg.notify.get("notify_stop"),
                    notify=sg.notify.get("notify"),
                    smtp_alert=smtp,
                    sync_group_tracking_weight=sg.tracking_weight,
                    notify_priority_changes=sg.notify_priority_changes,
                )
            )
        return out

    # --- one instance --------------------------------------------------------------------

    def _complete_instance(self, d: InstanceDraft) -> VrrpInstance:
        """keepalived's vrrp_complete_instance; raises _Rejected where it returns false."""
        err, g, n = self.ctx.after_parse, self.g, d.name
        self.ctx.subject = d.location
        strict = d.strict_mode if d.strict_mode is not None else g.vrrp_strict
        if d.family == 6:
            if d.version == 2 and strict:
                err(f"({n}) cannot use IPv6 with VRRP version 2; setting version 3")
                d.version = 3
            elif not d.version:
                d.version = 3
        if d.family == 0:
            d.family = 4
        if d.version == 0:
            d.version = 3 if d.family == 6 else g.vrrp_version
        if d.family == 4 and d.ttl == -1:
            d.ttl = 255
        if not d.vips:
            if d.version == 3 or strict:
                err(f"({n}) No VIP specified; at least one is required")
                raise _Rejected
            err(f"({n}) No VIP specified; at least one is sensible")
        if d.priority == 0:
            d.priority = PRIO_OWNER if d.wantstate is State.MASTER else 100
        if d.wantstate is None:
            d.wantstate = State.MASTER if d.priority == PRIO_OWNER else State.BACKUP
        elif strict and (d.wantstate is State.MASTER) != (d.priority == PRIO_OWNER):
            err(f"({n}) State MASTER must match being address owner")
            d.wantstate = State.MASTER if d.priority == PRIO_OWNER else State.BACKUP
        if d.auth_type is not None:
            if strict:
                err(f"({n}) Strict mode does not support authentication. Ignoring.")
                d.auth_type = None
            elif d.version == 3:
                err(f"({n}) VRRP version 3 does not support authentication. Ignoring.")
                d.auth_type = None
            elif not d.auth_pass:
                err(f"({n}) Authentication specified but no password given. Ignoring")
                d.auth_type = None
            elif d.family == 6 and d.auth_type is AuthType.AH:
                err(f"({n}) Cannot use AH authentication with IPv6. ignoring")
                d.auth_type = None
            elif (
                d.auth_type is AuthType.AH
                and d.wantstate is State.MASTER
                and d.priority != PRIO_OWNER
            ):
                err(f"({n}) Initial state master is incompatible with AH authentication - clearing")
                d.wantstate = State.BACKUP
        if d.interface is None:
            if not d.saddr_from_config:
                err(f"({n}): Unicast instances must have unicast_src_ip or interface")
                raise _Rejected
            if d.family == 6 and isinstance(d.saddr, IPv6Address) and d.saddr.is_link_local:
                err(f"({n}) Non link-local address required if interface omitted")
                raise _Rejected
        if d.unicast_configured and not d.peers:
            if d.unicast_fault_no_peer:
                self.ctx.note(f"({n}) Cannot use unicast without any peers - going to fault state")
            else:
                err(
                    f"({n}) A unicast keyword has been specified without any unicast peers. "
                    "Defaulting to multicast. This usage is deprecated - please update your "
                    "configuration.",
                    Severity.DEPRECATED,
                )
        unicast = d.unicast
        if strict and d.use_vmac and d.vmac_mac is not None:
            err(f"({n}): cannot specify MAC address with strict mode - clearing")
            d.vmac_mac = None
        if d.family == 6 and not unicast and d.vips:
            first = addr.address_ip(d.vips[0])
            if not (isinstance(first, IPv6Address) and first.is_link_local):
                if strict:
                    err(f"({n}) the first IPv6 VIP address must be link local")
                else:
                    self.ctx.note(f"({n}) the first IPv6 VIP address should be link local")
        if d.vrf is not None and (d.interface is not None or not unicast):
            what = "out interface" if d.interface is not None else " unicast"
            err(f"({n}) vrf can only be specified with{what} - clearing")
            d.vrf = None
        self._vip_space(d)
        if d.priority == PRIO_OWNER and d.nopreempt:
            err(f"({n}) nopreempt is incompatible with priority {PRIO_OWNER}. resetting nopreempt")
            d.nopreempt = False
        if d.wantstate is State.MASTER:
            if d.nopreempt:
                err(f"({n}) Warning - nopreempt will not work with initial state MASTER - clearing")
                d.nopreempt = False
            if d.preempt_delay_us:
                err(
                    f"({n}) Warning - preempt delay will not work with initial state MASTER - "
                    "clearing"
                )
                d.preempt_delay_us = 0
        if d.preempt_delay_us:
            if strict:
                err(f"({n}) preempt_delay is incompatible with strict mode - resetting")
                d.preempt_delay_us = 0
            if d.nopreempt:
                err(f"({n}) preempt_delay is incompatible with nopreempt mode - resetting")
                d.preempt_delay_us = 0
        if d.down_timer_adverts != 3 and strict:
            err(f"({n}) down_timer_adverts is incompatible with strict mode - resetting")
            d.down_timer_adverts = 3
        if d.accept is None:
            d.accept = True if d.priority == PRIO_OWNER else not strict
        if d.accept and d.priority != PRIO_OWNER and strict and d.version == 2:
            err(
                f"({n}) warning - accept mode for VRRP version 2 does not comply with RFC3768 - "
                "resetting"
            )
            d.accept = False
        mcast: IPv4Address | IPv6Address | None = d.mcast_daddr
        if not unicast and mcast is None:
            mcast = g.mcast_group4 if d.family == 4 else g.mcast_group6
        elif unicast and mcast is not None:
            err(f"({n}) multicast destination specified with unicast - ignoring")
            mcast = None
        lower_rep = g.garp_lower_prio_repeat
        lower_rep = g.garp_repeat if lower_rep is None else lower_rep
        lower_delay = g.garp_lower_prio_delay_us
        lower_delay = g.garp_delay_us if lower_delay is None else lower_delay
        if d.garp_lower_prio_rep is None:
            d.garp_lower_prio_rep = 0 if strict else lower_rep
        elif strict and d.garp_lower_prio_rep:
            err(f"({n}) Strict mode requires no repeat garps. resetting")
            d.garp_lower_prio_rep = 0
        if d.garp_lower_prio_delay_us is None:
            d.garp_lower_prio_delay_us = 0 if strict else lower_delay
        elif strict and d.garp_lower_prio_delay_us:
            err(f"({n}) Strict mode requires no repeat garp delay. resetting")
            d.garp_lower_prio_delay_us = 0
        if d.lower_prio_no_advert is None:
            d.lower_prio_no_advert = True if strict else g.lower_prio_no_advert
        elif strict and not d.lower_prio_no_advert:
            err(f"({n}) Strict mode requires no lower priority advert. resetting")
            d.lower_prio_no_advert = True
        if d.higher_prio_send_advert is None:
            d.higher_prio_send_advert = False if strict else g.higher_prio_send_advert
        elif strict and d.higher_prio_send_advert:
            err(f"({n}) strict mode requires higher_prio_send_advert to be clear. resetting")
            d.higher_prio_send_advert = False
        if d.smtp_alert is None:
            d.smtp_alert = next(
                (v for v in (g.smtp_alert_vrrp, g.smtp_alert) if v is not None), False
            )
        if d.notify_priority_changes is None:
            if d.sync is not None and d.sync.notify_priority_changes is not None:
                d.notify_priority_changes = d.sync.notify_priority_changes
            else:
                d.notify_priority_changes = g.notify_priority_changes
        self._advert_int(d)
        if not d.saddr_from_config:
            d.track_saddr = False
        self._vmac(d, strict)
        if d.interface is not None:
            own = [t for t in d.track_ifs if t.name == d.interface]
            for t in own:
                err(f"({n}) Ignoring track_interface {t.name} since own interface")
                d.track_ifs.remove(t)
        if d.vmac_xmit_base and not d.use_vmac:
            err(f"({n}) vmac_xmit_base is only valid with a vmac")
            d.vmac_xmit_base = False
        self._vip_vmacs(d)
        self._garp_extra_if(d)
        if not d.vips:
            if d.version == 3 or d.family == 6 or strict:
                err(f"({n}) No VIP specified; at least one is required")
                raise _Rejected
            err(f"({n}) No VIP specified; at least one is sensible", Severity.WARNING)
        self._weights(d)
        return self._instance(d, strict, mcast)

    def _vip_space(self, d: InstanceDraft) -> None:
        mtu_of = getattr(self.ctx.host, "interface_mtu", None)
        mtu = DEFAULT_MTU
        if d.interface is not None and callable(mtu_of):
            mtu = int(mtu_of(d.interface) or DEFAULT_MTU)
        if d.family == 4:
            hdr = ETHER_HDR + IP4_HDR + VRRP_HDR
            if d.version == 2:
                hdr += VRRP_AUTH_LEN + (AH_LEN if d.auth_type is AuthType.AH else 0)
            max_addr = (mtu - hdr) // 4
        else:
            max_addr = (mtu - (ETHER_HDR + IP6_HDR + VRRP_HDR)) // 16
        max_addr = min(max_addr, VRRP_MAX_ADDR)
        if d.vips and len(d.vips) > max_addr:
            self.ctx.after_parse(
                f"({d.name}) Number of VIPs ({len(d.vips)}) exceeds maximum/space available in "
                f"packet (max {max_addr} addresses) - excess moved to eVIPs"
            )
            d.evips[:0] = []
            d.evips.extend(d.vips[max_addr:])
            del d.vips[max_addr:]

    def _advert_int(self, d: InstanceDraft) -> None:
        err, n = self.ctx.after_parse, d.name
        if not d.adver_int_us:
            d.adver_int_us = TIMER_HZ
        adv = d.adver_int_us
        if d.version == 2:
            if adv >= 256 * TIMER_HZ:
                err(
                    f"({n}) VRRPv2 advertisement interval {adv / TIMER_HZ:.2f}s is out of range. "
                    "Must be less than 256s. Setting to 255s"
                )
                d.adver_int_us = 255 * TIMER_HZ
            elif adv % TIMER_HZ:
                err(
                    f"({n}) VRRPv2 advertisement interval {adv / TIMER_HZ:f}s must be an "
                    "integer. rounding"
                )
                adv += TIMER_HZ // 2
                adv -= adv % TIMER_HZ
                d.adver_int_us = adv or TIMER_HZ
        else:
            if adv >= 4096 * TIMER_CENTI_HZ:
                err(
                    f"({n}) VRRPv3 advertisement interval {adv / TIMER_HZ:.2f}s is out of range. "
                    "Must be less than 40.96s. Setting to 40.95s"
                )
                d.adver_int_us = 4095 * TIMER_CENTI_HZ
            elif adv % TIMER_CENTI_HZ:
                err(
                    f"({n}) VRRPv3 advertisement interval {adv / TIMER_HZ:f}s must be in units of "
                    "10ms - rounding"
                )
                adv += TIMER_CENTI_HZ // 2
                adv -= adv % TIMER_CENTI_HZ
                d.adver_int_us = adv or TIMER_CENTI_HZ

    def _vmac(self, d: InstanceDraft, strict: bool) -> None:
        err, n = self.ctx.after_parse, d.name
        if d.use_vmac or d.use_ipvlan:
            if d.use_vmac and strict and d.vmac_xmit_base:
                err(f"({n}) xmit_base is incompatible with strict mode - resetting")
                d.vmac_xmit_base = False
            if d.promote_secondaries:
                err(f"({n}) promote_secondaries is automatically set for vmacs - ignoring")
                d.promote_secondaries = False
        if d.use_ipvlan:
            address: Any = d.ipvlan_address
            if d.family == 4 and address is None:
                err(
                    f"({n}) IPv4 ipvlan requires a source ip address to be configured. setting "
                    "instance to fault state"
                )
            elif address is not None and address.version != d.family:
                err(
                    f"({n}) IPv4 ipvlan address family does not match instance. setting "
                    "instance to fault state"
                )

    def _vip_vmacs(self, d: InstanceDraft) -> None:
        """VIPs/eVIPs with ``use_vmac`` against the instance's own VMAC settings."""
        for a in [*d.vips, *d.evips]:
            if not a.use_vmac:
                continue
            text = _ipaddresstos(a)
            same_family = a.address.version == d.family
            if (a.dev is None or a.dev == d.interface) and d.use_vmac and same_family:
                self.ctx.after_parse(
                    f"({d.name}) use_vmac specified for VIP/eVIP {text} and vrrp instance"
                )
            elif ((a.dev is not None and a.dev != d.interface) or not same_family) and (
                d.use_vmac_addr
            ):
                self.ctx.after_parse(
                    f"({d.name}) use_vmac_addr specified and use_vmac specified for VIP/eVIP {text}"
                )

    def _garp_extra_if(self, d: InstanceDraft) -> None:
        if d.garp_extra_if_s is None:
            d.garp_extra_if_s = self.g.garp_extra_if_s
            if self.g.garp_extra_if_all:
                d.garp_extra_if_all = True
        if d.garp_extra_if_s:
            # keepalived 2.2.7 keeps it when a VIP is on another interface that is a VMAC
            # of its own (use_vmac on the VIP, use_vmac_addr), or any other one with "all"
            # (its data dump, checked: "Gratuitous ARP for each secondary VMAC").
            extra_if = any(
                d.garp_extra_if_all or a.use_vmac or d.use_vmac_addr
                for a in [*d.vips, *d.evips]
                if (dev := addr.address_dev(a)) is not None and dev != d.interface
            )
            if not extra_if:
                d.garp_extra_if_s = 0

    def _weights(self, d: InstanceDraft) -> None:
        """Sync group members without tracking weights, and address owners, ignore weights."""
        err, n = self.ctx.after_parse, d.name
        sync = d.sync is not None and not d.sync.tracking_weight
        if not (sync or d.priority == PRIO_OWNER):
            return
        why = "SYNC group" if sync else "address owner"
        why_ = "SYNC group" if sync else "address_owner"
        for t in list(d.track_ifs):
            if t.weight:
                weight = "weight " if sync else ""
                err(f"({n}) ignoring {t.name} tracked interface {weight}due to {why}")
                i = d.track_ifs.index(t)
                if sync:
                    d.track_ifs[i] = replace(t, weight=0)
                else:
                    del d.track_ifs[i]
        for t in list(d.track_scripts):
            if t.weight:
                err(f"({n}) ignoring tracked script {t.name} with weights due to {why_}")
                d.track_scripts.remove(t)
        for t in list(d.track_files):
            if t.weight == 1:
                err(
                    f"({n}) ignoring weight from tracked file {t.name} due to {why_}. "
                    "specify weight 0"
                )
                d.track_files[d.track_files.index(t)] = replace(t, weight=0)
            elif t.weight:
                err(f"({n}) ignoring tracked file {t.name} with weight {t.weight} due to {why_}")
                d.track_files.remove(t)
        for t in list(d.track_bfds):
            if t.weight:
                err(f"({n}) ignoring tracked bfd {t.name} with weight {t.weight} due to {why_}")
                d.track_bfds.remove(t)

    def _instance(
        self, d: InstanceDraft, strict: bool, mcast: IPv4Address | IPv6Address | None
    ) -> VrrpInstance:
        assert d.interface is not None or d.saddr_from_config
        assert d.wantstate is not None and d.accept is not None
        assert d.garp_lower_prio_rep is not None and d.garp_lower_prio_delay_us is not None
        assert d.lower_prio_no_advert is not None and d.higher_prio_send_advert is not None
        assert d.smtp_alert is not None and d.notify_priority_changes is not None
        assert d.garp_extra_if_s is not None
        return VrrpInstance(
            name=d.name,
            vrid=d.vrid,
            interface=d.interface,
            vrf=d.vrf,
            family=d.family,
            version=Version(d.version),
            state=d.wantstate,
            priority=d.priority,
            advert_int_us=d.adver_int_us,
            virtual_ipaddresses=tuple(d.vips),
            virtual_ipaddresses_excluded=tuple(d.evips),
            virtual_routes=tuple(d.vroutes),
            virtual_rules=tuple(d.vrules),
            unicast_peers=tuple(d.peers),
            source_address=d.saddr,
            unicast_src_keyword=d.unicast_src_keyword,
            mcast_dst_ip=mcast,
            unicast_ttl=None if d.ttl == -1 else d.ttl,
            unicast_fault_no_peer=d.unicast_fault_no_peer,
            check_unicast_src=d.check_unicast_src,
            old_unicast_checksum=d.chksum_compat,
            track_src_ip=d.track_saddr,
            vmac=Vmac(ifname=d.vmac_ifname, mac=d.vmac_mac) if d.use_vmac else None,
            use_vmac_addr=d.use_vmac_addr,
            vmac_xmit_base=d.vmac_xmit_base,
            ipvlan=(
                Ipvlan(ifname=d.ipvlan_ifname, address=d.ipvlan_address, type=d.ipvlan_type)  # type: ignore[arg-type]
                if d.use_ipvlan
                else None
            ),
            dont_track_primary=d.dont_track_primary,
            track_interfaces=tuple(d.track_ifs),
            track_scripts=tuple(d.track_scripts),
            track_files=tuple(d.track_files),
            track_processes=tuple(d.track_processes),
            track_bfds=tuple(d.track_bfds),
            accept=d.accept,
            nopreempt=d.nopreempt,
            preempt_delay_us=d.preempt_delay_us,
            strict_mode=strict,
            skip_check_adv_addr=d.skip_check_adv_addr,
            bfd_takeover=d.bfd_takeover,
            debug=d.debug,
            promote_secondaries=d.promote_secondaries,
            linkbeat_use_polling=d.linkbeat_use_polling,
            notify_backup=d.notify.get("notify_backup"),
            notify_master=d.notify.get("notify_master"),
            notify_fault=d.notify.get("notify_fault"),
            notify_stop=d.notify.get("notify_stop"),
            notify_deleted=d.notify_deleted,
            notify_deleted_script=d.notify.get("notify_deleted"),
            notify=d.notify.get("notify"),
            notify_master_rx_lower_pri=d.notify.get("notify_master_rx_lower_pri"),
            smtp_alert=d.smtp_alert,
            notify_priority_changes=d.notify_priority_changes,
            lvs_sync_daemon_interface=d.lvs_sync_daemon_interface,
            garp_master_delay_us=d.garp_delay_us,
            garp_master_refresh_us=d.garp_refresh_us,
            garp_master_repeat=d.garp_rep,
            garp_master_refresh_repeat=d.garp_refresh_rep,
            garp_lower_prio_delay_us=d.garp_lower_prio_delay_us,
            garp_lower_prio_repeat=d.garp_lower_prio_rep,
            down_timer_adverts=d.down_timer_adverts,
            garp_extra_if_s=d.garp_extra_if_s,
            garp_extra_if_all=d.garp_extra_if_all,
            lower_prio_no_advert=d.lower_prio_no_advert,
            higher_prio_send_advert=d.higher_prio_send_advert,
            kernel_rx_buf_size=d.kernel_rx_buf_size,
            auth_type=d.auth_type,
            auth_pass=d.auth_pass if d.auth_type is not None else None,
            v3_checksum_as_v2=d.v3_checksum_as_v2,
            no_virtual_ipaddress=d.no_virtual_ipaddress,
            owner_ignore_adverts=d.owner_ignore_adverts,
            timer_expired_backup=d.timer_expired_backup,
            auth_hmac=d.auth_hmac,
        )

    # --- duplicate VRIDs ------------------------------------------------------------------

    def _local_address(self, i: VrrpInstance) -> IPv4Address | IPv6Address | None:
        if i.source_address is not None:
            return i.source_address
        probe = getattr(self.ctx.host, "interface_addresses", None)
        if i.interface is None or not callable(probe):
            return None
        for a in probe(i.interface) or ():
            if a.version == i.family and not (a.version == 6 and not a.is_link_local):
                return a  # type: ignore[no-any-return]
        return None

    def _vrid_conflicts(self, done: list[VrrpInstance]) -> None:
        """keepalived's check_vrid_conflicts."""
        had_error = False
        present = {d.name: d.interface_present for d in self.p.instances}
        where = {d.name: d.location for d in self.p.instances}
        # Only instances of one family, VRID and transport can conflict: compare within
        # those buckets (in file order), not every pair.
        buckets: dict[tuple[int, int, bool], list[int]] = {}
        for k, a in enumerate(done):
            buckets.setdefault((a.family, a.vrid, a.unicast), []).append(k)
        for k, a in enumerate(done):
            self.ctx.subject = where.get(a.name)
            for b in (done[j] for j in buckets[(a.family, a.vrid, a.unicast)] if j > k):
                if a.unicast:
                    if a.interface and b.interface and a.interface != b.interface:
                        continue
                    sa, sb = self._local_address(a), self._local_address(b)
                    if sa is None or sb is None or sa != sb:
                        continue
                    peers_a = {p.address for p in a.unicast_peers}
                    if not any(p.address in peers_a for p in b.unicast_peers):
                        continue
                    self.ctx.after_parse(
                        f"({a.name}) duplicate VRID conflict with {b.name} VRID {a.vrid}"
                    )
                    had_error = True
                    continue
                if a.interface != b.interface or a.mcast_dst_ip != b.mcast_dst_ip:
                    continue
                if present.get(a.name):
                    self.ctx.after_parse(
                        f"{a.name} and {b.name} both use VRID {a.vrid} with IPv{a.family} on "
                        f"interface {a.interface}"
                    )
                    had_error = True
        if had_error:
            raise _Rejected

    # --- the other objects ------------------------------------------------------------------

    def _scripts(self) -> list[VrrpScript]:
        return [
            VrrpScript(
                name=s.name,
                script=Script(s.argv, s.user, s.group),
                interval_us=s.interval_us,
                timeout_us=s.timeout_us,
                weight=s.weight,
                weight_reverse=s.weight_reverse,
                rise=s.rise,
                fall=s.fall,
                init_fail=s.init_fail,
            )
            for s in self.p.scripts
        ]

    def _processes(self) -> list[TrackProcess]:
        out = []
        for p in self.p.processes:
            assert p.process is not None
            out.append(
                TrackProcess(
                    name=p.name,
                    process=p.process,
                    parameters=p.parameters,
                    param_match=p.param_match,
                    weight=p.weight,
                    weight_reverse=p.weight_reverse,
                    quorum=p.quorum,
                    quorum_max=p.quorum_max,
                    terminate_delay_us=p.terminate_delay_us,
                    fork_delay_us=p.fork_delay_us,
                    full_command=p.full_command,
                )
            )
        return out

    def _garp_groups(self) -> list[Any]:
        from pykad.config.sections._vrrp_model import GarpGroup

        return [
            GarpGroup(
                garp_interval_us=gd.garp_interval_us,
                gna_interval_us=gd.gna_interval_us,
                interfaces=tuple(gd.interfaces),
                aggregated_interfaces=tuple(gd.aggregated) if gd.aggregated else None,
            )
            for gd in self.p.garp_groups
        ]
