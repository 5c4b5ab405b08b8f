"""global_defs and the global top-level keywords: model, defaults, messages, round trip."""

from __future__ import annotations

import stat
from ipaddress import ip_address
from pathlib import Path

import pytest

from pykad.config.build import Builders, Context, NoHost
from pykad.config.diagnostics import Diagnostics, Location
from pykad.config.load import Loaded, load
from pykad.config.scripts import FileStatus, Script
from pykad.config.sections import global_defs as g
from pykad.config.sections.global_defs import (
    Garp,
    GlobalDefs,
    LvsFlushOnStop,
    LvsSyncDaemon,
    RxBufsPolicy,
)
from pykad.config.tree import Statement
from pykad.drivers.files import LocalFiles

CORPUS = Path(__file__).resolve().parents[1] / "config_corpus" / "global"


class Users(NoHost):
    """Root, plus the users given."""

    def __init__(self, **users: tuple[int, int]) -> None:
        self.users = users

    def user_ids(self, name: str) -> tuple[int, int] | None:
        return self.users.get(name) or super().user_ids(name)

    def group_id(self, name: str) -> int | None:
        return self.users[name][1] if name in self.users else super().group_id(name)


class Files:
    """A script host where every absolute path is a root-owned executable (or missing)."""

    def __init__(self, mode: int = 0o755, missing: tuple[str, ...] = ()) -> None:
        self.mode, self.missing = mode, missing

    def search_path(self, name: str) -> str | None:
        return f"/usr/bin/{name}"

    def _gone(self, path: str) -> bool:
        return any(path.startswith(m) for m in self.missing)

    def realpath(self, path: str) -> str | None:
        return None if self._gone(path) else path

    def _status(self, path: str) -> FileStatus | None:
        if self._gone(path):
            return None
        if path in ("/", "/bin", "/usr", "/usr/bin", "/etc", "/proc", "/run"):
            return FileStatus(stat.S_IFDIR | 0o755, 0, 0)
        return FileStatus(stat.S_IFREG | self.mode, 0, 0)

    def stat(self, path: str) -> FileStatus | None:
        return self._status(path)

    def lstat(self, path: str) -> FileStatus | None:
        return self._status(path)


def read(
    tmp_path: Path, text: str, host: NoHost | None = None, files: Files | None = None
) -> Loaded:
    (tmp_path / "k.conf").write_text(text)
    return load(
        LocalFiles(),
        "k.conf",
        cwd=str(tmp_path),
        config_id="t",
        host=host or NoHost(),
        script_host=files,
    )


def defs(loaded: Loaded) -> GlobalDefs:
    part = loaded.parts["global"]
    assert isinstance(part, GlobalDefs)
    return part


def messages(loaded: Loaded) -> list[str]:
    return [d.message for d in loaded.diagnostics.items if d.severity > 0]


def corpus(tmp_path: Path, name: str, **kw: object) -> Loaded:
    return read(tmp_path, (CORPUS / f"{name}.conf").read_text(), **kw)  # type: ignore[arg-type]


def test_defaults_are_keepalived_s(tmp_path: Path) -> None:
    d = defs(read(tmp_path, ""))
    assert d == GlobalDefs()
    assert d.garp == Garp(master_delay_us=5_000_000, master_repeat=5, master_refresh_s=0,
                          master_refresh_repeat=1, lower_prio_delay_us=5_000_000,
                          lower_prio_repeat=5)  # fmt: skip
    assert (d.vrrp_version, d.vrrp_down_timer_adverts, d.vrrp_rx_bufs_multiplier) == (2, 3, 3)
    assert (d.vrrp_mcast_group4, d.vrrp_mcast_group6) == (
        ip_address("224.0.0.18"),
        ip_address("ff02::12"),
    )
    assert (d.umask, d.child_wait_time_s, d.default_interface) == (0o177, 5, "eth0")
    assert d.vrrp_process.rlimit_rttime_us is None  # keepalived's 10 ms in dumps
    assert d.min_auto_priority_delay_us == 1_000_000
    assert d.dbus.service_name == "org.keepalived.Vrrp1"
    assert d.smtp.connect_timeout_us is None and d.router_id is None


