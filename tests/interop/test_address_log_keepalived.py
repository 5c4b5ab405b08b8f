"""``-a`` (address monitoring), pykad against keepalived 2.2.7.

With ``-a``, keepalived's VRRP process logs every address it reads from its netlink
reflector: the host's addresses at start, then each one someone adds or removes
("Netlink reflector reports IP 198.51.100.7 added to eth0"), but not the VIPs it adds
itself.  An address of an interface that is deleted is reported removed from it by
name.  (Without ``-a`` too, an interface that comes or goes is logged: "Interface x1
added", "Interface x1 deleted".)  Both daemons run alone in namespace A, from the
same config, with the same assertions.
"""

from __future__ import annotations

import pytest

from lab.keepalived import KEEPALIVED, PYKAD, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology

pytestmark = pytest.mark.interop

LINE = "Netlink reflector reports IP {} {} {}"


@pytest.mark.parametrize("program", [KEEPALIVED, PYKAD])
def test_address_changes_are_logged_with_dash_a(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, program: str
) -> None:
    netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
    config = vrrp_instance_config(priority=100, advert_int=1, vips=("192.0.2.10/24",))
    d = keepalived_lab.start(
        (netns_lab, "A"), config, name="A", program=(program,), extra_args=("-a",)
    )
    d.wait_for_state("VI_1", "MASTER", timeout=10)
    assert LINE.format("192.0.2.1", "added to", "eth0") in d.log_text()

    mark = d.log_mark()
    netns_lab.ip("A", "addr", "add", "198.51.100.7/24", "dev", "eth0")
    d.wait_for_log(LINE.format("198.51.100.7", "added to", "eth0"), timeout=5, since=mark)
    netns_lab.ip("A", "addr", "del", "198.51.100.7/24", "dev", "eth0")
    d.wait_for_log(LINE.format("198.51.100.7", "removed from", "eth0"), timeout=5, since=mark)

    netns_lab.ip("A", "link", "add", "x1", "type", "veth", "peer", "name", "x1p")
    netns_lab.ip("A", "addr", "add", "203.0.113.5/24", "dev", "x1")
    d.wait_for_log(LINE.format("203.0.113.5", "added to", "x1"), timeout=5, since=mark)
    netns_lab.ip("A", "link", "del", "x1")
    d.wait_for_log(LINE.format("203.0.113.5", "removed from", "x1"), timeout=5, since=mark)
    # with or without -a: every interface that comes and goes
    for line in ("Interface x1 added", "Interface x1p added", "Interface x1 deleted"):
        d.wait_for_log(line, timeout=5, since=mark)

    assert "IP 192.0.2.10 added" not in d.log_text()  # its own VIP
    assert d.stop() == 0


@pytest.mark.parametrize("program", [KEEPALIVED, PYKAD])
def test_a_vmac_the_daemon_makes_is_not_logged_as_an_interface_added(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, program: str
) -> None:
    netns_lab.lan({"A": "192.0.2.1/24", "B": "192.0.2.2/24"})
    config = vrrp_instance_config(priority=100, advert_int=1, extra="use_vmac")
    d = keepalived_lab.start((netns_lab, "A"), config, name="A", program=(program,))
    d.wait_for_state("VI_1", "MASTER", timeout=10)
    netns_lab.ip("A", "link", "add", "x1", "type", "veth", "peer", "name", "x1p")
    d.wait_for_log("Interface x1p? added", timeout=5)  # the monitor runs
    assert "Interface vrrp.51" not in d.log_text()
    assert d.stop() == 0
