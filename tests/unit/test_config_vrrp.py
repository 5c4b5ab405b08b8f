"""The VRRP section: model, defaults, keepalived's messages and checks, references, round trip."""

from __future__ import annotations

import stat
from ipaddress import ip_address, ip_interface
from pathlib import Path

import pytest

from pykad.config.build import NoHost
from pykad.config.load import Loaded, load
from pykad.config.model import write
from pykad.config.scripts import FileStatus, Script
from pykad.config.sections import vrrp
from pykad.config.sections.vrrp import (
    AuthHmac,
    AuthType,
    ChecksumCompat,
    GarpGroup,
    Ipvlan,
    IpvlanType,
    ParamMatch,
    State,
    SyncGroup,
    Tracked,
    TrackGroup,
    TrackProcess,
    UnicastPeer,
    Vmac,
    VrrpConfig,
    VrrpInstance,
    VrrpScript,
)
from pykad.drivers.files import LocalFiles

CORPUS = Path(__file__).resolve().parents[1] / "config_corpus" / "vrrp"
S = 1_000_000


class Host(NoHost):
    """The verdict test's namespace: eth0, eth1, veth0, veth1 and lo; root only."""

    def interface_exists(self, name: str) -> bool:
        return name in ("lo", "eth0", "eth1", "veth0", "veth1")


class Files:
    """A script host where every absolute path is a root-owned file with ``mode``."""

    def __init__(self, mode: int = 0o755) -> None:
        self.mode = mode

    def search_path(self, name: str) -> str | None:
        return f"/usr/bin/{name}"

    def realpath(self, path: str) -> str | None:
        if path.startswith("/nonexistent"):
            return None
        return "/usr/bin/" + path[len("/bin/") :] if path.startswith("/bin/") else path

    def _status(self, path: str) -> FileStatus | None:
        if path.startswith("/nonexistent"):
            return None
        if path == "/bin":
            return FileStatus(stat.S_IFLNK | 0o777, 0, 0)
        if path in ("/", "/usr", "/usr/bin"):
            return FileStatus(stat.S_IFDIR | 0o755, 0, 0)
        return FileStatus(stat.S_IFREG | self.mode, 0, 0)

    def stat(self, path: str) -> FileStatus | None:
        return self._status(path)

    def lstat(self, path: str) -> FileStatus | None:
        return self._status(path)


def read(tmp_path: Path, text: str, files: Files | None = None) -> Loaded:
    (tmp_path / "k.conf").write_text(text)
    return load(
        LocalFiles(), "k.conf", cwd=str(tmp_path), config_id="t", host=Host(), script_host=files
    )


def corpus(tmp_path: Path, name: str, files: Files | None = None) -> Loaded:
    return read(tmp_path, (CORPUS / f"{name}.conf").read_text(), files)


def part(loaded: Loaded) -> VrrpConfig:
    found = loaded.parts["vrrp"]
    assert isinstance(found, VrrpConfig)
    return found


def messages(loaded: Loaded) -> list[str]:
    return [d.message for d in loaded.diagnostics.items if d.severity > 0]


def instance(loaded: Loaded, name: str = "VI_1") -> VrrpInstance:
    found = part(loaded).instance(name)
    assert found is not None
    return found


def write_all(loaded: Loaded) -> str:
    """The whole model as text (the canonical writer)."""
    assert loaded.config is not None
    return write(loaded.config)


# --- values and defaults -----------------------------------------------------------------


