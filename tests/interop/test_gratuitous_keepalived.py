"""pykad's gratuitous ARPs / unsolicited NAs against the real keepalived 2.2.7, on the wire.

Owns the guarantees of ``pykad.vrrp.gratuitous`` and ``pykad.drivers.packet`` that
need a real kernel and a real keepalived:

- a lone keepalived MASTER's GARPs (two IPv4 VIPs) and NAs (one IPv6 VIP, with IPv6
  forwarding on so the Router flag is set), captured by tcpdump on an observer, are
  byte for byte what ``garp_frame`` / ``unsolicited_na_frame`` build for the same MAC
  and VIP (no field differs: keepalived fills every byte itself), and come in the
  rounds and at the times ``GratuitousSchedule`` gives for ``garp_master_delay 1``,
  ``garp_master_repeat 2``, after the instance's first advert;
- with ``vrrp_garp_interval`` keepalived spaces and collapses GARPs the way
  ``GratuitousPacer`` does;
- ``PacketSender`` puts our frames on the wire unchanged, and tcpdump decodes them as
  it decodes keepalived's.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from lab.keepalived import PYKAD, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for
from pykad.tools.pcap import Frame
from pykad.vrrp.gratuitous import (
    GratuitousPacer,
    GratuitousSchedule,
    GratuitousTiming,
    garp_frame,
    unsolicited_na_frame,
)

pytestmark = pytest.mark.interop

S = 1_000_000
VIPS4 = ("192.0.2.10", "192.0.2.11")
VIP6 = "2001:db8::10"
TOLERANCE_US = 100_000  # timer jitter allowed between keepalived and the schedule
REPO = Path(__file__).resolve().parents[2]


def _mac(topo: Topology, node: str) -> bytes:
    link = json.loads(topo.ip(node, "-j", "link", "show", "eth0").stdout)[0]
    return bytes.fromhex(link["address"].replace(":", ""))


def _arps(frames: Sequence[Frame], mac: bytes) -> list[Frame]:
    return [f for f in frames if f.data[6:12] == mac and f.data[12:14] == b"\x08\x06"]


def _nas(frames: Sequence[Frame], mac: bytes) -> list[Frame]:
    return [
        f
        for f in frames
        if f.data[6:12] == mac and f.data[12:14] == b"\x86\xdd" and f.data[20] == 58
        and len(f.data) > 54 and f.data[54] == 136
    ]  # fmt: skip


def _first_advert(frames: Sequence[Frame], mac: bytes) -> float:
    return min(
        f.timestamp
        for f in frames
        if f.data[6:12] == mac and f.data[12:14] == b"\x08\x00" and f.data[23] == 112
    )


def _bursts(frames: Sequence[Frame], gap_us: int = 200_000) -> list[tuple[float, list[bytes]]]:
    """Group frames closer than ``gap_us`` into (first timestamp, frames) bursts."""
    bursts: list[tuple[float, list[bytes]]] = []
    for f in frames:
        if bursts and (f.timestamp - bursts[-1][0]) * S < gap_us:
            bursts[-1][1].append(f.data)
        else:
            bursts.append((f.timestamp, [f.data]))
    return bursts


def _schedule_times(timing: GratuitousTiming, until_us: int) -> list[tuple[int, int]]:
    sched = GratuitousSchedule(timing)
    sched.became_master(0)
    out = [(0, sched.due(0))]
    while (deadline := sched.next_deadline()) is not None and deadline <= until_us:
        out.append((deadline, sched.due(deadline)))
    return out


def _lan_with_ipv6(topo: Topology) -> None:
    topo.ipv6 = True
    topo.lan({"A": "192.0.2.1/24", "C": "192.0.2.100/24"})

    def link_local_ready() -> bool:
        out = topo.ip("A", "-6", "addr", "show", "dev", "eth0", "scope", "link").stdout
        return "fe80::" in out and "tentative" not in out

    wait_for(link_local_ready, timeout=10, message="A's IPv6 link-local address")


def test_keepalived_garps_and_nas_are_ours(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    _lan_with_ipv6(netns_lab)
    netns_lab.sysctl("A", {"net.ipv6.conf.eth0.forwarding": "1"})  # NAs with the Router flag
    mac = _mac(netns_lab, "A")
    capture = netns_lab.capture("C", "eth0", "arp or icmp6 or ip proto 112")
    garp = "garp_master_delay 1\ngarp_master_repeat 2\n"
    config = vrrp_instance_config(vips=[f"{v}/24" for v in VIPS4], extra=garp)
    config += vrrp_instance_config(
        name="VI_6", virtual_router_id=61, vips=[f"{VIP6}/64"], extra=garp
    )
    k = keepalived_lab.start((netns_lab, "A"), config, name="A", subsystems={"vrrp"})
    k.wait_for_state("VI_1", "MASTER", timeout=10)
    k.wait_for_state("VI_6", "MASTER", timeout=5)
    wait_for(
        lambda: len(_arps(capture.packets(), mac)) >= 8 and len(_nas(capture.packets(), mac)) >= 4,
        timeout=5,
        message="two bursts of GARPs and NAs",
    )
    time.sleep(1.5)  # waiting for something not to happen: no refresh, no third burst
    frames = capture.packets()
    arps, nas = _arps(frames, mac), _nas(frames, mac)
    assert (len(arps), len(nas)) == (8, 4)

    # Bytes: every captured frame is exactly what we build.  No field legitimately
    # differs: keepalived writes the whole frame itself over a packet socket.
    ours4 = [garp_frame(mac, ipaddress.IPv4Address(v)) for v in VIPS4]
    ours6 = unsolicited_na_frame(mac, ipaddress.IPv6Address(VIP6), router=True)
    assert [f.data for f in arps] == ours4 * 4  # 10, 11, 10, 11 in each burst
    assert [f.data for f in nas] == [ours6] * 4

    # Timing: rounds as GratuitousSchedule says, the first after the first advert.
    timing = GratuitousTiming(master_delay_us=S, master_repeat=2)
    expected = _schedule_times(timing, 10 * S)
    assert [r for _, r in expected] == [2, 2]
    for found in (_bursts(arps), _bursts(nas)):
        assert [len(b) for _, b in found] == [
            r * (len(VIPS4) if found[0][1][0] in ours4 else 1) for _, r in expected
        ]
        start = found[0][0]
        for (t, _), (offset, _) in zip(found, expected, strict=True):
            assert abs((t - start) * S - offset) < TOLERANCE_US
    assert _first_advert(frames, mac) <= arps[0].timestamp


@pytest.mark.parametrize("program", [("keepalived",), (PYKAD,)], ids=["keepalived", "pykad"])
def test_garp_interval_is_our_pacer(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, program: tuple[str, ...]
) -> None:
    """keepalived's vrrp_garp_interval is what GratuitousPacer computes, and pykad's is too."""
    netns_lab.lan({"A": "192.0.2.1/24", "C": "192.0.2.100/24"})
    mac = _mac(netns_lab, "A")
    capture = netns_lab.capture("C", "eth0", "arp")
    config = "global_defs {\n    vrrp_garp_interval 0.5\n}\n" + vrrp_instance_config(
        vips=[f"{v}/24" for v in VIPS4], extra="garp_master_delay 0\ngarp_master_repeat 2\n"
    )
    k = keepalived_lab.start(
        (netns_lab, "A"), config, name="A", subsystems={"vrrp"}, program=program
    )
    k.wait_for_state("VI_1", "MASTER", timeout=10)
    wait_for(lambda: len(_arps(capture.packets(), mac)) >= 3, timeout=5, message="3 GARPs")
    time.sleep(1.0)  # and no fourth
    arps = _arps(capture.packets(), mac)

    pacer: GratuitousPacer[str] = GratuitousPacer(S // 2)
    sent = [(0, v) for v in pacer.offer_round(0, VIPS4) + pacer.offer_round(0, VIPS4)]
    while (deadline := pacer.next_deadline()) is not None:
        sent += [(deadline, v) for v in pacer.due(deadline)]
    assert [v for _, v in sent] == ["192.0.2.10", "192.0.2.10", "192.0.2.11"]
    assert [f.data for f in arps] == [garp_frame(mac, ipaddress.IPv4Address(v)) for _, v in sent]
    start = arps[0].timestamp
    for f, (offset, _) in zip(arps, sent, strict=True):
        assert abs((f.timestamp - start) * S - offset) < TOLERANCE_US


SEND = """
import logging, socket, sys
logging.basicConfig(format="%(message)s")
from ipaddress import IPv4Address, IPv6Address
from pykad.drivers.packet import PacketSender
from pykad.vrrp.gratuitous import garp_frame, unsolicited_na_frame
mac = bytes.fromhex(sys.argv[1])
frames = [garp_frame(mac, IPv4Address("192.0.2.20")),
          unsolicited_na_frame(mac, IPv6Address("2001:db8::20"))]
