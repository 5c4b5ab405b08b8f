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
