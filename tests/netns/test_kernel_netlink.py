"""The batched rtnetlink writer on the real kernel, inside a throwaway namespace.

Owns: a batch of 1000 IPv4 and some IPv6 addresses (labels, broadcast, peer,
nodad, deprecated) lands as ``ip -j addr`` shows it; one bad op in a batch fails
alone; deletes and "already so" answers; FakeKernel gives the same answers and
ends in the same state as the kernel for the same batches; route and rule batches;
NetlinkLinks facts.  The writer runs in a child process inside the namespace
(``ip netns exec``), so nothing ever touches the host's namespace.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import sys
from collections.abc import Sequence
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv6Address,
    IPv6Interface,
    ip_address,
    ip_interface,
)
from typing import Any

import pytest

from lab.netns import Topology
from pykad.kernel.api import (
    IFA_F_DEPRECATED,
    IFA_F_HOMEADDRESS,
    IFA_F_NODAD,
    IFA_F_NOPREFIXROUTE,
    IFA_F_SECONDARY,
    AddressEntry,
    AddressOp,
    RouteOp,
    RuleOp,
)
from pykad.kernel.fake import FakeKernel

pytestmark = pytest.mark.netns

AnyOp = AddressOp | RouteOp | RuleOp
_STRINGS = {"label", "iifname", "oifname"}
_KINDS: dict[str, type[AnyOp]] = {"addr": AddressOp, "route": RouteOp, "rule": RuleOp}

# Runs inside the namespace: reads {"batches": [[op, ...], ...], "link": name} on stdin,
# prints per-batch errnos, messages and times, the final address dump and link facts.
RUNNER = r"""
import dataclasses, json, sys, time
from ipaddress import ip_address, ip_interface
from pykad.kernel.api import AddressOp, RouteOp, RuleOp
from pykad.kernel.links import NetlinkLinks
from pykad.kernel.netlink import NetlinkBatchWriter

KINDS = {"addr": AddressOp, "route": RouteOp, "rule": RuleOp}
STRINGS = {"label", "iifname", "oifname"}

def op_from(d):
    cls = KINDS[d.pop("kind")]
    for k, v in d.items():
        if isinstance(v, str) and k not in STRINGS:
            d[k] = ip_interface(v) if "/" in v else ip_address(v)
    return cls(**d)

def text(v):
    return str(v) if v is not None and not isinstance(v, (int, str)) else v

job = json.load(sys.stdin)
out = {"batches": []}
with NetlinkBatchWriter() as w:
    for batch in job["batches"]:
        ops = [op_from(d) for d in batch]
        kind = type(ops[0]) if ops else AddressOp
        apply = {AddressOp: w.apply, RouteOp: w.apply_routes, RuleOp: w.apply_rules}[kind]
        t = time.perf_counter()
        results = apply(ops)
        seconds = time.perf_counter() - t
        out["batches"].append({"errnos": [r.errno for r in results],
                               "messages": [r.message for r in results], "seconds": seconds})
    out["entries"] = [{k: text(v) for k, v in dataclasses.asdict(e).items()}
                      for e in w.entries()]
links = NetlinkLinks()
i = links.ifindex(job["link"])
out["links"] = {"ifindex": i, "mac": links.mac(i).hex(), "up": links.is_up(i),
                "primary": text(links.primary_ipv4(i)),
                "ll": text(links.link_local_ipv6(i)), "missing": links.ifindex("nope")}
