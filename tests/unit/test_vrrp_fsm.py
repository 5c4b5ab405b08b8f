"""The VRRP state machine table and the sans-IO router, with explicit time."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pykad.config.build import NoHost
from pykad.config.load import load
from pykad.drivers.files import LocalFiles
from pykad.vrrp.advert import Advert
from pykad.vrrp.fsm import TRANSITIONS, Event, State, step
from pykad.vrrp.router import (
    ChangeVips,
    Effect,
    RouterConfig,
    SendAdvert,
    StateChanged,
    VrrpRouter,
)
from pykad.vrrp.timers import master_down_interval_us, skew_time_us

SECOND = 1_000_000


def test_every_row_cites_its_source() -> None:
    for (state, _event), transition in TRANSITIONS.items():
        assert transition.rfc.startswith(("RFC 5798 6.4", "keepalived"))
        if state is State.INIT:
            assert transition.next_state is not State.INIT


@given(st.sampled_from(list(State)), st.sampled_from(list(Event)))
def test_every_state_and_event_has_an_answer(state: State, event: Event) -> None:
    transition = step(state, event)
    if (state, event) not in TRANSITIONS:
        assert transition.next_state is state and transition.actions == ()


def test_timers_rfc_5798_6_1() -> None:
    assert skew_time_us(3, 100, SECOND) == 156 * SECOND // 256
    assert master_down_interval_us(3, 100, SECOND) == 3 * SECOND + 609_375
    assert skew_time_us(3, 254, 10_000) == 78  # 10 ms adverts: 2/256 of an interval
    assert skew_time_us(2, 100, 3 * SECOND) == 609_375  # v2: whole seconds, not the interval


class Lan:
    """Routers on one LAN: every advert reaches every other router at once."""

    def __init__(self, *configs: RouterConfig) -> None:
        self.routers = [VrrpRouter(c) for c in configs]
        self.now = 0
        self.log: list[tuple[int, int, Effect]] = []

    def apply(self, index: int, effects: list[Effect]) -> None:
        for effect in effects:
            self.log.append((self.now, index, effect))
            if isinstance(effect, SendAdvert):
                sender = self.routers[index]
                advert = Advert(3, sender.config.vrid, effect.priority,
                                sender.config.advert_int_us // 10_000, ())  # fmt: skip
                for j, other in enumerate(self.routers):
                    if j != index and other.state in (State.BACKUP, State.MASTER):
                        self.apply(j, other.receive_advert(
                            advert, sender.config.primary_address, self.now))  # fmt: skip

    def run_until(self, end: int) -> None:
        while True:
            deadlines = [(r.next_deadline(), i) for i, r in enumerate(self.routers)]
            due = [(d, i) for d, i in deadlines if d is not None and d <= end]
            if not due:
                self.now = end
                return
            self.now, i = min(due)
            self.apply(i, self.routers[i].handle_timer(self.now))

    def states(self) -> list[State]:
        return [r.state for r in self.routers]


def config(priority: int, last_octet: int, **kw: bool) -> RouterConfig:
    return RouterConfig(vrid=51, priority=priority, primary_address=bytes((192, 0, 2, last_octet)),
                        **kw)  # type: ignore[arg-type]  # fmt: skip


def test_highest_priority_wins_and_takes_the_vips() -> None:
    lan = Lan(config(100, 1), config(200, 2))
    for i, r in enumerate(lan.routers):
        lan.apply(i, r.start(0))
    assert lan.states() == [State.BACKUP, State.BACKUP]
    lan.run_until(5 * SECOND)
    assert lan.states() == [State.BACKUP, State.MASTER]
    became_master = [
        t for t, i, e in lan.log if isinstance(e, StateChanged) and e.new is State.MASTER
    ]
    assert became_master == [master_down_interval_us(3, 200, SECOND)]
    assert [e for _, i, e in lan.log if isinstance(e, ChangeVips)] == [ChangeVips(add=True)]


def test_master_shutdown_hands_over_after_skew_time() -> None:
    lan = Lan(config(100, 1), config(200, 2))
    for i, r in enumerate(lan.routers):
        lan.apply(i, r.start(0))
    lan.run_until(5 * SECOND)
    lan.apply(1, lan.routers[1].shutdown(lan.now))  # sends priority 0 (RFC 5798 6.4.3)
    stop = lan.now
    lan.run_until(stop + SECOND)
    assert lan.states() == [State.MASTER, State.INIT]
    took_over = [t for t, i, e in lan.log if isinstance(e, StateChanged) and i == 0][-1]
    assert took_over - stop == skew_time_us(3, 100, SECOND)


def test_equal_priority_higher_address_wins() -> None:
    lan = Lan(config(100, 9), config(100, 3))
    for i, r in enumerate(lan.routers):
        lan.apply(i, r.start(0))
    lan.run_until(10 * SECOND)
    assert lan.states() == [State.MASTER, State.BACKUP]


def test_nopreempt_backup_does_not_take_over_from_a_lower_master() -> None:
    lan = Lan(config(100, 1), config(200, 2, preempt=False))
    lan.apply(0, lan.routers[0].start(0))
    lan.run_until(5 * SECOND)
    lan.apply(1, lan.routers[1].start(lan.now))
    lan.run_until(20 * SECOND)
    assert lan.states() == [State.MASTER, State.BACKUP]
    lan2 = Lan(config(100, 1), config(200, 2))  # with preemption it would
    lan2.apply(0, lan2.routers[0].start(0))
    lan2.run_until(5 * SECOND)
    lan2.apply(1, lan2.routers[1].start(lan2.now))
    lan2.run_until(20 * SECOND)
    assert lan2.states() == [State.BACKUP, State.MASTER]


def test_address_owner_is_master_at_once() -> None:
    router = VrrpRouter(config(255, 1))
    effects = router.start(0)
    assert router.state is State.MASTER and SendAdvert(255) in effects
    assert router.next_deadline() == SECOND


def test_router_settings_come_from_the_configured_instance(tmp_path: Path) -> None:
    (tmp_path / "k.conf").write_text(
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 7\n    priority 120\n"
        "    version 3\n    advert_int 0.05\n    nopreempt\n    down_timer_adverts 5\n"
        "    virtual_ipaddress {\n        192.0.2.7/32\n    }\n}\n"
    )
    loaded = load(LocalFiles(), "k.conf", cwd=str(tmp_path), config_id="x", host=Eth0())
    assert loaded.config is not None
    (instance,) = loaded.config.vrrp.instances
    cfg = RouterConfig.from_instance(instance, bytes((192, 0, 2, 1)))
    assert cfg == RouterConfig(vrid=7, priority=120, version=3, advert_int_us=50_000,
                               preempt=False, primary_address=bytes((192, 0, 2, 1)),
                               down_timer_adverts=5, name="VI_1",
                               addresses=(bytes((192, 0, 2, 7)),))  # fmt: skip


class Eth0(NoHost):
    def interface_exists(self, name: str) -> bool:
        return name == "eth0"
