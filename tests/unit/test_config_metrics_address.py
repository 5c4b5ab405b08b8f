"""``pykad_metrics_address`` in ``global_defs`` (a pykad keyword: keepalived ignores it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from unit.test_config_global_defs import defs, messages, read

from pykad.config.model import from_parts, write
from pykad.config.sections.global_defs import join_host_port, split_host_port


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9650", ("127.0.0.1", 9650)),
        ("0.0.0.0:9650", ("0.0.0.0", 9650)),
        ("[2001:db8::1]:9650", ("2001:db8::1", 9650)),
        ("[::]:1", ("::", 1)),
        ("2001:db8::1:9650", None),  # IPv6 needs brackets
        ("[192.0.2.1]:80", None),
        ("host.example:80", None),  # never resolved
        ("127.0.0.1:0", None),
        ("127.0.0.1:65536", None),
        ("127.0.0.1:", None),
        ("[2001:db8::1]", None),
    ],
)
def test_split_host_port(text: str, expected: tuple[str, int] | None) -> None:
    assert split_host_port(text) == expected
    if expected is not None:
        assert split_host_port(join_host_port(*expected)) == expected


def test_keyword_is_read_and_written_back(tmp_path: Path) -> None:
    loaded = read(tmp_path, "global_defs {\n    pykad_metrics_address [2001:db8::5]:9650\n}\n")
    assert defs(loaded).metrics_address == ("2001:db8::5", 9650)
    assert not messages(loaded)
    text = write(from_parts(loaded.parts))
    assert "pykad_metrics_address [2001:db8::5]:9650" in text
    assert defs(read(tmp_path, text)).metrics_address == ("2001:db8::5", 9650)


def test_off_by_default_and_bad_values_reported(tmp_path: Path) -> None:
    assert defs(read(tmp_path, "global_defs {\n    router_id r\n}\n")).metrics_address is None
    loaded = read(tmp_path, "global_defs {\n    pykad_metrics_address nowhere:80\n}\n")
    assert defs(loaded).metrics_address is None
    assert "pykad_metrics_address takes [HOST:]PORT - ignoring" in messages(loaded)