print(json.dumps(out))
"""


def to_json(op: AnyOp) -> dict[str, Any]:
    kind = next(k for k, cls in _KINDS.items() if isinstance(op, cls))
    d: dict[str, Any] = {"kind": kind}
    for f in dataclasses.fields(op):
        v = getattr(op, f.name)
        d[f.name] = str(v) if v is not None and not isinstance(v, int | str) else v
    return d


def entry_from(d: dict[str, Any]) -> AddressEntry:
    for k in ("address",):
        d[k] = ip_interface(d[k])
    for k in ("broadcast", "peer"):
        d[k] = ip_address(d[k]) if d[k] is not None else None
    return AddressEntry(**d)


def run_batches(
    topo: Topology, batches: Sequence[Sequence[AnyOp]], link: str = "eth0"
) -> dict[str, Any]:
    job = json.dumps({"batches": [[to_json(op) for op in b] for b in batches], "link": link})
    done = topo.run("A", sys.executable, "-c", RUNNER, input=job, timeout=120)
    out: dict[str, Any] = json.loads(done.stdout)
    out["entries"] = [entry_from(d) for d in out["entries"]]
    return out


def ifindex(topo: Topology, name: str = "eth0") -> int:
    return int(json.loads(topo.ip("A", "-j", "link", "show", name).stdout)[0]["ifindex"])


@pytest.fixture
def lab(netns_lab: Topology) -> Topology:
    """Node A with IPv6 on and a veth pair eth0/eth1 (both up, so eth0 has carrier)."""
    netns_lab.add_node("A", ipv6=True)
    netns_lab.sysctl("A", {"net.ipv6.conf.all.accept_dad": "0"})
    netns_lab.add_veth("A", "eth0", "A", "eth1")
    return netns_lab


def ip_json(topo: Topology, name: str = "eth0") -> dict[str, dict[str, Any]]:
    """``ip -j addr show dev NAME``: addr_info by "local/prefixlen"."""
    data = json.loads(topo.ip("A", "-j", "addr", "show", "dev", name).stdout)
    return {f"{i['local']}/{i['prefixlen']}": i for i in data[0]["addr_info"]}


def ours(entries: list[AddressEntry], index: int) -> list[AddressEntry]:
    """Addresses the test made on ``index`` (not the kernel's own link-local ones)."""
    return [
        e
        for e in entries
        if e.ifindex == index and not (e.address.version == 6 and e.address.ip.is_link_local)
    ]


# --------------------------------------------------------------------------- addresses


def bulk_v4(index: int, count: int = 1000) -> list[AddressOp]:
    base = int(IPv4Address("198.18.0.0"))
    return [
        AddressOp(add=True, ifindex=index, address=IPv4Interface((base + i, 32)))
        for i in range(count)
    ]


def featured(index: int) -> list[AddressOp]:
    return [
        AddressOp(
            add=True,
            ifindex=index,
            address=IPv4Interface("192.0.2.1/24"),
            broadcast=IPv4Address("192.0.2.255"),
            label="eth0:vip",
        ),
        AddressOp(add=True, ifindex=index, address=IPv4Interface("192.0.2.10/24")),
        AddressOp(
            add=True,
            ifindex=index,
            address=IPv4Interface("203.0.113.1/32"),
            peer=IPv4Address("203.0.113.2"),
            scope=253,
        ),
        AddressOp(add=True, ifindex=index, address=IPv6Interface("2001:db8::1/64")),
        AddressOp(
            add=True,
            ifindex=index,
            address=IPv6Interface("2001:db8::2/128"),
            preferred_lft=0,
            home=True,
        ),
        AddressOp(
            add=True, ifindex=index, address=IPv6Interface("2001:db8:1::1/64"), noprefixroute=True
        ),
    ] + [
        AddressOp(add=True, ifindex=index, address=IPv6Interface(f"2001:db8:2::{i:x}/128"))
        for i in range(1, 51)
    ]


def test_a_batch_of_1000_addresses_lands_with_its_flags(lab: Topology) -> None:
    index = ifindex(lab)
    ops = bulk_v4(index) + featured(index)
    out = run_batches(lab, [ops])
    (batch,) = out["batches"]
    assert batch["errnos"] == [0] * len(ops)
    seen = ip_json(lab)
    assert {str(op.address) for op in ops} <= set(seen)
    vip = seen["192.0.2.1/24"]
    assert (vip["label"], vip["broadcast"], vip["scope"]) == ("eth0:vip", "192.0.2.255", "global")
    assert seen["192.0.2.10/24"].get("secondary") is True
    assert seen["203.0.113.1/32"]["address"] == "203.0.113.2"
    assert seen["203.0.113.1/32"]["scope"] == "link"
    assert seen["2001:db8::1/64"].get("nodad") is True
    dep = seen["2001:db8::2/128"]
    assert (dep.get("deprecated"), dep.get("home"), dep["preferred_life_time"]) == (True, True, 0)
    assert seen["2001:db8:1::1/64"].get("noprefixroute") is True
    assert all(seen[f"198.18.{i >> 8}.{i & 255}/32"]["scope"] == "global" for i in range(1000))
    # the writer's own dump agrees with ip(8)
    assert {str(e.address) for e in out["entries"] if e.ifindex == index} == set(seen)
    by_addr = {str(e.address): e for e in out["entries"]}
    assert by_addr["2001:db8::2/128"].flags & IFA_F_DEPRECATED
    assert by_addr["192.0.2.10/24"].secondary
    print(f"1000 IPv4 + {len(ops) - 1000} IPv6/featured in one batch: {batch['seconds']:.3f} s")


def test_one_bad_op_fails_alone(lab: Topology) -> None:
    index = ifindex(lab)
    good = bulk_v4(index, 200)
    bad = AddressOp(add=True, ifindex=9999, address=IPv4Interface("192.0.2.77/24"))
    ops = [*good[:100], bad, *good[100:]]
    out = run_batches(lab, [ops])
    errnos = out["batches"][0]["errnos"]
    assert errnos[100] == errno.ENODEV
    assert errnos[:100] == errnos[101:] == [0] * 100
    assert out["batches"][0]["messages"][100]  # the kernel's extended ack text
    assert len(ip_json(lab)) == 200 + 1  # + the link-local address


def test_deletes_and_already_so(lab: Topology) -> None:
    index = ifindex(lab)
    adds = bulk_v4(index, 300) + featured(index)
    deletes = [dataclasses.replace(op, add=False) for op in adds]
    out = run_batches(lab, [adds, adds, deletes, deletes])
    first, again, gone, gone_again = (b["errnos"] for b in out["batches"])
    assert first == [0] * len(adds)
    assert again == [errno.EEXIST] * len(adds)
    # 192.0.2.10/24 is a secondary of 192.0.2.1/24, deleted with it (no promote_secondaries)
    expect = [0] * len(adds)
    expect[301] = errno.EADDRNOTAVAIL
    assert gone == expect
    assert gone_again == [errno.EADDRNOTAVAIL] * len(adds)
    assert ours(out["entries"], index) == []


def _comparable(e: AddressEntry) -> tuple[object, ...]:
    shown = IFA_F_SECONDARY | IFA_F_NODAD | IFA_F_HOMEADDRESS | IFA_F_NOPREFIXROUTE
    shown |= IFA_F_DEPRECATED
    return (e.key, e.flags & shown, e.scope, e.label, e.broadcast, e.peer, e.preferred_lft)


def test_fake_kernel_answers_as_the_kernel_does(lab: Topology) -> None:
    index = ifindex(lab)
    a = featured(index)[:6]

    def op(address: str, add: bool = True, **kw: Any) -> AddressOp:
        kw.setdefault("ifindex", index)
        return AddressOp(add=add, address=ip_interface(address), **kw)

    batches: list[list[AddressOp]] = [
        a,
        [
            a[0],  # EEXIST
            op("192.0.2.1/25"),  # same address, other prefix: a new primary
            op("192.0.2.11/24"),  # another secondary
            op("192.0.2.12/24", scope=253),  # other scope in the subnet: EINVAL
            op("2001:db8::1/128"),  # IPv6: same address, any prefix: EEXIST
            op("198.51.100.1/24", ifindex=9999),  # ENODEV
        ],
        [
            op("192.0.2.1/26", add=False),  # wrong prefix: EADDRNOTAVAIL
            op("2001:db8::1/128", add=False),  # IPv6 matches the prefix length too
            op("192.0.2.1/24", add=False),  # primary: its secondaries go too
            op("192.0.2.10/24", add=False),  # ... so this is gone already
            op("198.51.100.1/24", add=False, ifindex=9999),  # ENODEV
        ],
    ]
    out = run_batches(lab, batches)
    fake = FakeKernel()
    fake.add_link("eth0", ifindex=index)
    expected = [[r.errno for r in fake.apply(b)] for b in batches]
    assert [b["errnos"] for b in out["batches"]] == expected
    assert sorted(map(_comparable, ours(out["entries"], index)), key=repr) == sorted(
        map(_comparable, fake.entries()), key=repr
    )
    assert len(fake.batches) == len(batches)


# --------------------------------------------------------------------------- routes, rules, links


def test_routes_and_rules_batches(lab: Topology) -> None:
    index = ifindex(lab)
    addr = AddressOp(add=True, ifindex=index, address=IPv4Interface("192.0.2.1/24"))
    route = RouteOp(add=True, dst=IPv4Interface("198.51.100.0/24"), via=IPv4Address("192.0.2.254"))
    routes = [
        route,
        route,
        RouteOp(add=True, dst=IPv6Interface("2001:db8:5::/48"), ifindex=index, table=100),
        RouteOp(add=True, dst=IPv4Interface("203.0.113.0/24"), ifindex=9999),
    ]
    unroutes = [dataclasses.replace(r, add=False) for r in routes[:3]]
    rule = RuleOp(add=True, family=4, priority=100, src=IPv4Interface("192.0.2.0/24"), table=100)
    rule6 = RuleOp(add=True, family=6, priority=101, fwmark=7, table=100)
    rules = [rule, rule, rule6]
    unrules = [dataclasses.replace(r, add=False) for r in rules]
    out = run_batches(lab, [[addr], routes, rules, unroutes, unrules])
    got = [b["errnos"] for b in out["batches"]]
    assert got == [
        [0],
        [0, errno.EEXIST, 0, errno.ENODEV],
        [0, errno.EEXIST, 0],
        [0, errno.ESRCH, 0],
        [0, errno.ENOENT, 0],
    ]
    fake = FakeKernel()
    fake.add_link("eth0", ifindex=index)
    fake.apply([addr])
    assert [r.errno for r in fake.apply_routes(routes)] == got[1]
    assert [r.errno for r in fake.apply_rules(rules)] == got[2]
    assert [r.errno for r in fake.apply_routes(unroutes)] == got[3]
    assert [r.errno for r in fake.apply_rules(unrules)] == got[4]


def test_links_facts(lab: Topology) -> None:
    index = ifindex(lab)
    ops = [
        AddressOp(add=True, ifindex=index, address=IPv4Interface("192.0.2.1/24")),
        AddressOp(add=True, ifindex=index, address=IPv4Interface("192.0.2.2/24")),
    ]
    links = run_batches(lab, [ops])["links"]
    data = json.loads(lab.ip("A", "-j", "link", "show", "eth0").stdout)[0]
    assert links["ifindex"] == index and links["missing"] is None
    assert links["mac"] == data["address"].replace(":", "")
    assert links["up"] is True
    assert links["primary"] == "192.0.2.1"
    assert IPv6Address(links["ll"]).is_link_local
    lab.link_set("A", "eth1", up=False)  # eth0 loses carrier: up but not running
    assert run_batches(lab, [[]])["links"]["up"] is False


def test_link_dump_sees_index_name_mac_and_state(netns_lab: Topology) -> None:
    """``NetlinkBatchWriter.links`` (what the VRRP service looks interfaces up with)."""
    netns_lab.lan({"A": "192.0.2.1/24"})
    netns_lab.ip("A", "link", "set", "eth0", "address", "02:00:00:00:00:0a")
    script = (
        "from pykad.kernel.netlink import NetlinkBatchWriter\n"
        "links = {l.name: l for l in NetlinkBatchWriter().links()}\n"
        "e = links['eth0']\n"
        "print(e.ifindex, e.mac.hex(), e.up, links['lo'].up)\n"
    )
    out = netns_lab.run("A", sys.executable, "-c", script).stdout.split()
    assert out[1:] == ["02000000000a", "True", "True"]
    assert int(out[0]) == int(netns_lab.run("A", "cat", "/sys/class/net/eth0/ifindex").stdout)
