"""IpvsSocket against the real IPVS of Debian's kernel (runs inside the VM only).

Run by tests/vm/test_ipvs_kernel.py in one boot (``lab.vm.run_pytest_in_vm``);
the host's collection ignores this folder (tests/conftest.py).  Every test
starts from an empty table (the ``ipvs`` fixture flushes before and after).
``ipvsadm`` reads the same table independently, so the codec is checked both
ways: what pykad wrote is what ipvsadm lists, and what ipvsadm wrote is what
pykad's dump parses.
"""

from __future__ import annotations

import errno
import socket
import subprocess
from collections.abc import Iterator
from ipaddress import ip_address

import pytest

from pykad.kernel import ipvs_wire, ipvs_wire_py
from pykad.kernel.ipvs import IpvsResult, IpvsSocket
from pykad.kernel.ipvs_wire_py import SYNC_BACKUP, SYNC_MASTER, SyncDaemon, Timeouts
from pykad.lb import table as t
from pykad.lb.plan import AddDest, AddService, DelDest, EditDest, reconcile
from pykad.lb.table import Dest, DestKey, Service, ServiceKey, Table

V4, V6 = socket.AF_INET, socket.AF_INET6
TCP, UDP, SCTP = 6, 17, 132


def a(text: str) -> bytes:
    return ip_address(text).packed


def test_the_guest_runs_the_installed_pykad_as_root() -> None:
    """The harness (``lab.vm.run_pytest_in_vm``): root in the VM, IPVS there, the
    installed pykad (not the checkout's ``pykad/``), the venv's python3 first on PATH,
    and the host's ``PYTEST_ADDOPTS`` (set by the caller) kept out."""
    import importlib.metadata
    import os
    import shutil
    import sys
    from pathlib import Path

    import pykad
    from lab.vm import in_vm

    assert in_vm() and os.geteuid() == 0
    assert Path("/proc/net/ip_vs").exists()
    # an editable install (a developer's venv) is the checkout; else site-packages
    url = importlib.metadata.distribution("pykad").read_text("direct_url.json") or ""
    editable = '"editable": true' in url.replace("'", '"')
    assert editable or "site-packages" in pykad.__file__, pykad.__file__
    assert "PYTEST_ADDOPTS" not in os.environ
    assert shutil.which("python3") == str(Path(sys.executable).parent / "python3")


@pytest.fixture(params=["compiled", "pure"])
def ipvs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[IpvsSocket]:
    """A socket with an empty table; "pure" forces the Python twin of the codec."""
    if request.param == "pure":
        import pykad.kernel.ipvs as driver

        monkeypatch.setattr(driver, "ipvs_wire", ipvs_wire_py)
    elif ipvs_wire.IMPLEMENTATION != "cython":
        pytest.fail("the compiled IPVS codec is not built")
    with IpvsSocket() as sock:
        sock.flush()
        yield sock
        sock.flush()


def ipvsadm(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["ipvsadm", *args], input=stdin, capture_output=True, text=True, check=True
    ).stdout


def save() -> set[str]:
    """``ipvsadm -S -n`` as a set of lines (dump order is hash order)."""
    return set(ipvsadm("-S", "-n").splitlines())


def assert_all_ok(results: list[IpvsResult]) -> None:
    bad = [(r.op, r.errno) for r in results if r.errno]
    assert not bad, bad


def svc(addr: str, port: int, proto: int = TCP, **kw: object) -> Service:
    af = V6 if ":" in addr else V4
    if af == V6:
        kw.setdefault("netmask", 128)
    return Service(key=ServiceKey(af, proto, a(addr), port), **kw)  # type: ignore[arg-type]


def dest(addr: str, port: int, **kw: object) -> Dest:
    return Dest(key=DestKey(a(addr), port), **kw)  # type: ignore[arg-type]


