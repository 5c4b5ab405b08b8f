"""The checker service: the kernel's IPVS table kept equal to what config and health say.

Owned here: :class:`CheckService`, keepalived's checker process
(check_daemon.c ``start_check``) on trio.  At start it sets the connection
timeouts (``lvs_timeouts``, the kernel's own saved to be put back at stop), starts
the sync daemons that no VRRP instance drives (``lvs_sync_daemon IF`` alone),
flushes when ``lvs_flush`` says so, reads the kernel's table, and writes only what
differs from the desired one: services and real servers that are already right are
never touched, so their connections keep flowing.  Then the checkers: TCP_CHECKs and
plain HTTP_GETs (one URL, status code only) in one attempt loop
(``pykad.check.probes.bulk``, compiled), every other one its own trio task
(``pykad.check.probes.runner``; SSL, SMTP, DNS, MISC, PING, UDP, HTTP with digest,
regex or several URLs); one inotify
watcher for FILE_CHECKs and one reader of the BFD child's pipe for BFD_CHECKs feed
each virtual server's :class:`pykad.lb.pool.Pool`; after every event the pools it
touched are turned into their part of the table (``pykad.lb.desired.table``),
diffed against what was written (``pykad.lb.plan.reconcile``) and the difference is
written at once; notify scripts and FIFO lines go to a
:class:`pykad.drivers.notify.Notifier` (``notify_fifo`` and ``lvs_notify_fifo``).
At stop the pools leave as ``lvs_flush_on_stop`` says, the timeouts are put back
and the sync daemons stopped.

Ownership: pykad manages the services its configuration names (whose real
servers it then owns entirely); other services in the kernel are left alone, as
keepalived leaves them.  What has been written is remembered (``table``), so a
change costs one diff, not a dump; a failed write makes the next one read the
kernel again.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any, Protocol

import trio

if TYPE_CHECKING:
    from pykad.drivers.address_monitor import AddressMonitor

from pykad.check.base import Outcome, Target
from pykad.check.probes import dns, http, misc, ping, smtp, tcp, udp
from pykad.check.probes.bulk import BulkRunner, eligible
from pykad.check.probes.runner import make_schedule, run_checker
from pykad.check.schedule import Schedule, StateUpdate
from pykad.config.addresses import IPAddress
from pykad.config.model import Config
from pykad.config.sections._lvs_model import (
    BfdCheck,
    DnsCheck,
    FileCheck,
    HttpCheck,
    MiscCheck,
    PingCheck,
    SmtpCheck,
    TcpCheck,
    UdpCheck,
    VirtualServer,
)
from pykad.config.sections.global_defs import LvsFlushOnStop
from pykad.daemon.dump_data import VsDump
from pykad.daemon.latency import Latency
from pykad.daemon.memory import freeze_long_lived
from pykad.drivers import mailer
from pykad.drivers.notify import Notifier, UserIds
from pykad.kernel import ipvs_wire_py as w
from pykad.kernel.ipvs import IpvsResult
from pykad.lb import desired
from pykad.lb import plan as lbplan
from pykad.lb.plan import Op
from pykad.lb.pool import (
    CheckerResult,
    CheckerWeight,
    Event,
    FileValue,
    Pool,
    Remove,
    Start,
    Stop,
    Suspend,
    checker_configs,
)
from pykad.lb.table import Service, ServiceKey, Table

log = logging.getLogger("pykad.check")

BIG_BATCH = 64
"""Writes of more operations than this run in a worker thread (start-up, stop)."""


class Ipvs(Protocol):
    """What the service needs of ``pykad.kernel.ipvs.IpvsSocket``."""

    def apply(self, ops: Sequence[Op]) -> list[IpvsResult]: ...
    def dump(self) -> Table: ...
    def flush(self) -> None: ...
    def timeouts(self) -> w.Timeouts: ...
    def set_timeouts(self, timeouts: w.Timeouts) -> None: ...
    def start_daemon(self, daemon: w.SyncDaemon) -> None: ...
    def stop_daemon(self, state: int) -> None: ...


@dataclass(eq=False, slots=True)
class _Vs:
    """One virtual server: its config, its pool, the services it becomes, its checkers."""

    config: VirtualServer
    name: str
    pool: Pool
    services: tuple[Service, ...]
    sharing: tuple[_Vs, ...] = ()
    """Every virtual server (itself included) with a service in common, in config order."""
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    """Its checker tasks'."""
    bulk_keys: list[int] = field(default_factory=list)
    """Its checkers in the bulk runner."""
    started: bool = False


