"""SMTP_CHECK, DNS_CHECK and UDP_CHECK probes against fake servers on loopback.

Real sockets on 127.0.0.1 and ::1 only: a fake SMTP server speaking the dialogue
check_smtp.c expects (and getting it wrong in the ways that must fail), a fake
DNS server on UDP (good answers, wrong ids, RCODE errors, the 8-byte quirk), UDP
echo / silent servers and closed ports (ICMP port unreachable).  Timeouts are
short (0.3 s); a hang must cost one connect timeout, not more.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import TypeVar

import pytest
import trio

from pykad.check.base import Outcome, Target
from pykad.check.probes import dns, smtp, udp
from pykad.config.addresses import IPAddress
from pykad.config.sections._lvs_model import (
    Connection,
    DnsCheck,
    DnsType,
    SmtpCheck,
    UdpCheck,
)

T = TypeVar("T")
TIMEOUT_US = 300_000
TIMEOUT_S = TIMEOUT_US / 1e6
LO4 = IPv4Address("127.0.0.1")
LO6 = IPv6Address("::1")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return trio.run(fn)


def conn(**kw: object) -> Connection:
    return Connection(connect_timeout_us=TIMEOUT_US, **kw)  # type: ignore[arg-type]


def target(address: IPAddress, port: int, proto: str = "tcp") -> Target:
    return Target(address=address, port=port, virtual_server=f"[10.0.0.1]:{proto}:{port}")


def free_port(kind: int = socket.SOCK_STREAM, family: int = socket.AF_INET) -> int:
    """A port nobody listens on (bound and released)."""
    with socket.socket(family, kind) as s:
        s.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ------------------------------------------------------------------------- SMTP

Handler = Callable[[trio.SocketStream, list[bytes]], Awaitable[None]]


async def read_line(stream: trio.SocketStream) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = await stream.receive_some(1024)
        if not chunk:
            break
        data += chunk
    return data


async def smtp_probe(
    handler: Handler, check: SmtpCheck | None = None, address: IPAddress = LO4
) -> tuple[Outcome, list[bytes], float]:
    """Run ``handler`` as the server for one probe: (outcome, lines it read, duration)."""
    seen: list[bytes] = []
    listeners = await trio.open_tcp_listeners(0, host=str(address))
    port = listeners[0].socket.getsockname()[1]

    async def serve(stream: trio.SocketStream) -> None:
        async with stream:
            await handler(stream, seen)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, serve, listeners)
        start = trio.current_time()
        outcome = await smtp.probe(check or SmtpCheck(connection=conn()), target(address, port))
        elapsed = trio.current_time() - start
        nursery.cancel_scope.cancel()
    return outcome, seen, elapsed


def dialogue(
    banner: bytes = b"220 fake.example ESMTP\r\n",
    helo_reply: bytes = b"250 fake.example\r\n",
    quit_reply: bytes | None = b"221 bye\r\n",
) -> Handler:
    async def handler(stream: trio.SocketStream, seen: list[bytes]) -> None:
        await stream.send_all(banner)
        seen.append(await read_line(stream))
        await stream.send_all(helo_reply)
        seen.append(await read_line(stream))
        if quit_reply is not None:
            await stream.send_all(quit_reply)

    return handler


def test_smtp_full_dialogue_succeeds_with_keepalived_lines() -> None:
    outcome, seen, _ = run(lambda: smtp_probe(dialogue()))
    assert outcome == Outcome(ok=True)
    assert seen == [b"HELO smtpchecker.keepalived.org\r\n", b"QUIT\r\n"]


def test_smtp_helo_name_and_ipv6() -> None:
    check = SmtpCheck(connection=conn(), helo_name="checker.example")
    outcome, seen, _ = run(lambda: smtp_probe(dialogue(), check, LO6))
    assert outcome.ok
    assert seen[0] == b"HELO checker.example\r\n"


def test_smtp_quit_reply_content_is_not_checked() -> None:
    outcome, _, _ = run(lambda: smtp_probe(dialogue(quit_reply=b"500 whatever\n")))
    assert outcome.ok


@pytest.mark.parametrize(
    "banner",
    [b"554 go away\r\n", b"220-multi line\r\n", b"220\r\n", b"0220 x\r\n", b"hello\r\n"],
)
def test_smtp_bad_banner(banner: bytes) -> None:
    outcome, seen, _ = run(lambda: smtp_probe(dialogue(banner=banner)))
    assert not outcome.ok
    assert outcome.reason.startswith("SMTP_CHECK Bad greeting banner from server [127.0.0.1]:")
    assert seen == [b""]  # nothing was sent: the checker closed after the banner


def test_smtp_bad_helo_response() -> None:
    outcome, seen, _ = run(lambda: smtp_probe(dialogue(helo_reply=b"501 no\r\n")))
    assert outcome.reason.startswith("SMTP_CHECK Bad HELO response from server [127.0.0.1]:")
    assert seen[0].startswith(b"HELO ")


def test_smtp_closed_before_quit_reply_is_a_read_failure() -> None:
    outcome, _, _ = run(lambda: smtp_probe(dialogue(quit_reply=None)))
    assert outcome.reason.startswith("SMTP_CHECK Read failure from server [127.0.0.1]:")


def test_smtp_banner_in_pieces_and_a_too_long_line() -> None:
    async def slow(stream: trio.SocketStream, seen: list[bytes]) -> None:
        for piece in (b"2", b"20 slow", b" banner\r\n"):
            await stream.send_all(piece)
            await trio.sleep(0.01)
        seen.append(await read_line(stream))
        await stream.send_all(b"250 ok\r\n")
        seen.append(await read_line(stream))
        await stream.send_all(b"221 bye\r\n")

    outcome, _, _ = run(lambda: smtp_probe(slow))
    assert outcome.ok

    async def overlong(stream: trio.SocketStream, seen: list[bytes]) -> None:
        # 511 bytes without a newline fill keepalived's buffer: it is emptied.
        await stream.send_all(b"220 " + b"x" * 507)
        await trio.sleep(0.05)
        await stream.send_all(b"554 after the wrap\r\n")
        seen.append(await read_line(stream))

    outcome, _, _ = run(lambda: smtp_probe(overlong))
    assert "Bad greeting banner" in outcome.reason


def test_smtp_silent_server_costs_one_connect_timeout() -> None:
    async def silent(stream: trio.SocketStream, seen: list[bytes]) -> None:
        await trio.sleep_forever()

    outcome, _, elapsed = run(lambda: smtp_probe(silent))
    assert outcome.reason.startswith("SMTP_CHECK Read timeout from server [127.0.0.1]:")
    assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + 0.2


def test_smtp_refused_and_connect_ip() -> None:
    port = free_port()
    outcome = run(lambda: smtp.probe(SmtpCheck(connection=conn()), target(LO4, port)))
    assert outcome.reason == f"SMTP_CHECK Could not connect to server [127.0.0.1]:{port}"

    # connect_ip/connect_port win over the real server's address and port.
    check = SmtpCheck(connection=conn(connect_ip=LO4))
    outcome, _, _ = run(lambda: smtp_probe(dialogue(), check, LO4))
    assert outcome.ok
    check = SmtpCheck(connection=conn(connect_port=port))
    outcome, _, _ = run(lambda: smtp_probe(dialogue(), check, LO4))
    assert outcome.reason == f"SMTP_CHECK Could not connect to server [127.0.0.1]:{port}"


def test_smtp_reply_status_is_strtoul_of_three_characters() -> None:
    assert smtp.reply_status(b"220 ok") == 220
    assert smtp.reply_status(b"220") == 220
    assert smtp.reply_status(b"250 ") == 250
    assert smtp.reply_status(b"220\r") == -1
    assert smtp.reply_status(b"220-x") == -1
    assert smtp.reply_status(b"2200 x") == -1
    assert smtp.reply_status(b" 22 x") == 22
    assert smtp.reply_status(b"") == -1
    assert smtp.reply_status(b"abc") == -1


def test_smtp_legacy_host_blocks_make_one_checker_each() -> None:
    a, b = conn(connect_port=1), conn(connect_port=2)
    assert smtp.connections(SmtpCheck(hosts=(a, b), use_connection=False)) == (a, b)
    main = conn()
    assert smtp.connections(SmtpCheck(connection=main, hosts=(a,))) == (main, a)
    assert smtp.connections(SmtpCheck(connection=main)) == (main,)
    assert (
        smtp.success_message(target(LO4, 25))
        == "Remote SMTP server [127.0.0.1]:tcp:25 succeed on service."
    )


# -------------------------------------------------------------------------- DNS

DnsHandler = Callable[[bytes], list[bytes]]


async def dns_probe(
    handler: DnsHandler, check: DnsCheck | None = None, address: IPAddress = LO4
) -> tuple[Outcome, list[bytes], float]:
    """A UDP server answering each query with ``handler(query)``'s datagrams."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    server = trio.socket.socket(family, socket.SOCK_DGRAM)
    await server.bind((str(address), 0))
    port = server.getsockname()[1]
    seen: list[bytes] = []

    async def serve() -> None:
        while True:
            query, peer = await server.recvfrom(2048)
            seen.append(query)
            for reply in handler(query):
                await server.sendto(reply, peer)

    with server:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            start = trio.current_time()
            outcome = await dns.probe(
                check or DnsCheck(connection=conn()), target(address, port, "udp")
            )
            elapsed = trio.current_time() - start
            nursery.cancel_scope.cancel()
    return outcome, seen, elapsed


