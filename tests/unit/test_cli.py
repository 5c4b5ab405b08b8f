"""``pykad`` and ``pykadctl`` command lines: version, the configuration test, the dump."""

from __future__ import annotations

import json
import logging.handlers
import subprocess
from pathlib import Path

import pytest

from lab.need import need_program
from pykad import cli

BROKEN = "global_defs {\n    router_idd x\n}\nbfd_instance b1 {\n    neighbor_ip 192.0.2.400\n}\n"
GOOD = "bfd_instance b1 {\n    neighbor_ip 192.0.2.4\n    multiplier 3\n}\n"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pykad ") and "keepalived 2.2.7 compatible" in out
    assert cli.ctl_main(["-v"]) == 0


def test_config_test_reports_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(BROKEN)
    assert cli.main(["-t", "-f", str(conf)]) == 5
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{conf}:2: error: Unknown keyword 'router_idd'"
    assert err[1].startswith(f"{conf}:5: error: Configuration error: BFD instance b1 has malformed")


def test_config_test_log_file_is_attached_to_the_option(tmp_path: Path) -> None:
    conf, log = tmp_path / "k.conf", tmp_path / "findings.log"
    conf.write_text(BROKEN)
    assert cli.main([f"--config-test={log}", "-f", str(conf)]) == 5
    assert cli.main([f"-t{log}", "-f", str(conf)]) == 5
    assert log.read_text().count("Unknown keyword 'router_idd'") == 2


def test_dump_prints_the_model_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(GOOD)
    assert cli.main(["-t", "-d", "-f", str(conf), "-i", "x"]) == 0
    model = json.loads(capsys.readouterr().out)
    (instance,) = model["bfd"]["instances"]
    assert instance["neighbor"] == "192.0.2.4" and instance["multiplier"] == 3


def test_missing_config_file_is_no_error_as_in_keepalived(tmp_path: Path) -> None:
    assert cli.main(["-t", "-f", str(tmp_path / "none.conf")]) == 0
    assert cli.main(["-t", "-e", "-f", str(tmp_path / "none.conf")]) == 4


SIGFUNCS = ("STOP", "RELOAD", "DATA", "STATS", "STATS_CLEAR", "JSON")


def test_signum_prints_keepalived_s_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    """``--signum=SIGFUNC`` gives the numbers keepalived 2.2.7 gives (run side by side)."""
    need_program("keepalived")
    for name in SIGFUNCS:
        theirs = subprocess.run(
            ["keepalived", f"--signum={name}"], capture_output=True, text=True, check=False
        )
        assert cli.main([f"--signum={name}"]) == theirs.returncode == 0
        assert capsys.readouterr().out == theirs.stdout, name
    for bad in ("TDATA", "json", "FOO"):
        theirs = subprocess.run(
            ["keepalived", f"--signum={bad}"], capture_output=True, text=True, check=False
        )
        assert cli.main(["--signum", bad]) == theirs.returncode == 1
        captured = capsys.readouterr()
        assert (captured.out, captured.err) == (theirs.stdout, theirs.stderr), bad


def test_daemon_flags_reach_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    from pykad.daemon import process

    seen: list[process.Options] = []

    def run(opts: process.Options) -> int:
        seen.append(opts)
        return 0

    monkeypatch.setattr(process, "run", run)
    assert cli.main(["-f", "x.conf", "-R", "-S", "local3", "-n", "-i", "n1"]) == 0
    assert cli.main(["-f", "x.conf", "--log-facility=user"]) == 0
    assert cli.main(["-f", "x.conf"]) == 0
    first, second, third = seen
    assert first.dont_respawn and first.dont_fork and first.config_id == "n1"
    assert first.log_facility == logging.handlers.SysLogHandler.LOG_LOCAL3
    assert second.log_facility == logging.handlers.SysLogHandler.LOG_USER
    assert not third.dont_respawn
    assert third.log_facility == logging.handlers.SysLogHandler.LOG_DAEMON


@pytest.mark.parametrize("word", ["8", "local8", "kern", ""])
def test_bad_log_facility_is_refused(word: str) -> None:
    with pytest.raises(SystemExit):
        cli.main(["-S", word])


