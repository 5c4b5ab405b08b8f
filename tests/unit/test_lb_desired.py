"""The desired IPVS table (pykad.lb.desired) against keepalived 2.2.7.

The expected services and destinations of ``test_services_and_dests_are_keepalived_s``
were captured from a real keepalived 2.2.7 (``keepalived -n -l -D --check``),
whose generic-netlink requests were logged by an LD_PRELOAD shim standing in
for the missing IPVS module (every request acknowledged), and replayed onto a
table.  The rest is derived from keepalived's C source (function names cited).
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pykad.config.build import NoHost
from pykad.config.load import load
from pykad.config.sections._lvs_model import (
    WEIGHT_LIMIT,
    Forwarding,
    GroupFwmark,
    GroupRange,
    LvsConfig,
    Method,
    Protocol,
    RealServer,
    Scheduler,
    SorryServer,
    VirtualServer,
    VirtualServerGroup,
)
from pykad.drivers.files import LocalFiles
from pykad.lb.desired import (
    dest,
    expand_range,
    format_rs,
    format_vs,
    inet_ntop,
    services,
    table,
    vs_names,
)
from pykad.lb.table import (
    FWD_DROUTE,
    FWD_MASQ,
    FWD_TUNNEL,
    SVC_F_ONEPACKET,
    SVC_F_PERSISTENT,
    SVC_F_SCHED1,
    SVC_F_SCHED2,
    Dest,
    DestKey,
    Service,
    ServiceKey,
)

V4, V6 = socket.AF_INET, socket.AF_INET6
TCP, UDP, SCTP = socket.IPPROTO_TCP, socket.IPPROTO_UDP, socket.IPPROTO_SCTP


def parse(tmp_path: Path, text: str) -> LvsConfig:
    (tmp_path / "k.conf").write_text(text)
    loaded = load(LocalFiles(), "k.conf", cwd=str(tmp_path), config_id="t", host=NoHost())
    config = loaded.parts["lvs"]
    assert isinstance(config, LvsConfig)
    return config


def a(text: str) -> bytes:
    return ip_address(text).packed


CAPTURED = """
virtual_server_group G {
  10.0.0.1-3 80
  10.1.0.5 0
  fwmark 9
}
virtual_server group G {
  protocol UDP
  ops
  lvs_sched sh
  sh-port
  persistence_timeout 100
  persistence_granularity 255.255.255.0
  lvs_method DR
  real_server 198.51.100.21 80 {
    weight 3
  }
  real_server 198.51.100.22 8080 {
    lvs_method NAT
  }
}
virtual_server 192.0.2.5 0 {
  protocol TCP
  ops
  lvs_sched mh
  mh-fallback
  real_server 198.51.100.23 0 {
    lvs_method TUN type gue port 6080 csum
  }
  real_server 198.51.100.24 0 {
    lvs_method TUN type gre
    weight 7
  }
}
virtual_server fwmark 11 {
  ip_family inet6
  persistence_engine sip
  lvs_sched rr
  real_server 2001:db8::30 0 {
    lvs_method DR
    uthreshold 100
    lthreshold 10
  }
  real_server 198.51.100.25 0 {
    lvs_method TUN
  }
}
virtual_server 2001:db8::40 443 {
  protocol SCTP
  persistence_granularity 64
  lvs_method NAT
  real_server 2001:db8::41 443 {
    weight 0
  }
}
"""


def test_services_and_dests_are_keepalived_s(tmp_path: Path) -> None:
    """Captured from keepalived 2.2.7's requests (see the module docstring)."""
    config = parse(tmp_path, CAPTURED)
    got = table(
        (services(config, vs), [(rs, rs.weight) for rs in vs.real_servers])
        for vs in config.virtual_servers
    )
    # The group: one service per range address and per fwmark; ops kept (UDP);
    # sh-port = SCHED2; the granularity ignored (ipvs_group_range_cmd: /32).
    group_flags = SVC_F_PERSISTENT | SVC_F_ONEPACKET | SVC_F_SCHED2
    group = [
        Service(key=k, scheduler="sh", flags=group_flags, timeout=100)
        for k in (
            ServiceKey(V4, UDP, a("10.0.0.1"), 80),
            ServiceKey(V4, UDP, a("10.0.0.2"), 80),
            ServiceKey(V4, UDP, a("10.0.0.3"), 80),
            ServiceKey(V4, UDP, a("10.1.0.5"), 0),
            ServiceKey.by_fwmark(V4, 9),
        )
    ]
    # ops reset for TCP, zero port made persistent (validate_check_config);
    # mh-fallback = SCHED1.
    tun = ServiceKey(V4, TCP, a("192.0.2.5"), 0)
    # persistence_engine alone does not make a service persistent (pengine_handler).
    fwm = ServiceKey.by_fwmark(V6, 11)
    # persistence_granularity implies 360 s (pgr_handler); IPv6: a prefix length.
    sctp = ServiceKey(V6, SCTP, a("2001:db8::40"), 443)
    assert dict(got.services) == {
        s.key: s
        for s in [
            *group,
            Service(key=tun, scheduler="mh", flags=SVC_F_PERSISTENT | SVC_F_SCHED1, timeout=360),
            Service(key=fwm, scheduler="rr", netmask=128),
            Service(key=sctp, scheduler="wlc", flags=SVC_F_PERSISTENT, timeout=360, netmask=64),
        ]
    }
    dr21 = a("198.51.100.21")
    nat22 = Dest(key=DestKey(a("198.51.100.22"), 8080), weight=1, fwd=FWD_MASQ)
    for s in group:
        # A DR destination takes the service's port (0 for fwmark), NAT keeps its own.
        d21 = Dest(key=DestKey(dr21, s.key.port), weight=3, fwd=FWD_DROUTE)
        assert dict(got.dests[s.key]) == {d21.key: d21, nat22.key: nat22}
    assert set(got.dests[tun].values()) == {
        Dest(
            key=DestKey(a("198.51.100.23"), 0),
            fwd=FWD_TUNNEL,
            tun_type=1,
            tun_port=6080,
            tun_flags=1,
        ),
        Dest(key=DestKey(a("198.51.100.24"), 0), weight=7, fwd=FWD_TUNNEL, tun_type=2),
    }
    assert set(got.dests[fwm].values()) == {
        Dest(key=DestKey(a("2001:db8::30"), 0), fwd=FWD_DROUTE, u_threshold=100, l_threshold=10),
        Dest(key=DestKey(a("198.51.100.25"), 0, V4), fwd=FWD_TUNNEL),  # mixed family
    }
    assert set(got.dests[sctp].values()) == {Dest(key=DestKey(a("2001:db8::41"), 443), weight=0)}


