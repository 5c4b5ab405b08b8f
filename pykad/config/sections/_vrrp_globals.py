"""The ``global_defs`` settings the VRRP section uses, with keepalived's defaults.

The global section (``NAME = "global"``) is read in the first pass, so its
builder is finished (``builder.defs``, a ``GlobalDefs``) when VRRP statements
are read. It may be absent (tests, or a build without it): then keepalived
2.2.7's defaults apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from pykad.config.build import Builders
from pykad.config.scripts import Script

TIMER_HZ = 1_000_000
MCAST_GROUP4 = IPv4Address("224.0.0.18")
MCAST_GROUP6 = IPv6Address("ff02::12")


@dataclass(frozen=True, slots=True, kw_only=True)
class Globals:
    vrrp_version: int = 2
    vrrp_strict: bool = False
    garp_delay_us: int = 5 * TIMER_HZ
    garp_repeat: int = 5
    garp_refresh_us: int = 0
    garp_refresh_repeat: int = 1
    garp_lower_prio_delay_us: int | None = None
    garp_lower_prio_repeat: int | None = None
    down_timer_adverts: int = 3
    skip_check_adv_addr: bool = False
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    smtp_alert: bool | None = None
    smtp_alert_vrrp: bool | None = None
    notify_priority_changes: bool = False
    mcast_group4: IPv4Address = MCAST_GROUP4
    mcast_group6: IPv6Address = MCAST_GROUP6
    garp_extra_if_s: int = 0
    garp_extra_if_all: bool = False
    dynamic_interfaces: bool = False
    script_security: bool = False
    script_user_set: bool = False
    script_ids: tuple[int, int] | None = None
    check_unicast_src: bool = False
    fifo_scripts: tuple[Script, ...] = ()
    lvs_syncd_interface: str | None = None
    """global ``lvs_sync_daemon``'s interface (an instance may not set another)."""
    """``notify_fifo_script`` and ``vrrp_notify_fifo_script`` (vetted with the VRRP scripts)."""


def read_globals(builders: Builders) -> Globals:
    """The settings of ``builders["global"]`` (its finished ``defs``), or keepalived's defaults."""
    builder = builders.by_name.get("global")
    defs = getattr(builder, "defs", None)
    if defs is None:
        return Globals()
    garp = defs.garp
    smtp = defs.smtp
    ids = getattr(builder, "script_ids", None)
    return Globals(
        vrrp_version=defs.vrrp_version,
        vrrp_strict=defs.vrrp_strict,
        garp_delay_us=garp.master_delay_us,
        garp_repeat=garp.master_repeat,
        garp_refresh_us=garp.master_refresh_s * TIMER_HZ,
        garp_refresh_repeat=garp.master_refresh_repeat,
        garp_lower_prio_delay_us=garp.lower_prio_delay_us,
        garp_lower_prio_repeat=garp.lower_prio_repeat,
        down_timer_adverts=defs.vrrp_down_timer_adverts,
        skip_check_adv_addr=defs.vrrp_skip_check_adv_addr,
        lower_prio_no_advert=defs.vrrp_lower_prio_no_advert,
        higher_prio_send_advert=defs.vrrp_higher_prio_send_advert,
        smtp_alert=smtp.alert,
        smtp_alert_vrrp=smtp.alert_vrrp,
        notify_priority_changes=defs.vrrp_notify_priority_changes,
        mcast_group4=defs.vrrp_mcast_group4,
        mcast_group6=defs.vrrp_mcast_group6,
        garp_extra_if_s=garp.extra_if_s,
        garp_extra_if_all=garp.extra_if_all,
        dynamic_interfaces=defs.dynamic_interfaces,
        script_security=defs.script_security,
        script_user_set=defs.script_user is not None,
        script_ids=ids() if callable(ids) else None,
        check_unicast_src=defs.vrrp_check_unicast_src,
        lvs_syncd_interface=(
            defs.lvs_sync_daemon.interface if defs.lvs_sync_daemon is not None else None
        ),
        fifo_scripts=tuple(
            f.script for f in (defs.notify_fifo, defs.vrrp_notify_fifo) if f.script is not None
        ),
    )