def answer(query: bytes, *, rcode: int = 0, qr: bool = True, id_delta: int = 0) -> bytes:
    qid = (struct.unpack_from("!H", query)[0] + id_delta) & 0xFFFF
    flags = (0x8000 if qr else 0) | 0x0100 | 0x0080 | rcode
    return struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0) + query[12:]


def test_dns_query_is_keepalived_s_and_a_bare_answer_succeeds() -> None:
    check = DnsCheck(connection=conn(), type=DnsType.A, name="www.example.com")
    outcome, seen, _ = run(lambda: dns_probe(lambda q: [answer(q)], check))
    assert outcome == Outcome(ok=True)
    (query,) = seen
    _qid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", query)
    assert (flags, qd, an, ns, ar) == (0x0100, 1, 0, 0, 0)
    assert query[12:] == b"\x03www\x07example\x03com\x00" + b"\x00\x01\x00\x01"


def test_dns_default_query_is_soa_of_the_root_and_ipv6_works() -> None:
    outcome, seen, _ = run(lambda: dns_probe(lambda q: [answer(q)], None, LO6))
    assert outcome.ok
    assert seen[0][12:] == b"\x00\x00\x06\x00\x01"


def test_dns_names_encode_as_keepalived_splits_them() -> None:
    assert dns.encode_name("") == b"\x00"
    assert dns.encode_name(".") == b"\x00"
    assert dns.encode_name("example.com.") == dns.encode_name("example.com")
    assert dns.encode_name("a.b") == b"\x01a\x01b\x00"
    query = dns.make_query(DnsCheck(type=DnsType.DNSKEY, name="x"), 0x1234)
    assert query == bytes.fromhex("123401000001000000000000") + b"\x01x\x00\x00\x30\x00\x01"


