"""TxPump and RxFilter on real raw VRRP sockets, inside a network namespace.

A small script runs in one namespace (``ip netns exec``): TxPump sends adverts
over loopback from raw IPPROTO 112 sockets (IPv4 with and without an
IP_PKTINFO source, IPv6 with IPV6_PKTINFO, and a hundred keys in one round, which
the compiled twin sends with one sendmmsg), a second raw socket reads them, and
RxFilter absorbs the armed one out of a real IPv4 read. Both twins run the same
script and must print the same result.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from lab.netns import Topology

pytestmark = pytest.mark.netns

SCRIPT = r"""
import json, os, socket, sys, time
from importlib import import_module

mod = import_module(sys.argv[1])
from pykad.vrrp import wire_py
from pykad.vrrp.advert import Advert

A = lambda s: socket.inet_pton(socket.AF_INET6 if ":" in s else socket.AF_INET, s)
LO, LO2, LO6 = A("127.0.0.1"), A("127.0.0.2"), A("::1")

def raw(af):
    s = socket.socket(af, socket.SOCK_RAW, 112)
    s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return s

tx4, rx4 = raw(socket.AF_INET), raw(socket.AF_INET)
tx6, rx6 = raw(socket.AF_INET6), raw(socket.AF_INET6)
tx4.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
tx6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
rx6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)

def advert(vrid, src, dst, fam=4):
    return wire_py.encode(Advert(3, vrid, 100, 100, (src,)), fam, src, dst)

P1, P2, P6 = advert(51, LO2, LO), advert(52, LO, LO), advert(53, LO6, LO6, 6)

def read4():
    out = []
    while True:
        try:
            d = os.read(rx4.fileno(), 65535)
        except BlockingIOError:
            return out
        ihl = (d[0] & 15) * 4
        out.append([d[ihl:].hex(), socket.inet_ntop(socket.AF_INET, d[12:16]),
                    socket.inet_ntop(socket.AF_INET, d[16:20]), d[8]])

def read6():
    out = []
    while True:
        try:
            data, anc, _f, addr = rx6.recvmsg(65535, 256)
        except BlockingIOError:
            return out
        dst = [socket.inet_ntop(socket.AF_INET6, v[:16]) for l, t, v in anc
               if t == socket.IPV6_PKTINFO]
        out.append([data.hex(), addr[0], dst])

result = {}
pump = mod.TxPump()
pump.arm(1, tx4.fileno(), 4, [(P1, LO, LO2), (P2, LO, b"")], 10_000, 0)
pump.arm(2, tx6.fileno(), 6, [(P6, LO6, LO6)], 10_000, 5_000, ifindex=socket.if_nametoindex("lo"))
deadlines = [pump.send_due(t) for t in (0, 5_000, 10_000)]
time.sleep(0.1)
result["deadlines"] = deadlines
result["v4"] = read4()
result["v6"] = read6()
result["counts"] = [pump.sent(1), pump.errors(1), pump.sent(2), pump.errors(2)]

rx = mod.RxFilter()
rx.arm(51, LO2, LO, P1, 300_000)
pump.send_due(20_000)
time.sleep(0.1)
drained = rx.drain(rx4.fileno(), 77)
result["drained"] = [[p.hex(), s.hex(), d.hex(), t, a] for p, s, d, t, a in drained]
result["absorbed"] = [rx.absorbed(51), rx.deadline(51), rx.dropped]

for key in range(100, 200):
    pump.arm(key, tx4.fileno(), 4, [(advert(key, LO, LO), LO, b"")], 1_000_000, 30_000)
pump.disarm(1), pump.disarm(2)
result["next"] = pump.send_due(30_000)
time.sleep(0.1)
result["many"] = sorted(bytes.fromhex(p)[1] for p, _s, _d, _t in read4())
result["many_sent"] = sum(pump.sent(k) for k in range(100, 200))
print(json.dumps(result))
"""


def run(topo: Topology, module: str) -> dict[str, Any]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # editable rebuilds
    # -I: not the checkout's source tree (the cwd) but the installed package, compiled.
    proc = topo.run("A", sys.executable, "-I", "-c", SCRIPT, module, env=env)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_tx_pump_and_rx_filter_on_raw_sockets(netns_lab: Topology) -> None:
    netns_lab.add_node("A", ipv6=True)
    py = run(netns_lab, "pykad.drivers.fast_py")
    cy = run(netns_lab, "pykad._fastpath.vrrp_fast")
    assert py == cy

    assert cy["deadlines"] == [5_000, 10_000, 15_000]
    p1, p2 = cy["v4"][0][0], cy["v4"][1][0]
    assert cy["v4"] == [
        [p1, "127.0.0.2", "127.0.0.1", 255],  # the IP_PKTINFO source
        [p2, "127.0.0.1", "127.0.0.1", 255],  # the kernel's choice
        [p1, "127.0.0.2", "127.0.0.1", 255],
        [p2, "127.0.0.1", "127.0.0.1", 255],
    ]
    assert bytes.fromhex(p1)[1] == 51 and bytes.fromhex(p2)[1] == 52
    assert len(cy["v6"]) == 1 and cy["v6"][0][1:] == ["::1", ["::1"]]
    assert bytes.fromhex(cy["v6"][0][0])[1] == 53
    assert cy["counts"] == [4, 0, 1, 0]

    # Round 3: P1 absorbed by the filter, P2 (not armed) handed over parsed.
    assert cy["drained"] == [[p2, "7f000001", "7f000001", 255, 77]]
    assert cy["absorbed"] == [1, 77 + 300_000, 0]

    # A hundred keys due at once: every advert sent once, one round.
    assert cy["many"] == list(range(100, 200)) and cy["many_sent"] == 100
    assert cy["next"] == 1_030_000
