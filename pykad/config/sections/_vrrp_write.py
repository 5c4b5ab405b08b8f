"""The VRRP part of the model as keepalived.conf lines (every resolved value explicit)."""

from __future__ import annotations

from collections.abc import Iterator

from pykad.config.scripts import Script
from pykad.config.sections import _vrrp_addr as addr
from pykad.config.sections._vrrp_model import (
    TIMER_HZ,
    UINT_MAX,
    ChecksumCompat,
    ParamMatch,
    SyncGroup,
    Tracked,
    TrackProcess,
    VrrpConfig,
    VrrpInstance,
    VrrpScript,
)
from pykad.config.values import format_timer as _secs

I1, I2 = "    ", "        "


def _onoff(value: bool) -> str:
    return "on" if value else "off"


def _word(text: str) -> str:
    """One config word (double quotes group words with blanks)."""
    return f'"{text}"' if (not text or any(c in text for c in " \t#!")) else text


def _script(keyword: str, script: Script) -> str:
    return f"{keyword} {script.config_words()}"


def _tracked(keyword: str, items: tuple[Tracked, ...], indent: str) -> Iterator[str]:
    if not items:
        return
    yield f"{indent}{keyword} {{"
    for t in items:
        if keyword == "track_interface":
            yield f"{indent}{I1}{t.name} weight {t.weight}" + (" reverse" if t.reverse else "")
        else:
            rev = "reverse" if t.reverse else "noreverse"
            yield f"{indent}{I1}{t.name} weight {t.weight} {rev}"
    yield f"{indent}}}"


def _block(keyword: str, lines: list[str]) -> Iterator[str]:
    if lines:
        yield f"{I1}{keyword} {{"
        yield from (f"{I2}{line}" for line in lines)
        yield f"{I1}}}"


def write_script(s: VrrpScript) -> Iterator[str]:
    yield f"vrrp_script {s.name} {{"
    yield f"{I1}script {s.script.words()}"
    yield f"{I1}interval {s.interval_us // TIMER_HZ}"
    if s.timeout_us:
        yield f"{I1}timeout {s.timeout_us // TIMER_HZ}"
    yield f"{I1}weight {s.weight}" + (" reverse" if s.weight_reverse else "")
    yield f"{I1}rise {s.rise}"
    yield f"{I1}fall {s.fall}"
    if s.script.user is not None:
        yield f"{I1}user {s.script.user}" + (f" {s.script.group}" if s.script.group else "")
    if s.init_fail:
        yield f"{I1}init_fail"
    yield "}"


def write_process(p: TrackProcess) -> Iterator[str]:
    yield f"vrrp_track_process {p.name} {{"
    yield f"{I1}process " + " ".join(_word(w) for w in (p.process, *p.parameters))
    if p.param_match is ParamMatch.EXACT:
        yield f"{I1}param_match"
    elif p.param_match is not None:
        yield f"{I1}param_match {p.param_match.value}"
    if p.weight or p.weight_reverse:
        yield f"{I1}weight {p.weight}" + (" reverse" if p.weight_reverse else "")
    if p.quorum_max != UINT_MAX:
        yield f"{I1}quorum_max {p.quorum_max}"
    if p.quorum_max != 0:
        yield f"{I1}quorum {p.quorum}"
    if p.terminate_delay_us:
        yield f"{I1}terminate_delay {_secs(p.terminate_delay_us)}"
    if p.fork_delay_us:
        yield f"{I1}fork_delay {_secs(p.fork_delay_us)}"
    if p.full_command:
        yield f"{I1}full_command"
    yield "}"


