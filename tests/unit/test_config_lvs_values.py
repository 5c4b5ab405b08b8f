"""LVS value readers: keepalived's number, address and netmask parsing quirks."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address
from pathlib import Path

import pytest

from pykad.config.build import NoHost
from pykad.config.load import Loaded, load
from pykad.config.sections._lvs_checkers import cmd_str, strtoul
from pykad.config.sections._lvs_model import (
    GroupRange,
    HttpCheck,
    LvsConfig,
    Method,
    TcpCheck,
)
from pykad.config.sections.lvs import _inet_aton
from pykad.drivers.files import LocalFiles

US = 1_000_000


def read(tmp_path: Path, text: str, *, config_test: bool = True) -> Loaded:
    (tmp_path / "k.conf").write_text(text)
    return load(
        LocalFiles(),
        "k.conf",
        cwd=str(tmp_path),
        config_id="t",
        host=NoHost(),
        config_test=config_test,
    )


def service(vs: str = "", rs: str = "", check: str = "TCP_CHECK {\n}") -> str:
    return (
        "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n"
        f"{vs}\n real_server 192.0.2.20 80 {{\n{rs}\n{check}\n }}\n}}\n"
    )


def lvs(loaded: Loaded) -> LvsConfig:
    part = loaded.parts["lvs"]
    assert isinstance(part, LvsConfig)
    return part


def test_strtoul_is_c_s() -> None:
    assert strtoul("200-299") == (200, "-299")
    assert strtoul(" +7x") == (7, "x")
    assert strtoul("abc") == (0, "abc")
    assert strtoul("ff", 16) == (255, "")
    assert strtoul("-1") == (2**64 - 1, "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("255.255.255.0", "255.255.255.0"),
        ("255.255.65280", "255.255.255.0"),
        ("0xffffff00", "255.255.255.0"),
        ("4294967040", "255.255.255.0"),
        ("255.255.255.256", None),
        ("255..255.0", None),
        ("x", None),
    ],
)
def test_ipv4_granularity_is_read_as_inet_aton(text: str, expected: str | None) -> None:
    assert _inet_aton(text) == (IPv4Address(expected) if expected else None)


def test_command_string_in_messages() -> None:
    assert cmd_str(("/bin/true", "a b")) == "'/bin/true' 'a b'"
    assert cmd_str(("</dev/null",)) == "</dev/null"


def test_timers_are_microseconds_and_rounded(tmp_path: Path) -> None:
    loaded = read(tmp_path, service(vs=" delay_loop 1.0000005\n connect_timeout 0.25"))
    assert [d.message for d in loaded.diagnostics.items] == [
        "number '1.0000005' has too many decimal places"
    ]
    (vs,) = lvs(loaded).virtual_servers
    assert (vs.delay_loop_us, vs.connect_timeout_us) == (1_000_001, 250_000)


def test_junk_after_a_number_is_refused_by_t_but_used_at_run_time(tmp_path: Path) -> None:
    text = service(vs=" quorum 1x")
    tested = read(tmp_path, text)
    assert [d.message for d in tested.diagnostics.items] == [
        "invalid number '1x'",
        "Quorum 1x must be in [1, 4294967295]. Setting to 1.",
    ]
    running = read(tmp_path, text, config_test=False)
    assert [d.message for d in running.diagnostics.items] == ["WARNING - invalid number '1x'"]


def test_port_zero_means_no_port(tmp_path: Path) -> None:
    loaded = read(tmp_path, service(vs=" persistence_timeout").replace(" 80 {", " 000 {", 1))
    (vs,) = lvs(loaded).virtual_servers
    assert (vs.port, vs.persistence_timeout, vs.real_servers[0].port) == (0, 360, 80)


def test_nat_real_server_takes_the_service_port(tmp_path: Path) -> None:
    loaded = read(tmp_path, service().replace("192.0.2.20 80", "192.0.2.20"))
    assert not loaded.diagnostics.items
    assert lvs(loaded).virtual_servers[0].real_servers[0].port == 80


def test_real_server_forwarding_follows_the_service_set_later(tmp_path: Path) -> None:
    text = service().replace(" lb_kind NAT\n", "").replace("}\n}\n", "}\n lb_kind DR\n}\n")
    loaded = read(tmp_path, text)
    assert not loaded.diagnostics.items
    (rs,) = lvs(loaded).virtual_servers[0].real_servers
    assert rs.forwarding.method is Method.DR


def test_checker_connection_defaults(tmp_path: Path) -> None:
    loaded = read(tmp_path, service(rs="  connect_timeout 2", check="TCP_CHECK {\n}"))
    (check,) = lvs(loaded).virtual_servers[0].real_servers[0].checks
    assert isinstance(check, TcpCheck)
    assert check.connection.connect_ip is None  # the real server's address
    assert check.connection.connect_timeout_us == 2 * US


def test_status_code_ranges_are_merged(tmp_path: Path) -> None:
    check = "HTTP_GET {\n url {\n  path /\n  status_code 200 201-204 404 205\n }\n}"
    loaded = read(tmp_path, service(check=check))
    (http,) = lvs(loaded).virtual_servers[0].real_servers[0].checks
    assert isinstance(http, HttpCheck)
    assert http.urls[0].status_codes == ((200, 205), (404, 404))


def test_digest_error_shows_the_digest_up_to_the_bad_pair(tmp_path: Path) -> None:
    check = "HTTP_GET {\n url {\n  path /\n  digest 9b3a0c85a887a256d6939da8zaabd8cd\n }\n}"
    loaded = read(tmp_path, service(check=check))
    assert [d.message for d in loaded.diagnostics.items] == [
        "Unable to interpret hex digit in '9b3a0c85a887a256d6939da8za' at offset 24/25"
    ]


def test_ipv6_group_range_is_hex(tmp_path: Path) -> None:
    loaded = read(tmp_path, "virtual_server_group G {\n 2001:db8::10-1f 80\n}\n")
    (group,) = lvs(loaded).groups
    assert group.ranges == (
        GroupRange(start=ip_address("2001:db8::10"), end=ip_address("2001:db8::1f"), port=80),
    )
