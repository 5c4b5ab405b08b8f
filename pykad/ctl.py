"""``pykadctl``'s runtime commands: ask a running pykad, merge the children's replies, print.

Owns what ``pykadctl status|stats|reload|config-test|drain|undrain|demote|promote``
do (``cli.ctl_main`` parses the command line and calls :func:`run`):

- the daemon is found by its main pid file (``-p``, keepalived's default
  /run/keepalived.pid) or its control directory (``--control-dir``;
  ``daemon.control.control_dir`` derives it from the pid file as the daemon does);
- ``status`` / ``stats`` ask every child that has a socket there and merge the
  replies under ``vrrp``, ``check`` and ``bfd`` (``--json`` prints that object;
  otherwise :func:`render_status` / :func:`render_stats`, pure);
- ``demote`` / ``promote`` go to the VRRP child, ``drain`` / ``undrain`` to the
  checker child; each prints what the child did, or its error (exit 1);
- ``reload`` is SIGHUP to the parent (the pid in the main pid file), as
  ``kill -HUP`` would do;
- ``config-test`` checks the running daemon's configuration file (its ``-f``
  and ``-i``, read from the parent's command line) exactly as ``pykad -t`` does,
  with the same exit codes.

Exit codes: 0 done, 1 the daemon refused or a child did not answer, 2 usage,
3 no daemon (no control directory, no pid file).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pykad.daemon import control

EXIT_REFUSED = 1
EXIT_NO_DAEMON = 3

Merged = dict[str, dict[str, Any]]


def ask_all(directory: str, req: Mapping[str, Any], timeout: float = 5.0) -> Merged:
    """Every child with a socket in ``directory``: its reply (or ``ok: false``)."""
    out: Merged = {}
    for child in control.SOCKETS:
        path = control.socket_path(directory, child)
        if not os.path.exists(path):
            continue
        try:
            out[child] = control.request(path, req, timeout)
        except control.ControlError as e:
            out[child] = control.error(str(e))
    return out


# --------------------------------------------------------------------------- rendering


def _since(t: float | None, now: float) -> str:
    if not t:
        return "-"
    s = max(0, int(now - t))
    if s < 120:
        return f"{s}s ago"
    if s < 7200:
        return f"{s // 60}m ago"
    return f"{s // 3600}h ago"


def render_status(merged: Mapping[str, Mapping[str, Any]], now: float) -> str:
    """``pykadctl status`` for people (``now``: wall-clock time, for "changed ... ago")."""
    lines: list[str] = []
    for child, title in (("vrrp", "VRRP"), ("bfd", "BFD"), ("check", "Virtual servers")):
        reply = merged.get(child)
        if reply is None:
            continue
        lines.append(title)
        if not reply.get("ok"):
            lines.append(f"  error: {reply.get('error', 'no answer')}")
            continue
        if child == "vrrp":
            for i in reply.get("instances", ()):
                prio = f"prio {i['effective_priority']}"
                if i["effective_priority"] != i["priority"]:
                    prio += f" (configured {i['priority']})"
                extra = " DEMOTED" if i.get("demoted") else ""
                master = f" master {i['master']}" if i.get("master") else ""
                lines.append(
                    f"  {i['name']:<16} {i['state']:<7} {prio}, vrid {i['vrid']} on"
                    f" {i['interface']}{master}, changed {_since(i.get('last_transition'), now)}"
                    f"{extra}"
                )
                if i.get("vips"):
                    lines.append(f"    VIPs: {', '.join(i['vips'])}")
        elif child == "bfd":
            for s in reply.get("sessions", ()):
                lines.append(
                    f"  {s['name']:<16} {s['state']:<10} neighbor {s['neighbor']},"
                    f" remote {s['remote_state']}, flaps {s['flaps']}"
                )
        else:
            for vs in reply.get("virtual_servers", ()):
                quorum = "quorum up" if vs.get("quorum_up") else "quorum DOWN"
                lines.append(f"  {vs['name']}  {quorum}")
                for rs in vs.get("real_servers", ()):
                    health = "up" if rs["alive"] else "DOWN"
                    ipvs = rs.get("ipvs_weight")
                    in_ipvs = "not in IPVS" if ipvs is None else f"IPVS weight {ipvs}"
                    drained = " DRAINED" if rs.get("drained") else ""
                    lines.append(
                        f"    {_hostport(rs['address'], rs['port']):<28} {health:<5}"
                        f" weight {rs['weight']}, {in_ipvs}{drained}"
                    )
    return "\n".join(lines) + ("\n" if lines else "")


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def render_stats(merged: Mapping[str, Mapping[str, Any]]) -> str:
    """``pykadctl stats`` for people: every counter, one per line."""
    lines: list[str] = []
    vrrp = merged.get("vrrp")
    if vrrp is not None and vrrp.get("ok"):
        for i in vrrp.get("instances", ()):
            lines.append(f"VRRP instance {i['name']}")
            lines.append(f"  transitions: {i.get('transitions', 0)}")
            for key, value in i.get("stats", {}).items():
                lines.append(f"  {key}: {value}")
            for key, value in sorted(i.get("errors", {}).items()):
                lines.append(f"  dropped ({key}): {value}")
        for key, value in vrrp.get("service", {}).items():
            if key != "gratuitous":
                lines.append(f"VRRP {key}: {value}")
        for g in vrrp.get("service", {}).get("gratuitous", ()):
            lines.append(
                f"VRRP gratuitous ARPs/NAs on {g['interface']}: {g['sent']} sent,"
                f" {g['errors']} failed ({g['would_block']} for a full socket)"
            )
    bfd = merged.get("bfd")
    if bfd is not None and bfd.get("ok"):
        for s in bfd.get("sessions", ()):
            lines.append(f"BFD session {s['name']}")
            for key in ("flaps", "up_transitions", "packets_sent", "packets_received"):
                lines.append(f"  {key}: {s.get(key, 0)}")
        for key, value in bfd.get("events", {}).items():
            lines.append(f"BFD events {key}: {value}")
    check = merged.get("check")
    if check is not None and check.get("ok"):
        for key, value in check.get("stats", {}).items():
            lines.append(f"checkers {key}: {value}")
        for svc in check.get("ipvs", ()):
            lines.append(
                f"IPVS {svc['service']}: {svc['connections']} connections,"
                f" {svc['packets_in']}/{svc['packets_out']} packets in/out,"
                f" {svc['bytes_in']}/{svc['bytes_out']} bytes in/out"
            )
        for kind, h in check.get("latency", {}).items():
            mean = h["sum"] / h["count"] if h["count"] else 0.0
            lines.append(
                f"checker latency {kind}: {h['count']} attempts, mean {mean * 1000:.1f} ms"
            )
        if check.get("ipvs_error"):
            lines.append(f"IPVS counters: error: {check['ipvs_error']}")
    for child, reply in merged.items():
        if not reply.get("ok"):
            lines.append(f"{child}: error: {reply.get('error', 'no answer')}")
    return "\n".join(lines) + ("\n" if lines else "")


# --------------------------------------------------------------------------- the daemon's files


def read_pid(pid_file: str) -> int | None:
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None


def daemon_config(cmdline: Sequence[str], cwd: str) -> tuple[str, str | None]:
    """The config file and config id a pykad was started with (its ``-f`` and ``-i``)."""
    from pykad.cli import DEFAULT_CONFIG

    path, config_id = DEFAULT_CONFIG, None
    args = list(cmdline)
    for k, arg in enumerate(args):
        nxt = args[k + 1] if k + 1 < len(args) else None
        if arg in ("-f", "--use-file") and nxt is not None:
            path = nxt
        elif arg.startswith("--use-file="):
            path = arg.split("=", 1)[1]
        elif arg.startswith("-f") and len(arg) > 2 and not arg.startswith("--"):
            path = arg[2:]
        elif arg in ("-i", "--config-id") and nxt is not None:
            config_id = nxt
        elif arg.startswith("--config-id="):
            config_id = arg.split("=", 1)[1]
    return os.path.join(cwd, path), config_id


def _proc_cmdline(pid: int) -> tuple[list[str], str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        words = [w.decode(errors="replace") for w in f.read().split(b"\0") if w]
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        cwd = "/"
    return words, cwd


# --------------------------------------------------------------------------- commands


def run(
    command: str,
    *,
    pid_file: str | None,
    directory: str | None,
    as_json: bool = False,
    args: Mapping[str, Any] | None = None,
    timeout: float = 5.0,
) -> int:
    """One ``pykadctl`` command; its exit code (output on stdout, errors on stderr)."""
    args = args or {}
    main_pid = pid_file or control.DEFAULT_MAIN_PID
    if command == "reload":
        pid = read_pid(main_pid)
        if pid is None:
            print(f"pykadctl: no daemon: cannot read a pid from {main_pid}", file=sys.stderr)
            return EXIT_NO_DAEMON
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            print(f"pykadctl: no daemon: pid {pid} ({main_pid}) is gone", file=sys.stderr)
            return EXIT_NO_DAEMON
        _out({"ok": True, "done": f"SIGHUP sent to pid {pid}"}, as_json)
        return 0
    if command == "config-test":
        return _config_test(main_pid, args.get("file"))
    where = control.control_dir(main_pid, directory)
    if not os.path.isdir(where):
        print(f"pykadctl: no daemon: no control directory {where}", file=sys.stderr)
        return EXIT_NO_DAEMON
    if command in ("status", "stats"):
        merged = ask_all(where, {"cmd": command}, timeout)
        if not merged:
            print(f"pykadctl: no daemon: no control socket in {where}", file=sys.stderr)
            return EXIT_NO_DAEMON
        if as_json:
            print(json.dumps(merged, indent=2, sort_keys=True))
        elif command == "status":
            sys.stdout.write(render_status(merged, time.time()))
        else:
            sys.stdout.write(render_stats(merged))
        return 0 if all(r.get("ok") for r in merged.values()) else EXIT_REFUSED
    child = {"demote": "vrrp", "promote": "vrrp", "drain": "check", "undrain": "check"}.get(command)
    if child is None:
        print(f"pykadctl: unknown command {command}", file=sys.stderr)
        return 2
    path = control.socket_path(where, child)
    try:
        reply = control.request(path, {"cmd": command, **args}, timeout)
    except control.ControlError as e:
        print(f"pykadctl: {e}", file=sys.stderr)
        return EXIT_NO_DAEMON
    _out(reply, as_json)
    return 0 if reply.get("ok") else EXIT_REFUSED


def _out(reply: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(reply, sort_keys=True))
    elif reply.get("ok"):
        done = reply.get("done")
        print(", ".join(done) if isinstance(done, list) else done)
    else:
        print(f"pykadctl: {reply.get('error')}", file=sys.stderr)


def _config_test(main_pid: str, file: str | None) -> int:
    """``pykad -t`` on the running daemon's configuration (or ``file``)."""
    from pykad.cli import config_test

    config_id = None
    if file is None:
        pid = read_pid(main_pid)
        if pid is None:
            print(f"pykadctl: no daemon: cannot read a pid from {main_pid}", file=sys.stderr)
            return EXIT_NO_DAEMON
        try:
            words, cwd = _proc_cmdline(pid)
        except OSError:
            print(f"pykadctl: no daemon: pid {pid} ({main_pid}) is gone", file=sys.stderr)
            return EXIT_NO_DAEMON
        file, config_id = daemon_config(words, cwd)
    code = config_test(file, config_id, False, False, None)
    print(f"{file}: {'ok' if code == 0 else f'exit code {code}'}")
    return code
