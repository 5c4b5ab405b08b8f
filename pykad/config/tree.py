"""The block tree of a configuration: keywords dispatched section by section.

This is keepalived 2.2.7's ``process_stream`` and ``alloc_value_block``
(lib/parser.c; docs/reference/keepalived-2.2.7-parser.md §1.7): each logical
line's first word is looked up in the current section's keyword table
(``keywords.SECTIONS``); a keyword that opens a section needs a ``{`` (on its
line or as the next line) and reads statements until ``}``; a keyword that
opens a value block reads raw value lines until ``}``. An unknown keyword is
reported and skipped, but its block is not: its contents are read at the
current level and its ``}`` closes the enclosing section, as keepalived does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NamedTuple, Protocol

from pykad.config.diagnostics import Diagnostics, Location, Severity
from pykad.config.keywords import SECTIONS, TOP, Kind
from pykad.config.plain_py import NAMED_VALUE_BLOCKS
from pykad.config.reader import LogicalLine

BOB, EOB = "{", "}"


class Statement(NamedTuple):
    """One keyword line, with what its block held (a named tuple: one is made for every
    keyword read, fast)."""

    keyword: str
    words: tuple[str, ...]
    """All words of the line, the keyword first (a trailing ``{`` removed)."""
    text: str
    """The logical line as read (for keywords that re-split it as a command)."""
    location: Location
    section: str
    """Path of the section the keyword is in (``""`` for the top level)."""
    children: tuple[Statement, ...] = ()
    """Statements of the section it opens (``Kind.BLOCK``)."""
    values: tuple[tuple[str, ...], ...] = ()
    """Word lists of its value lines (``Kind.VALUES``)."""
    value_locations: tuple[Location, ...] = ()
    end: Location | None = None
    """Where its block closed (keepalived reports end-of-block checks there)."""

    @property
    def args(self) -> tuple[str, ...]:
        return self.words[1:]


class _Lines:
    def __init__(self, lines: Iterable[LogicalLine]) -> None:
        self._it: Iterator[LogicalLine] = iter(lines)
        self.current: LogicalLine | None = None

    def next(self) -> LogicalLine | None:
        self.current = next(self._it, None)
        return self.current


Hooks = Mapping[str, Callable[[tuple[str, ...]], None]]
"""Callbacks by ``section>keyword``, run as soon as such a statement is read (keepalived
acts on a few keywords while it reads, e.g. ``include_check`` for later includes)."""


class SkipSource(Protocol):
    """Walks a block that is skipped, making nothing (``pykad.config.reader.Reader``)."""

    def skip_block(self, path: str) -> Location | None:
        """Where the block of ``path`` closed, or if the input ended first, where
        :meth:`_Builder.section` would say (the last ``}`` since the last block opened)."""

    def reuse(self, skip: frozenset[str]) -> Statement | None:
        """Before a top-level statement: the last read's, if its lines are the same
        (``pykad.config.memo``) and it was not walked where this read (``skip``) reads;
        None otherwise."""

    def learn(self, statement: Statement, walked: bool) -> None:
        """After a top-level statement ``reuse`` did not give (``walked``: made by
        ``skip_block``): kept for the next read if it can be."""


def build_tree(
    lines: Iterable[LogicalLine],
    diagnostics: Diagnostics,
    hooks: Hooks | None = None,
    *,
    skip: frozenset[str] = frozenset(),
    source: SkipSource | None = None,
) -> tuple[Statement, ...]:
    """Dispatch ``lines`` from the top level; report what keepalived reports.

    The blocks of the top-level keywords in ``skip`` are walked in ``source`` (the
    reader of ``lines``) without statements or findings: they come without children.
    A process that does not own a section does this, as keepalived's processes walk
    each other's keywords without acting on them."""
    builder = _Builder(_Lines(lines), diagnostics, hooks or {})
    if source is not None:
        builder.skip, builder.source = skip, source
        builder.hooked = frozenset(path.split(">")[0] for path in builder.hooks)
    return builder.section(TOP, need_bob=False, level=0)