def test_dns_wrong_id_and_queries_are_ignored_until_the_right_answer() -> None:
    def handler(q: bytes) -> list[bytes]:
        return [answer(q, id_delta=1), answer(q, qr=False), answer(q)]

    outcome, _, _ = run(lambda: dns_probe(handler))
    assert outcome.ok


def test_dns_only_wrong_ids_time_out() -> None:
    outcome, _, elapsed = run(lambda: dns_probe(lambda q: [answer(q, id_delta=7)]))
    assert not outcome.ok
    assert outcome.reason.endswith(") read timeout from socket")
    assert outcome.reason.startswith("DNS_CHECK ([127.0.0.1]:udp:")
    assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + 0.2


@pytest.mark.parametrize("rcode", [2, 3, 5])
def test_dns_rcode_error_fails(rcode: int) -> None:
    outcome, _, _ = run(lambda: dns_probe(lambda q: [answer(q, rcode=rcode)]))
    assert outcome.reason.endswith(f") read error occurred. (rcode = {rcode})")


def test_dns_short_replies_follow_keepalived_s_pointer_size_check() -> None:
    # 7 bytes: ignored (then the timeout); 8 bytes with our id and QR: a success.
    outcome, _, _ = run(lambda: dns_probe(lambda q: [answer(q)[:7]]))
    assert outcome.reason.endswith("read timeout from socket")
    outcome, _, _ = run(lambda: dns_probe(lambda q: [answer(q)[:7], answer(q)[:8]]))
    assert outcome.ok


def test_dns_no_server_is_a_read_error() -> None:
    port = free_port(socket.SOCK_DGRAM)
    check = DnsCheck(connection=conn())
    outcome = run(lambda: dns.probe(check, target(LO4, port, "udp")))
    assert outcome.reason == (
        f"DNS_CHECK ([127.0.0.1]:udp:{port}) failed to read socket; errno 111 (Connection refused)"
    )


def test_dns_judge_reply() -> None:
    good = struct.pack("!HHHHHH", 5, 0x8180, 1, 0, 0, 0)
    assert dns.judge_reply(5, good) == ""
    assert dns.judge_reply(6, good) == "ignore"
    assert dns.judge_reply(5, good[:7]) == "ignore"
    assert dns.judge_reply(5, struct.pack("!HH", 5, 0x0100) + bytes(8)) == "ignore"
    assert dns.judge_reply(5, struct.pack("!HH", 5, 0x8182) + bytes(8)).endswith("(rcode = 2)")


# -------------------------------------------------------------------------- UDP


