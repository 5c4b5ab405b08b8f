"""keepalived.conf as a stream of logical lines: includes, @conditionals, $VARS, ~SEQ/~LST.

This is keepalived 2.2.7's ``read_line`` (lib/parser.c; described in
docs/reference/keepalived-2.2.7-parser.md §1.3): physical lines are read in
1023-character chunks and decommented; a logical line then goes through the
``@id`` test, ``$NAME=`` definitions, ``~SEQ``/``~LST`` loops, parameter
substitution (lazy and recursive, decommenting again after a change), include
lines, and finally brace splitting, so that every ``{`` and ``}`` outside double
quotes is a line of its own. The reader tracks the textual brace depth and
reports an extra ``}`` as keepalived does.

Deliberate differences, each an error here where keepalived hangs or misreads:
a definition that refers to itself (keepalived loops forever), an include
cycle or nesting deeper than ``MAX_INCLUDE_DEPTH`` (keepalived recurses until
it runs out of file handles), ``${_RANDOM MIN MAX}`` anywhere on a line
(keepalived corrupts the line unless it is last), a failed ``~LST`` does not
swallow the next loop line, and lines are numbered from the file (keepalived
numbers a last line without newline as the one before). ``${_ENV NAME}``
(keepalived 2.4.0) is substituted, with a warning that 2.2.7 would not.

No I/O here: files come through the ``Files`` protocol; the caller passes the
config id, the starting directory and a random source.
"""

from __future__ import annotations

import posixpath
import random
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pykad._accel import load
from pykad.config import plain_py
from pykad.config.diagnostics import Diagnostics, Location, Severity
from pykad.config.lexer import BLANKS, decomment, expand_braces, split_words
from pykad.config.memo import Block, BlockMemo, moved
from pykad.config.plain_py import CLOSED, DONE, NOT_PLAIN, LogicalLine, pieces
from pykad.config.plain_py import plain_text as _plain_text

if TYPE_CHECKING:
    from pykad.config.tree import Statement

plain = load("conf_plain", "pykad.config.plain_py")
"""Runs of plain lines (logical lines, skipped blocks), compiled or the pure twin."""

__all__ = ["LogicalLine", "Reader"]

CHUNK = 1023
"""keepalived reads lines with fgets(buf, 1024): longer lines are cut into chunks."""
MAX_LINE = 1023
"""Parameter substitution may not grow a line past keepalived's buffer."""
MAX_INCLUDE_DEPTH = 64
MAX_SUBSTITUTIONS = 10_000

INCLUDE_R, INCLUDE_M, INCLUDE_W, INCLUDE_B = 1, 2, 4, 8
INCLUDE_ALL = INCLUDE_R | INCLUDE_M | INCLUDE_W | INCLUDE_B
_INCLUDE_VARIANTS = {
    "r": INCLUDE_R,
    "m": INCLUDE_R | INCLUDE_M,
    "w": INCLUDE_R | INCLUDE_M | INCLUDE_W,
    "b": INCLUDE_R | INCLUDE_B,
    "a": INCLUDE_ALL,
}
_WILDCARD = re.compile(r"[*?\[]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEFINITION = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)=[ \t]*(.*)\Z", re.S)
_BRACE_OR_QUOTE = re.compile(r'[{}"]')
_NOTHING = re.compile(r"[ \t]*(?:[#!].*)?\n?\Z", re.S)
"""A physical line with no words: blank, or only a comment."""
_RANDOM_PARAMS = re.compile(r"((?: +\d+)+)\}")
_ENV_PARAM = re.compile(r"[ \t]+([A-Za-z_][A-Za-z0-9_]*)\}")


class Files(Protocol):
    """What the reader needs of a file system; paths are absolute."""

    def glob(self, pattern: str) -> list[str]:
        """Sorted matches of a pattern without braces; directories end with ``/``."""

    def exists(self, path: str) -> bool:
        """The path exists (lstat succeeds)."""

    def kind(self, path: str) -> str:
        """``"file"`` (regular, not executable), ``"directory"`` or ``"other"``."""

    def read(self, path: str) -> str:
        """The file's text; raises OSError."""


@dataclass
class _File:
    path: str
    name: str
    """As shown in messages: the main file as given, included files by their full path."""
    lines: list[str]
    cwd_before: str
    include_check_before: int
    index: int = 0
    lineno: int = 0