def test_defaults_applied_after_parsing(tmp_path: Path) -> None:
    d = defs(read(tmp_path, "instance i1\nglobal_defs {\n smtp_server 192.0.2.9\n"
                            " vrrp_garp_master_repeat 7\n vrrp_garp_master_delay 2\n"
                            " reload_file\n startup_script_timeout 3\n}\n"))  # fmt: skip
    assert d.smtp.connect_timeout_us == 30_000_000
    assert (d.smtp.server, d.smtp.port) == (ip_address("192.0.2.9"), 25)
    assert (d.garp.lower_prio_repeat, d.garp.lower_prio_delay_us) == (7, 2_000_000)
    assert d.use_pid_dir and d.reload.file == "/run/keepalived/keepalived_i1.reload"
    assert d.startup_script_timeout_s == 3
    assert defs(read(tmp_path, "global_defs {\n reload_file\n}\n")).reload.file == (
        "/run/keepalived.reload"
    )


def test_values(tmp_path: Path) -> None:
    d = defs(corpus(tmp_path, "ok_email"))
    assert d.router_id == "lb_01"
    assert d.smtp.emails == ("ops@example.com", "noc@example.com", "dev@example.com")
    assert (d.smtp.port, d.smtp.connect_timeout_us, d.smtp.helo_name) == (
        2525,
        12_000_000,
        "lb01.example.com",
    )
    assert (d.smtp.alert, d.smtp.alert_vrrp, d.smtp.alert_checker) == (True, False, True)
    v = defs(corpus(tmp_path, "ok_vrrp_defaults"))
    assert v.garp == Garp(master_delay_us=3_000_000, master_repeat=2, master_refresh_s=60,
                          master_refresh_repeat=2, lower_prio_delay_us=4_000_000,
                          lower_prio_repeat=3, interval_us=10_000, gna_interval_us=20_000,
                          extra_if_s=30, extra_if_all=True)  # fmt: skip
    assert (v.vrrp_version, v.vrrp_startup_delay_us, v.vrrp_rx_bufs_policy) == (
        3,
        1_500_000,
        RxBufsPolicy.ADVERT,
    )
    assert (v.dynamic_interfaces, v.allow_if_changes, v.default_interface) == (True, True, "eth1")
    lvs = defs(corpus(tmp_path, "ok_lvs"))
    assert lvs.lvs_sync_daemon == LvsSyncDaemon(
        interface="eth0", instance="VI_1", sync_id=10, max_len=1400, port=8848, ttl=2,
        group=ip_address("224.0.0.81"),
    )  # fmt: skip
    assert (lvs.lvs_timeouts.tcp, lvs.lvs_timeouts.tcpfin, lvs.lvs_timeouts.udp) == (900, 120, 300)
    assert lvs.lvs_flush_on_stop is LvsFlushOnStop.VS
    p = defs(corpus(tmp_path, "ok_processes"))
    assert (p.vrrp_process.priority, p.vrrp_process.rt_priority) == (-5, 50)
    assert p.vrrp_process.rlimit_rttime_us == 7000  # the deprecated synonym, later
    assert p.bfd_process.rlimit_rttime_us == 2  # 1 is raised to 2
    n = defs(corpus(tmp_path, "ok_nftables")).nftables
    assert (n.table, n.priority, n.ipvs_table, n.ipvs_priority, n.ipvs_start_fwmark) == (
        "kad_table",
        -5,
        "keepalived_ipvs",
        3,
        2000,
    )
    u = defs(corpus(tmp_path, "ok_umask_seed"))
    assert (u.umask, u.random_seed) == (0o022, 12345)  # the second umask is refused


