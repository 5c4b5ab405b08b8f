"""One VRRP virtual router, sans-IO (RFC 5798 / RFC 9568 section 6; RFC 3768 section 6).

``VrrpRouter`` holds the protocol state of one instance and its two timers. The
driver calls ``start``, ``receive_advert``, ``handle_timer`` and ``shutdown`` with
the current time (microseconds) and carries out the returned effects; it wakes
the router at ``next_deadline()``. The state changes come from ``fsm.TRANSITIONS``.
Validation of received packets (TTL, checksum, VRID, auth) happens before
``receive_advert``; here an advert is already known to be for this router.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pykad.config.sections.vrrp import VrrpInstance
from pykad.vrrp import fsm
from pykad.vrrp.advert import AUTH_AH, AUTH_DATA_LEN, AUTH_NONE, AUTH_PASS, Advert
from pykad.vrrp.fsm import Action, Event, State
from pykad.vrrp.timers import master_down_interval_us, skew_time_us
from pykad.vrrp.validate import Drop, Expect, Peer, check_advert, ntoa

PRIORITY_OWNER = 255
_AUTH_TYPES = {"PASS": AUTH_PASS, "AH": AUTH_AH}
_TAKEOVER = (
    Action.CANCEL_MASTER_DOWN_TIMER,
    Action.RESET_MASTER_INTERVAL,
    Action.SEND_ADVERT,
    Action.ADD_VIPS,
    Action.SEND_GRATUITOUS,
    Action.START_ADVER_TIMER,
)
"""What :meth:`VrrpRouter.takeover_priority` promises: the table's BACKUP + Master_Down_Timer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterConfig:
    vrid: int
    priority: int
    version: int = 3
    advert_int_us: int = 1_000_000
    preempt: bool = True
    primary_address: bytes = b""
    """This router's address on the LAN (compared when priorities tie, RFC 5798 6.4.3)."""
    down_timer_adverts: int = 3
    name: str = ""
    initial_master: bool = False
    """``state MASTER``: wait one advert interval, not a whole Master_Down_Interval, at start."""
    preempt_delay_us: int = 0
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    addresses: tuple[bytes, ...] = ()
    """The virtual addresses our adverts carry (packed), checked in received ones."""
    auth_type: int = AUTH_NONE
    auth_data: bytes = b""
    unicast_peers: tuple[Peer, ...] = ()
    check_unicast_src: bool = False
    skip_check_adv_addr: bool = False
    sync_group: bool = False
    """A member of a ``vrrp_sync_group``: it asks (``WantMaster``) before becoming master."""

    @classmethod
    def from_instance(
        cls, instance: VrrpInstance, primary_address: bytes, *, check_unicast_src: bool = False
    ) -> RouterConfig:
        """The protocol settings of a configured ``vrrp_instance`` (defaults already applied).

        ``primary_address`` is the router's own address on the LAN: the
        instance's ``unicast_src_ip``/``mcast_src_ip`` if set, else the
        interface's primary address, which only the driver knows.
        ``check_unicast_src`` is global_defs' ``vrrp_check_unicast_src``.
        """
        source = instance.source_address
        auth = _AUTH_TYPES[instance.auth_type.value] if instance.auth_type else AUTH_NONE
        password = (instance.auth_pass or "").encode()[:AUTH_DATA_LEN]
        return cls(
            vrid=instance.vrid,
            priority=instance.priority,
            version=int(instance.version),
            advert_int_us=instance.advert_int_us,
            preempt=not instance.nopreempt,
            primary_address=source.packed if source is not None else primary_address,
            down_timer_adverts=instance.down_timer_adverts,
            name=instance.name,
            initial_master=instance.state.value == "MASTER",
            preempt_delay_us=instance.preempt_delay_us,
            lower_prio_no_advert=instance.lower_prio_no_advert,
            higher_prio_send_advert=instance.higher_prio_send_advert,
            addresses=tuple(a.address.ip.packed for a in instance.virtual_ipaddresses),
            auth_type=auth,
            auth_data=password.ljust(AUTH_DATA_LEN, b"\0") if auth == AUTH_PASS else b"",
            unicast_peers=tuple(
                Peer(address=p.address.packed, min_ttl=p.min_ttl, max_ttl=p.max_ttl)
                for p in instance.unicast_peers
            ),
            check_unicast_src=check_unicast_src or instance.check_unicast_src,
            skip_check_adv_addr=instance.skip_check_adv_addr,
        )