with PacketSender(socket.if_nametoindex("eth0")) as sender:
    assert sender.send(frames) == 2, sender.statistics()
    stats = sender.statistics()
    assert (stats.sent, stats.errors) == (2, 0), stats
sender.send(frames)  # closed: two failures, one log line
assert sender.statistics().errors == 2
print("ok")
"""


def test_packet_sender_puts_our_frames_on_the_wire(netns_lab: Topology) -> None:
    _lan_with_ipv6(netns_lab)
    mac = _mac(netns_lab, "A")
    capture = netns_lab.capture("C", "eth0", "arp or icmp6")
    env = {"PYTHONPATH": str(REPO), "PATH": os.environ.get("PATH", "")}
    out = netns_lab.run("A", sys.executable, "-c", SEND, mac.hex(), env=env)
    assert out.stdout.strip() == "ok"
    assert out.stderr.splitlines() == [
        "eth0: cannot send a gratuitous ARP/NA: Bad file descriptor (1 failed so far)"
    ]
    want = [
        garp_frame(mac, ipaddress.IPv4Address("192.0.2.20")),
        unsolicited_na_frame(mac, ipaddress.IPv6Address("2001:db8::20")),
    ]
    wait_for(
        lambda: len(_arps(capture.packets(), mac) + _nas(capture.packets(), mac)) >= 2, timeout=5
    )
    frames = capture.packets()
    assert [f.data for f in _arps(frames, mac)] == want[:1]
    assert [f.data for f in _nas(frames, mac)] == want[1:]
    capture.stop()
    text = "\n".join(capture.text("-v", "-e"))
    # keepalived's frames decode to the same text (tcpdump -v -e), addresses aside.
    assert (
        f"{_colons(mac)} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Ethernet (len 6), "
        "IPv4 (len 4), Request who-has 192.0.2.20 (ff:ff:ff:ff:ff:ff) tell 192.0.2.20, length 28"
    ) in text
    assert (
        f"{_colons(mac)} > 33:33:00:00:00:01, ethertype IPv6 (0x86dd), length 86: "
        "(hlim 255, next-header ICMPv6 (58) payload length: 32) 2001:db8::20 > ff02::1: "
        "[icmp6 sum ok] ICMP6, neighbor advertisement, length 32, tgt is 2001:db8::20, "
        "Flags [override]"
    ) in text
    assert f"destination link-address option (2), length 8 (1): {_colons(mac)}" in text


def _colons(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


INJECT_LOWER_ADVERT = """
import socket
from ipaddress import IPv4Address
from lab.frames import vrrp_frame
from pykad.drivers.packet import PacketSender
from pykad.vrrp import wire_py
from pykad.vrrp.advert import Advert
src, dst = IPv4Address("192.0.2.100").packed, IPv4Address("224.0.0.18").packed
advert = Advert(2, 51, 50, 1, (IPv4Address("192.0.2.10").packed,))
with PacketSender(socket.if_nametoindex("eth0")) as sender:
    assert sender.send([vrrp_frame(51, 4, src, dst, wire_py.encode(advert, 4, src, dst))]) == 1
