"""keepalived's rules around the RFC table: validation, preempt_delay, forced elections, tracking.

Each test drives one ``VrrpRouter`` with explicit time and hand-made adverts, and
checks what keepalived 2.2.7 does in ``vrrp_check_packet``, ``vrrp_state_backup``,
``vrrp_state_master_rx`` and ``vrrp_init_state``.
"""

from __future__ import annotations

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from pykad.vrrp.advert import AUTH_NONE, AUTH_PASS, Advert
from pykad.vrrp.fsm import State
from pykad.vrrp.router import (
    ChangeVips,
    Log,
    LowerPriorityAdvert,
    PriorityChanged,
    RouterConfig,
    SendAdvert,
    SendGratuitous,
    StateChanged,
    VrrpRouter,
)
from pykad.vrrp.timers import master_down_interval_us, skew_time_us
from pykad.vrrp.validate import Drop, Peer

SECOND = 1_000_000
US = bytes((192, 0, 2, 1))
PEER = bytes((192, 0, 2, 2))
VIP = bytes((192, 0, 2, 10))


def router(**kw: object) -> VrrpRouter:
    settings: dict[str, object] = dict(
        name="VI_1", vrid=51, priority=100, primary_address=US, addresses=(VIP,)
    )
    settings.update(kw)
    return VrrpRouter(RouterConfig(**settings))  # type: ignore[arg-type]


def advert(priority: int, *, version: int = 3, interval: int = 100, **kw: object) -> Advert:
    fields: dict[str, object] = dict(addresses=(VIP,))
    fields.update(kw)
    return Advert(version, 51, priority, interval, **fields)  # type: ignore[arg-type]


def as_master(r: VrrpRouter) -> int:
    r.start(0)
    now = r.next_deadline()
    assert now is not None
    r.handle_timer(now)
    assert r.state is State.MASTER
    return now


@pytest.mark.parametrize(
    ("kw", "adv", "rx", "reason", "text"),
    [
        ({}, advert(100), {"ttl": 254}, Drop.TTL,
         "(VI_1) invalid TTL/HL. Received 254 and expect 255"),
        ({}, advert(100, version=2, interval=1), {}, Drop.VERSION,
         "(VI_1) wrong version. Received 2 and expect 3"),
        ({"version": 2}, advert(100, version=2, interval=2), {}, Drop.INTERVAL_MISMATCH,
         "(VI_1) advertisement interval mismatch mine=1 sec rcv'd=2 sec"),
        ({"version": 2, "auth_type": AUTH_PASS, "auth_data": b"secret\0\0"},
         advert(100, version=2, interval=1, auth_type=AUTH_NONE), {}, Drop.AUTH_TYPE_MISMATCH,
         "(VI_1) received a 0 auth, expecting 1!"),
        ({"version": 2, "auth_type": AUTH_PASS, "auth_data": b"secret\0\0"},
         advert(100, version=2, interval=1, auth_type=AUTH_PASS, auth_data=b"wrong\0\0\0"), {},
         Drop.AUTH_FAILURE, "(VI_1) received an invalid passwd!"),
        ({"version": 2}, advert(100, version=2, interval=1, auth_type=7), {},
         Drop.INVALID_AUTH_TYPE, "(VI_1) Invalid auth type: 7"),
        ({}, advert(100, addresses=()), {}, Drop.ADDRESS_COUNT,
         "(VI_1) received an unexpected ip number count 0, expected 1!"),
        ({}, advert(100, addresses=(PEER,)), {}, Drop.ADDRESS_LIST,
         "(VI_1) ip address associated with VRID 51 not present in MASTER advert: 192.0.2.10"),
        ({}, advert(100), {"multicast": False}, Drop.CAST_MISMATCH,
         "(VI_1) Expected multicast packet but received unicast packet"),
        ({"unicast_peers": (Peer(address=PEER),)}, advert(100), {"multicast": True},
         Drop.CAST_MISMATCH, "(VI_1) Expected unicast packet but received multicast packet"),
        ({"unicast_peers": (Peer(address=PEER),), "check_unicast_src": True}, advert(100),
         {"sender": bytes((192, 0, 2, 3))}, Drop.NOT_A_PEER,
         "(VI_1) unicast source address 192.0.2.3 not a unicast peer"),
        ({"unicast_peers": (Peer(address=PEER, min_ttl=250),), "check_unicast_src": True},
         advert(100), {"ttl": 64}, Drop.TTL, "(VI_1) TTL/HL 64 not in range 250 - 255"),
    ],
)  # fmt: skip
def test_invalid_adverts_are_counted_and_logged_as_keepalived_does(
    kw: dict[str, object], adv: Advert, rx: dict[str, object], reason: Drop, text: str
) -> None:
    r = router(**kw)
    r.start(0)
    deadline = r.master_down_deadline
    sender = rx.pop("sender", PEER)
    assert isinstance(sender, bytes)
    effects = r.receive_advert(adv, sender, 10, **rx)  # type: ignore[arg-type]
    assert effects == [Log(text)]
    assert r.statistics().dropped == {reason.value: 1}
    assert r.master_down_deadline == deadline and r.statistics().adverts_received == 0


