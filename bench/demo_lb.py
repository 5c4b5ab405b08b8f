"""The demo's load-balancing part: pykad's IPVS and health checks, in the VM lab.

The host kernel has no IPVS, so ``run()`` boots the VM lab once (Debian's kernel
under QEMU) and runs this file there with ``--guest``: a client, a director (the
guest itself, where ``pykad -C -f conf/demo/lb.conf`` runs) and three web servers
in network namespaces.  It sends requests to the virtual IP and shows which
server answered, stops one web server and shows how long until pykad's HTTP_GET
checker takes it out of the kernel's table (the bound is delay_loop +
connect_timeout x (retry + 1)), shows the traffic avoiding it, starts it again
and shows it coming back.  Prints a report; returns the guest's exit code.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the labs (in the VM too)

from lab.ipvs_topology import nat_topology  # noqa: E402

CONF = ROOT / "conf" / "demo" / "lb.conf"
VIP = "198.51.100.100"
SERVERS = {"web1": "203.0.113.2", "web2": "203.0.113.18", "web3": "203.0.113.34"}
BOUND_S = 1 + 1 * (0 + 1)  # delay_loop + connect_timeout x (retry + 1), from lb.conf
BB = "/run/ipvs-vm/busybox"

TOPOLOGY = nat_topology(list(SERVERS))


def _sh(script: str, **env: str) -> None:
    import os

    subprocess.run(["bash", "-c", script], check=True, env={**os.environ, **env})


def _web(name: str, www: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["ip", "netns", "exec", name, BB, "httpd", "-f", "-p", "8080", "-h", str(www / name)]
    )


def _requests(count: int) -> list[str]:
    """Who answered each of ``count`` HTTP requests to the VIP, from the client."""
    script = (
        f"for i in $({BB} seq {count}); do exec 3<>/dev/tcp/{VIP}/80; "
        "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' >&3; "
        f"{BB} timeout 5 {BB} cat <&3 | {BB} tail -n 1; exec 3<&-; done"
    )
    argv = ["ip", "netns", "exec", "client", "bash", "-c", script]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout
    return [line.removeprefix("hello from ") for line in out.split("\n") if line]


def _in_table() -> list[str]:
    """The real servers of the VIP's service in the kernel, by name."""
    listed = subprocess.run(["ipvsadm", "-Ln", "-t", f"{VIP}:80"], capture_output=True, text=True)
    by_addr = {a: n for n, a in SERVERS.items()}
    return sorted(
        by_addr.get(line.split()[1].split(":")[0], "?")
        for line in listed.stdout.splitlines()
        if line.strip().startswith("->") and "RemoteAddress" not in line
    )


def _wait(predicate: object, timeout: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def guest() -> int:
    """Inside the VM: the whole demo; prints its report."""
    www = Path(tempfile.mkdtemp(prefix="demo-www-"))
    _sh(TOPOLOGY, WWW=str(www))
    webs = {name: _web(name, www) for name in SERVERS}
    pykad = str(Path(sys.executable).with_name("pykad"))
    log = www / "pykad.log"
    argv = [pykad, "-n", "-l", "-G", "-C", "-f", str(CONF)]
    argv += ["-p", str(www / "p.pid"), "-c", str(www / "c.pid")]
    daemon = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT)
    ok = True
    try:
        if _wait(lambda: _in_table() == sorted(SERVERS), 60) is None:
            print("   the real servers never all reached the table")
            return 1
        print(f"   table: {', '.join(_in_table())}")
        print(f"   6 requests to {VIP}: {' '.join(_requests(6))}")
        webs.pop("web2").kill()
        took = _wait(lambda: "web2" not in _in_table(), 30)
        ok = took is not None
        print(
            f"   web2 stopped: out of the table after {took:.1f} s (bound {BOUND_S} s)"
            if took is not None
            else "   web2 stopped: still in the table after 30 s"
        )
        print(f"   6 requests: {' '.join(_requests(6))}")
        webs["web2"] = _web("web2", www)
        back = _wait(lambda: "web2" in _in_table(), 30)
        ok = ok and back is not None
        print(
            f"   web2 started again: back after {back:.1f} s"
            if back is not None
            else "   web2 started again: not back after 30 s"
        )
        print(f"   6 requests: {' '.join(_requests(6))}")
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        print(f"   pykad stopped: table {_in_table() or 'empty'}")
        print("   pykad's log:")
        for line in log.read_text().splitlines():
            if any(w in line for w in ("HTTP", "Adding", "Removing", "IPVS", "Healthcheck")):
                print(f"     {line}")
    finally:
        if daemon.poll() is None:
            daemon.kill()
        for proc in webs.values():
            proc.kill()
    return 0 if ok else 1


def run() -> int:
    """On the host: boot the VM lab and run :func:`guest` there."""
    from lab.vm import run_in_vm, venv_python, vm_available

    available, why = vm_available()
    if not available:
        print(f"   not run: {why}")
        return 1
    with tempfile.TemporaryDirectory(prefix="pykad-demo-lb-") as tmp:
        argv = ["bash", "-c", 'cd -- "$1" && shift && exec "$@"', "demo", str(ROOT)]
        argv += [str(venv_python()), "-P", str(Path(__file__).resolve()), "--guest"]
        result = run_in_vm(argv, cwd=Path(tmp), timeout=600)
    print(result.stdout, end="")
    if result.returncode:
        print(result.stderr[-2000:], end="")
    return result.returncode


if __name__ == "__main__":
    sys.exit(guest() if "--guest" in sys.argv else run())
