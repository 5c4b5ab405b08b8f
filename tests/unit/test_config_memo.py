"""A re-read that takes unchanged top-level blocks from the last read reads what a
read from scratch reads (``pykad.config.memo``).

Hypothesis writes a configuration from keepalived.conf's pieces (those of
test_config_reader_fast: braces anywhere, comments, quotes, ``$VARS``,
conditionals, loops, includes, stray braces), reads it, edits it (lines inserted,
removed, changed, blocks moved) and reads it again with the first read's blocks:
the statements, the reader's state and every finding must be those of a read of the
edited text from scratch, for both twins of the plain-line scanner.
"""

from __future__ import annotations

import posixpath
import random
from types import ModuleType

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from unit.test_config_reader_fast import PIECES, TWINS, MemoryFiles, _plain

from pykad.config.load import Loaded, load
from pykad.config.memo import BlockMemo, common_ends, relines
from pykad.config.reader import Reader, _physical_lines
from pykad.config.tree import Statement, build_tree

MAIN = "/etc/k/main.conf"

BLOCKS = [
    "vrrp_instance VI_{n} {{\n interface eth0\n virtual_router_id {n}\n priority 10{n}\n"
    " virtual_ipaddress {{\n  192.0.2.{n}/32\n }}\n}}",
    "virtual_server 192.0.2.{n} 80 {{\n real_server 198.51.100.{n} 80 {{\n  TCP_CHECK {{\n"
    "   connect_timeout 3\n  }}\n }}\n}}",
    "vrrp_script chk_{n} {{\n script /bin/true\n}}",
    "\n# a comment before a block\nvrrp_instance VI_{n} {{ virtual_router_id {n} }}",
]


SKIPS = [frozenset(), frozenset({"virtual_server"}), frozenset({"vrrp_instance", "vrrp_script"})]


@st.composite
def edited(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, str], str]:
    """Two versions of the files, the second an edit of the first, and a config id."""
    pieces = st.one_of(
        st.sampled_from(PIECES),
        st.builds(lambda b, n: b.format(n=n), st.sampled_from(BLOCKS), st.integers(1, 4)),
    )
    before = draw(st.lists(pieces, max_size=30))
    after = list(before)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(after)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "move"]))
        if kind == "insert" or not after:
            after.insert(at, draw(pieces))
            continue
        at = min(at, len(after) - 1)
        if kind == "delete":
            del after[at]
        elif kind == "replace":
            after[at] = draw(pieces)
        else:
            after.insert(draw(st.integers(0, len(after) - 1)), after.pop(at))
    extra = "\n".join(draw(st.lists(pieces, max_size=8)))
    end = draw(st.sampled_from(["\n", ""]))
    first = {MAIN: "\n".join(before) + end, "/etc/k/extra.conf": extra}
    second = {MAIN: "\n".join(after) + end, "/etc/k/extra.conf": extra}
    if draw(st.booleans()):
        second["/etc/k/extra.conf"] = "\n".join(draw(st.lists(pieces, max_size=8)))
    return first, second, draw(st.sampled_from(["r1", "r2"]))


def _tree(
    files: dict[str, str], config_id: str, skip: frozenset[str], memo: BlockMemo | None
) -> tuple[tuple[Statement, ...], tuple[object, ...]]:
    reader = Reader(
        MemoryFiles(files), MAIN, posixpath.dirname(MAIN), config_id, random.Random(1), memo=memo
    )
    tree = build_tree(reader.lines(), reader.diagnostics, skip=skip, source=reader)
    return tree, (reader.depth, reader.last_location, reader.diagnostics.items)


_SAME_BLOCK_IN_TWO_FILES = (  # found by Hypothesis: the main file's block taken for the
    # one an included file made last (the same lines, learnt where it is not the main file)
    "}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 101\n"
    " virtual_ipaddress {\n  192.0.2.1/32\n }\n}\n"
)


@TWINS
@settings(max_examples=400, deadline=None)
@example(
    case=(
        files := {MAIN: _SAME_BLOCK_IN_TWO_FILES + "include extra.conf\n",
                  "/etc/k/extra.conf": _SAME_BLOCK_IN_TWO_FILES + "global_defs {"},
        files,
        "r1",
    ),
    skips=[frozenset(), frozenset()],
)  # fmt: skip
@given(case=edited(), skips=st.lists(st.sampled_from(SKIPS), min_size=2, max_size=2))
def test_a_re_read_with_the_last_reads_blocks_reads_what_a_fresh_read_reads(
    twin: ModuleType,
    case: tuple[dict[str, str], dict[str, str], str],
    skips: list[frozenset[str]],
) -> None:
    """Also when the two reads walk different sections (the parent reads the whole
    file at start-up, its children then read only their own sections)."""
    first, second, config_id = case
    memo = BlockMemo()
    with _plain(twin):
        _tree(first, config_id, skips[0], memo)
        again = _tree(second, config_id, skips[1], memo)
        fresh = _tree(second, config_id, skips[1], None)
    assert again == fresh


def _instance(n: int, priority: int = 100, vips: int = 1) -> str:
    addresses = "".join(f"  192.0.2.{n + 100 * i}/32\n" for i in range(vips))
    return (
        f"vrrp_instance VI_{n} {{\n interface eth0\n virtual_router_id {n}\n"
        f" priority {priority}\n virtual_ipaddress {{\n{addresses} }}\n}}\n"
    )


def _virtual_server(n: int, weight: int = 1) -> str:
    return (
        f"virtual_server 198.51.100.{n} 80 {{\n delay_loop 5\n"
        f" real_server 203.0.113.{n} 80 {{\n  weight {weight}\n  TCP_CHECK {{\n"
        "   connect_timeout 3\n  }\n }\n}\n"
    )