def test_min_garp_only_changes_defaults(tmp_path: Path) -> None:
    d = defs(corpus(tmp_path, "min_garp_after_settings"))
    assert (d.garp.master_repeat, d.garp.master_delay_us) == (3, 2_000_000)
    assert (d.garp.master_refresh_s, d.garp.master_refresh_repeat) == (0, 0)
    assert messages(corpus(tmp_path, "min_garp_after_settings")) == [
        "Invalid value for vrrp_min_garp specified"
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("process_name_too_long", ["Process name a_process_name_longer_than_fifteen more than "
                                   "15 characters, truncating"]),
        ("smtp_bad_port", ["number '70000' outside range [1, 65535]"] * 2
         + ["Invalid smtp server 192.0.2.25 70000"]),
        ("smtp_connect_timeout_zero", ["smtp_conect_timeout must be greater than 0, setting to 1"]),
        ("max_auto_priority_bad", ["number '200' outside range [-1, 99]",
                                   "max_auto_priority '200' must be in [0, 99] (or -1 to disable) "
                                   "- ignoring"]),
        ("rt_priority_clamped", ["vrrp process real-time priority 200 greater than maximum 99 - "
                                 "setting to maximum"]),
        ("mcast_group6_not_link_local", ["vrrp_mcast_group6 [ff05::12] should be link-local "
                                         "multicast."]),
        ("vrrp_version_bad", ["number '4' outside range [2, 3]",
                              "VRRP Error: Version must be either 2 or 3"]),
        ("vrrp_iptables", ["iptables not supported, using nftables instead. Please replace "
                           "'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option"]),
        ("vrrp_ipsets", ["Unknown keyword 'vrrp_ipsets'"]),
        ("cpu_affinity_bad", ["invalid number 'x'", "Invalid cpu_id:0 specified for bfd process"]),
        ("lvs_sync_daemon_legacy", ['Please use keyword "id" before lvs_sync_daemon SYNCID']),
        ("lvs_timeouts_bad", ["number '99999999' outside range [0, 2678400]",
                              "Invalid lvs_timeout tcp (99999999) - ignoring",
                              "Unknown option sctp specified for lvs_timeouts",
                              "Unknown option 5 specified for lvs_timeouts",
                              "No value specified for lvs_timeout udp - ignoring"]),
        ("rx_bufs_conflict", ["Cannot set both vrrp_rx_bufs_policy MTU and ADVERT, ignoring "
                              "ADVERT", "Invalid vrrp_rx_bufs_multiplier"]),
        ("umask_bad_bit", ["Unknown umask bit |IXOTH"]),
        ("config_save_dir_not_dir", ["config_save_dir /etc/passwd exists and is not a directory"]),
        ("data_use_instance_bad", ["Invalid value 'sure' for global date_use_instance specified"]),
        ("top_level_duplicates", ["Duplicate instance definition two - ignoring",
                                  "instance name missing - ignoring",
                                  "Duplicate net_namespace_ipvs definition other - ignoring"]),
    ],
)  # fmt: skip
def test_messages_are_keepalived_s(tmp_path: Path, name: str, expected: list[str]) -> None:
    loaded = corpus(tmp_path, name, files=Files())
    assert messages(loaded) == expected
    assert loaded.diagnostics.exit_code() == 5


def test_missing_parameter_stops(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "mcast_group4_missing")
    assert loaded.config is None and loaded.diagnostics.exit_code() == 2


def test_start_stop_scripts_need_script_security(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "startup_script_no_security", files=Files())
    assert messages(loaded) == [
        "SECURITY VIOLATION - start/shutdown scripts are being executed but script_security "
        "not enabled."
    ]
    assert loaded.diagnostics.exit_code() == 6
    insecure = corpus(tmp_path, "startup_script_no_security", files=Files(mode=0o777))
    assert messages(insecure)[-1].endswith("There are insecure scripts.")
    missing = corpus(tmp_path, "script_missing_file", files=Files(missing=("/nonexistent",)))
    assert missing.diagnostics.exit_code() == 0
    secure = corpus(tmp_path, "startup_script_secure", files=Files())
    d = defs(secure)
    assert d.startup_script == Script(("/bin/true", "started"))
    assert d.shutdown_script == Script(("/bin/true",), "root", "root")
    assert (d.startup_script_timeout_s, d.shutdown_script_timeout_s) == (5, 20)
    assert secure.diagnostics.exit_code() == 0


def test_default_script_user_as_keepalived_resolves_it(tmp_path: Path) -> None:
    # script security on before the first script, no keepalived_script user: refused
    text = "global_defs {\n enable_script_security\n startup_script /bin/true\n}\n"
    loaded = read(tmp_path, text, files=Files())
    assert messages(loaded) == [
        "Unable to set default user keepalived_script for script",
        "Invalid startup script",
    ]
    assert defs(loaded).startup_script is None
    # with that user it is the default
    ok = read(tmp_path, text, host=Users(keepalived_script=(990, 991)), files=Files())
    assert not messages(ok) and defs(ok).startup_script == Script(("/bin/true",))
    # a script before enable_script_security fixes the default user to root
    late = corpus(tmp_path, "script_security_default_user", files=Files())
    assert not messages(late) and late.diagnostics.exit_code() == 0


def builder(text: str, host: NoHost) -> g.Builder:
    from pykad.config.reader import Reader
    from pykad.config.tree import build_tree

    class Text:
        def glob(self, pattern: str) -> list[str]:
            return [pattern]

        def exists(self, path: str) -> bool:
            return True

        def kind(self, path: str) -> str:
            return "file"

        def read(self, path: str) -> str:
            return text

    import random

    reader = Reader(Text(), "k.conf", "/", "t", random.Random(0))
    tree = build_tree(reader.lines(), reader.diagnostics)
    ctx = Context(Diagnostics(), host)
    b = g.Builder(ctx, Builders())
    for st in tree:
        if st.keyword in b.keywords:
            ctx.at(st)
            b.statement(st)
    b.finish()
    return b