@dataclass(slots=True)
class CheckerStats:
    attempts: int = 0
    failures: int = 0
    writes: int = 0
    write_errors: int = 0
    events: int = 0
    reloads: int = 0


class CheckService:
    """keepalived's checker process for one configuration (and the ones it reloads)."""

    def __init__(
        self,
        config: Config,
        ipvs: Ipvs,
        *,
        notifier: Notifier | None = None,
        bfd_events: int | None = None,
        default_user: UserIds | None = None,
        rand: Callable[[], float] = random.random,
        bulk: bool = True,
        release_ipvs: bool = True,
    ) -> None:
        self.ipvs = ipvs
        self.release_ipvs = release_ipvs
        """False (``-I``): at stop the services stay in the kernel as they are, with no
        notification (keepalived skips its ``clear_services``)."""
        self.notifier = notifier
        self.bfd_events = bfd_events
        self.default_user = default_user
        self.rand = rand
        self.bulk = bulk
        """TCP_CHECKs and plain HTTP_GETs in one attempt loop (``probes.bulk``); False: each
        its own trio task, as every other checker."""
        self._bulk: BulkRunner | None = None
        self.stats = CheckerStats()
        self.latency = Latency()
        """How long the attempts run as trio tasks took, by checker kind."""
        self.table = Table()
        """What pykad has written (and the kernel holds) for the services it owns."""
        self._stale = True
        self._saved_timeouts: w.Timeouts | None = None
        self._daemons: list[int] = []
        self._nursery: trio.Nursery | None = None
        self._files_scope = trio.CancelScope()
        self._bfd_buffer = b""
        self.config = config
        self.servers: list[_Vs] = []
        self.owned: frozenset[ServiceKey] = frozenset()
        self.drained: set[tuple[str, str, int]] = set()
        """Real servers drained at run time (``pykadctl drain``): (virtual server name,
        address, port); given weight 0 in IPVS until undrained or the next reload."""
        self._adopt(config, {})

    def _adopt(self, config: Config, keep: dict[VirtualServer, list[_Vs]]) -> list[_Vs]:
        """Make ``config`` current; virtual servers found in ``keep`` (unchanged ones of
        the previous config) keep their pool and checkers.  Returns the new ones."""
        self.config = config
        # the pools' smtp_alert mails (a kept pool keeps what it had); the mailer too
        self._alerts = mailer.configure(
            self.notifier.mailer if self.notifier else None, config.global_defs
        )
        names = desired.vs_names(config.lvs)
        servers, fresh = [], []
        for i, vs in enumerate(config.lvs.virtual_servers):
            services = desired.services(config.lvs, vs)
            same = keep.get(vs)
            # unchanged: the same block, name and services (its group may have changed)
            if same and same[0].name == names[i] and same[0].services == services:
                servers.append(same.pop(0))
                continue
            pool = Pool(
                vs,
                names[i],
                rs_init_notifies=config.global_defs.rs_init_notifies,
                alerts=self._alerts,
            )
            s = _Vs(vs, names[i], pool, services)
            servers.append(s)
            fresh.append(s)
        by_key: dict[ServiceKey, list[int]] = {}
        for i, s in enumerate(servers):
            for svc in s.services:
                by_key.setdefault(svc.key, []).append(i)
        for s in servers:
            mine = sorted({i for svc in s.services for i in by_key[svc.key]})
            s.sharing = tuple(servers[i] for i in mine)
        self.servers = servers
        self.owned = frozenset(by_key)
        self._ssl = (
            http.make_ssl_context(config.lvs.ssl)
            if any(isinstance(c, HttpCheck) and c.ssl for c in self._all_checks())
            else None
        )
        return fresh

    def _all_checks(self) -> Iterable[Any]:
        for s in self.servers:
            for rs in s.config.real_servers:
                yield from rs.checks

    # ---- the kernel's side

    def setup(self) -> None:
        """Timeouts, sync daemons, ``lvs_flush`` (check_daemon.c ``start_check``)."""
        g = self.config.global_defs
        want = g.lvs_timeouts
        if (want.tcp, want.tcpfin, want.udp) != (None, None, None):
            self._saved_timeouts = self.ipvs.timeouts()
            saved = self._saved_timeouts
            self.ipvs.set_timeouts(
                w.Timeouts(
                    tcp=want.tcp if want.tcp is not None else saved.tcp,
                    tcp_fin=want.tcpfin if want.tcpfin is not None else saved.tcp_fin,
                    udp=want.udp if want.udp is not None else saved.udp,
                )
            )
        syncd = g.lvs_sync_daemon
        if syncd is not None and syncd.instance is None:
            for state in (w.SYNC_MASTER, w.SYNC_BACKUP):
                with contextlib.suppress(OSError):  # keepalived ignores these errors too
                    self.ipvs.stop_daemon(state)
            group = syncd.group.packed if syncd.group is not None else b""
            for state in (w.SYNC_MASTER, w.SYNC_BACKUP):
                self.ipvs.start_daemon(
                    w.SyncDaemon(
                        state,
                        syncd.interface,
                        sync_id=syncd.sync_id or 0,
                        max_len=syncd.max_len,
                        group=group,
                        port=syncd.port,
                        ttl=syncd.ttl,
                    )
                )
                self._daemons.append(state)
        if g.lvs_flush:
            self.ipvs.flush()
            self.table, self._stale = Table(), False

    def _read_kernel(self) -> None:
        """``table`` := what the kernel holds of the services pykad owns."""
        kernel = self.ipvs.dump()
        services = {k: v for k, v in kernel.services.items() if k in self.owned}
        self.table = Table(services, {k: kernel.dests.get(k, {}) for k in services})
        self._stale = False

    def _ops(self, servers: Sequence[_Vs] | None = None) -> list[Op]:
        """The writes that make the kernel hold what ``servers`` (None: all, and nothing
        else of what pykad wrote) say."""
        want = desired.table((s.services, self._dests(s)) for s in servers or self.servers)
        if servers is None:
            return lbplan.reconcile(self.table, want)
        keys = {svc.key for s in servers for svc in s.services}
        held, dests = self.table.services, self.table.dests
        have = Table(
            {k: held[k] for k in keys if k in held}, {k: dests[k] for k in keys if k in dests}
        )
        return lbplan.reconcile(have, want)

    def _dests(self, s: _Vs) -> tuple[tuple[Any, int], ...]:
        """``s``'s pool's servers with their weights, drained ones at weight 0."""
        dests = s.pool.dests()
        if not self.drained:
            return dests
        return tuple(
            (server, 0 if (s.name, str(server.address), server.port) in self.drained else weight)
            for server, weight in dests
        )

    def drain(
        self, address: str, port: int, vs: str | None = None, *, on: bool = True
    ) -> list[str]:
        """Drain (``on``) or undrain the real server ``address``:``port`` in every virtual
        server (or only ``vs``, by its log name): weight 0 in IPVS, existing connections
        kept; its checkers run on.  One write of what that changes.  Forgotten at the next
        reload.  Returns the names of the virtual servers it is in (empty: none)."""
        try:
            wanted = str(ip_address(address))
        except ValueError:
            return []
        found = []
        for s in self.servers:
            if vs is not None and s.name != vs:
                continue
            if any(str(rs.address) == wanted and rs.port == port for rs in s.config.real_servers):
                key = (s.name, wanted, port)
                if on:
                    self.drained.add(key)
                else:
                    self.drained.discard(key)
                found.append(s)
        for s in found:
            log.info(
                "%s real server [%s]:%d in %s at run time",
                "Draining" if on else "Undraining",
                wanted,
                port,
                s.name,
            )
            self._write(s.sharing)
        return [s.name for s in found]

    def _record(self, results: list[IpvsResult]) -> None:
        done = [r.op for r in results if r.ok]
        failed = [r for r in results if not r.ok]
        self.stats.writes += len(results)
        self.table = lbplan.apply(self.table, done)
        if failed:
            self.stats.write_errors += len(failed)
            self._stale = True  # read the kernel before the next write
            for r in failed[:20]:
                log.error("IPVS: %s failed: %s", _describe(r.op), r)
            if len(failed) > 20:
                log.error("IPVS: %d more operations failed", len(failed) - 20)

    def _write(self, servers: Sequence[_Vs]) -> None:
        """Make the kernel hold what ``servers``' pools say (blocking, small changes)."""
        if self._stale:
            self._read_kernel()
        ops = self._ops(servers)
        if ops:
            for op in ops:
                _log_change(op)
            self._record(self.ipvs.apply(ops))

    async def _write_all(self) -> int:
        """Every virtual server at once, in a worker thread when big (start, reload)."""
        if self._stale:
            await trio.to_thread.run_sync(self._read_kernel)
        ops = self._ops()
        if len(ops) > BIG_BATCH:
            results = await trio.to_thread.run_sync(self.ipvs.apply, ops)
        else:
            results = self.ipvs.apply(ops)
        self._record(results)
        return len(ops)

    # ---- events

    def handle(self, server: _Vs, event: Event) -> None:
        """One event for ``server``: its pool, then notifications and IPVS."""
        self.stats.events += 1
        self._notify(server.pool.handle(event))
        self._write(server.sharing)

    def _notify(self, effects: Sequence[Any]) -> None:
        if self.notifier is not None and effects:
            self.notifier.submit(effects)

    def _file_values(self, servers: Sequence[_Vs]) -> dict[int, dict[tuple[int, int], int]]:
        """The value of each FILE_CHECK's track file now, by server (id) and (rs, checker)."""
        files = _file_checks(servers)
        if not files:
            return {}
        from pykad.drivers.track_file import FileWatcher

        names = {name for name, *_ in files}
        watcher = FileWatcher([f for f in self.config.track_file.files if f.name in names])
        values = {u.obj.name: _int(u.status) for u in watcher.read_all()}
        initial: dict[int, dict[tuple[int, int], int]] = {}
        for name, s, j, k in files:
            initial.setdefault(id(s), {})[(j, k)] = values.get(name, 0)
        return initial

    def _start_pools(
        self,
        servers: Sequence[_Vs],
        carried: Mapping[int, Mapping[tuple[int, int], bool]] | None = None,
    ) -> None:
        values = self._file_values(servers)
        for s in servers:
            states = (carried or {}).get(id(s), {})
            self._notify(s.pool.handle(Start(values.get(id(s), {}), states)))

    def _start_tasks(self, servers: Sequence[_Vs]) -> None:
        """The checkers of ``servers`` (those not suspended), and the file watcher anew."""
        self._start_checkers(servers)
        self._files_scope.cancel()
        self._files_scope = trio.CancelScope()
        if _file_checks(self.servers):
            assert self._nursery is not None
            self._nursery.start_soon(self._watch_files, self._files_scope)

    # ---- running

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write the start-up table, then run the checkers until :meth:`stop` (or cancelled)."""
        async with trio.open_nursery() as outer:
            if self.notifier is not None:
                await outer.start(self.notifier.run)
            monitor = self._suspend_at_start()
            if monitor is not None:
                outer.start_soon(monitor.run)
            self._start_pools(self.servers)
            count = await self._write_all()
            log.info("IPVS: %d operations written for %d services", count, len(self.owned))
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self.bulk:
                    self._bulk = BulkRunner(
                        random=self.rand, log=log.info, on_absorbed=self._absorbed
                    )
                    nursery.start_soon(self._bulk.run)
                self._start_tasks(self.servers)
                freeze_long_lived()
                if self.bfd_events is not None:
                    nursery.start_soon(self._read_bfd, self.bfd_events)
                task_status.started()
                await trio.sleep_forever()
        # after stop(): the notifier has run what the stop queued

    def _absorbed(self, count: int) -> None:
        self.stats.attempts += count

    def _start_checkers(self, servers: Sequence[_Vs]) -> None:
        """TCP_CHECKs and plain HTTP_GETs go to the bulk runner at once; the others get
        one trio task per virtual server, which runs them as tasks of their own."""
        assert self._nursery is not None
        for s in servers:
            if s.started or not s.pool.checking:
                continue
            s.started = True
            s.scope = trio.CancelScope()
            tasks = []
            for j, rs in enumerate(s.config.real_servers):
                for k, check, probe in _probes(s, j, rs, self):
                    if self._bulk is not None and eligible(check, Target(rs.address, rs.port)):
                        s.bulk_keys.append(self._add_bulk(s, j, k, check))
                    else:
                        tasks.append((j, k, check, probe))
            if tasks:
                self._nursery.start_soon(self._run_server, s, tasks)

    def _stop_checkers(self, s: _Vs) -> None:
        s.scope.cancel()
        if self._bulk is not None:
            for key in s.bulk_keys:
                self._bulk.remove(key)
        s.bulk_keys.clear()
        s.started = False

    def _suspend_at_start(self) -> AddressMonitor | None:
        """``ha_suspend``: follow the host's addresses when a virtual server asks for it;
        its checkers count only while its address is on the host."""
        if not any(s.config.ha_suspend for s in self.servers):
            return None
        from pykad.drivers.address_monitor import AddressMonitor

        monitor = AddressMonitor(self._address_changed)
        for s in self.servers:
            if s.config.ha_suspend and s.config.address is not None:
                present = monitor.has(s.config.address)
                s.pool.handle(Suspend(not present))
                if not present:
                    log.info("Suspending healthchecker for service %s", s.name)
        return monitor

    def _address_changed(self, address: IPAddress, present: bool) -> None:
        for s in self.servers:
            if s.config.ha_suspend and s.config.address == address:
                verb = "Activating" if present else "Suspending"
                log.info("%s healthchecker for service %s", verb, s.name)
                self.handle(s, Suspend(not present))
                # keepalived skips the checks of a suspended service; they start again
                # from scratch, so the first result after it counts
                if present:
                    self._start_checkers([s])
                else:
                    self._stop_checkers(s)

    def dump_state(self) -> list[VsDump]:
        """Every virtual server with its pool's state, for the data dump."""
        return [
            VsDump(
                config=s.config,
                active=s.pool.active,
                quorum_up=s.pool.quorum_up,
                servers=tuple(s.pool.server_dump(j) for j in range(len(s.config.real_servers))),
            )
            for s in self.servers
        ]

    async def reload(self, config: Config) -> int:
        """Apply a new configuration: only what changed (keepalived's ``reload_check_child``
        with ``clear_diff_services``).  A virtual server whose configuration is unchanged
        keeps its pool, its checkers and their state; a removed one leaves (its real
        servers, then its services), a new or changed one starts as at start-up.  Returns
        the number of IPVS operations written."""
        self.stats.reloads += 1
        self.drained.clear()  # runtime actions last until the next reload
        keep: dict[VirtualServer, list[_Vs]] = {}
        for s in self.servers:
            keep.setdefault(s.config, []).append(s)
        fresh = self._adopt(config, keep)
        left = [o for group in keep.values() for o in group]  # gone or changed
        carried = {id(s): _carried(s, left) for s in fresh}
        flush = config.global_defs.lvs_flush_on_stop
        for s in left:
            self._stop_checkers(s)
            self._notify(s.pool.handle(_removal(s, fresh, flush)))
        self._start_pools(fresh, carried)
        count = await self._write_all()
        self._start_tasks(fresh)
        freeze_long_lived()
        log.info(
            "Reloaded: %d virtual servers new or changed, %d IPVS operations", len(fresh), count
        )
        return count

    async def _run_server(
        self, s: _Vs, tasks: list[tuple[int, int, Any, Callable[..., Any]]]
    ) -> None:
        """The trio-task checkers of one virtual server, until it leaves (its scope is
        cancelled)."""
        with s.scope:
            async with trio.open_nursery() as nursery:
                for j, k, check, probe in tasks:
                    nursery.start_soon(self._run_checker, s, j, k, check, probe)

    def _checker_parts(
        self, s: _Vs, rs: int, checker: int, check: Any
    ) -> tuple[Target, Schedule, Callable[[StateUpdate], None], Callable[[Outcome], None]]:
        """A checker's target, schedule, and what its state changes and outcomes do."""
        real = s.config.real_servers[rs]
        target = Target(real.address, real.port, s.name)
        protocol = s.config.protocol.value.lower() if s.config.protocol else "tcp"
        schedule = make_schedule(
            check,
            target,
            protocol=protocol,
            log_all_failures=self.config.global_defs.checker_log_all_failures
            or getattr(check, "log_all_failures", False),
        )

        last: list[Outcome | None] = [None]

        def changed(update: StateUpdate) -> None:
            mail, always = checker_mail(check, update.up, last[0])
            self.handle(s, CheckerResult(rs, checker, update.up, mail, always))

        def outcome(result: Outcome) -> None:
            last[0] = result
            self.stats.attempts += 1
            self.stats.failures += not result.ok
            if isinstance(check, MiscCheck) and check.dynamic and result.ok:
                self.handle(s, CheckerWeight(rs, checker, result.weight))

        return target, schedule, changed, outcome

    def _add_bulk(self, s: _Vs, rs: int, checker: int, check: Any) -> int:
        assert self._bulk is not None
        target, schedule, changed, outcome = self._checker_parts(s, rs, checker, check)
        return self._bulk.add(
            check,
            target,
            schedule,
            changed,
            outcome,
            rs_virtualhost=s.config.real_servers[rs].virtualhost,
            vs_virtualhost=s.config.virtualhost,
        )

    def _timed(self, probe: Callable[..., Any], kind: str) -> Callable[..., Any]:
        """``probe`` with each attempt's duration recorded (a timed-out attempt: its
        timeout).  ``tcp.probe`` is left as it is: the runner knows it by identity."""
        if probe is tcp.probe:
            return probe

        async def timed(check: Any, target: Target) -> Any:
            started = time.monotonic()
            try:
                return await probe(check, target)
            finally:
                self.latency.observe(kind, time.monotonic() - started)

        return timed

    async def _run_checker(
        self, s: _Vs, rs: int, checker: int, check: Any, probe: Callable[..., Any]
    ) -> None:
        target, schedule, changed, outcome = self._checker_parts(s, rs, checker, check)
        await run_checker(
            self._timed(probe, checker_kind(check)),
            check,
            target,
            changed,
            schedule=schedule,
            random=self.rand,
            log=log.info,
            on_outcome=outcome,
        )

    async def _watch_files(self, scope: trio.CancelScope) -> None:
        from pykad.drivers.track_file import FileWatcher

        names = {name for name, *_ in _file_checks(self.servers)}
        watcher = FileWatcher([f for f in self.config.track_file.files if f.name in names])
        send, receive = trio.open_memory_channel[Any](64)
        with scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(functools.partial(watcher.run, send, initial=False))
                async for update in receive:
                    for name, s, j, k in _file_checks(self.servers):
                        if name == update.obj.name:
                            self.handle(s, FileValue(j, k, _int(update.status)))

    async def _read_bfd(self, fd: int) -> None:
        from pykad.bfd.events import decode

        while True:
            await trio.lowlevel.wait_readable(fd)
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not data:
                log.error("BFD: the BFD process closed its event pipe")
                return
            events, self._bfd_buffer = decode(self._bfd_buffer + data)
            for event in events:
                for s in self.servers:
                    for j, rs in enumerate(s.config.real_servers):
                        for k, check in enumerate(checker_configs(rs)):
                            if isinstance(check, BfdCheck) and check.name == event.name:
                                mail, _ = checker_mail(check, event.up, None)
                                self.handle(s, CheckerResult(j, k, event.up, mail))

    async def stop(self) -> None:
        """Leave as keepalived's ``clear_services`` and ``ipvs_stop`` do; :meth:`run`
        returns once the notifications this queues have run."""
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
        if self.release_ipvs:
            await self._release()
        if self._saved_timeouts is not None:
            self.ipvs.set_timeouts(self._saved_timeouts)
        for state in self._daemons:
            try:
                self.ipvs.stop_daemon(state)
            except OSError as e:
                log.warning("IPVS: stopping sync daemon: %s", e)
        if self.notifier is not None:
            self.notifier.close()

    async def _release(self) -> None:
        """keepalived's ``clear_services`` (or, with ``lvs_flush_on_stop``, a flush)."""
        flush = self.config.global_defs.lvs_flush_on_stop
        for s in self.servers:
            self._notify(s.pool.handle(Stop(flush)))
        if flush is LvsFlushOnStop.FULL:
            await trio.to_thread.run_sync(self.ipvs.flush)
            return
        ops: list[Op] = []  # VS: each service; none: each real server, then the service
        if flush is None:
            ops += [lbplan.DelDest(k, d) for k, ds in self.table.dests.items() for d in ds]
        ops += [lbplan.DelService(k) for k in self.table.services]
        self._record(await trio.to_thread.run_sync(self.ipvs.apply, ops))