def write_instance(i: VrrpInstance) -> Iterator[str]:
    yield f"vrrp_instance {i.name} {{"
    yield f"{I1}version {int(i.version)}"
    if i.family == 6 and i.version == 3:
        yield f"{I1}native_ipv6"
    if i.interface is not None:
        yield f"{I1}interface {i.interface}"
    if i.vrf is not None:
        yield f"{I1}vrf {i.vrf}"
    yield f"{I1}state {i.state.value}"
    yield f"{I1}priority {i.priority}"
    yield f"{I1}virtual_router_id {i.vrid}"
    yield f"{I1}advert_int {_secs(i.advert_int_us)}"
    yield f"{I1}strict_mode {_onoff(i.strict_mode)}"
    yield f"{I1}{'accept' if i.accept else 'no_accept'}"
    if i.nopreempt:
        yield f"{I1}nopreempt"
    if i.preempt_delay_us:
        yield f"{I1}preempt_delay {_secs(i.preempt_delay_us)}"
    if i.skip_check_adv_addr:
        yield f"{I1}skip_check_adv_addr"
    if i.bfd_takeover:
        yield f"{I1}pykad_bfd_takeover"
    if i.debug:
        yield f"{I1}debug {i.debug}"
    if i.dont_track_primary:
        yield f"{I1}dont_track_primary"
    if i.promote_secondaries:
        yield f"{I1}promote_secondaries"
    if i.linkbeat_use_polling:
        yield f"{I1}linkbeat_use_polling"
    if i.vmac is not None:
        words = [w for w in (i.vmac.ifname, i.vmac.mac) if w is not None]
        yield f"{I1}use_vmac" + "".join(f" {w}" for w in words)
    if i.use_vmac_addr:
        yield f"{I1}use_vmac_addr"
    if i.vmac_xmit_base:
        yield f"{I1}vmac_xmit_base"
    if i.ipvlan is not None:
        v = i.ipvlan
        words = [
            w
            for w in (
                v.ifname,
                None if v.address is None else str(v.address),
                None if v.type is None else v.type.value,
            )
            if w is not None
        ]
        yield f"{I1}use_ipvlan" + "".join(f" {w}" for w in words)
    yield from _block("virtual_ipaddress", [addr.format_address(a) for a in i.virtual_ipaddresses])
    yield from _block(
        "virtual_ipaddress_excluded",
        [addr.format_address(a) for a in i.virtual_ipaddresses_excluded],
    )
    yield from _block("virtual_routes", [addr.format_route(r) for r in i.virtual_routes])
    yield from _block("virtual_rules", [addr.format_rule(r) for r in i.virtual_rules])
    peers = []
    for p in i.unicast_peers:
        extra = (
            ""
            if (p.min_ttl, p.max_ttl) == (0, 255)
            else f" min_ttl {p.min_ttl} max_ttl {p.max_ttl}"
        )
        peers.append(f"{p.address}{extra}")
    yield from _block("unicast_peer", peers)
    if i.source_address is not None:
        keyword = "unicast_src_ip" if i.unicast_src_keyword else "mcast_src_ip"
        yield f"{I1}{keyword} {i.source_address}"
    if i.unicast_ttl is not None and (i.unicast_peers or i.unicast_ttl == 0):
        yield f"{I1}unicast_ttl {i.unicast_ttl}"  # 0 without peers: keepalived's reset value
    if i.unicast_fault_no_peer:
        yield f"{I1}unicast_fault_no_peer"
    if i.check_unicast_src:
        yield f"{I1}check_unicast_src"
    if i.old_unicast_checksum is ChecksumCompat.CONFIG:
        yield f"{I1}old_unicast_checksum"
    elif i.old_unicast_checksum is ChecksumCompat.NEVER:
        yield f"{I1}old_unicast_checksum never"
    if i.mcast_dst_ip is not None:
        yield f"{I1}mcast_dst_ip {i.mcast_dst_ip}"
    if i.track_src_ip:
        yield f"{I1}track_src_ip"
    yield from _tracked("track_interface", i.track_interfaces, I1)
    yield from _tracked("track_script", i.track_scripts, I1)
    yield from _tracked("track_file", i.track_files, I1)
    yield from _tracked("track_process", i.track_processes, I1)
    yield from _tracked("track_bfd", i.track_bfds, I1)
    for keyword in (
        "notify_backup",
        "notify_master",
        "notify_fault",
        "notify_stop",
        "notify",
        "notify_master_rx_lower_pri",
    ):
        script = getattr(i, keyword)
        if script is not None:
            yield I1 + _script(keyword, script)
    if i.notify_deleted_script is not None:
        yield I1 + _script("notify_deleted", i.notify_deleted_script)
    elif i.notify_deleted:
        yield f"{I1}notify_deleted"
    yield f"{I1}smtp_alert {_onoff(i.smtp_alert)}"
    yield f"{I1}notify_priority_changes {_onoff(i.notify_priority_changes)}"
    if i.lvs_sync_daemon_interface is not None:
        yield f"{I1}lvs_sync_daemon_interface {i.lvs_sync_daemon_interface}"
    yield f"{I1}garp_master_delay {i.garp_master_delay_us // TIMER_HZ}"
    yield f"{I1}garp_master_refresh {i.garp_master_refresh_us // TIMER_HZ}"
    yield f"{I1}garp_master_repeat {i.garp_master_repeat}"
    yield f"{I1}garp_master_refresh_repeat {i.garp_master_refresh_repeat}"
    yield f"{I1}garp_lower_prio_delay {i.garp_lower_prio_delay_us // TIMER_HZ}"
    yield f"{I1}garp_lower_prio_repeat {i.garp_lower_prio_repeat}"
    yield f"{I1}down_timer_adverts {i.down_timer_adverts}"
    yield f"{I1}garp_extra_if" + (" all" if i.garp_extra_if_all else "") + f" {i.garp_extra_if_s}"
    yield f"{I1}lower_prio_no_advert {_onoff(i.lower_prio_no_advert)}"
    yield f"{I1}higher_prio_send_advert {_onoff(i.higher_prio_send_advert)}"
    if i.kernel_rx_buf_size:
        yield f"{I1}kernel_rx_buf_size {i.kernel_rx_buf_size}"
    if i.auth_type is not None:
        yield f"{I1}authentication {{"
        yield f"{I2}auth_type {i.auth_type.value}"
        if i.auth_pass:
            yield f"{I2}auth_pass {_word(i.auth_pass)}"
        yield f"{I1}}}"
    if i.v3_checksum_as_v2:
        yield f"{I1}v3_checksum_as_v2"
    if i.no_virtual_ipaddress:
        yield f"{I1}no_virtual_ipaddress"
    if i.owner_ignore_adverts:
        yield f"{I1}owner_ignore_adverts"
    if i.timer_expired_backup is not None:
        yield f"{I1}timer_expired_backup" + (
            f" {i.timer_expired_backup}" if i.timer_expired_backup else ""
        )
    if i.auth_hmac is not None:
        h = i.auth_hmac
        yield f"{I1}auth_hmac {{"
        for key_id, key in h.keys:
            yield f"{I2}key {key_id} {_word(key)}"
        for name, value in (
            ("active_key", h.active_key),
            ("anti_replay", h.anti_replay),
            ("time_window", h.time_window_s),
            ("mode", h.mode),
        ):
            if value is not None:
                yield f"{I2}{name} {value}"
        yield f"{I1}}}"
    yield "}"


