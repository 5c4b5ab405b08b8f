"""The checker service end to end against an in-memory IPVS and real loopback servers.

The kernel's side is a fake with IPVS's answers (EEXIST, ESRCH, ENOENT); the
real servers are trio listeners on 127.0.0.1 that the tests open and close, so
the checkers (TCP_CHECK) really connect.  The VM tests run the same service
against the real IPVS (tests/vm/guest/test_check_daemon.py).
"""

from __future__ import annotations

import errno
import functools
import socket
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import ip_address
from pathlib import Path

import pytest
import trio

from pykad.config.build import NoHost
from pykad.config.load import load
from pykad.config.model import Config, from_parts
from pykad.daemon.check_service import CheckService
from pykad.drivers.files import LocalFiles
from pykad.kernel import ipvs_wire_py as w
from pykad.kernel.ipvs import IpvsResult
from pykad.lb import plan
from pykad.lb.table import Dest, DestKey, Service, ServiceKey, Table

VIP = "192.0.2.10"


class FakeIpvs:
    """IPVS's table and answers, in memory; every written operation is kept."""

    def __init__(self, table: Table | None = None) -> None:
        self.table = table or Table()
        self.written: list[plan.Op] = []
        self.flushed = 0
        self.kernel_timeouts = w.Timeouts(900, 120, 300)
        self.daemons: dict[int, w.SyncDaemon] = {}

    def _answer(self, op: plan.Op) -> int:
        t = self.table
        if isinstance(op, plan.AddService):
            return errno.EEXIST if op.service.key in t.services else 0
        key = op.key if isinstance(op, plan.DelService) else (
            op.service.key if isinstance(op, plan.EditService) else op.service
        )  # fmt: skip
        if key not in t.services:
            return errno.ESRCH
        if isinstance(op, plan.AddDest):
            return errno.EEXIST if op.dest.key in t.dests[key] else 0
        if isinstance(op, plan.EditDest):
            return 0 if op.dest.key in t.dests[key] else errno.ENOENT
        if isinstance(op, plan.DelDest):
            return 0 if op.key in t.dests[key] else errno.ENOENT
        return 0

    def apply(self, ops: Sequence[plan.Op]) -> list[IpvsResult]:
        results = []
        for op in ops:
            self.written.append(op)
            err = self._answer(op)
            if not err:
                self.table = plan.apply(self.table, [op])
            results.append(IpvsResult(op, err))
        return results

    def dump(self) -> Table:
        return self.table

    def flush(self) -> None:
        self.flushed += 1
        self.table = Table()

    def timeouts(self) -> w.Timeouts:
        return self.kernel_timeouts

    def set_timeouts(self, timeouts: w.Timeouts) -> None:
        self.kernel_timeouts = timeouts

    def start_daemon(self, daemon: w.SyncDaemon) -> None:
        if daemon.state in self.daemons:
            raise OSError(errno.EEXIST, "running")
        self.daemons[daemon.state] = daemon

    def stop_daemon(self, state: int) -> None:
        if self.daemons.pop(state, None) is None:
            raise OSError(errno.ESRCH, "not running")


def config(tmp_path: Path, text: str) -> Config:
    (tmp_path / "k.conf").write_text(text)
    loaded = load(
        LocalFiles(),
        "k.conf",
        cwd=str(tmp_path),
        config_id="t",
        host=NoHost(),
    )
    assert not loaded.diagnostics.stopped, loaded.diagnostics.items
    return from_parts(loaded.parts)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def vs_block(ports: Sequence[int], *, extra: str = "", rs_extra: str = "") -> str:
    servers = "".join(
        f"""
    real_server 127.0.0.1 {p} {{
        weight {i + 1}
        {rs_extra}
        TCP_CHECK {{
            connect_timeout 0.2
            retry 0
            delay_before_retry 0.1
        }}
    }}"""
        for i, p in enumerate(ports)
    )
    return f"""
virtual_server {VIP} 80 {{
    delay_loop 0.2
    lvs_sched wrr
    lvs_method NAT
    protocol TCP
    {extra}
    {servers}
}}
"""


def key() -> ServiceKey:
    return ServiceKey(socket.AF_INET, 6, ip_address(VIP).packed, 80)


def dest_weights(ipvs: FakeIpvs) -> dict[int, int]:
    return {d.key.port: d.weight for d in ipvs.table.dests.get(key(), {}).values()}


async def listen(port: int) -> trio.SocketListener:
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    await sock.bind(("127.0.0.1", port))
    sock.listen(16)
    return trio.SocketListener(sock)