def _int(status: object) -> int:
    """A track file's value (the watcher reports numbers)."""
    assert isinstance(status, int)
    return status


def _describe(op: Op) -> str:
    """An operation as log lines name it: ``AddDest TCP [192.0.2.1]:80 -> [203.0.113.1]:8080``."""
    key = (
        op.key
        if isinstance(op, lbplan.DelService)
        else (
            op.service.key if isinstance(op, lbplan.AddService | lbplan.EditService) else op.service
        )
    )
    text = f"{type(op).__name__} {service_text(key)}"
    if isinstance(op, lbplan.AddDest | lbplan.EditDest):
        text += f" -> {_addr_text(op.dest.key.address)}:{op.dest.key.port}"
    elif isinstance(op, lbplan.DelDest):
        text += f" -> {_addr_text(op.key.address)}:{op.key.port}"
    return text


def _log_change(op: Op) -> None:
    """keepalived's lines for a real server's change (ipwrapper.c ``perform_svr_state``,
    ``update_svr_wgt``), in its ``[addr]:proto:port`` names."""
    if not isinstance(op, lbplan.AddDest | lbplan.EditDest | lbplan.DelDest):
        return
    key = op.key if isinstance(op, lbplan.DelDest) else op.dest.key
    proto = {6: "tcp", 17: "udp", 132: "sctp"}.get(op.service.protocol, "tcp")
    rs = f"{_addr_text(key.address)}:{proto}:{key.port}"
    svc = op.service
    vs = f"{_addr_text(svc.address)}:{proto}:{svc.port}" if svc.address else f"FWM {svc.fwmark}"
    if isinstance(op, lbplan.AddDest):
        log.info("Adding service %s to VS %s", rs, vs)
    elif isinstance(op, lbplan.DelDest):
        log.info("Removing service %s from VS %s", rs, vs)
    else:
        log.info("Changing weight of service %s in VS %s to %d", rs, vs, op.dest.weight)