@dataclass
class _Definition:
    value: str | list[str]
    """One line, or the lines of a multi-line definition."""

    @property
    def multiline(self) -> bool:
        return isinstance(self.value, list)


@dataclass
class Reader:
    """Reads a configuration from ``path`` into logical lines (``lines()``)."""

    files: Files
    path: str
    cwd: str
    config_id: str
    rng: random.Random = field(default_factory=random.Random)
    environ: Mapping[str, str] = field(default_factory=dict)
    """The process environment, for ``${_ENV NAME}`` (keepalived 2.4.0+)."""
    include_check: int = 0
    """Set by ``-e`` / ``--all-config`` (all checks) or by ``include_check`` in global_defs."""
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    fast_path: bool = True
    """False: every line goes through the whole pipeline (tests compare the two)."""
    memo: BlockMemo | None = None
    """The last read's top-level blocks, taken again where unchanged (``pykad.config.memo``)."""

    def __post_init__(self) -> None:
        self._stack: list[_File] = []
        self._pending: list[Iterator[str]] = []
        self._pending_files: list[tuple[str, str, int]] = []
        self._residue: str | None = None
        self._queue: deque[LogicalLine] = deque()
        """Logical lines made ahead: the pieces of a plain line."""
        self._collecting: _Definition | None = None
        self.definitions: dict[str, _Definition] = {}
        self.depth = 0
        self.last_location: Location | None = None
        """The last line of the main file read (where an unclosed block is reported)."""
        self._last_skipped: int | None = None
        self._pieces: deque[tuple[str, list[str]]] = deque()
        """What :meth:`skip_block` split from a plain line and did not walk yet."""
        self._words_at: Location | tuple[str, int] = Location(self.path, 1)
        self._slow = 0
        """Lines taken by the whole pipeline (not the plain fast path) so far."""
        self._mark: tuple[_File, int, int, int, int] | None = None
        self._builtins: dict[str, Callable[[str], str]] = {
            "_PWD": lambda _: self.cwd,
            "_INSTANCE": lambda _: self.config_id,
            "_RANDOM": self._random,
            "_HASH": lambda _: "#",
            "_BANG": lambda _: "!",
        }

    # --- diagnostics ------------------------------------------------------------------

    @property
    def location(self) -> Location | None:
        if not self._stack:
            return None
        top = self._stack[-1]
        location = Location(top.name, max(top.lineno, 1))
        if len(self._stack) == 1:
            self.last_location = location
        return location

    def report(self, severity: Severity, message: str) -> None:
        self.diagnostics.add(severity, message, self.location)

    def _file_problem(self, bit: int, include_type: int, message: str) -> None:
        counted = bool((self.include_check | include_type) & bit)
        self.report(Severity.FILE_NOT_FOUND if counted else Severity.OK, message)
        if counted and self._stack:  # the main file's problems are not include errors
            self.diagnostics.include_error = True

    # --- files --------------------------------------------------------------------------

    def _open_glob(self, pattern: str, include_type: int) -> None:
        """Push the files ``pattern`` matches (keepalived's open_glob_file)."""
        if len(self._stack) >= MAX_INCLUDE_DEPTH:
            self.report(
                Severity.GENERAL_ERROR,
                f"include '{pattern}' nested more than {MAX_INCLUDE_DEPTH} deep",
            )
            return
        base = self.cwd
        matches: list[str] = []
        missing = wildcard = False
        alternatives = expand_braces(pattern)
        for alt in alternatives:
            full = posixpath.join(base, alt)
            if _WILDCARD.search(alt):
                wildcard = True
                found = self.files.glob(full)
                if not found and not self.files.exists(_static_dir(full)):
                    missing = True
            else:
                found = (
                    [full + ("/" if self.files.kind(full) == "directory" else "")]
                    if (self.files.exists(full))
                    else []
                )
                missing |= not found
            matches += found
        has_brace = len(alternatives) > 1
        if not matches:
            if missing:
                bit = INCLUDE_B if has_brace else INCLUDE_M
                self._file_problem(bit, include_type, f"Config files missing '{pattern}'.")
            elif wildcard and (self.include_check | include_type) & INCLUDE_W:
                self._file_problem(INCLUDE_W, include_type, f"No config files matched '{pattern}'.")
            return
        if missing:
            self._file_problem(INCLUDE_B, include_type, f'Some config files missing: "{pattern}".')
            if (self.include_check | include_type) & INCLUDE_B:
                return
        if not self._stack and len(matches) > 1:
            self.report(
                Severity.MULTIPLE_FILES,
                f"WARNING, multiple configuration file matches of {pattern}, "
                f"starting with {matches[0]}",
            )
        relative = not pattern.startswith("/")
        for match in reversed(matches):  # a stack: the first match is read first
            shown = match[len(base.rstrip("/")) + 1 :] if relative else match
            self._pending_files.append((match, shown, include_type))
        self._open_next_pending()

    def _open_next_pending(self) -> bool:
        while self._pending_files:
            path, shown, include_type = self._pending_files.pop()
            if path.endswith("/"):
                self._file_problem(
                    INCLUDE_R,
                    include_type,
                    f"Configuration file '{shown}' is a directory - skipping",
                )
                continue
            if self.files.kind(path) != "file":
                self._file_problem(
                    INCLUDE_R,
                    include_type,
                    f"Configuration file '{shown}' is not a regular non-executable file - skipping",
                )
                continue
            if any(f.path == path for f in self._stack):
                self.report(Severity.GENERAL_ERROR, f"include loop: '{shown}' includes itself")
                continue
            try:
                text = self.files.read(path)
            except OSError as e:
                self._file_problem(
                    INCLUDE_R,
                    include_type,
                    f"Configuration file '{shown}' open problem ({e.strerror}) - skipping",
                )
                continue
            name = path if self._stack else shown
            self._stack.append(
                _File(path, name, self._split_file(path, text), self.cwd, self.include_check)
            )
            self.cwd = posixpath.dirname(path)
            return True
        return False

    def _split_file(self, path: str, text: str) -> list[str]:
        if self.memo is None:
            return _physical_lines(text)
        return self.memo.lines(path, text, _physical_lines)

    def _close_file(self) -> None:
        done = self._stack.pop()
        self.cwd = done.cwd_before
        self.include_check = done.include_check_before

    def set_include_check(self, words: tuple[str, ...]) -> None:
        """``include_check [+|-]read|match|wildcard_match|brace_match ...`` (lib/parser.c)."""
        if len(words) < 2:
            self.include_check = INCLUDE_ALL
            return
        names = {"read": INCLUDE_R, "match": INCLUDE_M, "wildcard_match": INCLUDE_W,
                 "brace_match": INCLUDE_B}  # fmt: skip
        for i, word in enumerate(words[1:], start=1):
            sign = word[0] if word[:1] in ("+", "-") else ""
            if not sign:
                if i > 1:
                    self.report(
                        Severity.GENERAL_ERROR,
                        f"Duplicate include_check '{word}' specified - ignoring",
                    )
                    continue
                self.include_check = 0
            name = word[len(sign) :]
            flag = names.get(name, 0)
            if not flag:
                self.report(
                    Severity.GENERAL_ERROR, f"Unknown include_check type '{name}' - ignoring"
                )
            elif sign == "+":
                self.include_check |= flag
            elif sign == "-":
                self.include_check &= ~flag
            else:
                self.include_check = INCLUDE_R | flag

    # --- definitions --------------------------------------------------------------------

    def _random(self, params: str) -> str:
        numbers = [int(p) for p in params.split()]
        if len(numbers) > 2:
            self.report(Severity.OK, f"Too many parameters or extra text for ${{_RANDOM {params}}}")
        low = numbers[0] if numbers else 0
        high = numbers[1] if len(numbers) > 1 else 32767
        return str(self.rng.randint(min(low, high), max(low, high)))

    def _define(self, name: str, value: str) -> None:
        if value.endswith("\\"):
            first = value[:-1].rstrip(BLANKS)
            definition = _Definition([first] if first else [])
            self._collecting = definition
        else:
            definition = _Definition(value)
        self.definitions[name] = definition

    def _collect(self, line: str) -> None:
        """A physical line of a multi-line definition (already decommented)."""
        assert self._collecting is not None
        lines = self._collecting.value
        assert isinstance(lines, list)
        if line.endswith("\\"):
            line = line[:-1].rstrip(BLANKS)
            if line:
                lines.append(line)
            return
        lines.append(line)
        self._end_collecting()

    def _end_collecting(self) -> None:
        if self._collecting is not None and not self._collecting.value:
            self._collecting.value = ""
        self._collecting = None

    def _lookup(self, line: str, i: int) -> tuple[str, int, list[str]] | None:
        """The reference starting at ``line[i] == '$'``: (value, end, more lines) or None."""
        braces = line.startswith("{", i + 1)
        m = _NAME.match(line, i + (2 if braces else 1))
        if not m:
            return None
        name, end = m.group(), m.end()
        params = ""
        if braces:
            pm = _RANDOM_PARAMS.match(line, end)
            em = _ENV_PARAM.match(line, end)
            if pm and name == "_RANDOM" and name not in self.definitions:
                params, end = pm.group(1), pm.end()
            elif em and name == "_ENV" and name not in self.definitions:
                self.report(
                    Severity.WARNING,
                    "${_ENV ...} is a keepalived 2.4.0 feature: keepalived 2.2.7 leaves it "
                    "unreplaced",
                )
                return self.environ.get(em.group(1), ""), em.end(), []
            elif line.startswith("}", end):
                end += 1
            else:
                return None
        elif end < len(line) and line[end] not in " \t,)":
            return None
        definition = self.definitions.get(name)
        if definition is None:
            builtin = self._builtins.get(name)
            return (builtin(params), end, []) if builtin else None
        if isinstance(definition.value, list):
            if end != len(line):  # a multi-line value only replaces a reference at the end
                return None
            first, *rest = definition.value or [""]
            return first, end, rest
        return definition.value, end, []

    def _substitute(self, line: str) -> tuple[str, bool]:
        """Replace ``$NAME`` and ``${NAME}``, rescanning what was inserted (§4.3)."""
        changed = False
        i = line.find("$")
        count = 0
        while i >= 0 and i + 1 < len(line):
            found = self._lookup(line, i)
            if found is None:
                i = line.find("$", i + 1)
                continue
            value, end, more = found
            count += 1
            if count > MAX_SUBSTITUTIONS:
                self.report(
                    Severity.GENERAL_ERROR,
                    f"Parameter substitution on line '{line}' does not end "
                    "(a definition refers to itself)",
                )
                return line, False
            if len(line) - (end - i) + len(value) > MAX_LINE:
                self.report(
                    Severity.OK,
                    f"Parameter substitution on line '{line}' would exceed maximum line length",
                )
                return line, changed
            line = line[:i] + value + line[end:]
            changed = True
            if more:
                self._pending.append(iter(more))
            if value.lstrip(BLANKS).startswith("~"):
                break
            i = line.find("$", i)
        return line, changed

    # --- loops --------------------------------------------------------------------------

    def _loop(self, line: str) -> bool:
        """Register a ``~SEQ``/``~SEQx``/``~LST`` line (§5); False if it is invalid."""
        if line.startswith("~SEQ"):
            ok = self._add_seq(line)
            if not ok:
                self.report(Severity.GENERAL_ERROR, f"Invalid ~SEQ specification '{line}'")
        else:
            ok = self._add_lst(line)
            if not ok:
                self.report(Severity.GENERAL_ERROR, f"Invalid ~LST specification '{line}'")
        return ok

    def _iterate(self, assignments: list[list[tuple[str, str]]], body: str) -> Iterator[str]:
        for assignment in assignments:
            for name, value in assignment:
                self.definitions[name] = _Definition(value)
            yield body

    def _add_seq(self, line: str) -> bool:
        m = re.match(r"~SEQ(x?)[ \t]*\([ \t]*([^ \t,)]*)[ \t]*", line)
        if not m:
            return False
        hexa, var = m.group(1) == "x", m.group(2)
        rest = line[m.end() :]
        if not rest or rest[0] == ")" or not var:
            self.report(Severity.GENERAL_ERROR, f"Invalid ~SEQ definition '{line}'")
            return False
        args = rest[1:].lstrip(BLANKS)
        close = args.find(")")
        if close < 0 or close + 2 > 64:
            self.report(Severity.GENERAL_ERROR, f"~SEQ parameter strings too long '{line}'")
            return False
        pending_before = len(self._pending)
        spec, _ = self._substitute(args[: close + 1])
        if len(self._pending) > pending_before:
            del self._pending[pending_before:]
            self.report(Severity.GENERAL_ERROR, f"~SEQ parameter is multiline definition '{line}'")
            return False
        numbers = _parse_seq_numbers(spec)
        if numbers is None:
            self.report(Severity.GENERAL_ERROR, f"Invalid ~SEQ definition '{line}'")
            return False
        if len(numbers) == 1:
            (end,) = numbers
            start, step = (-1 if end < 0 else 1), (-1 if end < 1 else 1)
        elif len(numbers) == 2:
            start, end = numbers
            step = 1 if start <= end else -1
        else:
            start, step, end = numbers
            if not step or (start < end and step < 0) or (start > end and step > 0):
                self.report(Severity.GENERAL_ERROR, f"Invalid ~SEQ values '{line}'")
                return False
        if hexa and (start < 0 or end < 0):
            self.report(
                Severity.GENERAL_ERROR, f"~SEQx is only valid for positive numbers '{line}'"
            )
            return False
        values = []
        value = start
        while True:
            values.append(f"{value:x}" if hexa else str(value))
            value += step
            if (step > 0 and value > end) or (step < 0 and value < end):
                break
        body = args[close + 1 :].lstrip(BLANKS)
        self._pending.append(self._iterate([[(var, v)] for v in values], body))
        return True

    def _add_lst(self, line: str) -> bool:
        m = re.match(r"~LST[ \t]*\(", line)
        if not m:
            return False
        text = line[m.end() :]
        names, text = _lst_group(text.lstrip(BLANKS), allow_close=False)
        if names is None or not text.startswith(","):
            return False
        text = text[1:].lstrip(BLANKS)
        value_sets: list[list[str]] = []
        while True:
            values, text = _lst_group(text, allow_close=True)
            if values is None:
                return False
            if len(values) > len(names):
                self.report(
                    Severity.GENERAL_ERROR, f"~LST specification has too many values '{line}'"
                )
                return False
            value_sets.append(values + [""] * (len(names) - len(values)))
            if text.startswith(")"):
                break
            if not text.startswith(","):
                return False
            text = text[1:].lstrip(BLANKS)
        body = text[1:].lstrip(BLANKS)
        self._pending.append(
            self._iterate([list(zip(names, vs, strict=True)) for vs in value_sets], body)
        )
        return True

    # --- the pipeline -------------------------------------------------------------------

    def _physical(self) -> str | None:
        """The next decommented, non-empty physical line, or None at the end of input."""
        while self._stack:
            top = self._stack[-1]
            if top.index >= len(top.lines):
                self._close_file()
                self._open_next_pending()
                continue
            raw = top.lines[top.index]
            top.index += 1
            if raw.endswith("\n"):
                top.lineno += 1
            line = raw.rstrip("\r\n")
            if not line:
                if self._collecting is not None:
                    self._end_collecting()
                continue
            text, open_quote = decomment(line)
            if open_quote:
                self.report(Severity.GENERAL_ERROR, f"Unterminated quote '{text}'")
            if self._collecting is not None:
                if text:
                    self._collect(text)
                continue
            if text:
                return text
        return None

    def _source(self) -> str | None:
        if self._residue is not None:
            residue, self._residue = self._residue, None
            return residue
        while self._pending:
            line = next(self._pending[-1], None)
            if line is not None:
                return line
            self._pending.pop()
        return self._physical()

    def _process(self, line: str) -> str:
        """Conditionals, definitions, loops and substitution (§1.3 steps b-f); "" drops."""
        tested = False
        while True:
            if line.startswith("@") and not tested:
                line = self._conditional(line)
                if not line:
                    return ""
            tested = True
            if line.startswith("$") and (m := _DEFINITION.match(line)):
                self._define(m.group(1), m.group(2))
                return ""
            if line.startswith(("~SEQ", "~LST")):
                self._loop(line)
                return ""
            if line.startswith("~") or "$" not in line:
                return line
            line, changed = self._substitute(line)
            if not changed:
                return line
            line, _ = decomment(line)
            if line.startswith("@"):
                tested = False
            elif "$" not in line:
                return line

    def _conditional(self, line: str) -> str:
        negate = line.startswith("@^")
        start = 2 if negate else 1
        m = re.search(r"[ \t]", line[start:])
        if not m:
            return ""
        ident = line[start : start + m.start()]
        if (ident == self.config_id) == negate:
            return ""
        return line[start + m.start() :].lstrip(BLANKS)

    def _include(self, line: str) -> bool:
        if not line.startswith("include") or len(line) < 8:
            return False
        if line[7].isspace():
            include_type, pattern = 0, line[8:]
        elif line[7] in _INCLUDE_VARIANTS and len(line) > 8 and line[8].isspace():
            include_type, pattern = _INCLUDE_VARIANTS[line[7]], line[9:]
        else:
            return False
        self._open_glob(pattern.lstrip(BLANKS), include_type)
        return True

    def lines(self) -> Iterator[LogicalLine]:
        """Every logical line of the configuration, in order."""
        if self.memo is not None:
            self.memo.start()
        self._open_glob(self.path, 0)
        while (line := self.next_line()) is not None:
            yield line
        if self._collecting is not None:
            self._end_collecting()
        if self.memo is not None:
            self.memo.end()

    def next_line(self) -> LogicalLine | None:
        """The next logical line, or None at the end of input."""
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._plain_ahead() is not None:
                top = self._stack[-1]
                top.index, top.lineno, self.depth, made_at = plain.logical_lines(
                    top.lines, top.index, top.lineno, self.depth, top.name, self._queue
                )
                if made_at and len(self._stack) == 1:
                    self.last_location = Location(top.name, made_at)
                if not self._queue and (raw := self._plain_ahead()) is not None:
                    at = self._extra_brace_line(raw)
                    if len(self._stack) == 1:
                        self.last_location = at
                    while self._pieces:
                        piece, words = self._pieces.popleft()
                        self._queue.append(LogicalLine(piece, tuple(words), at))
                continue
            line = self._source()
            if line is None:
                return None
            self._slow += 1
            line = self._process(line)
            if not line or self._include(line):
                continue
            line = self._split_braces(line).rstrip(BLANKS)
            if line == "{":
                self.depth += 1
            elif line == "}":
                self._close_brace()
            words, unmatched = split_words(line)
            if unmatched:
                self.report(Severity.UNMATCHED_QUOTE, f"Unmatched quote: '{line}'")
            if words:
                location = self.location
                assert location is not None
                return LogicalLine(line, tuple(words), location)

    def _close_brace(self) -> None:
        self.depth -= 1
        if self.depth < 0:
            self.report(Severity.UNEXPECTED_EOB, "Extra '}' found")
            self.depth = 0

    # --- the fast path: a plain physical line is only split ------------------------------

    def _plain_ahead(self) -> str | None:
        """The next physical line if nothing but it is pending and it is plain (nothing for
        the steps of :meth:`_process` and :meth:`_include` to do); it is not consumed."""
        if self._residue is not None or self._pending or self._collecting is not None:
            return None
        if not self._stack or not self.fast_path:
            return None
        top = self._stack[-1]
        if top.index >= len(top.lines):
            return None
        raw = top.lines[top.index]
        return None if NOT_PLAIN.search(raw) else raw

    def _consume_raw(self, raw: str) -> _File:
        top = self._stack[-1]
        top.index += 1
        if raw.endswith("\n"):
            top.lineno += 1
        return top

    def _extra_brace_line(self, raw: str) -> Location:
        """Consume ``raw``, a plain line with a ``}`` beyond the brace depth (the runs of
        plain lines leave it here): its pieces into ``_pieces``, the ``}`` reported
        (§1.4); where it is."""
        top = self._consume_raw(raw)
        self._split_plain(_plain_text(raw))
        return Location(top.name, max(top.lineno, 1))

    # --- the last read's blocks (``pykad.config.memo``) --------------------------------

    def _clean(self) -> bool:
        """Nothing pending between lines: no words, pieces or pipeline state left."""
        return not (
            self.depth or self._queue or self._pieces or not self._stack or not self.fast_path
            or self._residue is not None or self._pending or self._collecting is not None
        )  # fmt: skip

    def reuse(self, skip: frozenset[str]) -> Statement | None:
        """At the top level, before a statement: the last read's statement for the block
        that follows, if its lines are the same (they are then consumed) and it was not
        walked where this read reads (``skip``: the keywords this read walks), else None
        (and where the statement begins is noted for :meth:`learn`)."""
        self._mark = None
        memo = self.memo
        if memo is None or not self._clean():
            return None
        top = self._stack[-1]
        lines, index = top.lines, top.index
        key_at = index
        while key_at < len(lines) and _NOTHING.match(lines[key_at]):
            key_at += 1
        if key_at == len(lines):
            return None
        block = memo.find(lines[key_at])
        end = index + len(block.lines) if block is not None else 0
        if (
            block is None
            or block.key_at != key_at - index
            or (block.walked and block.statement.keyword not in skip)
            or (now := lines[index:end]) != block.lines
        ):
            self._mark = (top, index, top.lineno, self._slow, len(self.diagnostics.items))
            return None
        line = top.lineno + block.offset
        statement: Statement = block.statement
        walked = block.walked
        if statement.children and statement.keyword in skip:  # as the walk makes it
            statement, walked = statement._replace(children=()), True
        delta = line - statement.location.line
        if delta or statement.location.file != top.name:
            statement = moved(statement, top.name, delta)
        top.index, top.lineno = end, top.lineno + block.newlines
        if len(self._stack) == 1:
            self.last_location = Location(top.name, line + block.last_line)
        if statement.keyword in skip:  # where the walk would have left its last words
            self._words_at = (top.name, line + block.last_line)
        memo.keep(
            Block(now, block.key_at, statement, block.offset, block.newlines, block.last_line,
                  walked, block.data)
        )  # fmt: skip
        memo.reused += 1
        return statement

    def learn(self, statement: Statement, walked: bool) -> None:
        """After a top-level ``statement`` :meth:`reuse` did not have (``walked``: by
        :meth:`skip_block`): kept for the next read if it was made from plain lines
        only, from a line start to a line end, without a finding."""
        mark, self._mark = self._mark, None
        if mark is None or self.memo is None:
            return
        top, index, lineno, slow, findings = mark
        if not self._clean() or self._stack[-1] is not top or top.index <= index:
            return
        if self._slow != slow or len(self.diagnostics.items) != findings:
            return
        lines = top.lines[index : top.index]
        key_at = 0
        while key_at < len(lines) - 1 and _NOTHING.match(lines[key_at]):
            key_at += 1
        last = len(lines) - 1
        while last > key_at and _NOTHING.match(lines[last]):
            last -= 1
        # a line's number counts the newline-ended lines up to it (``_consume_raw``)
        last_line = max(lineno + sum(raw.endswith("\n") for raw in lines[: last + 1]), 1)
        at = statement.location.line
        self.memo.keep(
            Block(lines, key_at, statement, at - lineno, top.lineno - lineno, last_line - at,
                  walked)
        )  # fmt: skip

    # --- walking a block a process does not own (``pykad.config.tree``) ---------------

    def skip_block(self, path: str) -> Location | None:
        """Walk the lines that follow as the block of ``path`` (``pykad.config.tree``; its
        ``{`` still to come) until it closes, making nothing; where it closed, or if the
        input ended first, where the tree would say (the last ``}`` since the last
        block opened, or None).

        The same lines as :meth:`next_line`, for a process that skips a section it does
        not own (keepalived's processes walk each other's keywords without acting on
        them): runs of plain lines go to ``SkipWalk.run``, which makes no objects."""
        walk = plain.SkipWalk(path)
        while True:
            while self._pieces:
                if self._feed(walk, self._pieces.popleft()[1]):
                    return self.end_skip()
            if self._queue:
                line = self._queue.popleft()
                self._words_at = line.location
                if self._feed(walk, line.words):
                    return self.end_skip()
                continue
            if self._plain_ahead() is not None:
                top = self._stack[-1]
                index, top.lineno, self.depth, words_at, done, rest = walk.run(
                    top.lines, top.index, top.lineno, self.depth, top.name
                )
                top.index = index
                if words_at:
                    self._skipped_to(top, words_at)
                if done:
                    self._pieces.extend(rest)
                    return self.end_skip()
                if (raw := self._plain_ahead()) is not None:
                    location = self._extra_brace_line(raw)
                    self._skipped_to(top, location.line)
                continue
            self._note_skipped()
            read = self.next_line()
            if read is None:
                closed_at: Location | None = walk.closed_at
                return closed_at
            self._words_at = read.location
            if self._feed(walk, read.words):
                return self.end_skip()

    def _feed(self, walk: plain_py.SkipWalk, words: Sequence[str]) -> bool:
        said = walk.feed(words)
        if said == CLOSED:
            walk.closed_at = self.where()
        return said == DONE

    def _skipped_to(self, top: _File, lineno: int) -> None:
        self._words_at = (top.name, lineno)
        if len(self._stack) == 1:
            self._last_skipped = lineno

    def _split_plain(self, text: str) -> None:
        """The pieces of a plain line with braces, into ``_pieces`` (§1.4)."""
        for piece, words in pieces(text):
            if piece == "{":
                self.depth += 1
            elif piece == "}":
                self._close_brace()
            self._pieces.append((piece, words))

    def where(self) -> Location:
        """Where the last line :meth:`skip_block` walked is."""
        at = self._words_at
        return at if isinstance(at, Location) else Location(at[0], max(at[1], 1))

    def end_skip(self) -> Location:
        """:meth:`where`; the pieces :meth:`skip_block` split but did not walk go back
        to :meth:`next_line`."""
        self._note_skipped()
        location = self.where()
        while self._pieces:
            piece, words = self._pieces.popleft()
            self._queue.append(LogicalLine(piece, tuple(words), location))
        return location

    def _note_skipped(self) -> None:
        """``last_location`` for the main file's lines :meth:`skip_block` consumed."""
        if self._last_skipped is not None:
            self.last_location = Location(self._stack[0].name, max(self._last_skipped, 1))
            self._last_skipped = None

    def _split_braces(self, line: str) -> str:
        """Cut at the first ``{``/``}`` outside double quotes; keep the rest for later (§1.4)."""
        i = 0
        if line[0] not in "{}":
            while True:
                m = _BRACE_OR_QUOTE.search(line, i)
                if not m:
                    return line
                if m.group() != '"':
                    i = m.start()
                    break
                close = line.find('"', m.start() + 1)
                if close < 0:
                    return line
                i = close + 1
        skip = 1 + len(line[i + 1 :]) - len(line[i + 1 :].lstrip(BLANKS)) if i == 0 else 0
        rest = line[i + skip :].rstrip(BLANKS)
        if rest:
            self._residue = rest
            return line[: i + skip]
        return line


