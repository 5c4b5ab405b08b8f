"""The walk of skipped blocks: the compiled twin walks as the pure one does.

``pykad.config.skip_py.SkipWalk`` and ``pykad._fastpath.conf_skip.SkipWalk`` get the
same plain lines (``run``) and the same word lists (``feed``) from the same state;
they must return the same and end in the same state. That the walk reads what the
tree reads is tests/unit/test_config_reader_fast.py's (run with both twins).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykad.config import skip_py
from pykad.config.diagnostics import Location

try:
    from pykad._fastpath import conf_skip as skip_cy
except ImportError:  # pragma: no cover - a checkout that was not built
    skip_cy = None

TWINS = [pytest.param(skip_py, id="py"), pytest.param(skip_cy, id="cy")]

PATHS = ["vrrp_instance", "virtual_server", "global_defs", "virtual_server>real_server"]

LINE_PIECES = [
    "real_server 198.51.100.1 80 {",
    "real_server 198.51.100.2 80",
    "TCP_CHECK {",
    "HTTP_GET { url { path / } }",
    "connect_timeout 3",
    "weight 1 }",
    "virtual_ipaddress {",
    "192.0.2.1/32",
    "{ 192.0.2.2/32 }",
    "track_script",
    "virtual_server_group G {",
    "unknown_kw {",
    "{",
    "}",
    "} }",
    "}}{",
    "a{b}c",
    "  ",
    "\t",
    "# } comment",
    "priority 5 ! { comment",
    "\f",
    "x\vy",
    "notify_master \u00e9t\u00e9",
    "weight \u20ac",
    "\U0001d11e {",
    "\r",
    "inc lude",
    "priority 9\r",
]
NOT_PLAIN = ["a $X", "@r1 priority 1", "~SEQ(i,1,2) x", 'notify "a b"', "include x", "a\\b"]


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[str], int, int, int, str]:
    texts = draw(st.lists(st.sampled_from(LINE_PIECES + NOT_PLAIN), max_size=30))
    ends = draw(st.lists(st.sampled_from(["\n", ""]), min_size=len(texts), max_size=len(texts)))
    lines = [t + e for t, e in zip(texts, ends, strict=True)]
    index = draw(st.integers(0, len(lines)))
    return (
        lines,
        index,
        draw(st.integers(0, 40)),
        draw(st.integers(0, 3)),
        draw(st.sampled_from(PATHS)),
    )


def _state(walk: Any) -> tuple[object, ...]:
    return (
        walk.path,
        walk.table is skip_py.KINDS[walk.path],
        [path for path, _ in walk.outer],
        walk.need_bob,
        walk.in_values,
        walk.values_need_bob,
        walk.closed_at,
    )


@settings(max_examples=600, deadline=None)
@given(runs(), st.lists(st.lists(st.sampled_from(["{", "}", "x", "weight", "real_server",
                                                     "TCP_CHECK", "virtual_ipaddress",
                                                     "virtual_server_group", "G"]),
                                    min_size=1, max_size=4), max_size=4))  # fmt: skip
def test_the_twins_walk_alike(
    case: tuple[list[str], int, int, int, str], fed: list[list[str]]
) -> None:
    lines, index, lineno, depth, path = case
    py, cy = skip_py.SkipWalk(path), skip_cy.SkipWalk(path)
    for words in fed:  # a state reached through lines that were not plain
        said = py.feed(words)
        assert said == cy.feed(words)
        if said == skip_py.CLOSED:
            py.closed_at = cy.closed_at = Location("f", 1)
        assert _state(py) == _state(cy)
    assert py.run(lines, index, lineno, depth, "f") == cy.run(lines, index, lineno, depth, "f")
    assert _state(py) == _state(cy)


@pytest.mark.parametrize("twin", TWINS)
def test_a_run_stops_where_the_reader_must_act(twin: ModuleType) -> None:
    lines = ["real_server 198.51.100.1 80 {\n", " weight 1\n", " }\n", "}\n", "x $Y\n"]
    # a '}' beyond the brace depth: left for the reader, which reports it
    assert twin.SkipWalk("virtual_server").run(lines, 0, 0, 0, "f") == (3, 3, 0, 3, False, [])
    # the walked block closes on line 4 (the nested one closed on line 3)
    walk = twin.SkipWalk("virtual_server")
    assert walk.feed(["{"]) == twin.GOING
    assert walk.run(lines, 0, 0, 2, "f") == (4, 4, 1, 4, True, [])
    assert walk.closed_at == Location("f", 3)
    # a line that is not plain ends the run
    walk = twin.SkipWalk("virtual_server")
    assert walk.run(lines, 4, 4, 0, "f") == (4, 4, 0, 0, False, [])


@pytest.mark.parametrize("twin", TWINS)
def test_what_follows_the_close_on_its_line_is_given_back(twin: ModuleType) -> None:
    walk = twin.SkipWalk("vrrp_instance")
    done = walk.run(["{ priority 1 } global_defs { router_id r }\n"], 0, 0, 0, "f")
    rest = [("global_defs", ["global_defs"]), ("{", ["{"]), ("router_id r", ["router_id", "r"])]
    assert done == (1, 1, 0, 1, True, [*rest, ("}", ["}"])])
