"""A VIP deleted behind a master's back, pykad against keepalived 2.2.7.

keepalived's VRRP process watches the host's addresses (its netlink reflector): when
someone deletes a VIP a MASTER holds, the instance sends a priority-0 advert, drops
its VIPs and goes BACKUP, then takes over again after the skew time (no other
router answers) and puts every VIP back with its GARPs (``set_vrrp_backup``).  A VIP
marked ``no_track`` is left alone.  Both daemons run alone in namespace A, from the
same config; B captures what A sends.  Measured with keepalived here: priority 0 at
once, the next advert 0.61 s later (the skew time for priority 100 at 1 s).
"""

from __future__ import annotations

import time

import pytest

from lab.keepalived import KEEPALIVED, PYKAD, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for
from pykad.tools.pcap import Frame

pytestmark = pytest.mark.interop

VIPS = ("192.0.2.10/24", "192.0.2.11/24", "192.0.2.12/24 no_track")
SKEW_S = (256 - 100) / 256  # advert_int 1, priority 100


def adverts(frames: list[Frame], after: float) -> list[tuple[float, int]]:
    """(time, priority) of each VRRP advert (IPv4 protocol 112) after ``after``."""
    return [
        (f.timestamp, f.data[14 + 20 + 2])
        for f in frames
        if f.timestamp > after and f.data[12:14] == b"\x08\x00" and f.data[14 + 9] == 112
    ]


def garps(frames: list[Frame], after: float) -> set[bytes]:
    """The addresses the gratuitous ARPs after ``after`` announce."""
    return {f.data[28:32] for f in frames if f.timestamp > after and f.data[12:14] == b"\x08\x06"}


def addresses(topo: Topology) -> str:
    return topo.ip("A", "-br", "addr", "show", "eth0").stdout


@pytest.mark.parametrize("program", [KEEPALIVED, PYKAD])
def test_a_master_whose_vip_is_deleted_leaves_and_comes_back_with_it(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, program: str
) -> None:
    netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
    capture = netns_lab.capture("B", "eth0", "vrrp or arp")
    config = vrrp_instance_config(priority=100, advert_int=1, version=2, vips=VIPS)
    d = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(program,))
    d.wait_for_state("VI_1", "MASTER", timeout=10)
    wait_for(lambda: "192.0.2.12/24" in addresses(netns_lab), timeout=5, message="the VIPs")

    # no_track: nothing happens, and the address stays away
    gone = time.time()
    netns_lab.ip("A", "addr", "del", "192.0.2.12/24", "dev", "eth0")
    time.sleep(1.5)
    assert all(prio == 100 for _, prio in adverts(capture.packets(), gone))
    assert "192.0.2.12/" not in addresses(netns_lab)

    deleted = time.time()
    netns_lab.ip("A", "addr", "del", "192.0.2.10/24", "dev", "eth0")
    wait_for(
        lambda: len(adverts(capture.packets(), deleted)) >= 2,
        timeout=5,
        message=lambda: f"the adverts after the deletion: {d.log_tail()}",
    )
    (t0, p0), (t1, p1) = adverts(capture.packets(), deleted)[:2]
    assert (p0, p1) == (0, 100)
    assert t0 - deleted < 0.5  # at once (the deletion's own time included)
    assert abs((t1 - t0) - SKEW_S) < 0.15, t1 - t0
    wait_for(
        lambda: garps(capture.packets(), t1) >= {bytes((192, 0, 2, 10)), bytes((192, 0, 2, 11))},
        timeout=5,
        message="the GARPs of the takeover",
    )
    after = addresses(netns_lab)
    assert "192.0.2.10/24" in after and "192.0.2.11/24" in after, after
    log = d.log_text()
    told = log[log.index("Netlink reflector reports IP 192.0.2.10 removed from eth0") :]
    order = ["(VI_1) Entering BACKUP STATE", "(VI_1) Entering MASTER STATE"]
    assert [line for line in order if line in told] == order, told
    assert "192.0.2.12 removed" not in log
    assert d.stop() == 0
