"""``pykad-genhash``: keepalived's genhash (keepalived/check/check_genhash.c) on pykad's HTTP code.

Prints the MD5 digest of a page exactly as an HTTP_GET/SSL_GET ``digest``
expects it (``pykad.check.probes.http`` computes it), with genhash's options, output
and exit codes:

* the digest as 32 lowercase hex digits on stdout; the status code is not
  checked;
* "no data received from remote webserver" on stderr when no header came;
* keepalived's failure message (e.g. "Connection failed") on stdout when the
  fetch fails; the exit code is 0 all the same, as keepalived's;
* usage on stderr and exit code 1 for bad or missing options;
* ``-v``: the header and body hex dumps of keepalived's ``dump_buffer``, the
  hash, and the response time (the body dump follows pykad's reads, which may
  split differently from keepalived's).

Without ``-t`` the timeout is keepalived's UINT_MAX microseconds.
"""

from __future__ import annotations

import getopt
import sys
import time
from collections.abc import Sequence
from typing import TextIO

import trio

from pykad.check.base import Target
from pykad.check.probes.connect import CheckerSetupError
from pykad.check.probes.http import HttpFailure, extract_html, fetch, make_ssl_context
from pykad.config.addresses import inet_stosockaddr
from pykad.config.sections._lvs_model import Connection, HttpCheck, HttpProtocol, Url

__all__ = ["dump_buffer", "main", "parse_args", "usage"]

DELIM_BEGIN = "-----------------------["
DELIM_END = "]-----------------------\n"
HTTP_HEADER_HEXA = DELIM_BEGIN + "    HTTP Header Buffer    " + DELIM_END
HTTP_HEADER_ASCII = DELIM_BEGIN + " HTTP Header Ascii Buffer " + DELIM_END
HTML_HEADER_HEXA = DELIM_BEGIN + "        HTML Buffer        " + DELIM_END
HTML_HASH = DELIM_BEGIN + "    HTML hash resulting    " + DELIM_END
HTML_HASH_FINAL = DELIM_BEGIN + " HTML hash final resulting " + DELIM_END

UINT_MAX_US = 2**32 - 1


class UsageError(Exception):
    """Bad command line: the message (if any) goes to stderr before the usage."""


def usage(prog: str, out: TextIO) -> None:
    """genhash's usage text."""
    out.write(
        f"Usage: {prog} COMMAND [OPTIONS]\n"
        "Commands:\n"
        "   -s server-address -p port -u url\n"
        "   -S -s server-address -p port -u url\n"
        "   -h\n\n"
    )
    out.write(
        "Options:\n"
        "Either long or short options are allowed.\n"
        "   --use-ssl         -S       Use SSL connection to remote server.\n"
        "   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting;"
        " see -V).\n"
        "   --server          -s       Use the specified remote server address.\n"
        "   --port            -p       Use the specified remote server port.\n"
        "   --url             -u       Use the specified remote server url.\n"
        "   --use-virtualhost -V       Use the specified virtualhost in GET query.\n"
        "   --verbose         -v       Use verbose mode output.\n"
        "   --help            -h       Display this short inlined help screen.\n"
        "   --fwmark          -m       Use the specified FW mark.\n"
        "   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.\n"
        "                                1.0c means 1.0 with 'Connection: close'\n"
        "   --timeout         -t       Timeout in seconds\n"
    )


_LONG = [
    "help",
    "verbose",
    "use-ssl",
    "use-sni",
    "server=",
    "use-virtualhost=",
    "port=",
    "url=",
    "fwmark=",
    "protocol=",
    "timeout=",
]
_SHORT = "hvSIs:V:p:u:m:P:t:"
_LONG_TO_SHORT = {
    "--help": "-h",
    "--verbose": "-v",
    "--use-ssl": "-S",
    "--use-sni": "-I",
    "--server": "-s",
    "--use-virtualhost": "-V",
    "--port": "-p",
    "--url": "-u",
    "--fwmark": "-m",
    "--protocol": "-P",
    "--timeout": "-t",
}


def _c_unsigned(text: str, what: str) -> int:
    """genhash's ``strtoul`` of -m/-t: leading blanks skipped, digits only, no sign."""
    start = text.lstrip(" \t")
    if not start or start[0] in "- " or not start.isdigit():
        raise UsageError(f"invalid {what} '{text}'")
    return int(start) % 2**32


