"""pykad's notifications are keepalived's: same FIFO bytes, same script argv.

The real keepalived 2.2.7 runs as a lone router in a namespace with a sync group of
two instances, per-state notify scripts, generic ``notify`` scripts (one with an
extra quoted word) and a ``notify_fifo``; it goes BACKUP -> MASTER and is stopped
with SIGTERM (STOP).  Every script records its argv; the FIFO is read as it is
written.  Then pykad reads the same config with its own parser, and
:class:`pykad.vrrp.notify.NotifyPlanner` is driven through the same transitions:
its FIFO lines must be byte-identical, in the same order, and its scripts' argv
the same (as a multiset: keepalived forks them without waiting, so they finish
in any order).  Then the same effects are carried out by
:class:`pykad.drivers.notify.Notifier`, and the FIFO and the scripts see the
same again.
"""

from __future__ import annotations

import os
import re
import select
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import trio

from lab.keepalived import PYKAD, KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for
from pykad.config.build import NoHost
from pykad.config.load import load
from pykad.drivers.files import LocalFiles
from pykad.drivers.notify import Notifier, vrrp_fifos
from pykad.vrrp.notify import Notification, NotifyPlanner, NotifyState, RunScript, WriteFifo

pytestmark = pytest.mark.interop

RECORDER = """#!/bin/sh
# One line per run: the words it was given, tab-separated (one write, O_APPEND).
line=""
for a in "$@"; do line="$line$a\t"; done
printf '%s\\n' "$line" >> {log}
"""


class FifoReader:
    """Reads a FIFO in a thread, from before the writer opens it until stopped."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path, 0o600)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            select.select([self.fd], [], [], 0.05)
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            if chunk:
                self.data.extend(chunk)
            else:
                time.sleep(0.02)  # no writer (yet, or any more)

    def close(self) -> bytes:
        self._stop.set()
        self._thread.join()
        os.close(self.fd)
        return bytes(self.data)


class _Host(NoHost):
    def interface_exists(self, name: str) -> bool:
        return name == "eth0"


def _config(tmp: Path, recorder: Path, fifo: Path) -> str:
    r = str(recorder)
    head = f"""global_defs {{
    script_user root
    enable_script_security
    notify_fifo {fifo}
}}
vrrp_sync_group G1 {{
    group {{
        VI_1
        VI_2
    }}
    notify_master "{r} gmaster"
    notify_backup "{r} gbackup"
    notify_stop "{r} gstop"
    notify "{r} ggeneric"
}}
"""
    vi_1 = f"""notify_master "{r} master"
