"""TCP_CHECK, HTTP_GET/SSL_GET and genhash on real loopback sockets.

Every server is started by the test on 127.0.0.1 or ::1.  Timeouts are short
(0.2 s) so a hung server shows it costs one connect_timeout.  The genhash
cases run keepalived's own ``genhash`` (when installed) and ``pykad-genhash``
against the same page and compare their output.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio

from pykad.check.base import Target
from pykad.check.probes import http, tcp
from pykad.check.probes.connect import CheckerSetupError, open_stream
from pykad.check.probes.genhash import dump_buffer, parse_args
from pykad.config.addresses import inet_stosockaddr
from pykad.config.sections._lvs_model import (
    Connection,
    HttpCheck,
    HttpProtocol,
    SslConfig,
    TcpCheck,
    Url,
)

TIMEOUT_US = 200_000
FAST = Connection(connect_timeout_us=TIMEOUT_US)


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


HOSTS = ["127.0.0.1"] + (["::1"] if _has_ipv6() else [])


def target(host: str, port: int) -> Target:
    addr = inet_stosockaddr(host)
    assert addr is not None
    return Target(addr, port)


Responder = Callable[[bytes], bytes | None]
"""The whole response for a request; None: hang."""


@dataclass
class Server:
    port: int
    requests: list[bytes] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)


def page(body: bytes, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (
        f"HTTP/1.0 {status}\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


@asynccontextmanager
async def serve(
    respond: Responder, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
) -> AsyncIterator[Server]:
    listeners = await trio.open_tcp_listeners(0, host=host)
    server = Server(port=listeners[0].socket.getsockname()[1])
    if tls is not None:
        tls.sni_callback = lambda _obj, name, _ctx: server.sni.append(name)
        listeners = [trio.SSLListener(ln, tls, https_compatible=True) for ln in listeners]  # type: ignore[misc]

    async def handle(stream: trio.abc.Stream) -> None:
        request = b""
        try:
            while b"\r\n\r\n" not in request:
                data = await stream.receive_some(4096)
                if not data:
                    return
                request += data
            server.requests.append(request)
            response = respond(request)
            if response is None:
                await trio.sleep_forever()
            await stream.send_all(response)
        except trio.BrokenResourceError:
            pass
        finally:
            await stream.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, handle, listeners)
        yield server
        nursery.cancel_scope.cancel()


def run(fn: Callable[[], object]) -> None:
    trio.run(fn)  # type: ignore[arg-type]


# --- TCP_CHECK ------------------------------------------------------------------


@pytest.mark.parametrize("host", HOSTS)
def test_tcp_success_and_refused(host: str) -> None:
    async def main() -> None:
        async with serve(lambda r: b"", host) as srv:
            ok = await tcp.probe(TcpCheck(connection=FAST), target(host, srv.port))
            assert ok.ok
        refused = await tcp.probe(TcpCheck(connection=FAST), target(host, srv.port))
        assert (refused.ok, refused.reason) == (False, "failed")

    run(main)


def test_tcp_connect_port_and_ip_override_the_target() -> None:
    async def main() -> None:
        async with serve(lambda r: b"") as srv:
            conn = Connection(
                connect_ip=inet_stosockaddr("127.0.0.1"),
                connect_port=srv.port,
                connect_timeout_us=TIMEOUT_US,
                bindto=inet_stosockaddr("127.0.0.1"),
            )
            out = await tcp.probe(TcpCheck(connection=conn), target("192.0.2.1", 1))
            assert out.ok

    run(main)


@contextmanager
def hung_port() -> Iterator[int]:
    """A loopback port whose listener's accept queue is full: it drops further SYNs,
    so a connect to it hangs."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):
            s = socket.socket()
            fillers.append(s)
            s.setblocking(False)
            with suppress(BlockingIOError):
                s.connect(("127.0.0.1", port))
        yield int(port)
    finally:
        for s in fillers:
            s.close()
        lsock.close()


