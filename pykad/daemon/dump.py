"""keepalived's VRRP dumps: the data, stats and JSON texts, from a snapshot of the service.

keepalived's VRRP child writes three files on signals (``vrrp_print.c``,
``vrrp_json.c``): ``keepalived.data`` on SIGUSR1 (the ``VRRP Topology``
section: per instance its state, priorities, timers, VIPs), ``keepalived.stats``
on SIGUSR2 (per instance counters) and ``keepalived.json`` on the JSON signal
(``--signum=JSON``: a list of ``{"data": {...}, "stats": {...}}`` objects, one
per instance, compact, with keepalived's keys and number formats).  This module
owns those texts and nothing else: :func:`snapshot` reads a running
``VrrpService`` into plain values (:class:`InstanceSnapshot`), and the
``format_*`` functions turn snapshots into text.  No I/O and no clock here: the
caller passes the wall-clock times it knows and writes the files.

What pykad cannot know yet (it keeps no such state) is left out rather than
invented: the JSON has no ``vroutes``/``vrules`` arrays (keepalived prints them
with its own route/rule formatter), and the data dump has only the parts pykad
has (the global definitions, the instances), not keepalived's sockpool and
interface sections.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from ipaddress import IPv4Interface, ip_address
from typing import TYPE_CHECKING

from pykad.config.iproute import IpAddress
from pykad.config.sections._vrrp_model import MCAST_GROUP4, MCAST_GROUP6
from pykad.daemon.dump_data import enabled, tf, yes_no

if TYPE_CHECKING:
    from pykad.config.model import Config
    from pykad.daemon.vrrp_service import Instance, VrrpService

DATA_FILE = "keepalived.data"
STATS_FILE = "keepalived.stats"
JSON_FILE = "keepalived.json"

STATE_NUMBERS = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3}
"""keepalived's ``VRRP_STATE_*`` values, as its JSON writes ``state`` and ``wantstate``."""
AUTH_NUMBERS = {None: 0, "PASS": 1, "AH": 2}
"""keepalived's ``auth_type`` values (``VRRP_AUTH_NONE``, ``_PASS``, ``_AH``)."""
AUTH_NAMES = {1: "SIMPLE_PASSWORD", 2: "IPSEC_AH"}
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
"""rt_scopes names, as keepalived's ``get_rttables_scope`` prints them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceStats:
    """keepalived's ``vrrp_stats`` for one instance (the JSON's ``stats`` keys)."""

    advert_rcvd: int = 0
    advert_sent: int = 0
    become_master: int = 0
    release_master: int = 0
    packet_len_err: int = 0
    advert_interval_err: int = 0
    ip_ttl_err: int = 0
    invalid_type_rcvd: int = 0
    addr_list_err: int = 0
    invalid_authtype: int = 0
    authtype_mismatch: int = 0
    auth_failure: int = 0
    pri_zero_rcvd: int = 0
    pri_zero_sent: int = 0

    def since(self, baseline: InstanceStats) -> InstanceStats:
        """The counts after ``baseline`` (keepalived's stats clear sets them to 0)."""
        return InstanceStats(
            **{
                f.name: max(0, getattr(self, f.name) - getattr(baseline, f.name))
                for f in fields(self)
            }
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceSnapshot:
    """What the dumps say about one ``vrrp_instance`` at one moment."""

    name: str
    version: int
    state: str
    """INIT, BACKUP, MASTER or FAULT."""
    want_state: str
    last_transition: float
    """Wall-clock seconds of the last state change (or of the start)."""
    interface: str
    vmac_ifname: str = ""
    source_ip: str | None = None
    multicast_group: str | None = None
    unicast_peers: tuple[str, ...] = ()
    vrid: int
    base_priority: int
    effective_priority: int
    master_priority: int = 0
    advert_int_us: int
    master_advert_int_us: int
    accept: bool = True
    nopreempt: bool = False
    preempt_delay_us: int = 0
    promote_secondaries: bool = False
    dont_track_primary: bool = False
    skip_check_adv_addr: bool = False
    strict_mode: bool = False
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    garp_delay_us: int = 5_000_000
    garp_refresh_us: int = 0
    garp_rep: int = 5
    garp_refresh_rep: int = 1
    garp_lower_prio_delay_us: int = 5_000_000
    garp_lower_prio_rep: int = 5
    down_timer_adverts: int = 3
    smtp_alert: bool = False
    notify_deleted: bool = False
    scripts: tuple[tuple[str, str], ...] = ()
    """(JSON key, command) for each notify script set, in keepalived's order."""
    vips: tuple[str, ...] = ()
    """keepalived's ``format_ipaddress`` of each VIP."""
    evips: tuple[str, ...] = ()
    track_ifp: tuple[str, ...] = ()
    track_script: tuple[str, ...] = ()
    track_process: tuple[str, ...] = ()
    auth_type: int = 0
    auth_data: str = ""
    vipset: bool = False
    stats: InstanceStats = InstanceStats()


# --------------------------------------------------------------------------- formats


def format_address(a: IpAddress, default_dev: str, *, is_set: bool) -> str:
    """keepalived's ``format_ipaddress`` (vrrp_ipaddress.c) for one configured address."""
    out = f"{a.address.ip}/{a.address.network.prefixlen}"
    if isinstance(a.address, IPv4Interface) and a.broadcast is not None:
        out += f" brd {a.broadcast}"
    out += f" dev {a.dev or default_dev} scope {SCOPES.get(a.scope, str(a.scope))}"
    if a.label is not None:
        out += f" label {a.label}"
    if a.peer is not None:
        out += f" peer {a.peer}/{a.address.network.prefixlen}"
    for flag, word in (
        (a.home, "home"),
        (a.nodad, "-nodad"),
        (a.mngtmpaddr, "mngtmpaddr"),
        (a.noprefixroute, "noprefixroute"),
        (a.autojoin, "autojoin"),
        (a.no_track, "no_track"),
    ):
        if flag:
            out += f" {word}"
    if a.track_group is not None:
        out += f" track_group {a.track_group}"
    if is_set:
        out += " set"
    return out


def _g(value: float) -> str:
    """C's ``%g`` (json_writer's ``jsonw_float_field``)."""
    return f"{value:g}"


def _timeval(t: float) -> str:
    """keepalived's ``%ld.%6.6ld (%a %b %e %H:%M:%S.%6.6ld %Y)`` of a wall-clock time."""
    d = datetime.datetime.fromtimestamp(t)
    local = d.strftime("%a %b ") + f"{d.day:2d} " + d.strftime("%H:%M:%S")
    return f"{t:.6f} ({local}.{d.microsecond:06d} {d.year})"


def _interval(us: int) -> str:
    """keepalived's ``Advert interval`` text."""
    if us % 1_000_000 == 0:
        return f"{us // 1_000_000} sec"
    return f"{us // 1000} milli-sec"


def format_data(instances: Sequence[InstanceSnapshot], *, global_lines: Sequence[str]) -> str:
    """The ``keepalived.data`` text: the global definitions
    (``pykad.daemon.dump_data.format_global``), then keepalived's headings and layout
    for what pykad has of its instances."""
    lines = [*global_lines, "------< VRRP Topology >------"]
    for s in instances:
        lines += [
            f" VRRP Instance = {s.name}",
            f"   VRRP Version = {s.version}",
            f"   State = {s.state}",
            f"   Wantstate = {s.want_state}",
            f"   Last transition = {_timeval(s.last_transition)}",
            f"   Interface = {s.interface}",
        ]
        if s.vmac_ifname:
            lines.append(f"   Use VMAC, i/f {s.vmac_ifname}")
        if s.source_ip is not None:
            lines.append(f"   Using src_ip = {s.source_ip}")
        if s.unicast_peers:
            lines.append(f"   Unicast Peer = {len(s.unicast_peers)}")
            lines += [f"     {peer}" for peer in s.unicast_peers]
        elif s.multicast_group is not None:
            lines.append(f"   Multicast address {s.multicast_group}")
        lines += [
            f"   Gratuitous ARP delay = {s.garp_delay_us // 1_000_000}",
            f"   Gratuitous ARP repeat = {s.garp_rep}",
            f"   Gratuitous ARP refresh = {s.garp_refresh_us // 1_000_000}",
            f"   Gratuitous ARP refresh repeat = {s.garp_refresh_rep}",
            f"   Gratuitous ARP lower priority delay = {s.garp_lower_prio_delay_us // 1_000_000}",
            f"   Gratuitous ARP lower priority repeat = {s.garp_lower_prio_rep}",
            f"   Down timer adverts = {s.down_timer_adverts}",
            "   Send advert after receive lower priority advert = "
            f"{tf(not s.lower_prio_no_advert)}",
            "   Send advert after receive higher priority advert = "
            f"{tf(s.higher_prio_send_advert)}",
            f"   Virtual Router ID = {s.vrid}",
            f"   Priority = {s.base_priority}",
            f"   Effective priority = {s.effective_priority}",
            f"   Total priority = {s.effective_priority}",
            f"   Advert interval = {_interval(s.advert_int_us)}",
        ]
        if s.state == "BACKUP" and s.master_priority:
            lines.append(f"   Master priority = {s.master_priority}")
        lines += [
            f"   Accept = {enabled(s.accept)}",
            f"   Preempt = {enabled(not s.nopreempt)}",
        ]
        if s.preempt_delay_us:
            lines.append(f"   Preempt delay = {s.preempt_delay_us / 1_000_000:g} secs")
        lines.append(f"   Promote_secondaries = {enabled(s.promote_secondaries)}")
        if s.auth_type:
            lines.append(f"   Authentication type = {AUTH_NAMES.get(s.auth_type, '?')}")
            if s.auth_type == 1:
                lines.append(f"   Password = {s.auth_data}")
        if s.track_ifp:
            lines.append("   Tracked interfaces :")
            lines += [f"     {name}" for name in s.track_ifp]
        if s.track_script:
            lines.append("   Tracked scripts :")
            lines += [f"     {name}" for name in s.track_script]
        lines.append(f"   Virtual IP ({len(s.vips)}):")
        lines += [f"     {vip}" for vip in s.vips]
        if s.evips:
            lines.append(f"   Virtual IP Excluded ({len(s.evips)}):")
            lines += [f"     {vip}" for vip in s.evips]
        lines.append(f"   Using smtp notification = {yes_no(s.smtp_alert)}")
        lines += [f"   {key} = {cmd}" for key, cmd in s.scripts]
    return "\n".join(lines) + "\n"


STATS_LAYOUT: tuple[tuple[str, str | None], ...] = (
    ("  Advertisements:", None),
    ("    Received", "advert_rcvd"),
    ("    Sent", "advert_sent"),
    ("  Became master", "become_master"),
    ("  Released master", "release_master"),
    ("  Packet Errors:", None),
    ("    Length", "packet_len_err"),
    ("    TTL", "ip_ttl_err"),
    ("    Invalid Type", "invalid_type_rcvd"),
    ("    Advertisement Interval", "advert_interval_err"),
    ("    Address List", "addr_list_err"),
    ("  Authentication Errors:", None),
    ("    Invalid Type", "invalid_authtype"),
    ("    Type Mismatch", "authtype_mismatch"),
    ("    Failure", "auth_failure"),
    ("  Priority Zero:", None),
    ("    Received", "pri_zero_rcvd"),
    ("    Sent", "pri_zero_sent"),
)
"""keepalived's ``vrrp_print_stats`` lines: a heading, or a label and its counter."""


def format_stats(instances: Sequence[InstanceSnapshot]) -> str:
    """The ``keepalived.stats`` text, byte for byte keepalived 2.2.7's layout."""
    lines = []
    for s in instances:
        lines.append(f"VRRP Instance: {s.name}")
        for label, key in STATS_LAYOUT:
            lines.append(label if key is None else f"{label}: {getattr(s.stats, key)}")
    return "".join(line + "\n" for line in lines)


class _Raw(str):
    """A number already formatted as keepalived's json_writer prints it."""


def _json_value(v: object) -> str:
    if isinstance(v, _Raw):
        return str(v)
    if isinstance(v, list):
        return "[" + ",".join(_json_value(x) for x in v) + "]"
    if isinstance(v, str):  # keepalived's json_writer escapes "/" too
        return json.dumps(v, ensure_ascii=False).replace("/", "\\/")
    return json.dumps(v)


def _object(items: Iterable[tuple[str, object]]) -> str:
    return "{" + ",".join(f"{_json_value(k)}:{_json_value(v)}" for k, v in items) + "}"


def json_data_items(s: InstanceSnapshot) -> list[tuple[str, object]]:
    """The ``data`` object of one instance, in ``vrrp_json_data_dump``'s order and types."""
    items: list[tuple[str, object]] = [
        ("iname", s.name),
        ("dont_track_primary", int(s.dont_track_primary)),
        ("skip_check_adv_addr", int(s.skip_check_adv_addr)),
        ("strict_mode", int(s.strict_mode)),
        ("vmac_ifname", s.vmac_ifname),
        ("ifp_ifname", s.interface),
        ("master_priority", s.master_priority),
        ("last_transition", _Raw(f"{s.last_transition:f}")),
        ("garp_delay", _Raw(_g(s.garp_delay_us / 1_000_000))),
        ("garp_refresh", s.garp_refresh_us // 1_000_000),
        ("garp_rep", s.garp_rep),
        ("garp_refresh_rep", s.garp_refresh_rep),
        ("garp_lower_prio_delay", s.garp_lower_prio_delay_us // 1_000_000),
        ("garp_lower_prio_rep", s.garp_lower_prio_rep),
        ("lower_prio_no_advert", int(s.lower_prio_no_advert)),
        ("higher_prio_send_advert", int(s.higher_prio_send_advert)),
        ("vrid", s.vrid),
        ("base_priority", s.base_priority),
        ("effective_priority", s.effective_priority),
        ("vipset", s.vipset),
        ("promote_secondaries", s.promote_secondaries),
        ("adver_int", _Raw(_g(s.advert_int_us / 1_000_000))),
        ("master_adver_int", _Raw(_g(s.master_advert_int_us / 1_000_000))),
        ("accept", int(s.accept)),
        ("nopreempt", s.nopreempt),
        ("preempt_delay", s.preempt_delay_us // 1_000_000),
        ("state", STATE_NUMBERS[s.state]),
        ("wantstate", STATE_NUMBERS[s.want_state]),
        ("version", s.version),
        ("smtp_alert", s.smtp_alert),
        ("notify_deleted", s.notify_deleted),
    ]
    items += list(s.scripts)
    for key, values in (
        ("vips", s.vips),
        ("evips", s.evips),
        ("track_ifp", s.track_ifp),
        ("track_script", s.track_script),
        ("track_process", s.track_process),
    ):
        if values:  # keepalived leaves an empty list out
            items.append((key, list(values)))
    items.append(("auth_type", s.auth_type))
    if s.auth_type:
        items.append(("auth_data", s.auth_data))
    return items


def format_json(instances: Sequence[InstanceSnapshot]) -> str:
    """The ``keepalived.json`` text (keepalived 2.2.7's version 1 layout: a list)."""
    objects = []
    for s in instances:
        stats = [(f.name, getattr(s.stats, f.name)) for f in fields(s.stats)]
        objects.append(
            _object([("data", _Raw(_object(json_data_items(s)))), ("stats", _Raw(_object(stats)))])
        )
    return "[" + ",".join(objects) + "]\n"


# --------------------------------------------------------------------------- snapshots

_SCRIPTS = (
    ("script_backup", "notify_backup"),
    ("script_master", "notify_master"),
    ("script_fault", "notify_fault"),
    ("script_stop", "notify_stop"),
    ("script_deleted", "notify_deleted_script"),
    ("script", "notify"),
    ("script_master_rx_lower_pri", "notify_master_rx_lower_pri"),
)
"""The JSON key of each notify script and the ``VrrpInstance`` field holding it."""

_DROPS = {
    "malformed": "packet_len_err",
    "ttl": "ip_ttl_err",
    "interval_mismatch": "advert_interval_err",
    "address_count": "addr_list_err",
    "address_list": "addr_list_err",
    "invalid_auth_type": "invalid_authtype",
    "auth_type_mismatch": "authtype_mismatch",
    "auth_failure": "auth_failure",
}
"""The router's drop counters (``pykad.vrrp.validate.Drop``) that keepalived counts too."""


def _group(configured: object, family: int) -> str:
    """The multicast group adverts go to (the protocol's when none is configured)."""
    if configured is not None:
        return str(configured)
    return str(MCAST_GROUP4 if family == 4 else MCAST_GROUP6)


def instance_stats(service: VrrpService, inst: Instance) -> InstanceStats:
    """keepalived's counters of one running instance (the router's, the fast path's and
    the service's together)."""
    r = inst.router.statistics()
    counts: dict[str, int] = dict.fromkeys((f.name for f in fields(InstanceStats)), 0)
    counts["advert_rcvd"] = r.adverts_received
    rx = service.fast.filters.get(inst.rx_fd)
    if rx is not None:  # adverts the fast path absorbed never reached the router
        counts["advert_rcvd"] += rx.absorbed(inst.conf.vrid)
    # the fast path's pump counts the packets it sent (one per destination: a unicast
    # advert goes to every peer); the service counts the adverts Python sent
    pumped = service.fast.pump.sent(inst.index) // max(1, len(inst.destinations))
    counts["advert_sent"] = pumped + inst.adverts_sent
    counts["pri_zero_sent"] = inst.priority_zero_sent
    counts["become_master"] = r.become_master
    counts["release_master"] = r.release_master
    counts["pri_zero_rcvd"] = r.priority_zero_received
    for reason, n in r.dropped.items():
        key = _DROPS.get(reason)
        if key is not None:
            counts[key] += n
    return InstanceStats(**counts)


def snapshot(
    service: VrrpService,
    *,
    transitions: Mapping[str, float],
    started: float,
) -> list[InstanceSnapshot]:
    """Every instance of a running service, read (not changed) at this moment.

    ``transitions``: the wall-clock time of each instance's last state change
    (``started`` for those without one).
    """
    config: Config = service.config
    scripts = {s.name: " ".join(s.script.argv) for s in config.vrrp.scripts}
    out = []
    for inst in service.instances:
        c, r = inst.conf, inst.router
        state = r.state.value
        vipset = state == "MASTER"
        iface = c.interface or inst.interface.name
        auth = AUTH_NUMBERS[c.auth_type.value if c.auth_type is not None else None]
        out.append(
            InstanceSnapshot(
                name=c.name,
                version=int(c.version),
                state=state,
                want_state=state,
                last_transition=transitions.get(c.name, started),
                interface=iface,
                vmac_ifname=inst.rx.ifname if c.vmac is not None else "",
                source_ip=str(ip_address(inst.source)) if inst.source else None,
                multicast_group=None if c.unicast_peers else _group(c.mcast_dst_ip, c.family),
                unicast_peers=tuple(str(p.address) for p in c.unicast_peers),
                vrid=c.vrid,
                base_priority=r.base_priority,
                effective_priority=r.effective_priority,
                master_priority=(r.master_priority or 0) if state == "BACKUP" else 0,
                advert_int_us=c.advert_int_us,
                master_advert_int_us=r.master_adver_interval_us,
                accept=c.accept,
                nopreempt=c.nopreempt,
                preempt_delay_us=c.preempt_delay_us,
                promote_secondaries=c.promote_secondaries,
                dont_track_primary=c.dont_track_primary,
                skip_check_adv_addr=c.skip_check_adv_addr,
                strict_mode=c.strict_mode,
                lower_prio_no_advert=c.lower_prio_no_advert,
                higher_prio_send_advert=c.higher_prio_send_advert,
                garp_delay_us=c.garp_master_delay_us,
                garp_refresh_us=c.garp_master_refresh_us,
                garp_rep=c.garp_master_repeat,
                garp_refresh_rep=c.garp_master_refresh_repeat,
                garp_lower_prio_delay_us=c.garp_lower_prio_delay_us,
                garp_lower_prio_rep=c.garp_lower_prio_repeat,
                down_timer_adverts=c.down_timer_adverts,
                smtp_alert=c.smtp_alert,
                notify_deleted=c.notify_deleted,
                scripts=tuple(
                    (key, " ".join(script.argv))
                    for key, attr in _SCRIPTS
                    if (script := getattr(c, attr)) is not None
                ),
                vips=tuple(
                    format_address(a, inst.rx.ifname, is_set=vipset) for a in c.virtual_ipaddresses
                ),
                evips=tuple(
                    format_address(a, inst.rx.ifname, is_set=vipset)
                    for a in c.virtual_ipaddresses_excluded
                ),
                track_ifp=tuple(t.name for t in c.track_interfaces),
                track_script=tuple(scripts.get(t.name, t.name) for t in c.track_scripts),
                track_process=tuple(t.name for t in c.track_processes),
                auth_type=auth,
                auth_data=c.auth_pass or "",
                vipset=vipset,
                stats=instance_stats(service, inst),
            )
        )
    return out


def cleared(
    instances: Sequence[InstanceSnapshot], baselines: Mapping[str, InstanceStats]
) -> list[InstanceSnapshot]:
    """``instances`` with each one's counters counted from its baseline (stats clear)."""
    return [
        replace(s, stats=s.stats.since(baselines[s.name])) if s.name in baselines else s
        for s in instances
    ]
