"""Runs of plain lines: the compiled twin reads them as the pure one does.

``pykad.config.plain_py`` and ``pykad._fastpath.conf_plain`` get the same lines:
``logical_lines`` must make the same logical lines and stop at the same place;
``SkipWalk`` gets the same plain lines (``run``) and the same word lists (``feed``)
from the same state and must return the same and end in the same state. That both
read what the full pipeline reads is tests/unit/test_config_reader_fast.py's (run
with both twins).
"""

from __future__ import annotations

from collections import deque
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykad.config import plain_py
from pykad.config.diagnostics import Location

try:
    from pykad._fastpath import conf_plain as plain_cy
except ImportError:  # pragma: no cover - a checkout that was not built
    plain_cy = None

TWINS = [pytest.param(plain_py, id="py"), pytest.param(plain_cy, id="cy")]

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


@settings(max_examples=600, deadline=None)
@given(runs())
def test_the_twins_make_the_same_lines(case: tuple[list[str], int, int, int, str]) -> None:
    lines, index, lineno, depth, _ = case
    made: list[deque[plain_py.LogicalLine]] = [deque(), deque()]
    said = [
        twin.logical_lines(lines, index, lineno, depth, "f", out)
        for twin, out in zip((plain_py, plain_cy), made, strict=True)
    ]
    assert said[0] == said[1]
    assert list(made[0]) == list(made[1])
    assert all(type(line) is plain_py.LogicalLine for line in made[1])
    assert all(type(line.location) is Location for line in made[1])


@pytest.mark.parametrize("twin", TWINS)
def test_lines_are_made_a_top_level_line_at_a_time(twin: ModuleType) -> None:
    lines = ["vrrp_instance V {\n", " priority 1 # x\n", "\n", " }\n", "global_defs\n", "{\n"]
    out: deque[plain_py.LogicalLine] = deque()
    assert twin.logical_lines(lines, 0, 0, 0, "f", out) == (1, 1, 1, 1)
    assert [line.text for line in out] == ["vrrp_instance V", "{"]
    assert twin.logical_lines(lines, 1, 1, 1, "f", out) == (4, 4, 0, 4)
    assert out[-1] == plain_py.LogicalLine("}", ("}",), Location("f", 4))
    assert out[-2] == plain_py.LogicalLine("priority 1", ("priority", "1"), Location("f", 2))
    # a '}' beyond the depth is left for the reader
    assert twin.logical_lines(lines, 3, 3, 0, "f", deque()) == (3, 3, 0, 0)


def _state(walk: Any) -> tuple[object, ...]:
    return (
        walk.path,
        walk.table is plain_py.KINDS[walk.path],
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
    py, cy = plain_py.SkipWalk(path), plain_cy.SkipWalk(path)
    for words in fed:  # a state reached through lines that were not plain
        said = py.feed(words)
        assert said == cy.feed(words)
        if said == plain_py.CLOSED:
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