def test_tcp_hung_server_costs_one_connect_timeout() -> None:
    async def main() -> None:
        with hung_port() as port:
            t0 = trio.current_time()
            out = await tcp.probe(TcpCheck(connection=FAST), target("127.0.0.1", port))
            elapsed = trio.current_time() - t0
        assert (out.ok, out.reason) == (False, "timeout")
        assert 0.19 <= elapsed < 0.5

    run(main)


def test_bind_failure_is_a_setup_error() -> None:
    async def main() -> None:
        conn = Connection(bindto=inet_stosockaddr("192.0.2.77"), connect_timeout_us=TIMEOUT_US)
        with pytest.raises(CheckerSetupError, match="Checker bind failed"):
            await open_stream(conn, target("127.0.0.1", 9))

    run(main)


def test_bind_if_unknown_device_is_a_setup_error() -> None:
    async def main() -> None:
        conn = Connection(bind_if="nosuchdev0", connect_timeout_us=TIMEOUT_US)
        with pytest.raises(CheckerSetupError, match="Checker can't bind to device nosuchdev0"):
            await open_stream(conn, target("127.0.0.1", 9))

    run(main)


def test_fwmark_bind_if_and_bind_port_are_applied() -> None:
    if socket.if_nametoindex("lo") <= 0:
        pytest.skip("no lo")

    async def main() -> None:
        async with serve(lambda r: b"") as srv:
            free = socket.socket()
            free.bind(("127.0.0.1", 0))
            bind_port = free.getsockname()[1]
            free.close()
            conn = Connection(
                fwmark=0x42,
                bind_if="lo",
                bindto=inet_stosockaddr("127.0.0.1"),
                bind_port=bind_port,
                connect_timeout_us=TIMEOUT_US,
            )
            try:
                stream = await open_stream(conn, target("127.0.0.1", srv.port))
            except CheckerSetupError as exc:  # SO_MARK needs CAP_NET_ADMIN
                pytest.skip(str(exc))
            sock = stream.socket
            assert sock.getsockopt(socket.SOL_SOCKET, 36) == 0x42  # SO_MARK
            assert (
                sock.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b"\0")
                == b"lo"
            )
            assert sock.getsockname() == ("127.0.0.1", bind_port)
            await stream.aclose()

    run(main)


# --- HTTP_GET -------------------------------------------------------------------

BODY = b"<html><body>Hello pykad, status OK</body></html>\n"
MD5 = hashlib.md5(BODY).digest()


def http_check(*urls: Url, **kw: object) -> HttpCheck:
    return HttpCheck(connection=FAST, urls=urls, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("protocol", "host", "vhost", "expected"),
    [
        (
            HttpProtocol.HTTP_1_0,
            "127.0.0.1",
            None,
            "GET /p HTTP/1.0\r\n{ua}Host: {h}:{port}\r\n\r\n",
        ),
        (
            HttpProtocol.HTTP_1_1,
            "127.0.0.1",
            None,
            "GET /p HTTP/1.1\r\n{ua}Connection: close\r\nHost: {h}:{port}\r\n\r\n",
        ),
        (
            HttpProtocol.HTTP_1_0C,
            "::1",
            None,
            "GET /p HTTP/1.0\r\n{ua}Connection: close\r\nHost: [{h}]:{port}\r\n\r\n",
        ),
        (
            HttpProtocol.HTTP_1_0,
            "::1",
            "www.example",
            "GET /p HTTP/1.0\r\n{ua}Host: www.example\r\n\r\n",
        ),
    ],
)
def test_request_bytes_are_keepalived_s(
    protocol: HttpProtocol, host: str, vhost: str | None, expected: str
) -> None:
    if host not in HOSTS:
        pytest.skip("no IPv6 loopback")

    async def main() -> None:
        async with serve(lambda r: page(BODY), host) as srv:
            check = http_check(Url(path="/p"), http_protocol=protocol, virtualhost=vhost)
            out = await http.probe(check, target(host, srv.port))
            assert out.ok, out.reason
            want = expected.format(ua="User-Agent: KeepAliveClient\r\n", h=host, port=srv.port)
            assert srv.requests == [want.encode()]

    run(main)