@dataclass(frozen=True, slots=True)
class SendAdvert:
    priority: int


@dataclass(frozen=True, slots=True)
class ChangeVips:
    add: bool


@dataclass(frozen=True, slots=True)
class SendGratuitous:
    pass


@dataclass(frozen=True, slots=True)
class StateChanged:
    old: State
    new: State
    rfc: str


@dataclass(frozen=True, slots=True)
class LowerPriorityAdvert:
    """As master, an advert with a lower priority arrived (keepalived: GARPs, notify)."""

    sender: bytes
    priority: int


@dataclass(frozen=True, slots=True)
class WantMaster:
    """A sync-group member's Master_Down_Timer fired: the group decides (``sync``)."""


@dataclass(frozen=True, slots=True)
class PriorityChanged:
    """Tracking changed the effective priority (keepalived ``vrrp_set_effective_priority``)."""

    old: int
    new: int


@dataclass(frozen=True, slots=True)
class Log:
    """A line for the log, in keepalived's words."""

    text: str


Effect = (
    SendAdvert
    | ChangeVips
    | SendGratuitous
    | StateChanged
    | LowerPriorityAdvert
    | WantMaster
    | PriorityChanged
    | Log
)


@dataclass(frozen=True, slots=True)
class RouterStatistics:
    """A snapshot of one router's counters (keepalived's ``vrrp_stats``)."""

    adverts_received: int
    priority_zero_received: int
    become_master: int
    release_master: int
    dropped: dict[str, int] = field(default_factory=dict)