def trio_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test under trio (no plugin: the suite is trio-only where it is async)."""

    @functools.wraps(fn)
    def run(*args: object, **kwargs: object) -> None:
        trio.run(functools.partial(fn, *args, **kwargs))

    return run


async def wait_for(predicate: object, timeout: float = 5.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():  # type: ignore[operator]
            await trio.sleep(0.02)


@trio_test
async def test_checkers_remove_and_restore_real_servers(tmp_path: Path) -> None:
    up, down = free_ports(2)
    cfg = config(tmp_path, vs_block([up, down]))
    ipvs = FakeIpvs()
    service = CheckService(cfg, ipvs, rand=lambda: 0.0)
    service.setup()
    listener = await listen(up)
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        # not alpha: both are added at start, with their weights
        assert dest_weights(ipvs) == {up: 1, down: 2}
        assert ipvs.table.services[key()].scheduler == "wrr"
        # the first check (1 s + warmup x 0) finds `down` refused: it leaves
        await wait_for(lambda: dest_weights(ipvs) == {up: 1})
        written = len(ipvs.written)
        # it comes back once something listens: one operation each way
        second = await listen(down)
        await wait_for(lambda: dest_weights(ipvs) == {up: 1, down: 2})
        assert [type(op) for op in ipvs.written[written:]] == [plan.AddDest]
        await second.aclose()
        await listener.aclose()
        await wait_for(lambda: dest_weights(ipvs) == {})
        await service.stop()  # run() returns by itself
    assert ipvs.table == Table()  # no lvs_flush_on_stop: each real server, then the service


@trio_test
async def test_inhibit_on_failure_keeps_the_server_at_weight_zero(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    cfg = config(tmp_path, vs_block([port], rs_extra="inhibit_on_failure"))
    ipvs = FakeIpvs()
    service = CheckService(cfg, ipvs, rand=lambda: 0.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        assert dest_weights(ipvs) == {port: 1}
        await wait_for(lambda: dest_weights(ipvs) == {port: 0})
        assert isinstance(ipvs.written[-1], plan.EditDest)
        nursery.cancel_scope.cancel()


@trio_test
async def test_start_over_an_existing_table_writes_only_the_difference(tmp_path: Path) -> None:
    ports = free_ports(3)
    cfg = config(tmp_path, vs_block(ports, extra="alpha"))  # alpha: no server before a check
    foreign = ServiceKey(socket.AF_INET, 17, ip_address("192.0.2.99").packed, 53)
    stale = Dest(key=DestKey(ip_address("203.0.113.5").packed, 80), weight=1)
    before = Table.of(
        [
            (Service(key=foreign, scheduler="rr"), []),
            (Service(key=key(), scheduler="wrr"), [stale]),
        ]
    )
    ipvs = FakeIpvs(before)
    service = CheckService(cfg, ipvs, rand=lambda: 0.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        # the owned service was right (kept), its stale real server goes; the foreign stays
        assert ipvs.written == [plan.DelDest(key(), stale.key)]
        assert foreign in ipvs.table.services
        nursery.cancel_scope.cancel()


@trio_test
async def test_timeouts_sync_daemons_and_flush_on_stop(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    text = """
global_defs {
    lvs_timeouts tcp 1000 udp 60
    lvs_sync_daemon lo id 7
    lvs_flush
    lvs_flush_on_stop VS
}
""" + vs_block([port])
    ipvs = FakeIpvs(Table.of([(Service(key=ServiceKey.by_fwmark(socket.AF_INET, 3)), [])]))
    service = CheckService(config(tmp_path, text), ipvs, rand=lambda: 0.0)
    service.setup()
    assert ipvs.flushed == 1 and ipvs.table == Table()
    assert ipvs.kernel_timeouts == w.Timeouts(1000, 120, 60)
    assert sorted(ipvs.daemons) == [w.SYNC_MASTER, w.SYNC_BACKUP]
    assert ipvs.daemons[w.SYNC_MASTER].sync_id == 7
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        assert key() in ipvs.table.services
        await service.stop()
    # VS: only the services are deleted (their real servers with them)
    assert [type(op) for op in ipvs.written[-1:]] == [plan.DelService]
    assert ipvs.table == Table()
    assert ipvs.kernel_timeouts == w.Timeouts(900, 120, 300)
    assert ipvs.daemons == {}


@trio_test
async def test_dont_release_ipvs_leaves_the_services_at_stop(tmp_path: Path) -> None:
    """``-I``: keepalived skips ``clear_services`` at stop: the table stays, unannounced."""
    (port,) = free_ports(1)
    cfg = config(tmp_path, vs_block([port]))
    ipvs = FakeIpvs()
    service = CheckService(cfg, ipvs, rand=lambda: 0.0, release_ipvs=False)
    service.setup()
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        written = len(ipvs.written)
        table = ipvs.table
        await service.stop()
    assert len(ipvs.written) == written and ipvs.table == table and key() in table.services


@pytest.mark.parametrize("failing", [errno.ENOBUFS])
@trio_test
async def test_a_failed_write_makes_the_next_one_read_the_kernel(
    tmp_path: Path, failing: int
) -> None:
    (port,) = free_ports(1)
    cfg = config(tmp_path, vs_block([port]))
    ipvs = FakeIpvs()
    real_apply = ipvs.apply
    calls = []

    def flaky(ops: Sequence[plan.Op]) -> list[IpvsResult]:
        calls.append(len(ops))
        if len(calls) == 1:  # the start-up batch is lost: nothing applied
            return [IpvsResult(op, failing) for op in ops]
        return real_apply(ops)

    ipvs.apply = flaky  # type: ignore[method-assign]
    service = CheckService(cfg, ipvs, rand=lambda: 0.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        assert ipvs.table == Table()
        # the refused check removes the server: the service re-reads the kernel
        # (empty) and writes the service, without the real server
        await wait_for(lambda: key() in ipvs.table.services)
        assert dest_weights(ipvs) == {}
        nursery.cancel_scope.cancel()


OTHER = """
virtual_server 192.0.2.11 443 {
    lvs_sched rr
    protocol TCP
    real_server 127.0.0.1 9 {
        weight 5
    }
}
"""


@trio_test
async def test_reload_writes_only_what_changed_and_keeps_health(tmp_path: Path) -> None:
    up, down = free_ports(2)
    listener = await listen(up)
    ipvs = FakeIpvs()
    service = CheckService(config(tmp_path, vs_block([up, down]) + OTHER), ipvs, rand=lambda: 0.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        await wait_for(lambda: dest_weights(ipvs) == {up: 1})  # `down` failed its check
        before = len(ipvs.written)
        other = ServiceKey(socket.AF_INET, 6, ip_address("192.0.2.11").packed, 443)
        other_before = ipvs.table.dests[other]

        # `up`'s weight 1 -> 7: one edit; `down` stays out (its checker's state is
        # carried over); the other virtual server is not touched
        changed = vs_block([up, down]).replace("weight 1", "weight 7") + OTHER
        assert await service.reload(config(tmp_path, changed)) == 1
        assert ipvs.written[before:] == [
            plan.EditDest(key(), Dest(key=DestKey(ip_address("127.0.0.1").packed, up), weight=7))
        ]
        assert dest_weights(ipvs) == {up: 7}
        assert ipvs.table.dests[other] == other_before

        # the same file again: nothing at all
        assert await service.reload(config(tmp_path, changed)) == 0
        # back to weight 1, the other virtual server removed: its service goes with
        # its real servers in one operation
        assert await service.reload(config(tmp_path, vs_block([up, down]))) == 2
        assert other not in ipvs.table.services
        assert ipvs.written[-2] == plan.DelService(other)
        assert dest_weights(ipvs) == {up: 1}
        # the checkers still run after the reloads: `down` comes back when it listens
        second = await listen(down)
        await wait_for(lambda: dest_weights(ipvs) == {up: 1, down: 2})
        await second.aclose()
        await listener.aclose()
        nursery.cancel_scope.cancel()


@trio_test
async def test_a_real_server_s_changes_are_mailed_with_its_checker_s_text(tmp_path: Path) -> None:
    from pykad.drivers.mailer import Mailer
    from pykad.drivers.notify import Notifier

    sessions: list[bytes] = []

    async def smtp_server(stream: trio.SocketStream) -> None:
        got = b""
        await stream.send_all(b"220 mx\r\n")
        while True:
            data = await stream.receive_some(4096)
            if not data:
                break
            got += data
            if got.endswith(b"QUIT\r\n"):
                await stream.send_all(b"221 bye\r\n")
                break
            await stream.send_all(b"354 go\r\n" if got.endswith(b"DATA\r\n") else b"250 ok\r\n")
        sessions.append(got)

    port, smtp_port = free_ports(2)
    text = f"""global_defs {{
    router_id lb1
    notification_email {{
        ops@example.com
    }}
    notification_email_from ka@example.com
    smtp_server 127.0.0.1 {smtp_port}
    smtp_connect_timeout 2
}}
""" + vs_block([port])
    cfg = config(tmp_path, text)
    ipvs = FakeIpvs()
    notifier = Notifier(mailer=Mailer())
    service = CheckService(cfg, ipvs, notifier=notifier, rand=lambda: 0.0)
    subject = f"[lb1] Realserver [127.0.0.1]:tcp:{port} of virtual server [{VIP}]:tcp:80"

    def subjects() -> list[str]:
        found = []
        for s in sessions:
            for line in s.split(b"\r\n"):
                if line.startswith(b"Subject: "):
                    body = s.split(b"\r\n\r\n")[1].split(b"\r\n")[0]
                    found.append(f"{line[9:].decode()} | {body.decode()}")
        return found

    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(trio.serve_tcp, smtp_server, smtp_port, host="127.0.0.1")
        )
        await nursery.start(notifier.run)
        await nursery.start(service.run)
        await wait_for(lambda: len(sessions) == 1)  # the first check: refused
        listener = await listen(port)
        await wait_for(lambda: len(sessions) == 2)
        assert subjects() == [
            f"{subject} - DOWN | => TCP CHECK failed on service <=",
            f"{subject} - UP | => TCP CHECK succeed on service <=",
        ]
        # a reload takes the (alive) real server away: keepalived's clear_diff_rs mail
        other = free_ports(1)[0]
        await service.reload(config(tmp_path, text.replace(str(port), str(other))))
        await wait_for(lambda: len(sessions) == 3)
        assert subjects()[2] == f"{subject} - DOWN | => Removing <="
        await listener.aclose()
        nursery.cancel_scope.cancel()
