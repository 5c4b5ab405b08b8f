"""The bfd_instance section: model, keepalived's messages, defaults and round trip."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest

from pykad.config.build import NoHost
from pykad.config.load import Loaded, load
from pykad.config.model import Config, write
from pykad.config.sections.bfd import BfdConfig, BfdInstance
from pykad.drivers.files import LocalFiles

CORPUS = Path(__file__).resolve().parents[1] / "config_corpus" / "bfd"


def read(tmp_path: Path, text: str) -> Loaded:
    (tmp_path / "k.conf").write_text(text)
    return load(LocalFiles(), "k.conf", cwd=str(tmp_path), config_id="t", host=NoHost())


def test_defaults_and_values(tmp_path: Path) -> None:
    loaded = read(tmp_path, (CORPUS / "ok_v4.conf").read_text())
    assert loaded.config is not None and not loaded.diagnostics.items
    assert loaded.config.bfd == BfdConfig((
        BfdInstance(name="b1", neighbor=ip_address("192.0.2.2"), source=ip_address("192.0.2.1"),
                    min_rx_us=10_000, min_tx_us=3_300, idle_tx_us=1_000_000, multiplier=3,
                    ttl=255, max_hops=1, passive=True),
    ))  # fmt: skip
    six = read(tmp_path, (CORPUS / "ok_v6_vrrp_weight.conf").read_text()).config
    assert six is not None
    (b6,) = six.bfd.instances
    assert (b6.ttl, b6.weight, b6.weight_reverse, b6.vrrp, b6.checker) == (
        64,
        -20,
        True,
        True,
        False,
    )


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("no_neighbor", ["Configuration error: BFD instance b1 has no neighbor address set, "
                         "disabling instance"]),
        ("bad_neighbor", ["Configuration error: BFD instance b1 has malformed neighbor address "
                          "192.0.2.300, ignoring instance"]),
        ("min_rx_zero", ["number '0' outside range [1.000, 4294967.000]",
                         "Configuration error: BFD instance b1 min_rx value 0 is not valid "
                         "(must be in range [1-4294967]), ignoring"]),
        ("max_hops_over_ttl", ["BFD instance b1: max_hops exceeds ttl/hoplimit - setting to "
                               "ttl/hoplimit"]),
    ],
)  # fmt: skip
def test_messages_are_keepalived_s(tmp_path: Path, name: str, messages: list[str]) -> None:
    loaded = read(tmp_path, (CORPUS / f"{name}.conf").read_text())
    assert [d.message for d in loaded.diagnostics.items] == messages
    assert loaded.diagnostics.exit_code() == 5


def test_a_missing_name_stops_with_exit_2(tmp_path: Path) -> None:
    # keepalived 2.2.7's BFD process crashes here (SIGSEGV); its VRRP process exits 2.
    loaded = read(tmp_path, "bfd_instance {\n    neighbor_ip 192.0.2.2\n}\n")
    assert loaded.config is None
    assert loaded.diagnostics.exit_code() == 2
    assert "missing a parameter after keyword `bfd_instance` at word position 2" in str(
        loaded.diagnostics.items[-1]
    )


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.conf")), ids=lambda p: p.stem)
def test_round_trip(tmp_path: Path, path: Path) -> None:
    loaded = read(tmp_path, path.read_text())
    assert loaded.config is not None
    again = read(tmp_path, write(loaded.config))
    assert again.config == loaded.config
    assert not [d for d in again.diagnostics.items if d.severity > 0 and "2.2.7" not in d.message]


def test_written_text_is_stable(tmp_path: Path) -> None:
    config = Config(bfd=BfdConfig((BfdInstance(name="x", neighbor=ip_address("2001:db8::9")),)))
    text = write(config)
    assert "neighbor_ip 2001:db8::9" in text
    assert read(tmp_path, text).config == config


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("pykad_auth keyed_sha1 7 s3cret", ("keyed_sha1", 7, "s3cret")),
        ("pykad_auth simple_password 0 pw", ("simple_password", 0, "pw")),
        ("pykad_auth keyed_sha1 7", "pykad_auth takes TYPE KEY_ID SECRET - ignoring"),
        ("pykad_auth sha256 7 s3cret", "unknown pykad_auth type sha256"),
        ("pykad_auth keyed_md5 256 s3cret", "number '256' outside range [0, 255]"),
        ("pykad_auth keyed_md5 1 " + "x" * 17, "a keyed_md5 secret has 1-16 bytes"),
    ],
)
def test_pykad_auth(tmp_path: Path, line: str, expected: tuple[str, int, str] | str) -> None:
    loaded = read(tmp_path, f"bfd_instance b1 {{\n neighbor_ip 192.0.2.2\n {line}\n}}\n")
    assert loaded.config is not None
    (b,) = loaded.config.bfd.instances
    errors = [str(d) for d in loaded.diagnostics.items if d.severity > 0]
    if isinstance(expected, tuple):
        assert b.auth is not None and (b.auth.auth_type, b.auth.key_id, b.auth.secret) == expected
        assert errors == []
        text = write(loaded.config)
        assert f"    {line}" in text.splitlines()
    else:
        assert b.auth is None
        assert len(errors) == 1 and expected in errors[0] and "k.conf:3" in errors[0]
