"""pykad and keepalived 2.2.7 in one VRRP group: election, preemption, failover both ways.

Each scenario runs keepalived on node A and pykad on node B, on one bridge, for
VRRPv2 with PASS and with AH authentication, VRRPv3 over IPv4 at 10 ms adverts, VRRPv3 over
IPv6, and VRRPv3 unicast; once with pykad as the higher priority and once as
the lower (AH: the lower only, see ``CELLS``). After every transition exactly one
node holds the VIP. The keepalived lab's log parser reads both daemons' logs: pykad
logs keepalived's state lines.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

import pytest

from lab.keepalived import PYKAD, Keepalived, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for

pytestmark = [pytest.mark.interop, pytest.mark.slow]


@dataclass(frozen=True)
class Scenario:
    name: str
    version: int
    advert_int: float
    vip: str
    addresses: tuple[str, str]
    extra: str = ""
    ipv6: bool = False

    def config(self, node: int, priority: int, *, nopreempt: bool = False) -> str:
        me, peer = (a.split("/")[0] for a in (self.addresses[node], self.addresses[1 - node]))
        extra = self.extra.format(me=me, peer=peer) + ("\nnopreempt" if nopreempt else "")
        return vrrp_instance_config(
            priority=priority,
            vips=[self.vip],
            advert_int=self.advert_int,
            version=self.version,
            extra=extra,
        )

    @property
    def takeover_s(self) -> float:
        """A generous bound on a takeover: the master-down interval and start-up slack."""
        return 4 * self.advert_int + 3.0


SCENARIOS = [
    Scenario(
        "v2-pass",
        2,
        1,
        "192.0.2.10/24",
        ("192.0.2.1/24", "192.0.2.2/24"),
        "authentication {{\n    auth_type PASS\n    auth_pass s3cret\n}}",
    ),
    Scenario(
        "v2-ah",
        2,
        1,
        "192.0.2.10/24",
        ("192.0.2.1/24", "192.0.2.2/24"),
        "authentication {{\n    auth_type AH\n    auth_pass s3cret\n}}",
    ),
    Scenario("v3-ipv4-10ms", 3, 0.01, "192.0.2.10/24", ("192.0.2.1/24", "192.0.2.2/24")),
    Scenario("v3-ipv6", 3, 0.1, "2001:db8::10/64", ("2001:db8::1/64", "2001:db8::2/64"), ipv6=True),
    Scenario("v3-vmac", 3, 0.1, "192.0.2.10/24", ("192.0.2.1/24", "192.0.2.2/24"), "use_vmac"),
    Scenario(
        "v3-ipv6-vmac",
        3,
        0.1,
        "2001:db8::10/64",
        ("2001:db8::1/64", "2001:db8::2/64"),
        "use_vmac",
        ipv6=True,
    ),
    Scenario(
        "v3-unicast",
        3,
        0.1,
        "192.0.2.10/24",
        ("192.0.2.1/24", "192.0.2.2/24"),
        "unicast_src_ip {me}\nunicast_peer {{\n    {peer}\n}}",
    ),
]


class Pair:
    """keepalived on A, pykad on B; the VIP's holders; start and stop either."""

    def __init__(self, topo: Topology, lab: KeepalivedLab, s: Scenario) -> None:
        self.topo, self.lab, self.s = topo, lab, s
        self.vip = ipaddress.ip_interface(s.vip)
        self.runs = 0
        if s.ipv6:
            for node in ("A", "B"):
                topo.add_node(node, ipv6=True)
                topo.sysctl(
                    node,
                    {"net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0"},
                )
        topo.lan({"A": s.addresses[0], "B": s.addresses[1]})

    def start(self, node: str, priority: int, *, nopreempt: bool = False) -> Keepalived:
        self.runs += 1
        index = 0 if node == "A" else 1
        return self.lab.start(
            (self.topo, node),
            self.s.config(index, priority, nopreempt=nopreempt),
            name=f"{node}{self.runs}",
            subsystems={"vrrp"},
            program=("keepalived",) if node == "A" else (PYKAD,),
        )

    def holders(self) -> set[str]:
        return {n for n in ("A", "B") if self.vip in self.topo.addresses(n, None)}

    def wait_holder(self, node: str, timeout: float) -> None:
        wait_for(
            lambda: self.holders() == {node},
            timeout=timeout,
            message=lambda: f"the VIP on {node} only (holders: {self.holders()})",
        )


CELLS = [
    pytest.param(s, role, id=f"{s.name}-{role}")
    for s in SCENARIOS
    for role in ("pykad-high", "pykad-low")
    if (s.name, role) != ("v2-ah", "pykad-high")
]
"""Every scenario both ways but AH, whose 1 s cells take 15 s each: with pykad as the
lower router, each side must take the other's AH adverts (pykad as master, then as
backup, which would take over if it dropped them); test_vrrp_ah_keepalived.py checks
keepalived's verdict on pykad's adverts directly."""


@pytest.mark.parametrize(("scenario", "pykad_role"), CELLS)
def test_election_failover_and_preemption_with_keepalived(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, scenario: Scenario, pykad_role: str
) -> None:
    pair = Pair(netns_lab, keepalived_lab, scenario)
    high, low = ("B", "A") if pykad_role == "pykad-high" else ("A", "B")
    bound = scenario.takeover_s

    d_low = pair.start(low, 100)
    pair.wait_holder(low, bound)
    d_high = pair.start(high, 200)
    d_high.wait_for_state("VI_1", "MASTER", timeout=bound)  # preempts the lower master
    pair.wait_holder(high, bound)
    d_low.wait_for_state("VI_1", "BACKUP", timeout=bound, since=0)

    # SIGTERM on the master: priority 0, the other takes over after its skew time.
    mark = d_low.log_mark()
    d_high.stop()
    d_low.wait_for_state("VI_1", "MASTER", timeout=bound, since=mark)
    pair.wait_holder(low, bound)

    # The higher one comes back and preempts again.
    d_high = pair.start(high, 200)
    d_high.wait_for_state("VI_1", "MASTER", timeout=bound)
    pair.wait_holder(high, bound)

    # A crash of the master (kill -9): the other takes over when the master-down timer runs out.
    mark = d_low.log_mark()
    d_high.kill()
    d_low.wait_for_state("VI_1", "MASTER", timeout=bound, since=mark)
    assert pair.vip in netns_lab.addresses(low, None)


@pytest.mark.parametrize("pykad_role", ["pykad-nopreempt", "keepalived-nopreempt"])
def test_nopreempt_keeps_the_lower_master(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, pykad_role: str
) -> None:
    s = SCENARIOS[1]  # v3, 10 ms
    pair = Pair(netns_lab, keepalived_lab, s)
    high, low = ("B", "A") if pykad_role == "pykad-nopreempt" else ("A", "B")
    d_low = pair.start(low, 100)
    pair.wait_holder(low, s.takeover_s)
    d_high = pair.start(high, 200, nopreempt=True)
    d_high.wait_for_state("VI_1", "BACKUP", timeout=s.takeover_s)
    mark = d_high.log_mark()
    time.sleep(1.0)  # 100 advert intervals: a preempting router would have taken over
    assert d_high.state("VI_1") == "BACKUP"
    assert "Entering MASTER STATE" not in d_high.log_text()[mark:]
    assert pair.holders() == {low}
    d_low.stop()
    pair.wait_holder(high, s.takeover_s)
