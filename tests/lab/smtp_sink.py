"""A mail server for the lab: takes every mail and records each session as the client sent it.

Run inside a namespace (:meth:`SmtpSink.start`, ``python -m lab.smtp_sink``): it
listens on an address and port, greets, answers ``250`` to every command, ``354``
to ``DATA``, ``250`` to the final dot and ``221`` to ``QUIT``, and appends one JSON
line per session to its output file: what the client sent, byte for byte (as
latin-1 text), and the client's address. :meth:`SmtpSink.sessions` reads them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socketserver
import sys
import time
from pathlib import Path
from typing import Any

from lab.netns import Topology, wait_for

HERE = Path(__file__).resolve().parent.parent  # tests/, for ``-m lab.smtp_sink``
_SINKS = itertools.count()


class _Handler(socketserver.StreamRequestHandler):
    out: Path

    def handle(self) -> None:
        got = b""
        self.wfile.write(b"220 sink.example.com ESMTP lab\r\n")
        in_data = False
        while True:
            line = self.rfile.readline(4096)
            if not line:
                break
            got += line
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    self.wfile.write(b"250 2.0.0 queued\r\n")
                continue
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"DATA":
                in_data = True
                self.wfile.write(b"354 end with <CRLF>.<CRLF>\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 2.0.0 bye\r\n")
                break
            else:
                self.wfile.write(b"250 ok\r\n")
        record = {"client": self.client_address[0], "sent": got.decode("latin-1"), "t": time.time()}
        with open(self.out, "a") as f:
            f.write(json.dumps(record) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    _Handler.out = args.out
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer((args.listen, args.port), _Handler) as server:
        args.out.touch()
        server.serve_forever()
    return 0


class SmtpSink:
    """A sink started in ``node`` of ``topo`` on ``address``:``port``."""

    def __init__(self, topo: Topology, node: str, address: str, port: int = 25) -> None:
        self.topo, self.node, self.address, self.port = topo, node, address, port
        self.out = topo.workdir / f"smtp-{node}-{port}-{next(_SINKS)}.jsonl"
        self.proc = topo.spawn(
            node,
            sys.executable,
            "-m",
            "lab.smtp_sink",
            "--listen",
            address,
            "--port",
            str(port),
            "--out",
            str(self.out),
            cwd=HERE,
        )
        wait_for(self.out.exists, timeout=10, message="the SMTP sink to listen")

    def sessions(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line]

    def stop(self) -> None:
        self.topo.stop(self.proc)


if __name__ == "__main__":
    sys.exit(main())