def _addr_text(address: bytes) -> str:
    return f"[{ip_address(address)}]"


def checker_kind(check: Any) -> str:
    """keepalived's keyword for a checker: ``HTTP_GET``, ``SSL_GET``, ``MISC_CHECK``..."""
    if isinstance(check, HttpCheck):
        return "SSL_GET" if check.ssl else "HTTP_GET"
    kinds = {
        TcpCheck: "TCP_CHECK",
        SmtpCheck: "SMTP_CHECK",
        DnsCheck: "DNS_CHECK",
        PingCheck: "PING_CHECK",
        UdpCheck: "UDP_CHECK",
        MiscCheck: "MISC_CHECK",
        FileCheck: "FILE_CHECK",
        BfdCheck: "BFD_CHECK",
    }
    return kinds.get(type(check), type(check).__name__)


def checker_mail(check: Any, up: bool, outcome: Outcome | None) -> tuple[str, bool]:
    """The ``smtp_alert`` text keepalived 2.2.7's checker sends with a verdict (its
    check_*.c epilog), and whether it goes with every verdict (MISC_CHECK) rather than
    only when the checker's state changes.  FILE_CHECK sends none."""
    word = "succeed" if up else "failed"
    if isinstance(check, TcpCheck):
        return f"=> TCP CHECK {word} on service <=", False
    if isinstance(check, UdpCheck):
        return f"=> UDP CHECK {word} on service <=", False
    if isinstance(check, PingCheck):
        return f"=> ICMP CHECK {word} on service <=", False
    if isinstance(check, DnsCheck):
        return f"=> DNS_CHECK: {word} on service <=", False
    if isinstance(check, BfdCheck):
        return f"=> BFD CHECK {check.name} {'succeeded' if up else 'failed'} on service <=", False
    if isinstance(check, HttpCheck):
        if up:
            return "=> CHECK succeed on service <=", False
        return "=> CHECK failed on service : HTTP request failed <=", False
    if isinstance(check, SmtpCheck):
        if up:
            return "=> CHECK succeed on service <=", False
        reason = outcome.reason if outcome is not None and not outcome.ok else ""
        if reason.startswith(smtp.PREFIX):
            return f"=> CHECK failed on service : {reason[len(smtp.PREFIX) :]} <=", False
        return "=> CHECK failed on service <=", False
    if isinstance(check, MiscCheck):
        how = outcome.word if outcome is not None else ""
        how = how or ("succeeded" if up else "failed")
        return f"=> MISC CHECK {how} on service <=", True
    return "", False


