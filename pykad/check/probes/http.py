"""HTTP_GET and SSL_GET: one GET per URL, judged as keepalived/check/check_http.c does.

Owns the request (byte-identical to keepalived's ``request_template``), the
response parsing of keepalived's lib/html.c (status code, Content-Length, the
first ``\\r\\n\\r\\n``), the MD5 digest, the regex and the SSL client context
(check_ssl.c).

What keepalived hashes: the bytes after the first ``\\r\\n\\r\\n`` as they come
off the wire, up to Content-Length when the header has a valid one, else to
EOF.  A chunked body is hashed raw, chunk-size lines included (keepalived does
not decode chunks); the connection is always read to EOF.

Failure reasons are keepalived's ``timeout_epilog`` messages ("Timeout
connecting", "HTTP status code error to", "MD5 digest error to", ...), which
the schedule logs as ``"<reason> server [x]:tcp:y."``.

Differences from keepalived, deliberate or forced:

* One attempt is bounded by one ``connect_timeout`` in all (keepalived gives
  each connect/write/read step its own ``connect_timeout``).
* The regex runs on Python's ``re`` (bytes), not PCRE2, on the whole response
  (header and body, offsets from the response's first byte: keepalived's
  first buffer holds the header too) once it is complete, instead of
  PCRE2's partial matching buffer by buffer; at most :data:`REGEX_SUBJECT_MAX`
  bytes are kept for it.  Options mapped: caseless, dotall, extended,
  multiline, firstline (match must start in the first line); ignored as
  without effect on the result: dupnames, no_auto_capture, no_auto_possess,
  no_dotstar_anchor, no_start_optimize, auto_callout, never_backslash_c,
  never_ucp, never_utf; unsupported (logged once, then ignored): ungreedy,
  utf, ucp, dollar_endonly, alt_bsux, match_unset_backref, allow_empty_class,
  alt_circumflex, alt_verbnames, use_offset_limit.  PCRE-only syntax (\\h,
  \\R, \\K, recursion, branch reset) does not compile: the URL then fails
  with "Invalid regex" (keepalived's behaviour with a bad regex is undefined).
* SSL: as keepalived, the server's certificate is not verified (OpenSSL's
  default SSL_VERIFY_NONE; the SSL block's ``ca`` is loaded but unused);
  ``certificate``/``key``/``password`` give the client certificate.  SNI is
  not sent for an IP-literal name (Python's ssl refuses it).
"""

from __future__ import annotations

import hashlib
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address

import trio

from pykad.check.base import Outcome, Target
from pykad.check.probes.connect import (
    NETWORK_UNREACHABLE,
    ConnectFailed,
    destination,
    open_stream,
    timeout_seconds,
)
from pykad.config.sections._lvs_model import HttpCheck, HttpProtocol, SslConfig, Url

__all__ = [
    "MAX_BUFFER_LENGTH",
    "ContentLengthNotes",
    "HttpFailure",
    "Response",
    "build_request",
    "content_length_notes",
    "extract_content_length",
    "extract_html",
    "extract_status_code",
    "fetch",
    "make_ssl_context",
    "probe",
    "probe_url",
    "regex_matches",
    "request_host",
    "sni_name",
    "status_accepted",
]

logger = logging.getLogger("pykad.check")

MAX_BUFFER_LENGTH = 4096
"""keepalived's receive buffer: the header must end within its first 4095 bytes."""
REGEX_SUBJECT_MAX = 16 * 1024 * 1024
HTTP_STATUS_CODE_MIN = 100
HTTP_STATUS_CODE_MAX = 599


class HttpFailure(Exception):
    """A failed fetch; ``reason`` is keepalived's timeout_epilog message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- request -------------------------------------------------------------


def request_host(
    check: HttpCheck, url: Url, rs_virtualhost: str | None = None, vs_virtualhost: str | None = None
) -> str | None:
    """The Host header's virtualhost: the URL's, the checker's, the real or virtual server's."""
    for vhost in (url.virtualhost, check.virtualhost, rs_virtualhost, vs_virtualhost):
        if vhost:
            return vhost
    return None


def sni_name(check: HttpCheck, url: Url, vs_virtualhost: str | None = None) -> str | None:
    """The SNI name with enable_sni (check_ssl.c: URL, checker, virtual server, not real server)."""
    if not check.enable_sni:
        return None
    if check.sni_name:
        return check.sni_name
    for vhost in (url.virtualhost, check.virtualhost, vs_virtualhost):
        if vhost:
            return vhost
    return None


def build_request(
    path: str, protocol: HttpProtocol, address: object, port: int, vhost: str | None
) -> bytes:
    """keepalived's GET request, byte for byte (``request_template``/``_ipv6``)."""
    if vhost:
        host = vhost
    elif isinstance(address, IPv6Address):
        host = f"[{address}]:{port}"
    else:
        host = f"{address}:{port}"
    minor = 1 if protocol is HttpProtocol.HTTP_1_1 else 0
    close = "Connection: close\r\n" if protocol is not HttpProtocol.HTTP_1_0 else ""
    text = (
        f"GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {host}\r\n\r\n"
    )
    # snprintf into GET_BUFFER_LENGTH (2048) truncates.
    return text.encode("latin-1", "replace")[:2047]


