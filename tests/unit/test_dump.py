"""keepalived's VRRP dumps (``pykad.daemon.dump``) against what keepalived 2.2.7 wrote.

The reference texts below were written by Debian's keepalived 2.2.7 in a network
namespace (two instances, both MASTER: VI_1 VRRPv2 with PASS and two VIPs, one
labelled; VI_2 VRRPv3 at 500 ms), with ``kill -USR2`` and
``kill -s $(keepalived --signum=JSON)``.  The same state, given to pykad's
formatters as snapshots, must give the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from ipaddress import IPv4Address, ip_interface

import pytest

from pykad.config.iproute import IpAddress
from pykad.daemon import dump
from pykad.daemon.dump import InstanceSnapshot, InstanceStats

KEEPALIVED_JSON = (
    '[{"data":{"iname":"VI_1","dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":0,"v'
    'mac_ifname":"","ifp_ifname":"eth0","master_priority":0,"last_transition":1795836344.033712'
    ',"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay"'
    ':5,"garp_lower_prio_rep":5,"lower_prio_no_advert":0,"higher_prio_send_advert":0,"vrid":51,'
    '"base_priority":150,"effective_priority":150,"vipset":true,"promote_secondaries":false,"ad'
    'ver_int":1,"master_adver_int":1,"accept":1,"nopreempt":false,"preempt_delay":0,"state":2,"'
    'wantstate":2,"version":2,"smtp_alert":false,"notify_deleted":false,"vips":["192.0.2.10\\/24'
    ' dev eth0 scope global set","192.0.2.11\\/24 dev eth0 scope global label eth0:1 set"],"auth'
    '_type":1,"auth_data":"secret"},"stats":{"advert_rcvd":0,"advert_sent":6,"become_master":1,'
    '"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type'
    '_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pr'
    'i_zero_rcvd":0,"pri_zero_sent":0}},{"data":{"iname":"VI_2","dont_track_primary":0,"skip_ch'
    'eck_adv_addr":0,"strict_mode":0,"vmac_ifname":"","ifp_ifname":"eth0","master_priority":0,"'
    'last_transition":1795836342.424231,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refr'
    'esh_rep":1,"garp_lower_prio_delay":5,"garp_lower_prio_rep":5,"lower_prio_no_advert":0,"hig'
    'her_prio_send_advert":0,"vrid":52,"base_priority":100,"effective_priority":100,"vipset":tr'
    'ue,"promote_secondaries":false,"adver_int":0.5,"master_adver_int":0.5,"accept":1,"nopreemp'
    't":false,"preempt_delay":0,"state":2,"wantstate":2,"version":3,"smtp_alert":false,"notify_'
    'deleted":false,"vips":["198.51.100.10\\/24 dev eth0 scope global set"],"auth_type":0},"stat'
    's":{"advert_rcvd":0,"advert_sent":15,"become_master":1,"release_master":0,"packet_len_err"'
    ':0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid'
    '_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}}]'
    "\n"
)
"""keepalived 2.2.7's /tmp/keepalived.json for the two instances (one line, and a newline)."""

KEEPALIVED_STATS = (
    "VRRP Instance: VI_1\n"
    "  Advertisements:\n"
    "    Received: 0\n"
    "    Sent: 6\n"
    "  Became master: 1\n"
    "  Released master: 0\n"
    "  Packet Errors:\n"
    "    Length: 0\n"
    "    TTL: 0\n"
    "    Invalid Type: 0\n"
    "    Advertisement Interval: 0\n"
    "    Address List: 0\n"
    "  Authentication Errors:\n"
    "    Invalid Type: 0\n"
    "    Type Mismatch: 0\n"
    "    Failure: 0\n"
    "  Priority Zero:\n"
    "    Received: 0\n"
    "    Sent: 0\n"
    "VRRP Instance: VI_2\n"
    "  Advertisements:\n"
    "    Received: 0\n"
    "    Sent: 14\n"
    "  Became master: 1\n"
    "  Released master: 0\n"
    "  Packet Errors:\n"
    "    Length: 0\n"
    "    TTL: 0\n"
    "    Invalid Type: 0\n"
    "    Advertisement Interval: 0\n"
    "    Address List: 0\n"
    "  Authentication Errors:\n"
    "    Invalid Type: 0\n"
    "    Type Mismatch: 0\n"
    "    Failure: 0\n"
    "  Priority Zero:\n"
    "    Received: 0\n"
    "    Sent: 0\n"
)
"""keepalived 2.2.7's /tmp/keepalived.stats, a little later (VI_2 had sent 14 adverts)."""