class _Builder:
    def __init__(self, lines: _Lines, diagnostics: Diagnostics, hooks: Hooks) -> None:
        self.lines = lines
        self.diagnostics = diagnostics
        self.hooks = hooks
        self.skip: frozenset[str] = frozenset()
        self.source: SkipSource | None = None
        self.hooked: frozenset[str] = frozenset()
        """Top-level keywords with hooks inside: never taken from the last read."""

    def report(self, severity: Severity, message: str, line: LogicalLine) -> None:
        self.diagnostics.add(severity, message, line.location)

    def section(self, path: str, *, need_bob: bool, level: int) -> tuple[Statement, ...]:
        table = SECTIONS[path]
        statements: list[Statement] = []
        self.closed_at: Location | None = None
        source = self.source if level == 0 else None
        made = 0  # statements before the one being read
        while True:
            if source is not None:
                if len(statements) > made and (last := statements[-1]).keyword not in self.hooked:
                    source.learn(last, last.keyword in self.skip and not last.children)
                if (reused := source.reuse(self.skip)) is not None:
                    statements.append(reused)
                made = len(statements)
                if reused is not None:
                    continue
            if (line := self.lines.next()) is None:
                break
            word = line.words[0]
            if need_bob:
                need_bob = False
                if word == BOB and level > 0:
                    continue
                self.report(
                    Severity.MISSING_BOB, "Missing '{' at beginning of configuration block", line
                )
            elif word == BOB:
                self.report(Severity.UNEXPECTED_BOB, "Unexpected '{' - ignoring", line)
                continue
            if word == EOB and level > 0:
                self.closed_at = line.location
                break
            keyword = table.get(word)
            if keyword is None:
                self.report(Severity.UNKNOWN_KEYWORD, f"Unknown keyword '{word}'", line)
                continue
            if keyword.since == "pykad":
                self.report(
                    Severity.OK,
                    f"'{word}' is a pykad keyword: keepalived ignores it as unknown",
                    line,
                )
            elif keyword.since:
                self.report(
                    Severity.WARNING,
                    f"'{word}' is a keepalived {keyword.since} keyword: "
                    "keepalived 2.2.7 does not know it",
                    line,
                )
            sub_path = f"{path}>{word}" if path else word
            if keyword.kind is Kind.BLOCK:
                words = line.words
                bob_needed = words[-1] != BOB
                if not bob_needed:
                    words = words[:-1]
                elif level == 0 and word in self.skip and self.source is not None:
                    end = self.source.skip_block(sub_path) or line.location
                    statements.append(
                        Statement(word, words, line.text, line.location, path, end=end)
                    )
                    continue
                children = self.section(sub_path, need_bob=bob_needed, level=level + 1)
                end = self.closed_at or (self.lines.current or line).location
                statements.append(
                    Statement(word, words, line.text, line.location, path, children, end=end)
                )
            elif keyword.kind is Kind.VALUES:
                statements.append(self.value_block(line, path))
            else:
                statements.append(Statement(word, line.words, line.text, line.location, path))
                hook = self.hooks.get(sub_path)
                if hook is not None:
                    hook(line.words)
        return tuple(statements)

    def value_block(self, line: LogicalLine, path: str) -> Statement:
        """keepalived's alloc_value_block: value lines up to ``}``."""
        word = line.words[0]
        head = line.words[1 + (word in NAMED_VALUE_BLOCKS) :]
        values: list[tuple[str, ...]] = []
        locations: list[Location] = []
        need_bob, had_eob = True, False
        if head:
            if head[0] == BOB:
                need_bob = False
                rest = head[1:]
                if rest and rest[-1] == EOB:
                    rest, had_eob = rest[:-1], True
                if rest:
                    values.append(rest)
                    locations.append(line.location)
            else:
                self.report(
                    Severity.GENERAL_ERROR, f"Block {word} has extra parameters {head[0]} ...", line
                )
        while not had_eob and (value := self.lines.next()) is not None:
            vec = value.words
            if need_bob:
                need_bob = False
                if vec[0] == BOB:
                    if len(vec) == 1:
                        continue
                    vec = vec[1:]
                else:
                    self.report(Severity.OK, f"'{{' missing from beginning of block {word}", value)
            if vec[-1] == EOB:
                if len(vec) == 1:
                    break
                had_eob, vec = True, vec[:-1]
            if vec:
                values.append(vec)
                locations.append(value.location)
        return Statement(
            word,
            line.words,
            line.text,
            line.location,
            path,
            values=tuple(values),
            value_locations=tuple(locations),
        )