class Host:
    """``interfaces`` exist; root is the only user."""

    interfaces: frozenset[str] = frozenset({"eth0"})
    loopbacks: frozenset[str] = frozenset()

    def interface_exists(self, name: str) -> bool:
        return name in self.interfaces

    def interface_is_loopback(self, name: str) -> bool:
        return name in self.loopbacks

    def user_ids(self, name: str) -> tuple[int, int] | None:
        return (0, 0) if name == "root" else None

    def group_id(self, name: str) -> int | None:
        return 0 if name == "root" else None


def _loaded(text: str, memo: BlockMemo | None, sections: tuple[str, ...]) -> Loaded:
    return load(
        MemoryFiles({MAIN: text}),
        MAIN,
        cwd="/etc/k",
        config_id="r1",
        host=Host(),
        sections=sections,
        memo=memo,
    )


def _load(text: str, memo: BlockMemo | None, sections: tuple[str, ...]) -> tuple[object, ...]:
    loaded = _loaded(text, memo, sections)
    return loaded.tree, loaded.config, [str(d) for d in loaded.diagnostics.items]


VRRP = ("global", "track_file", "static", "bfd", "vrrp")
HEAD = "global_defs {\n router_id r1\n}\n"


def _instances(config: object) -> list[object]:
    return list(config.vrrp.instances)  # type: ignore[attr-defined]


def test_unchanged_instances_are_taken_from_the_last_read() -> None:
    """The instances of unchanged blocks are the last read's objects; a changed block's
    is made again; and the config is the one a fresh read makes."""
    memo = BlockMemo()
    text = HEAD + "".join(_instance(n) for n in range(1, 6))
    first = _instances(_loaded(text, memo, VRRP).config)
    text = text.replace(_instance(3), _instance(3, priority=150))
    again = _loaded(text, memo, VRRP)
    assert _load(text, None, VRRP) == (
        again.tree,
        again.config,
        [str(d) for d in again.diagnostics.items],
    )
    taken = [a is b for a, b in zip(first, _instances(again.config), strict=True)]
    assert taken == [True, True, False, True, True]


@pytest.mark.parametrize(
    "change",
    [
        "global_defs",  # the environment: every instance is made again
        "loopback",  # the host answers differently
        "sync_group",  # a sync group now holds an instance
        "before",  # a script block moves before the instances
    ],
)
def test_instances_are_made_again_when_what_they_depend_on_changed(
    change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    memo = BlockMemo()
    script = "vrrp_script chk {\n script /bin/true\n}\n"
    body = "".join(_instance(n) for n in range(1, 4))
    text = HEAD + body + script
    first = _instances(_loaded(text, memo, VRRP).config)
    if change == "global_defs":
        text = HEAD.replace("router_id r1", "router_id r1\n vrrp_garp_master_delay 9") + body
        text += script
    elif change == "loopback":
        monkeypatch.setattr(Host, "loopbacks", frozenset({"eth0"}))
    elif change == "sync_group":
        text += "vrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n}\n"
    else:
        text = HEAD + script + body
    again = _loaded(text, memo, VRRP)
    assert _load(text, None, VRRP) == (
        again.tree,
        again.config,
        [str(d) for d in again.diagnostics.items],
    )
    taken = [any(a is b for a in first) for b in _instances(again.config)]
    assert taken == ([] if change == "loopback" else [False] * 3)


def test_a_reload_takes_the_unchanged_blocks_and_reads_what_a_fresh_read_reads() -> None:
    """The VRRP child's read of a director's config (instances, virtual servers it
    walks without reading): one priority changed, one address added (every block after
    it moves a line), one instance added; each re-read equals a fresh one and takes
    all blocks but the changed one from the last."""
    sections = ("global", "track_file", "static", "bfd", "vrrp")
    head = "global_defs {\n router_id r1\n}\n"
    instances = [_instance(n) for n in range(1, 21)]
    servers = "".join(_virtual_server(n) for n in range(1, 21))
    memo = BlockMemo()
    _load(head + "".join(instances) + servers, memo, sections)
    edits = [
        (5, _instance(5, priority=150)),
        (3, _instance(3, vips=2)),
        (len(instances), _instance(30)),
    ]
    for at, text in edits:
        if at == len(instances):
            instances.append(text)
        else:
            instances[at - 1] = text
        config = head + "".join(instances) + servers
        assert _load(config, memo, sections) == _load(config, None, sections)
        # all but global_defs (it has hooks: never taken) and the changed block
        assert memo.reused == len(instances) + 20 - 1


TEXT = st.text(alphabet=st.sampled_from("ab \n\r\x0c{}#"), max_size=60).map(
    lambda t: t.replace("b", "b" * 600)  # long lines: fgets's 1,023-character chunks
)


@settings(max_examples=2000, deadline=None)
@given(old=TEXT, new=TEXT, shared=st.tuples(TEXT, TEXT))
def test_a_changed_file_is_split_as_a_fresh_split_would(
    old: str, new: str, shared: tuple[str, str]
) -> None:
    """Only the text between the common start and end is split again; the lines are
    those of splitting the new text whole."""
    head, tail = shared
    old, new = head + old + tail, head + new + tail
    prefix, suffix = common_ends(old, new)
    assert old[:prefix] == new[:prefix] and prefix + suffix <= min(len(old), len(new))
    assert old[len(old) - suffix :] == new[len(new) - suffix :]
    assert prefix == len(old) or prefix == len(new) or old[prefix] != new[prefix]
    lines = _physical_lines(old)
    ends = [sum(map(len, lines[: k + 1])) for k in range(len(lines))]
    assert relines(old, lines, ends, new, _physical_lines) == _physical_lines(new)