"""


def test_keepalived_lower_priority_and_refresh_follow_the_schedule(
    netns_lab: Topology, keepalived_lab: KeepalivedLab
) -> None:
    netns_lab.lan({"A": "192.0.2.1/24", "C": "192.0.2.100/24"})
    mac = _mac(netns_lab, "A")
    capture = netns_lab.capture("C", "eth0", "arp or ip proto 112")
    garp = (
        "garp_master_delay 0\ngarp_master_repeat 1\ngarp_master_refresh 2\n"
        "garp_master_refresh_repeat 2\ngarp_lower_prio_delay 1\ngarp_lower_prio_repeat 3\n"
    )
    config = vrrp_instance_config(vips=["192.0.2.10/24"], extra=garp)
    k = keepalived_lab.start((netns_lab, "A"), config, name="A", subsystems={"vrrp"})
    k.wait_for_state("VI_1", "MASTER", timeout=10)
    wait_for(lambda: len(_arps(capture.packets(), mac)) >= 3, timeout=5, message="a refresh")
    env = {"PYTHONPATH": f"{REPO}:{REPO / 'tests'}", "PATH": os.environ.get("PATH", "")}
    netns_lab.run("C", sys.executable, "-c", INJECT_LOWER_ADVERT, env=env)
    k.wait_for_log(r"Received advert from 192.0.2.100 with lower priority 50", timeout=2)
    time.sleep(2.5)
    frames = capture.packets()

    # Replay keepalived's adverts and the injected one through the schedule.
    timing = GratuitousTiming(
        master_delay_us=0,
        master_repeat=1,
        master_refresh_us=2 * S,
        master_refresh_repeat=2,
        lower_prio_delay_us=S,
        lower_prio_repeat=3,
    )
    sched = GratuitousSchedule(timing, refresh_with_adverts=True)
    arps = _arps(frames, mac)
    t0 = arps[0].timestamp
    sched.became_master(0)
    expected = [(0, sched.due(0))]
    injected = False
    for f in frames:
        if f.data[12:14] != b"\x08\x00" or f.data[23] != 112:
            continue
        t = round((f.timestamp - t0) * S)
        if f.data[6:12] != mac:  # the injected lower-priority advert
            sched.lower_priority_advert(t)
            injected = True
            continue
        if t > 0 and (rounds := sched.advert_sent(t) + sched.due(t)):
            expected.append((t, rounds))
    assert injected
    # Rounds that fall within one gap (the injected advert can land next to a refresh)
    # make one burst on the wire: group the expected rounds as the frames are grouped.
    merged: list[tuple[int, int]] = []
    for t, n in expected:
        if merged and t - merged[-1][0] < 50_000:
            merged[-1] = (merged[-1][0], merged[-1][1] + n)
        else:
            merged.append((t, n))
    expected = merged
    found = [(round((t - t0) * S), len(b)) for t, b in _bursts(arps, gap_us=50_000)]
    assert [n for _, n in found] == [n for _, n in expected], (found, expected)
    for (t_found, _), (t_expected, _) in zip(found, expected, strict=True):
        assert abs(t_found - t_expected) < 2_000  # each burst right after its advert
