"""VRRP notifications as keepalived 2.2.7 makes them: which scripts run, what the FIFO gets.

Owned here (sans-IO: the driver ``pykad.drivers.notify`` carries the effects out):

- :class:`RunScript` and :class:`WriteFifo`, the effects; :func:`fifo_line` and
  :func:`generic_argv`, the two formats.
- :class:`NotifyPlanner`: given a state change of an instance or a sync group (or an
  event: a lower-priority advert seen as master, a priority change), the effects, in
  the order keepalived produces them (``vrrp/vrrp_notify.c``):

  1. the state's own script (``notify_master``, ``notify_backup``, ``notify_fault``,
     ``notify_stop``; ``notify_deleted`` for an instance deleted on reload), as
     configured;
  2. the generic ``notify`` script with ``INSTANCE|GROUP NAME STATE PRIORITY``
     appended as four more words (the name is not quoted: it is one argv word;
     a group's priority is 0);
  3. one FIFO line, ``INSTANCE "VI_1" MASTER 100\\n`` (``%s "%s" %s %d\\n``): the
     name in double quotes, the effective priority, 0 for a group.  The same line
     goes to ``notify_fifo`` and ``vrrp_notify_fifo``.

  4. with ``smtp_alert`` (and a server and recipients: ``pykad.mail.smtp.Alerts``), an
     alert mail when the state differs from the one last mailed
     (``last_email_state``): ``[ROUTER_ID] VRRP Instance VI_1 - Entering MASTER
     state``, "=> VRRP Instance is now owning VRRP VIPs <=" (``vrrp_smtp_notifier``),
     none for FAULT with ``no_email_faults``; a sync group's as ``VRRP Group``. An
     instance a reload deletes mails "Deleted" with ``notify_deleted``, else
     "Entering FAULT state" (as keepalived 2.2.7 does).

  Events write only a line: ``MASTER_RX_LOWER_PRI`` (and run
  ``notify_master_rx_lower_pri`` as configured, without the four words), and with
  ``notify_priority_changes`` ``MASTER_PRIORITY`` or ``BACKUP_PRIORITY`` (any state
  but MASTER).

- keepalived's rules around them: a STOP script (an instance's own or generic, a
  group's generic) is killed after 1 s (``TIMER_HZ``), other scripts run
  untimed; an instance in a sync group does not notify again when the group's
  state already equals its new state (``notifies_sent``); on shutdown every
  instance notifies STOP with its effective priority, in config order, and then
  every sync group.

Checked against the real keepalived 2.2.7 by ``tests/interop/test_notify_keepalived.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pykad.config.scripts import Script
from pykad.config.sections._vrrp_model import SyncGroup, VrrpInstance
from pykad.mail.smtp import Alerts, Mail, group_subject, instance_subject

__all__ = [
    "STOP_SCRIPT_TIMEOUT_S",
    "Event",
    "Kind",
    "Notification",
    "NotifyPlanner",
    "NotifyState",
    "RunScript",
    "SendMail",
    "WriteFifo",
    "fifo_line",
    "generic_argv",
]

STOP_SCRIPT_TIMEOUT_S = 1.0
"""keepalived runs STOP scripts with a TIMER_HZ timeout, then kills their process group."""


class NotifyState(enum.Enum):
    """The states keepalived notifies (its words in argv and FIFO lines)."""

    MASTER = "MASTER"
    BACKUP = "BACKUP"
    FAULT = "FAULT"
    STOP = "STOP"
    DELETED = "DELETED"

    @classmethod
    def of(cls, state: enum.Enum | str) -> NotifyState:
        """The notify state named like ``state`` (an enum member of any class, or a name)."""
        return cls[state if isinstance(state, str) else state.name]


class Event(enum.Enum):
    """keepalived's dummy states for event notifications (FIFO only)."""

    MASTER_RX_LOWER_PRI = "MASTER_RX_LOWER_PRI"
    MASTER_PRIORITY = "MASTER_PRIORITY"
    BACKUP_PRIORITY = "BACKUP_PRIORITY"


class Kind(enum.Enum):
    INSTANCE = "INSTANCE"
    GROUP = "GROUP"


@dataclass(frozen=True, slots=True)
class RunScript:
    """Run a script (fire and forget; reaped; killed after ``timeout_s`` if set)."""

    argv: tuple[str, ...]
    user: str | None = None
    """Whom to run it as (None: the default script user)."""
    group: str | None = None
    timeout_s: float | None = None


