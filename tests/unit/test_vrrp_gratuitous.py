"""Gratuitous ARP / unsolicited NA frames and timing (pykad.vrrp.gratuitous).

The expected bytes and timings are keepalived 2.2.7's, captured from the real daemon
on a veth LAN (tests/interop/test_gratuitous_keepalived.py repeats the capture live):
MAC fe:07:05:d9:fc:be, VIPs 192.0.2.10, 192.0.2.11 and 2001:db8::10.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

import pytest

from pykad.vrrp.gratuitous import (
    ARP_FRAME_LEN,
    NA_FRAME_LEN,
    GratuitousPacer,
    GratuitousSchedule,
    GratuitousTiming,
    garp_frame,
    icmpv6_checksum,
    pacing_interval_us,
    unsolicited_na_frame,
)

S = 1_000_000
MAC = bytes.fromhex("fe0705d9fcbe")

# Captured from keepalived 2.2.7 (tcpdump -w on the observer's veth).
KEEPALIVED_GARP_10 = bytes.fromhex(
    "fffffffffffffe0705d9fcbe08060001080006040001fe0705d9fcbec000020affffffffffffc000020a"
)
KEEPALIVED_GARP_11 = bytes.fromhex(
    "fffffffffffffe0705d9fcbe08060001080006040001fe0705d9fcbec000020bffffffffffffc000020b"
)
KEEPALIVED_NA_10 = bytes.fromhex(
    "333300000001fe0705d9fcbe86dd6000000000203aff20010db8000000000000000000000010"
    "ff020000000000000000000000000001"
    "8800fa6d20000000"
    "20010db8000000000000000000000010"
    "0201fe0705d9fcbe"
)


# --------------------------------------------------------------------------- frames


def test_garp_is_keepalived_s_frame() -> None:
    assert garp_frame(MAC, IPv4Address("192.0.2.10")) == KEEPALIVED_GARP_10
    assert garp_frame(MAC, IPv4Address("192.0.2.11").packed) == KEEPALIVED_GARP_11
    assert len(KEEPALIVED_GARP_10) == ARP_FRAME_LEN == 42  # no padding


def test_garp_fields() -> None:
    frame = garp_frame(MAC, IPv4Address("198.51.100.7"))
    dst, src, ethertype = struct.unpack("!6s6sH", frame[:14])
    hrd, pro, hln, pln, op, sha, spa, tha, tpa = struct.unpack("!HHBBH6s4s6s4s", frame[14:])
    assert (dst, src, ethertype) == (b"\xff" * 6, MAC, 0x0806)
    assert (hrd, pro, hln, pln, op) == (1, 0x0800, 6, 4, 1)  # an ARP *request*
    assert (sha, tha) == (MAC, b"\xff" * 6)
    assert spa == tpa == IPv4Address("198.51.100.7").packed


def test_na_is_keepalived_s_frame() -> None:
    assert unsolicited_na_frame(MAC, IPv6Address("2001:db8::10")) == KEEPALIVED_NA_10
    assert unsolicited_na_frame(MAC, IPv6Address("2001:db8::10").packed) == KEEPALIVED_NA_10
    assert len(KEEPALIVED_NA_10) == NA_FRAME_LEN == 86


def _na_fields(frame: bytes) -> tuple[bytes, bytes, int, int, bytes, bytes, int, int, int, bytes]:
    dst_mac, src_mac, ethertype = struct.unpack("!6s6sH", frame[:14])
    vtf, plen, nxt, hlim, src, dst = struct.unpack("!IHBB16s16s", frame[14:54])
    icmp = frame[54:]
    assert (ethertype, vtf, plen, nxt, hlim) == (0x86DD, 6 << 28, 32, 58, 255)
    assert dst_mac == b"\x33\x33\x00\x00\x00\x01"
    assert dst == IPv6Address("ff02::1").packed
    assert icmpv6_checksum(src, dst, icmp[:2] + b"\0\0" + icmp[4:]) == int.from_bytes(icmp[2:4])
    typ, code, _, flags, target, opt, optlen, lladdr = struct.unpack("!BBHI16sBB6s", icmp)
    assert (typ, code, opt, optlen) == (136, 0, 2, 1)
    return src_mac, src, flags >> 24, flags & 0xFFFFFF, target, lladdr, typ, code, opt, dst


@pytest.mark.parametrize("router", [False, True])
def test_na_flags_and_source(router: bool) -> None:
    vip = IPv6Address("2001:db8:1::5")
    ll = IPv6Address("fe80::1")
    frame = unsolicited_na_frame(MAC, vip, ll, router=router)
    src_mac, src, flags, reserved, target, lladdr, *_ = _na_fields(frame)
    assert (src_mac, src, target, lladdr, reserved) == (MAC, ll.packed, vip.packed, MAC, 0)
    assert flags == (0xA0 if router else 0x20)  # Override; Router if forwarding; never Solicited


def test_icmpv6_checksum_verifies_to_zero() -> None:
    frame = KEEPALIVED_NA_10
    src, dst, icmp = frame[22:38], frame[38:54], frame[54:]
    # Summing a message with its own checksum in place gives 0 (RFC 1071).
    assert icmpv6_checksum(src, dst, icmp) == 0


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        garp_frame(MAC[:5], IPv4Address("192.0.2.1"))
    with pytest.raises(ValueError):
        garp_frame(MAC, IPv6Address("2001:db8::1").packed)
    with pytest.raises(ValueError):
        unsolicited_na_frame(MAC, IPv4Address("192.0.2.1").packed)


# --------------------------------------------------------------------------- schedule


def run(sched: GratuitousSchedule, until: int) -> list[tuple[int, int]]:
    """Drive ``sched`` like a timer loop: (time, rounds) of each non-empty call to due()."""
    out = []
    while (deadline := sched.next_deadline()) is not None and deadline <= until:
        rounds = sched.due(deadline)
        if rounds:
            out.append((deadline, rounds))
    return out


def test_keepalived_defaults() -> None:
    sched = GratuitousSchedule(GratuitousTiming())
    sched.became_master(100)
    assert sched.due(100) == 5
    assert sched.next_deadline() == 100 + 5 * S
    assert run(sched, 60 * S) == [(100 + 5 * S, 5)]
    assert sched.next_deadline() is None


def test_master_delay_1_repeat_2_as_captured() -> None:
    # keepalived 2.2.7 with garp_master_delay 1, garp_master_repeat 2 and two VIPs sent
    # 10, 11, 10, 11 right after its first advert, the same again 1.000 s later, and
    # nothing more (the interop test measures this again).
    sched = GratuitousSchedule(GratuitousTiming(master_delay_us=S, master_repeat=2))
    sched.became_master(0)
    assert sched.due(0) == 2
    assert sched.due(S - 1) == 0
    assert run(sched, 60 * S) == [(S, 2)]


def test_delay_zero_means_one_burst() -> None:
    sched = GratuitousSchedule(GratuitousTiming(master_delay_us=0, master_repeat=3))
    sched.became_master(0)
    assert sched.due(0) == 3
    assert sched.next_deadline() is None


def test_refresh_on_its_own_deadline() -> None:
    timing = GratuitousTiming(
        master_delay_us=0, master_repeat=1, master_refresh_us=2 * S, master_refresh_repeat=2
    )
    sched = GratuitousSchedule(timing)
    sched.became_master(0)
    assert sched.due(0) == 1
    assert run(sched, 7 * S) == [(2 * S, 2), (4 * S, 2), (6 * S, 2)]
    sched.left_master()
    assert sched.next_deadline() is None


# keepalived 2.2.7, garp_master_delay 0, garp_master_repeat 1, garp_master_refresh 2,
# garp_master_refresh_repeat 2, garp_lower_prio_delay 1, garp_lower_prio_repeat 3, advert_int
# 1; a lower-priority advert injected at 6.576655 s.  Times in us from its first advert.
CAPTURED_ADVERTS = [0, 1000324, 2000634, 3000928, 4001277, 5001582, 6001781, 6576810, 7577082,
                    8577264]  # fmt: skip
CAPTURED_MASTER_GARPS = 89  # the first GARP, right after the first advert
CAPTURED_LOWER_PRIO = 6576655
CAPTURED_REFRESHES = [2000634, 4001277, 6001781, 8577264]  # (2 GARPs with these adverts)
CAPTURED_LOWER_PRIO_BURSTS = [6576810, 7577082]  # 3 GARPs each, right after these adverts


def test_refresh_with_adverts_replays_the_capture() -> None:
    # The refresh goes out with the first advert after its deadline: every 2 s until the
    # forced advert of 6.577 s moves the advert clock, then at 8.577 s, not 8.002 s.
    timing = GratuitousTiming(
        master_delay_us=0,
        master_repeat=1,
        master_refresh_us=2 * S,
        master_refresh_repeat=2,
        lower_prio_delay_us=S,
        lower_prio_repeat=3,
    )
    sched = GratuitousSchedule(timing, refresh_with_adverts=True)
    sched.became_master(CAPTURED_MASTER_GARPS)
    assert sched.due(CAPTURED_MASTER_GARPS) == 1
    refreshes, lower = [], []
    for advert in CAPTURED_ADVERTS[1:]:
        if advert > CAPTURED_LOWER_PRIO and not lower:
            sched.lower_priority_advert(CAPTURED_LOWER_PRIO)
        if rounds := sched.advert_sent(advert):
            assert rounds == 2
            refreshes.append(advert)
        if rounds := sched.due(advert):  # the delayed burst (receipt + 1 s) is due by then
            assert rounds == 3
            lower.append(advert)
    assert refreshes == CAPTURED_REFRESHES
    assert lower == CAPTURED_LOWER_PRIO_BURSTS
    assert sched.next_deadline() is None


def test_refresh_on_own_deadline_against_the_capture() -> None:
    # Without refresh_with_adverts the refresh keeps its own 2 s clock: never later than
    # keepalived's, and here at most one advert interval earlier.
    timing = GratuitousTiming(
        master_delay_us=0, master_repeat=1, master_refresh_us=2 * S, master_refresh_repeat=2
    )
    sched = GratuitousSchedule(timing)
    sched.became_master(CAPTURED_MASTER_GARPS)
    sched.due(CAPTURED_MASTER_GARPS)
    ours = [t for t, _ in run(sched, 9 * S)]
    assert len(ours) == len(CAPTURED_REFRESHES)
    for mine, theirs in zip(ours, CAPTURED_REFRESHES, strict=True):
        assert 0 <= theirs - mine < S


def test_refresh_with_adverts_needs_strictly_later() -> None:
    sched = GratuitousSchedule(GratuitousTiming(master_refresh_us=S), refresh_with_adverts=True)
    sched.became_master(0)
    assert sched.advert_sent(S) == 0
    assert sched.advert_sent(S + 1) == 1
    sched.left_master()
    assert sched.advert_sent(10 * S) == 0
    plain = GratuitousSchedule(GratuitousTiming(master_refresh_us=S))
    plain.became_master(0)
    assert plain.advert_sent(5 * S) == 0


def test_lower_priority_advert() -> None:
    timing = GratuitousTiming(lower_prio_delay_us=2 * S, lower_prio_repeat=3, master_delay_us=0)
    sched = GratuitousSchedule(timing)
    sched.lower_priority_advert(0)  # not master: nothing
    assert sched.due(0) == 0 and sched.next_deadline() is None
    sched.became_master(0)
    assert sched.due(0) == 5
    sched.lower_priority_advert(10 * S)
    sched.lower_priority_advert(11 * S)  # each advert adds its own bursts
    assert sched.due(11 * S) == 6
    assert run(sched, 60 * S) == [(12 * S, 3), (13 * S, 3)]


def test_lower_priority_zero_repeat_or_delay() -> None:
    sched = GratuitousSchedule(GratuitousTiming(lower_prio_repeat=0, master_delay_us=0))
    sched.became_master(0)
    sched.due(0)
    sched.lower_priority_advert(S)
    assert sched.due(S) == 0 and sched.next_deadline() is None
    sched = GratuitousSchedule(GratuitousTiming(lower_prio_delay_us=0, master_delay_us=0))
    sched.became_master(0)
    sched.due(0)
    sched.lower_priority_advert(S)
    assert sched.due(S) == 5 and sched.next_deadline() is None


def test_leaving_master_cancels_everything() -> None:
    sched = GratuitousSchedule(GratuitousTiming(master_refresh_us=3 * S))
    sched.became_master(0)
    sched.lower_priority_advert(S)
    sched.left_master()
    assert sched.next_deadline() is None
    assert sched.due(100 * S) == 0
    assert not sched.master
    # and a new mastership starts from scratch
    sched.became_master(200 * S)
    assert sched.due(200 * S) == 5
    assert sched.statistics().rounds_due_total == 5  # nothing from the first one was due


def test_timing_from_instance() -> None:
    from pykad.config.sections._vrrp_model import VrrpInstance

    instance = VrrpInstance(
        name="VI_1",
        vrid=51,
        garp_master_delay_us=2 * S,
        garp_master_repeat=3,
        garp_master_refresh_us=60 * S,
        garp_master_refresh_repeat=2,
        garp_lower_prio_delay_us=4 * S,
        garp_lower_prio_repeat=1,
    )
    assert GratuitousTiming.from_instance(instance) == GratuitousTiming(
        master_delay_us=2 * S,
        master_repeat=3,
        master_refresh_us=60 * S,
        master_refresh_repeat=2,
        lower_prio_delay_us=4 * S,
        lower_prio_repeat=1,
    )
    assert GratuitousTiming.from_instance(VrrpInstance(name="x", vrid=1)) == GratuitousTiming()
    with pytest.raises(ValueError):
        GratuitousTiming(master_repeat=-1)


# --------------------------------------------------------------------------- pacing


def test_no_interval_sends_everything() -> None:
    pacer: GratuitousPacer[str] = GratuitousPacer(0)
    assert pacer.offer_round(0, ["a", "b", "a", "b"]) == ["a", "b", "a", "b"]
    assert pacer.next_deadline() is None


def test_pacing_collapses_repeats_like_keepalived() -> None:
    # garp_interval 0.5 s, two VIPs, garp_master_repeat 2: keepalived sends .10 at 0,
    # queues the rest as flags, and sends .10 again at 0.5 and .11 at 1.0.
    pacer: GratuitousPacer[str] = GratuitousPacer(S // 2)
    now = 0
    assert pacer.offer_round(now, ["10", "11"]) + pacer.offer_round(now, ["10", "11"]) == ["10"]
    assert pacer.pending == ("11", "10")
    sent = []
    while (deadline := pacer.next_deadline()) is not None:
        sent += [(deadline, a) for a in pacer.due(deadline)]
    assert sent == [(S // 2, "10"), (S, "11")]
    assert (pacer.sent_total, pacer.queued_total) == (3, 3)


def test_pacing_wakes_an_interval_after_queueing() -> None:
    pacer: GratuitousPacer[str] = GratuitousPacer(S)
    assert pacer.offer(0, "a")
    assert not pacer.offer(900_000, "b")
    assert pacer.next_deadline() == 1_900_000  # keepalived's queue_garp timer
    assert pacer.due(1_000_000) == []
    assert pacer.due(1_900_000) == ["b"]
    assert pacer.offer(2_900_000, "c")  # an interval after the last send: at once


def test_pacing_cancel() -> None:
    pacer: GratuitousPacer[str] = GratuitousPacer(S)
    pacer.offer_round(0, ["a", "b", "c"])
    pacer.cancel(["b"])
    assert pacer.pending == ("c",)
    pacer.cancel()
    assert pacer.pending == () and pacer.next_deadline() is None


def test_pacing_interval_choice() -> None:
    from pykad.config.sections._global_model import Garp
    from pykad.config.sections._vrrp_model import GarpGroup

    garp = Garp(interval_us=1000, gna_interval_us=2000)
    groups = (
        GarpGroup(garp_interval_us=5000, interfaces=("eth1",)),
        GarpGroup(gna_interval_us=7000, aggregated_interfaces=("bond0", "eth2")),
    )
    assert pacing_interval_us("eth0", False, garp, groups) == 1000
    assert pacing_interval_us("eth0", True, garp, groups) == 2000
    assert pacing_interval_us("eth1", False, garp, groups) == 5000
    assert pacing_interval_us("eth1", True, garp, groups) == 0
    assert pacing_interval_us("eth2", True, garp, groups) == 7000
    assert pacing_interval_us("eth2", False, garp, groups) == 0


@pytest.mark.parametrize(
    "timing",
    [
        GratuitousTiming(),
        GratuitousTiming(master_repeat=0),
        GratuitousTiming(master_delay_us=0, master_repeat=3),
        GratuitousTiming(master_refresh_us=1, master_refresh_repeat=2),
    ],
)
@pytest.mark.parametrize("refresh_with_adverts", [False, True])
def test_first_rounds_is_what_a_new_master_sends_at_once(
    timing: GratuitousTiming, refresh_with_adverts: bool
) -> None:
    schedule = GratuitousSchedule(timing, refresh_with_adverts=refresh_with_adverts)
    promised = schedule.first_rounds()
    schedule.became_master(1_000)
    assert schedule.due(1_000) == promised


def test_garp_extra_if_is_due_every_interval_while_master() -> None:
    schedule = GratuitousSchedule(GratuitousTiming(master_delay_us=0, extra_if_us=2 * S))
    assert not schedule.extra_due(0) and schedule.next_deadline() is None
    schedule.became_master(1_000)
    schedule.due(1_000)
    assert schedule.next_deadline() == 1_000 + 2 * S
    assert not schedule.extra_due(1_000 + 2 * S - 1)
    assert schedule.extra_due(1_000 + 2 * S + 7)  # late: the next is an interval after
    assert schedule.next_deadline() == 1_000 + 4 * S + 7
    schedule.left_master()
    assert not schedule.extra_due(10 * S) and schedule.next_deadline() is None
