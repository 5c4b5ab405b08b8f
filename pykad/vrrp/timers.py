"""VRRP timers: skew time and master down interval (RFC 5798 section 6.1, RFC 3768 section 6.1).

Times are in microseconds. VRRPv3 scales the skew with the master's advertisement
interval; VRRPv2 (RFC 3768) uses whole seconds and a skew of (256 - priority) / 256
seconds. ``down_timer_adverts`` is keepalived's knob for the 3 of the RFC.
"""

from __future__ import annotations

US = 1_000_000


def skew_time_us(version: int, priority: int, master_adver_interval_us: int) -> int:
    """Skew_Time: v3 (256 - Priority) * Master_Adver_Interval / 256; v2 (256 - Priority) / 256 s."""
    if version == 2:
        return (256 - priority) * US // 256
    return (256 - priority) * master_adver_interval_us // 256


def master_down_interval_us(
    version: int, priority: int, master_adver_interval_us: int, down_timer_adverts: int = 3
) -> int:
    """Master_Down_Interval: (3 * Master_Adver_Interval) + Skew_Time."""
    return down_timer_adverts * master_adver_interval_us + skew_time_us(
        version, priority, master_adver_interval_us
    )
