"""Plain physical lines: the reader's fast path, and the walk of blocks not owned.

A plain physical line holds nothing for keepalived's line processing to do (no
quote, escape, ``$``, ``@``, ``~`` or ``include``): it is only decommented and
split at its braces (``pykad.config.reader``, §1.2 and §1.4).
:func:`logical_lines` makes the logical lines of a run of them.

keepalived's processes each read the whole configuration but act only on their own
keywords; the others' blocks are walked by the same rules (``pykad.config.tree``:
a keyword that opens a section needs a ``{`` and reads to its ``}``, a value block
reads raw lines to its ``}``, an unknown keyword's braces count at the current
level). :class:`SkipWalk` is that walk as a state machine over word lists
(:meth:`SkipWalk.feed`), plus :meth:`SkipWalk.run`, which reads a run of plain
physical lines (``pykad.config.reader``'s fast path: nothing to substitute, no
quotes) straight from the file's lines: decommented, brace-split and walked with
no line objects made. ``Reader.skip_block`` drives it.

This is the pure-Python twin of ``pykad._fastpath.conf_plain`` (chosen by
``pykad._accel``); tests compare the two.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from pykad.config.diagnostics import Location
from pykad.config.keywords import SECTIONS, Kind
from pykad.config.lexer import BLANKS, WORD

BOB, EOB = "{", "}"

VALUE, BLOCK, VALUES, NAMED_VALUES = 0, 1, 2, 3
"""A keyword's kind for the walk; ``NAMED_VALUES``: a value block whose name comes
before its ``{`` (``NAMED_VALUE_BLOCKS``)."""
NAMED_VALUE_BLOCKS = frozenset({"virtual_server_group"})
"""Value-block keywords whose name comes before the block (check_parser.c vsg_handler)."""


def _kind(word: str, kind: Kind) -> int:
    if kind is Kind.BLOCK:
        return BLOCK
    if kind is Kind.VALUES:
        return NAMED_VALUES if word in NAMED_VALUE_BLOCKS else VALUES
    return VALUE


KINDS: dict[str, dict[str, int]] = {
    path: {word: _kind(word, k.kind) for word, k in table.items()}
    for path, table in SECTIONS.items()
}
"""Every section's keywords by the kind the walk needs (shared with the compiled twin)."""

GOING, CLOSED, DONE = 0, 1, 2
"""What :meth:`SkipWalk.feed` says: go on, a nested block closed here (the caller
notes where in ``closed_at``), the walked block closed."""

NOT_PLAIN = re.compile(r'[$@~"\\]|include')
"""What a physical line must not hold to be plain (``pykad.config.reader``)."""
_COMMENT = re.compile(r"[#!]")
_BRACES = re.compile(r"([{}])")

Run = tuple[int, int, int, int, bool, list[tuple[str, list[str]]]]
"""What :meth:`SkipWalk.run` returns: the next line's index, the line number, the
brace depth, the number of the last line that held words (0: none), whether the
walked block closed, and (if it closed mid-line) the pieces of the line after it."""


class LogicalLine(NamedTuple):
    """One line as keyword handlers see it: the text after brace splitting, and its words
    (a named tuple: one is made for every line read, fast)."""

    text: str
    words: tuple[str, ...]
    location: Location


def logical_lines(
    lines: list[str], index: int, lineno: int, depth: int, name: str, out: deque[LogicalLine]
) -> tuple[int, int, int, int]:
    """The logical lines of the plain lines from ``lines[index]`` (of file ``name``;
    ``lineno`` the number of the line before it), into ``out``: until a line is not
    plain, the lines end, a line has a ``}`` beyond the brace depth ``depth`` (left for
    the reader, which reports it), or after a line that starts or ends at depth 0 (the
    tree looks at a top-level keyword before its block is read: a block a process does
    not own is walked, not made into lines). Returns the next line's index, the line
    number, the depth and the number of the last line that was not blank (0: none)."""
    made_at = 0
    for scanned in _scan(lines, index, lineno, depth):
        index, lineno, before, depth, text, split = scanned
        if not text:
            continue
        made_at = max(lineno, 1)
        location = Location(name, made_at)
        out.extend(LogicalLine(piece, tuple(words), location) for piece, words in split)
        if before == 0 or depth == 0:
            break
    return index, lineno, depth, made_at


Scanned = tuple[int, int, int, int, str, list[tuple[str, list[str]]]]
"""One plain line read by :func:`_scan`: the next line's index, this line's number, the
brace depth before and after it, its decommented text and its pieces."""


def _scan(lines: list[str], index: int, lineno: int, depth: int) -> Iterator[Scanned]:
    """The plain lines from ``lines[index]`` (``lineno`` the number of the line before
    it, ``depth`` the brace depth), one at a time, until one is not plain or has a
    ``}`` beyond the depth (both left for the reader)."""
    while index < len(lines):
        raw = lines[index]
        if NOT_PLAIN.search(raw):
            return
        text = plain_text(raw)
        split = pieces(text) if text else []
        after = depth
        for piece, _ in split:
            after += 1 if piece == BOB else -1 if piece == EOB else 0
            if after < 0:
                return
        index += 1
        if raw.endswith("\n"):
            lineno += 1
        yield index, lineno, depth, after, text, split
        depth = after


def plain_text(raw: str) -> str:
    """A plain physical line decommented (§1.2): without quotes or escapes, a comment is
    all from the first ``#`` or ``!``."""
    line = raw.rstrip("\r\n")
    if m := _COMMENT.search(line):
        line = line[: m.start()]
    return line.strip(BLANKS)


def pieces(text: str) -> list[tuple[str, list[str]]]:
    """A plain line's logical lines, (text, words), each ``{``/``}`` one of its own (§1.4)."""
    out = []
    for piece in _BRACES.split(text):
        piece = piece.strip(BLANKS)
        words = WORD.findall(piece)
        if words:
            out.append((piece, words))
    return out


class SkipWalk:
    """The walk of one block (``path``, its ``{`` still to come); see the module."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.table = KINDS[path]
        self.outer: list[tuple[str, dict[str, int]]] = []
        self.need_bob = True
        self.in_values = False
        """In a value block (``_Builder.value_block``'s rules)."""
        self.values_need_bob = False
        self.closed_at: Location | None = None
        """Where the last nested block closed, None since a block opened (where
        ``_Builder.section`` says an unclosed block ended)."""

    def feed(self, words: Sequence[str]) -> int:
        """One logical line's words (``GOING``, ``CLOSED`` or ``DONE``)."""
        if self.in_values:
            if self.values_need_bob:
                self.values_need_bob = False
                if words[0] == BOB:
                    if len(words) == 1:
                        return GOING
                    words = words[1:]
            if words[-1] == EOB:
                self.in_values = False
            return GOING
        word = words[0]
        if self.need_bob:
            self.need_bob = False
            if word == BOB:
                return GOING
        elif word == BOB:
            return GOING
        if word == EOB:
            if not self.outer:
                return DONE
            self.path, self.table = self.outer.pop()
            return CLOSED
        kind = self.table.get(word)
        if kind is None or kind == VALUE:
            return GOING
        if kind == BLOCK:
            self.outer.append((self.path, self.table))
            self.path = f"{self.path}>{word}"
            self.table = KINDS[self.path]
            self.need_bob, self.closed_at = words[-1] != BOB, None
            return GOING
        head = words[2:] if kind == NAMED_VALUES else words[1:]
        self.in_values, self.values_need_bob = True, True
        if head and head[0] == BOB:
            self.values_need_bob = False
            self.in_values = not (len(head) > 1 and head[-1] == EOB)
        return GOING

    def run(self, lines: list[str], index: int, lineno: int, depth: int, name: str) -> Run:
        """Walk the plain lines from ``lines[index]`` (of file ``name``; ``lineno`` the
        number of the line before it) until one is not plain, the lines end, the walked
        block closes, or a line has a ``}`` beyond the brace depth ``depth`` (left for
        the reader, which reports it)."""
        words_at = 0
        for scanned in _scan(lines, index, lineno, depth):
            index, lineno, _, depth, text, split = scanned
            if not text:
                continue
            words_at = max(lineno, 1)
            for i, (_, words) in enumerate(split):
                said = self.feed(words)
                if said == CLOSED:
                    self.closed_at = Location(name, words_at)
                elif said == DONE:
                    return index, lineno, depth, words_at, True, split[i + 1 :]
        return index, lineno, depth, words_at, False, []