def service_text(key: ServiceKey) -> str:
    """A service as the log lines name it: ``TCP [192.0.2.1]:80``, ``FWM 5``."""
    if not key.address:
        return f"FWM {key.fwmark}" + (" IPv6" if key.af == socket.AF_INET6 else "")
    proto = {6: "TCP", 17: "UDP", 132: "SCTP"}.get(key.protocol, str(key.protocol))
    return f"{proto} {_addr_text(key.address)}:{key.port}"


def _carried(new: _Vs, old: Sequence[_Vs]) -> dict[tuple[int, int], bool]:
    """The checker states ``new`` takes over from the server of the same name in ``old``
    (keepalived's ``migrate_checkers``): per real server of the same address and port,
    per checker configured the same at the same place."""
    prev = next((o for o in old if o.name == new.name), None)
    if prev is None:
        return {}
    states = prev.pool.checker_states()
    index = {(rs.address, rs.port): i for i, rs in enumerate(prev.config.real_servers)}
    carried = {}
    for j, rs in enumerate(new.config.real_servers):
        i = index.get((rs.address, rs.port))
        if i is None:
            continue
        old_checks = checker_configs(prev.config.real_servers[i])
        for k, check in enumerate(checker_configs(rs)):
            if k < len(old_checks) and old_checks[k] == check and (i, k) in states:
                carried[(j, k)] = states[(i, k)]
    return carried


