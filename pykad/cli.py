"""Command-line entry points: ``pykad`` (keepalived's flags) and ``pykadctl``.

Only what exists is offered; each later capability adds its flags here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import pykad

KEEPALIVED_COMPAT = "2.2.7"
DEFAULT_CONFIG = "/etc/keepalived/keepalived.conf"


def version_text() -> str:
    from pykad.vrrp import wire

    return (
        f"pykad {pykad.__version__} (keepalived {KEEPALIVED_COMPAT} compatible)\n"
        f"VRRP codec: {wire.IMPLEMENTATION}\n"
        "License GPL-2.0-or-later"
    )


def default_config_id() -> str:
    """keepalived's default config id: the host name up to its first dot."""
    return os.uname().nodename.split(".")[0]


def _split_optional(argv: list[str], short: str, long: str) -> tuple[list[str], str | None]:
    """keepalived's flags with an optional argument (getopt ``t::``, ``M::``) take it
    only attached: ``-tFILE``, ``--config-test=FILE``.  ``argv`` with the argument
    taken off, and the argument (None if none came)."""
    rest, value = [], None
    for arg in argv:
        if arg.startswith(f"{long}="):
            rest.append(short)
            value = arg.split("=", 1)[1]
        elif arg.startswith(short) and len(arg) > 2:
            rest.append(short)
            value = arg[2:]
        else:
            rest.append(arg)
    return rest, value


def c_integer(text: str) -> int:
    """A number as C's ``strtoll(text, &end, 0)`` reads a whole string: 0x hex, 0 octal."""
    body = text.strip()
    digits = body.lstrip("+-")
    if digits[:2].lower() == "0x":
        return int(body, 16)
    if len(digits) > 1 and digits.startswith("0"):
        return int(body, 8)
    return int(body, 10)


def umask_flag(text: str) -> int | None:
    """``-u MASK``: keepalived's check; a bad mask is reported and ignored, as there."""
    try:
        mask = c_integer(text)
    except ValueError:
        mask = -1
    if not 0 <= mask <= 0o777:
        print(f"Invalid --umask option {text}", file=sys.stderr)
        return None
    return mask


def genhash_mode(argv: list[str]) -> int | None:
    """``-T``/``--genhash``: the rest of the command line is genhash's, as keepalived's
    (an earlier flag is ignored with keepalived's warning).  None: not this mode."""
    from pykad.check.probes import genhash

    for at, arg in enumerate(argv):
        if arg in ("-T", "--genhash"):
            if at:
                print(
                    f"Warning -- `{arg.lstrip('-') if arg.startswith('--') else arg}` "
                    "not used as first option, previous options ignored",
                    file=sys.stderr,
                )
            return genhash.main(["genhash", *argv[at + 1 :]])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``pykad``: the daemon (VRRP today), its configuration test and ``--version``."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    genhash = genhash_mode(args_in)
    if genhash is not None:
        return genhash
    args_in, log_file = _split_optional(args_in, "-t", "--config-test")
    args_in, core_pattern = _split_optional(args_in, "-M", "--core-dump-pattern")
    parser = argparse.ArgumentParser(prog="pykad", description="keepalived-compatible HA daemon")
    parser.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "-f",
        "--use-file",
        metavar="FILE",
        default=DEFAULT_CONFIG,
        help=f"use the configuration FILE (default {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "-t",
        "--config-test",
        action="store_true",
        help="check the configuration and exit (-tFILE / --config-test=FILE: "
        "write the findings to FILE)",
    )
    parser.add_argument(
        "-i",
        "--config-id",
        metavar="ID",
        default=None,
        help="the id that @ID lines are kept for (default: short host name)",
    )
    parser.add_argument(
        "-e",
        "--all-config",
        action="store_true",
        help="every config file must exist and be readable (include checks)",
    )
    parser.add_argument(
        "-d",
        "--dump-conf",
        action="store_true",
        help="with -t: print the configuration as pykad read it (the typed model), as JSON",
    )
    _daemon_flags(parser)
    args = parser.parse_args(args_in)
    if args.version:
        print(version_text())
        return 0
    if args.signum is not None:
        return print_signum(args.signum)
    if args.config_test:
        return config_test(args.use_file, args.config_id, args.all_config, args.dump_conf, log_file)
    if args.core_dump_pattern:
        core_pattern = core_pattern or "core"
    from pykad.daemon.process import Options, run

    return run(
        Options(
            config_file=args.use_file,
            config_id=default_config_id() if args.config_id is None else args.config_id,
            dont_fork=args.dont_fork,
            log_console=args.log_console,
            log_detail=args.log_detail,
            address_monitoring=args.address_monitoring,
            no_syslog=args.no_syslog,
            dont_release_vrrp=args.dont_release_vrrp,
            dont_release_ipvs=args.dont_release_ipvs,
            run_all=args.all,
            umask=args.umask,
            core_dump=args.core_dump or args.core_dump_pattern,
            core_pattern=core_pattern if args.core_dump_pattern else None,
            dont_respawn=args.dont_respawn,
            log_facility=args.log_facility,
            pid_file=args.pid,
            vrrp_pid_file=args.vrrp_pid,
            bfd_pid_file=args.bfd_pid,
            checkers_pid_file=args.checkers_pid,
            no_bfd=args.no_bfd,
            vrrp_only=args.vrrp,
            check_only=args.check,
            namespace=args.namespace,
            instance_name=args.instance,
            control_dir=args.control_dir,
            metrics_address=args.metrics_address,
            no_control=args.no_control,
        )
    )


