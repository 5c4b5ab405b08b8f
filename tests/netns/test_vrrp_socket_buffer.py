"""A VRRP socket's receive buffer on the real kernel (``VrrpSocket.size_receive_buffer``).

Needs root (a raw socket in a network namespace): a configured size goes in with
SO_RCVBUF (the kernel caps it at rmem_max and doubles it, as for keepalived's), the
floor with SO_RCVBUFFORCE (past rmem_max), and a floor below the current size
changes nothing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from lab.netns import Topology

pytestmark = pytest.mark.netns

SCRIPT = r"""
import json
from pykad.drivers.vrrp_socket import VrrpSocket

def size(configured, floor):
    s = VrrpSocket("lo", 1, 4)
    s.size_receive_buffer(configured, floor)
    found = s.receive_buffer()
    s.sock.close()
    return found

max_ = int(open("/proc/sys/net/core/rmem_max").read())
default = VrrpSocket("lo", 1, 4).receive_buffer()
print(json.dumps({
    "default": default, "max": max_,
    "configured": size(100_000, 0),
    "floor": size(0, 4 * max_),
    "small_floor": size(0, 4096),
}))
"""


def test_configured_sizes_and_the_floor(netns_lab: Topology) -> None:
    netns_lab.add_node("A")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # editable rebuilds
    proc = netns_lab.run("A", sys.executable, "-I", "-c", SCRIPT, env=env)
    got = json.loads(proc.stdout)
    assert got["configured"] == 2 * min(100_000, got["max"])
    assert got["floor"] == 2 * 4 * got["max"]  # forced past rmem_max
    assert got["small_floor"] == got["default"]