def test_script_ids(tmp_path: Path) -> None:
    assert builder("", NoHost()).script_ids() == (0, 0)
    assert builder("", Users(keepalived_script=(990, 991))).script_ids() == (990, 991)
    users = Users(keepalived_script=(990, 991), nobody=(65534, 65534), staff=(0, 50))
    assert builder("global_defs {\n script_user nobody\n}\n", users).script_ids() == (
        65534,
        65534,
    )
    assert builder("global_defs {\n script_user nobody staff\n}\n", users).script_ids() == (
        65534,
        50,
    )
    b = builder("global_defs {\n script_user ghost\n}\n", users)
    assert b.default_script_user() is None and b.defs is not None
    assert b.defs.script_user == "ghost"


def test_cpu_affinity_checks_online_cpus(tmp_path: Path) -> None:
    class TwoCpus(NoHost):
        def online_cpus(self) -> int:
            return 2

    loaded = read(tmp_path, "global_defs {\n vrrp_cpu_affinity 1 0\n checker_cpu_affinity 2\n}\n",
                  host=TwoCpus())  # fmt: skip
    assert messages(loaded) == [
        "number '2' outside range [0, 1]",
        "Invalid cpu_id:2 specified for checker process",
    ]
    assert defs(loaded).vrrp_process.cpu_affinity == (0, 1)


def test_include_check_is_stored(tmp_path: Path) -> None:
    assert defs(corpus(tmp_path, "ok_reload_misc")).include_check == g.INCLUDE_R | g.INCLUDE_W
    assert defs(read(tmp_path, "global_defs {\n include_check\n}\n")).include_check == 15
    assert g.include_check_flags(("include_check", "-read", "+match"), 15) == 14


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.conf")), ids=lambda p: p.stem)
def test_round_trip(tmp_path: Path, path: Path) -> None:
    loaded = read(tmp_path, path.read_text(), files=Files())
    if loaded.config is None:
        return  # stopped: a missing parameter
    part = defs(loaded)
    text = "\n".join(g.write(part)) + "\n"
    again = read(tmp_path, text, files=Files())
    assert defs(again) == part, text
    if not messages(loaded):
        assert not [m for m in messages(again) if "2.2.7" not in m], text


def test_written_text(tmp_path: Path) -> None:
    d = GlobalDefs(router_id="my host", vrrp_strict=True, umask=0o22)
    text = "\n".join(g.write(d))
    assert 'router_id "my host"' in text and "umask 022" in text and "vrrp_strict" in text
    assert defs(read(tmp_path, text + "\n")) == d
    assert list(g.write(GlobalDefs())) == [
        "global_defs {",
        "    vrrp_garp_master_delay 5",
        "    vrrp_garp_master_repeat 5",
        "    vrrp_garp_master_refresh 0",
        "    vrrp_garp_master_refresh_repeat 1",
        "    vrrp_garp_lower_prio_delay 5",
        "    vrrp_garp_lower_prio_repeat 5",
        "}",
    ]


def test_statement_location_is_kept() -> None:
    ctx = Context(Diagnostics(), NoHost())
    b = g.Builder(ctx, Builders())
    st = Statement("child_wait_time", ("child_wait_time", "x"), "child_wait_time x",
                   Location("k.conf", 3), "")  # fmt: skip
    ctx.at(st)
    b.statement(st)
    assert [str(d) for d in ctx.diagnostics.items] == [
        "k.conf:3: error: invalid number 'x'",
        "k.conf:3: error: Invalid child_wait_time x",
    ]


class _Namespaces(NoHost):
    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.entered: list[str] = []

    def enter_namespace(self, name: str) -> bool:
        self.entered.append(name)
        return name in self.known


def test_net_namespace_that_cannot_be_entered_ends_with_exit_0(tmp_path: Path) -> None:
    (tmp_path / "k.conf").write_text("net_namespace blue\nglobal_defs {\n    router_idd x\n}\n")
    host = _Namespaces(set())
    loaded = load(LocalFiles(), "k.conf", cwd=str(tmp_path), config_id="t", host=host)
    assert host.entered == ["blue"] and loaded.config is None
    assert loaded.diagnostics.exit_code() == 0  # as keepalived: it exits there
    host = _Namespaces({"blue"})
    loaded = load(LocalFiles(), "k.conf", cwd=str(tmp_path), config_id="t", host=host)
    assert loaded.diagnostics.exit_code() == 5