def test_a_valid_v2_pass_advert_is_accepted() -> None:
    r = router(version=2, auth_type=AUTH_PASS, auth_data=b"secret\0\0")
    r.start(0)
    adv = advert(150, version=2, interval=1, auth_type=AUTH_PASS, auth_data=b"secret\0\0")
    assert r.receive_advert(adv, PEER, 10, ttl=255) == []
    assert r.master_down_deadline == 10 + master_down_interval_us(2, 100, SECOND)
    assert r.statistics().adverts_received == 1


def test_state_master_waits_one_interval_at_start() -> None:
    r = router(initial_master=True, advert_int_us=10_000)
    r.start(0)
    assert r.state is State.BACKUP
    assert r.next_deadline() == 10_000 + skew_time_us(3, 255, 10_000)  # vrrp_init_state


def test_master_answers_a_lower_priority_advert_to_force_an_election() -> None:
    r = router()
    now = as_master(r)
    effects = r.receive_advert(advert(50), PEER, now + 1)
    assert effects == [
        Log("(VI_1) Received advert from 192.0.2.2 with lower priority 50, ours 100,"
            " forcing new election"),
        SendAdvert(100),
        LowerPriorityAdvert(PEER, 50),
    ]  # fmt: skip
    quiet = router(lower_prio_no_advert=True)
    now = as_master(quiet)
    assert not [
        e for e in quiet.receive_advert(advert(50), PEER, now + 1) if isinstance(e, SendAdvert)
    ]


def test_higher_prio_send_advert_sends_one_before_stepping_down() -> None:
    r = router(higher_prio_send_advert=True)
    now = as_master(r)
    effects = r.receive_advert(advert(200), PEER, now + 1)
    assert effects[0] == SendAdvert(100)
    assert ChangeVips(add=False) in effects and r.state is State.BACKUP
    plain = router()
    now = as_master(plain)
    assert not [
        e for e in plain.receive_advert(advert(200), PEER, now + 1) if isinstance(e, SendAdvert)
    ]


def test_preempt_delay_keeps_a_lower_master_until_it_runs_out() -> None:
    r = router(priority=200, preempt_delay_us=5 * SECOND)
    r.start(0)
    t = 0
    # A lower-priority master advertises every second: during the delay we follow it.
    while t < 5 * SECOND:
        t += SECOND
        r.receive_advert(advert(100), PEER, t)
        r.handle_timer(t)
        assert r.state is State.BACKUP, t
    assert r.preempt_deadline == SECOND + 5 * SECOND
    # After the delay, its adverts are discarded and our Master_Down_Timer runs out.
    while r.state is State.BACKUP:
        t += SECOND
        r.receive_advert(advert(100), PEER, t)
        r.handle_timer(t)
    assert r.state is State.MASTER
    assert 6 * SECOND < t <= 6 * SECOND + master_down_interval_us(3, 200, SECOND) + SECOND


def test_without_preempt_delay_a_lower_master_is_preempted() -> None:
    r = router(priority=200)
    r.start(0)
    log = r.receive_advert(advert(100), PEER, SECOND)
    assert log == [Log("(VI_1) received lower priority (100) advert from 192.0.2.2 - discarding")]


def test_tracking_fault_and_recovery() -> None:
    r = router()
    now = as_master(r)
    effects = r.set_tracking(fault=True, priority=100, now=now + 1)
    assert SendAdvert(0) in effects and ChangeVips(add=False) in effects
    assert r.state is State.FAULT and r.next_deadline() is None
    assert r.receive_advert(advert(50), PEER, now + 2) == []
    effects = r.set_tracking(fault=False, priority=90, now=now + 3)
    assert effects == [
        Log("(VI_1) Changing effective priority from 100 to 90"),
        PriorityChanged(100, 90),
        StateChanged(State.FAULT, State.BACKUP, "keepalived"),
    ]
    assert r.next_deadline() == now + 3 + master_down_interval_us(3, 90, SECOND)