def _static_dir(pattern: str) -> str:
    """The directory part of ``pattern`` before its first wildcard."""
    m = _WILDCARD.search(pattern)
    head = pattern[: m.start()] if m else pattern
    return posixpath.dirname(head) or "/"


def _physical_lines(text: str) -> list[str]:
    """Lines as fgets(1024) returns them: chunks of at most 1023 characters."""
    lines = text.splitlines(keepends=True)
    if not lines or max(map(len, lines)) <= CHUNK:
        return lines
    out = []
    for line in lines:
        while len(line) > CHUNK:
            out.append(line[:CHUNK])
            line = line[CHUNK:]
        out.append(line)
    return out


def _parse_seq_numbers(spec: str) -> list[int] | None:
    """The 1-3 numbers of ``~SEQ(var, ...)`` after the variable, as strtol reads them."""
    numbers = []
    for part in spec[:-1].split(","):
        m = re.fullmatch(r"[ \t]*([+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*))[ \t]*", part)
        if not m:
            return None
        numbers.append(
            int(m.group(1), 0)
            if not re.fullmatch(r"[+-]?0[0-7]+", m.group(1))
            else int(m.group(1), 8)
        )
    return numbers if 1 <= len(numbers) <= 3 else None


def _lst_group(text: str, *, allow_close: bool) -> tuple[list[str] | None, str]:
    """``NAME`` or ``{A, B}`` (names), or a value / ``{v1, v2}`` (values) of ~LST."""
    stops = " \t,})" if allow_close else " \t,}"
    if text.startswith("{"):
        items = []
        text = text[1:].lstrip(BLANKS)
        while True:
            m = re.match(rf"[^{re.escape(stops)}]*", text)
            assert m
            items.append(m.group())
            text = text[m.end() :].lstrip(BLANKS)
            if text.startswith("}"):
                return items, text[1:].lstrip(BLANKS)
            if not text.startswith(","):
                return None, text
            text = text[1:].lstrip(BLANKS)
    m = re.match(rf"[^{re.escape(stops)}]*", text)
    assert m
    return [m.group()], text[m.end() :].lstrip(BLANKS)