def test_keepalived_s_other_daemon_flags_reach_the_options(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """-u (C's number syntax), -I, --all, -m, -M with and without its attached pattern;
    -X is accepted (a leaving master always removes its VIPs in pykad)."""
    from pykad.daemon import process

    seen: list[process.Options] = []
    monkeypatch.setattr(process, "run", lambda opts: seen.append(opts) or 0)
    assert cli.main(["-f", "x.conf", "-u", "022", "-I", "--all", "-X", "-m"]) == 0
    assert cli.main(["-f", "x.conf", "--umask=0x12", "-M"]) == 0
    assert cli.main(["-f", "x.conf", "-u", "18", "-M/tmp/core.%p"]) == 0
    assert cli.main(["-f", "x.conf", "--core-dump-pattern=cores/%e", "-u", "0999"]) == 0
    assert cli.main(["-f", "x.conf"]) == 0
    first, second, third, fourth, plain = seen
    assert (first.umask, first.dont_release_ipvs, first.run_all) == (0o22, True, True)
    assert (first.core_dump, first.core_pattern) == (True, None)
    assert (second.umask, second.core_dump, second.core_pattern) == (0x12, True, "core")
    assert (third.umask, third.core_pattern) == (18, "/tmp/core.%p")
    assert (fourth.umask, fourth.core_pattern) == (None, "cores/%e")
    assert "Invalid --umask option 0999" in capsys.readouterr().err  # ignored, as keepalived
    assert (plain.umask, plain.dont_release_ipvs, plain.run_all, plain.core_dump) == (
        None,
        False,
        False,
        False,
    )


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("022", 0o22), ("0x1F", 31), ("511", 511), ("0777", 0o777)]
)
def test_umask_is_read_as_c_reads_a_number(text: str, value: int) -> None:
    assert cli.umask_flag(text) == value


@pytest.mark.parametrize("text", ["01000", "-1", "abc", "08", ""])
def test_bad_umask_is_reported_and_ignored(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.umask_flag(text) is None
    assert f"Invalid --umask option {text}" in capsys.readouterr().err


def test_genhash_mode_hands_the_rest_of_the_line_to_genhash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-T`` as keepalived: genhash's own flags follow; flags before it are ignored
    with keepalived's warning."""
    from pykad.check.probes import genhash

    calls: list[list[str]] = []
    monkeypatch.setattr(genhash, "main", lambda argv: calls.append(argv) or 7)
    assert cli.main(["-T", "-s", "192.0.2.1", "-p", "80", "-u", "/"]) == 7
    assert cli.main(["-n", "--genhash", "-h"]) == 7
    assert calls == [["genhash", "-s", "192.0.2.1", "-p", "80", "-u", "/"], ["genhash", "-h"]]
    err = capsys.readouterr().err
    assert "Warning -- `genhash` not used as first option, previous options ignored" in err


def test_pykadctl_finds_a_namespaced_daemon_s_pid_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from pykad import ctl

    seen: list[str | None] = []
    monkeypatch.setattr(ctl, "run", lambda command, pid_file, **_: seen.append(pid_file) or 0)
    assert cli.ctl_main(["-s", "blue", "--instance", "one", "status"]) == 0
    assert cli.ctl_main(["--instance", "one", "status"]) == 0
    assert cli.ctl_main(["-s", "blue", "-p", "/tmp/x.pid", "status"]) == 0
    assert cli.ctl_main(["status"]) == 0
    assert seen == [
        "/run/keepalived/blue/keepalived_one.pid",
        "/run/keepalived/keepalived_one.pid",
        "/tmp/x.pid",
        None,
    ]


def test_a_reload_is_refused_for_an_error_but_not_for_a_value_keepalived_corrects(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """keepalived reduces a quorum above the real servers' weight, and sets the default
    scheduler and forwarding method, and goes on: pykad's reload takes that config; a
    line it cannot read still refuses the reload."""
    from pykad.daemon import process

    seen: list[process.Options] = []
    monkeypatch.setattr(process, "run", lambda opts: seen.append(opts) or 0)
    conf = tmp_path / "k.conf"
    assert cli.main(["-f", str(conf), "-r", str(tmp_path / "r.pid")]) == 0
    vs = """virtual_server 192.0.2.10 80 {
    protocol TCP
    quorum 5
    real_server 198.51.100.1 80 {
        TCP_CHECK {
        }
    }
}
"""
    conf.write_text(vs)
    assert process.load_config(seen[0], reload=True) is not None
    conf.write_text(vs.replace("quorum 5", "quorum 5\n    no_such_keyword 1"))
    assert process.load_config(seen[0], reload=True) is None
