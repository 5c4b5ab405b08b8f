"""What a re-read of a configuration may take from the last read: its top-level blocks.

A reload reads the whole configuration again, and on a big director almost all of
it is what the last read saw. ``BlockMemo`` keeps, from one read to the next (in
the process that reads), each top-level block that was read from plain lines only
(``pykad.config.plain_py``: nothing for conditionals, definitions, loops or
includes to do) without a finding: its physical lines and the statement the block
tree made of them. A plain block's statement is a function of its lines alone, so
where the next read finds the same lines at the top level, it takes the statement
(moved to where the block now is) instead of making it again; this holds for the
blocks a process walks without reading (``Reader.skip_block``) as for the others.

``BlockMemo.entry`` tells a section builder that a statement came from an
unchanged block (``pykad.config.sections.vrrp`` reuses the instance it built from
it, under its own conditions). Owned here: the memo and the moving of statements;
the reader (``Reader.reuse`` / ``Reader.learn``) decides when a block is plain.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pykad.config.diagnostics import Location


@dataclass(eq=False, slots=True)
class Block:
    """One top-level block of the last read."""

    lines: list[str]
    """Its physical lines, as read (a new read matches them exactly), blank and
    comment lines before its keyword included."""
    key_at: int
    """Where its keyword's line is in ``lines`` (the memo finds blocks by that line)."""
    statement: Any
    """The ``pykad.config.tree.Statement`` it made."""
    offset: int
    """The statement's line minus the reader's line count where the block began."""
    newlines: int
    """How many of its lines end with a newline (the reader's line count moves by this)."""
    last_line: int
    """The line of its last words, relative to the statement's: where a read leaves
    ``last_location`` (in the main file) and a skip walk its last words."""
    walked: bool = False
    """Its statement was walked without being read (``Reader.skip_block``): it has no
    children, and can stand only for a statement a read also walks."""
    data: dict[str, Any] = field(default_factory=dict)
    """What builders keep about the block for the next read (by builder)."""


class BlockMemo:
    """The top-level blocks of the last read, by their keyword's physical line, and those of
    the read in progress (which replace them when it ends)."""

    def __init__(self) -> None:
        self._last: dict[str, Block] = {}
        self._next: dict[str, Block] = {}
        self._of: dict[int, Block] = {}
        self.reused = 0
        """Blocks taken from the last read by the read in progress (or the last)."""
        self.taken = 0
        """Of their results, those a builder took (e.g. VRRP instances)."""
        self.host_log: dict[tuple[Any, ...], Any] = {}
        """The host's answers the reads since ``host_generation`` began got."""
        self.host_generation = 0
        """Counts the times the host answered differently: a result made in another
        generation than the read's is not taken."""
        self.records: list[HostRecord] = []
        self._texts: dict[str, tuple[str, list[str], list[int]]] = {}
        self._retired: list[tuple[object, object]] = []
        self._next_texts: dict[str, tuple[str, list[str], list[int]]] = {}

    def lines(self, path: str, text: str, split: Callable[[str], list[str]]) -> list[str]:
        """``split(text)``, the physical lines of file ``path``, made only where the text
        differs from the last read's (the others are the last read's strings: less to
        make, and the blocks' lines then compare by identity)."""
        last = self._texts.get(path)
        if last is None:
            lines = split(text)
        elif last[0] == text:
            lines = last[1]
        else:
            lines = relines(last[0], last[1], last[2], text, split)
        ends = (
            last[2]
            if last is not None and lines is last[1]
            else list(itertools.accumulate(map(len, lines)))
        )
        self._next_texts[path] = (text, lines, ends)
        return lines

    def record(self, hosts: dict[str, Any]) -> dict[str, Any]:
        """``hosts`` (by tag) noting their answers; a new generation begins if they no
        longer answer as noted."""
        if not same_answers(self.host_log, hosts):
            self.host_log, self.host_generation = {}, self.host_generation + 1
        self.records = [HostRecord(h, tag, self.host_log) for tag, h in hosts.items() if h]
        return {r.tag: r for r in self.records}

    @property
    def impure(self) -> bool:
        """This read's hosts were asked more than ``PURE_QUERIES``."""
        return any(r.impure for r in self.records)

    def find(self, keyword_line: str) -> Block | None:
        return self._last.get(keyword_line)

    def keep(self, block: Block) -> None:
        """``block`` is one of this read's (learnt or taken again)."""
        self._next[block.lines[block.key_at]] = block
        self._of[id(block.statement)] = block

    def entry(self, statement: Any) -> Block | None:
        """The block ``statement`` was made from or taken from, if it is one of this read's."""
        block = self._of.get(id(statement))
        return block if block is not None and block.statement is statement else None

    def start(self) -> None:
        self._next, self._of, self.reused, self.taken = {}, {}, 0, 0
        self._next_texts = {}

    def end(self) -> None:
        """The read in progress is complete: its blocks are what the next read may take.
        The last read's are kept until :meth:`retire` (freeing a big read's blocks takes
        tens of ms: a reload does it once it has applied the new configuration)."""
        self._retired.append((self._last, self._texts))
        self._last, self._next = self._next, {}
        self._texts, self._next_texts = self._next_texts, {}

    def retire(self) -> None:
        """Free what earlier reads kept (see :meth:`end`)."""
        while self._retired:
            self._retired.pop()


