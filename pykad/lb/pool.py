"""One virtual server's pool of real servers, as keepalived 2.2.7's checker applies it.

Owned here (sans-IO: no I/O, no clock): :class:`Pool`, a port of
keepalived/check/ipwrapper.c's server-pool logic for one virtual server, driven by
events and answering with notifications:

- events: :class:`Start` (``init_service_vs``), :class:`CheckerResult` (a checker
  found its real server up or down: ``update_svr_checker_state``),
  :class:`CheckerWeight` (MISC_CHECK ``misc_dynamic``: ``update_svr_wgt``),
  :class:`FileValue` (FILE_CHECK: track_file.c
  ``process_update_checker_track_file_status``), :class:`Suspend` (``ha_suspend``)
  and :class:`Stop` (``clear_service_vs``, after ``lvs_flush_on_stop``);
- effects: :class:`~pykad.vrrp.notify.RunScript` (``notify_up`` /
  ``notify_down`` / ``quorum_up`` / ``quorum_down``; with ``omega``, those run at
  shutdown get keepalived's 1 s timeout), :class:`~pykad.vrrp.notify.WriteFifo`
  (``RS [198.51.100.1]:tcp:8080 [192.0.2.1]:tcp:80 UP\\n``,
  ``VS [192.0.2.1]:tcp:80 DOWN\\n``: ``notify_fifo_rs`` / ``notify_fifo_vs``, for
  ``notify_fifo`` and ``lvs_notify_fifo``) and, with ``pykad.mail.smtp.Alerts``,
  :class:`~pykad.vrrp.notify.SendMail` (``smtp_alert``: a real server's mail with
  its checker's text, ``[ROUTER_ID] Realserver RS of virtual server VS - UP``, as
  each keepalived checker sends it; a virtual server's quorum mail; with ``omega``
  the shutdown mails), in keepalived's order;
- :meth:`Pool.dests`: the destinations keepalived's commands have left in IPVS
  (each server with the weight sent), to be turned into the table by
  :func:`pykad.lb.desired.table`.

The rules ported: a real server is alive when none of its checkers is failed;
without ``alpha`` checkers start up (and the server is added at start), with it
down; ``inhibit_on_failure`` turns a removal into weight 0 (``ipvs_cmd``);
quorum with hysteresis (``update_quorum_state``: the threshold is quorum +
hysteresis to gain and quorum - hysteresis to lose, in unsigned 32-bit
arithmetic as keepalived computes it); the sorry server replaces the alive real
servers while quorum is lost (``perform_quorum_state``), and with its
``inhibit`` stays at weight 0 otherwise; weight changes reach IPVS only for an
alive server while quorum is up or no sorry server is active; real server
changes are not pushed while the sorry server is active.  keepalived's ``ipvs_cmd``
is simulated on a model of the kernel's destinations (an add of a present
destination is a no-op, as EEXIST is; an edit of an absent one adds it), so a
sorry server equal to a real server shares its destination, as in IPVS.

``ha_suspend`` is what keepalived does with it (check_api.c
``update_checker_activity``): while the virtual server's address is not on the
host its checkers are suspended, so their results are ignored here (FILE_CHECK
and BFD_CHECK are not suspended); the service itself stays.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

from pykad.config.scripts import Script
from pykad.config.sections._lvs_model import (
    AnyCheck,
    BfdCheck,
    FileCheck,
    Method,
    RealServer,
    SmtpCheck,
    SorryServer,
    VirtualServer,
)
from pykad.config.sections.global_defs import LvsFlushOnStop
from pykad.lb.desired import format_rs, real_weight
from pykad.mail.smtp import Alerts, Mail, real_server_subject, virtual_server_subject
from pykad.vrrp.notify import STOP_SCRIPT_TIMEOUT_S, RunScript, SendMail, WriteFifo

__all__ = [
    "SORRY",
    "WEIGHT_FAULT",
    "CheckerResult",
    "CheckerWeight",
    "Effect",
    "Event",
    "FileValue",
    "Pool",
    "Remove",
    "Start",
    "Stop",
    "Suspend",
    "checker_configs",
]

SORRY = -1
"""The sorry server's index where a real server's is expected."""
WEIGHT_FAULT = -(2**31)
"""IPVS_WEIGHT_FAULT (INT_MIN): a FILE_CHECK status meaning the real server failed."""
_U32 = 2**32


# --- events and effects -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """The service is set up (check_daemon.c ``start_check`` → ``init_services``)."""

    file_values: Mapping[tuple[int, int], int] = field(default_factory=dict)
    """The value each FILE_CHECK's track file holds at start, by (real server,
    checker); absent: 0."""
    checkers: Mapping[tuple[int, int], bool] = field(default_factory=dict)
    """States carried over from the previous configuration on a reload (keepalived's
    ``migrate_checkers``), by (real server, checker): up or down; absent: as at start."""


@dataclass(frozen=True, slots=True)
class CheckerResult:
    """Checker ``checker`` of real server ``rs`` reports it up or down.

    ``mail``: the checker's ``smtp_alert`` text ("=> TCP CHECK failed on service
    <="), sent when the checker's state changes; with ``mail_always`` (MISC_CHECK)
    at every result (keepalived's check_misc.c mails each verdict it applies).
    """

    rs: int
    checker: int
    up: bool
    mail: str = ""
    mail_always: bool = False


@dataclass(frozen=True, slots=True)
class CheckerWeight:
    """A MISC_CHECK with ``misc_dynamic`` sets its real server's weight.

    ``weight``: the exit status minus 2 (keepalived: ``status - 2``, 0..253), or
    None for exit status 0 (the configured weight).
    """

    rs: int
    checker: int
    weight: int | None


@dataclass(frozen=True, slots=True)
class FileValue:
    """A FILE_CHECK's track file now holds ``value``."""

    rs: int
    checker: int
    value: int


@dataclass(frozen=True, slots=True)
class Suspend:
    """``ha_suspend``: the virtual server's address left (True) or came back (False)."""

    suspended: bool


@dataclass(frozen=True, slots=True)
class Stop:
    """The service is removed (shutdown): ipwrapper.c ``clear_services``."""

    flush: LvsFlushOnStop | None = None
    """global_defs ``lvs_flush_on_stop``: None (each destination removed, then the
    service), ``VS`` (only the service) or ``FULL`` (everything flushed)."""


@dataclass(frozen=True, slots=True)
class Remove:
    """A reload takes the service's real servers away (ipwrapper.c
    ``clear_diff_services``), all but ``kept``: the indices of those the new
    configuration still has (same address and port) for the same virtual server, which
    its new pool takes over.  ``kept`` None: the virtual server itself is gone
    (``clear_service_vs``, not stopping, with ``flush`` as :class:`Stop`'s)."""

    kept: frozenset[int] | None
    flush: LvsFlushOnStop | None = None


Event = Start | CheckerResult | CheckerWeight | FileValue | Suspend | Stop | Remove
Effect = RunScript | WriteFifo | SendMail


# --- checkers -----------------------------------------------------------------------


class _Kind(enum.Enum):
    LAUNCHED = "launched"
    """A checker keepalived schedules itself (TCP, HTTP, MISC, ...): ha_suspend stops it."""
    FILE = "file"
    BFD = "bfd"


def checker_configs(rs: RealServer) -> tuple[AnyCheck, ...]:
    """The checkers keepalived queues for ``rs``, in order: one per check, and an
    SMTP_CHECK with ``host`` blocks one per host (plus its own connection if it
    has one; check_smtp.c ``smtp_check_end_handler``).  Checker indexes of the
    events are positions in this tuple."""
    out: list[AnyCheck] = []
    for check in rs.checks:
        if isinstance(check, SmtpCheck) and check.hosts:
            out.extend([check] * max(1, len(check.hosts) + (1 if check.use_connection else 0)))
        else:
            out.append(check)
    return tuple(out)


def _int32(value: int) -> int:
    """A C ``int`` assignment (``checker->cur_weight``)."""
    value &= _U32 - 1
    return value - _U32 if value >= 2**31 else value


def _weight_range(value: int) -> int:
    """track_file.h ``weight_range``."""
    return min(max(value, WEIGHT_FAULT), 2**31 - 1)


@dataclass(slots=True)
class _Checker:
    kind: _Kind
    alpha: bool
    is_up: bool = True
    has_run: bool = False
    cur_weight: int = 0
    file_weight: int = 0
    file_multiplier: int = 1
    last_value: int = 0


_Slot = tuple[IPv4Address | IPv6Address, int | None]


@dataclass(slots=True)
class _Server:
    """keepalived's ``real_server_t``, for a real server or the sorry server."""

    index: int
    config: RealServer | SorryServer
    slot: _Slot
    inhibit: bool
    iweight: int
    effective: int
    checkers: list[_Checker]
    notify_up: Script | None = None
    notify_down: Script | None = None
    name: str = ""
    alive: bool = False
    set: bool = False
    num_failed: int = 0


@dataclass(frozen=True, slots=True)
class ServerDump:
    """A real server's state for the data dump (``Pool.server_dump``)."""

    alive: bool
    initial_weight: int
    effective_weight: int
    failed: int
    set: bool
    checkers: tuple[tuple[bool, bool, int], ...]
    """Per checker: up, has run, its current (dynamic) weight."""


class _Cmd(enum.Enum):
    ADD = "add"
    DEL = "del"
    EDIT = "edit"


# --- the pool -----------------------------------------------------------------------


class Pool:
    """The pool of one virtual server (``vs``, named ``name`` as ``FMT_VS`` names it).

    ``rs_init_notifies``: global_defs ``rs_init_notifies`` (notify the real servers
    found up at start).  ``suspended``: for an ``ha_suspend`` virtual server, whether
    its address is missing at start.
    """

    def __init__(
        self,
        vs: VirtualServer,
        name: str,
        *,
        rs_init_notifies: bool = False,
        suspended: bool = False,
        alerts: Alerts | None = None,
    ) -> None:
        self.vs = vs
        self.name = name
        self.alerts = alerts
        self._rs_init_notifies = rs_init_notifies
        self._suspended = suspended
        self._active = False
        self._stopped = False
        self._quorum_up = False
        self._kernel: dict[_Slot, tuple[_Server, int]] = {}
        self._effects: list[Effect] = []
        self._servers = [self._real_server(i, rs) for i, rs in enumerate(vs.real_servers)]
        self._sorry: _Server | None = None
        s = vs.sorry_server
        if s is not None:
            self._sorry = _Server(
                SORRY, s, self._slot(s), s.inhibit, 1, 1, [], name=format_rs(vs, s)
            )
        self._sorry_duplicates_rs = s is not None and any(
            r.address == s.address and r.port == s.port for r in vs.real_servers
        )

    def _slot(self, server: RealServer | SorryServer) -> _Slot:
        """Where the server lands in IPVS: its address and its port as sent (``ipvs_cmd``)."""
        if server.forwarding.method is Method.NAT:
            return (server.address, server.port)
        if self.vs.group is not None:
            return (server.address, None)  # each group entry's own port
        return (server.address, 0 if self.vs.fwmark is not None else self.vs.port)

    def _real_server(self, index: int, rs: RealServer) -> _Server:
        checkers = []
        for check in checker_configs(rs):
            if isinstance(check, FileCheck):
                # add_rs_to_track_files: has run, alpha cleared.
                checkers.append(
                    _Checker(
                        _Kind.FILE,
                        False,
                        has_run=True,
                        file_weight=check.weight,
                        file_multiplier=-1 if check.reverse else 1,
                    )
                )
            elif isinstance(check, BfdCheck):
                checkers.append(_Checker(_Kind.BFD, check.alpha))
            else:
                checkers.append(_Checker(_Kind.LAUNCHED, check.alpha))
        server = _Server(
            index,
            rs,
            self._slot(rs),
            rs.inhibit_on_failure,
            rs.weight,
            rs.weight,
            checkers,
            rs.notify_up,
            rs.notify_down,
            format_rs(self.vs, rs),
        )
        for checker in checkers:
            # validate_check_config: in alpha mode a checker starts failed.
            if checker.alpha:
                self._set_checker_state(server, checker, False)
        return server

    # --- what the pool holds ----------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether the service exists (started, not stopped)."""
        return self._active

    @property
    def quorum_up(self) -> bool:
        return self._quorum_up

    @property
    def checking(self) -> bool:
        """Whether the scheduled checkers run (False while ``ha_suspend`` suspends them)."""
        return not (self.vs.ha_suspend and self._suspended)

    def alive(self, rs: int) -> bool:
        """Whether real server ``rs`` (or the sorry server, ``SORRY``) is alive."""
        return self._server(rs).alive

    def weight(self, rs: int) -> int:
        """Real server ``rs``'s effective weight (configured + dynamic), unclamped."""
        return self._server(rs).effective

    def dests(self) -> tuple[tuple[RealServer | SorryServer, int], ...]:
        """The servers in IPVS, each with the weight it was given there."""
        return tuple((server.config, weight) for server, weight in self._kernel.values())

    def checker_states(self) -> dict[tuple[int, int], bool]:
        """Each scheduled or BFD checker that has given a result: (real server, checker)
        -> up, for :class:`Start` of the same virtual server in a reloaded config."""
        return {
            (i, j): c.is_up
            for i, server in enumerate(self._servers)
            for j, c in enumerate(server.checkers)
            if c.kind is not _Kind.FILE and c.has_run
        }

    def server_dump(self, rs: int) -> ServerDump:
        """Real server ``rs`` as keepalived's data dump shows it."""
        server = self._server(rs)
        return ServerDump(
            alive=server.alive,
            initial_weight=server.iweight,
            effective_weight=server.effective,
            failed=server.num_failed,
            set=server.set,
            checkers=tuple((c.is_up, c.has_run, c.cur_weight) for c in server.checkers),
        )

    def _server(self, rs: int) -> _Server:
        if rs == SORRY:
            if self._sorry is None:
                raise IndexError("no sorry_server")
            return self._sorry
        if not 0 <= rs < len(self._servers):
            raise IndexError(f"no real server {rs}")
        return self._servers[rs]

    def _checker(self, rs: int, checker: int) -> tuple[_Server, _Checker]:
        server = self._server(rs)
        if rs == SORRY or not 0 <= checker < len(server.checkers):
            raise IndexError(f"no checker {checker} for real server {rs}")
        return server, server.checkers[checker]

    # --- events -----------------------------------------------------------------------

    def handle(self, event: Event) -> tuple[Effect, ...]:
        """Apply ``event``; the notifications it causes, in keepalived's order.

        Checker events before :class:`Start` or after :class:`Stop` are ignored (no
        checker runs then).
        """
        self._effects = []
        if isinstance(event, Suspend):
            self._suspended = event.suspended
        elif isinstance(event, Start):
            self._start(event)
        elif not self._active:
            pass
        elif isinstance(event, CheckerResult):
            server, checker = self._checker(event.rs, event.checker)
            if checker.kind is not _Kind.LAUNCHED or self.checking:
                self._checker_result(server, checker, event)
        elif isinstance(event, CheckerWeight):
            server, checker = self._checker(event.rs, event.checker)
            if self.checking:
                self._checker_weight(server, checker, event.weight)
        elif isinstance(event, FileValue):
            server, checker = self._checker(event.rs, event.checker)
            if checker.kind is not _Kind.FILE:
                raise ValueError(
                    f"checker {event.checker} of real server {event.rs} is no FILE_CHECK"
                )
            self._file_value(server, checker, event.value)
        elif isinstance(event, Remove):
            self._remove(event)
        else:
            self._stop(event.flush)
        effects, self._effects = tuple(self._effects), []
        return effects

    def _start(self, event: Start) -> None:
        """check_daemon.c ``start_check`` (track files, effective weights), ipwrapper.c
        ``set_quorum_states`` and ``init_service_vs``."""
        if self._active or self._stopped:
            raise RuntimeError(f"virtual server {self.name} already started")
        for i, server in enumerate(self._servers):
            for j, checker in enumerate(server.checkers):
                if checker.kind is not _Kind.FILE:
                    continue
                value = event.file_values.get((i, j), 0)
                checker.last_value = value
                if not value:
                    continue
                product = value * checker.file_weight * checker.file_multiplier
                if checker.file_weight:
                    checker.cur_weight = _int32(product)  # set_track_file_weights
                # set_track_file_checkers_down, init_service_rs: a failed file.
                if not checker.file_weight or product <= WEIGHT_FAULT:
                    checker.is_up = False
                    server.num_failed += 1
            server.effective = server.iweight + sum(c.cur_weight for c in server.checkers)
        for (i, j), up in event.checkers.items():  # migrate_checkers
            server, checker = self._servers[i], self._servers[i].checkers[j]
            if checker.kind is not _Kind.FILE:
                checker.has_run = True
                self._set_checker_state(server, checker, up)
        # set_quorum_states, at config time: no real server is alive yet.
        self._quorum_up = (self.vs.quorum + self.vs.hysteresis) % _U32 == 0
        self._active = True
        for server in self._servers:  # init_service_rs
            if (not server.num_failed and not server.alive) or (server.inhibit and not server.set):
                self._cmd(_Cmd.ADD, server)
                if not server.num_failed:
                    server.alive = True
                    if self._rs_init_notifies:
                        self._rs_notifies(server, stopping=False)
        self._update_quorum_state(init=True)
        sorry = self._sorry
        if sorry is not None and sorry.inhibit and not sorry.set:
            if self._sorry_duplicates_rs:
                sorry.set = True
            else:
                sorry.num_failed = 1  # added with weight 0
                self._cmd(_Cmd.ADD, sorry)
                sorry.num_failed = 0

    def _stop(self, flush: LvsFlushOnStop | None) -> None:
        """ipwrapper.c ``clear_services`` / ``clear_service_vs`` with ``stopping``."""
        sorry = self._sorry
        if flush is None:
            self._clear_sorry()
            for server in self._servers:  # clear_service_rs
                if not server.set:
                    continue
                self._cmd(_Cmd.DEL, server, force=True)
                if not server.alive:
                    continue
                server.alive = False
                if self.vs.omega:
                    self._rs_notifies(server, stopping=True)
                    self._rs_mail(server, "=> Shutting down <=")
            self._update_vs_notifies_stopping()
        else:
            self._update_vs_notifies_stopping()
            if sorry is not None and sorry.set:
                sorry.alive = False
        self._kernel.clear()
        self._active = False
        self._stopped = True

    def _remove(self, event: Remove) -> None:
        """ipwrapper.c ``clear_service_vs`` / ``clear_diff_rs`` at a reload: each real
        server that goes is removed and, if it was alive, notified down with the mail
        ``=> Removing <=`` (whatever ``omega`` says); then the quorum, if it is lost."""
        gone = event.kept is None
        if gone and event.flush is not None:
            self._update_vs_notifies()
        else:
            if gone:
                self._clear_sorry()
            for server in self._servers:  # clear_service_rs, not stopping
                if not server.set or (event.kept is not None and server.index in event.kept):
                    continue
                self._cmd(_Cmd.DEL, server, force=True)
                if not server.alive:
                    continue
                server.alive = False
                self._rs_notifies(server, stopping=False)
                self._rs_mail(server, "=> Removing <=")
            self._update_vs_notifies()
        self._kernel.clear()
        self._active = False
        self._stopped = True

    def _clear_sorry(self) -> None:
        """``clear_service_vs``: the sorry server out of IPVS (inhibited or not)."""
        sorry = self._sorry
        if sorry is not None and sorry.set:
            if self._sorry_duplicates_rs:
                sorry.set = False
            else:
                self._cmd(_Cmd.DEL, sorry, force=True)
            sorry.alive = False

    def _update_vs_notifies(self) -> None:
        """ipwrapper.c ``update_vs_notifies``, not stopping: the quorum lost if the live
        weight fell below quorum - hysteresis."""
        threshold = (self.vs.quorum - self.vs.hysteresis) % _U32
        weight_sum = self._weigh_live_realservers()
        if self._quorum_up and (not weight_sum or weight_sum < threshold):
            self._quorum_up = False
            self._vs_notifies(stopping=False, message=self._quorum_text("Lost quorum", threshold))

    def _update_vs_notifies_stopping(self) -> None:
        """``update_vs_notifies`` when stopping: quorum down, notified with ``omega``."""
        self._quorum_up = False
        self._vs_notifies(stopping=True, message="=> Shutting down <=")

    # --- keepalived's functions -------------------------------------------------------

    def _cmd(self, cmd: _Cmd, server: _Server, *, force: bool = False) -> None:
        """ipvswrapper.c ``ipvs_cmd`` for a destination, then its effect on IPVS
        (ipvs_talk: EEXIST on add and ENOENT on delete ignored, an edit of a missing
        destination retried as an add).  ``force``: removal with inhibit ignored."""
        inhibit = server.inhibit and not force
        weight = real_weight(server.effective)
        if cmd is _Cmd.DEL and inhibit:
            weight, cmd = 0, _Cmd.EDIT
        elif cmd is _Cmd.ADD and inhibit and server.set:
            cmd = _Cmd.EDIT
        elif cmd is _Cmd.ADD and not server.set:
            server.set = True
            if inhibit and server.num_failed:
                weight = 0
        elif cmd is _Cmd.DEL and server.set:
            server.set = False
        if cmd is _Cmd.ADD:
            self._kernel.setdefault(server.slot, (server, weight))
        elif cmd is _Cmd.EDIT:
            self._kernel[server.slot] = (server, weight)
        else:
            self._kernel.pop(server.slot, None)

    def _set_checker_state(self, server: _Server, checker: _Checker, up: bool) -> None:
        """ipwrapper.c ``set_checker_state``."""
        if checker.is_up == up:
            return
        checker.is_up = up
        if not up:
            server.num_failed += 1
        elif server.num_failed:
            server.num_failed -= 1

    def _checker_result(self, server: _Server, checker: _Checker, event: CheckerResult) -> None:
        up = event.up
        if not up and checker.kind is _Kind.LAUNCHED and checker.cur_weight:
            # check_misc.c: a failed dynamic script's weight is withdrawn.
            server.effective -= checker.cur_weight
            checker.cur_weight = 0
        checker_was_up, rs_was_alive = checker.is_up, server.alive
        self._update_svr_checker_state(server, checker, up)
        if event.mail and (event.mail_always or checker_was_up != up):
            # the checkers' epilogs: smtp_alert after update_svr_checker_state
            alerts = self.alerts
            if alerts is not None and (
                rs_was_alive != server.alive or not alerts.no_checker_emails
            ):
                self._rs_mail(server, event.mail)

    def _update_svr_checker_state(self, server: _Server, checker: _Checker, up: bool) -> None:
        """ipwrapper.c ``update_svr_checker_state``."""
        if checker.is_up == up:
            if not checker.has_run:
                if checker.alpha or not up:
                    self._rs_notifies(server, stopping=False)
                checker.has_run = True
            return
        checker.has_run = True
        if up:
            if server.num_failed <= 1:
                self._perform_svr_state(server, True)
        elif server.num_failed == 0:
            self._perform_svr_state(server, False)
        self._set_checker_state(server, checker, up)

    def _sorry_active(self) -> bool:
        return self._sorry is not None and self._sorry.alive

    def _perform_svr_state(self, server: _Server, alive: bool) -> None:
        """ipwrapper.c ``perform_svr_state``."""
        if server.alive == alive:
            return
        if self._quorum_up or not self._sorry_active():
            self._cmd(_Cmd.ADD if alive else _Cmd.DEL, server)
        server.alive = alive
        self._rs_notifies(server, stopping=False)
        self._update_quorum_state(init=False)

    def _checker_weight(self, server: _Server, checker: _Checker, weight: int | None) -> None:
        """check_misc.c ``misc_check_child_thread`` with ``misc_dynamic``."""
        effective = server.effective - checker.cur_weight
        checker.cur_weight = _int32(weight - server.iweight) if weight is not None else 0
        self._update_svr_wgt(server, effective + checker.cur_weight, update_quorum=True)

    def _file_value(self, server: _Server, checker: _Checker, value: int) -> None:
        """track_file.c ``update_track_file_status`` →
        ``process_update_checker_track_file_status``."""
        last, weight, mult = checker.last_value, checker.file_weight, checker.file_multiplier
        if value == last:
            return
        checker.last_value = value
        if not weight:
            status = WEIGHT_FAULT if (not value) != (mult == 1) else 0
            previous = WEIGHT_FAULT if (not last) != (mult == 1) else 0
        else:
            status = _weight_range(value * weight * mult)
            previous = _weight_range(last * weight * mult)
        if previous == status:
            return
        if status == WEIGHT_FAULT:
            self._update_svr_checker_state(server, checker, False)
            server.effective -= checker.cur_weight
            checker.cur_weight = 0
        elif previous == WEIGHT_FAULT:
            checker.cur_weight = status
            server.effective += status
            self._update_svr_checker_state(server, checker, True)
        else:
            self._update_svr_wgt(server, server.effective + status - previous, update_quorum=True)
            checker.cur_weight = status

    def _update_svr_wgt(self, server: _Server, weight: int, *, update_quorum: bool) -> None:
        """ipwrapper.c ``update_svr_wgt``."""
        new, old = real_weight(weight), real_weight(server.effective)
        server.effective = weight
        if new == old:
            return
        if server.set and server.alive and (self._quorum_up or not self._sorry_active()):
            self._cmd(_Cmd.EDIT, server)
        if update_quorum:
            self._update_quorum_state(init=False)

    def _weigh_live_realservers(self) -> int:
        return sum(real_weight(s.effective) for s in self._servers if s.alive)

    def _perform_quorum_state(self, add: bool) -> None:
        """ipwrapper.c ``perform_quorum_state``: the alive real servers in or out."""
        for server in self._servers:
            if not server.alive:
                continue
            if add:
                server.alive = False
            self._cmd(_Cmd.ADD if add else _Cmd.DEL, server)
            server.alive = True

    def _update_quorum_state(self, *, init: bool) -> None:
        """ipwrapper.c ``update_quorum_state``."""
        vs, sorry = self.vs, self._sorry
        weight_sum = self._weigh_live_realservers()
        # unsigned quorum + (±1 * unsigned hysteresis): 32-bit unsigned arithmetic.
        sign = -1 if self._quorum_up else 1
        threshold = (vs.quorum + sign * vs.hysteresis) % _U32
        if not self._quorum_up and weight_sum >= threshold:
            self._quorum_up = True
            if sorry is not None and sorry.alive:
                self._cmd(_Cmd.DEL, sorry)
                sorry.alive = False
                self._perform_quorum_state(True)
            word = "Starting with quorum up" if init else "Gained quorum"
            self._vs_notifies(stopping=False, message=self._quorum_text(word, threshold))
        elif (self._quorum_up and (not weight_sum or weight_sum < threshold)) or (
            init and not self._quorum_up and sorry is not None and not sorry.alive
        ):
            self._quorum_up = False
            if sorry is not None and not sorry.alive:
                self._perform_quorum_state(False)
                self._cmd(_Cmd.ADD, sorry)
                sorry.alive = True
            word = "Starting with quorum down" if init else "Lost quorum"
            self._vs_notifies(stopping=False, message=self._quorum_text(word, threshold))

    # --- notifications ----------------------------------------------------------------

    def _run(self, script: Script | None, stopping: bool) -> None:
        if script is not None:
            timeout = STOP_SCRIPT_TIMEOUT_S if stopping else None
            self._effects.append(RunScript(script.argv, script.user, script.group, timeout))

    def _quorum_text(self, word: str, threshold: int) -> str:
        """do_vs_notifies' mail: ``=> Gained quorum 1+0=1 <= 2 <=`` (threshold, then the
        live weight: C's ``long``, here the same values)."""
        vs = self.vs
        weight_sum = self._weigh_live_realservers()
        return f"=> {word} {vs.quorum}+{vs.hysteresis}={threshold} <= {weight_sum} <="

    def _vs_notifies(self, *, stopping: bool, message: str) -> None:
        """ipwrapper.c ``do_vs_notifies`` (SNMP traps aside); ``message``: its mail's text."""
        if stopping and not self.vs.omega:
            return
        up = self._quorum_up
        self._run(self.vs.quorum_up if up else self.vs.quorum_down, stopping)
        state = "UP" if up else "DOWN"
        self._effects.append(WriteFifo(f"VS {self.name} {state}\n".encode()))
        alerts = self.alerts
        if alerts is not None and self.vs.smtp_alert:
            subject = virtual_server_subject(alerts.router_id, self.name, state)
            self._effects.append(SendMail(Mail(subject, message)))

    def _rs_mail(self, server: _Server, text: str) -> None:
        """smtp.c ``SMTP_MSG_RS``: ``[ROUTER_ID] Realserver RS of virtual server VS - UP``."""
        alerts = self.alerts
        config = server.config
        if alerts is None or not isinstance(config, RealServer) or not config.smtp_alert:
            return
        state = "UP" if server.alive else "DOWN"
        subject = real_server_subject(alerts.router_id, server.name, self.name, state)
        self._effects.append(SendMail(Mail(subject, text)))

    def _rs_notifies(self, server: _Server, *, stopping: bool) -> None:
        """ipwrapper.c ``do_rs_notifies``."""
        self._run(server.notify_up if server.alive else server.notify_down, stopping)
        state = "UP" if server.alive else "DOWN"
        self._effects.append(WriteFifo(f"RS {server.name} {self.name} {state}\n".encode()))
