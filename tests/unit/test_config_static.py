"""static_ipaddress / static_routes / static_rules: model, messages, verdicts, round trip."""

from __future__ import annotations

import random
import re
from ipaddress import ip_address, ip_interface
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pykad.config.build import Builders, Context, build
from pykad.config.diagnostics import Diagnostics
from pykad.config.iproute import IpAddress, RuleAction
from pykad.config.load import Loaded, load
from pykad.config.reader import Reader
from pykad.config.sections import static
from pykad.config.sections.static import StaticConfig
from pykad.config.tree import Statement, build_tree
from pykad.drivers.files import LocalFiles

CORPUS = Path(__file__).resolve().parents[1] / "config_corpus" / "static"


class Host:
    """The verdict test's namespace: eth0, eth1, veth0, veth1."""

    def interface_exists(self, name: str) -> bool:
        return name in {"eth0", "eth1", "veth0", "veth1"}

    def user_ids(self, name: str) -> tuple[int, int] | None:
        return (0, 0) if name == "root" else None

    def group_id(self, name: str) -> int | None:
        return 0 if name == "root" else None


def read(tmp_path: Path, text: str) -> Loaded:
    (tmp_path / "k.conf").write_text(text)
    return load(LocalFiles(), "k.conf", cwd=str(tmp_path), config_id="t", host=Host())


def messages(loaded: Loaded) -> list[str]:
    return [d.message for d in loaded.diagnostics.items if d.severity > 0]


def test_section_identity() -> None:
    assert (static.NAME, static.ORDER) == ("static", 29)
    assert static.Builder.keywords == {"static_ipaddress", "static_routes", "static_rules"}


def test_model(tmp_path: Path) -> None:
    loaded = read(
        tmp_path,
        "static_ipaddress {\n  192.0.2.50/24\n  2001:db8::5 dev eth1\n}\n"
        "static_routes {\n  198.51.100.0/24 via 192.0.2.254 dev eth0\n}\n"
        "static_rules { from all table 7 preference 70 }\n",
    )
    assert messages(loaded) == []
    part = loaded.parts["static"]
    assert part.addresses == (
        IpAddress(address=ip_interface("192.0.2.50/24"), dev="eth0"),
        IpAddress(address=ip_interface("2001:db8::5/128"), dev="eth1", preferred_lft=0),
    )
    (r,) = part.routes
    assert (r.dst, r.via, r.dev, r.protocol) == (
        ip_interface("198.51.100.0/24"),
        ip_address("192.0.2.254"),
        "eth0",
        18,
    )
    (u,) = part.rules
    assert (u.action, u.table, u.priority, u.from_prefix) == (RuleAction.TO_TBL, 7, 70, None)


EXPECTED_EXIT = {
    "addr_no_default_interface": 4,
    "route_missing_parameter": 2,
    "rule_missing_parameter": 2,
}


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.conf")), ids=lambda p: p.stem)
def test_corpus_verdicts(tmp_path: Path, path: Path) -> None:
    """The exit code keepalived 2.2.7 gives (checked for real by the interop test)."""
    loaded = read(tmp_path, path.read_text())
    expected = EXPECTED_EXIT.get(path.stem, 0 if path.stem.startswith("ok_") else 5)
    if path.stem == "route_rtt_clamped":
        expected = 0
    assert loaded.diagnostics.exit_code() == expected, messages(loaded)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("addr_no_default_interface", [
            "Static address 192.0.2.50/24 requires either an interface or default interface "
            "must exist", "Non-existent interface specified in configuration"]),
        ("addr_missing_interface", [
            "WARNING - interface nosuch0 for ip address 192.0.2.10/24 doesn't exist",
            "Non-existent interface specified in configuration"]),
        ("route_no_interface", ["Warning - cannot track route 198.51.100.0/24 with no interface "
                                "specified, not tracking"]),
        ("route_inet6_skips_a_word", ["Route must have a destination"]),
        ("rule_no_preference", ["Rule has no preference specified - setting to 16384. This is "
                                "probably not what you want."]),
        ("rule_single_port", ["invalid sport range 80"]),
        ("block_extra_parameters", ["Block static_routes has extra parameters extra ..."]),
        ("route_missing_parameter", [
            "*** Configuration line starting `198.51.100.0/24` is missing a parameter after "
            "keyword `via` at word position 5"]),
    ],
)  # fmt: skip
def test_messages_are_keepalived_s(tmp_path: Path, name: str, expected: list[str]) -> None:
    assert messages(read(tmp_path, (CORPUS / f"{name}.conf").read_text())) == expected


def test_messages_carry_the_value_line(tmp_path: Path) -> None:
    loaded = read(tmp_path, "static_routes {\n\n  198.51.100.0/24 via 192.0.2.1\n}\n")
    (d,) = [d for d in loaded.diagnostics.items if d.severity > 0]
    assert d.location is not None and d.location.line == 3


def _round_trip(tmp_path: Path, text: str) -> None:
    loaded = read(tmp_path, text)
    assert loaded.config is not None
    part = loaded.parts["static"]
    head = text[: m.start()] if (m := re.search("^static_", text, re.M)) else text
    again = read(tmp_path, head + "\n".join(static.write(part)) + "\n")
    assert again.parts["static"] == part


@pytest.mark.parametrize(
    "path",
    # track_group_errors names a track group before defining it: not a fixed point
    [
        p
        for p in sorted(CORPUS.glob("*.conf"))
        if "missing_parameter" not in p.stem and p.stem != "track_group_errors"
    ],
    ids=lambda p: p.stem,
)
def test_round_trip(tmp_path: Path, path: Path) -> None:
    _round_trip(tmp_path, path.read_text())


def test_written_text() -> None:
    part = StaticConfig(addresses=(IpAddress(address=ip_interface("192.0.2.9/24"), dev="eth0"),))
    assert list(static.write(part)) == ["static_ipaddress {", "    192.0.2.9/24 dev eth0", "}"]
    assert list(static.write(StaticConfig())) == []


class FakeVrrp:
    """Stands for the VRRP section: owns ``track_group`` blocks, in file order."""

    keywords: ClassVar[frozenset[str]] = frozenset({"track_group"})

    def __init__(self, ctx: Context, builders: Builders) -> None:
        self.track_groups: list[Any] = []

    def statement(self, statement: Statement) -> None:
        self.track_groups.append(type("TG", (), {"name": statement.words[1]})())

    def finish(self) -> None:
        return None


def test_track_groups_are_looked_up_in_file_order(tmp_path: Path) -> None:
    (tmp_path / "k.conf").write_text(
        "static_ipaddress {\n  192.0.2.50/24 dev eth0 track_group tg1\n}\n"
        "track_group tg1 {\n  group {\n    VI_1\n  }\n}\n"
        "static_ipaddress {\n  192.0.2.51/24 dev eth0 track_group tg1\n}\n"
        "static_routes {\n  198.51.100.0/24 track_group tg1 no_track\n}\n"
    )
    reader = Reader(LocalFiles(), "k.conf", str(tmp_path), "t", random.Random())
    tree = build_tree(reader.lines(), reader.diagnostics)
    ctx = Context(Diagnostics(), Host())
    parts = build(tree, ctx, [("static", 29, static.Builder), ("vrrp", 30, FakeVrrp)])
    assert parts is not None
    assert [d.message for d in ctx.diagnostics.items] == [
        "track_group tg1 not found",
        "Static route cannot have track group if no oif specified",
    ]
    first, second = parts["static"].addresses
    assert (first.track_group, second.track_group) == (None, "tg1")
    assert parts["static"].routes[0].track_group is None
