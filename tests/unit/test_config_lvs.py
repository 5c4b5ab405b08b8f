"""The LVS section (virtual servers, groups, real servers, checkers): model, defaults,
inheritance, keepalived's messages and round trip."""

from __future__ import annotations

import stat
from ipaddress import IPv4Address, ip_address
from pathlib import Path
from typing import Any

import pytest

from pykad.config.build import NoHost
from pykad.config.load import Loaded, load
from pykad.config.model import write
from pykad.config.scripts import FileStatus, Script
from pykad.config.sections import lvs
from pykad.config.sections._lvs_checkers import _dns_name_invalid, hex_text, read_hex
from pykad.config.sections._lvs_model import (
    BfdCheck,
    Connection,
    DnsCheck,
    DnsType,
    FileCheck,
    Forwarding,
    GroupFwmark,
    GroupRange,
    HttpCheck,
    HttpProtocol,
    LvsConfig,
    Method,
    MiscCheck,
    Protocol,
    RealServer,
    Scheduler,
    SmtpCheck,
    SorryServer,
    TcpCheck,
    TunnelChecksum,
    TunnelType,
    UdpCheck,
    Url,
    VirtualServer,
    VirtualServerGroup,
)
from pykad.drivers.files import LocalFiles

CORPUS = Path(__file__).resolve().parents[1] / "config_corpus" / "lvs"
US = 1_000_000


def read(tmp_path: Path, text: str, **kw: Any) -> Loaded:
    (tmp_path / "k.conf").write_text(text)
    kw.setdefault("host", NoHost())
    return load(LocalFiles(), "k.conf", cwd=str(tmp_path), config_id="t", **kw)


def part(loaded: Loaded) -> LvsConfig:
    result = loaded.parts["lvs"]
    assert isinstance(result, LvsConfig)
    return result


def corpus(tmp_path: Path, name: str) -> Loaded:
    return read(tmp_path, (CORPUS / f"{name}.conf").read_text())


def messages(loaded: Loaded) -> list[str]:
    return [d.message for d in loaded.diagnostics.items if d.severity > 0]


