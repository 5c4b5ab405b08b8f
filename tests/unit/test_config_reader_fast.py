"""The reader's fast path and block skipping read what the full pipeline reads.

``logical_lines`` (pykad.config.plain_py and its compiled twin) makes the logical
lines of runs of plain physical lines itself, and ``Reader.skip_block``
counts the braces of a block a process does not own; Hypothesis writes configs from
keepalived.conf's pieces (keywords, braces on their own lines or not, comments,
quotes, ``$VARS``, ``@id`` conditionals, ``~SEQ`` loops, includes, stray braces,
blank and long lines) and both must agree with the reader that sends every line
through the full pipeline.
"""

from __future__ import annotations

import posixpath
import random
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykad._fastpath import conf_plain
from pykad.config import plain_py, reader
from pykad.config.reader import LogicalLine, Reader
from pykad.config.tree import Statement, build_tree


class MemoryFiles:
    """Files in a dict (absolute paths)."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def glob(self, pattern: str) -> list[str]:
        import fnmatch

        return sorted(p for p in self.files if fnmatch.fnmatch(p, pattern))

    def exists(self, path: str) -> bool:
        return path in self.files or any(p.startswith(path.rstrip("/") + "/") for p in self.files)

    def kind(self, path: str) -> str:
        return "file" if path in self.files else "directory"

    def read(self, path: str) -> str:
        return self.files[path]


PIECES = [
    "global_defs {",
    "global_defs",
    "{",
    "}",
    "} }",
    "router_id r1",
    "vrrp_instance VI_1 {",
    "vrrp_instance VI_2",
    "virtual_server 192.0.2.1 80 {",
    "virtual_server 192.0.2.2 80 { delay_loop 3 }",
    "real_server 198.51.100.1 80 { weight 2",
    "  TCP_CHECK {",
    "    connect_timeout 3 }",
    "interface eth0",
    "priority 100 # a comment",
    'notify "/bin/echo a { b"',
    "virtual_ipaddress {",
    "  192.0.2.10/32",
    "  192.0.2.11/32 dev eth0 }",
    "$VAR=priority 50",
    "$BRACE={",
    "$VAR",
    "${VAR}",
    "@r1 priority 7",
    "@^r1 weight 3 {",
    "~SEQ(i,1,2) real_server 198.51.100.$i 80 {",
    "include extra.conf",
    "  ",
    "",
    "\t}\t",
    "unknown_keyword x {",
    "! bang comment }",
    "priority 9\r# cr before a comment",
    "weight 4 ! x {",
    "# } a comment",
    "delay_loop 2\r",
    "weight 1 \\",
    "x" * 1030 + " {",
    "a{b}c",
    # whole blocks, so that skipped ones often hold value blocks and unknown blocks
    "vrrp_instance VI_3 {\n virtual_ipaddress {\n  192.0.2.1/32\n }\n typo_kw {\n"
    "  priority 1\n }\n track_script {\n  chk\n }\n}",
    "vrrp_instance VI_4 { virtual_ipaddress { 192.0.2.2/32 } priority 2 }",
    "virtual_server 192.0.2.3 80 {\n real_server 198.51.100.3 80 {\n  HTTP_GET {\n"
    "   url {\n    path /\n   }\n  }\n }\n}",
    "virtual_server_group G {\n 192.0.2.5 80\n}",
]


@st.composite
def configs(draw: st.DrawFn) -> tuple[dict[str, str], str]:
    def text() -> str:
        lines = draw(st.lists(st.sampled_from(PIECES), max_size=40))
        end = draw(st.sampled_from(["\n", ""]))
        return "\n".join(lines) + end

    files = {"/etc/k/main.conf": text(), "/etc/k/extra.conf": text()}
    config_id = draw(st.sampled_from(["r1", "r2"]))
    return files, config_id


def _reader(files: dict[str, str], config_id: str, *, fast: bool) -> Reader:
    return Reader(
        MemoryFiles(files),
        "/etc/k/main.conf",
        posixpath.dirname("/etc/k/main.conf"),
        config_id,
        random.Random(1),
        fast_path=fast,
    )


def _read(reader: Reader) -> list[LogicalLine]:
    return list(reader.lines())


def _after(reader: Reader) -> tuple[object, ...]:
    return (reader.depth, reader.last_location, reader.diagnostics.items)


TWINS = pytest.mark.parametrize("twin", [plain_py, conf_plain], ids=["py", "cy"])


@contextmanager
def _plain(twin: ModuleType) -> Iterator[None]:
    """The reader with ``twin`` for its runs of plain lines."""
    chosen, reader.plain = reader.plain, twin
    try:
        yield
    finally:
        reader.plain = chosen


@TWINS
@settings(max_examples=400, deadline=None)
@given(case=configs())
def test_fast_path_reads_what_the_full_pipeline_reads(
    twin: ModuleType, case: tuple[dict[str, str], str]
) -> None:
    files, config_id = case
    slow, fast = _reader(files, config_id, fast=False), _reader(files, config_id, fast=True)
    with _plain(twin):
        assert _read(fast) == _read(slow)
    assert _after(fast) == _after(slow)


def _tree(
    files: dict[str, str], config_id: str, skip: frozenset[str]
) -> tuple[tuple[Statement, ...], Reader]:
    reader = _reader(files, config_id, fast=True)
    tree = build_tree(reader.lines(), reader.diagnostics, skip=skip, source=reader)
    return tree, reader


def _strip(statement: Statement) -> Statement:
    return Statement(
        statement.keyword,
        statement.words,
        statement.text,
        statement.location,
        statement.section,
        end=statement.end,
    )


@TWINS
@settings(max_examples=400, deadline=None)
@given(case=configs())
def test_skipped_blocks_leave_the_rest_as_it_was(
    twin: ModuleType, case: tuple[dict[str, str], str]
) -> None:
    files, config_id = case
    skip = frozenset({"virtual_server", "vrrp_instance"})
    full, full_reader = _tree(files, config_id, frozenset())
    with _plain(twin):
        skipped, skip_reader = _tree(files, config_id, skip)
    assert len(skipped) == len(full)
    for a, b in zip(skipped, full, strict=True):
        if a.keyword in skip:
            # A skipped block: the same statement without what it held, closed where
            # the full read closed it.
            assert a == _strip(b)
        else:
            assert a == b
    assert skip_reader.depth == full_reader.depth
    assert skip_reader.last_location == full_reader.last_location
    # The skipping read reports what the full read reports, less what the tree would
    # have found inside the skipped blocks (the reader's own findings all stay).
    missing = list(full_reader.diagnostics.items)
    for item in skip_reader.diagnostics.items:
        while missing and missing[0] != item:
            assert missing.pop(0).message.startswith(TREE_FINDINGS)
        assert missing, f"not in the full read's findings: {item}"
        missing.pop(0)
    assert all(m.message.startswith(TREE_FINDINGS) for m in missing)


TREE_FINDINGS = ("Unknown keyword", "Missing '{'", "Unexpected '{'", "Block ", "'{' missing")
