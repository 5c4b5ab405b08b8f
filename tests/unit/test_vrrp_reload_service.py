"""VrrpService.reload (and its stop) against FakeKernel: what the plan's unit tests cannot see.

The service runs with stand-ins for its sockets, packet senders, tracking sources and
firewall; the kernel is ``FakeKernel`` (which drops the secondary addresses of a primary
that goes, as Linux does with ``promote_secondaries`` off).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from ipaddress import ip_interface
from typing import TypeVar

import pytest
import trio

import pykad.daemon.vrrp_service as vs
from pykad.config.iproute import IpAddress
from pykad.config.model import Config
from pykad.config.sections._global_model import RxBufsPolicy
from pykad.config.sections._vrrp_model import State as CState
from pykad.config.sections._vrrp_model import VrrpConfig, VrrpInstance
from pykad.config.sections.global_defs import GlobalDefs
from pykad.kernel.fake import FakeKernel
from pykad.vrrp.fsm import State
from pykad.vrrp.rx_buffers import FLOOR_PER_INSTANCE

T = TypeVar("T")


class FakeSock:
    def __init__(self, ifname, ifindex, family, send_only=False):
        self.ifname, self.ifindex, self.family = ifname, ifindex, family
        self.a, self.b = socket.socketpair()
        self.sock = self.a
        self.sent = []
        self.send_errors = 0
        self.closed = False
        self.rx_sizes = []

    def fileno(self):
        return self.a.fileno()

    def send(self, data, dst, src):
        self.sent.append((data, dst))

    def drain(self, now_us, wall_us=-1):
        return []

    def set_ttl(self, ttl):
        pass

    def mtu(self):
        return 1500

    def size_receive_buffer(self, configured, floor):
        self.rx_sizes.append((configured, floor))

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


def addresses(kernel: FakeKernel) -> list[str]:
    return [str(e.address) for e in kernel.links[1].addresses]


def reload_running(old: Config, new: Config, look: Callable[[vs.VrrpService], T]) -> tuple[T, T]:
    """Run the service on ``old`` for 50 ms, reload ``new``; what ``look`` sees of the
    service just before and just after the reload."""
    kernel = FakeKernel()
    kernel.add_link("eth0", ifindex=1)
    service = vs.VrrpService(old, kernel, interfaces=iface)
    service.setup()

    async def main() -> tuple[T, T]:
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            await trio.sleep(0.05)
            before = look(service)
            service.reload(new)
            after = look(service)
            service.release_vips = False
            service.stop()
        return before, after

    return trio.run(main)


def kernel_of(service: vs.VrrpService) -> FakeKernel:
    kernel = service.host.kernel
    assert isinstance(kernel, FakeKernel)
    return kernel


def test_swapping_vrids_between_two_instances() -> None:
    """Both instances rebuilt, each with the other's VRID; none lost or doubled."""
    old = cfg(inst("a", 51, "192.0.2.10/24"), inst("b", 52, "192.0.2.20/24"))
    new = cfg(inst("a", 52, "192.0.2.20/24"), inst("b", 51, "192.0.2.10/24"))

    def look(service: vs.VrrpService) -> tuple[list[tuple[str, int]], dict[int, str], int]:
        return (
            sorted((i.name, i.conf.vrid) for i in service.instances),
            {v: i.name for v, i in service._by_vrid[(1, 4)].items()},
            len(service._by_index),
        )

    _, after = reload_running(old, new, look)
    assert after == ([("a", 52), ("b", 51)], {51: "b", 52: "a"}, 2)