# --- response parsing (lib/html.c) ----------------------------------------


def extract_html(buffer: bytes) -> int | None:
    """The offset of the body: just after the first ``\\r\\n\\r\\n``, or None."""
    i = buffer.find(b"\r\n\r\n")
    return None if i < 0 else i + 4


def extract_status_code(buffer: bytes) -> int:
    """The status code after the first space, exactly three digits then a space; else 0."""
    i, end = 0, len(buffer)
    while i < end and buffer[i] not in b" \r":
        i += 1
    if i >= end or buffer[i] != 0x20:
        return 0
    i += 1
    if i + 3 >= end or buffer[i] == 0x20 or buffer[i + 3] != 0x20:
        return 0
    value, stop = _strtoul(buffer, i)
    return value if stop == i + 3 else 0


def _strtoul(buffer: bytes, i: int) -> tuple[int, int]:
    """C ``strtoul(.., 10)``: (value, end offset); end == i when there are no digits."""
    start, n = i, len(buffer)
    while i < n and buffer[i] in b" \t\n\v\f\r":
        i += 1
    negative = False
    if i < n and buffer[i] in b"+-":
        negative = buffer[i] == 0x2D
        i += 1
    digits = i
    while i < n and 0x30 <= buffer[i] <= 0x39:
        i += 1
    if i == digits:
        return 0, start
    value = min(int(buffer[digits:i]), 2**64 - 1)
    return ((-value) % 2**64 if negative else value), i


def extract_content_length(buffer: bytes) -> int | None:
    """``Content-Length:`` (case-sensitive, first occurrence before any NUL); None if absent/bad."""
    text = buffer.split(b"\0", 1)[0]
    i = text.find(b"Content-Length:")
    if i < 0:
        return None
    value, end = _strtoul(text, i + len(b"Content-Length:"))
    if end < len(text) and text[end] not in b"\r\n":
        return None
    return value


def status_accepted(url: Url, code: int) -> bool:
    """Whether ``code`` is one of the URL's status codes (100-599 only)."""
    if not HTTP_STATUS_CODE_MIN <= code <= HTTP_STATUS_CODE_MAX:
        return False
    return any(low <= code <= high for low, high in url.status_codes)


# --- regex -----------------------------------------------------------------

_FLAGS = {
    "caseless": re.IGNORECASE,
    "dotall": re.DOTALL,
    "extended": re.VERBOSE,
    "multiline": re.MULTILINE,
}
_NO_EFFECT = frozenset(
    {
        "dupnames",
        "no_auto_capture",
        "no_auto_possess",
        "no_dotstar_anchor",
        "no_start_optimize",
        "auto_callout",
        "never_backslash_c",
        "never_ucp",
        "never_utf",
        "firstline",
    }
)
_warned: set[str] = set()


def _compile(url: Url) -> re.Pattern[bytes] | None:
    assert url.regex is not None
    flags = 0
    for option in url.regex_options:
        if option in _FLAGS:
            flags |= _FLAGS[option]
        elif option not in _NO_EFFECT and option not in _warned:
            _warned.add(option)
            logger.info("regex option %s is not supported by Python's re - ignored", option)
    try:
        return re.compile(url.regex.encode("utf-8", "surrogateescape"), flags)
    except re.error as exc:
        logger.info("Invalid regex: '%s' at offset %s: %s", url.regex, exc.pos, exc.msg)
        return None


def regex_matches(url: Url, subject: bytes) -> bool | None:
    """Whether the URL's regex matches ``subject`` within its offsets; None: invalid regex."""
    pattern = _compile(url)
    if pattern is None:
        return None
    m = pattern.search(subject, url.regex_min_offset)
    if m is None:
        return False
    if url.regex_max_offset and m.start() >= url.regex_max_offset:
        return False
    if "firstline" in url.regex_options:
        newline = subject.find(b"\n")
        if newline >= 0 and m.start() > newline:
            return False
    return True


