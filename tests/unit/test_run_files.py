"""keepalived 2.2.7's pid file names, syslog idents and reload rules for ``net_namespace``,
``instance``, ``use_pid_dir`` and the pid file flags (``pykad.daemon.run_files``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pykad.config.sections.global_defs import GlobalDefs
from pykad.daemon import run_files
from pykad.daemon.process import Options


def opts(**kw: object) -> Options:
    return Options(config_file="k.conf", config_id="n", **kw)  # type: ignore[arg-type]


def names(o: Options) -> tuple[str | None, ...]:
    return (o.pid_file, o.vrrp_pid_file, o.checkers_pid_file, o.bfd_pid_file)


@pytest.mark.parametrize(
    ("defs", "flags", "expected"),
    [
        (
            GlobalDefs(),
            {},
            ("/run/keepalived.pid", "/run/vrrp.pid", "/run/checkers.pid", "/run/bfd.pid"),
        ),
        (
            GlobalDefs(use_pid_dir=True),
            {},
            tuple(f"/run/keepalived/{n}.pid" for n in ("keepalived", "vrrp", "checkers", "bfd")),
        ),
        (
            GlobalDefs(instance="one", use_pid_dir=True),
            {},
            tuple(
                f"/run/keepalived/{n}_one.pid" for n in ("keepalived", "vrrp", "checkers", "bfd")
            ),
        ),
        (  # seen from inside its mount namespace: /run/keepalived is /run/keepalived/blue
            GlobalDefs(net_namespace="blue", use_pid_dir=True),
            {},
            tuple(f"/run/keepalived/{n}.pid" for n in ("keepalived", "vrrp", "checkers", "bfd")),
        ),
        (
            GlobalDefs(),
            {"namespace": "red", "pid_file": "/tmp/k.pid", "bfd_pid_file": "/tmp/b.pid"},
            (
                "/tmp/k.pid",
                "/run/keepalived/vrrp.pid",
                "/run/keepalived/checkers.pid",
                "/tmp/b.pid",
            ),
        ),
        (
            GlobalDefs(instance="one"),  # the parser sets use_pid_dir; the names do not need it
            {"vrrp_pid_file": "/tmp/v.pid"},
            (
                "/run/keepalived/keepalived_one.pid",
                "/tmp/v.pid",
                "/run/keepalived/checkers_one.pid",
                "/run/keepalived/bfd_one.pid",
            ),
        ),
    ],
)
def test_pid_files_are_named_as_keepalived_names_them(
    defs: GlobalDefs, flags: dict[str, str], expected: tuple[str, ...]
) -> None:
    assert names(run_files.resolve(opts(**flags), defs)) == expected


def test_the_command_line_namespace_wins_and_is_logged_as_keepalived_logs_it() -> None:
    defs = GlobalDefs(net_namespace="blue", instance="one", use_pid_dir=True)
    resolved = run_files.resolve(opts(namespace="red"), defs)
    assert (resolved.namespace, resolved.instance_name) == ("red", "one")
    assert run_files.override_line(opts(namespace="red"), defs) == (
        "Overriding config net_namespace 'blue' with command line namespace 'red'"
    )
    assert run_files.override_line(opts(), defs) is None
    assert run_files.override_line(opts(namespace="red"), GlobalDefs()) is None


def test_syslog_idents_get_the_namespace_then_the_instance() -> None:
    both = run_files.resolve(opts(), GlobalDefs(net_namespace="blue", instance="one"))
    assert run_files.syslog_ident(both, "Keepalived_vrrp") == "Keepalived_vrrp_blue_one"
    only = run_files.resolve(opts(), GlobalDefs(instance="one"))
    assert run_files.syslog_ident(only, "Keepalived") == "Keepalived_one"
    assert run_files.syslog_ident(run_files.resolve(opts(), GlobalDefs()), "Keepalived") == (
        "Keepalived"
    )


def test_a_reload_may_not_change_the_namespace_or_the_instance() -> None:
    started = run_files.resolve(opts(), GlobalDefs(net_namespace="blue", instance="one"))
    same = GlobalDefs(net_namespace="blue", instance="one", router_id="other")
    assert run_files.reload_refusal(started, same) is None
    assert run_files.reload_refusal(started, GlobalDefs(net_namespace="red", instance="one")) == (
        "Cannot change network namespace at a reload - please restart keepalived"
    )
    assert run_files.reload_refusal(started, GlobalDefs(net_namespace="blue")) == (
        "Cannot change instance name at a reload - please restart keepalived"
    )
    # -s wins over the configuration, but the configuration still may not change it
    flagged = run_files.resolve(opts(namespace="red"), GlobalDefs(net_namespace="blue"))
    assert run_files.reload_refusal(flagged, GlobalDefs(net_namespace="blue")) is None
    assert run_files.reload_refusal(flagged, GlobalDefs()) is not None
    assert run_files.reload_refusal(opts(), GlobalDefs(net_namespace="x")) is None  # not settled


def test_pykadctl_s_view_of_the_pid_files_from_outside() -> None:
    seen = run_files.main_pid_seen_from_outside
    assert seen(None, None) == "/run/keepalived.pid"
    assert seen("blue", None) == "/run/keepalived/blue/keepalived.pid"
    assert seen("blue", "one") == "/run/keepalived/blue/keepalived_one.pid"
    assert seen(None, "one") == "/run/keepalived/keepalived_one.pid"


def test_core_dump_flags_set_the_limit_and_put_the_pattern_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-m``: no core size limit; ``-M PATTERN``: the kernel's pattern for the daemon's
    life, the old one back at its end (here a file stands for /proc's)."""
    import resource

    from pykad.daemon import process

    pattern = tmp_path / "core_pattern"
    pattern.write_text("|/usr/lib/systemd/systemd-coredump %P\n")
    monkeypatch.setattr(process, "CORE_PATTERN", str(pattern))
    before = resource.getrlimit(resource.RLIMIT_CORE)
    try:
        with process._core_dumps(opts(core_dump=True, core_pattern="/tmp/core.%p")):
            assert pattern.read_text() == "/tmp/core.%p"
            assert resource.getrlimit(resource.RLIMIT_CORE)[0] == resource.RLIM_INFINITY
        assert pattern.read_text() == "|/usr/lib/systemd/systemd-coredump %P\n"
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, before)