async def udp_probe(
    check: UdpCheck,
    replies: Callable[[bytes], list[bytes]] | None,
    address: IPAddress = LO4,
) -> tuple[Outcome, list[bytes], float]:
    """A UDP server that answers with ``replies(datagram)`` (None: bound but silent)."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    server = trio.socket.socket(family, socket.SOCK_DGRAM)
    await server.bind((str(address), 0))
    port = server.getsockname()[1]
    seen: list[bytes] = []

    async def serve() -> None:
        while True:
            data, peer = await server.recvfrom(2048)
            seen.append(data)
            for reply in replies(data) if replies is not None else []:
                await server.sendto(reply, peer)

    with server:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            start = trio.current_time()
            outcome = await udp.probe(check, target(address, port, "udp"))
            elapsed = trio.current_time() - start
            nursery.cancel_scope.cancel()
    return outcome, seen, elapsed


def test_udp_echo_with_default_payload() -> None:
    outcome, seen, elapsed = run(lambda: udp_probe(UdpCheck(connection=conn()), lambda d: [d]))
    assert outcome == Outcome(ok=True)
    assert seen == [b"keepalived check - keepalived ch"]
    assert elapsed < TIMEOUT_S


def test_udp_silent_server_passes_unless_a_reply_is_required() -> None:
    outcome, seen, elapsed = run(
        lambda: udp_probe(UdpCheck(connection=conn(), payload=b"hi"), None)
    )
    assert outcome.ok
    assert seen == [b"hi"]
    assert elapsed >= TIMEOUT_S * 0.9
    check = UdpCheck(connection=conn(), require_reply=True)
    outcome, _, elapsed = run(lambda: udp_probe(check, None))
    assert not outcome.ok
    assert outcome.reason.startswith("UDP connection to [127.0.0.1]:udp:")
    assert outcome.reason.endswith(" failed.")
    assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + 0.2


@pytest.mark.parametrize("address", [LO4, LO6])
def test_udp_port_unreachable_fails_at_once(address: IPAddress) -> None:
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    port = free_port(socket.SOCK_DGRAM, family)

    async def probe() -> tuple[Outcome, float]:
        start = trio.current_time()
        outcome = await udp.probe(UdpCheck(connection=conn()), target(address, port, "udp"))
        return outcome, trio.current_time() - start

    outcome, elapsed = run(probe)
    assert outcome == Outcome(ok=False, reason=f"UDP connection to [{address}]:udp:{port} failed.")
    assert elapsed < TIMEOUT_S / 2


def test_udp_required_reply_data_mask_and_lengths() -> None:
    check = UdpCheck(
        connection=conn(),
        require_reply=True,
        reply=bytes.fromhex("ab00cd"),
        reply_mask=bytes.fromhex("00ff0f"),
        min_reply_length=2,
        max_reply_length=5,
    )
    ok, _, _ = run(lambda: udp_probe(check, lambda d: [bytes.fromhex("ab77c3")]))
    assert ok.ok
    bad, _, _ = run(lambda: udp_probe(check, lambda d: [bytes.fromhex("ab77d3")]))
    assert bad.reason.startswith("UDP check to [127.0.0.1]:udp:")
    assert bad.reason.endswith(" reply data mismatch.")
    # Only the shorter of reply and data is compared; the lengths bound the reply.
    assert run(lambda: udp_probe(check, lambda d: [b"\xab\x01"]))[0].ok
    assert not run(lambda: udp_probe(check, lambda d: [b"\xab"]))[0].ok
    assert not run(lambda: udp_probe(check, lambda d: [bytes.fromhex("ab00cd0000ff")]))[0].ok


def test_udp_require_reply_without_data_takes_any_reply() -> None:
    check = UdpCheck(connection=conn(), require_reply=True, min_reply_length=10)
    outcome, _, _ = run(lambda: udp_probe(check, lambda d: [b""]))
    assert outcome.ok  # keepalived checks lengths only against reply data


def test_udp_reply_mismatch_and_messages() -> None:
    check = UdpCheck(require_reply=True, reply=b"\x10\x20", max_reply_length=3)
    assert not udp.reply_mismatch(check, b"\x10\x20\x30")
    assert udp.reply_mismatch(check, b"\x10\x21")
    assert udp.reply_mismatch(check, b"\x10\x20\x30\x40")
    t = target(ip_address("192.0.2.7"), 53, "udp")
    assert udp.success_message(t) == "UDP connection to [192.0.2.7]:udp:53 success."
    assert udp.failure_message(t) == "UDP_CHECK on service [192.0.2.7]:udp:53 failed."
    assert (
        udp.failure_message(t, 2)
        == "UDP_CHECK on service [192.0.2.7]:udp:53 failed after 2 retries."
    )