# --- SSL -------------------------------------------------------------------


def make_ssl_context(config: SslConfig | None = None) -> ssl.SSLContext:
    """keepalived's SSL_GET client context: no verification, the SSL block's certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if config is not None:
        if config.certificate:
            ctx.load_cert_chain(config.certificate, config.key, config.password)
        if config.ca:
            ctx.load_verify_locations(config.ca)
    return ctx


_default_ssl: ssl.SSLContext | None = None


def _default_ssl_context() -> ssl.SSLContext:
    global _default_ssl
    if _default_ssl is None:
        _default_ssl = make_ssl_context()
    return _default_ssl


# --- fetch -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    """What keepalived extracts from one GET."""

    status_code: int
    header: bytes
    """Up to and including the blank line."""
    content_length: int | None
    rx_bytes: int
    """Body bytes received (to EOF)."""
    digest: bytes
    """MD5 of the body as keepalived hashes it."""
    subject: bytes
    """Header and body for the regex (empty unless asked for)."""


def _is_ip(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(slots=True)
class _Progress:
    timeout_reason: str = "Timeout connecting"
    """What keepalived would say if connect_timeout ran out now."""


async def fetch(
    check: HttpCheck,
    url: Url,
    target: Target,
    *,
    ssl_context: ssl.SSLContext | None = None,
    rs_virtualhost: str | None = None,
    vs_virtualhost: str | None = None,
    keep_subject: bool = False,
    on_data: Callable[[bytes], None] | None = None,
) -> Response:
    """GET ``url`` within connect_timeout; raises :class:`HttpFailure` with keepalived's reason.

    ``on_data`` sees every chunk read (genhash's verbose dump).  Local socket
    errors raise :class:`pykad.check.probes.connect.CheckerSetupError`.
    """
    progress = _Progress()
    with trio.move_on_after(timeout_seconds(check.connection)):
        return await _fetch(
            check,
            url,
            target,
            ssl_context,
            request_host(check, url, rs_virtualhost, vs_virtualhost),
            sni_name(check, url, vs_virtualhost),
            keep_subject,
            on_data,
            progress,
        )
    raise HttpFailure(progress.timeout_reason)


async def _fetch(
    check: HttpCheck,
    url: Url,
    target: Target,
    ssl_context: ssl.SSLContext | None,
    vhost: str | None,
    sni: str | None,
    keep_subject: bool,
    on_data: Callable[[bytes], None] | None,
    progress: _Progress,
) -> Response:
    try:
        sock_stream = await open_stream(check.connection, target)
    except ConnectFailed as exc:
        if exc.timeout:
            raise HttpFailure("Timeout connecting") from exc
        if exc.errno in NETWORK_UNREACHABLE:
            raise HttpFailure("HTTP_CHECK - network unreachable") from exc
        raise HttpFailure("Connection failed") from exc
    stream: trio.abc.Stream = sock_stream
    try:
        if check.ssl:
            ctx = ssl_context or _default_ssl_context()
            server_hostname = sni if sni and not _is_ip(sni) else None
            tls = trio.SSLStream(
                sock_stream, ctx, server_hostname=server_hostname, https_compatible=True
            )
            stream = tls
            try:
                await tls.do_handshake()
            except trio.BrokenResourceError as exc:
                raise HttpFailure("SSL handshake/communication error connecting to") from exc
        address, port = destination(check.connection, target)
        request = build_request(url.path, check.http_protocol, address, port, vhost)
        progress.timeout_reason = "Timeout WEB write"
        try:
            await stream.send_all(request)
        except (trio.BrokenResourceError, OSError) as exc:
            raise HttpFailure("Cannot send get request to") from exc
        progress.timeout_reason = "Timeout WEB read"
        return await _read_response(check, url, stream, keep_subject, on_data, progress)
    finally:
        with trio.CancelScope(shield=True):
            if isinstance(stream, trio.SSLStream):
                # keepalived: SSL_set_quiet_shutdown, no close_notify exchange.
                await stream.transport_stream.aclose()
            else:
                await stream.aclose()


async def _read_response(
    check: HttpCheck,
    url: Url,
    stream: trio.abc.Stream,
    keep_subject: bool,
    on_data: Callable[[bytes], None] | None,
    progress: _Progress,
) -> Response:
    read_error = "SSL read error from" if check.ssl else "Read error with"
    buffer = b""
    header = b""
    body_at: int | None = None
    content_length: int | None = None
    status = 0
    rx = 0
    md5 = hashlib.md5()
    subject = bytearray()
    while True:
        if body_at is None and len(buffer) >= MAX_BUFFER_LENGTH - 1:
            # keepalived's buffer is full without a header end: its next read()
            # of 0 bytes looks like EOF, with nothing extracted.
            raise HttpFailure("Read, no data received from ")
        try:
            data = bytes(await stream.receive_some(MAX_BUFFER_LENGTH))
        except (trio.BrokenResourceError, OSError) as exc:
            raise HttpFailure(read_error) from exc
        if not data:
            break
        if on_data is not None:
            on_data(data)
        progress.timeout_reason = "Timeout SSL read" if check.ssl else "Timeout HTTP read"
        if body_at is None:
            buffer += data
            window = buffer[: MAX_BUFFER_LENGTH - 1]
            found = extract_html(window)
            if found is None:
                continue
            body_at = found
            header = window[:found]
            status = extract_status_code(window)
            content_length = extract_content_length(window)
            data = buffer[found:]
            if keep_subject:
                subject += header
        if data:
            if content_length is None:
                md5.update(data)
            elif content_length > rx:
                md5.update(data[: content_length - rx])
            rx += len(data)
            if keep_subject and len(subject) < REGEX_SUBJECT_MAX:
                subject += data[: REGEX_SUBJECT_MAX - len(subject)]
    if body_at is None:
        raise HttpFailure("Read, no data received from ")
    return Response(
        status_code=status,
        header=header,
        content_length=content_length,
        rx_bytes=rx,
        digest=md5.digest(),
        subject=bytes(subject),
    )


class ContentLengthNotes:
    """keepalived's once-per-change log of a Content-Length that differs from the body
    bytes received (http_handle_response), per real server and URL."""

    def __init__(self) -> None:
        self._diffs: dict[tuple[str, str], int] = {}

    def note(self, target: Target, url: Url, content_length: int | None, rx_bytes: int) -> None:
        """One successful fetch: log the mismatch unless this one was logged last."""
        key = (f"[{target.address}]:{target.port}", url.path)
        if content_length is None or content_length == rx_bytes:
            self._diffs.pop(key, None)
            return
        diff = content_length - rx_bytes
        if self._diffs.get(key) != diff:
            logger.info(
                "http_check for RS %s VS %s url %s%s: content_length (%d) does not match"
                " received bytes (%d)",
                key[0],
                target.virtual_server,
                url.virtualhost or "",
                url.path,
                content_length,
                rx_bytes,
            )
            self._diffs[key] = diff

    def settled(self, target: Target, url: Url) -> bool:
        """No mismatch remembered: a matching fetch would change nothing."""
        return (f"[{target.address}]:{target.port}", url.path) not in self._diffs


content_length_notes = ContentLengthNotes()


async def probe_url(
    check: HttpCheck,
    url: Url,
    target: Target,
    *,
    ssl_context: ssl.SSLContext | None = None,
    rs_virtualhost: str | None = None,
    vs_virtualhost: str | None = None,
) -> Outcome:
    """One URL, judged as ``http_handle_response`` does."""
    try:
        response = await fetch(
            check,
            url,
            target,
            ssl_context=ssl_context,
            rs_virtualhost=rs_virtualhost,
            vs_virtualhost=vs_virtualhost,
            keep_subject=url.regex is not None,
        )
    except HttpFailure as exc:
        return Outcome(ok=False, reason=exc.reason)
    if not status_accepted(url, response.status_code):
        return Outcome(ok=False, reason="HTTP status code error to")
    content_length_notes.note(target, url, response.content_length, response.rx_bytes)
    if url.digest is not None and url.digest != response.digest:
        return Outcome(ok=False, reason="MD5 digest error to")
    if url.regex is not None:
        matched = regex_matches(url, response.subject)
        if matched is None:
            return Outcome(ok=False, reason="Invalid regex")
        if matched == url.regex_no_match:
            return Outcome(ok=False, reason="Regex match failed")
    return Outcome(ok=True)


async def probe(
    check: HttpCheck,
    target: Target,
    *,
    ssl_context: ssl.SSLContext | None = None,
    rs_virtualhost: str | None = None,
    vs_virtualhost: str | None = None,
) -> Outcome:
    """Every URL in turn; the first failure is the outcome (no URLs: success).

    The runner calls this with one URL per attempt, as keepalived checks them.
    """
    for url in check.urls:
        outcome = await probe_url(
            check,
            url,
            target,
            ssl_context=ssl_context,
            rs_virtualhost=rs_virtualhost,
            vs_virtualhost=vs_virtualhost,
        )
        if not outcome.ok:
            return outcome
    return Outcome(ok=True)