def test_minimal_instance_gets_keepalived_s_defaults(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_minimal")
    assert not messages(loaded)
    i = instance(loaded)
    assert i == VrrpInstance(
        name="VI_1",
        vrid=51,
        interface="veth0",
        family=4,
        version=2,
        state=State.BACKUP,
        priority=100,
        advert_int_us=S,
        virtual_ipaddresses=i.virtual_ipaddresses,
        mcast_dst_ip=ip_address("224.0.0.18"),
        unicast_ttl=255,
        accept=True,
        garp_master_delay_us=5 * S,
        garp_master_repeat=5,
        garp_master_refresh_repeat=1,
        garp_lower_prio_delay_us=5 * S,
        garp_lower_prio_repeat=5,
        down_timer_adverts=3,
    )
    (vip,) = i.virtual_ipaddresses
    assert vip.address == ip_interface("192.0.2.100/24")


def test_every_instance_keyword_lands_in_the_model(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_full_backup")
    assert not messages(loaded)
    i = instance(loaded)
    assert (i.state, i.priority, i.advert_int_us, i.preempt_delay_us) == (
        State.BACKUP,
        90,
        3 * S,
        10_500_000,
    )
    assert (i.accept, i.dont_track_primary, i.track_src_ip, i.debug) == (True, True, True, 2)
    assert i.source_address == ip_address("192.0.2.1")
    assert i.mcast_dst_ip == ip_address("224.0.0.19")
    assert (i.promote_secondaries, i.skip_check_adv_addr, i.strict_mode) == (True, True, False)
    assert (i.garp_master_delay_us, i.garp_master_refresh_us, i.garp_master_repeat) == (
        3 * S,
        60 * S,
        2,
    )
    assert (i.garp_master_refresh_repeat, i.garp_lower_prio_delay_us) == (3, 4 * S)
    assert (i.garp_lower_prio_repeat, i.down_timer_adverts) == (6, 5)
    # garp_extra_if only matters when a VIP/eVIP is on another interface (the eVIP is)
    assert (i.garp_extra_if_s, i.garp_extra_if_all) == (10, True)
    assert (i.lower_prio_no_advert, i.higher_prio_send_advert) == (True, True)
    assert (i.kernel_rx_buf_size, i.smtp_alert, i.notify_priority_changes) == (65536, True, True)
    assert i.nopreempt is False
    assert i.track_interfaces == (
        Tracked(name="veth1", weight=-20),
        Tracked(name="eth1", weight=10, reverse=True),
    )
    assert [a.dev for a in i.virtual_ipaddresses_excluded] == ["eth1"]
    assert len(i.virtual_routes) == 1 and len(i.virtual_rules) == 1
    assert (i.auth_type, i.auth_pass) == (AuthType.PASS, "secret")


def test_ipv6_instance_is_vrrpv3_on_ff02_12(tmp_path: Path) -> None:
    i = instance(corpus(tmp_path, "ok_v6_native"))
    assert (i.family, i.version, i.mcast_dst_ip, i.unicast_ttl) == (
        6,
        3,
        ip_address("ff02::12"),
        None,
    )
    # not strict: keepalived keeps VRRPv2 with IPv6 when asked, silently
    loaded = corpus(tmp_path, "ok_v6_version2_not_strict")
    assert not messages(loaded) and instance(loaded).version == 2


def test_unicast_instance(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_unicast")
    assert not messages(loaded)
    i = instance(loaded)
    assert i.unicast and i.mcast_dst_ip is None
    assert i.unicast_peers == (
        UnicastPeer(address=ip_address("192.0.2.11"), min_ttl=10, max_ttl=200),
        UnicastPeer(address=ip_address("192.0.2.12")),
    )
    assert (i.source_address, i.unicast_src_keyword, i.unicast_ttl) == (
        ip_address("192.0.2.10"),
        True,
        10,
    )
    assert (i.check_unicast_src, i.old_unicast_checksum, i.unicast_fault_no_peer) == (
        True,
        ChecksumCompat.NEVER,
        True,
    )


def test_vmac_and_ipvlan(tmp_path: Path) -> None:
    i = instance(corpus(tmp_path, "ok_vmac"))
    assert i.vmac == Vmac(ifname="vrrp51", mac="02:00:00:00:33:51")
    assert (i.use_vmac_addr, i.vmac_xmit_base) == (True, True)
    j = instance(corpus(tmp_path, "ok_ipvlan"))
    assert j.ipvlan == Ipvlan(
        ifname="ipv51", address=ip_interface("192.0.2.50/24"), type=IpvlanType.BRIDGE
    )
    assert j.source_address == ip_address("192.0.2.50")


def test_strict_mode_defaults(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_strict_global")
    assert not messages(loaded)
    i = instance(loaded)
    assert (i.strict_mode, i.accept, i.garp_lower_prio_repeat, i.garp_lower_prio_delay_us) == (
        True,
        False,
        0,
        0,
    )
    assert (i.lower_prio_no_advert, i.higher_prio_send_advert) == (True, False)


def test_defaults_come_from_global_defs(tmp_path: Path) -> None:
    loaded = read(
        tmp_path,
        "vrrp_instance VI_1 {\n interface veth0\n virtual_router_id 9\n"
        " virtual_ipaddress {\n  192.0.2.9\n }\n}\n"
        "global_defs {\n vrrp_garp_master_repeat 7\n vrrp_garp_master_delay 2\n"
        " vrrp_version 3\n vrrp_mcast_group4 224.0.0.99\n smtp_alert\n"
        " vrrp_notify_priority_changes\n}\n",
    )
    assert not messages(loaded)
    i = instance(loaded)
    # global_defs is read first, wherever it is in the file (keepalived's parent reads it)
    assert (i.garp_master_repeat, i.garp_master_delay_us, i.version) == (7, 2 * S, 3)
    assert (i.garp_lower_prio_repeat, i.garp_lower_prio_delay_us) == (7, 2 * S)
    assert (i.mcast_dst_ip, i.smtp_alert, i.notify_priority_changes) == (
        ip_address("224.0.0.99"),
        True,
        True,
    )


def test_priority_and_state_derive_from_each_other(tmp_path: Path) -> None:
    master = instance(corpus(tmp_path, "ok_master_owner"))
    assert (master.state, master.priority, master.accept) == (State.MASTER, 255, True)
    owner = instance(
        read(
            tmp_path,
            "vrrp_instance V {\n interface veth0\n virtual_router_id 1\n priority 255\n"
            " virtual_ipaddress {\n  192.0.2.9\n }\n}\n",
        ),
        "V",
    )
    assert owner.state is State.MASTER


def test_newer_keywords_are_modelled(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "newer_auth_hmac")
    # keepalived 2.2.7 does not know auth_hmac (exit 5); pykad says so and keeps it
    assert all("2.4.0 keyword" in m for m in messages(loaded))
    assert instance(loaded).auth_hmac == AuthHmac(
        keys=(
            ("1", "hex:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"),
            ("2", "a plain text key that is long enough to use"),
        ),
        active_key="1",
        anti_replay="monotonic",
        time_window_s=30,
        mode="permissive",
    )
    newer = instance(corpus(tmp_path, "newer_keywords"))
    assert (newer.no_virtual_ipaddress, newer.v3_checksum_as_v2, newer.owner_ignore_adverts) == (
        True,
        True,
        True,
    )
    assert newer.timer_expired_backup == 0


def test_advert_int_is_rounded_per_version(tmp_path: Path) -> None:
    v2 = corpus(tmp_path, "advert_v2_fraction")
    assert messages(v2) == [
        "(VI_1) VRRPv2 advertisement interval 2.500000s must be an integer. rounding"
    ]
    assert instance(v2).advert_int_us == 3 * S
    v3 = corpus(tmp_path, "advert_v3_fraction")
    assert instance(v3).advert_int_us == 120_000
    big = corpus(tmp_path, "advert_v3_too_big")
    assert messages(big) == [
        "(VI_1) VRRPv3 advertisement interval 50.00s is out of range. Must be less than "
        "40.96s. Setting to 40.95s"
    ]
    assert instance(big).advert_int_us == 40_950_000


def test_scripts_and_tracking(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_scripts", Files())
    assert not messages(loaded)
    (script,) = part(loaded).scripts
    assert script == VrrpScript(
        name="chk",
        script=Script(("/bin/true", "--check", "two words"), "root", "root"),
        interval_us=2 * S,
        timeout_us=3 * S,
        weight=-10,
        weight_reverse=True,
        rise=2,
        fall=3,
        init_fail=True,
    )
    i = instance(loaded)
    # the weight is the line's, reverse the script's
    assert i.track_scripts == (Tracked(name="chk", weight=5, reverse=True),)
    assert i.notify_master == Script(("/bin/true", "master"))
    assert i.notify_fault == Script(("/bin/true",), "root")
    assert i.notify_deleted and i.notify_deleted_script == Script(("/bin/true",))
    assert i.notify_master_rx_lower_pri == Script(("/bin/true",))


def test_scripts_without_script_security_are_a_security_violation(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "script_no_security", Files())
    assert messages(loaded) == [
        "SECURITY VIOLATION - scripts are being executed but script_security not enabled."
    ]
    assert loaded.diagnostics.exit_code() == 6
    insecure = corpus(tmp_path, "notify_no_security", Files(0o777))
    assert messages(insecure)[-1].endswith("not enabled. There are insecure scripts.")
    # without a script host nothing is vetted
    assert corpus(tmp_path, "script_no_security").diagnostics.exit_code() == 0


def test_track_scripts_that_cannot_run_are_disabled(tmp_path: Path) -> None:
    missing = corpus(tmp_path, "script_notfound_secure", Files())
    assert messages(missing) == ["Disabling track script chk since not found/accessible"]
    assert instance(missing).track_scripts == ()
    insecure = corpus(tmp_path, "ok_scripts", Files(0o777))
    assert messages(insecure) == ["Disabling track script chk due to insecure"]
    assert instance(insecure).track_scripts == ()
    assert instance(insecure).notify_master is None  # notify scripts go silently
    # /bin is a symlink to /usr/bin: keepalived vets the real path only
    assert not messages(corpus(tmp_path, "ok_scripts", Files()))


def test_default_script_user_missing(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "default_script_user_missing", Files())
    assert messages(loaded) == ["Unable to set default user keepalived_script for script"]
    assert instance(loaded).notify_master is None


def test_sync_group(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_sync_group", Files())
    assert not messages(loaded)
    (group,) = part(loaded).sync_groups
    assert group == SyncGroup(
        name="G1",
        members=("VI_1", "VI_2"),
        track_interfaces=(Tracked(name="veth1", weight=10),),
        track_scripts=(Tracked(name="chk", weight=2),),
        notify_backup=Script(("/bin/true",)),
        notify_master=Script(("/bin/true",)),
        notify_fault=Script(("/bin/true",)),
        notify_stop=Script(("/bin/true",)),
        notify=Script(("/bin/true",)),
        smtp_alert=False,
        sync_group_tracking_weight=True,
        notify_priority_changes=True,
    )
    # members inherit notify_priority_changes from their group
    assert instance(loaded, "VI_2").notify_priority_changes is True


def test_track_process_track_group_garp_group(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_track_process")
    assert not messages(loaded)
    assert part(loaded).track_processes == (
        TrackProcess(
            name="proc",
            process="sshd",
            parameters=("-D",),
            param_match=ParamMatch.INITIAL,
            weight=10,
            weight_reverse=True,
            quorum=2,
            quorum_max=3,
            terminate_delay_us=2 * S,  # delay 1.5 sets both, the later lines one each
            fork_delay_us=500_000,
            full_command=True,
        ),
    )
    assert instance(loaded).track_processes == (Tracked(name="proc", weight=5, reverse=True),)
    groups = corpus(tmp_path, "ok_track_group")
    assert part(groups).track_groups == (TrackGroup(name="TG", members=("VI_1",)),)
    garp = corpus(tmp_path, "ok_garp_group")
    assert part(garp).garp_groups == (
        GarpGroup(
            garp_interval_us=10_000,
            gna_interval_us=20_000,
            interfaces=("eth0",),
            aggregated_interfaces=("eth1",),
        ),
    )
    beat = part(corpus(tmp_path, "ok_linkbeat_updown"))
    assert [(b.name, b.type and b.type.value) for b in beat.linkbeat_interfaces] == [
        ("eth0", "MII"),
        ("eth1", None),
    ]
    assert [(u.name, u.down_us, u.up_us) for u in beat.up_down_delays] == [
        ("eth0", S, 2 * S),
        ("eth1", 500_000, 0),
    ]


def test_references_resolve_in_file_order(tmp_path: Path) -> None:
    later = corpus(tmp_path, "track_script_defined_later", Files())
    assert messages(later)[0] == "(VI_1) track script chk not found, ignoring..."
    assert instance(later).track_scripts == ()
    bfd_ok = corpus(tmp_path, "ok_track_bfd")
    assert instance(bfd_ok).track_bfds == (Tracked(name="b1", weight=-20),)
    text = (
        'track_file tf {\n file "/tmp/x"\n weight 3 reverse\n}\n'
        "vrrp_instance VI_1 {\n interface veth0\n virtual_router_id 1\n"
        " track_file {\n  tf\n  other\n }\n virtual_ipaddress {\n  192.0.2.9\n }\n}\n"
    )
    loaded = read(tmp_path, text)
    assert messages(loaded) == ["(VI_1) track file other not found, ignoring..."]
    assert instance(loaded).track_files == (Tracked(name="tf", weight=3, reverse=True),)


# --- keepalived's messages ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected", "code"),
    [
        ("vrid_300", ["number '300' outside range [1, 255]",
                      "(VI_1): VRID '300' not valid - must be between 1 & 255",
                      "(VI_1) the virtual router id must be set"], 5),
        ("priority_zero", ["number '0' outside range [1, 255]",
                           "(VI_1) Priority not valid! must be between 1 & 255. Using default "
                           "100"], 5),
        ("state_bad", ["(VI_1) unknown state 'master', defaulting to BACKUP"], 5),
        ("no_vip_v2", ["(VI_1) No VIP specified; at least one is sensible",
                       "(VI_1) No VIP specified; at least one is sensible"], 5),
        ("no_vip_global_v3", ["(VI_1) No VIP specified; at least one is required"], 5),
        ("interface_missing_stops_checks", [
            "WARNING - interface nosuch0 for vrrp_instance VI_1 doesn't exist",
            "Non-existent interface specified in configuration"], 5),
        ("interface_loopback", ["(VI_1) cannot use a loopback interface (lo) for vrrp - ignoring",
                                "(VI_1) Unknown interface!"], 5),
        ("dup_vrid_same_if", ["VI_1 and VI_2 both use VRID 51 with IPv4 on interface veth0"], 5),
        ("dup_vrid_unicast_same_peer", ["(VI_1) duplicate VRID conflict with VI_2 VRID 51"], 5),
        ("strict_garp_lower", [
            "(VI_1) down_timer_adverts is incompatible with strict mode - resetting",
            "(VI_1) Strict mode requires no repeat garps. resetting",
            "(VI_1) Strict mode requires no repeat garp delay. resetting",
            "(VI_1) Strict mode requires no lower priority advert. resetting",
            "(VI_1) strict mode requires higher_prio_send_advert to be clear. resetting"], 5),
        ("auth_long_pass", ["Truncating auth_pass to 8 characters"], 5),
        ("unicast_src_no_peers", [
            "(VI_1) A unicast keyword has been specified without any unicast peers. Defaulting "
            "to multicast. This usage is deprecated - please update your configuration."], 5),
        ("unicast_ttl_no_peers", [
            "(VI_1): Cannot use unicast_ttl without unicast peers - resetting"], 5),
        ("track_weight_254", ["(VI_1) weight for veth1 cannot be +/-254. Setting to +/-253"], 5),
        ("track_if_own", ["(VI_1) Ignoring track_interface veth0 since own interface"], 5),
        ("prio255_weighted_script", [
            "(VI_1) ignoring veth1 tracked interface due to address owner",
            "(VI_1) ignoring tracked script chk with weights due to address_owner"], 5),
        ("sync_member_twice", [
            "Virtual router VI_1 cannot exist in more than one sync group; ignoring H",
            "Virtual router VI_2 cannot exist in more than one sync group; ignoring H",
            "Sync group H, no matching virtual router found in group declaration - removing"], 5),
        ("sync_owner_weighted_group_track", [
            "(G) Cannot have weighted track interface 'eth1' with member having priority 255 - "
            "clearing weight"], 5),
        ("too_many_ipv6_vips", [
            "(VI_1) Number of VIPs (94) exceeds maximum/space available in packet (max 89 "
            "addresses) - excess moved to eVIPs"], 5),
        ("script_bad_values", [
            "(chk): vrrp script interval must be greater than 0, setting to 1",
            "(chk): vrrp script timeout must be greater than 0, setting to 1",
            "number '300' outside range [-253, 253]",
            "vrrp_script chk weight 300 must be in [-253, 253]",
            "number '0' outside range [1, 2147483647]",
            "(chk): vrrp script rise value '0' invalid, defaulting to 1",
            "invalid number 'x'",
            "(chk): vrrp script fall value 'x' invalid, defaulting to 1"], 5),
        ("linkbeat_unknown_if", ["unknown interface nosuch4 specified for linkbeat interface"], 4),
        ("vmac_garp_intvl_deprecated", [
            'Keyword "vmac_garp_intvl" is deprecated - please use "garp_extra_if"'], 5),
        ("ok_unicast_strict", [], 0),
        ("ok_v6_not_link_local_first", [], 0),
    ],
)  # fmt: skip
def test_messages_are_keepalived_s(
    tmp_path: Path, name: str, expected: list[str], code: int
) -> None:
    loaded = corpus(tmp_path, name, Files())
    assert messages(loaded) == expected
    assert loaded.diagnostics.exit_code() == code


def test_a_missing_parameter_stops_with_exit_2(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "priority_no_value")
    assert loaded.config is None and loaded.diagnostics.exit_code() == 2


def test_a_missing_parameter_exits_2_whatever_came_before(tmp_path: Path) -> None:
    text = "vrrp_instance VI_1 {\n interface nosuch\n virtual_router_id 300\n priority\n}\n"
    assert read(tmp_path, text).diagnostics.exit_code() == 2  # keepalived -t: 2


def test_the_first_rejected_instance_stops_the_vrrp_checks(tmp_path: Path) -> None:
    text = (
        "vrrp_instance A {\n interface veth0\n virtual_router_id 1\n version 3\n}\n"
        "vrrp_instance B {\n interface veth0\n virtual_router_id 2\n priority 0\n"
        " virtual_ipaddress {\n  192.0.2.9\n }\n advert_int 1.5\n}\n"
    )
    loaded = read(tmp_path, text)
    assert messages(loaded)[-1] == "(A) No VIP specified; at least one is required"
    assert "rounding" not in " ".join(messages(loaded))
    assert part(loaded).instances == ()


def test_ipv6_vip_overflow_moves_to_evips(tmp_path: Path) -> None:
    i = instance(corpus(tmp_path, "too_many_ipv6_vips"))
    assert (len(i.virtual_ipaddresses), len(i.virtual_ipaddresses_excluded)) == (89, 5)


# --- the writer -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.conf")), ids=lambda p: p.stem)
def test_round_trip(tmp_path: Path, path: Path) -> None:
    loaded = corpus(tmp_path, path.stem)
    if loaded.config is None:
        assert loaded.diagnostics.exit_code() == 2
        return
    again = read(tmp_path, write_all(loaded))
    assert again.parts["vrrp"] == loaded.parts["vrrp"]
    if loaded.diagnostics.exit_code() == 0:
        assert not [m for m in messages(again) if "2.2.7" not in m]


def test_written_text_reads_back(tmp_path: Path) -> None:
    config = read(tmp_path, (CORPUS / "ok_full_backup.conf").read_text())
    text = "\n".join(vrrp.write(part(config)))
    assert "    virtual_router_id 51" in text and "    advert_int 3" in text
    assert "        veth1 weight -20" in text
    assert "    preempt_delay 10.5" in text


def test_pykad_bfd_takeover_is_a_pykad_keyword(tmp_path: Path) -> None:
    loaded = read(
        tmp_path,
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n"
        " pykad_bfd_takeover\n virtual_ipaddress {\n  192.0.2.10\n }\n}\n",
    )
    assert instance(loaded).bfd_takeover
    assert messages(loaded) == []  # not a warning: pykad -t still passes
    notes = [d.message for d in loaded.diagnostics.items]
    assert "'pykad_bfd_takeover' is a pykad keyword: keepalived ignores it as unknown" in notes
    assert "    pykad_bfd_takeover" in write_all(loaded).splitlines()


@pytest.mark.parametrize(
    ("extra", "other_vip", "kept"),
    [  # keepalived 2.2.7's data dump for each ("Gratuitous ARP for each secondary VMAC")
        ("garp_extra_if 1", "198.51.100.11/24 dev eth1", False),
        ("garp_extra_if 1", "", False),
        ("garp_extra_if 1", "198.51.100.10/24 dev eth1 use_vmac", True),
        ("garp_extra_if 1\n    use_vmac_addr", "198.51.100.11/24 dev eth1", True),
        ("garp_extra_if all 1", "198.51.100.11/24 dev eth1", True),
    ],
)
def test_garp_extra_if_holds_when_a_vip_is_on_a_vmac_elsewhere_or_with_all(
    tmp_path: Path, extra: str, other_vip: str, kept: bool
) -> None:
    loaded = read(
        tmp_path,
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n"
        f"    {extra}\n    virtual_ipaddress {{\n        192.0.2.10/24\n"
        f"        {other_vip}\n    }}\n}}\n",
    )
    assert instance(loaded).garp_extra_if_s == (1 if kept else 0)
