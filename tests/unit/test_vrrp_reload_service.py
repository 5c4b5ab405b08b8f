"""VrrpService.reload against FakeKernel: what the reload plan's unit tests cannot see.

The service runs with stand-ins for its sockets, packet senders, tracking sources and
firewall; the kernel is ``FakeKernel`` (which drops the secondary addresses of a primary
that goes, as Linux does with ``promote_secondaries`` off).
"""

from __future__ import annotations

import socket
from ipaddress import ip_interface

import pytest
import trio

import pykad.daemon.vrrp_service as vs
from pykad.config.iproute import IpAddress
from pykad.config.model import Config
from pykad.config.sections._vrrp_model import State as CState
from pykad.config.sections._vrrp_model import VrrpConfig, VrrpInstance
from pykad.kernel.fake import FakeKernel
from pykad.vrrp.fsm import State


class FakeSock:
    def __init__(self, ifname, ifindex, family, send_only=False):
        self.ifname, self.ifindex, self.family = ifname, ifindex, family
        self.a, self.b = socket.socketpair()
        self.sock = self.a
        self.sent = []
        self.closed = False

    def fileno(self):
        return self.a.fileno()

    def send(self, data, dst, src):
        self.sent.append((data, dst))

    def drain(self):
        return []

    def set_ttl(self, ttl):
        pass

    def close(self):
        self.closed = True


class FakeSender:
    def __init__(self, ifindex):
        self.ifindex = ifindex
        self.frames = []

    def send(self, frames):
        self.frames += list(frames)

    def close(self):
        pass


class NoSources:
    def __init__(self, *a, **k):
        pass

    def initial(self):
        return []

    async def run(self, send):
        await trio.sleep_forever()


class NoFirewall:
    def __init__(self, *a, **k):
        pass

    def block(self, *a, **k):
        pass

    def close(self):
        pass


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    monkeypatch.setattr(vs, "VrrpSocket", FakeSock)
    monkeypatch.setattr(vs, "PacketSender", FakeSender)
    monkeypatch.setattr(vs, "TrackingSources", NoSources)
    monkeypatch.setattr(vs, "Firewall", NoFirewall)
    monkeypatch.setattr(vs, "freeze_long_lived", lambda collect=False: None)


def vip(text):
    return IpAddress(address=ip_interface(text))


def inst(name, vrid, addr, **kw):
    if "virtual_ipaddresses" not in kw:
        kw["virtual_ipaddresses"] = (vip(addr),)
    return VrrpInstance(name=name, vrid=vrid, interface="eth0", accept=True, **kw)


def cfg(*instances):
    return Config(vrrp=VrrpConfig(instances=instances))


def iface(name):
    assert name == "eth0"
    return vs.Interface(
        name="eth0",
        index=1,
        mac=b"\x02\0\0\0\0\1",
        ipv4=bytes([192, 0, 2, 1]),
        ipv6_link_local=None,
    )


def make(config):
    k = FakeKernel()
    k.add_link("eth0", ifindex=1)
    return vs.VrrpService(config, k, interfaces=iface), k


def test_swapping_vrids_between_two_instances():
    """Both instances rebuilt, each with the other's VRID; none lost or doubled."""
    old = cfg(inst("a", 51, "192.0.2.10/24"), inst("b", 52, "192.0.2.20/24"))
    new = cfg(inst("a", 52, "192.0.2.20/24"), inst("b", 51, "192.0.2.10/24"))
    service, _ = make(old)
    service.setup()

    async def main():
        async with trio.open_nursery() as n:
            await n.start(service.run)
            await trio.sleep(0.01)
            service.reload(new)
            got = sorted((i.name, i.conf.vrid) for i in service.instances)
            by_vrid = {v: i.name for v, i in service._by_vrid[(1, 4)].items()}
            service.stop()
            return got, by_vrid, len(service._by_index)

    got, by_vrid, nindex = trio.run(main)
    assert got == [("a", 52), ("b", 51)]
    assert by_vrid == {51: "b", 52: "a"}
    assert nindex == 2


def test_removing_the_primary_vip_keeps_the_secondary():
    two = (vip("192.0.2.10/24"), vip("192.0.2.20/24"))
    old = cfg(inst("a", 51, "", priority=255, virtual_ipaddresses=two))
    new = cfg(inst("a", 51, "", priority=255, virtual_ipaddresses=(vip("192.0.2.20/24"),)))
    service, kernel = make(old)
    service.setup()

    async def main():
        async with trio.open_nursery() as n:
            await n.start(service.run)
            await trio.sleep(0.05)
            state = service.instances[0].router.state
            before = [str(e.address) for e in kernel.links[1].addresses]
            service.reload(new)
            after = [str(e.address) for e in kernel.links[1].addresses]
            service.release_vips = False
            service.stop()
            return state, before, after

    state, before, after = trio.run(main)
    assert state is State.MASTER
    assert before == ["192.0.2.10/24", "192.0.2.20/24"]
    assert "192.0.2.20/24" in after


def test_an_in_place_change_keeps_the_counters():
    old = cfg(inst("a", 51, "192.0.2.10/24", priority=200, state=CState.MASTER))
    new = cfg(inst("a", 51, "192.0.2.10/24", priority=201, state=CState.MASTER))
    service, _ = make(old)
    service.setup()

    async def main():
        async with trio.open_nursery() as n:
            await n.start(service.run)
            await trio.sleep(0.05)
            i = service.instances[0]
            before = (i.router.state, i.adverts_sent, i.transitions, i.last_transition)
            service.reload(new)
            i = service.instances[0]
            after = (i.router.state, i.adverts_sent, i.transitions, i.last_transition)
            service.release_vips = False
            service.stop()
            return before, after

    before, after = trio.run(main)
    assert before[2] >= 1 and before[3] > 0  # it became MASTER: counted
    assert after[1:] == before[1:]


def test_a_vip_moving_between_two_masters_stays():
    x, y, z = vip("192.0.2.10/24"), vip("192.0.2.20/24"), vip("192.0.2.30/24")
    old = cfg(
        inst("a", 51, "", priority=255, virtual_ipaddresses=(x, y)),
        inst("b", 52, "", priority=255, virtual_ipaddresses=(z,)),
    )
    # the new config lists b first; y moves from a to b
    new = cfg(
        inst("b", 52, "", priority=255, virtual_ipaddresses=(z, y)),
        inst("a", 51, "", priority=255, virtual_ipaddresses=(x,)),
    )
    service, kernel = make(old)
    service.setup()

    async def main():
        async with trio.open_nursery() as n:
            await n.start(service.run)
            await trio.sleep(0.05)
            states = [i.router.state for i in service.instances]
            service.reload(new)
            after = [str(e.address) for e in kernel.links[1].addresses]
            service.release_vips = False
            service.stop()
            return states, after

    states, after = trio.run(main)
    assert states == [State.MASTER, State.MASTER]
    assert "192.0.2.20/24" in after