def test_removing_the_primary_vip_keeps_the_secondary() -> None:
    """FakeKernel drops a primary's secondaries as Linux does without
    promote_secondaries: the master's kept set is written again."""
    two = (vip("192.0.2.10/24"), vip("192.0.2.20/24"))
    old = cfg(inst("a", 51, "", priority=255, virtual_ipaddresses=two))
    new = cfg(inst("a", 51, "", priority=255, virtual_ipaddresses=(vip("192.0.2.20/24"),)))

    def look(service: vs.VrrpService) -> tuple[State, list[str]]:
        return service.instances[0].router.state, addresses(kernel_of(service))

    before, after = reload_running(old, new, look)
    assert before == (State.MASTER, ["192.0.2.10/24", "192.0.2.20/24"])
    assert after == (State.MASTER, ["192.0.2.20/24"])


def test_an_in_place_change_keeps_the_counters() -> None:
    old = cfg(inst("a", 51, "192.0.2.10/24", priority=200, state=CState.MASTER))
    new = cfg(inst("a", 51, "192.0.2.10/24", priority=201, state=CState.MASTER))

    def look(service: vs.VrrpService) -> tuple[int, int, float]:
        i = service.instances[0]
        return i.adverts_sent, i.transitions, i.last_transition

    before, after = reload_running(old, new, look)
    assert before[1] >= 1 and before[2] > 0  # it became MASTER: counted
    assert after == before


def test_a_vip_moving_between_two_masters_stays() -> None:
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

    def look(service: vs.VrrpService) -> tuple[list[State], list[str]]:
        states = [i.router.state for i in service.instances]
        return states, sorted(addresses(kernel_of(service)))

    before, after = reload_running(old, new, look)
    assert before[0] == [State.MASTER, State.MASTER]
    assert after[1] == ["192.0.2.10/24", "192.0.2.20/24", "192.0.2.30/24"]


def test_a_master_whose_priority_changed_advertises_at_once() -> None:
    """Its backups hear the new priority now, not an advert interval later: the first
    advert of the new instance is due at the reload (then the fast path's pump or the
    timer loop sends it)."""
    fast = dict(priority=200, version=3, advert_int_us=100_000)
    old = cfg(inst("a", 51, "192.0.2.10/24", **fast))
    new = cfg(inst("a", 51, "192.0.2.10/24", **{**fast, "priority": 150}))

    def due(service: vs.VrrpService) -> int | None:
        inst = service.instances[0]
        service.fast.reclaim(inst)  # the pump's deadline back into the router
        return inst.router.adver_deadline

    kernel = FakeKernel()
    kernel.add_link("eth0", ifindex=1)
    service = vs.VrrpService(old, kernel, interfaces=iface)
    service.setup()

    async def main() -> tuple[int | None, int, int | None]:
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            with trio.fail_after(2):
                while service.instances[0].router.state is not State.MASTER:
                    await trio.sleep(0.01)
            await trio.sleep(0.02)
            before = due(service)
            now = vs.now_us()
            service.reload(new)
            after = due(service)
            service.release_vips = False
            service.stop()
        return before, now, after

    before, now, after = trio.run(main)
    assert before is not None and before > now  # the next one was scheduled later
    assert after is not None and after <= now + 1_000


def test_a_reload_that_changes_tracking_of_several_kinds() -> None:
    """Tracked objects of more than one kind (the instance's interface and a script):
    a reload that changes the tracking lists them (in a stable order) and keeps the
    instance's state (the list once failed on comparing two kinds)."""
    from pykad.config.sections._vrrp_model import Tracked

    old = cfg(
        inst(
            "a", 51, "192.0.2.10/24", priority=200, track_scripts=(Tracked(name="chk", weight=10),)
        )
    )
    new = cfg(
        inst(
            "a", 51, "192.0.2.10/24", priority=200, track_scripts=(Tracked(name="chk", weight=20),)
        )
    )

    def look(service: vs.VrrpService) -> tuple[State, list[str]]:
        return service.instances[0].router.state, [o.name for o in service.tracker.objects()]

    before, after = reload_running(old, new, look)
    assert before == after == (State.BACKUP, ["eth0", "chk"])


