"""PING_CHECK: echo requests to 127.0.0.1 and ::1, and the ways an echo fails.

On the host (root, ``ping_group_range`` usually ``1 0``) the datagram ICMP socket
is refused and the raw fallback is exercised.  In a namespace of our own with
``ping_group_range`` opened, the datagram socket keepalived uses answers too; a
dummy interface there swallows packets for the timeout case, and an address
with no route fails at the send.  The probe runs in a thread that has entered
the namespace (``setns`` moves only that thread).
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import TypeVar

import pytest
import trio

from lab.netns import Topology
from pykad.check.base import Outcome, Target
from pykad.check.probes import ping
from pykad.check.schedule import Layer4Schedule, Log, Timing
from pykad.config.addresses import IPAddress
from pykad.config.sections._lvs_model import Connection, PingCheck

T = TypeVar("T")
TIMEOUT_US = 300_000
TIMEOUT_S = TIMEOUT_US / 1e6
CLONE_NEWNET = 0x40000000


def check(**kw: object) -> PingCheck:
    return PingCheck(connection=Connection(connect_timeout_us=TIMEOUT_US, **kw))  # type: ignore[arg-type]


def target(address: IPAddress) -> Target:
    return Target(address=address, port=0, virtual_server="[10.0.0.1]:tcp:80")


async def timed_probe(c: PingCheck, t: Target) -> tuple[Outcome, float]:
    start = trio.current_time()
    outcome = await ping.probe(c, t)
    return outcome, trio.current_time() - start


def in_netns(netns: str, fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``trio.run(fn)`` in a thread inside network namespace ``netns``."""
    libc = ctypes.CDLL(None, use_errno=True)
    results: list[T] = []
    errors: list[BaseException] = []

    def thread() -> None:
        fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
        try:
            results.append(trio.run(fn))
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=thread)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return results[0]


async def is_raw(v6: bool) -> bool:
    icmp = ping.open_icmp(v6)
    icmp.sock.close()
    return icmp.raw


def _host_group_range_allows_us() -> bool:
    low, high = Path(ping.PING_GROUP_RANGE).read_text().split()
    return int(low) <= os.getegid() <= int(high)


@pytest.mark.parametrize("address", [IPv4Address("127.0.0.1"), IPv6Address("::1")])
def test_ping_loopback_on_the_host(address: IPAddress) -> None:
    if os.geteuid() != 0 and not _host_group_range_allows_us():
        pytest.skip("needs root or ping_group_range")
    assert trio.run(is_raw, address.version == 6) == (not _host_group_range_allows_us())
    outcome, elapsed = trio.run(timed_probe, check(), target(address))
    assert outcome == Outcome(ok=True)
    assert elapsed < TIMEOUT_S


def test_ping_connect_ip_wins() -> None:
    if os.geteuid() != 0 and not _host_group_range_allows_us():
        pytest.skip("needs root or ping_group_range")
    c = check(connect_ip=IPv4Address("127.0.0.1"))
    outcome, _ = trio.run(timed_probe, c, target(IPv6Address("::1")))
    assert outcome.ok


@pytest.mark.netns
def test_ping_in_a_namespace(netns_lab: Topology) -> None:
    ns = netns_lab.add_node("ping", ipv6=True)
    netns_lab.sysctl("ping", {"net.ipv4.ping_group_range": "0 2147483647"})
    # A veth pair with nobody behind the far end: requests go out and die there.
    netns_lab.ip("ping", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    for ifname in ("v0", "v1"):
        netns_lab.ip("ping", "link", "set", ifname, "up")
    netns_lab.ip("ping", "addr", "add", "198.51.100.1/24", "dev", "v0")
    netns_lab.ip("ping", "addr", "add", "2001:db8::1/64", "dev", "v0", "nodad")

    async def scenario() -> dict[str, tuple[Outcome, float] | bool]:
        results: dict[str, tuple[Outcome, float] | bool] = {"dgram": not await is_raw(False)}
        results["dgram6"] = not await is_raw(True)
        for name, address in [
            ("lo4", "127.0.0.1"),
            ("lo6", "::1"),
            ("self", "198.51.100.1"),
            ("silent4", "198.51.100.2"),
            ("silent6", "2001:db8::2"),
            ("noroute", "203.0.113.1"),
        ]:
            results[name] = await timed_probe(check(), target(ip_address(address)))
        return results

    results = in_netns(ns, scenario)
    assert results["dgram"] is True  # the datagram socket keepalived uses
    assert results["dgram6"] is True
    for name in ("lo4", "lo6", "self"):
        outcome, elapsed = results[name]  # type: ignore[misc]
        assert outcome == Outcome(ok=True), name
        assert elapsed < TIMEOUT_S
    for name, address in (("silent4", "198.51.100.2"), ("silent6", "2001:db8::2")):
        outcome, elapsed = results[name]  # type: ignore[misc]
        assert outcome == Outcome(
            ok=False, reason=f"ICMP connection to address [{address}]:tcp:0 timeout."
        )
        assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + 0.2
    outcome, elapsed = results["noroute"]  # type: ignore[misc]
    assert outcome == Outcome(
        ok=False, reason="ICMP connection to [203.0.113.1]:tcp:0 of [10.0.0.1]:tcp:80 failed."
    )
    assert elapsed < TIMEOUT_S / 2


def test_ping_echo_request_and_messages() -> None:
    request = ping.echo_request(False, 0x0102)
    assert request[:4] == b"\x08\x00\x00\x00"
    assert request[6:8] == (0x0102).to_bytes(2, "little")  # keepalived: no htons
    assert len(request) == 8 + 128
    assert request[8:27] == b"keepalived check - "
    assert ping.echo_request(True, 1)[0] == 128
    t = target(IPv4Address("192.0.2.9"))
    assert ping.success_message(t) == "ICMP connection to [192.0.2.9]:tcp:0 success."
    assert ping.failure_message(t) == "ICMP CHECK on service [192.0.2.9]:tcp:0 failed."
    assert ping.failure_message(t, 3) == (
        "ICMP CHECK on service [192.0.2.9]:tcp:0 of [10.0.0.1]:tcp:80 failed after 3 retries."
    )


def test_set_ping_group_range_writes_and_restores(tmp_path: Path) -> None:
    path = tmp_path / "ping_group_range"
    path.write_text("100\t200\n")
    assert ping.set_ping_group_range(True, str(path))
    assert path.read_text().startswith("0\t200\t\n")  # a regular file is not truncated
    assert ping.set_ping_group_range(True, str(path))  # already done: no change
    assert ping.set_ping_group_range(False, str(path))
    assert path.read_text() == "100\t200\t\n"
    path.write_text("garbage")
    assert not ping.set_ping_group_range(True, str(path))


def test_kind_gives_the_schedule_keepalived_s_lines() -> None:
    timing = Timing(retry=1, log_all_failures=True)
    sched = Layer4Schedule(timing, "[192.0.2.9]:tcp:0", "[10.0.0.1]:tcp:80", kind=ping.KIND)
    sched.start(0, 0.0)
    reason = "ICMP connection to address [192.0.2.9]:tcp:0 timeout."
    logs = [e.message for e in sched.attempt_done(1, False, reason) if isinstance(e, Log)]
    # up, log_all_failures: the attempt line; the first failure is final
    assert logs == [reason, "ICMP CHECK on service [192.0.2.9]:tcp:0 failed."]
    assert not [e for e in sched.attempt_done(2, False, reason) if isinstance(e, Log)]
    assert [e.message for e in sched.attempt_done(3, True) if isinstance(e, Log)] == [
        "ICMP connection to [192.0.2.9]:tcp:0 success."
    ]