def test_a_deleted_vip_sends_a_master_back_for_its_skew_time() -> None:
    """keepalived set_vrrp_backup: priority 0, VIPs removed, BACKUP, and the
    Master_Down_Timer set to the skew time (a quick way back to MASTER)."""
    r = router(priority=100)
    now = as_master(r)
    effects = r.vip_deleted(now + 5)
    assert effects[:2] == [SendAdvert(0), ChangeVips(add=False)]
    assert isinstance(effects[2], StateChanged) and effects[2].new is State.BACKUP
    assert r.adver_deadline is None
    assert r.master_down_deadline == now + 5 + skew_time_us(3, 100, SECOND)
    assert r.handle_timer(now + 5 + skew_time_us(3, 100, SECOND))[0] == SendAdvert(100)
    assert r.state is State.MASTER
    backup = router()
    backup.start(0)
    assert backup.vip_deleted(1) == [] and backup.state is State.BACKUP


def test_a_new_priority_moves_a_backups_master_down_timer_by_its_skew() -> None:
    r = router(priority=100)
    r.start(0)
    assert r.state is State.BACKUP
    before = r.master_down_deadline
    assert before == master_down_interval_us(3, 100, SECOND)
    assert r.set_tracking(fault=False, priority=200, now=10) == [
        Log("(VI_1) Changing effective priority from 100 to 200"),
        PriorityChanged(100, 200),
    ]
    assert r.master_down_deadline == master_down_interval_us(3, 200, SECOND)  # less skew
    assert r.set_tracking(fault=False, priority=200, now=20) == []


def test_weights_change_the_advertised_priority_but_not_an_owners() -> None:
    r = router()
    now = as_master(r)
    r.set_tracking(fault=False, priority=80, now=now)
    assert r.handle_timer(now + SECOND)[0] == SendAdvert(80)
    owner = router(priority=255)
    owner.start(0)
    owner.set_tracking(fault=False, priority=200, now=0)
    assert owner.handle_timer(SECOND)[0] == SendAdvert(255)


def test_an_owner_that_meets_another_owner_steps_down_to_254() -> None:
    owner = router(priority=255)
    owner.start(0)
    effects = owner.receive_advert(advert(255), PEER, 10)
    conflict = Log(
        "(VI_1) CONFIGURATION ERROR: local instance and a remote instance are both"
        " configured as address owner, please fix - reducing local priority"
    )
    assert conflict in effects
    assert owner.effective_priority == 254 and owner.state is State.BACKUP  # PEER > US


def test_skip_check_adv_addr_skips_the_address_list_of_the_known_master() -> None:
    r = router(skip_check_adv_addr=True)
    r.start(0)
    assert r.receive_advert(advert(150), PEER, 10) == []
    assert r.receive_advert(advert(150, addresses=(US,)), PEER, 20) == []
    assert r.receive_advert(advert(150, addresses=(US,)), bytes((192, 0, 2, 3)), 30) != []


steps = st.lists(
    st.one_of(
        st.tuples(st.just("advert"), st.integers(0, 255), st.integers(0, 3 * SECOND)),
        st.tuples(st.just("track"), st.integers(0, 1), st.integers(1, 254)),
        st.tuples(st.just("wait"), st.integers(0, 5 * SECOND), st.just(0)),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(steps=steps, sync_group=st.booleans(), priority=st.sampled_from([100, 255]))
def test_takeover_priority_says_what_handle_timer_does(
    steps: list[tuple[str, int, int]], sync_group: bool, priority: int
) -> None:
    """A driver may send the takeover before it calls handle_timer (daemon.takeover)."""
    r = router(priority=priority, sync_group=sync_group)
    now = 0
    r.start(now)
    for kind, a, b in [*steps, ("wait", 10 * SECOND, 0)]:
        if kind == "advert":
            now += b
            r.receive_advert(advert(a), PEER, now)
        elif kind == "track":
            r.set_tracking(fault=bool(a), priority=b, now=now)
        else:
            now += a
        before = r.state
        promised = r.takeover_priority(now)
        effects = r.handle_timer(now)
        if promised is None:
            if before is State.BACKUP:  # nothing it could have sent before
                assert not any(isinstance(e, SendGratuitous) for e in effects)
            continue
        event("took over")
        assert before is State.BACKUP and not sync_group
        assert [type(e) for e in effects if not isinstance(e, (Log, PriorityChanged))] == [
            SendAdvert,
            ChangeVips,
            SendGratuitous,
            StateChanged,
        ]
        assert effects[0] == SendAdvert(promised) and r.state is State.MASTER
        assert ChangeVips(add=True) in effects