@dataclass(frozen=True, slots=True)
class WriteFifo:
    """Write ``line`` to the VRRP notify FIFOs (``notify_fifo`` and ``vrrp_notify_fifo``)."""

    line: bytes


@dataclass(frozen=True, slots=True)
class SendMail:
    """Send an alert mail (``smtp_alert``)."""

    mail: Mail


Notification = RunScript | WriteFifo | SendMail


_INSTANCE_MAIL = {
    NotifyState.MASTER: ("Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="),
    NotifyState.BACKUP: (
        "Entering BACKUP state",
        "=> VRRP Instance is no longer owning VRRP VIPs <=",
    ),
    NotifyState.FAULT: (
        "Entering FAULT state",
        "=> VRRP Instance is no longer owning VRRP VIPs <=",
    ),
    NotifyState.STOP: ("Stopping", "=> VRRP Instance stopping <="),
    NotifyState.DELETED: ("Deleted", "=> VRRP Deleted at reload <="),
}
_GROUP_MAIL = {
    NotifyState.MASTER: (
        "Entering MASTER state",
        "=> All VRRP group instances are now in MASTER state <=",
    ),
    NotifyState.BACKUP: (
        "Entering BACKUP state",
        "=> All VRRP group instances are now in BACKUP state <=",
    ),
    NotifyState.FAULT: (
        "Entering FAULT state",
        "=> All VRRP group instances are now in FAULT state <=",
    ),
    NotifyState.STOP: ("Stopping", "=> All VRRP group instances are now stopping <="),
}


def fifo_line(kind: Kind, name: str, state: NotifyState | Event, priority: int) -> bytes:
    """keepalived's FIFO line: ``TYPE "NAME" STATE PRIORITY\\n``."""
    return f'{kind.value} "{name}" {state.value} {priority}\n'.encode(errors="surrogateescape")


def generic_argv(
    script: Script, kind: Kind, name: str, state: NotifyState, priority: int
) -> tuple[str, ...]:
    """The argv of the generic ``notify`` script: its words, then TYPE NAME STATE PRIORITY."""
    return (*script.argv, kind.value, name, state.value, str(priority))


def _run(script: Script, argv: tuple[str, ...] | None = None, timed: bool = False) -> RunScript:
    return RunScript(
        argv if argv is not None else script.argv,
        script.user,
        script.group,
        STOP_SCRIPT_TIMEOUT_S if timed else None,
    )


def _state_script(owner: VrrpInstance | SyncGroup, state: NotifyState) -> Script | None:
    if state is NotifyState.MASTER:
        return owner.notify_master
    if state is NotifyState.BACKUP:
        return owner.notify_backup
    if state is NotifyState.FAULT:
        return owner.notify_fault
    if state is NotifyState.STOP:
        return owner.notify_stop
    if isinstance(owner, VrrpInstance):
        return owner.notify_deleted_script
    return None