def test_virtualhost_precedence_url_then_checker_then_servers() -> None:
    async def main() -> None:
        async with serve(lambda r: page(BODY)) as srv:
            t = target("127.0.0.1", srv.port)
            check = http_check(Url(path="/a", virtualhost="url.example"), Url(path="/b"))
            await http.probe(check, t, rs_virtualhost="rs.example")
            await http.probe(http_check(Url(path="/c")), t, vs_virtualhost="vs.example")
            hosts = [r.split(b"Host: ")[1].split(b"\r\n")[0] for r in srv.requests]
            assert hosts == [b"url.example", b"rs.example", b"vs.example"]

    run(main)


def test_status_codes_digest_and_content_length() -> None:
    responses = {
        b"/ok": page(BODY),
        b"/moved": page(b"", "301 Moved Permanently"),
        b"/nophrase": b"HTTP/1.0 200\r\nContent-Length: 0\r\n\r\n",
        # Body longer than Content-Length: keepalived hashes Content-Length bytes.
        b"/long": page(BODY)[: -len(BODY)] + BODY + b"TRAILING GARBAGE",
    }

    def respond(req: bytes) -> bytes:
        return responses[req.split(b" ")[1]]

    async def main() -> None:
        async with serve(respond) as srv:
            t = target("127.0.0.1", srv.port)

            async def outcome(url: Url) -> tuple[bool, str]:
                out = await http.probe(http_check(url), t)
                return out.ok, out.reason

            assert await outcome(Url(path="/ok", digest=MD5)) == (True, "")
            assert await outcome(Url(path="/ok", digest=b"\1" * 16)) == (
                False,
                "MD5 digest error to",
            )
            assert await outcome(Url(path="/moved")) == (False, "HTTP status code error to")
            assert await outcome(Url(path="/moved", status_codes=((300, 399),))) == (True, "")
            # "HTTP/1.0 200\r\n": keepalived wants a space after the three digits.
            assert await outcome(Url(path="/nophrase")) == (False, "HTTP status code error to")
            assert await outcome(Url(path="/long", digest=MD5)) == (True, "")

    run(main)


def test_chunked_body_is_hashed_raw() -> None:
    chunked = b"1a\r\n<html>chunked body</html>\r\n0\r\n\r\n"
    response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked

    async def main() -> None:
        async with serve(lambda r: response) as srv:
            t = target("127.0.0.1", srv.port)
            check = http_check(Url(path="/"), http_protocol=HttpProtocol.HTTP_1_1)
            got = await http.fetch(check, check.urls[0], t)
            assert got.digest == hashlib.md5(chunked).digest()
            url = Url(path="/", digest=hashlib.md5(chunked).digest())
            assert (await http.probe(http_check(url), t)).ok

    run(main)


def test_regex_match_no_match_options_and_offsets() -> None:
    async def main() -> None:
        async with serve(lambda r: page(BODY)) as srv:
            t = target("127.0.0.1", srv.port)
            header_len = len(page(BODY)) - len(BODY)
            at = header_len + BODY.index(b"status OK")

            async def ok(**kw: object) -> bool:
                return (await http.probe(http_check(Url(path="/", **kw)), t)).ok  # type: ignore[arg-type]

            assert await ok(regex="status OK")
            assert not await ok(regex="status FAIL")
            assert await ok(regex="status FAIL", regex_no_match=True)
            assert not await ok(regex="status OK", regex_no_match=True)
            assert not await ok(regex="STATUS ok")
            assert await ok(regex="STATUS ok", regex_options=("caseless",))
            assert await ok(regex="status OK", regex_min_offset=at)
            assert not await ok(regex="status OK", regex_min_offset=at + 1)
            assert await ok(regex="status OK", regex_max_offset=at + 1)
            assert not await ok(regex="status OK", regex_max_offset=at)
            # The header is part of the subject, as in keepalived's first buffer.
            assert await ok(regex="^Content-Type: text/html", regex_options=("multiline",))
            assert not await ok(regex="(?P<x")  # invalid: fails closed

    run(main)