# A table with one of everything the codec can say.
EVERYTHING = Table.of(
    [
        (
            svc("192.0.2.10", 80, scheduler="wlc"),
            [dest("203.0.113.1", 8080, weight=3), dest("203.0.113.2", 8080, weight=0)],
        ),
        (
            svc(
                "192.0.2.10",
                443,
                scheduler="rr",
                flags=t.SVC_F_PERSISTENT,
                timeout=300,
                netmask=0xFFFFFF00,
            ),
            [dest("203.0.113.1", 443, fwd=t.FWD_DROUTE, u_threshold=100, l_threshold=10)],
        ),
        (
            svc("192.0.2.11", 53, UDP, scheduler="sh", flags=t.SVC_F_SCHED1 | t.SVC_F_SCHED2),
            [dest("203.0.113.3", 53, weight=2)],
        ),
        (
            svc("192.0.2.11", 5060, UDP, scheduler="wrr", flags=t.SVC_F_ONEPACKET),
            [],
        ),
        (
            svc(
                "192.0.2.12",
                5060,
                UDP,
                scheduler="rr",
                flags=t.SVC_F_PERSISTENT,
                timeout=60,
                pe_name="sip",
            ),
            [dest("203.0.113.4", 5060)],
        ),
        (svc("192.0.2.13", 9, SCTP, scheduler="lc"), [dest("203.0.113.5", 9)]),
        (
            Service(key=ServiceKey.by_fwmark(V4, 7), scheduler="mh", flags=t.SVC_F_SCHED2),
            [
                dest("203.0.113.6", 0, fwd=t.FWD_TUNNEL, tun_type=t.TUN_GUE, tun_port=6080),
                dest("203.0.113.7", 0, fwd=t.FWD_TUNNEL, tun_type=t.TUN_GRE, tun_flags=1),
                dest("203.0.113.8", 0, fwd=t.FWD_TUNNEL, tun_type=t.TUN_IPIP),
            ],
        ),
        (
            Service(key=ServiceKey.by_fwmark(V6, 7), scheduler="fo", netmask=128),
            [dest("2001:db8::8", 0, fwd=t.FWD_DROUTE, weight=5)],
        ),
        (
            svc(
                "2001:db8::1",
                80,
                scheduler="sed",
                flags=t.SVC_F_PERSISTENT,
                timeout=360,
                netmask=64,
            ),
            [dest("2001:db8:1::1", 80, weight=7), dest("2001:db8:1::2", 8080)],
        ),
        (svc("2001:db8::2", 80, scheduler="nq"), []),
    ]
)


def test_info(ipvs: IpvsSocket) -> None:
    info = ipvs.info()
    assert info.version_text == "1.2.1" and info.conn_tab_size > 0


def test_everything_round_trips_and_ipvsadm_agrees(ipvs: IpvsSocket) -> None:
    ops = reconcile(Table(), EVERYTHING)
    assert_all_ok(ipvs.apply(ops))
    assert ipvs.dump() == EVERYTHING
    lines = save()
    expected = {
        "-A -t 192.0.2.10:80 -s wlc",
        "-a -t 192.0.2.10:80 -r 203.0.113.1:8080 -m -w 3",
        "-a -t 192.0.2.10:80 -r 203.0.113.2:8080 -m -w 0",
        "-A -t 192.0.2.10:443 -s rr -p 300 -M 255.255.255.0",
        "-a -t 192.0.2.10:443 -r 203.0.113.1:443 -g -w 1",
        "-A -u 192.0.2.11:53 -s sh -b sh-fallback,sh-port",
        "-a -u 192.0.2.11:53 -r 203.0.113.3:53 -m -w 2",
        "-A -u 192.0.2.11:5060 -s wrr -o",
        "-A -u 192.0.2.12:5060 -s rr -p 60 --pe sip",
        "-a -u 192.0.2.12:5060 -r 203.0.113.4:5060 -m -w 1",
        "-A --sctp-service 192.0.2.13:9 -s lc",
        "-a --sctp-service 192.0.2.13:9 -r 203.0.113.5:9 -m -w 1",
        "-A -f 7 -s mh -b mh-port",
        "-a -f 7 -r 203.0.113.6:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum",
        "-a -f 7 -r 203.0.113.7:0 -i -w 1 --tun-type gre --tun-csum",
        "-a -f 7 -r 203.0.113.8:0 -i -w 1 --tun-type ipip",
        "-A -f 7 -6 -s fo",
        "-a -f 7 -6 -r [2001:db8::8]:0 -g -w 5",
        "-A -t [2001:db8::1]:80 -s sed -p 360 -M 64",
        "-a -t [2001:db8::1]:80 -r [2001:db8:1::1]:80 -m -w 7",
        "-a -t [2001:db8::1]:80 -r [2001:db8:1::2]:8080 -m -w 1",
        "-A -t [2001:db8::2]:80 -s nq",
    }
    assert {" ".join(line.split()) for line in lines} == expected
    thresholds = ipvsadm("-Ln", "--thresholds", "-t", "192.0.2.10:443")
    rows = [ln.split() for ln in thresholds.splitlines() if "->" in ln]
    assert any(row[2:4] == ["100", "10"] for row in rows), thresholds


def test_dump_reads_what_ipvsadm_wrote(ipvs: IpvsSocket) -> None:
    ipvsadm(
        "-R",
        stdin="\n".join(
            [
                "-A -t 198.51.100.1:80 -s lblc -p 30 -M 255.255.0.0",
                "-a -t 198.51.100.1:80 -r 203.0.113.9:80 -g -w 4 -x 50 -y 5",
                "-A -f 9 -6 -s dh",
                "-a -f 9 -6 -r [2001:db8::9]:0 -i -w 2",
                "",
            ]
        ),
    )
    assert ipvs.dump() == Table.of(
        [
            (
                svc(
                    "198.51.100.1",
                    80,
                    scheduler="lblc",
                    flags=t.SVC_F_PERSISTENT,
                    timeout=30,
                    netmask=0xFFFF0000,
                ),
                [
                    dest(
                        "203.0.113.9", 80, weight=4, fwd=t.FWD_DROUTE, u_threshold=50, l_threshold=5
                    )
                ],
            ),
            (
                Service(key=ServiceKey.by_fwmark(V6, 9), scheduler="dh", netmask=128),
                [dest("2001:db8::9", 0, weight=2, fwd=t.FWD_TUNNEL)],
            ),
        ]
    )