def _daemon_flags(parser: argparse.ArgumentParser) -> None:
    """keepalived 2.2.7's flags for running the daemon (those pykad acts on, and the rest)."""
    flag = parser.add_argument
    flag("-n", "--dont-fork", action="store_true", help="stay in the foreground")
    flag("-l", "--log-console", action="store_true", help="log to the console (stderr)")
    flag("-D", "--log-detail", action="store_true", help="detailed log messages")
    flag("-G", "--no-syslog", action="store_true", help="do not log to syslog")
    flag(
        "-a",
        "--address-monitoring",
        action="store_true",
        help="log every address added to or removed from the host (the VRRP child)",
    )
    flag("-V", "--dont-release-vrrp", action="store_true", help="keep VIPs and routes on stop")
    flag(
        "-X",
        "--release-vips",
        action="store_true",
        help="a master that leaves removes its VIPs even if this run did not add them "
        "(pykad always does)",
    )
    flag("-I", "--dont-release-ipvs", action="store_true", help="keep IPVS services on stop")
    flag("--all", action="store_true", help="run every child, even with nothing to do")
    flag("-u", "--umask", metavar="MASK", type=umask_flag, help="umask for created files")
    flag("-m", "--core-dump", action="store_true", help="allow core dumps (no size limit)")
    flag(
        "-M",
        "--core-dump-pattern",
        action="store_true",
        help="-m, and -MPATTERN / --core-dump-pattern=PATTERN sets the kernel's "
        "core_pattern (default 'core') until the daemon stops",
    )
    flag("-p", "--pid", metavar="FILE", help="main pid file (default /run/keepalived.pid)")
    flag("-r", "--vrrp_pid", metavar="FILE", help="VRRP pid file (default /run/vrrp.pid)")
    flag("-c", "--checkers_pid", metavar="FILE", help="checkers pid file (/run/checkers.pid)")
    flag("-b", "--bfd_pid", metavar="FILE", help="BFD pid file (default /run/bfd.pid)")
    flag("-s", "--namespace", metavar="NAME", help="run in network namespace NAME")
    flag("--instance", metavar="NAME", help="instance name (pid file names, as keepalived)")
    flag("-P", "--vrrp", action="store_true", help="only run the VRRP subsystem")
    flag("-C", "--check", action="store_true", help="only run the IPVS and checker subsystem")
    flag("-B", "--no_bfd", action="store_true", help="do not run the BFD child")
    flag(
        "-R",
        "--dont-respawn",
        action="store_true",
        help="do not respawn children: a child that dies stops the daemon",
    )
    flag(
        "-S",
        "--log-facility",
        metavar="([0-7]|local[0-7]|user|daemon)",
        type=log_facility,
        default=LOG_DAEMON,
        help="syslog facility LOG_LOCAL[0-7], user or daemon (default)",
    )
    flag(
        "--control-dir",
        metavar="DIR",
        help="pykad: the control sockets' directory (default /run/pykad, or derived from -p)",
    )
    flag("--no-control", action="store_true", help="pykad: no control sockets, no metrics")
    flag(
        "--metrics-address",
        metavar="[HOST:]PORT",
        type=metrics_address,
        help="pykad: serve Prometheus metrics there (overrides pykad_metrics_address)",
    )
    flag(
        "--signum",
        metavar="SIGFUNC",
        help="print the signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON",
    )


LOG_USER = 1
LOG_DAEMON = 3
LOG_LOCAL0 = 16
"""syslog facility codes (unshifted, as ``logging.handlers.SysLogHandler`` takes them)."""


def log_facility(text: str) -> int:
    """keepalived's ``-S`` argument: 0-7 or local0-7 (LOG_LOCALn), user, daemon."""
    word = text.lower()
    if word in ("user", "daemon"):
        return LOG_USER if word == "user" else LOG_DAEMON
    digit = word.removeprefix("local")
    if len(digit) == 1 and digit in "01234567":
        return LOG_LOCAL0 + int(digit)
    raise argparse.ArgumentTypeError(f"invalid log facility {text!r}")