def keepalived_state(vi2_sent: int = 15) -> list[InstanceSnapshot]:
    """The two instances as keepalived reported them."""
    eth0 = "eth0"
    vi1 = InstanceSnapshot(
        name="VI_1",
        version=2,
        state="MASTER",
        want_state="MASTER",
        last_transition=1795836344.033712,
        interface=eth0,
        source_ip="192.0.2.1",
        multicast_group="224.0.0.18",
        vrid=51,
        base_priority=150,
        effective_priority=150,
        advert_int_us=1_000_000,
        master_advert_int_us=1_000_000,
        vips=(
            dump.format_address(
                IpAddress(address=ip_interface("192.0.2.10/24")), eth0, is_set=True
            ),
            dump.format_address(
                IpAddress(address=ip_interface("192.0.2.11/24"), dev=eth0, label="eth0:1"),
                eth0,
                is_set=True,
            ),
        ),
        auth_type=1,
        auth_data="secret",
        vipset=True,
        stats=InstanceStats(advert_sent=6, become_master=1),
    )
    vi2 = InstanceSnapshot(
        name="VI_2",
        version=3,
        state="MASTER",
        want_state="MASTER",
        last_transition=1795836342.424231,
        interface=eth0,
        vrid=52,
        base_priority=100,
        effective_priority=100,
        advert_int_us=500_000,
        master_advert_int_us=500_000,
        vips=(
            dump.format_address(
                IpAddress(address=ip_interface("198.51.100.10/24")), eth0, is_set=True
            ),
        ),
        vipset=True,
        stats=InstanceStats(advert_sent=vi2_sent, become_master=1),
    )
    return [vi1, vi2]


def test_json_is_byte_for_byte_keepalived_s() -> None:
    assert dump.format_json(keepalived_state()) == KEEPALIVED_JSON


def test_stats_are_byte_for_byte_keepalived_s() -> None:
    assert dump.format_stats(keepalived_state(vi2_sent=14)) == KEEPALIVED_STATS


def test_json_types_match_keepalived_s_for_every_key() -> None:
    ours = json.loads(dump.format_json(keepalived_state()))
    theirs = json.loads(KEEPALIVED_JSON)
    for mine, ref in zip(ours, theirs, strict=True):
        for part in ("data", "stats"):
            assert list(mine[part]) == list(ref[part])
            assert {k: type(v) for k, v in mine[part].items()} == {
                k: type(v) for k, v in ref[part].items()
            }


def test_a_backup_reports_its_master_and_optional_lists() -> None:
    (vi1, _) = keepalived_state()
    backup = [
        replace(
            vi1,
            state="BACKUP",
            want_state="BACKUP",
            master_priority=200,
            vipset=False,
            track_ifp=("eth1",),
            scripts=(("script_master", "/bin/true master"),),
        )
    ]
    data = json.loads(dump.format_json(backup))[0]["data"]
    assert (data["state"], data["wantstate"], data["master_priority"]) == (1, 1, 200)
    assert data["track_ifp"] == ["eth1"] and data["script_master"] == "/bin/true master"
    assert "evips" not in data and "track_script" not in data
    text = dump.format_data(backup, global_lines=["------< Global definitions >------"])
    assert "   State = BACKUP\n" in text and "   Master priority = 200\n" in text


def test_address_format_follows_keepalived_s_order() -> None:
    a = IpAddress(
        address=ip_interface("192.0.2.20/24"),
        dev="eth1",
        scope=253,
        broadcast=IPv4Address("192.0.2.255"),
        label="eth1:9",
    )
    assert (
        dump.format_address(a, "eth0", is_set=False)
        == "192.0.2.20/24 brd 192.0.2.255 dev eth1 scope link label eth1:9"
    )
    v6 = IpAddress(address=ip_interface("2001:db8::1/64"))
    assert (
        dump.format_address(v6, "eth0", is_set=True) == "2001:db8::1/64 dev eth0 scope global set"
    )


def test_data_dump_has_keepalived_s_headings_and_lines() -> None:
    head = ["------< Global definitions >------", " Router ID = kaexp"]
    text = dump.format_data(keepalived_state(), global_lines=head)
    lines = text.splitlines()
    assert lines[:3] == [*head, "------< VRRP Topology >------"]
    # lines keepalived 2.2.7 wrote for VI_1 (its /tmp/keepalived.data), in its order
    expected = [
        " VRRP Instance = VI_1",
        "   VRRP Version = 2",
        "   State = MASTER",
        "   Wantstate = MASTER",
        "   Interface = eth0",
        "   Using src_ip = 192.0.2.1",
        "   Multicast address 224.0.0.18",
        "   Virtual Router ID = 51",
        "   Priority = 150",
        "   Effective priority = 150",
        "   Advert interval = 1 sec",
        "   Accept = enabled",
        "   Preempt = enabled",
        "   Authentication type = SIMPLE_PASSWORD",
        "   Password = secret",
        "   Virtual IP (2):",
        "     192.0.2.10/24 dev eth0 scope global set",
        "     192.0.2.11/24 dev eth0 scope global label eth0:1 set",
    ]
    positions = [lines.index(line) for line in expected]
    assert positions == sorted(positions)
    assert "   Advert interval = 500 milli-sec" in lines
    assert any(line.startswith("   Last transition = 1795836344.033712 (") for line in lines)


def test_stats_clear_counts_from_the_baseline() -> None:
    snaps = keepalived_state()
    baseline = {"VI_1": InstanceStats(advert_sent=4, become_master=1)}
    vi1, vi2 = dump.cleared(snaps, baseline)
    assert (vi1.stats.advert_sent, vi1.stats.become_master) == (2, 0)
    assert vi2.stats == snaps[1].stats


@pytest.mark.parametrize(("state", "number"), list(dump.STATE_NUMBERS.items()))
def test_state_numbers(state: str, number: int) -> None:
    (vi1, _) = keepalived_state()
    snap = replace(vi1, state=state, want_state=state)
    assert json.loads(dump.format_json([snap]))[0]["data"]["state"] == number
