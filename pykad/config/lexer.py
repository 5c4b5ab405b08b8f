"""Words of a keepalived.conf line: comments, quotes, escapes, brace alternatives.

Owned here, as keepalived 2.2.7 does them (docs/reference/keepalived-2.2.7-parser.md):

- ``decomment``: leading/trailing blanks and ``#``/``!`` comments off a physical
  line; only double quotes protect comment characters; ``\\#`` and ``\\!`` escape
  them outside quotes; a trailing ``\\`` survives for multi-line definitions (§1.2).
- ``split_words``: the words of an ordinary keyword line: blank-separated,
  double quotes group (no escapes, single quotes are plain characters) (§1.5).
- ``split_command``: the words of a script or command line: single and double
  quotes anywhere in a word and C-like escapes (§1.6).
- ``expand_braces``: csh-style ``{a,b}`` alternatives of an include pattern.
"""

from __future__ import annotations

import re

BLANKS = " \t"
WORD_SEPARATORS = " \t\f\n\r\v"
_SPECIAL = re.compile(r'[!#"\\]')
WORD = re.compile(r"[^ \t\f\n\r\v]+")
"""A word of a line without double quotes."""


def decomment(line: str) -> tuple[str, bool]:
    """The line without comment and outer blanks; True if a double quote is left open.

    As keepalived's ``decomment``, the scan goes on after a comment starts (its
    text is dropped) so that a final lone backslash still marks a continuation.
    """
    line = line.lstrip(BLANKS)
    if not _SPECIAL.search(line):  # the common line: nothing to decide
        return line.rstrip(BLANKS), False
    out: list[str] = []
    quote = comment = cont = False
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == "\\":
            if i + 1 == n:
                cont = True
                break
            if not comment:
                nxt = line[i + 1]
                out.append(nxt if not quote and nxt in "#!" else c + nxt)
            i += 2
            continue
        if not comment:
            if c == '"':
                quote = not quote
            elif not quote and c in "#!":
                comment = True
                i += 1
                continue
            out.append(c)
        i += 1
    text = "".join(out).rstrip(BLANKS)
    return (text + "\\" if cont else text), quote


def split_words(line: str) -> tuple[list[str], bool]:
    """The words of a keyword line; True if a double quote has no partner (words so far kept)."""
    if '"' not in line:
        return WORD.findall(line), False
    words: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in WORD_SEPARATORS:
            i += 1
        if i >= n:
            return words, False
        if line[i] == '"':
            end = line.find('"', i + 1)
            if end < 0:
                return words, True
            words.append(line[i + 1 : end])
            i = end + 1
        else:
            j = i
            while j < n and line[j] not in WORD_SEPARATORS and line[j] != '"':
                j += 1
            words.append(line[i:j])
            i = j


_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
                   "t": "\t", "v": "\v"}  # fmt: skip
_HEX = "0123456789abcdefABCDEF"


class CommandSyntaxError(ValueError):
    """A script or command line that keepalived would not run."""


def _escape(text: str, i: int) -> tuple[str, int]:
    """Decode the escape whose backslash is at ``text[i]``; (character, next index)."""
    if i + 1 >= len(text):
        raise CommandSyntaxError(f"Missing escape char at end: '{text}'")
    c = text[i + 1]
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], i + 2
    if c == "x":
        j = i + 2
        while j < len(text) and text[j] in _HEX:
            j += 1
        if j == i + 2:
            return "x", i + 2
        return chr(int(text[i + 2 : j], 16) & 0xFF), j
    if c in "01234567":
        j = i + 1
        while j < len(text) and j < i + 4 and text[j] in "01234567":
            j += 1
        return chr(int(text[i + 1 : j], 8) & 0xFF), j
    if c == "c" and i + 2 < len(text):
        return chr(ord(text[i + 2]) & 0x1F), i + 3
    return c, i + 2


def split_command(text: str) -> list[str]:
    """Words of a script/command line (keepalived's quoted-escaped tokenizer, §1.6)."""
    words: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in WORD_SEPARATORS:
            i += 1
        if i >= n:
            return words
        word: list[str] = []
        while i < n and text[i] not in WORD_SEPARATORS:
            c = text[i]
            if c in "\"'":
                end_quote = c
                i += 1
                while True:
                    if i >= n:
                        raise CommandSyntaxError(
                            f"String '{text}': missing terminating {end_quote}"
                        )
                    if text[i] == end_quote:
                        i += 1
                        break
                    if text[i] == "\\":
                        ch, i = _escape(text, i)
                        word.append(ch)
                    else:
                        word.append(text[i])
                        i += 1
            elif c == "\\":
                ch, i = _escape(text, i)
                word.append(ch)
            else:
                word.append(c)
                i += 1
        words.append("".join(word))


def expand_braces(pattern: str) -> list[str]:
    """csh-style ``{a,b}`` alternatives, left to right, nested (as glob's GLOB_BRACE)."""
    depth, start = 0, -1
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}" and depth:
            depth -= 1
            if depth == 0:
                return _expand_group(pattern, start, i)
        i += 1
    return [pattern]


def _expand_group(pattern: str, start: int, end: int) -> list[str]:
    inner = pattern[start + 1 : end]
    parts, depth, last = [], 0, 0
    for i, c in enumerate(inner):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(inner[last:i])
            last = i + 1
    parts.append(inner[last:])
    if len(parts) == 1:  # "{x}" is not an alternative: glob keeps it literally
        return [pattern[: end + 1] + alt for alt in expand_braces(pattern[end + 1 :])]
    head, tail = pattern[:start], pattern[end + 1 :]
    return [alt for part in parts for alt in expand_braces(head + part + tail)]