def common_ends(a: str, b: str) -> tuple[int, int]:
    """How many characters ``a`` and ``b`` share at their start, and then at their end
    (never overlapping: together at most the shorter's length); binary searches on
    slices, so a big file is compared at C speed."""
    n, la, lb = min(len(a), len(b)), len(a), len(b)
    low, high = 0, n
    while low < high:
        mid = (low + high + 1) // 2
        if b.startswith(a[low:mid], low):
            low = mid
        else:
            high = mid - 1
    prefix = low
    low, high = 0, n - prefix
    while low < high:
        mid = (low + high + 1) // 2
        if b.endswith(a[la - mid : la - low], 0, lb - low):
            low = mid
        else:
            high = mid - 1
    return prefix, low


def relines(
    old: str, old_lines: list[str], ends: list[int], new: str, split: Callable[[str], list[str]]
) -> list[str]:
    """``split(new)``, made from ``old_lines`` (``split(old)``, ``ends`` their end offsets)
    where the texts are the same: the lines inside the common start and end are kept,
    cut only after a newline (after which ``split`` always starts a line), and only
    the text between is split."""
    prefix, suffix = common_ends(old, new)
    i = bisect.bisect_right(ends, prefix)  # lines that end within the common start
    while i and not old_lines[i - 1].endswith("\n"):
        i -= 1
    # lines whose start and the newline before it are within the common end
    j = min(bisect.bisect_left(ends, len(old) - suffix + 1) + 1, len(old_lines))
    while j < len(old_lines) and not old_lines[j - 1].endswith("\n"):
        j += 1
    start = ends[i - 1] if i else 0
    stop = len(new) - (len(old) - (ends[j - 1] if j else 0))
    return old_lines[:i] + split(new[start:stop]) + old_lines[j:]


def moved(statement: Any, name: str, delta: int) -> Any:
    """``statement`` (a ``Statement``) with every location moved ``delta`` lines, in ``name``
    (named tuples made directly: a reload moves every block after a changed line)."""
    new, statement_type = tuple.__new__, type(statement)

    def at(location: Location) -> Location:
        return new(Location, (name, location[1] + delta))

    def move(st: Any) -> Any:
        keyword, words, text, location, section, children, values, where, end = st
        return new(
            statement_type,
            (
                keyword,
                words,
                text,
                at(location),
                section,
                tuple(map(move, children)) if children else children,
                values,
                tuple(map(at, where)) if where else where,
                None if end is None else at(end),
            ),
        )

    return move(statement)


PURE_QUERIES = frozenset(
    {
        "interface_exists", "interface_mtu", "interface_is_loopback", "interface_addresses",
        "vrf_table", "online_cpus", "resolves", "iproute2_file", "etc_protocols", "user_ids",
        "group_id", "search_path", "realpath", "stat", "lstat",
    }
)  # fmt: skip
"""What a ``Host`` / ``ScriptHost`` answers without changing anything (asked again to
see whether the machine still answers as it did)."""


class HostRecord:
    """A host (or script host) whose answers a read got are noted in ``log``, so that
    the next read can ask them again: a builder may take a result made from the
    answers only while they are the same. A call of anything but ``PURE_QUERIES``
    marks it ``impure`` (this read's results are then not kept)."""

    def __init__(self, host: Any, tag: str, log: dict[tuple[Any, ...], Any]) -> None:
        self._host, self.tag, self._log = host, tag, log
        self.impure = False

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._host, name)
        if not callable(found):
            return found
        if name not in PURE_QUERIES:

            def act(*args: Any) -> Any:
                self.impure = True
                return found(*args)

            return act
        log, tag = self._log, self.tag

        def ask(*args: Any) -> Any:
            answer = found(*args)
            log.setdefault((tag, name, args), answer)
            return answer

        return ask


def same_answers(log: dict[tuple[Any, ...], Any], hosts: dict[str, Any]) -> bool:
    """Every question of ``log`` answered as then by ``hosts`` (by tag)."""
    for (tag, name, args), answer in log.items():
        host = hosts.get(tag)
        if host is None or getattr(host, name)(*args) != answer:
            return False
    return True