def _removal(old: _Vs, fresh: Sequence[_Vs], flush: LvsFlushOnStop | None) -> Remove:
    """What a reload takes from ``old`` (keepalived's ``clear_diff_services``): the real
    servers the virtual server of the same name in ``fresh`` no longer has (same
    address and port), or all of them if it is gone."""
    new = next((s for s in fresh if s.name == old.name), None)
    if new is None:
        if old.config.group is not None:
            log.info("Removing Virtual Server Group [%s]", old.config.group)
        else:
            log.info("Removing Virtual Server %s", old.name)
        return Remove(None, flush)
    present = {(rs.address, rs.port) for rs in new.config.real_servers}
    kept = set()
    for i, rs in enumerate(old.config.real_servers):
        if (rs.address, rs.port) in present:
            kept.add(i)
        else:
            log.info("service %s no longer exist", desired.format_rs(old.config, rs))
    return Remove(frozenset(kept))


def _file_checks(servers: Sequence[_Vs]) -> list[tuple[str, _Vs, int, int]]:
    """(track_file name, virtual server, real server, checker) of every FILE_CHECK."""
    return [
        (check.track_file, s, j, k)
        for s in servers
        for j, rs in enumerate(s.config.real_servers)
        for k, check in enumerate(checker_configs(rs))
        if isinstance(check, FileCheck)
    ]


