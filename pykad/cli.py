"""Command-line entry points: ``pykad`` (keepalived's flags) and ``pykadctl``.

Only what exists is offered; each later capability adds its flags here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pykad import __version__

KEEPALIVED_COMPAT = "2.2.7"


def version_text() -> str:
    from pykad.vrrp import wire

    return (
        f"pykad {__version__} (keepalived {KEEPALIVED_COMPAT} compatible)\n"
        f"VRRP codec: {wire.IMPLEMENTATION}\n"
        "License GPL-2.0-or-later"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``pykad``: the daemon. Today: ``--version``."""
    parser = argparse.ArgumentParser(prog="pykad", description="keepalived-compatible HA daemon")
    parser.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    args = parser.parse_args(argv)
    if args.version:
        print(version_text())
        return 0
    print("pykad: the daemon is not built yet (see README.md, 'Features')", file=sys.stderr)
    return 1


def ctl_main(argv: Sequence[str] | None = None) -> int:
    """``pykadctl``: talk to a running pykad; inspect VRRP captures."""
    parser = argparse.ArgumentParser(prog="pykadctl", description="pykad's control tool")
    parser.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    dec = sub.add_parser("decode", help="decode and check the VRRP adverts in a pcap capture")
    dec.add_argument("pcap", help="a capture file (tcpdump -w)")
    dec.add_argument("--json", action="store_true", help="one JSON object per packet")
    args = parser.parse_args(argv)
    if args.version:
        print(version_text())
        return 0
    if args.command == "decode":
        from pykad.tools.decode import decode_capture

        return decode_capture(args.pcap, as_json=args.json)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