def test_names_are_keepalived_s(tmp_path: Path) -> None:
    """format_vs / format_rs; the group member number (link_vsg_to_vs)."""
    config = parse(
        tmp_path,
        CAPTURED
        + "virtual_server group G {\n protocol TCP\n real_server 198.51.100.26 80 {\n }\n}\n",
    )
    assert vs_names(config) == (
        "[G]:0",
        "[192.0.2.5]:tcp:0",
        "FWM 11",
        "[2001:db8::40]:sctp:443",
        "[G]:1",
    )
    vs = config.virtual_servers
    assert format_rs(vs[0], vs[0].real_servers[1]) == "[198.51.100.22]:udp:8080"
    assert format_rs(vs[2], vs[2].real_servers[0]) == "[2001:db8::30]:none:0"


@given(st.binary(min_size=16, max_size=16))
def test_inet_ntop_is_glibc_s(packed: bytes) -> None:
    """socket.inet_ntop is glibc's: the oracle (Python's str differs for ::a.b.c.d)."""
    assert inet_ntop(IPv6Address(packed)) == socket.inet_ntop(V6, packed)


@given(st.integers(0, 2**48) | (st.integers(0, 2**32) | st.just(0xFFFF << 32)))
def test_inet_ntop_of_mostly_zero_addresses(value: int) -> None:
    """Embedded IPv4 forms (glibc inet_ntop6: ``::a.b.c.d``, ``::ffff:a.b.c.d``)."""
    packed = value.to_bytes(16, "big")
    assert inet_ntop(IPv6Address(packed)) == socket.inet_ntop(V6, packed)


def test_inet_ntop_examples() -> None:
    for text in ("::ffff:198.51.100.7", "::1.2.3.4", "::1", "::", "1::", "2001:db8::1:0:0:1"):
        assert inet_ntop(IPv6Address(text)) == text
    assert inet_ntop(IPv4Address("192.0.2.1")) == "192.0.2.1"


def test_ranges_increment_the_last_octet_or_group() -> None:
    """ipvs_group_range_cmd: +1 on the last octet / 16-bit group, no carry."""
    r = GroupRange(start=IPv4Address("10.0.0.254"), end=IPv4Address("10.0.0.255"))
    assert expand_range(r) == (IPv4Address("10.0.0.254"), IPv4Address("10.0.0.255"))
    one = GroupRange(start=IPv4Address("10.0.0.7"), end=IPv4Address("10.0.0.7"))
    assert expand_range(one) == (IPv4Address("10.0.0.7"),)
    # IPv6 compares only the last group: this "range" wraps round it.
    r6 = GroupRange(start=IPv6Address("2001:db8::fffe"), end=IPv6Address("2001:db8:1::1"))
    assert expand_range(r6) == tuple(
        IPv6Address(x) for x in ("2001:db8::fffe", "2001:db8::ffff", "2001:db8::", "2001:db8::1")
    )
    # An IPv4 range across octets never ends in keepalived: the 256 it adds.
    wide = GroupRange(start=IPv4Address("10.0.0.5"), end=IPv4Address("10.0.1.9"))
    got = expand_range(wide)
    assert len(got) == 256 and got[0] == IPv4Address("10.0.0.5")
    assert set(got) == {IPv4Address(f"10.0.0.{i}") for i in range(256)}