@pytest.mark.parametrize("twin", ["compiled", "python"])
def test_priority_zero_sent_by_the_signal_handler_is_not_sent_again(
    twin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop signal's handler sends a master's priority-0 advert even while the loop
    runs a task (not only while it waits); the stop that follows must not send a second
    one (it would restart the backups' skew time)."""
    import signal

    from pykad.drivers import fast_py

    impl = vs.fast if twin == "compiled" else fast_py
    monkeypatch.setattr(vs, "fast", impl)
    monkeypatch.setattr("pykad.daemon.leave.fast", impl)
    monkeypatch.setattr("pykad.daemon.takeover.fast", impl)
    master = inst("a", 51, "192.0.2.10/24", priority=255, version=3, advert_int_us=100_000)
    kernel = FakeKernel()
    kernel.add_link("eth0", ifindex=1)
    service = vs.VrrpService(cfg(master), kernel, interfaces=iface)
    service.setup()
    before = signal.signal(signal.SIGUSR2, lambda n, _: None)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            with trio.fail_after(2):
                while service.instances[0].router.state is not State.MASTER:
                    await trio.sleep(0.01)
            await trio.sleep(0.02)  # the loop has waited since: the burst is ready
            impl.leave_install([signal.SIGUSR2])
            os.kill(os.getpid(), signal.SIGUSR2)  # from this task: the loop is busy
            assert impl.leave_results() is not None
            service.release_vips = False
            service.stop()

    try:
        trio.run(main)
    finally:
        impl.leave_uninstall()
        signal.signal(signal.SIGUSR2, before)
    sock = service.instances[0].socket
    assert isinstance(sock, FakeSock)
    zeros = [data for data, _ in sock.sent if data[2] == 0]  # VRRP priority byte
    assert zeros == [] and service.instances[0].priority_zero_sent == 1


def test_receive_buffers_are_sized_for_the_instances_on_each_socket() -> None:
    """keepalived's sum per socket (an instance's kernel_rx_buf_size, else the policy);
    with nothing configured pykad's floor, again after a reload adds an instance."""
    g = GlobalDefs(vrrp_rx_bufs_policy=RxBufsPolicy.MTU, vrrp_rx_bufs_multiplier=2)
    own = inst("VI_2", 2, "192.0.2.12/24", kernel_rx_buf_size=100_000)
    config = Config(
        global_defs=g, vrrp=VrrpConfig(instances=(inst("VI_1", 1, "192.0.2.11/24"), own))
    )
    service = vs.VrrpService(config, FakeKernel(), interfaces=iface)
    service.setup()
    sock = service.sockets[(1, 4)]
    assert sock.rx_sizes == [(100_000 + 2 * 1500, FLOOR_PER_INSTANCE * 2)]

    g = GlobalDefs(vrrp_rx_bufs_policy=RxBufsPolicy.ADVERT, vrrp_rx_bufs_multiplier=3)
    plain = (inst("VI_1", 1, "192.0.2.11/24"), inst("VI_3", 3, "192.0.2.13/24"))
    config = Config(global_defs=g, vrrp=VrrpConfig(instances=plain))
    service = vs.VrrpService(config, FakeKernel(), interfaces=iface)
    service.setup()
    # VRRPv2, one IPv4 address: 8 + 4 + 8 (authentication) bytes, and the IP header
    assert service.sockets[(1, 4)].rx_sizes == [(2 * 3 * (20 + 20), FLOOR_PER_INSTANCE * 2)]

    plain = cfg(*(inst(f"VI_{k}", k, f"192.0.2.{10 + k}/24") for k in (1, 2, 3)))
    (sizes, _), (after, _) = reload_running(
        plain,
        cfg(*plain.vrrp.instances, inst("VI_4", 4, "192.0.2.14/24")),
        lambda s: (list(s.sockets[(1, 4)].rx_sizes), None),
    )
    assert sizes == [(0, FLOOR_PER_INSTANCE * 3)]
    assert after[-1] == (0, FLOOR_PER_INSTANCE * 4)