def test_a_minimal_service_gets_keepalived_s_defaults(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_minimal_tcp")
    assert loaded.diagnostics.exit_code() == 0
    assert part(loaded) == LvsConfig(virtual_servers=(
        VirtualServer(
            address=ip_address("192.0.2.10"), port=80, family=4, protocol=Protocol.TCP,
            scheduler=Scheduler.RR, forwarding=Forwarding(method=Method.NAT),
            real_servers=(RealServer(
                address=ip_address("192.0.2.20"), port=80, weight=1, smtp_alert=True,
                checks=(TcpCheck(retry=1, delay_loop_us=60 * US, warmup_us=60 * US,
                                 delay_before_retry_us=US, connection=Connection()),),
            ),),
        ),
    ))  # fmt: skip


def test_missing_protocol_scheduler_and_method_default_to_udp_wlc_nat(tmp_path: Path) -> None:
    loaded = read(
        tmp_path,
        "virtual_server 192.0.2.10 80 {\n real_server 192.0.2.20 80 {\n }\n}\n",
    )
    assert messages(loaded) == [
        "Virtual server [192.0.2.10]:none:80: no protocol set - defaulting to UDP",
        "Virtual server [192.0.2.10]:udp:80: no scheduler set, setting default 'wlc'",
        "Virtual server [192.0.2.10]:udp:80: no forwarding method set, setting default NAT",
    ]
    (vs,) = part(loaded).virtual_servers
    assert (vs.protocol, vs.scheduler, vs.forwarding.method) == (
        Protocol.UDP,
        Scheduler.WLC,
        Method.NAT,
    )
    assert loaded.diagnostics.exit_code() == 5


def test_virtual_server_keywords(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_vs_all_keywords")
    assert not messages(loaded)
    (vs,) = part(loaded).virtual_servers
    assert vs == VirtualServer(
        address=ip_address("192.0.2.10"), port=80, family=4, protocol=Protocol.TCP,
        scheduler=Scheduler.RR, forwarding=Forwarding(), delay_loop_us=10_500_000,
        connect_timeout_us=3 * US, retry=2, delay_before_retry_us=1_500_000, warmup_us=2 * US,
        persistence_timeout=600, persistence_granularity=IPv4Address("255.255.255.0"),
        persistence_engine="sip", ha_suspend=True, smtp_alert=True,
        virtualhost="www.example.com", snmp_name="web1", alpha=True, omega=True, quorum=1,
        hysteresis=0, weight=2, inhibit_on_failure=True,
        sorry_server=SorryServer(address=ip_address("192.0.2.30"), port=80, inhibit=True),
        real_servers=vs.real_servers,
    )  # fmt: skip
    (rs,) = vs.real_servers
    # a real server inherits from its virtual server, a checker from its real server
    assert (rs.weight, rs.alpha, rs.inhibit_on_failure, rs.retry, rs.connect_timeout_us) == (
        2, True, True, 2, 3 * US,
    )  # fmt: skip
    assert (rs.delay_loop_us, rs.warmup_us, rs.delay_before_retry_us) == (
        10_500_000,
        2 * US,
        1_500_000,
    )
    (check,) = rs.checks
    assert isinstance(check, TcpCheck)
    assert (check.alpha, check.retry, check.delay_loop_us, check.warmup_us) == (
        True, 2, 10_500_000, 2 * US,
    )  # fmt: skip
    assert check.delay_before_retry_us == 1_500_000
    assert check.connection.connect_timeout_us == 3 * US


def test_checker_defaults_differ_by_kind(tmp_path: Path) -> None:
    text = """virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    delay_loop 10
    real_server 192.0.2.20 80 {
        connect_timeout 2
        TCP_CHECK {
        }
        HTTP_GET {
            url {
                path /
            }
        }
        DNS_CHECK {
        }
        SMTP_CHECK {
        }
    }
}
"""
    loaded = read(tmp_path, text)
    assert not messages(loaded)
    tcp, http, dns, smtp = part(loaded).virtual_servers[0].real_servers[0].checks
    assert isinstance(tcp, TcpCheck) and isinstance(http, HttpCheck)
    assert isinstance(dns, DnsCheck) and isinstance(smtp, SmtpCheck)
    assert (tcp.retry, tcp.delay_before_retry_us, tcp.warmup_us) == (1, US, 10 * US)
    assert (http.retry, http.delay_before_retry_us) == (1, 3 * US)
    assert http.urls == (Url(path="/", status_codes=((200, 299),)),)
    assert (dns.retry, dns.delay_before_retry_us, dns.type, dns.name) == (
        3, 10 * US, DnsType.SOA, "",
    )  # fmt: skip
    assert smtp.helo_name == "smtpchecker.keepalived.org"
    assert tcp.connection.connect_timeout_us == 2 * US


def test_misc_check_retry_defaults_to_zero(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_misc_check_security")
    (check,) = part(loaded).virtual_servers[0].real_servers[0].checks
    assert check == MiscCheck(
        script=Script(("/bin/true", "arg1"), "root"), timeout_us=5 * US, dynamic=True,
        retry=1, delay_loop_us=20 * US, warmup_us=20 * US, delay_before_retry_us=US,
    )  # fmt: skip
    text = (CORPUS / "ok_misc_check_security.conf").read_text().replace("retry 1\n", "")
    (again,) = part(read(tmp_path, text)).virtual_servers[0].real_servers[0].checks
    assert isinstance(again, MiscCheck) and again.retry == 0


def test_http_url_values(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_http_get_all")
    assert not messages(loaded)
    (check,) = part(loaded).virtual_servers[0].real_servers[0].checks
    assert isinstance(check, HttpCheck)
    assert (check.http_protocol, check.enable_sni, check.fast_recovery, check.virtualhost) == (
        HttpProtocol.HTTP_1_1, True, True, "www.example.com",
    )  # fmt: skip
    assert check.connection.connect_port == 8080
    first, second = check.urls
    assert first == Url(
        path="/index.html", digest=bytes.fromhex("9b3a0c85a887a256d6939da88aabd8cd"),
        status_codes=((200, 200), (301, 302)), virtualhost="other.example.com",
        regex="^OK [0-9]+", regex_no_match=True, regex_options=("caseless", "multiline"),
        regex_min_offset=2, regex_max_offset=101, regex_stack=(32768, 65536),
    )  # fmt: skip
    assert second == Url(path="/health")


def test_udp_check_hex_and_wildcards(tmp_path: Path) -> None:
    (check,) = part(corpus(tmp_path, "ok_udp_check")).virtual_servers[0].real_servers[0].checks
    assert check == UdpCheck(
        payload=b"\x0a\x1b\x2c", require_reply=True, reply=b"\x0a\x00\x20",
        reply_mask=b"\x00\xff\x0f", min_reply_length=2, max_reply_length=100,
        connection=Connection(),
    )  # fmt: skip
    assert read_hex("0a xx 2X", wildcard=True) == (b"\x0a\x00\x20", b"\x00\xff\x0f")
    assert read_hex("0a xx", wildcard=False) is None
    assert read_hex("abc", wildcard=False) == (b"\xab\x0c", None)
    assert hex_text(b"\x0a\x00\x20", b"\x00\xff\x0f") == "0a xx 2x"


def test_groups_ranges_cidr_and_fwmarks(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_vsg_entries")
    assert not messages(loaded)
    config = part(loaded)
    a = ip_address
    assert config.groups == (
        VirtualServerGroup(name="G1", ranges=(
            GroupRange(start=a("192.0.2.10"), end=a("192.0.2.10"), port=80),
            GroupRange(start=a("192.0.2.11"), end=a("192.0.2.15"), port=80),
            GroupRange(start=a("192.0.2.32"), end=a("192.0.2.47"), port=80),
            GroupRange(start=a("198.51.100.1"), end=a("198.51.100.9"), port=443),
        ), fwmarks=(GroupFwmark(fwmark=5, family=4),)),
    )  # fmt: skip
    (vs,) = config.virtual_servers
    assert (vs.group, vs.family, vs.address) == ("G1", 4, None)


def test_group_entry_messages(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "vsg_bad_entries")
    assert messages(loaded) == [
        "Invalid virtual server group IP address 192.0.2.300 /port/80 - skipping",
        "number '99999' outside range [1, 65535]",
        "Invalid virtual server group IP address 192.0.2.10 /port/99999 - skipping",
        "Invalid netmask - 192.0.2.0/33 - skipping",
        "Address mask bits not empty - 192.0.2.1/24 - skipping",
        "Address range end is not greater than address range start - 192.0.2.20-10 - skipping",
        "Virtual server group range '192.0.2.20-300' end '300' too large",
        "Virtual server group range '192.0.2.20-3x' has extra characters at end 'x'",
        "Address range end is less than address range start - 192.0.2.20-192.0.2.10 - skipping",
        "Invalid range end 192.0.2.20-192.0.2.300 - skipping",
        "invalid number 'x'",
        "(G): fwmark 'x' must be in [0, 4294967295] - ignoring",
        "(G): fwmark '5' family ipx unknown - ignoring",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("no_real_servers", ["Virtual server [192.0.2.10]:tcp:80 has no real servers - ignoring"]),
        ("bad_vs_address", ["Invalid virtual server IP address/port 192.0.2.300/80 - skipping"]),
        ("bad_lb_kind", ["PARSER : unknown [nat] routing method for virtual server."]),
        ("bad_tunnel_gue_no_port", ["gue tunnels require port, otherwise cannot have port."]),
        ("bad_tunnel_ipip_csum", ["ipip tunnels do not support checksum option."]),
        ("bad_quorum_exceeds", ["Warning - quorum 5 for [192.0.2.10]:tcp:80 exceeds total weight "
                                "of real servers 1, reducing quorum to 1"]),
        ("bad_hysteresis", ["Virtual server [192.0.2.10]:tcp:80: hysteresis 3 >= quorum 3; "
                            "setting hysteresis to 2"]),
        ("rs_duplicate", ["VS [192.0.2.10]:tcp:80: real server [192.0.2.20]:tcp:80 is "
                          "duplicated - removing second rs"]),
        ("rs_family_mismatch", ["Address family of virtual server and real server 2001:db8::20 "
                                "don't match - skipping real server.",
                                "Virtual server [192.0.2.10]:tcp:80 has no real servers - "
                                "ignoring"]),
        ("dr_port_mismatch", ["WARNING - virtual server [192.0.2.10]:tcp:80 and real server "
                              "[192.0.2.20]:tcp:8080 ports don't match - resetting"]),
        ("fwmark_protocol", ["Warning: Virtual server FWM 3: protocol specified for fwmark - "
                             "protocol will be ignored"]),
        ("zero_port_not_persistent", ["Virtual server [192.0.2.10]:tcp:0: zero port only valid "
                                      "for persistent services - setting"]),
        ("ops_tcp", ["Virtual server [192.0.2.10]:tcp:80: one packet scheduling requires UDP - "
                     "resetting"]),
        ("ha_suspend_fwmark", ["Virtual server FWM 4: cannot use ha_suspend with fwmarks - "
                               "clearing ha_suspend"]),
        ("sh_port_before_algo", ["sh-port only applies to sh scheduler - ignoring"]),
        ("hashed_noop", ["hashed only applies to sh scheduler - ignoring"]),
        ("sorry_matches_rs_inhibit", ["Virtual server [192.0.2.10]:tcp:80: real server "
                                      "[192.0.2.20]:tcp:80 matches sorry server, but inhibit "
                                      "setting differs, setting on sorry server"]),
        ("vsg_empty", ["virtual server group G has no entries - removing"]),
        ("chk_linklocal_no_bind_if", ["Checker link local address fe80::1 requires a bind_if"]),
        ("http_nb_get_retry", ["nb_get_retry is deprecated - please use 'retry'"]),
        ("http_url_no_path", ["HTTP/SSL_GET checker url has no path - ignoring"]),
        ("dns_name_quirk", ["DNS_CHECK name 'a.example.com' has empty label - ignoring"]),
        ("misc_no_path", ["No script path has been specified for MISC_CHECKER - skipping"]),
        ("udp_min_gt_max", ["UDP_CHECK min_reply length 20 > max_reply_length 10 - will "
                            "always fail"]),
        ("file_check_unknown", ["track_file nosuch not found",
                                "FILE_CHECK has no track_file specified - ignoring"]),
        ("bfd_check_before_bfd", ["([192.0.2.20]:tcp:80) BFD_CHECK - BFD b1 not configured"]),
        ("bfd_check_twice", ["([192.0.2.20]:tcp:80) BFD_CHECK - RS already monitoring b1"]),
        ("bfd_check_no_name", ["([192.0.2.20]:tcp:80) No name has been specified for "
                               "BFD_CHECKER - skipping"]),
    ],
)  # fmt: skip
def test_messages_are_keepalived_s(tmp_path: Path, name: str, expected: list[str]) -> None:
    loaded = corpus(tmp_path, name)
    assert messages(loaded) == expected
    assert loaded.diagnostics.exit_code() == 5


def test_group_service_is_dropped_silently_when_the_group_is_unknown(tmp_path: Path) -> None:
    loaded = corpus(tmp_path, "ok_vs_group_unknown")
    assert loaded.diagnostics.exit_code() == 0
    assert part(loaded).virtual_servers == ()


def test_group_members_are_numbered_in_messages(tmp_path: Path) -> None:
    text = """virtual_server_group G {
    192.0.2.10 80
}
virtual_server group G {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    real_server 192.0.2.20 80 {
    }
}
virtual_server group G {
    protocol TCP
    lb_algo rr
}
"""
    loaded = read(tmp_path, text)
    assert messages(loaded) == ["Virtual server [G]:1 has no real servers - ignoring"]


def test_tunnel_options(tmp_path: Path) -> None:
    (vs,) = part(corpus(tmp_path, "ok_tun_gue")).virtual_servers
    assert vs.forwarding == Forwarding(
        method=Method.TUN,
        tunnel_type=TunnelType.GUE,
        tunnel_port=6080,
        checksum=TunnelChecksum.CSUM,
    )
    assert vs.real_servers[0].forwarding == vs.forwarding
    # a wrong tunnel option still sets the method, as keepalived does
    (bad,) = part(corpus(tmp_path, "bad_tunnel_type")).virtual_servers
    assert bad.forwarding == Forwarding(method=Method.TUN)


def test_fwmark_service_family_from_ip_family(tmp_path: Path) -> None:
    (vs,) = part(corpus(tmp_path, "ok_fwmark_ipv6")).virtual_servers
    assert (vs.fwmark, vs.family, vs.protocol, vs.port) == (10, 6, None, 0)


def test_file_and_bfd_checks(tmp_path: Path) -> None:
    (check,) = part(corpus(tmp_path, "ok_file_check")).virtual_servers[0].real_servers[0].checks
    assert check == FileCheck(track_file="tf1", weight=-3, reverse=True)
    loaded = corpus(tmp_path, "ok_file_check_default_weight")
    (check,) = part(loaded).virtual_servers[0].real_servers[0].checks
    assert check == FileCheck(track_file="tf1", weight=1, reverse=False)
    (bfd,) = part(corpus(tmp_path, "ok_bfd_check")).virtual_servers[0].real_servers[0].checks
    assert bfd == BfdCheck(name="b1", alpha=True)


def test_dns_empty_label_quirk() -> None:
    # keepalived 2.2.7 also flags a one-character first label
    assert _dns_name_invalid("a.example.com")
    assert _dns_name_invalid("x..y")
    assert _dns_name_invalid(".example.com")
    assert not _dns_name_invalid("www.example.com.")
    assert not _dns_name_invalid(".")
    assert not _dns_name_invalid("")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # keepalived 2.2.7 -t crashes (SIGSEGV) after this message
        ("virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n"
         " real_server 192.0.2.20 80 {\n  HTTP_GET {\n  }\n }\n}\n",
         "HTTP/SSL_GET checker has no urls specified - ignoring"),
        ("virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n"
         " real_server 192.0.2.20 80 {\n  SSL_GET {\n   url {\n   }\n  }\n }\n}\n",
         "HTTP/SSL_GET checker url has no path - ignoring"),
        # keepalived 2.2.7 -t aborts (SIGABRT) on a dangling bad virtual_server at the end
        ("virtual_server 192.0.2.300 80\n",
         "Invalid virtual server IP address/port 192.0.2.300/80 - skipping"),
    ],
)  # fmt: skip
def test_configs_that_crash_keepalived(tmp_path: Path, text: str, expected: str) -> None:
    loaded = read(tmp_path, text)
    assert expected in messages(loaded)
    assert loaded.diagnostics.exit_code() == 5


def test_missing_parameters_stop_with_exit_2(tmp_path: Path) -> None:
    # keepalived 2.2.7 crashes on a fwmark service without its number; pykad stops
    loaded = read(tmp_path, "virtual_server fwmark {\n}\n")
    assert loaded.config is None and loaded.diagnostics.exit_code() == 2
    loaded = corpus(tmp_path, "missing_digest_value")
    assert loaded.config is None and loaded.diagnostics.exit_code() == 2


class Scripts:
    """A script host where every absolute path is a root-owned executable file."""

    def search_path(self, name: str) -> str | None:
        return f"/usr/bin/{name}"

    def realpath(self, path: str) -> str | None:
        return path

    def stat(self, path: str) -> FileStatus | None:
        if path.count("/") <= 2 and not path.endswith("true") and not path.endswith("echo"):
            return FileStatus(stat.S_IFDIR | 0o755, 0, 0)
        return FileStatus(stat.S_IFREG | 0o755, 0, 0)

    lstat = stat


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("misc_no_security", 6),
        ("notify_no_security", 6),
        ("quorum_up_no_security", 6),
        ("ok_notify_security", 0),
        ("ok_misc_check_security", 0),
    ],
)
def test_check_scripts_need_script_security(tmp_path: Path, name: str, code: int) -> None:
    loaded = read(tmp_path, (CORPUS / f"{name}.conf").read_text(), script_host=Scripts())
    assert loaded.diagnostics.exit_code() == code
    if code == 6:
        assert messages(loaded)[-1] == (
            "SECURITY VIOLATION - check scripts are being executed but script_security not enabled."
        )


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.conf")), ids=lambda p: p.stem)
def test_round_trip(tmp_path: Path, path: Path) -> None:
    loaded = read(tmp_path, path.read_text())
    if loaded.config is None:  # stopped at a missing parameter, as keepalived does
        assert loaded.diagnostics.exit_code() == 2
        return
    text = write(loaded.config)
    again = read(tmp_path, text)
    assert part(again) == part(loaded), text
    if path.stem.startswith("ok_"):
        assert not [m for m in messages(again) if "2.2.7" not in m], text


def test_written_text_is_stable(tmp_path: Path) -> None:
    config = LvsConfig(virtual_servers=(
        VirtualServer(address=ip_address("2001:db8::10"), port=443, family=6,
                      protocol=Protocol.TCP, scheduler=Scheduler.SH, sh_port=True,
                      real_servers=(RealServer(address=ip_address("2001:db8::20"), port=443,
                                               checks=(TcpCheck(),)),)),
    ))  # fmt: skip
    text = "\n".join(lvs.write(config)) + "\n"
    assert "virtual_server 2001:db8::10 443 {" in text
    assert part(read(tmp_path, text)) == config