@pytest.mark.parametrize(
    ("respond", "reason"),
    [
        (lambda r: None, "Timeout WEB read"),
        (lambda r: b"HTTP/1.0 200 OK\r\nno end of header", "Read, no data received from "),
        (lambda r: b"", "Read, no data received from "),
        (lambda r: b"HTTP/1.0 200 OK\r\n" + b"X: " + b"y" * 5000, "Read, no data received from "),
    ],
)
def test_http_failures_and_hung_server_costs_one_connect_timeout(
    respond: Responder, reason: str
) -> None:
    async def main() -> None:
        async with serve(respond) as srv:
            t0 = trio.current_time()
            out = await http.probe(http_check(Url(path="/")), target("127.0.0.1", srv.port))
            assert (out.ok, out.reason) == (False, reason)
            assert trio.current_time() - t0 < 0.5

    run(main)


def test_http_connection_refused() -> None:
    async def main() -> None:
        async with serve(lambda r: b"") as srv:
            port = srv.port
        out = await http.probe(http_check(Url(path="/")), target("127.0.0.1", port))
        assert (out.ok, out.reason) == (False, "Connection failed")

    run(main)


def test_checkers_do_not_block_each_other() -> None:
    async def main() -> None:
        async with serve(lambda r: None) as hung, serve(lambda r: page(BODY)) as good:
            done: dict[str, float] = {}
            t0 = trio.current_time()

            async def one(name: str, port: int) -> None:
                await http.probe(http_check(Url(path="/")), target("127.0.0.1", port))
                done[name] = trio.current_time() - t0

            async with trio.open_nursery() as n:
                n.start_soon(one, "hung", hung.port)
                n.start_soon(one, "good", good.port)
            assert done["good"] < 0.1 <= 0.19 <= done["hung"] < 0.5

    run(main)


# --- SSL_GET ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl")
    d = tmp_path_factory.mktemp("tls")
    crt, key = d / "c.pem", d / "k.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=pykad-test"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return crt, key