notify_backup "{r} backup"
notify_fault "{r} fault"
notify_stop "{r} stop"
notify "{r} generic 'two words'"
notify_master_rx_lower_pri "{r} rxlow"
"""
    return (
        head
        + vrrp_instance_config(name="VI_1", virtual_router_id=51, priority=100, extra=vi_1)
        + vrrp_instance_config(
            name="VI_2",
            virtual_router_id=52,
            priority=90,
            vips=["192.0.2.11/24"],
            extra=f'notify "{r} generic2"',
        )
    )


def _argvs(log: Path) -> Counter[tuple[str, ...]]:
    text = log.read_text() if log.exists() else ""
    return Counter(tuple(line.split("\t")[:-1]) for line in text.splitlines())


def _expected_argvs(effects: list[Notification], recorder: Path) -> Counter[tuple[str, ...]]:
    runs = [e.argv for e in effects if isinstance(e, RunScript)]
    assert all(argv[0] == str(recorder) for argv in runs)
    return Counter(argv[1:] for argv in runs)


def test_notify_lines_and_argv_match_keepalived(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    tmp_path.chmod(0o755)  # keepalived vets every directory of a script's path
    recorder = tmp_path / "rec.sh"
    log = tmp_path / "argv.log"
    recorder.write_text(RECORDER.format(log=log))
    recorder.chmod(0o755)
    fifo = tmp_path / "notify.fifo"
    reader = FifoReader(fifo)
    config = _config(tmp_path, recorder, fifo)
    netns_lab.lan({"A": "192.0.2.1/24"})

    try:
        k = keepalived_lab.start((netns_lab, "A"), config, name="A", subsystems={"vrrp"})
        k.wait_for_state("VI_1", "MASTER", timeout=15)
        k.wait_for_state("VI_2", "MASTER", timeout=15)
        masters = re.findall(r"\((VI_\d)\) Entering MASTER STATE", k.log_text())
        wait_for(lambda: reader.data.count(b"\n") >= 6, timeout=5, message="6 FIFO lines")
        assert k.stop() == 0
        wait_for(lambda: reader.data.count(b"\n") >= 9, timeout=5, message="9 FIFO lines")
    finally:
        got = reader.close()
    wait_for(lambda: sum(_argvs(log).values()) >= 14, timeout=5, message="14 script runs")
    time.sleep(0.2)  # nothing more should come
    keepalived_argvs = _argvs(log)

    # pykad: the same config through pykad's parser, the same transitions.
    loaded = load(LocalFiles(), str(k.config_path), cwd=str(tmp_path), config_id="A", host=_Host())
    assert loaded.config is not None
    vrrp = loaded.config.vrrp
    planner = NotifyPlanner(vrrp.instances, vrrp.sync_groups)
    priority = {i.name: i.priority for i in vrrp.instances}
    effects: list[Notification] = []
    # Start-up: the group enters BACKUP, then each instance (config order).
    effects += planner.group_state("G1", NotifyState.BACKUP)
    for name in ("VI_1", "VI_2"):
        effects += planner.instance_state(name, NotifyState.BACKUP, priority[name])
    # Each instance becomes MASTER (in the order keepalived logged), then the group.
    assert sorted(masters) == ["VI_1", "VI_2"]
    for name in masters:
        effects += planner.instance_state(name, NotifyState.MASTER, priority[name])
    effects += planner.group_state("G1", NotifyState.MASTER)
    # SIGTERM.
    effects += planner.shutdown(priority)

    ours = b"".join(e.line for e in effects if isinstance(e, WriteFifo))
    assert got == ours
    assert got.decode().splitlines()[:3] == [
        'GROUP "G1" BACKUP 0',
        'INSTANCE "VI_1" BACKUP 100',
        'INSTANCE "VI_2" BACKUP 90',
    ]
    assert got.decode().splitlines()[-3:] == [
        'INSTANCE "VI_1" STOP 100',
        'INSTANCE "VI_2" STOP 90',
        'GROUP "G1" STOP 0',
    ]
    assert keepalived_argvs == _expected_argvs(effects, recorder)
    assert keepalived_argvs[("generic", "two words", "INSTANCE", "VI_1", "MASTER", "100")] == 1
    assert keepalived_argvs[("ggeneric", "GROUP", "G1", "STOP", "0")] == 1

    # The driver carries the same effects out: same FIFO bytes, same argv.
    log.unlink()
    fifo.unlink()
    reader = FifoReader(fifo)
    try:
        notifier = Notifier(vrrp_fifos(loaded.config.global_defs))

        async def drive() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(notifier.run)
                for effect in effects:
                    notifier.submit([effect])
                # Closing SIGTERMs the scripts still running (keepalived's die with
                # its VRRP process): let them all record their argv first.
                with trio.move_on_after(10):
                    while sum(_argvs(log).values()) < sum(keepalived_argvs.values()):
                        await trio.sleep(0.02)
                notifier.close()

        trio.run(drive)
        wait_for(lambda: len(reader.data) >= len(ours), timeout=5, message="pykad's lines")
    finally:
        again = reader.close()
    assert again == ours
    assert fifo.exists()  # it existed before: not ours to remove
    assert _argvs(log) == keepalived_argvs
    assert notifier.statistics().scripts_started == sum(keepalived_argvs.values())


def _run_daemon(
    lab: KeepalivedLab, topo: Topology, config: str, name: str, program: tuple[str, ...]
) -> bytes:
    """Run a daemon as a lone router until both instances are MASTER, then SIGTERM it."""
    fifo = Path(lab.workdir) / f"{name}.fifo"
    reader = FifoReader(fifo)
    try:
        d = lab.start(
            (topo, "A"),
            config.replace("@FIFO@", str(fifo)),
            name=name,
            subsystems={"vrrp"},
            program=program,
        )
        d.wait_for_state("VI_1", "MASTER", timeout=15)
        d.wait_for_state("VI_2", "MASTER", timeout=15)
        wait_for(lambda: reader.data.count(b"\n") >= 6, timeout=5, message="6 FIFO lines")
        assert d.stop() == 0
        wait_for(lambda: reader.data.count(b"\n") >= 9, timeout=5, message="9 FIFO lines")
        time.sleep(0.2)  # nothing more should come
    finally:
        got = reader.close()
    return got


def test_the_pykad_daemon_notifies_as_keepalived_does(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    """Both daemons, one config: the same FIFO lines, the same scripts with the same argv."""
    tmp_path.chmod(0o755)
    recorder = tmp_path / "rec.sh"
    logs = {name: tmp_path / f"{name}-argv.log" for name in ("keepalived", "pykad")}
    netns_lab.lan({"A": "192.0.2.1/24"})
    fifos = {}
    argvs = {}
    for name, program in (("keepalived", ("keepalived",)), ("pykad", (PYKAD,))):
        recorder.write_text(RECORDER.format(log=logs[name]))
        recorder.chmod(0o755)
        config = _config(tmp_path, recorder, Path("@FIFO@"))
        fifos[name] = _run_daemon(keepalived_lab, netns_lab, config, name, program)
        log = logs[name]
        wait_for(lambda: sum(_argvs(log).values()) >= 14, timeout=5, message="14 script runs")  # noqa: B023
        argvs[name] = _argvs(log)
    k_lines, p_lines = (fifos[n].decode().splitlines() for n in ("keepalived", "pykad"))
    # The start-up and stop lines in order; the MASTER lines of a sync group come in
    # whichever order its members' timers fire, so they are compared as a set.
    assert p_lines[:3] == k_lines[:3] and p_lines[-3:] == k_lines[-3:]
    assert Counter(p_lines) == Counter(k_lines)
    assert fifos["pykad"].endswith(b"\n") and len(fifos["pykad"]) == len(fifos["keepalived"])
    assert argvs["pykad"] == argvs["keepalived"]


def test_priority_change_lines_match_keepalived(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    """notify_priority_changes: a track_file moves the priority; both daemons write the
    same MASTER_PRIORITY lines, in the same order, and log the same change."""
    netns_lab.lan({"A": "192.0.2.1/24"})
    got = {}
    for name, program in (("keepalived", ("keepalived",)), ("pykad", (PYKAD,))):
        track = tmp_path / f"{name}.track"
        track.write_text("0\n")
        fifo = Path(keepalived_lab.workdir) / f"{name}-prio.fifo"
        config = (
            f"global_defs {{\n    vrrp_notify_fifo {fifo}\n}}\n"
            f"track_file tf {{\n    file {track}\n    weight 2\n}}\n"
            + vrrp_instance_config(
                priority=100,
                version=3,
                advert_int=0.1,
                extra="notify_priority_changes\ntrack_file {\n    tf\n}",
            )
        )
        reader = FifoReader(fifo)
        try:
            d = keepalived_lab.start(
                (netns_lab, "A"), config, name=f"{name}-prio", subsystems={"vrrp"}, program=program
            )
            d.wait_for_state("VI_1", "MASTER", timeout=15)
            for value, lines in (("5", 3), ("-10", 4)):
                track.write_text(value + "\n")
                wait_for(
                    lambda n=lines, r=reader: r.data.count(b"\n") >= n,  # type: ignore[misc]
                    timeout=5,
                    message=f"{lines} FIFO lines",
                )
            d.wait_for_log(r"\(VI_1\) Changing effective priority from 110 to 80", timeout=5)
            assert d.stop() == 0
            time.sleep(0.2)
        finally:
            got[name] = reader.close()
    assert got["pykad"] == got["keepalived"]
    assert b'INSTANCE "VI_1" MASTER_PRIORITY 110\n' in got["pykad"]