def write_sync_group(g: SyncGroup) -> Iterator[str]:
    yield f"vrrp_sync_group {g.name} {{"
    yield from _block("group", list(g.members))
    yield from _tracked("track_interface", g.track_interfaces, I1)
    yield from _tracked("track_script", g.track_scripts, I1)
    yield from _tracked("track_file", g.track_files, I1)
    yield from _tracked("track_process", g.track_processes, I1)
    yield from _tracked("track_bfd", g.track_bfds, I1)
    for keyword in ("notify_backup", "notify_master", "notify_fault", "notify_stop", "notify"):
        script = getattr(g, keyword)
        if script is not None:
            yield I1 + _script(keyword, script)
    yield f"{I1}smtp_alert {_onoff(g.smtp_alert)}"
    if g.sync_group_tracking_weight:
        yield f"{I1}sync_group_tracking_weight"
    if g.notify_priority_changes is not None:
        yield f"{I1}notify_priority_changes {_onoff(g.notify_priority_changes)}"
    yield "}"


def write(config: VrrpConfig) -> Iterator[str]:
    """``config`` as keepalived.conf lines: referenced objects before their users."""
    for s in config.scripts:
        yield from write_script(s)
    for p in config.track_processes:
        yield from write_process(p)
    for t in config.track_groups:
        yield f"track_group {t.name} {{"
        yield from _block("group", list(t.members))
        yield "}"
    for gg in config.garp_groups:
        yield "garp_group {"
        if gg.garp_interval_us is not None:
            yield f"{I1}garp_interval {_secs(gg.garp_interval_us)}"
        if gg.gna_interval_us is not None:
            yield f"{I1}gna_interval {_secs(gg.gna_interval_us)}"
        for name in gg.interfaces:
            yield f"{I1}interface {name}"
        if gg.aggregated_interfaces:
            yield from _block("interfaces", list(gg.aggregated_interfaces))
        yield "}"
    if config.linkbeat_interfaces:
        yield "linkbeat_interfaces {"
        for lb in config.linkbeat_interfaces:
            yield f"{I1}{lb.name}" + (f" {lb.type.value}" if lb.type is not None else "")
        yield "}"
    if config.up_down_delays:
        yield "interface_up_down_delays {"
        for u in config.up_down_delays:
            yield f"{I1}{u.name} {_secs(u.down_us)} {_secs(u.up_us)}"
        yield "}"
    for i in config.instances:
        yield from write_instance(i)
    for g in config.sync_groups:
        yield from write_sync_group(g)