def metrics_address(text: str) -> str:
    """``--metrics-address``: checked here, split by the daemon."""
    from pykad.config.sections.global_defs import split_host_port

    if split_host_port(text) is None:
        raise argparse.ArgumentTypeError(f"invalid address {text!r} (want [HOST:]PORT)")
    return text


def print_signum(sigfunc: str) -> int:
    """``--signum=SIGFUNC``: the signal's number on stdout, as keepalived prints it."""
    from pykad.daemon.sigfunc import SIGFUNCS

    number = SIGFUNCS.get(sigfunc)
    if number is None:
        print(f"Unknown sigfunc {sigfunc}", file=sys.stderr)
        return 1
    print(int(number))
    return 0


def config_test(
    path: str, config_id: str | None, all_config: bool, dump: bool, log_file: str | None
) -> int:
    """``pykad -t``: read the configuration, report, exit as keepalived 2.2.7 does."""
    from pykad.config.load import load
    from pykad.config.model import to_jsonable
    from pykad.daemon.memory import collector_paused
    from pykad.drivers.files import LocalFiles
    from pykad.drivers.host import LocalHost, LocalScriptHost

    with collector_paused():
        loaded = load(
            LocalFiles(),
            path,
            cwd=os.getcwd(),
            config_id=default_config_id() if config_id is None else config_id,
            host=LocalHost(),
            script_host=LocalScriptHost(),
            all_config=all_config,
            environ=os.environ,
        )
    lines = [str(d) for d in loaded.diagnostics.items]
    if log_file:
        with open(log_file, "a") as f:
            f.writelines(line + "\n" for line in lines)
    else:
        for line in lines:
            print(line, file=sys.stderr)
    if dump and loaded.config is not None:
        json.dump(to_jsonable(loaded.config), sys.stdout, indent=2)
        print()
    return loaded.diagnostics.exit_code()


def ctl_main(argv: Sequence[str] | None = None) -> int:
    """``pykadctl``: talk to a running pykad (``pykad.ctl``); inspect VRRP captures."""
    parser = argparse.ArgumentParser(prog="pykadctl", description="pykad's control tool")
    parser.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "-p", "--pid", metavar="FILE", help="the daemon's main pid file (/run/keepalived.pid)"
    )
    parser.add_argument(
        "-s", "--namespace", metavar="NAME", help="the daemon runs in network namespace NAME"
    )
    parser.add_argument("--instance", metavar="NAME", help="the daemon's instance name")
    parser.add_argument("--control-dir", metavar="DIR", help="the daemon's control directory")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a reply")
    sub = parser.add_subparsers(dest="command")
    dec = sub.add_parser("decode", help="decode and check the VRRP adverts in a pcap capture")
    dec.add_argument("pcap", help="a capture file (tcpdump -w)")
    dec.add_argument("--json", action="store_true", help="one JSON object per packet")
    for name, text in (
        ("status", "instances, BFD sessions, virtual and real servers"),
        ("stats", "every counter"),
        ("reload", "reload the configuration (SIGHUP to the daemon)"),
    ):
        sub.add_parser(name, help=text).add_argument("--json", action="store_true")
    test = sub.add_parser("config-test", help="check the running daemon's configuration")
    test.add_argument("-f", "--use-file", metavar="FILE", help="check FILE instead")
    for name, text in (
        ("demote", "the instance gives up mastership until promote or reload"),
        ("promote", "undo demote"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("instance")
        p.add_argument("--json", action="store_true")
    for name, text in (
        ("drain", "weight 0 for a real server (until undrain or reload)"),
        ("undrain", "its weight back"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("address")
        p.add_argument("port", type=int)
        p.add_argument("--virtual-server", metavar="NAME", help="only in this virtual server")
        p.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.version:
        print(version_text())
        return 0
    if args.command == "decode":
        from pykad.tools.decode import decode_capture

        return decode_capture(args.pcap, as_json=args.json)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from pykad import ctl

    extra: dict[str, object] = {}
    if args.command in ("demote", "promote"):
        extra["instance"] = args.instance
    elif args.command in ("drain", "undrain"):
        extra.update(address=args.address, port=args.port)
        if args.virtual_server:
            extra["virtual_server"] = args.virtual_server
    elif args.command == "config-test":
        extra["file"] = args.use_file
    pid_file = args.pid
    if pid_file is None and (args.namespace or args.instance):
        from pykad.daemon.run_files import main_pid_seen_from_outside

        pid_file = main_pid_seen_from_outside(args.namespace, args.instance)
    return ctl.run(
        args.command,
        pid_file=pid_file,
        directory=args.control_dir,
        as_json=getattr(args, "json", False),
        args=extra,
        timeout=args.timeout,
    )


if __name__ == "__main__":
    sys.exit(main())