def _probes(
    s: _Vs, j: int, rs: Any, service: CheckService
) -> list[tuple[int, Any, Callable[..., Any]]]:
    """(checker index, check, probe) of every checker of real server ``j`` that probes."""
    out: list[tuple[int, Any, Callable[..., Any]]] = []
    smtp_seen: dict[int, int] = {}
    for k, check in enumerate(checker_configs(rs)):
        probe: Callable[..., Any] | None
        if isinstance(check, TcpCheck):
            probe = tcp.probe
        elif isinstance(check, HttpCheck):
            probe = functools.partial(
                http.probe,
                ssl_context=service._ssl if check.ssl else None,
                rs_virtualhost=rs.virtualhost,
                vs_virtualhost=s.config.virtualhost,
            )
        elif isinstance(check, SmtpCheck):
            m = smtp_seen[id(check)] = smtp_seen.get(id(check), -1) + 1
            probe = functools.partial(smtp.probe, connection=smtp.connections(check)[m])
        elif isinstance(check, DnsCheck):
            probe = dns.probe
        elif isinstance(check, PingCheck):
            probe = ping.probe
        elif isinstance(check, UdpCheck):
            probe = udp.probe
        elif isinstance(check, MiscCheck):
            probe = functools.partial(
                misc.probe,
                default_user=service.default_user,
                vs_delay_loop_us=s.config.delay_loop_us,
            )
        else:  # FILE_CHECK, BFD_CHECK: driven by their events
            probe = None
        if probe is not None:
            out.append((k, check, probe))
    return out