def parse_args(argv: Sequence[str]) -> tuple[HttpCheck, Target, bool]:
    """The checker, target and verbosity genhash's command line describes."""
    if len(argv) <= 1:
        raise UsageError("")
    try:
        opts, rest = getopt.gnu_getopt(list(argv), _SHORT, _LONG)
    except getopt.GetoptError as exc:
        opt = exc.opt
        if "requires argument" in exc.msg:
            raise UsageError(
                f"Missing parameter for option {'--' if len(opt) > 1 else '-'}{opt}"
            ) from exc
        raise UsageError(f"Unknown option {'--' if len(opt) > 1 else '-'}{opt}") from exc
    if rest:
        raise UsageError("Unexpected argument(s): " + " ".join(rest))
    verbose = use_ssl = sni = False
    server = None
    port: int | None = None
    path: str | None = None
    vhost: str | None = None
    fwmark = 0
    protocol = HttpProtocol.HTTP_1_0
    timeout_us = UINT_MAX_US
    for opt, value in opts:
        opt = _LONG_TO_SHORT.get(opt, opt)
        if opt == "-h":
            raise UsageError("")
        if opt == "-v":
            verbose = True
        elif opt == "-S":
            use_ssl = True
        elif opt == "-I":
            sni = True
        elif opt == "-s":
            server = inet_stosockaddr(value)
            if server is None:
                raise UsageError(f"server should be an IP, not {value}")
        elif opt == "-V":
            vhost = value
        elif opt == "-p":
            try:
                port = int(value, 10)
            except ValueError:
                port = 0
            if not 0 < port <= 65535:
                raise UsageError(f"invalid port number '{value}'")
        elif opt == "-u":
            path = value
        elif opt == "-m":
            fwmark = _c_unsigned(value, "fwmark")
        elif opt == "-P":
            if value == "1.0":
                protocol = HttpProtocol.HTTP_1_0
            elif value in ("1.0c", "1.0C"):
                protocol = HttpProtocol.HTTP_1_0C
            elif value == "1.1":
                protocol = HttpProtocol.HTTP_1_1
            else:
                raise UsageError(f"invalid HTTP protocol version '{value}'")
        elif opt == "-t":
            timeout_us = (_c_unsigned(value, "timeout") * 1_000_000) % 2**32
    if server is None or port is None or path is None:
        raise UsageError("")
    check = HttpCheck(
        ssl=use_ssl,
        connection=Connection(connect_timeout_us=timeout_us, fwmark=fwmark),
        virtualhost=vhost,
        http_protocol=protocol,
        enable_sni=sni,
        urls=(Url(path=path),),
    )
    return check, Target(address=server, port=port), verbose


def dump_buffer(data: bytes, indent: int = 0) -> str:
    """keepalived's lib/utils.c ``dump_buffer``: offset, 16 hex bytes, ASCII."""
    out: list[str] = []
    count = len(data)
    total = count + (16 - count % 16) % 16
    for i in range(total):
        if i % 16 == 0:
            out.append(f"{'':{indent}}{i & 0xFFFF:04d} ")
        out.append(f" {data[i]:02x}" if i < count else "   ")
        if (i + 1) % 8 == 0:
            if (i + 1) % 16:
                out.append(" -")
            else:
                out.append("   ")
                for j in range(i - 15, i + 1):
                    if j < count:
                        out.append(chr(data[j]) if 0x20 <= data[j] <= 0x7E else ".")
                    else:
                        out.append(" ")
                out.append("\n")
    return "".join(out)


class _Verbose:
    """keepalived's GENHASH_VERBOSE dumps, fed with each chunk read."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.buffer = b""
        self.extracted = False

    def __call__(self, data: bytes) -> None:
        out = self.out
        if self.extracted:
            out.write(dump_buffer(data))
            return
        out.write(HTTP_HEADER_HEXA)
        self.buffer += data
        found = extract_html(self.buffer[:4095])
        if found is None:
            return
        self.extracted = True
        header = self.buffer[:found]
        out.write(dump_buffer(header))
        out.write(HTTP_HEADER_ASCII)
        out.write(header.decode("latin-1") + "\n")
        body = self.buffer[found:]
        if body:
            out.write(HTML_HEADER_HEXA)
            out.write(dump_buffer(body))


async def _run(check: HttpCheck, target: Target, verbose: bool, out: TextIO, err: TextIO) -> int:
    dumper = _Verbose(out) if verbose else None
    url = check.urls[0]
    try:
        response = await fetch(
            check,
            url,
            target,
            ssl_context=make_ssl_context() if check.ssl else None,
            on_data=dumper,
        )
    except HttpFailure as exc:
        if exc.reason.startswith("Read, no data received"):
            err.write("no data received from remote webserver\n")
        else:
            out.write(exc.reason + "\n")
        return 0
    except CheckerSetupError as exc:
        err.write(f"{exc}\n")
        return 1
    if verbose:
        out.write("\n" + HTML_HASH + dump_buffer(response.digest) + HTML_HASH_FINAL)
    out.write(response.digest.hex() + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """genhash's command line: 0 once a fetch ran, 1 on a usage error."""
    args = list(sys.argv if argv is None else argv)
    prog = args[0] if args else "pykad-genhash"
    try:
        check, target, verbose = parse_args(args[1:])
    except UsageError as exc:
        if str(exc):
            sys.stderr.write(f"{exc}\n")
        usage(prog, sys.stderr)
        return 1
    start = time.monotonic()
    rc = trio.run(_run, check, target, verbose, sys.stdout, sys.stderr)
    if verbose:
        elapsed = int((time.monotonic() - start) * 1_000_000)
        sys.stdout.write(f"\nGlobal response time for [{check.urls[0].path}] = {elapsed} usecs\n")
    sys.stdout.flush()
    return rc


def console_main() -> None:
    """The ``pykad-genhash`` entry point."""
    sys.exit(main())


if __name__ == "__main__":
    console_main()
