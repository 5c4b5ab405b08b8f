"""keepalived's ip addr / route / rule lines: models, exact messages, round trip."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address, ip_interface

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykad.config._iproute_names import RtNames, parse_rt_file, strtoul
from pykad.config.build import Context, MissingParameter
from pykad.config.diagnostics import Diagnostics, Severity
from pykad.config.iproute import (
    INFINITY_LIFE_TIME,
    Encap,
    EncapType,
    IpAddress,
    Nexthop,
    Route,
    RouteMode,
    Rule,
    RuleAction,
    format_address,
    format_route,
    format_rule,
    parse_address,
    parse_route,
    parse_rule,
    report_missing_interface,
    state,
)

IFACES = {"eth0", "eth1", "veth0", "veth1"}


class Host:
    def __init__(self, vrfs: dict[str, int] | None = None) -> None:
        self.vrfs = vrfs or {}

    def interface_exists(self, name: str) -> bool:
        return name in IFACES or name in self.vrfs

    def user_ids(self, name: str) -> tuple[int, int] | None:
        return None

    def group_id(self, name: str) -> int | None:
        return None

    def vrf_table(self, name: str) -> int | None:
        return self.vrfs.get(name)


def context(host: Host | None = None) -> Context:
    return Context(Diagnostics(), host or Host())


def messages(ctx: Context) -> list[str]:
    return [d.message for d in ctx.diagnostics.items if d.severity is not Severity.OK]


def addr(line: str, **kw: object) -> tuple[IpAddress | None, list[str]]:
    ctx = context()
    result = parse_address(ctx, line.split(), where="VI_1", **kw)  # type: ignore[arg-type]
    return result, messages(ctx)


def route(line: str, ctx: Context | None = None) -> tuple[Route | None, list[str]]:
    ctx = ctx or context()
    return parse_route(ctx, line.split(), where="VI_1"), messages(ctx)


def rule(line: str, ctx: Context | None = None) -> tuple[Rule | None, list[str]]:
    ctx = ctx or context()
    return parse_rule(ctx, line.split(), where="VI_1"), messages(ctx)


# --- addresses ---------------------------------------------------------------------------


def test_address_all_options() -> None:
    a, msgs = addr(
        "192.0.2.10/24 dev eth0 scope link brd + label eth0:1 home -nodad mngtmpaddr "
        "noprefixroute autojoin no_track use_vmac preferred_lft 30"
    )
    assert msgs == []
    assert a == IpAddress(
        address=ip_interface("192.0.2.10/24"), dev="eth0", scope=253,
        broadcast=ip_address("192.0.2.255"), label="eth0:1", home=True, nodad=True,
        mngtmpaddr=True, noprefixroute=True, autojoin=True, no_track=True, use_vmac=True,
        preferred_lft=30,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("192.0.2.10", {"address": ip_interface("192.0.2.10/32")}),
        ("192.0.2.10/24 brd -", {"broadcast": ip_address("192.0.2.0")}),
        ("192.0.2.10/24 broadcast 192.0.2.127", {"broadcast": ip_address("192.0.2.127")}),
        ("192.0.2.10 peer 192.0.2.99 brd +", {"peer": ip_address("192.0.2.99")}),
        ("192.0.2.10/24 scope 0x10", {"scope": 16}),
        ("192.0.2.10/24 scope host", {"scope": 254}),
        ("2001:db8::1", {"preferred_lft": 0}),
        ("2001:db8::1/64", {"preferred_lft": INFINITY_LIFE_TIME}),
        ("2001:db8::1 preferred_lft forever", {"preferred_lft": INFINITY_LIFE_TIME}),
        ("2001:db8::1/64 preferred_lft 0", {"preferred_lft": 0}),
        ("192.0.2.10/", {"address": ip_interface("192.0.2.10/0")}),
    ],
)
def test_address_values(line: str, expected: dict[str, object]) -> None:
    a, _ = addr(line)
    assert a is not None
    for key, value in expected.items():
        assert getattr(a, key) == value


@pytest.mark.parametrize(
    ("line", "msgs", "kept"),
    [
        ("192.0.2.300/24", ["VRRP parsed invalid IP 192.0.2.300/24. skipping IP..."], False),
        ("01.2.3.4", ["VRRP parsed invalid IP 01.2.3.4. skipping IP..."], False),
        ("fe80::1%eth0", ["VRRP parsed invalid IP fe80::1%eth0. skipping IP..."], False),
        ("192.0.2.1/33", ["number '33' outside range [0, 32]",
                          "Invalid address prefix len 33 for address 192.0.2.1/33 - using 32"],
         True),
        ("192.0.2.1/x", ["invalid number 'x'",
                         "Invalid address prefix len x for address 192.0.2.1/x - using 32"], True),
        ("192.0.2.1 dev nosuch", ["WARNING - interface nosuch for ip address 192.0.2.1 doesn't "
                                  "exist"], False),
        ("192.0.2.1 dev eth0 dev eth1", ["Cannot specify ipaddress device more than once for "
                                         "192.0.2.1"], False),
        ("192.0.2.1 scope bogus", ["Invalid scope 'bogus' specified for 192.0.2.1 - ignoring"],
         True),
        ("2001:db8::1 brd +", ["VRRP is trying to assign a broadcast brd to the IPv6 address "
                               "2001:db8::1 !!?? WTF... skipping VIP..."], False),
        ("192.0.2.1 brd 300.1.1.1", ["VRRP is trying to assign invalid broadcast 300.1.1.1. "
                                     "skipping VIP..."], False),
        ("192.0.2.1/31 brd +", ["Address prefix length 31 too long for broadcast"], True),
        ("192.0.2.1 label abcdefghijklmnop", ["Address label abcdefghijklmnop is longer than "
                                              "maximum length 15 - removing address"], False),
        ("192.0.2.1 peer 192.0.2.2 peer 192.0.2.3",
         ["Peer 192.0.2.3 - another peer has already been specified",
          "Unknown configuration entry '192.0.2.3' for ip address - ignoring"], True),
        ("192.0.2.1 peer 192.0.2.2/24", ["VRRP parsed invalid IP 192.0.2.2/24. skipping IP...",
                                         "Invalid peer address 192.0.2.2/24"], True),
        ("192.0.2.1 peer 2001:db8::2", ["Peer address 2001:db8::2 does not match address family"],
         True),
        ("192.0.2.1/24 peer 192.0.2.2", ["Cannot specify address prefix when specifying peer "
                                         "address - ignoring"], True),
        ("192.0.2.1 peer 192.0.2.2 brd +", ["Cannot specify broadcast and peer addresses - "
                                            "ignoring broadcast address"], True),
        ("2001:db8::1 scope link label x", [
            "Cannot specify scope for IPv6 addresses (2001:db8::1) - ignoring scope",
            "Cannot specify label for IPv6 addresses (2001:db8::1) - ignoring label"], True),
        ("192.0.2.1 preferred_lft 5x", ["invalid number '5x'", "preferred_lft 5x is invalid"],
         True),
        ("192.0.2.1 foo", ["Unknown configuration entry 'foo' for ip address - ignoring"], True),
        ("192.0.2.1 track_group g", ["Unknown configuration entry 'track_group' for ip address - "
                                     "ignoring",
                                     "Unknown configuration entry 'g' for ip address - ignoring"],
         True),
        ("192.0.2.1 dev", ["No dev parameter specified for 192.0.2.1"], False),
        ("192.0.2.1 label", ["No label parameter specified for 192.0.2.1"], False),
    ],
)  # fmt: skip
def test_address_messages(line: str, msgs: list[str], kept: bool) -> None:
    a, got = addr(line)
    assert got == msgs
    assert (a is not None) == kept


def test_static_address_track_group_and_default_interface() -> None:
    a, msgs = addr("192.0.2.1/24 track_group g1", static=True, track_groups={"g1"})
    assert msgs == [] and a is not None
    assert (a.dev, a.track_group) == ("eth0", "g1")
    a, msgs = addr("192.0.2.1 track_group g1 track_group g2 foo", static=True, track_groups={"g1"})
    assert msgs == ["track_group g2 is a duplicate"] and a is not None
    a, msgs = addr("192.0.2.1 track_group nope", static=True)
    assert msgs == ["track_group nope not found"] and a is not None and a.track_group is None
    a, msgs = addr("192.0.2.1 use_vmac", static=True)
    assert msgs == ["Unknown configuration entry 'use_vmac' for ip address - ignoring"]


def test_static_address_without_default_interface_is_fatal() -> None:
    ctx = Context(Diagnostics(), Host())
    IFACES.discard("eth0")
    try:
        assert parse_address(ctx, ["192.0.2.1"], where="static", static=True) is None
    finally:
        IFACES.add("eth0")
    assert ctx.diagnostics.items[-1].severity is Severity.FATAL
    assert ctx.diagnostics.items[-1].message == (
        "Static address 192.0.2.1 requires either an interface or default interface must exist"
    )
    assert report_missing_interface(ctx)
    assert report_missing_interface(ctx)  # still True, but reported only once
    bad_if = [d for d in ctx.diagnostics.items if d.severity is Severity.BAD_IF]
    assert [d.message for d in bad_if] == ["Non-existent interface specified in configuration"]
    assert ctx.diagnostics.exit_code() == 4


def test_dynamic_interfaces_accept_missing_interfaces() -> None:
    class Defs:
        dynamic_interfaces = True
        default_interface = "nosuch0"

    class Global:
        defs = Defs()

    class Builders:
        def __init__(self) -> None:
            self.by_name = {"global": Global()}

    ctx = context()
    state(ctx).builders = Builders()
    a = parse_address(ctx, ["192.0.2.1"], where="s", static=True)
    assert a is not None and a.dev == "nosuch0"
    assert parse_route(ctx, ["192.0.2.0/24", "dev", "nosuch1"], where="s") is not None
    assert messages(ctx) == [] and not report_missing_interface(ctx)


# --- routes ------------------------------------------------------------------------------


def test_route_all_options() -> None:
    r, msgs = route(
        "unreachable 198.51.100.0/24 src 192.0.2.1 via 192.0.2.254 dev eth0 table 100 "
        "protocol 18 scope link metric 5 tos 0x10 onlink mtu lock 1400 advmss 1300 "
        "rtt 1s rttvar 100ms rto_min lock 300ms reordering 3 window 10 cwnd lock 10 "
        "ssthresh 20 initcwnd 10 initrwnd 20 hoplimit 64 realms 1/2 features ecn quickack 1 "
        "congctl lock cubic ttl-propagate disabled fastopen_no_cookie 1 append"
    )
    assert msgs == []
    assert r == Route(
        dst=ip_interface("198.51.100.0/24"), type=7, src=ip_address("192.0.2.1"),
        via=ip_address("192.0.2.254"), dev="eth0", table=100, protocol=18, scope=253, metric=5,
        tos=16, onlink=True, mtu=1400, advmss=1300, rtt=8000, rttvar=800, rto_min=300,
        reordering=3, window=10, cwnd=10, ssthresh=20, initcwnd=10, initrwnd=20, hoplimit=64,
        locked=frozenset({"mtu", "rto_min", "cwnd", "congctl"}), realms=(1 << 16) | 2,
        features_ecn=True, quickack=1, congctl="cubic", ttl_propagate=False,
        fastopen_no_cookie=True, mode=RouteMode.APPEND,
    )  # fmt: skip
    assert r.family == 4


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("default via 2001:db8::2 dev eth0", {"dst": ip_interface("::/0")}),
        ("all dev eth0", {"dst": ip_interface("0.0.0.0/0")}),
        ("default6 dev eth0", {"dst": ip_interface("::/0")}),
        ("to 192.0.2.0/24 dev eth0", {"dst": ip_interface("192.0.2.0/24")}),
        ("5 192.0.2.0/24 dev eth0", {"type": 5}),
        ("192.0.2.0/24 dev eth0 table local", {"table": 255}),
        ("192.0.2.0/24 dev eth0 table -1", {"table": 2**32 - 1}),
        ("2001:db8:1::/48 dev eth0 from 2001:db8:2::/48 pref high expires 5",
         {"from_prefix": ip_interface("2001:db8:2::/48"), "pref": 1, "expires": 5}),
        ("192.0.2.0/24 dev eth0 rtt 1ms", {"rtt": 1600}),
        ("192.0.2.0/24 dev eth0 rtt 200s", {"rtt": 960000}),
        ("192.0.2.0/24 dev eth0 rtt 1.5", {"rtt": 1600}),
        ("192.0.2.0/24 dev eth0 add", {"mode": RouteMode.ADD}),
        ("192.0.2.0/24 via 192.0.2.1 no_track", {"no_track": True, "protocol": None}),
        ("192.0.2.0/24 via 192.0.2.1 or 192.0.2.2 dev eth0",
         {"via": None, "nexthops": (Nexthop(via=ip_address("192.0.2.1")),
                                    Nexthop(via=ip_address("192.0.2.2")))}),
        ("192.0.2.0/24 dev eth0 nexthop via 192.0.2.1 dev eth1 weight 3 onlink realms 4 "
         "nexthop via inet 192.0.2.2 encap mpls 100/200",
         {"nexthops": (Nexthop(via=ip_address("192.0.2.1"), dev="eth1", weight=3, onlink=True,
                               realms=4),
                       Nexthop(via=ip_address("192.0.2.2"),
                               encap=Encap(type=EncapType.MPLS, labels=(100, 200))))}),
        ("192.0.2.0/24 dev eth0 encap ip id 5 dst 192.0.2.9 src 192.0.2.8 tos 4 ttl 3 flags 1",
         {"encap": Encap(type=EncapType.IP, id=5, dst=ip_address("192.0.2.9"),
                         src=ip_address("192.0.2.8"), tos=4, ttl=3, flags=1)}),
        ("2001:db8::/48 dev eth0 encap ip6 dst 2001:db8::9 tc 1 hoplimit 2",
         {"encap": Encap(type=EncapType.IP6, dst=ip_address("2001:db8::9"), tos=1, ttl=2)}),
        ("2001:db8::/48 dev eth0 encap ila 1:2:3:ffff",
         {"encap": Encap(type=EncapType.ILA, locator=0x000100020003FFFF)}),
        ("192.0.2.0/24 dev eth0 encap ip id 4294967301 dst 192.0.2.9",
         {"encap": Encap(type=EncapType.IP, id=5, dst=ip_address("192.0.2.9"))}),
    ],
)  # fmt: skip
def test_route_values(line: str, expected: dict[str, object]) -> None:
    r, msgs = route(line)
    assert r is not None, msgs
    for key, value in expected.items():
        assert getattr(r, key) == value


def test_route_in_a_vrf() -> None:
    ctx = context(Host(vrfs={"blue": 1001}))
    r, msgs = route("192.0.2.0/24 dev eth0 vrf blue", ctx)
    assert msgs == [] and r is not None and r.table == 1001


@pytest.mark.parametrize(
    ("line", "msgs", "kept"),
    [
        ("via 192.0.2.1 dev eth0", ["Route must have a destination"], False),
        ("inet6 default via 2001:db8::2 dev eth0", ["Route must have a destination"], False),
        ("192.0.2.0/24 via 192.0.2.1", ["Warning - cannot track route 192.0.2.0/24 with no "
                                        "interface specified, not tracking"], True),
        ("192.0.2.0/24 dev eth0 protocol static", [
            "Route cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting "
            "protocol"], True),
        ("192.0.2.0/24 gw 192.0.2.1 dev eth0", ['"gw" for routes is deprecated. Please use "via"'],
         True),
        ("192.0.2.0/24 via 2001:db8::1 dev eth0", ["Cannot mix IPv4 and IPv6 addresses for route"],
         False),
        ("src 192.0.2.1 default dev eth0", ["Cannot mix IPv4 and IPv6 addresses for route "
                                            "(default)"], False),
        ("192.0.2.0/24 dev eth0 from 192.0.2.0/24", ["route from address only supported with "
                                                     "IPv6 (192.0.2.0/24)"], False),
        ("192.0.2.0/24 dev eth0 table bogus", ["Routing table bogus not found for route"], False),
        ("192.0.2.0/24 dev eth0 protocol bogus", ["Protocol bogus not found or invalid for route"],
         False),
        ("192.0.2.0/24 dev eth0 scope nope", ["Scope nope not found or invalid for route"], False),
        ("192.0.2.0/24 dev eth0 tos bogus", ["TOS value bogus is invalid"], False),
        ("192.0.2.0/24 dev eth0 metric x", ["invalid number 'x'",
                                            "Invalid metric x specified for route"], False),
        ("192.0.2.0/24 dev eth0 hoplimit 256", ["number '256' outside range [0, 255]",
                                                "Invalid hoplimit 256 specified for route"], False),
        ("192.0.2.0/24 dev eth0 rtt 5000000", ["number '5000000' outside range [0., 960000.]",
                                               "Invalid rtt 5000000 for route"], False),
        ("192.0.2.0/24 dev eth0 rttvar 3x", ["invalid number '3x'", "Invalid rttvar 3x for route"],
         False),
        ("192.0.2.0/24 dev eth0 rto_min s", ["Invalid rto_min value s specified for route"], False),
        ("192.0.2.0/24 dev eth0 realms foo", ["Invalid realms foo for route"], False),
        ("2001:db8::/48 dev eth0 realms 3", ["realms are only valid for IPv4"], False),
        ("192.0.2.0/24 dev eth0 pref low", ["pref is only valid for IPv6"], False),
        ("192.0.2.0/24 dev eth0 expires 5", ["expires is only valid for IPv6"], False),
        ("192.0.2.0/24 dev eth0 features foo", ["feature foo not supported"], True),
        ("192.0.2.0/24 dev eth0 ttl-propagate maybe", ["ttl-propagate value maybe not recognised"],
         True),
        ("192.0.2.0/24 dev eth0 quickack 2", ["number '2' outside range [0, 1]",
                                              "Invalid quickack value 2 specified for route"],
         False),
        ("192.0.2.0/24 dev nosuch", ["WARNING - interface nosuch for VROUTE nexthop doesn't "
                                     "exist"], False),
        ("192.0.2.0/24 dev eth0 vrf eth1", ["Route specified VRF eth1 is not a VRF"], False),
        ("192.0.2.0/24 dev eth0 vrf nosuch", ["VRF nosuch not found for route"], False),
        ("192.0.2.0/24 dev eth0 as to 192.0.2.9", ['"as to" for MPLS only - ignoring'], True),
        ("192.0.2.0/24 dev eth0 bogus", ["VRRP parsed invalid IP bogus. skipping IP...",
                                         "unknown route keyword bogus"], False),
        ("to prohibit 192.0.2.0/24 dev eth0", ["VRRP parsed invalid IP prohibit. skipping IP...",
                                               "unknown route keyword prohibit"], False),
        ("192.0.2.0/24 dev eth0 track_group g", ["VRRP parsed invalid IP track_group. skipping "
                                                 "IP...", "unknown route keyword track_group"],
         False),
        ("192.0.2.0/24 dev eth0 via 192.0.2.1 or 192.0.2.2 or 192.0.2.3", [
            '"or" for routes is deprecated. Please use "nexthop"',
            '"or" for routes is deprecated. Please use "nexthop"',
            '"or" route already specified - ignoring subsequent'], True),
        ("192.0.2.0/24 dev eth0 via 192.0.2.1 or bad", [
            '"or" for routes is deprecated. Please use "nexthop"',
            "VRRP parsed invalid IP bad. skipping IP...", 'Invalid "or" address bad'], False),
        ("192.0.2.0/24 dev eth0 via 192.0.2.1 or 192.0.2.2 nexthop via 192.0.2.3", [
            '"or" for routes is deprecated. Please use "nexthop"',
            'Cannot specify nexthops with "or" route', "Route has trailing nonsense - nexthop"],
         False),
        ("192.0.2.0/24 dev eth0 nexthop via 192.0.2.2 weight 0",
         ["Invalid weight 0 specified for route"], True),
        ("192.0.2.0/24 dev eth0 nexthop via 2001:db8::2", ["Address family mismatch for next hop"],
         True),
        ("192.0.2.0/24 dev eth0 nexthop via inet6 2001:db8::2", ["IPv4/6 mismatch for nexthop"],
         True),
        ("2001:db8::/48 dev eth0 nexthop via 2001:db8::2 realms 5",
         ["realms are only supported for IPv4"], True),
        ("192.0.2.0/24 dev eth0 nexthop via 192.0.2.2 as 1.2.3.4", ["'as [to]' (nat) not "
                                                                    "supported"], True),
        ("192.0.2.0/24 dev eth0 nexthop via 192.0.2.2 dev nosuch",
         ["WARNING - interface nosuch for VROUTE nexthop doesn't exist"], True),
        ("192.0.2.0/24 dev eth0 nexthop via 192.0.2.2 bogus", ["Route has trailing nonsense "
                                                               "after nexthops - bogus"], True),
        ("192.0.2.0/24 dev eth0 encap", ["Missing encap type"], True),
        ("192.0.2.0/24 dev eth0 encap foo bar", ["Unknown encap type - foo"], True),
        ("192.0.2.0/24 dev eth0 encap mpls", ["missing address for MPLS encapsulation"], True),
        ("192.0.2.0/24 dev eth0 encap mpls 1/2/3", ["invalid mpls address 1/2/3 for "
                                                    "encapsulation"], True),
        ("192.0.2.0/24 dev eth0 encap mpls 1048576", ["invalid mpls address 1048576 for "
                                                      "encapsulation"], True),
        ("192.0.2.0/24 dev eth0 encap ip tos 5", ["address or id missing for ip encapsulation"],
         True),
        ("192.0.2.0/24 dev eth0 encap ip dst 2001:db8::1", [
            "IPv6 address 2001:db8::1 not valid for ip encapsulation",
            "VRRP parsed invalid IP dst. skipping IP...", "unknown route keyword dst"], False),
        ("2001:db8::/48 dev eth0 encap ip6 dst 2001:db8::9 tc bogus", [
            "tc value tc is invalid for ip6 encapsulation",
            "VRRP parsed invalid IP tc. skipping IP...", "unknown route keyword tc"], False),
        ("2001:db8::/48 dev eth0 encap ila 1:2:3", ["invalid locator 1:2:3 for ila "
                                                    "encapsulation"], True),
    ],
)  # fmt: skip
def test_route_messages(line: str, msgs: list[str], kept: bool) -> None:
    r, got = route(line)
    assert got == msgs
    assert (r is not None) == kept


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("192.0.2.0/24 via", "after keyword `via` at word position 3"),
        ("192.0.2.0/24 dev eth0 mtu lock", "after keyword `lock` at word position 6"),
        ("192.0.2.0/24 dev eth0 nexthop via", "after keyword `via` at word position 6"),
    ],
)
def test_route_missing_word_stops(line: str, message: str) -> None:
    ctx = context()
    with pytest.raises(MissingParameter):
        parse_route(ctx, line.split(), where="x")
    last = ctx.diagnostics.items[-1]
    assert last.severity is Severity.MISSING_PARAMETER
    assert last.message.startswith("*** Configuration line starting `192.0.2.0/24` is missing")
    assert last.message.endswith(message)


# --- rules -------------------------------------------------------------------------------


def test_rule_all_options() -> None:
    r, msgs = rule(
        "not from 192.0.2.0/24 to 198.51.100.0/24 lookup 100 priority 0x20 tos 0x10 "
        "fwmark 0x10/0xff realms 1/2 suppress_prefixlength 8 sup_group default iif eth0 "
        "oif eth1 tunnel-id 7 uidrange 1000-2000 protocol 18 ipproto tcp sport 1-2 "
        "dport 80-81"
    )
    assert msgs == []
    assert r == Rule(
        family=4, action=RuleAction.TO_TBL, priority=32, invert=True,
        from_prefix=ip_interface("192.0.2.0/24"), to_prefix=ip_interface("198.51.100.0/24"),
        table=100, tos=16, fwmark=16, fwmask=255, realms=(1 << 16) | 2, suppress_prefixlength=8,
        suppress_ifgroup=0, iif="eth0", oif="eth1", tunnel_id=7, uidrange=(1000, 2000),
        protocol=18, ipproto=6, sport=(1, 2), dport=(80, 81),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("from all blackhole preference 5", {"action": RuleAction.BLACKHOLE, "from_prefix": None}),
        ("type unreachable preference 5", {"action": RuleAction.UNREACHABLE}),
        ("7 preference 5", {"action": RuleAction.UNREACHABLE}),
        ("prohibit preference 5 no_track", {"action": RuleAction.PROHIBIT, "protocol": None}),
        ("nop preference 5", {"action": RuleAction.NOP}),
        ("goto 100 preference 5", {"action": RuleAction.GOTO, "goto": 100}),
        ("l3mdev preference 5", {"action": RuleAction.TO_TBL, "l3mdev": True, "table": None}),
        ("to 2001:db8::/32 table 5 preference 5", {"family": 6}),
        ("from 192.0.2.0/24 table 5 preference 5 fwmark 5/", {"fwmark": 5, "fwmask": 0}),
        ("from 192.0.2.0/24 table 5 preference 5 tunnel-id 4294967297", {"tunnel_id": 1}),
        ("from 192.0.2.0/24 table 5 preference 5 ipproto IPv6-ICMP", {"ipproto": 58}),
    ],
)
def test_rule_values(line: str, expected: dict[str, object]) -> None:
    r, msgs = rule(line)
    assert r is not None, msgs
    for key, value in expected.items():
        assert getattr(r, key) == value


@pytest.mark.parametrize(
    ("line", "msgs", "kept"),
    [
        ("from 192.0.2.0/24 preference 6", ["No action specified for rule - ignoring"], False),
        ("inet6 from 2001:db8::/32 table 5 preference 5", ["Unknown rule option 2001:db8::/32"],
         False),
        ("from 192.0.2.0/24 to 2001:db8::/32 table 5 preference 5",
         ["rule specification has mixed IPv4 and IPv6"], False),
        ("from bad table 5", ["VRRP parsed invalid IP bad. skipping IP...",
                              "Invalid rule from address bad"], False),
        ("table 0 preference 5", ["Table 0 is not valid"], False),
        ("table bogus preference 5", ["Routing table bogus not found for rule"], False),
        ("table 5 blackhole preference 5", [
            "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable/"
            "l3mdev for rule"], False),
        ("blackhole table 5 preference 5", [
            "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable for "
            "rule"], False),
        ("table 5 l3mdev preference 5", ["Cannot specify l3mdev with other action"], False),
        ("unicast preference 5", ["Invalid rule action unicast"], False),
        ("bogus preference 5", ["Unknown rule option bogus"], False),
        ("goto 5 preference 5", ["Invalid rule - preference 5 >= goto target 5"], False),
        ("goto 100", ["Invalid rule - goto target 100 specified without preference"], False),
        ("goto x preference 5", ["invalid number 'x'", "Invalid target goto specified"], False),
        ("table 5 preference x", ["invalid number 'x'", "Invalid rule preference preference "
                                                        "specified"], False),
        ("table 5 preference -1", ["negative number '-1'", "Invalid rule preference preference "
                                                           "specified"], False),
        ("table 5 preference 5 fwmark 5/-1", ["Invalid rule fwmark 5/-1 specified"], False),
        ("table 5 preference 5 fwmark x", ["Invalid rule fwmark x specified"], False),
        ("table 5 preference 5 tos bogus", ["TOS value bogus is invalid"], False),
        ("table 5 preference 5 realms foo", ["invalid realms foo for rule"], False),
        ("to 2001:db8::/32 table 5 preference 5 realms 1", ["realms is only valid for IPv4"],
         False),
        ("blackhole preference 5 realms 1/2", ["suppressor/realm specified for non table action "
                                               "- skipping"], False),
        ("table 5 preference 5 sup_pl x", ["invalid number 'x'", "Invalid suppress_prefixlength "
                                                                 "sup_pl specified"], False),
        ("table 5 preference 5 suppress_ifgroup foo", ["suppress_group foo is invalid"], False),
        ("table 5 preference 5 iif nosuch", ["WARNING - interface nosuch for rule doesn't exist"],
         False),
        ("table 5 preference 5 tunnel-id x", ["invalid number 'x'", "Invalid tunnel-id tunnel-id "
                                                                    "specified"], False),
        ("table 5 preference 5 uidrange 1000", ["Invalid uidrange uidrange specified"], False),
        ("table 5 preference 5 protocol x", ["invalid number 'x'", "Invalid protocol x"], True),
        ("table 5 preference 5 protocol 5", [
            "Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting "
            "protocol"], True),
        ("table 5 preference 5 ipproto 200", ["Invalid ipproto 200"], True),
        ("table 5 preference 5 sport 80", ["invalid sport range 80"], True),
        ("table 5 preference 5 dport x", ["invalid dport range x"], True),
        ("table 5 preference 5 track_group g", ["Unknown rule option track_group"], False),
    ],
)  # fmt: skip
def test_rule_messages(line: str, msgs: list[str], kept: bool) -> None:
    r, got = rule(line)
    assert got == msgs
    assert (r is not None) == kept


def test_rule_priorities_count_down_per_family_across_calls() -> None:
    ctx = context()
    got = [
        rule(line, ctx)[0]
        for line in ("table 5", "table 5", "to 2001:db8::/32 table 5", "table 6 preference 9")
    ]
    assert [r.priority for r in got if r] == [16384, 16383, 16384, 9]
    assert messages(ctx)[0] == (
        "Rule has no preference specified - setting to 16384. This is probably not what you want."
    )


def test_static_rule_track_group() -> None:
    ctx = context()
    line = "iif eth0 table 5 preference 5 track_group g"
    r = parse_rule(ctx, line.split(), where="s", static=True, track_groups={"g"})
    assert r is not None and r.track_group == "g" and messages(ctx) == []
    line = "table 5 preference 5 track_group g"
    r = parse_rule(ctx, line.split(), where="s", static=True, track_groups={"g"})
    assert messages(ctx) == ["Static rule cannot have track_group if dev/iif not specified"]
    assert r is not None and r.track_group is None


# --- round trip ----------------------------------------------------------------------------

ROUND_TRIP_ADDRESSES = [
    "192.0.2.10/24 dev eth0 scope link brd + label eth0:1 home -nodad mngtmpaddr",
    "192.0.2.11 peer 192.0.2.99 noprefixroute autojoin no_track use_vmac preferred_lft 7",
    "2001:db8::10/64 dev eth1 preferred_lft forever",
    "2001:db8::11",
    "2001:db8::12 peer 2001:db8::99",
]
ROUND_TRIP_ROUTES = [
    "unreachable 198.51.100.0/24 src 192.0.2.1 via 192.0.2.254 dev eth0 table 100 scope link "
    "metric 5 tos 0x10 onlink mtu lock 1400 rtt 1s rttvar 100ms rto_min lock 300ms cwnd lock 10 "
    "realms 1/2 features ecn quickack 1 congctl lock cubic ttl-propagate disabled "
    "fastopen_no_cookie 0 append",
    "default via 192.0.2.254 dev eth0 protocol 5 no_track",
    "default via 2001:db8::2 dev eth0 pref 3 expires 10",
    "2001:db8:1::/48 dev eth0 from 2001:db8:2::/48 src 2001:db8::1",
    "198.51.100.0/24 via 192.0.2.1",
    "198.51.100.0/24 via 192.0.2.1 or 192.0.2.2 dev eth0",
    "198.51.100.0/24 dev eth0 nexthop via 192.0.2.1 dev eth1 weight 3 onlink realms 4 "
    "nexthop via 192.0.2.2 encap ip id 5 dst 192.0.2.9 src 192.0.2.8 tos 4 ttl 3 flags 1",
    "2001:db8::/48 dev eth0 encap ip6 dst 2001:db8::9 tc 1 hoplimit 2 flags 3 add",
    "2001:db8::/48 dev eth0 encap ila 1:2:3:ffff",
    "198.51.100.0/24 dev eth0 encap mpls 100/200 hoplimit 3 advmss 5 reordering 6 window 7 "
    "ssthresh 8 initcwnd 9 initrwnd 10",
    "local 192.0.2.77 dev eth0 table local",
]
ROUND_TRIP_RULES = [
    "not from 192.0.2.0/24 to 198.51.100.0/24 lookup 100 priority 0x20 tos 0x10 fwmark 0x10/0xff "
    "realms 1/2 suppress_prefixlength 8 sup_group default iif eth0 oif eth1 tunnel-id 7 "
    "uidrange 1000-2000 ipproto tcp sport 1-2 dport 80-81",
    "inet6 inet6 blackhole preference 5",
    "from 192.0.2.0/24 goto 100 preference 5 protocol 4 no_track",
    "l3mdev preference 6",
    "nop fwmark 5",
    "to all prohibit preference 7",
]


@pytest.mark.parametrize("line", ROUND_TRIP_ADDRESSES)
def test_address_round_trip(line: str) -> None:
    first = parse_address(context(), line.split(), where="x")
    assert first is not None
    ctx = context()
    assert parse_address(ctx, format_address(first).split(), where="x") == first
    assert messages(ctx) == []


@pytest.mark.parametrize("line", ROUND_TRIP_ROUTES)
def test_route_round_trip(line: str) -> None:
    first = parse_route(context(), line.split(), where="x")
    assert first is not None
    ctx = context()
    assert parse_route(ctx, format_route(first).split(), where="x") == first
    assert messages(ctx) == []


@pytest.mark.parametrize("line", ROUND_TRIP_RULES)
def test_rule_round_trip(line: str) -> None:
    first = parse_rule(context(), line.split(), where="x")
    assert first is not None
    ctx = context()
    assert parse_rule(ctx, format_rule(first).split(), where="x") == first
    assert messages(ctx) == []


# --- names --------------------------------------------------------------------------------


def test_names_from_files_and_defaults() -> None:
    files = {"rt_tables": "# comment\n100 inr.ruhep\n254 mymain\nbad line here\n-1 neg\n"}
    names = RtNames.from_texts(files.get)
    assert names.lookup("tables", "inr.ruhep", 2**32 - 1) == 100
    assert names.lookup("tables", "mymain", 2**32 - 1) == 254
    assert names.lookup("tables", "main", 2**32 - 1) is None  # 254 is named in the file
    assert names.lookup("tables", "local", 2**32 - 1) == 255
    assert names.lookup("tables", "0x20", 2**32 - 1) == 32
    assert names.lookup("dsfields", "AF11", 255) is None
    assert RtNames.stock().lookup("dsfields", "AF11", 255) == 0x28
    assert RtNames.stock().lookup("dsfields", "256", 255) is None
    assert parse_rt_file("0x10 a\n010 b\n1 2 3\n", 255) == (("a", 16), ("b", 8))


def test_strtoul_is_c_strtoul() -> None:
    assert strtoul("  12x") == (12, 4)
    assert strtoul("0x1f", 0) == (31, 4)
    assert strtoul("010", 0) == (8, 3)
    assert strtoul("08", 0) == (0, 1)
    assert strtoul("-1") == (2**64 - 1, 2)
    assert strtoul("x") == (0, 0)
    assert strtoul(str(2**70)) == (2**64 - 1, 22)


def test_names_come_from_the_host() -> None:
    class FileHost(Host):
        def iproute2_file(self, name: str) -> str | None:
            return "100 blue\n" if name == "rt_tables" else None

    r, msgs = route("192.0.2.0/24 dev eth0 table blue", context(FileHost()))
    assert msgs == [] and r is not None and r.table == 100


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(st.integers(0, 300).map(str), st.sampled_from(["", "01", "00", "-1", "1a"])),
        min_size=1,
        max_size=5,
    ).map(".".join)
    | st.text(alphabet="0123456789.٣ x", max_size=16)
)
def test_dotted_quads_are_read_as_ipaddress_reads_them(text: str) -> None:
    from pykad.config.iproute import _pton

    try:
        expected: IPv4Address | None = IPv4Address(text)
    except ValueError:
        expected = None
    assert _pton(text) == expected
