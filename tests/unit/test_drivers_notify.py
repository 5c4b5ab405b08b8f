"""pykad.drivers.notify: the Notifier runs scripts and writes FIFOs as keepalived does.

Real FIFOs and processes in a temporary directory: the FIFO is created (mode 0644
less the umask, given its user) or reused, its script is started with its path
and reads the lines, lines keep their order, STOP scripts are killed after their
time, FIFOs we created are removed at close, and nothing blocks the caller.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import trio

from pykad.config.scripts import Script
from pykad.config.sections._global_model import GlobalDefs, NotifyFifo
from pykad.drivers.notify import Notifier, default_script_user, resolve_user, vrrp_fifos
from pykad.vrrp.notify import Notification, RunScript, WriteFifo


def sh(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def drive(
    notifier: Notifier, batches: Sequence[Sequence[Notification]], linger: float = 0.0
) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(notifier.run)
            for batch in batches:
                notifier.submit(batch)
            await trio.sleep(linger)
            notifier.close()

    trio.run(main)


def wait_for_text(path: Path, text: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            break
        time.sleep(0.02)
    return path.read_text() if path.exists() else ""


FIFO_LINES = [
    WriteFifo(f'INSTANCE "VI_1" {s} 100\n'.encode()) for s in ("BACKUP", "MASTER", "STOP")
]
LINES: list[Notification] = list(FIFO_LINES)


def test_creates_the_fifo_runs_its_script_and_removes_it(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    out = tmp_path / "read"
    reader = sh(tmp_path, "reader.sh", f'echo "$@" > {out}.argv\nexec cat "$2" > {out}\n')
    notifier = Notifier([NotifyFifo(path=str(fifo), script=Script((reader, "x")))])
    modes: list[int] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(notifier.run)
            modes.append(os.stat(fifo).st_mode)
            notifier.submit(LINES)
            await trio.sleep(0.3)
            notifier.close()

    old = os.umask(0o022)
    try:
        trio.run(main)
    finally:
        os.umask(old)
    assert stat.S_ISFIFO(modes[0]) and stat.S_IMODE(modes[0]) == 0o644
    assert not fifo.exists()  # we created it, so we removed it
    assert (tmp_path / "read.argv").read_text() == f"x {fifo}\n"
    assert out.read_text() == "".join(line.line.decode() for line in FIFO_LINES)
    stats = notifier.statistics()
    assert (stats.lines_written, stats.lines_dropped, stats.fifos_open) == (3, 0, 0)


def test_an_existing_fifo_is_kept_and_lines_keep_their_order(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        many = [WriteFifo(f'INSTANCE "VI_{i}" MASTER {i % 256}\n'.encode()) for i in range(300)]
        drive(Notifier([NotifyFifo(path=str(fifo))] * 2), [many[:100], many[100:]])
        data = os.read(fd, 1 << 20)
    finally:
        os.close(fd)
    assert fifo.exists()
    # Named twice (notify_fifo and vrrp_notify_fifo): each line goes to both, in order.
    assert data == b"".join(line.line * 2 for line in many)


def test_a_full_fifo_drops_lines_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody reads it
    big = WriteFifo(b"x" * 4000 + b"\n")
    notifier = Notifier([NotifyFifo(path=str(fifo))])
    started = time.monotonic()
    drive(notifier, [[big] * 40])
    assert time.monotonic() - started < 5
    stats = notifier.statistics()
    assert stats.lines_written + stats.lines_dropped == 40 and stats.lines_dropped > 0


def test_a_regular_file_is_not_used_as_a_fifo(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("")
    notifier = Notifier([NotifyFifo(path=str(path))])
    drive(notifier, [LINES])
    assert path.read_text() == ""
    assert notifier.statistics().lines_written == 0


def test_fifo_owner(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give files away")
    nobody = resolve_user("nobody", None)
    assert nobody is not None
    fifo = tmp_path / "fifo"
    seen: list[os.stat_result] = []

    async def main() -> None:
        notifier = Notifier([NotifyFifo(path=str(fifo), user="nobody")])
        async with trio.open_nursery() as nursery:
            await nursery.start(notifier.run)
            seen.append(os.stat(fifo))
            notifier.close()

    trio.run(main)
    assert (seen[0].st_uid, seen[0].st_gid) == nobody


def test_scripts_run_in_order_and_stop_scripts_are_killed(tmp_path: Path) -> None:
    log = tmp_path / "log"
    rec = sh(tmp_path, "rec.sh", f'echo "$@" >> {log}\n')
    hang = sh(tmp_path, "hang.sh", f"echo $$ > {tmp_path}/hang.pid\nsleep 300\n")
    effects: list[Notification] = [
        RunScript((rec, "one")),
        RunScript((hang,), timeout_s=0.3),
        RunScript((rec, "two")),
    ]
    notifier = Notifier()
    started = time.monotonic()
    drive(notifier, [effects])
    took = time.monotonic() - started
    assert 0.3 <= took < 3  # close waited for the STOP script, which was killed
    assert sorted(wait_for_text(log, "two").split()) == ["one", "two"]
    stats = notifier.statistics()
    assert (stats.scripts_started, stats.scripts_killed, stats.scripts_failed) == (3, 1, 0)
    pid = int((tmp_path / "hang.pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_scripts_run_as_their_user(request: pytest.FixtureRequest) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch users")
    shared = Path(tempfile.mkdtemp(prefix="pykad-notify-"))  # pytest's tmp_path is 0700
    request.addfinalizer(lambda: shutil.rmtree(shared))
    shared.chmod(0o777)
    out = shared / "out"
    out.touch()
    out.chmod(0o666)
    rec = sh(shared, "ids.sh", f"id -u >> {out}\n")
    seen: list[tuple[str | None, str | None]] = []

    def ids(user: str | None, group: str | None) -> tuple[int, int] | None:
        seen.append((user, group))
        return resolve_user(user, group)

    notifier = Notifier(default_user=(0, 0), user_ids=ids)
    runs: list[Notification] = [
        RunScript((rec,), "nobody"),
        RunScript((rec,)),
        RunScript((rec,), "nobody"),
    ]
    drive(notifier, [runs], linger=1.0)  # close() sends SIGTERM to scripts still running
    nobody = resolve_user("nobody", None)
    assert nobody is not None
    text = wait_for_text(out, "\n").split()
    deadline = time.monotonic() + 5
    while len(text) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
        text = out.read_text().split()
    assert sorted(text) == sorted([str(nobody[0]), "0", str(nobody[0])])
    assert seen == [("nobody", None)]  # looked up once


def test_submit_after_close_is_dropped() -> None:
    notifier = Notifier()
    notifier.close()
    notifier.submit(LINES)  # no exception, nothing blocks
    notifier.submit([])


def test_defaults_from_global_defs() -> None:
    g = GlobalDefs(
        notify_fifo=NotifyFifo(path="/run/a"),
        vrrp_notify_fifo=NotifyFifo(path="/run/b"),
        lvs_notify_fifo=NotifyFifo(path="/run/c"),
    )
    assert [f.path for f in vrrp_fifos(g)] == ["/run/a", "/run/b"]
    assert vrrp_fifos(GlobalDefs()) == ()
    assert default_script_user(GlobalDefs(script_user="root")) == (0, 0)
    assert resolve_user("no-such-user-pykad", None) is None
    assert resolve_user("root", "no-such-group-pykad") is None
    assert resolve_user(None, None) is None