@given(st.integers(0, 250), st.integers(0, 5))
def test_an_ipv4_range_is_every_address_from_start_to_end(start: int, extra: int) -> None:
    end = min(start + extra, 255)
    r = GroupRange(start=IPv4Address(f"10.9.8.{start}"), end=IPv4Address(f"10.9.8.{end}"))
    assert expand_range(r) == tuple(IPv4Address(f"10.9.8.{i}") for i in range(start, end + 1))


def _vs(**kw: object) -> VirtualServer:
    base: dict[str, object] = {
        "address": ip_address("192.0.2.1"),
        "port": 80,
        "family": 4,
        "protocol": Protocol.TCP,
        "real_servers": (RealServer(address=ip_address("198.51.100.1"), port=80),),
    }
    base.update(kw)
    return VirtualServer(**base)  # type: ignore[arg-type]


def test_hand_built_models_get_keepalived_s_rules() -> None:
    """lbflags_handler / validate_check_config rules, applied to a model built by hand."""
    config = LvsConfig()
    (s,) = services(config, _vs(ops=True, sh_port=True, mh_fallback=True))
    assert s.flags == 0  # ops needs UDP; sh-/mh- flags need their scheduler
    (s,) = services(config, _vs(protocol=Protocol.UDP, ops=True))
    assert s.flags == SVC_F_ONEPACKET
    (s,) = services(config, _vs(port=0))
    assert (s.flags, s.timeout) == (SVC_F_PERSISTENT, 360)  # zero port: persistent
    (s,) = services(config, _vs(persistence_engine="sip"))
    assert (s.flags, s.timeout, s.pe_name) == (0, 0, "")
    (s,) = services(config, _vs(persistence_engine="sip", persistence_timeout=50))
    assert (s.flags, s.timeout, s.pe_name) == (SVC_F_PERSISTENT, 50, "sip")
    g = IPv4Address("255.255.255.0")
    (s,) = services(config, _vs(persistence_granularity=g))
    assert (s.timeout, s.netmask) == (360, 0xFFFFFF00)
    (s,) = services(config, _vs(fwmark=5, address=None, protocol=None, family=6, ops=True))
    assert (s.key, s.flags, s.netmask) == (ServiceKey.by_fwmark(V6, 5), SVC_F_ONEPACKET, 128)
    (s,) = services(config, _vs(scheduler=Scheduler.MH, mh_port=True, mh_fallback=True))
    assert s.flags == SVC_F_SCHED1 | SVC_F_SCHED2


def test_group_fwmark_family_defaults() -> None:
    """ipvs_group_cmd: the entry's family, else the virtual server's, else IPv4."""
    group = VirtualServerGroup(
        name="g", fwmarks=(GroupFwmark(fwmark=1, family=6), GroupFwmark(fwmark=2))
    )
    config = LvsConfig(groups=(group,))
    vs = _vs(group="g", address=None, port=0, family=None, protocol=None)
    assert [s.key for s in services(config, vs)] == [
        ServiceKey.by_fwmark(V6, 1),
        ServiceKey.by_fwmark(V4, 2),
    ]
    assert services(config, _vs(group="missing", address=None)) == ()


@given(st.integers(-(2**40), 2**40))
def test_weights_are_clamped(weight: int) -> None:
    """real_weight: 0..INT32_MAX."""
    rs = RealServer(address=ip_address("198.51.100.1"), port=80)
    d = dest(ServiceKey(V4, TCP, a("192.0.2.1"), 80), rs, weight)
    assert d.weight == min(max(weight, 0), WEIGHT_LIMIT)


def test_dest_ports_follow_the_forwarding_method() -> None:
    """ipvs_cmd: a non-NAT destination takes the service's port, 0 for fwmark services."""
    by_addr = ServiceKey(V4, TCP, a("192.0.2.1"), 443)
    by_mark = ServiceKey.by_fwmark(V4, 3)
    nat = RealServer(address=ip_address("198.51.100.1"), port=8443)
    dr = RealServer(
        address=ip_address("198.51.100.1"), port=8443, forwarding=Forwarding(method=Method.DR)
    )
    sorry = SorryServer(address=ip_address("198.51.100.9"), port=81)
    assert dest(by_addr, nat, 1).key.port == 8443
    assert dest(by_mark, nat, 1).key.port == 8443
    assert dest(by_addr, dr, 1).key.port == 443
    assert dest(by_mark, dr, 1).key.port == 0
    assert dest(by_addr, sorry, 1) == Dest(key=DestKey(a("198.51.100.9"), 81), weight=1)


def test_shared_services_and_dests_keep_the_first_value() -> None:
    """Two virtual servers on one service: the first one's value (EEXIST ignored)."""
    key = ServiceKey(V4, TCP, a("192.0.2.1"), 80)
    rs = RealServer(address=ip_address("198.51.100.1"), port=80)
    first, second = Service(key=key, scheduler="rr"), Service(key=key, scheduler="wrr")
    got = table([((first,), [(rs, 5)]), ((second,), [(rs, 9)])])
    assert got.services == {key: first}
    assert [d.weight for d in got.dests[key].values()] == [5]


def test_format_vs_of_a_group_member() -> None:
    assert format_vs(_vs(group="web", address=None), 3) == "[web]:3"
