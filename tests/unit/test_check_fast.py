"""The bulk attempt loop (``pykad.drivers.check_fast``): both twins against loopback
servers, against each other, and against the trio probes they stand in for."""

from __future__ import annotations

import importlib
import math
import socket
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from unit.test_check_tcp_http import hung_port, page, serve

from pykad.check.base import Target
from pykad.check.probes import bulk, http, tcp
from pykad.check.probes.connect import CheckerSetupError
from pykad.check.schedule import Layer4Schedule, StateUpdate, Timing
from pykad.config.addresses import inet_stosockaddr
from pykad.config.sections._lvs_model import Connection, HttpCheck, TcpCheck, Url
from pykad.drivers import check_fast

TWINS = ["pykad.drivers.check_fast_py"] + (
    ["pykad._fastpath.check_fast"] if check_fast.IMPLEMENTATION == "cython" else []
)
TIMEOUT_US = 200_000
FAST = Connection(connect_timeout_us=TIMEOUT_US)
LOOPBACK = socket.inet_aton("127.0.0.1")
ALL_OK = bytes(1 if 200 <= c <= 299 else 0 for c in range(600))
REQUEST = b"GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: x\r\n\r\n"


@pytest.fixture(params=TWINS)
def twin(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(request.param)


def target(host: str, port: int) -> Target:
    addr = inet_stosockaddr(host)
    assert addr is not None
    return Target(addr, port)


def now_us() -> int:
    return round(trio.current_time() * 1_000_000)


async def outcomes(loop: Any, want: int, limit_s: float = 2.0) -> list[tuple[Any, ...]]:
    """Drive ``loop`` until ``want`` outcomes came back (or ``limit_s`` passed)."""
    got: list[tuple[Any, ...]] = []
    with trio.move_on_after(limit_s):
        while len(got) < want:
            at = loop.next_at()
            with trio.move_on_at(at / 1e6 if at >= 0 else math.inf):
                await trio.lowlevel.wait_readable(loop.fileno())
            got += loop.run(now_us())
    return got


async def one(twin: ModuleType, port: int, request: bytes | None = None, **kw: Any) -> tuple:
    loop = twin.CheckLoop()
    try:
        status = ALL_OK if request is not None else b""
        args = dict(request=request, status_ok=status)
        args.update(kw)
        loop.add(7, socket.AF_INET, LOOPBACK, port, 0, TIMEOUT_US, 1_000_000, **args)
        loop.schedule(7, now_us(), False)
        (result,) = await outcomes(loop, 1)
        return tuple(result)
    finally:
        loop.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the twins against servers ------------------------------------------------------


def test_tcp_success_refused_and_steady_absorption(twin: ModuleType) -> None:
    async def main() -> None:
        async with serve(lambda r: b"") as srv:
            assert await one(twin, srv.port) == (7, twin.OK, "", -1, 0)
            loop = twin.CheckLoop()
            loop.add(1, socket.AF_INET, LOOPBACK, srv.port, 0, TIMEOUT_US, 50_000)
            loop.add(2, socket.AF_INET, LOOPBACK, closed_port(), 0, TIMEOUT_US, 50_000)
            loop.schedule(1, now_us(), True)
            loop.schedule(2, now_us(), True)
            # key 1 is absorbed (and rescheduled by the loop itself); key 2 fails
            got = await outcomes(loop, 2, limit_s=0.3)
            assert got == [(2, twin.FAILED, "failed", -1, 0)]
            assert loop.absorbed >= 3
            loop.remove(1)
            loop.remove(2)
            assert loop.next_at() == -1
            loop.close()

    trio.run(main)


def test_tcp_hung_server_times_out_after_connect_timeout(twin: ModuleType) -> None:
    async def main() -> None:
        with hung_port() as port:
            t0 = trio.current_time()
            assert await one(twin, port) == (7, twin.FAILED, "timeout", -1, 0)
            assert 0.19 <= trio.current_time() - t0 < 0.5
            # a hung server does not hold up the others in the same loop
            async with serve(lambda r: b"") as srv:
                loop = twin.CheckLoop()
                loop.add(1, socket.AF_INET, LOOPBACK, port, 0, TIMEOUT_US, 1_000_000)
                loop.add(2, socket.AF_INET, LOOPBACK, srv.port, 0, TIMEOUT_US, 1_000_000)
                t0 = trio.current_time()
                loop.schedule(1, now_us(), False)
                loop.schedule(2, now_us(), False)
                (first,) = await outcomes(loop, 1)
                assert first == (2, twin.OK, "", -1, 0)
                assert trio.current_time() - t0 < 0.1
                (second,) = await outcomes(loop, 1)
                assert second == (1, twin.FAILED, "timeout", -1, 0)
                loop.close()

    trio.run(main)


def test_setup_errors_carry_keepalived_s_messages(twin: ModuleType) -> None:
    async def main() -> None:
        port = closed_port()
        bad_if = await one(twin, port, bind_if="nosuchdev0")
        assert bad_if[1:3] == (
            twin.SETUP,
            "Checker can't bind to device nosuchdev0: No such device",
        )
        bad_bind = await one(twin, port, bind_address=socket.inet_aton("192.0.2.77"))
        assert bad_bind[1:3] == (twin.SETUP, "Checker bind failed: Cannot assign requested address")

    trio.run(main)


HTTP_CASES: list[tuple[Callable[[bytes], bytes | None], tuple[int, str, int, int]]] = [
    (lambda r: page(b"hello"), (0, "", 5, 5)),
    (lambda r: page(b"hello")[:-2], (0, "", 5, 3)),  # Content-Length says more
    (lambda r: b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 100_000, (0, "", -1, 100_000)),
    (lambda r: page(b"oops", "500 Internal Server Error"), (1, "HTTP status code error to", 4, 4)),
    (lambda r: page(b"", "20 OK"), (1, "HTTP status code error to", 0, 0)),
    (lambda r: b"", (1, "Read, no data received from ", -1, 0)),
    (lambda r: b"HTTP/1.0 200 OK\r\nX: " + b"y" * 5000, (1, "Read, no data received from ", -1, 0)),
    (lambda r: None, (1, "Timeout WEB read", -1, 0)),
]


@pytest.mark.parametrize(("respond", "expected"), HTTP_CASES)
def test_http_outcomes_equal_the_trio_probe_s(
    twin: ModuleType, respond: Callable[[bytes], bytes | None], expected: tuple[int, str, int, int]
) -> None:
    check = HttpCheck(connection=FAST, urls=(Url(path="/"),))

    async def main() -> None:
        async with serve(respond) as srv:
            got = await one(twin, srv.port, request=REQUEST)
            assert got == (7, *expected)
            reference = await http.probe(check, target("127.0.0.1", srv.port))
            assert reference.ok == (got[1] == twin.OK)
            assert reference.reason == got[2]

    trio.run(main)


def test_http_partial_answer_then_silence_is_a_read_timeout(twin: ModuleType) -> None:
    async def main() -> None:
        lsock = trio.socket.socket()
        await lsock.bind(("127.0.0.1", 0))
        lsock.listen(5)
        port = lsock.getsockname()[1]

        async def server() -> None:
            conn, _ = await lsock.accept()
            await conn.recv(4096)
            await conn.send(b"HTTP/1.0 200")
            await trio.sleep_forever()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(server)
            got = await one(twin, port, request=REQUEST)
            assert got[1:3] == (twin.FAILED, "Timeout HTTP read")
            nursery.cancel_scope.cancel()
        lsock.close()

    trio.run(main)


def test_http_refused_and_schedule_in_the_future(twin: ModuleType) -> None:
    async def main() -> None:
        got = await one(twin, closed_port(), request=REQUEST)
        assert got[1:3] == (twin.FAILED, "Connection failed")
        loop = twin.CheckLoop()
        loop.add(3, socket.AF_INET, LOOPBACK, closed_port(), 0, TIMEOUT_US, 1_000_000)
        at = now_us() + 100_000
        loop.schedule(3, at, False)
        assert loop.next_at() == at
        assert loop.slack_us == twin.START_SLACK_US  # delay_loop 1 s: 1 % is more
        assert loop.run(at - loop.slack_us - 1) == []  # not yet
        t0 = trio.current_time()
        (result,) = await outcomes(loop, 1)
        assert result[1] == twin.FAILED
        assert trio.current_time() - t0 >= 0.1 - loop.slack_us / 1e6 - 0.002
        loop.add(4, socket.AF_INET, LOOPBACK, 80, 0, TIMEOUT_US, 200_000)
        assert loop.slack_us == 2_000  # 1 % of the shortest delay_loop
        loop.close()

    trio.run(main)


def test_add_checks_its_arguments(twin: ModuleType) -> None:
    loop = twin.CheckLoop()
    loop.add(1, socket.AF_INET, LOOPBACK, 80, 0, 1, 1)
    with pytest.raises(KeyError):
        loop.add(1, socket.AF_INET, LOOPBACK, 80, 0, 1, 1)
    with pytest.raises(ValueError):
        loop.add(2, socket.AF_INET6, LOOPBACK, 80, 0, 1, 1)
    with pytest.raises(ValueError):
        loop.add(2, socket.AF_INET, LOOPBACK, 80, 0, 1, 1, request=b"GET", status_ok=b"x")
    with pytest.raises(OverflowError):
        loop.add(2, socket.AF_INET, LOOPBACK, 70000, 0, 1, 1)
    with pytest.raises(KeyError):
        loop.schedule(9, 0, False)
    loop.close()


# --- parsing: both twins and the trio probe's functions ------------------------------


TOKENS = st.sampled_from(
    [b"\r\n\r\n", b"\r\n", b"HTTP/1.1 ", b"200 ", b" 404 ", b"Content-Length:", b" 12", b"-3",
     b"+7", b"\0", b" ", b"\t", b"99999999999999999999999", b"abc", b"\r", b"\n"]
)  # fmt: skip


@given(st.lists(st.one_of(TOKENS, st.binary(max_size=8)), max_size=20))
@settings(max_examples=500, deadline=None)
def test_parse_head_twins_agree_with_lib_html(parts: list[bytes]) -> None:
    window = b"".join(parts)[:4095]
    body_at = http.extract_html(window)
    length = http.extract_content_length(window)
    expected = (
        (-1, 0, -1)
        if body_at is None
        else (body_at, http.extract_status_code(window), -1 if length is None else length)
    )
    for name in TWINS:
        assert importlib.import_module(name).parse_head(window) == expected, name


# --- the bulk runner against the trio runner -----------------------------------------


def test_bulk_runner_logs_and_changes_as_the_probes_do() -> None:
    """A TCP_CHECK in the bulk runner: up, then down after its retries when the server
    stops, with TCP_CHECK's log lines; successes in between are absorbed."""
    timing = dict(retry=1, delay_loop_us=50_000, warmup_us=0, delay_before_retry_us=20_000)
    lines: list[str] = []
    changes: list[StateUpdate] = []
    seen: list[bool] = []

    async def main() -> None:
        runner = bulk.BulkRunner(random=lambda: 0.0, log=lines.append)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(runner.run)
            async with serve(lambda r: b"") as srv:
                tgt = target("127.0.0.1", srv.port)
                check = TcpCheck(connection=FAST, **timing)  # type: ignore[arg-type]
                assert bulk.eligible(check, tgt)
                sched = Layer4Schedule(Timing.of(check), tcp_chk(tgt))
                runner.add(check, tgt, sched, changes.append, lambda o: seen.append(o.ok))
                await trio.sleep(1.6)  # bootstrap delay, then a few attempts
                assert [c.up for c in changes] == [True]
                assert runner.loop.absorbed >= 3
            await trio.sleep(0.3)  # the server is gone: fail, retry, down
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert [c.up for c in changes] == [True, False]
    assert lines[0].startswith("TCP connection to [127.0.0.1]:tcp:")
    assert lines[0].endswith(" success.")
    assert lines[-1].startswith("TCP_CHECK on service [127.0.0.1]:tcp:")
    assert lines[-1].endswith(" failed after 1 retries.")
    assert seen[0] is True and seen.count(True) == 1  # later successes are absorbed
    assert len(seen) > 2 and not any(seen[1:])


def tcp_chk(tgt: Target) -> str:
    return f"[{tgt.address}]:tcp:{tgt.port}"


def test_eligible_checks() -> None:
    tgt = target("192.0.2.1", 80)
    url = Url(path="/")
    assert bulk.eligible(TcpCheck(), tgt)
    assert bulk.eligible(HttpCheck(urls=(url,)), tgt)
    assert not bulk.eligible(HttpCheck(urls=(url, url)), tgt)
    assert not bulk.eligible(HttpCheck(urls=()), tgt)
    assert not bulk.eligible(HttpCheck(ssl=True, urls=(url,)), tgt)
    assert not bulk.eligible(HttpCheck(urls=(Url(path="/", digest=b"x" * 16),)), tgt)
    assert not bulk.eligible(HttpCheck(urls=(Url(path="/", regex="x"),)), tgt)
    v6 = Connection(bindto=inet_stosockaddr("2001:db8::1"))
    assert not bulk.eligible(TcpCheck(connection=v6), tgt)
    assert bulk.eligible(TcpCheck(connection=v6), target("2001:db8::2", 80))


def test_trio_tcp_probe_reference_for_setup_errors() -> None:
    """The SETUP texts above are the trio probe's CheckerSetupError texts."""

    async def main() -> None:
        conn = Connection(bind_if="nosuchdev0", connect_timeout_us=TIMEOUT_US)
        with pytest.raises(CheckerSetupError, match=r"^Checker can't bind to device nosuchdev0: "):
            await tcp.probe(TcpCheck(connection=conn), target("127.0.0.1", 9))

    trio.run(main)


def test_a_run_starts_at_most_max_starts_attempts(twin: ModuleType) -> None:
    loop = twin.CheckLoop()
    port = closed_port()
    n = twin.MAX_STARTS + 10
    for key in range(n):
        loop.add(key, socket.AF_INET, LOOPBACK, port, 0, TIMEOUT_US, 1_000_000)
        loop.schedule(key, 5_000_000, False)
    started = loop.run(5_000_000)
    assert sorted(r[0] for r in started) == list(range(twin.MAX_STARTS))  # earliest keys first
    assert loop.next_at() == 5_000_000  # the rest are still due
    rest = loop.run(5_000_000)
    assert sorted(r[0] for r in rest) == list(range(twin.MAX_STARTS, n))
    assert {r[1:3] for r in started + rest} == {(twin.FAILED, "failed")}
    loop.close()
