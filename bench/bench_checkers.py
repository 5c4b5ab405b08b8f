"""Checker load, side by side: CPU of the checker process, pykad vs keepalived 2.2.7.

    sudo .venv/bin/python bench/sidebyside.py checker_load [--quick]
    sudo .venv/bin/python bench/bench_checkers.py profile [--quick] [--seconds 20]

Issue 6's last speed point: 10,000 TCP_CHECKs and 1,000 HTTP_GETs every second
against local servers (``--quick``: 1,000 and 100), CPU of the checker process.

Everything runs in one network namespace made for the run: ``198.18.0.0/15`` is
routed ``local`` on its ``lo``, so one listener on 0.0.0.0 answers every address.
Virtual server i is 198.18.x.y:80 with 10 real servers of its own in
198.19.0.0/16 (port 80, TCP_CHECK, or 8080, HTTP_GET ``/`` status 200), all with
``delay_loop 1`` and ``connect_timeout 1``: one keepalived.conf, read by both.
The real servers are one process of this module (``--serve``): an epoll loop that
accepts and closes on port 80 and answers ``GET /`` with 200 and 3 bytes on port
8080, and counts both, so each checker's checks per second are counted where they
arrive.

Neither checker has a kernel IPVS (this host has none): keepalived's checker
(``keepalived -n -l --check``) runs with ``bench/fakeipvs.c`` preloaded (libnl's
IPVS requests acknowledged without a kernel), pykad's
:class:`pykad.daemon.check_service.CheckService` runs under trio in a process of
this module (``--pykad``) with :class:`NullIpvs`, an in-memory stand-in that
acknowledges every operation.  The CPU is the checker process's utime + stime
from /proc/PID/stat over consecutive windows after a settle period; keepalived's
is its checker child's (pid from -c).  The two run one after the other, never at
once.  ``profile`` runs pykad's side once under cProfile and prints where the time
goes.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __name__ != "__main__":  # the host side, imported by sidebyside.py
    from sidebyside import Row, Sample

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
KEEPALIVED_VERSION = "2.2.7"

TCP_PORT, HTTP_PORT = 80, 8080
RS_PER_VS = 10
DELAY_LOOP_S = 1
CONNECT_TIMEOUT_S = 1
RESPONSE = (
    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    b"Connection: close\r\n\r\nok\n"
)
GOAL = "<= 1x"
FAILURE_RE = re.compile(r"(?i)timeout|failed|Disabling service")


@dataclass(frozen=True)
class Size:
    tcp_vs: int
    http_vs: int
    windows: int
    window_s: float
    settle_s: float

    @property
    def tcp(self) -> int:
        return self.tcp_vs * RS_PER_VS

    @property
    def http(self) -> int:
        return self.http_vs * RS_PER_VS

    @property
    def label(self) -> str:
        return f"{self.tcp:,} TCP + {self.http:,} HTTP"


SMALL = Size(100, 10, 3, 20.0, 5.0)
MID = Size(500, 50, 3, 20.0, 10.0)
BIG = Size(1_000, 100, 3, 20.0, 10.0)
QUICK = (Size(100, 10, 2, 10.0, 5.0),)
FULL = (SMALL, MID, BIG)
PROFILE_SIZE, PROFILE_S = SMALL, 10.0


# ---------------------------------------------------------------- the configuration


def _vs_addr(i: int) -> str:
    return f"198.18.{i // 250}.{i % 250 + 1}"


def _rs_addr(n: int) -> str:
    return f"198.19.{n // 250}.{n % 250 + 1}"


def keepalived_conf(size: Size) -> str:
    """The one keepalived.conf both checkers read."""
    out = ["global_defs {\n  router_id ckbench\n}\n"]
    n = 0
    for i in range(size.tcp_vs + size.http_vs):
        http = i >= size.tcp_vs
        out.append(
            f"virtual_server {_vs_addr(i)} 80 {{\n  delay_loop {DELAY_LOOP_S}\n"
            "  lvs_sched rr\n  lvs_method NAT\n  protocol TCP\n"
        )
        for _ in range(RS_PER_VS):
            if http:
                check = (
                    "    HTTP_GET {\n      url {\n        path /\n        status_code 200\n"
                    f"      }}\n      connect_timeout {CONNECT_TIMEOUT_S}\n    }}\n"
                )
            else:
                check = f"    TCP_CHECK {{\n      connect_timeout {CONNECT_TIMEOUT_S}\n    }}\n"
            port = HTTP_PORT if http else TCP_PORT
            out.append(f"  real_server {_rs_addr(n)} {port} {{\n    weight 1\n{check}  }}\n")
            n += 1
        out.append("}\n")
    return "".join(out)


# ---------------------------------------------------------------- the real servers


def serve(status: Path) -> None:
    """Port 80: accept and close; port 8080: read the request, answer 200, close.
    Every 0.2 s the counts go to ``status``: ``tcp http monotonic``."""
    listeners = {}
    for port in (TCP_PORT, HTTP_PORT):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(65535)
        s.setblocking(False)
        listeners[s.fileno()] = s
    tcp_fd = next(fd for fd, s in listeners.items() if s.getsockname()[1] == TCP_PORT)
    http_fd = next(fd for fd, s in listeners.items() if s.getsockname()[1] == HTTP_PORT)
    tcp_l, http_l = listeners[tcp_fd], listeners[http_fd]
    ep = select.epoll()
    ep.register(tcp_fd, select.EPOLLIN)
    ep.register(http_fd, select.EPOLLIN)
    pending: dict[int, bytes] = {}
    n_tcp = n_http = 0
    next_report = 0.0
    tmp = status.with_suffix(".tmp")
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    while not stop:
        for fd, _ in ep.poll(0.2):
            if fd == tcp_fd:
                while True:
                    try:
                        conn, _ = tcp_l._accept()  # type: ignore[attr-defined]
                    except BlockingIOError:
                        break
                    os.close(conn)
                    n_tcp += 1
            elif fd == http_fd:
                while True:
                    try:
                        conn, _ = http_l._accept()  # type: ignore[attr-defined]
                    except BlockingIOError:
                        break
                    os.set_blocking(conn, False)
                    pending[conn] = b""
                    ep.register(conn, select.EPOLLIN)
            else:
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                buf = pending[fd] + data
                if data and b"\r\n\r\n" not in buf:
                    pending[fd] = buf
                    continue
                del pending[fd]
                if data:
                    with contextlib.suppress(OSError):
                        os.write(fd, RESPONSE)
                    n_http += 1
                os.close(fd)  # leaves the epoll set with it
        now = time.monotonic()
        if now >= next_report:
            tmp.write_text(f"{n_tcp} {n_http} {now}\n")
            os.replace(tmp, status)
            next_report = now + 0.2


# ---------------------------------------------------------------- pykad's side


class NullIpvs:
    """The kernel's IPVS as far as the checker service sees it: every operation is
    acknowledged, nothing is kept (``pykad.daemon.check_service.Ipvs``)."""

    def __init__(self) -> None:
        self.operations = 0

    def apply(self, ops: Sequence[Any]) -> list[Any]:
        from pykad.kernel.ipvs import IpvsResult

        self.operations += len(ops)
        return [IpvsResult(op, 0) for op in ops]

    def dump(self) -> Any:
        from pykad.lb.table import Table

        return Table()

    def flush(self) -> None:
        pass

    def timeouts(self) -> Any:
        from pykad.kernel import ipvs_wire_py as w

        return w.Timeouts(900, 120, 300)

    def set_timeouts(self, timeouts: Any) -> None:
        pass

    def start_daemon(self, daemon: Any) -> None:
        pass

    def stop_daemon(self, state: int) -> None:
        pass


def run_pykad(conf: Path, out: Path, *, profile_s: float | None = None) -> None:
    """pykad's checker service on ``conf`` until SIGTERM (or ``profile_s`` under
    cProfile); ``out``.ready once it runs, ``out`` (JSON) at the end."""
    import logging
    import resource

    import trio

    from pykad.config.build import NoHost
    from pykad.config.load import load
    from pykad.config.model import from_parts
    from pykad.daemon.check_service import CheckService
    from pykad.drivers.files import LocalFiles

    logging.basicConfig(
        filename=str(out.with_suffix(".log")),
        level=logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    t0 = time.monotonic()
    loaded = load(LocalFiles(), conf.name, cwd=str(conf.parent), config_id="bench", host=NoHost())
    if loaded.diagnostics.stopped:
        raise SystemExit(f"config refused: {loaded.diagnostics.items}")
    config = from_parts(loaded.parts)
    load_s = time.monotonic() - t0
    ipvs = NullIpvs()
    service = CheckService(config, ipvs)
    service.setup()
    profiler = cProfile.Profile() if profile_s else None
    stats_path, stats_tmp = out.with_suffix(".stats"), out.with_suffix(".stats.tmp")
    profiled: dict[str, float] = {}

    async def write_stats() -> None:
        # pykad's own counts and how late trio wakes a sleeper (the run loop's lag),
        # for the host to read at its windows' ends
        lags: list[float] = []
        while True:
            st = service.stats
            lag = max(lags) if lags else 0.0
            stats_tmp.write_text(f"{st.attempts} {st.failures} {st.events} {lag}\n")
            os.replace(stats_tmp, stats_path)
            lags.clear()
            for _ in range(5):
                t = trio.current_time() + 0.1
                await trio.sleep_until(t)
                lags.append(trio.current_time() - t)

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                out.with_suffix(".ready").write_text(f"{load_s}\n")
                nursery.start_soon(write_stats)
                if profiler is not None and profile_s:
                    await trio.sleep(profile_s / 2)  # past the start-up spread
                    n0 = service.stats.attempts
                    profiler.enable()
                    await trio.sleep(profile_s)
                    profiler.disable()
                    profiled.update(checks=service.stats.attempts - n0, seconds=profile_s)
                else:
                    async for _ in signals:
                        break
                await service.stop()
                nursery.cancel_scope.cancel()

    trio.run(main)
    st = service.stats
    result = {
        "config_load_s": load_s,
        "attempts": st.attempts,
        "failures": st.failures,
        "events": st.events,
        "writes": st.writes,
        "ipvs_operations": ipvs.operations,
    }
    if profiler is not None:
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
        result["profile"] = buf.getvalue()
        raw = stats.stats  # type: ignore[attr-defined]
        result["functions"] = [
            [file, line, func, v[1], v[2], v[3]] for (file, line, func), v in raw.items()
        ]
        result.update(profiled)
    out.write_text(json.dumps(result))


# ---------------------------------------------------------------- the host side


def cpu_times(pid: int) -> tuple[float, float]:
    """utime and stime of ``pid`` in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _stop(proc: subprocess.Popen[Any] | None, timeout: float = 30) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _kill_pid(pid: int | None) -> None:
    if pid is not None and _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _wait_for(path: Path, proc: subprocess.Popen[Any], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


@dataclass
class Side:
    """What one checker did in one size's run."""

    cpu: list[float] = field(default_factory=list)
    """% of one core, one per window."""
    stime: list[float] = field(default_factory=list)
    tcp: float = 0.0
    """Connections/s accepted on port 80 over all the windows."""
    http: float = 0.0
    server_cpu: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    """pykad: the latest 0.5 s's longest lateness of a 0.1 s sleep (the run loop's lag)."""
    rss: float = 0.0
    start_s: float = 0.0
    """From the process's start until the servers saw its first check."""
    failures: int = 0
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Lab:
    """The namespace, the real servers and the shim; everything removed at exit."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.ns = f"ckbench{os.getpid()}"
        self.server: subprocess.Popen[bytes] | None = None
        self.status = work / "servers.status"
        self.shim = work / "fakeipvs.so"

    def __enter__(self) -> Lab:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        subprocess.run(
            ["gcc", "-shared", "-fPIC", "-O2", "-o", str(self.shim), str(HERE / "fakeipvs.c")],
            check=True,
        )
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.exec_ = ["ip", "netns", "exec", self.ns]
        subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(
            ["ip", "-n", self.ns, "route", "add", "local", "198.18.0.0/15", "dev", "lo"],
            check=True,
        )
        subprocess.run(
            [*self.exec_, "sysctl", "-q", "-w", "net.core.somaxconn=65535",
             "net.ipv4.tcp_max_syn_backlog=65535", "net.ipv4.ip_local_port_range=1024 65535"],
            check=True,
        )  # fmt: skip
        self.server = subprocess.Popen(
            [*self.exec_, PYTHON, str(Path(__file__).resolve()), "--serve", str(self.status)],
            stdout=subprocess.DEVNULL,
            stderr=(self.work / "servers.err").open("w"),
        )
        if not _wait_for(self.status, self.server, 20):
            raise RuntimeError(f"servers did not start: {(self.work / 'servers.err').read_text()}")

    def __exit__(self, *exc: object) -> None:
        _stop(self.server, 10)
        subprocess.run(["ip", "netns", "del", self.ns], check=False, capture_output=True)

    def counts(self) -> tuple[int, int, float]:
        tcp, http, t = self.status.read_text().split()
        return int(tcp), int(http), float(t)

    def run(self, kind: str, conf: Path, size: Size) -> Side:
        side = Side()
        tag = f"{kind}-{size.tcp}"
        proc: subprocess.Popen[bytes] | None = None
        child: int | None = None
        log_path = self.work / f"{tag}.log"
        log = log_path.open("w")
        out = self.work / f"{tag}.json"
        try:
            before = self.counts()[:2]
            t_start = time.monotonic()
            if kind == "keepalived":
                pidc = self.work / f"{tag}.check.pid"
                proc = subprocess.Popen(
                    [*self.exec_, "env", f"LD_PRELOAD={self.shim}", "keepalived", "-n", "-l",
                     "--check", "-f", str(conf), "-p", str(self.work / f"{tag}.pid"),
                     "-c", str(pidc)],
                    stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
                if not _wait_for(pidc, proc, 60):
                    side.error = "keepalived's checker did not start"
                    return side
                child = int(pidc.read_text().split()[0])
            else:
                proc = subprocess.Popen(
                    [*self.exec_, PYTHON, str(Path(__file__).resolve()), "--pykad", str(conf),
                     str(out)],
                    stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
                if not _wait_for(out.with_suffix(".ready"), proc, 300):
                    side.error = "pykad's checker did not start"
                    return side
                child = proc.pid
            deadline = time.monotonic() + 120
            while self.counts()[:2] == before and time.monotonic() < deadline:
                time.sleep(0.05)
            side.start_s = time.monotonic() - t_start
            time.sleep(size.settle_s)
            assert self.server is not None
            first = self.counts()
            failed0 = self._failures(kind, out, log_path)
            for _ in range(size.windows):
                c0, s0 = cpu_times(child), cpu_times(self.server.pid)
                t0 = time.monotonic()
                while time.monotonic() < t0 + size.window_s:
                    time.sleep(min(0.5, max(0.0, t0 + size.window_s - time.monotonic())))
                    if kind == "pykad":
                        side.lag.append(float(out.with_suffix(".stats").read_text().split()[3]))
                c1, s1 = cpu_times(child), cpu_times(self.server.pid)
                dt = time.monotonic() - t0
                side.cpu.append(100 * (sum(c1) - sum(c0)) / dt)
                side.stime.append(100 * (c1[1] - c0[1]) / dt)
                side.server_cpu.append(100 * (sum(s1) - sum(s0)) / dt)
            last = self.counts()
            failed1 = self._failures(kind, out, log_path)
            side.failures = failed1 - failed0
            side.tcp = (last[0] - first[0]) / (last[2] - first[2])
            side.http = (last[1] - first[1]) / (last[2] - first[2])
            side.rss = rss_mib(child)
        finally:
            _stop(proc)
            _kill_pid(child)
            log.close()
        text = log_path.read_text(errors="replace")
        if out.exists():
            side.extra = json.loads(out.read_text())
        if proc is not None and proc.returncode not in (0, None) and not side.cpu:
            side.error = f"{kind} exited {proc.returncode}: {text[-800:]}"
        return side

    @staticmethod
    def _failures(kind: str, out: Path, log_path: Path) -> int:
        """Failed checks so far: pykad's own count; keepalived's failure lines."""
        if kind == "pykad":
            return int(out.with_suffix(".stats").read_text().split()[1])
        return len(FAILURE_RE.findall(log_path.read_text(errors="replace")))

    def profile(self, conf: Path, seconds: float) -> dict[str, Any]:
        out = self.work / "profile.json"
        proc = subprocess.Popen(
            [*self.exec_, PYTHON, str(Path(__file__).resolve()), "--pykad", str(conf), str(out),
             "--profile", str(seconds)],
            stdout=subprocess.DEVNULL, stderr=(self.work / "profile.err").open("w"),
        )  # fmt: skip
        try:
            proc.wait(300 + 2 * seconds)
        finally:
            _stop(proc)
        if not out.exists():
            return {"error": (self.work / "profile.err").read_text()[-800:]}
        data: dict[str, Any] = json.loads(out.read_text())
        return data


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    keep = os.environ.get("CKBENCH_KEEP")  # a directory: the logs and configs stay there
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        yield Path(keep)
        return
    with tempfile.TemporaryDirectory(prefix="pykad-bench-checkers-") as tmp:
        yield Path(tmp)


def _fmt(values: Sequence[float], fmt: str = "{:,.1f}") -> str:
    return Sample(tuple(values)).text(fmt)


def _ratio(a: Sequence[float], b: Sequence[float]) -> str:
    if not a or not b or not Sample(tuple(b)).median:
        return ""
    return f"{Sample(tuple(a)).median / Sample(tuple(b)).median:.2f}"


def source_version() -> str:
    """The commit pykad runs from, and whether its sources had uncommitted changes."""

    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "an unknown commit"
    dirty = git("status", "--porcelain", "--", "pykad", "_fastpath", "meson.build")
    return f"commit {commit}" + (" with uncommitted changes" if dirty else "")


def _trio_version() -> str:
    from importlib.metadata import version

    return version("trio")


def _per_check_us(side: Side) -> float:
    done = side.tcp + side.http
    return 10_000 * Sample(tuple(side.cpu)).median / done if side.cpu and done else 0.0


def _div(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else ""


def _keepalived_ok() -> str:
    try:
        proc = subprocess.run(["keepalived", "--version"], capture_output=True, text=True)
    except OSError:
        return "keepalived is not installed"
    text = proc.stdout + proc.stderr
    if f"v{KEEPALIVED_VERSION}" not in text:
        return f"keepalived {KEEPALIVED_VERSION} is not the one installed ({text.split()[:2]})"
    return ""


def checker_load(quick: bool) -> tuple[str, list[Row], list[str]]:
    title = "Checker load: 10,000 TCP_CHECKs and 1,000 HTTP_GETs a second"
    if os.geteuid() != 0:
        return title, [], ["Not measured: needs root (a network namespace)."]
    why = _keepalived_ok()
    if why:
        return title, [], [f"Not measured: {why}."]
    sizes = QUICK if quick else FULL
    load0, t0 = os.getloadavg()[0], time.monotonic()
    version0 = source_version()
    rows: list[Row] = []
    notes: list[str] = []
    results: dict[Size, dict[str, Side]] = {}
    prof: dict[str, Any] = {}
    with _workdir() as work, Lab(work) as lab:
        for size in sizes:
            conf = work / f"keepalived-{size.tcp}.conf"
            conf.write_text(keepalived_conf(size))
            results[size] = {kind: lab.run(kind, conf, size) for kind in ("keepalived", "pykad")}
        if not quick:
            conf = work / f"keepalived-{PROFILE_SIZE.tcp}.conf"
            prof = lab.profile(conf, PROFILE_S)
            prof["label"] = PROFILE_SIZE.label
    for size, sides in results.items():
        pk, ka = sides["pykad"], sides["keepalived"]
        lbl = size.label
        for who, s in sides.items():
            if s.error:
                notes.append(f"- {lbl}: {who} not measured: {s.error}")
        rows.append(
            Row(f"{lbl}/s: checker process CPU % of one core", _fmt(pk.cpu), _fmt(ka.cpu),
                _ratio(pk.cpu, ka.cpu), GOAL)
        )  # fmt: skip
        rows.append(
            Row(f"{lbl}/s: ... of which in the kernel (stime)", _fmt(pk.stime),
                _fmt(ka.stime), "", "")
        )  # fmt: skip
        pk_us, ka_us = _per_check_us(pk), _per_check_us(ka)
        rows.append(
            Row(f"{lbl}/s: ... CPU per check done (us)", f"{pk_us:.0f}", f"{ka_us:.0f}",
                _div(pk_us, ka_us), GOAL)
        )  # fmt: skip
        rows.append(
            Row(f"{lbl}/s: checker process VmRSS MiB", f"{pk.rss:.1f}", f"{ka.rss:.1f}",
                f"{pk.rss / ka.rss:.2f}" if ka.rss else "", "")
        )  # fmt: skip
        rows.append(
            Row(f"{lbl}/s: TCP_CHECK connections/s the servers accepted (owed {size.tcp:,})",
                f"{pk.tcp:,.0f}", f"{ka.tcp:,.0f}", _div(pk.tcp, ka.tcp),
                f"{size.tcp:,}")
        )  # fmt: skip
        rows.append(
            Row(f"{lbl}/s: HTTP_GET requests/s the servers answered (owed {size.http:,})",
                f"{pk.http:,.0f}", f"{ka.http:,.0f}", _div(pk.http, ka.http),
                f"{size.http:,}")
        )  # fmt: skip
        rows.append(
            Row(f"{lbl}/s: failed checks in the windows", str(pk.failures), str(ka.failures),
                "", "0")
        )  # fmt: skip
        if pk.lag:
            lag = sorted(pk.lag)
            rows.append(
                Row(f"{lbl}/s: pykad's trio loop: lateness of a 0.1 s sleep, median (max) (ms)",
                    f"{1000 * lag[len(lag) // 2]:.0f} ({1000 * lag[-1]:.0f})", "", "", "")
            )  # fmt: skip
        rows.append(
            Row(f"{lbl}/s: the servers' process CPU % of one core meanwhile",
                _fmt(pk.server_cpu), _fmt(ka.server_cpu), "", "")
        )  # fmt: skip
        rows.append(
            Row(f"{lbl}/s: start -> first check at the servers (s)", f"{pk.start_s:.1f}",
                f"{ka.start_s:.1f}", "", "")
        )  # fmt: skip
    first = next(iter(results))
    settles = sorted({s.settle_s for s in results})
    settle = "-".join(f"{v:g}" for v in settles[:: max(1, len(settles) - 1)])
    notes[:0] = [
        "- One network namespace: 198.18.0.0/15 routed `local` on its lo, virtual server i "
        "at 198.18.x.y:80 with 10 real servers of its own in 198.19.0.0/16 (TCP_CHECK on "
        f"port {TCP_PORT}, HTTP_GET `url {{ path / status_code 200 }}` on port {HTTP_PORT}), "
        f"every virtual server `delay_loop {DELAY_LOOP_S}`, every checker `connect_timeout "
        f"{CONNECT_TIMEOUT_S}`; the same keepalived.conf for both. The real servers are one "
        "Python epoll process in the same namespace (port 80 accepts and closes, port 8080 "
        "reads the request and answers 200 with a 3-byte body) that counts what arrives: "
        "those counts are the checks/s rows.",
        "- Both sides run without a kernel IPVS (this host has none): keepalived "
        f"{KEEPALIVED_VERSION}'s checker (`keepalived -n -l --check`) through an LD_PRELOAD "
        "shim (bench/fakeipvs.c, compiled in the run) that acknowledges libnl's IPVS "
        "requests without sending them, pykad's `CheckService` (the service the checker "
        "child runs) under trio in a process of bench/bench_checkers.py with an "
        "in-process stand-in that acknowledges every IPVS operation. So the figures are the "
        "checkers' own cost; every real server stays up, so after start-up neither writes "
        "to IPVS.",
        f"- The two run one after the other in the same namespace, never at once. After "
        f"the servers see the first check, {settle} s to settle (the start-up "
        f"passes), then {first.windows} consecutive windows of "
        f"{first.window_s:g} s: CPU is utime+stime of the checker process over each window "
        "(keepalived's checker child, pid from -c; pykad's service process), VmRSS at the "
        "end; checks/s from the servers' counts over all the windows together (keepalived "
        "runs its checks in one burst a delay_loop, so a window's count moves by whole "
        "bursts; pykad spreads them). CPU per check done: the median CPU over checks/s done "
        "(TCP + HTTP). Failed checks: pykad's own count of failed attempts; keepalived's "
        "lines with timeout/failed/Disabling in its log, both over the windows.",
        "- Goal (issue 6): pykad's checker uses no more CPU than keepalived's for the same "
        "checks. The owed rate is 1 check per checker per delay_loop; both schedule the next "
        "check delay_loop after the last one ended, so a little under it is on time.",
    ]
    for size, sides in results.items():
        pk = sides["pykad"]
        if pk.cpu and pk.tcp + pk.http < 0.95 * (size.tcp + size.http):
            lag = f"{1000 * max(pk.lag):.0f} ms" if pk.lag else "?"
            notes.append(
                f"- At {size.label}/s pykad did {pk.tcp + pk.http:,.0f} checks/s of "
                f"{size.tcp + size.http:,} owed, at {Sample(tuple(pk.cpu)).median:.0f} % of a "
                f"core, its trio loop up to {lag} late, {pk.failures:,} failed checks in the "
                "windows. One trio thread runs every checker: when a round of due checks "
                "takes the loop a good part of delay_loop, each check ends late, the next one "
                "is due delay_loop after that end (as in keepalived), checks bunch into "
                "waves and the rate falls below the owed one before the CPU reaches 100 %; "
                "once the lag passes connect_timeout checks fail, real servers flap and every "
                "state change adds pool and IPVS work (diff, write) to the loop."
            )
    if not quick:
        notes.append(profile_note(prof))
    version1 = source_version()
    changed = "" if version1 == version0 else f" at the start, {version1} at the end"
    notes.append(f"- pykad at {version0}{changed}; trio {_trio_version()}.")
    notes.append(
        f"- Run took {(time.monotonic() - t0) / 60:.1f} min; 1-minute load average "
        f"{load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end (2 cores, shared)."
    )
    return title, rows, notes


def _share(funcs: list[list[Any]], busy: float, file: str, names: Sequence[str]) -> float:
    """Cumulative time of the functions ``names`` in files ending ``/file`` (of pykad's
    or trio's tree, wherever the module lives in it), % of ``busy``."""
    return 100 * sum(f[5] for f in funcs if f[0].endswith("/" + file) and f[2] in names) / busy


def profile_note(data: dict[str, Any]) -> str:
    """Where pykad's checker spends its time, from one run under cProfile."""
    if "functions" not in data:
        return f"- pykad under cProfile: not measured ({data.get('error', '')[-300:]})."
    funcs: list[list[Any]] = data["functions"]
    total = sum(f[4] for f in funcs)
    idle = sum(f[4] for f in funcs if f[2] == "<method 'poll' of 'select.epoll' objects>")
    busy = total - idle
    if busy <= 0 or not data.get("checks"):
        return "- pykad under cProfile: no checks ran."
    groups = {"trio (and its contextlib, outcome)": 0.0, "pykad": 0.0, "socket calls": 0.0}
    groups["other"] = 0.0
    for file, _, func, _, tt, _ in funcs:
        if func == "<method 'poll' of 'select.epoll' objects>":
            continue
        if re.search(
            r"/(trio|outcome|contextlib)[/.]|attrs generated methods (trio|outcome)", file
        ):
            groups["trio (and its contextlib, outcome)"] += tt
        elif "/pykad/" in file:
            groups["pykad"] += tt
        elif file == "~" and "socket" in func:
            groups["socket calls"] += tt
        else:
            groups["other"] += tt
    loop = _share(funcs, busy, "bulk.py", ("run",))
    outcomes = _share(funcs, busy, "bulk.py", ("_outcome",))
    tasks = _share(funcs, busy, "runner.py", ("run_checker",))
    top = sorted((f for f in funcs if f[2] != "<method 'poll' of 'select.epoll' objects>"),
                 key=lambda f: -f[4])[:5]  # fmt: skip

    def name(f: list[Any]) -> str:
        where = f[0].split("site-packages/")[-1].split("/work/main/")[-1]
        func = re.sub(r" at 0x[0-9a-f]+", "", f[2])
        return f"`{func}`" if f[0] == "~" else f"`{where}:{f[1]}({func})`"

    per_check = 1e6 * busy / data["checks"]
    return (
        f"- Where pykad's time goes: one more pykad run of {data['label']}/s under "
        f"cProfile for {data['seconds']:g} s (`python bench/bench_checkers.py profile` prints it "
        f"all); the profiler slows it, so compare shares, not times: "
        f"{per_check:.0f} us of run loop per check attempt ({data['checks']:,} attempts). "
        "Own time by area: "
        + ", ".join(f"{k} {100 * v / busy:.0f} %" for k, v in groups.items())
        + f". Cumulative: the bulk attempt loop (`BulkRunner.run`, the compiled "
        f"`CheckLoop.run` inside it, where cProfile does not see) {loop:.0f} %, of which "
        f"outcomes handed to Python (`BulkRunner._outcome`) {outcomes:.0f} %; checkers run "
        f"as trio tasks (`runner.run_checker`) {tasks:.0f} %. Top own times: "
        + ", ".join(f"{name(f)} {100 * f[4] / busy:.0f} %" for f in top)
        + "."
    )


def profile(quick: bool, seconds: float) -> int:
    size = QUICK[0] if quick else BIG
    with _workdir() as work, Lab(work) as lab:
        conf = work / "keepalived.conf"
        conf.write_text(keepalived_conf(size))
        c0 = lab.counts()
        data = lab.profile(conf, seconds)
        c1 = lab.counts()
    if "error" in data:
        print(data["error"])
        return 1
    print(f"{size.label}/s for {seconds:g} s under cProfile (after {seconds / 2:g} s)")
    print(f"servers counted {c1[0] - c0[0]} TCP, {c1[1] - c0[1]} HTTP over the whole run")
    print(data["profile"])
    data["label"] = size.label
    print(profile_note(data))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--serve"]:
        serve(Path(args[1]))
        return 0
    if args[:1] == ["--pykad"]:
        prof = float(args[4]) if args[3:4] == ["--profile"] else None
        run_pykad(Path(args[1]), Path(args[2]), profile_s=prof)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("profile",))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=20)
    opts = parser.parse_args(args)
    return profile(opts.quick, opts.seconds)


if __name__ == "__main__":
    sys.exit(main())