def server_ctx(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


def test_ssl_get_digest_and_sni(cert: tuple[Path, Path]) -> None:
    async def main() -> None:
        async with serve(lambda r: page(BODY), tls=server_ctx(cert)) as srv:
            t = target("127.0.0.1", srv.port)
            plain = http_check(Url(path="/", digest=MD5), ssl=True)
            assert (await http.probe(plain, t)).ok
            sni = http_check(
                Url(path="/", digest=MD5), ssl=True, enable_sni=True, virtualhost="www.example"
            )
            client = http.make_ssl_context(SslConfig(certificate=str(cert[0]), key=str(cert[1])))
            assert (await http.probe(sni, t, ssl_context=client)).ok
            assert srv.sni == [None, "www.example"]
            bad = http_check(Url(path="/", digest=b"\0" * 16), ssl=True)
            assert (await http.probe(bad, t)).reason == "MD5 digest error to"

    run(main)


def test_ssl_get_against_plain_server_is_a_handshake_error() -> None:
    async def main() -> None:
        async with serve(lambda r: page(BODY)) as srv:
            out = await http.probe(
                http_check(Url(path="/"), ssl=True), target("127.0.0.1", srv.port)
            )
            assert out.reason in (
                "SSL handshake/communication error connecting to",
                "Timeout connecting",
            )

    run(main)


# --- genhash ---------------------------------------------------------------------


def test_dump_buffer_is_keepalived_s() -> None:
    assert dump_buffer(b"HTTP/1.0 200 OK\r\n\r\n") == (
        "0000  48 54 54 50 2f 31 2e 30 - 20 32 30 30 20 4f 4b 0d   HTTP/1.0 200 OK.\n"
        "0016  0a 0d 0a" + " " * 15 + " -" + " " * 24 + "   ..." + " " * 13 + "\n"
    )


def test_genhash_options() -> None:
    check, tgt, verbose = parse_args(
        [
            "-s",
            "::1",
            "-p",
            "8080",
            "-u",
            "/x",
            "-S",
            "-I",
            "-V",
            "h",
            "-P",
            "1.0c",
            "-t",
            "3",
            "-v",
        ]
    )
    assert (tgt.port, str(tgt.address), verbose) == (8080, "::1", True)
    assert check.ssl and check.enable_sni and check.virtualhost == "h"
    assert check.http_protocol is HttpProtocol.HTTP_1_0C
    assert check.connection.connect_timeout_us == 3_000_000


GENHASH = shutil.which("genhash")


def _genhash(cmd: list[str], args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd + args, capture_output=True, text=True, timeout=10)


PAGES: dict[bytes, bytes] = {
    b"/plain": page(BODY),
    b"/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"/nolen": b"HTTP/1.0 404 Not Found\r\n\r\n" + BODY * 300,
    b"/short": page(BODY)[: -len(BODY)] + BODY + b"extra bytes past content-length",
    b"/nohdr": b"",
}


@pytest.mark.skipif(GENHASH is None, reason="keepalived's genhash is not installed")
@pytest.mark.parametrize("use_ssl", [False, True])
def test_pykad_genhash_prints_what_keepalived_genhash_prints(
    use_ssl: bool, cert: tuple[Path, Path]
) -> None:
    assert GENHASH is not None
    ours = [sys.executable, "-m", "pykad.check.probes.genhash"]

    async def main() -> None:
        tls = server_ctx(cert) if use_ssl else None
        async with serve(lambda r: PAGES[r.split(b" ")[1]], tls=tls) as srv:
            for path in PAGES:
                args = ["-s", "127.0.0.1", "-p", str(srv.port), "-u", path.decode(), "-t", "2"]
                if use_ssl:
                    args.append("-S")
                for extra in ([], ["-P", "1.1", "-V", "vh.example"]):
                    theirs_r = await trio.to_thread.run_sync(_genhash, [GENHASH], args + extra)
                    ours_r = await trio.to_thread.run_sync(_genhash, ours, args + extra)
                    assert ours_r.stdout == theirs_r.stdout, path
                    assert ours_r.returncode == theirs_r.returncode
                    assert (ours_r.stderr == "") == (theirs_r.stderr == "")
            assert hashlib.md5(BODY).hexdigest() in ours_r.stdout or path != b"/plain"
        # The server is gone: both print keepalived's failure text.
        args = ["-s", "127.0.0.1", "-p", str(srv.port), "-u", "/", "-t", "1"]
        theirs_r = await trio.to_thread.run_sync(_genhash, [GENHASH], args)
        ours_r = await trio.to_thread.run_sync(_genhash, ours, args)
        assert ours_r.stdout == theirs_r.stdout == "Connection failed\n"

    run(main)


@pytest.mark.skipif(GENHASH is None, reason="keepalived's genhash is not installed")
def test_genhash_usage_errors_exit_1() -> None:
    assert GENHASH is not None
    for args in (["-s", "127.0.0.1"], ["-s", "127.0.0.1", "-p", "0", "-u", "/"], ["-h", "-v"]):
        theirs = _genhash([GENHASH], args)
        ours = _genhash([sys.executable, "-m", "pykad.check.probes.genhash"], args)
        assert theirs.returncode == ours.returncode == 1
        assert "Usage:" in ours.stderr and ours.stdout == ""