def test_errors_are_matched_to_their_operation(ipvs: IpvsSocket) -> None:
    web = svc("192.0.2.20", 80)
    missing = ServiceKey(V4, TCP, a("192.0.2.21"), 80)
    ops = [
        AddService(web),
        AddService(web),  # EEXIST
        AddDest(missing, dest("203.0.113.1", 80)),  # ESRCH: no such service
        AddDest(web.key, dest("203.0.113.1", 80)),
        EditDest(web.key, dest("203.0.113.2", 80)),  # ENOENT: no such destination
        DelDest(web.key, DestKey(a("203.0.113.1"), 80)),
        AddService(svc("192.0.2.22", 80, scheduler="nosuchsched")),  # ENOENT
        AddService(svc("2001:db8::3", 80, netmask=0xFFFFFFFF)),  # EINVAL: IPv6 netmask
    ]
    errnos = [r.errno for r in ipvs.apply(ops)]
    assert errnos == [0, errno.EEXIST, errno.ESRCH, 0, errno.ENOENT, 0, errno.ENOENT, errno.EINVAL]
    assert ipvs.dump() == Table.of([(web, [])])


def test_reconcile_writes_only_the_difference(ipvs: IpvsSocket) -> None:
    assert_all_ok(ipvs.apply(reconcile(Table(), EVERYTHING)))
    key = next(iter(EVERYTHING.services))
    changed = dict(EVERYTHING.dests[key])
    dkey = next(iter(changed))
    changed[dkey] = Dest(key=dkey, weight=99)
    desired = Table(EVERYTHING.services, {**EVERYTHING.dests, key: changed})
    ops = reconcile(ipvs.dump(), desired)
    assert ops == [EditDest(key, changed[dkey])]
    assert_all_ok(ipvs.apply(ops))
    assert ipvs.dump() == desired
    assert reconcile(ipvs.dump(), desired) == []


def test_a_big_batch_in_chunks(ipvs: IpvsSocket) -> None:
    """300 services x 10: far more answers than one chunk; none lost."""
    big = Table.of(
        (
            svc(f"198.18.{i // 250}.{i % 250 + 1}", 80, scheduler="rr"),
            [dest(f"198.19.{j}.{i % 250 + 1}", 8080 + i // 250) for j in range(10)],
        )
        for i in range(300)
    )
    ipvs.chunk_bytes = 16 << 10
    results = ipvs.apply(reconcile(Table(), big))
    assert len(results) == 3300
    assert_all_ok(results)
    assert ipvs.dump() == big
    assert len(ipvsadm("-S", "-n").splitlines()) == 3300


def test_timeouts(ipvs: IpvsSocket) -> None:
    before = ipvs.timeouts()
    try:
        ipvs.set_timeouts(Timeouts(tcp=1000, tcp_fin=0, udp=123))
        assert ipvs.timeouts() == Timeouts(1000, before.tcp_fin, 123)
        listed = ipvsadm("-L", "--timeout")  # "Timeout (tcp tcpfin udp): 1000 120 123"
        assert listed.split()[-3:] == ["1000", str(before.tcp_fin), "123"], listed
    finally:
        ipvs.set_timeouts(before)


def test_sync_daemons(ipvs: IpvsSocket) -> None:
    ipvs.start_daemon(SyncDaemon(SYNC_MASTER, "lo", sync_id=17, port=8849, ttl=2))
    ipvs.start_daemon(SyncDaemon(SYNC_BACKUP, "lo", sync_id=17))
    try:
        found = {d.state: d for d in ipvs.daemons()}
        assert set(found) == {SYNC_MASTER, SYNC_BACKUP}
        assert (found[SYNC_MASTER].interface, found[SYNC_MASTER].sync_id) == ("lo", 17)
        assert (found[SYNC_MASTER].port, found[SYNC_MASTER].ttl) == (8849, 2)
        listed = ipvsadm("-L", "--daemon")
        assert "master sync daemon (mcast=lo, syncid=17" in listed
        assert "backup sync daemon (mcast=lo, syncid=17" in listed
    finally:
        ipvs.stop_daemon(SYNC_MASTER)
        ipvs.stop_daemon(SYNC_BACKUP)
    assert ipvs.daemons() == []