class NotifyPlanner:
    """The notifications of the instances and sync groups of one configuration.

    Remembers what keepalived remembers to decide them: which instances have
    notified once (``notifies_sent``) and each sync group's state.
    """

    def __init__(
        self,
        instances: Iterable[VrrpInstance],
        groups: Iterable[SyncGroup] = (),
        alerts: Alerts | None = None,
    ) -> None:
        self._instances = {i.name: i for i in instances}
        self._groups = {g.name: g for g in groups}
        self._group_of = {m: g.name for g in self._groups.values() for m in g.members}
        self._group_state: dict[str, NotifyState] = {}
        self._sent: set[str] = set()
        self.alerts = alerts
        self._mailed: dict[tuple[Kind, str], NotifyState] = {}
        """The state last mailed, per instance or group (keepalived's last_email_state)."""

    def reloaded(
        self,
        instances: Iterable[VrrpInstance],
        groups: Iterable[SyncGroup] = (),
        alerts: Alerts | None = None,
    ) -> NotifyPlanner:
        """A planner for a reloaded configuration that remembers what this one did
        (instances that notified, groups' states: keepalived keeps both over a reload)."""
        planner = NotifyPlanner(instances, groups, alerts)
        planner._sent = {n for n in self._sent if n in planner._instances}
        planner._group_state = {n: s for n, s in self._group_state.items() if n in planner._groups}
        planner._mailed = dict(self._mailed)
        return planner

    def _mail(self, kind: Kind, name: str, state: NotifyState, wanted: bool) -> list[Notification]:
        alerts = self.alerts
        if alerts is None or not wanted or self._mailed.get((kind, name)) is state:
            return []
        if state is NotifyState.FAULT and alerts.no_email_faults:
            return []
        texts = (_INSTANCE_MAIL if kind is Kind.INSTANCE else _GROUP_MAIL).get(state)
        if texts is None:
            return []
        self._mailed[(kind, name)] = state
        make = instance_subject if kind is Kind.INSTANCE else group_subject
        return [SendMail(Mail(make(alerts.router_id, name, texts[0]), texts[1]))]

    def _instance(self, name: str) -> VrrpInstance:
        try:
            return self._instances[name]
        except KeyError:
            raise KeyError(f"no vrrp_instance {name!r}") from None

    def instance_state(
        self, name: str, state: NotifyState, priority: int, mailed: NotifyState | None = None
    ) -> tuple[Notification, ...]:
        """Instance ``name`` entered ``state`` with effective priority ``priority``
        (``mailed``: the state its mail says, when not ``state``)."""
        instance = self._instance(name)
        group = self._group_of.get(name)
        if name in self._sent and group is not None and self._group_state.get(group) is state:
            return ()  # already notified through its sync group
        self._sent.add(name)
        stop = state is NotifyState.STOP
        effects: list[Notification] = []
        script = _state_script(instance, state)
        if script is not None:
            effects.append(_run(script, timed=stop))
        if instance.notify is not None:
            argv = generic_argv(instance.notify, Kind.INSTANCE, name, state, priority)
            effects.append(_run(instance.notify, argv, timed=stop))
        effects.append(WriteFifo(fifo_line(Kind.INSTANCE, name, state, priority)))
        effects += self._mail(Kind.INSTANCE, name, mailed or state, instance.smtp_alert)
        return tuple(effects)

    def group_state(self, name: str, state: NotifyState) -> tuple[Notification, ...]:
        """Sync group ``name`` entered ``state``."""
        try:
            group = self._groups[name]
        except KeyError:
            raise KeyError(f"no vrrp_sync_group {name!r}") from None
        self._group_state[name] = state
        effects: list[Notification] = []
        script = _state_script(group, state)
        if script is not None:
            effects.append(_run(script))  # keepalived: notify_exec, untimed even for STOP
        if group.notify is not None:
            argv = generic_argv(group.notify, Kind.GROUP, name, state, 0)
            effects.append(_run(group.notify, argv, timed=state is NotifyState.STOP))
        effects.append(WriteFifo(fifo_line(Kind.GROUP, name, state, 0)))
        effects += self._mail(Kind.GROUP, name, state, group.smtp_alert)
        return tuple(effects)

    def master_rx_lower_pri(self, name: str, priority: int) -> tuple[Notification, ...]:
        """As master, instance ``name`` received an advert with a lower priority."""
        instance = self._instance(name)
        effects: list[Notification] = []
        if instance.notify_master_rx_lower_pri is not None:
            effects.append(_run(instance.notify_master_rx_lower_pri))
        effects.append(
            WriteFifo(fifo_line(Kind.INSTANCE, name, Event.MASTER_RX_LOWER_PRI, priority))
        )
        return tuple(effects)

    def priority_changed(
        self, name: str, state: NotifyState, priority: int
    ) -> tuple[Notification, ...]:
        """Instance ``name``'s effective priority became ``priority`` while in ``state``.

        Nothing unless the instance has ``notify_priority_changes`` (inherited from
        its sync group or ``vrrp_notify_priority_changes`` by the config model).
        """
        if not self._instance(name).notify_priority_changes:
            return ()
        event = Event.MASTER_PRIORITY if state is NotifyState.MASTER else Event.BACKUP_PRIORITY
        return (WriteFifo(fifo_line(Kind.INSTANCE, name, event, priority)),)

    def deleted(self, name: str, priority: int) -> tuple[Notification, ...]:
        """Instance ``name`` was removed by a reload: DELETED with ``notify_deleted``, else
        STOP, whose mail says "Entering FAULT state" (keepalived 2.2.7's, checked)."""
        if self._instance(name).notify_deleted:
            return self.instance_state(name, NotifyState.DELETED, priority)
        return self.instance_state(name, NotifyState.STOP, priority, NotifyState.FAULT)

    def shutdown(self, priorities: Mapping[str, int]) -> tuple[Notification, ...]:
        """Stopping: every instance, then every sync group, notifies STOP.

        ``priorities``: each instance's effective priority (its configured one if absent).
        """
        effects: list[Notification] = []
        for name, instance in self._instances.items():
            priority = priorities.get(name, instance.priority)
            effects += self.instance_state(name, NotifyState.STOP, priority)
        for name in self._groups:
            effects += self.group_state(name, NotifyState.STOP)
        return tuple(effects)