class VrrpRouter:
    """The state machine of one VRRP instance with its Adver and Master_Down timers."""

    def __init__(self, config: RouterConfig) -> None:
        self.config = config
        self.expect = Expect(
            name=config.name,
            version=config.version,
            advert_int_us=config.advert_int_us,
            addresses=config.addresses,
            auth_type=config.auth_type,
            auth_data=config.auth_data,
            unicast_peers=config.unicast_peers,
            check_unicast_src=config.check_unicast_src,
        )
        self.state = State.INIT
        self.base_priority = config.priority
        self.effective_priority = config.priority
        self.fault = False
        self.master_adver_interval_us = config.advert_int_us
        self.adver_deadline: int | None = None
        self.master_down_deadline: int | None = None
        self.preempt_deadline: int | None = None
        """keepalived's ``preempt_time``: when a lower-priority master may be preempted."""
        self.master_address: bytes | None = None
        self.master_priority: int | None = None
        self._counts: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()

    def statistics(self) -> RouterStatistics:
        c = self._counts
        return RouterStatistics(
            c["adverts_received"],
            c["priority_zero_received"],
            c["become_master"],
            c["release_master"],
            dict(self._dropped),
        )

    # --- inputs -------------------------------------------------------------------

    def start(self, now: int) -> list[Effect]:
        if self.fault:
            return self._fire(Event.FAULT, now)
        if self.base_priority == PRIORITY_OWNER:
            return self._fire(Event.STARTUP_OWNER, now)
        if self.config.initial_master:
            return self._fire(Event.STARTUP_AS_MASTER, now)
        return self._fire(Event.STARTUP, now)

    def shutdown(self, now: int) -> list[Effect]:
        return self._fire(Event.SHUTDOWN, now)

    def count_malformed(self) -> None:
        """The codec rejected a packet with our VRID (counted, as keepalived does)."""
        self._dropped[Drop.MALFORMED.value] += 1

    def receive_advert(
        self,
        advert: Advert,
        sender: bytes,
        now: int,
        *,
        ttl: int | None = None,
        multicast: bool | None = None,
    ) -> list[Effect]:
        """A well-formed advert with our VRID arrived from ``sender``.

        ``ttl`` and ``multicast`` describe the IP packet (None: not checked /
        the way this instance expects).
        """
        if self.state not in (State.BACKUP, State.MASTER):
            return []
        c = self.config
        check_addresses = not (
            self.state is State.BACKUP and c.skip_check_adv_addr and sender == self.master_address
        )
        bad = check_advert(
            self.expect,
            advert,
            sender=sender,
            ttl=ttl,
            multicast=not c.unicast_peers if multicast is None else multicast,
            check_addresses=check_addresses,
        )
        if bad is not None:
            self._dropped[bad[0].value] += 1
            return [Log(bad[1])]
        self._counts["adverts_received"] += 1
        if advert.priority == 0:
            self._counts["priority_zero_received"] += 1
        effects: list[Effect] = []
        if self.state is State.MASTER:
            effects += self._master_checks(advert, sender)
        preempt_delayed = (
            self.state is State.BACKUP
            and c.preempt_delay_us > 0
            and (self.preempt_deadline is None or self.preempt_deadline > now)
        )
        event = fsm.classify_advert(
            state=self.state,
            advert_priority=advert.priority,
            local_priority=self.effective_priority,
            preempt=c.preempt,
            sender=sender,
            local_primary=c.primary_address,
            preempt_delayed=preempt_delayed,
        )
        if self.state is State.BACKUP:
            effects += self._backup_bookkeeping(event, advert, sender, now)
        return effects + self._fire(event, now, advert, sender)

    def handle_timer(self, now: int) -> list[Effect]:
        effects: list[Effect] = []
        if self.master_down_deadline is not None and now >= self.master_down_deadline:
            if self.config.sync_group and self.state is State.BACKUP:
                # keepalived vrrp_state_goto_master: the group must agree; ask again later.
                self._act(Action.START_MASTER_DOWN_TIMER, now, None, b"")
                effects.append(WantMaster())
            else:
                effects += self._fire(Event.MASTER_DOWN_TIMER, now)
        if self.adver_deadline is not None and now >= self.adver_deadline:
            effects += self._fire(Event.ADVER_TIMER, now)
        return effects

    def master_gone(self, address: bytes, now: int) -> list[Effect]:
        """pykad: a BFD session to ``address`` went down (``pykad_bfd_takeover``).

        If that is the master this BACKUP follows, its Master_Down_Timer fires now
        (RFC 5798 6.4.2) instead of after up to three advert intervals plus skew.
        """
        if (
            self.state is not State.BACKUP
            or self.master_address != address
            or self.master_down_deadline is None
        ):
            return []
        self.master_down_deadline = now
        return self.handle_timer(now)

    def vip_deleted(self, now: int) -> list[Effect]:
        """Someone deleted one of this MASTER's addresses from the host (keepalived's
        netlink reflector): it leaves with a priority-0 advert and its VIPs, and comes
        back after the skew time, its VIPs with it, unless a peer takes over first."""
        return self._fire(Event.VIP_DELETED, now)

    def set_tracking(self, *, fault: bool, priority: int, now: int) -> list[Effect]:
        """The tracked objects now say ``fault`` and the effective ``priority``.

        An address owner keeps priority 255 whatever the weights (keepalived).
        A new priority moves a running Master_Down_Timer by the change of
        Master_Down_Interval (its skew), as keepalived does.
        """
        effects: list[Effect] = []
        old = self.effective_priority
        if self.base_priority != PRIORITY_OWNER and priority != old:
            self.effective_priority = priority
            effects.append(
                Log(f"({self.config.name}) Changing effective priority from {old} to {priority}")
            )
            if self.state is State.BACKUP and self.master_down_deadline is not None:
                c, interval = self.config, self.master_adver_interval_us
                self.master_down_deadline += master_down_interval_us(
                    c.version, priority, interval, c.down_timer_adverts
                ) - master_down_interval_us(c.version, old, interval, c.down_timer_adverts)
            effects.append(PriorityChanged(old, priority))
        if fault == self.fault:
            return effects
        self.fault = fault
        if fault:
            return effects + self._fire(Event.FAULT, now)
        if self.state is not State.FAULT:
            return effects
        owner = self.base_priority == PRIORITY_OWNER
        return effects + self._fire(Event.RECOVER_OWNER if owner else Event.RECOVER, now)

    def carry_over(
        self, old: VrrpRouter, now: int, *, restart_timers: bool, advertise: bool = False
    ) -> None:
        """A reload: this router takes the place of ``old`` for the same instance.

        It keeps what keepalived's ``restore_vrrp_state`` keeps (state, fault,
        effective priority, the master it follows, its counters); the new
        priority comes with the next ``set_tracking``.  With ``restart_timers``
        (the instance was rebuilt) a master advertises at once and a backup
        starts a fresh Master_Down_Timer, as keepalived's ``vrrp_init_state``
        does after a reload; otherwise both timers run on untouched, except that
        with ``advertise`` (its priority changed) a master advertises at once, so
        that its backups hear the new priority now, not an advert interval later.
        """
        self.state, self.fault = old.state, old.fault
        self.effective_priority = (
            PRIORITY_OWNER if self.base_priority == PRIORITY_OWNER else old.effective_priority
        )
        self.master_address, self.master_priority = old.master_address, old.master_priority
        self.preempt_deadline = old.preempt_deadline if self.config.preempt_delay_us else None
        self._counts, self._dropped = old._counts, old._dropped
        if self.config.version == 3 and old.config.version == 3 and self.state is State.BACKUP:
            self.master_adver_interval_us = old.master_adver_interval_us  # learned
        if not restart_timers:
            self.adver_deadline = old.adver_deadline
            self.master_down_deadline = old.master_down_deadline
            if advertise and self.state is State.MASTER:
                self.adver_deadline = now
        elif self.state is State.MASTER:
            self.adver_deadline, self.master_down_deadline = now, None
        elif self.state is State.BACKUP:
            self._act(Action.START_MASTER_DOWN_TIMER, now, None, b"")

    def sync(self, state: State, now: int) -> list[Effect]:
        """The sync group moves this member to MASTER or BACKUP (FAULT comes by tracking)."""
        if state is State.MASTER:
            return self._fire(Event.SYNC_MASTER, now)
        if state is State.BACKUP:
            return self._fire(Event.SYNC_BACKUP, now)
        return []

    def takeover_priority(self, now: int) -> int | None:
        """The priority of the advert :meth:`handle_timer` at ``now`` sends as this
        BACKUP becomes MASTER (RFC 5798 6.4.2: the Master_Down_Timer fired, and the
        table says advert, VIPs, gratuitous ARPs); None if it would not take over.

        A driver may send that advert, the VIPs and the ARPs before it calls
        :meth:`handle_timer` (which then still gives the same effects).
        """
        if (
            self.state is not State.BACKUP
            or self.config.sync_group  # the group decides (handle_timer: WantMaster)
            or self.master_down_deadline is None
            or now < self.master_down_deadline
        ):
            return None
        transition = fsm.step(State.BACKUP, Event.MASTER_DOWN_TIMER)
        if transition.next_state is not State.MASTER or transition.actions != _TAKEOVER:
            return None
        return self.effective_priority

    def next_deadline(self) -> int | None:
        a, m = self.adver_deadline, self.master_down_deadline
        if a is None:
            return m
        return a if m is None or a < m else m

    # --- keepalived's additions around the table ------------------------------------

    def _master_checks(self, advert: Advert, sender: bytes) -> list[Effect]:
        """Equal-priority conflicts a master reports (keepalived ``vrrp_state_master_rx``)."""
        name, ours = self.config.name, self.effective_priority
        if advert.priority != ours or advert.priority == 0:
            return []
        if sender == self.config.primary_address:
            return [
                Log(
                    f"({name}) WARNING - equal priority advert received from remote host"
                    " with our IP address."
                )
            ]
        if ours == PRIORITY_OWNER:
            self.base_priority = self.effective_priority = PRIORITY_OWNER - 1
            return [
                Log(
                    f"({name}) CONFIGURATION ERROR: local instance and a remote instance are"
                    " both configured as address owner, please fix - reducing local priority"
                )
            ]
        return []

    def _backup_bookkeeping(
        self, event: Event, advert: Advert, sender: bytes, now: int
    ) -> list[Effect]:
        """The master we follow, and ``preempt_delay`` (keepalived ``vrrp_state_backup``)."""
        c = self.config
        self.master_address = sender
        if event is Event.ADVERT_LOSES:
            return [
                Log(
                    f"({c.name}) received lower priority ({advert.priority}) advert from"
                    f" {ntoa(sender)} - discarding"
                )
            ]
        if event is Event.ADVERT_PREEMPTS_US:
            self.master_priority = advert.priority
            if c.preempt_delay_us:
                if advert.priority >= self.effective_priority:
                    self.preempt_deadline = None
                elif self.preempt_deadline is None:
                    self.preempt_deadline = now + c.preempt_delay_us
        return []

    # --- the table ----------------------------------------------------------------

    def _fire(
        self, event: Event, now: int, advert: Advert | None = None, sender: bytes = b""
    ) -> list[Effect]:
        transition = fsm.step(self.state, event)
        effects: list[Effect] = []
        for action in transition.actions:
            effects += self._act(action, now, advert, sender)
        old, new = self.state, transition.next_state
        if new is not old:
            if new is State.MASTER:
                self._counts["become_master"] += 1
            elif old is State.MASTER:
                self._counts["release_master"] += 1
            if new is not State.BACKUP:
                self.preempt_deadline = None
            effects.append(StateChanged(old, new, transition.rfc))
            self.state = new
        return effects

    def _act(self, action: Action, now: int, advert: Advert | None, sender: bytes) -> list[Effect]:
        c = self.config
        if action is Action.SEND_ADVERT:
            return [SendAdvert(self.effective_priority)]
        if action is Action.SEND_ADVERT_PRIORITY_ZERO:
            return [SendAdvert(0)]
        if action is Action.SEND_GRATUITOUS:
            return [SendGratuitous()]
        if action in (Action.ADD_VIPS, Action.REMOVE_VIPS):
            return [ChangeVips(add=action is Action.ADD_VIPS)]
        if action is Action.SEND_ADVERT_IF_HIGHER_PRIO_SEND_ADVERT:
            return [SendAdvert(self.effective_priority)] if c.higher_prio_send_advert else []
        if action is Action.FORCE_ELECTION and advert is not None:
            forcing = "" if c.lower_prio_no_advert else ", forcing new election"
            effects: list[Effect] = [
                Log(
                    f"({c.name}) Received advert from {ntoa(sender)} with lower priority"
                    f" {advert.priority}, ours {self.effective_priority}{forcing}"
                )
            ]
            if not c.lower_prio_no_advert:
                effects.append(SendAdvert(self.effective_priority))
            return [*effects, LowerPriorityAdvert(sender, advert.priority)]
        if action is Action.START_ADVER_TIMER:
            self.adver_deadline = now + c.advert_int_us
        elif action is Action.CANCEL_ADVER_TIMER:
            self.adver_deadline = None
        elif action is Action.START_MASTER_DOWN_TIMER:
            self.master_down_deadline = now + master_down_interval_us(
                c.version,
                self.effective_priority,
                self.master_adver_interval_us,
                c.down_timer_adverts,
            )
        elif action is Action.START_SKEW_TIMER:
            self.master_down_deadline = now + skew_time_us(
                c.version, self.effective_priority, self.master_adver_interval_us
            )
        elif action is Action.START_STARTUP_TIMER:
            self.master_down_deadline = (
                now
                + self.master_adver_interval_us
                + skew_time_us(c.version, PRIORITY_OWNER, self.master_adver_interval_us)
            )
        elif action is Action.CANCEL_MASTER_DOWN_TIMER:
            self.master_down_deadline = None
        elif action is Action.RESET_MASTER_INTERVAL:
            self.master_adver_interval_us = c.advert_int_us
        elif action is Action.LEARN_MASTER_INTERVAL and advert is not None and c.version == 3:
            self.master_adver_interval_us = advert.max_advert_int * 10_000
        return []
