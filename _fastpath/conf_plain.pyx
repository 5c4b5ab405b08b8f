# cython: language_level=3, boundscheck=False, wraparound=False
"""Plain physical lines, compiled (twin of ``pykad.config.plain_py``).

Same API and results as the pure-Python twin, whose docstrings give the rules.
:func:`logical_lines` reads each line once for its bounds and braces and once for
its pieces and words, and makes the named tuples with ``tuple.__new__``.
:meth:`SkipWalk.run` reads each plain physical line character by character: the
plain test, decommenting, brace splitting and the walk in one pass, making a
string only for the first word of each piece (the keyword the walk looks up).
A plain line's pieces are single braces or words without braces, so the walk
needs no more than that.
"""

from cpython.unicode cimport PyUnicode_DATA, PyUnicode_KIND, PyUnicode_READ

from pykad.config.diagnostics import Location
from pykad.config.plain_py import (
    BLOCK,
    CLOSED,
    DONE,
    GOING,
    KINDS,
    NAMED_VALUES,
    LogicalLine,
    VALUE,
    VALUES,
    pieces,
)

cdef str BOB = "{"
cdef str EOB = "}"
cdef dict _KINDS = KINDS
cdef object _Location = Location
cdef object _LogicalLine = LogicalLine
cdef object _new_tuple = tuple.__new__
cdef tuple BOB_WORDS = (BOB,)
cdef tuple EOB_WORDS = (EOB,)
cdef object _pieces = pieces


cdef inline bint _blank(Py_UCS4 c) noexcept:
    return c == 32 or c == 9


cdef inline bint _separator(Py_UCS4 c) noexcept:
    return c == 32 or c == 9 or c == 10 or c == 13 or c == 12 or c == 11


cdef inline bint _brace(Py_UCS4 c) noexcept:
    return c == 123 or c == 125


cdef inline bint _ends_word(Py_UCS4 c) noexcept:
    return _separator(c) or _brace(c)


cdef inline bint _plain(int kind, void* data, Py_ssize_t n) noexcept:
    """No character of quotes, escapes, conditionals, definitions or loops, and no
    ``include`` (``plain_py.NOT_PLAIN``)."""
    cdef Py_ssize_t i
    cdef Py_UCS4 c
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        if c == 36 or c == 64 or c == 126 or c == 34 or c == 92:  # $ @ ~ " \\
            return False
        if (
            c == 105  # i
            and i + 7 <= n
            and PyUnicode_READ(kind, data, i + 1) == 110  # n
            and PyUnicode_READ(kind, data, i + 2) == 99  # c
            and PyUnicode_READ(kind, data, i + 3) == 108  # l
            and PyUnicode_READ(kind, data, i + 4) == 117  # u
            and PyUnicode_READ(kind, data, i + 5) == 100  # d
            and PyUnicode_READ(kind, data, i + 6) == 101  # e
        ):
            return False
    return True


cdef inline Py_ssize_t _text_bounds(int kind, void* data, Py_ssize_t n, Py_ssize_t* start) noexcept:
    """The decommented, stripped text of a plain line: its end, and its start in ``start``."""
    cdef Py_ssize_t i, end = n
    cdef Py_UCS4 c
    while end > 0 and (
        PyUnicode_READ(kind, data, end - 1) == 10 or PyUnicode_READ(kind, data, end - 1) == 13
    ):
        end -= 1
    for i in range(end):
        c = PyUnicode_READ(kind, data, i)
        if c == 35 or c == 33:  # # !
            end = i
            break
    i = 0
    while i < end and _blank(PyUnicode_READ(kind, data, i)):
        i += 1
    while end > i and _blank(PyUnicode_READ(kind, data, end - 1)):
        end -= 1
    start[0] = i
    return end


cdef inline Py_ssize_t _depth_after(
    int kind, void* data, Py_ssize_t start, Py_ssize_t end, Py_ssize_t depth
) noexcept:
    """The brace depth after the text, or -1 if a ``}`` takes it below 0."""
    cdef Py_ssize_t i
    cdef Py_UCS4 c
    for i in range(start, end):
        c = PyUnicode_READ(kind, data, i)
        if c == 123:
            depth += 1
        elif c == 125:
            depth -= 1
            if depth < 0:
                return -1
    return depth


cdef inline Py_ssize_t _scan(
    int kind, void* data, Py_ssize_t n, Py_ssize_t depth, Py_ssize_t* start, Py_ssize_t* end
) noexcept:
    """The brace depth after a plain line, its text's bounds in ``start`` / ``end``; -1 if
    it is not plain or has a ``}`` beyond ``depth`` (both left for the reader)."""
    if not _plain(kind, data, n):
        return -1
    end[0] = _text_bounds(kind, data, n, start)
    if start[0] < end[0]:
        return _depth_after(kind, data, start[0], end[0], depth)
    return depth


def logical_lines(
    list lines, Py_ssize_t index, Py_ssize_t lineno, Py_ssize_t depth, str name, out
):
    """The logical lines of the plain lines from ``lines[index]`` (see the pure twin)."""
    cdef Py_ssize_t count = len(lines), made_at = 0
    cdef Py_ssize_t n, start, end, i, a, b, before, after
    cdef int kind
    cdef void* data
    cdef Py_UCS4 c
    cdef str raw
    cdef list words
    append = out.append
    while index < count:
        raw = lines[index]
        kind, data, n = PyUnicode_KIND(raw), PyUnicode_DATA(raw), len(raw)
        after = _scan(kind, data, n, depth, &start, &end)
        if after < 0:
            break
        before, depth = depth, after
        index += 1
        if n and PyUnicode_READ(kind, data, n - 1) == 10:
            lineno += 1
        if start >= end:
            continue
        made_at = lineno if lineno > 1 else 1
        location = _new_tuple(_Location, (name, made_at))
        i = start
        while i < end:
            c = PyUnicode_READ(kind, data, i)
            if c == 123:
                append(_new_tuple(_LogicalLine, (BOB, BOB_WORDS, location)))
                i += 1
                continue
            if c == 125:
                append(_new_tuple(_LogicalLine, (EOB, EOB_WORDS, location)))
                i += 1
                continue
            # a piece: up to the next brace, its words between separators
            a = i
            words = []
            while i < end and not _brace(PyUnicode_READ(kind, data, i)):
                if _separator(PyUnicode_READ(kind, data, i)):
                    i += 1
                    continue
                b = i
                while i < end and not _ends_word(PyUnicode_READ(kind, data, i)):
                    i += 1
                words.append(raw[b:i])
            if words:
                b = i
                while _blank(PyUnicode_READ(kind, data, a)):
                    a += 1
                while _blank(PyUnicode_READ(kind, data, b - 1)):
                    b -= 1
                append(_new_tuple(_LogicalLine, (raw[a:b], tuple(words), location)))
        if before == 0 or depth == 0:
            break
    return index, lineno, depth, made_at


cdef class SkipWalk:
    """The walk of one block (``path``, its ``{`` still to come)."""

    cdef public str path
    cdef public dict table
    cdef public list outer
    cdef public bint need_bob
    cdef public bint in_values
    cdef public bint values_need_bob
    cdef public object closed_at

    def __init__(self, str path):
        self.path = path
        self.table = _KINDS[path]
        self.outer = []
        self.need_bob = True
        self.in_values = False
        self.values_need_bob = False
        self.closed_at = None

    cpdef int feed(self, words):
        """One logical line's words (``GOING``, ``CLOSED`` or ``DONE``)."""
        cdef Py_ssize_t n = len(words)
        if self.in_values:
            if self.values_need_bob:
                self.values_need_bob = False
                if words[0] == BOB:
                    if n == 1:
                        return GOING
                    words = words[1:]
            if words[len(words) - 1] == EOB:
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
            return self._close()
        kind = self.table.get(word)
        if kind is None or kind == VALUE:
            return GOING
        if kind == BLOCK:
            self._open(word)
            self.need_bob = words[n - 1] != BOB
            return GOING
        head = words[2:] if kind == NAMED_VALUES else words[1:]
        self.in_values, self.values_need_bob = True, True
        if head and head[0] == BOB:
            self.values_need_bob = False
            self.in_values = not (len(head) > 1 and head[len(head) - 1] == EOB)
        return GOING

    cdef inline int _close(self) except -1:
        if not self.outer:
            return DONE
        self.path, self.table = self.outer.pop()
        return CLOSED

    cdef inline void _open(self, str word) except *:
        self.outer.append((self.path, self.table))
        self.path = f"{self.path}>{word}"
        self.table = _KINDS[self.path]
        self.closed_at = None

    cdef int _word_piece(self, str word) except -1:
        """A piece whose words hold no brace; ``word`` its first."""
        if self.in_values:
            self.values_need_bob = False
            return GOING
        self.need_bob = False
        kind = self.table.get(word)
        if kind is None or kind == VALUE:
            return GOING
        if kind == BLOCK:
            self._open(word)
            self.need_bob = True
            return GOING
        self.in_values, self.values_need_bob = True, True
        return GOING

    cdef int _brace_piece(self, bint opening) except -1:
        if self.in_values:
            self.values_need_bob = False
            if not opening:
                self.in_values = False
            return GOING
        self.need_bob = False
        if opening:
            return GOING
        return self._close()

    def run(self, list lines, Py_ssize_t index, Py_ssize_t lineno, Py_ssize_t depth, str name):
        """Walk the plain lines from ``lines[index]`` (see the pure twin)."""
        cdef Py_ssize_t count = len(lines), words_at = 0
        cdef Py_ssize_t n, start, end, i, after, word_start
        cdef Py_UCS4 c
        cdef int said, kind
        cdef void* data
        cdef str raw
        while index < count:
            raw = lines[index]
            kind, data, n = PyUnicode_KIND(raw), PyUnicode_DATA(raw), len(raw)
            after = _scan(kind, data, n, depth, &start, &end)
            if after < 0:
                break
            depth = after
            index += 1
            if n and PyUnicode_READ(kind, data, n - 1) == 10:
                lineno += 1
            if start >= end:
                continue
            words_at = lineno if lineno > 1 else 1
            i = start
            while i < end:
                c = PyUnicode_READ(kind, data, i)
                if c == 123 or c == 125:
                    said = self._brace_piece(c == 123)
                    i += 1
                    if said == CLOSED:
                        self.closed_at = _Location(name, lineno if lineno > 1 else 1)
                    elif said == DONE:
                        return index, lineno, depth, words_at, True, _pieces(raw[i:end])
                    continue
                if _separator(c):
                    i += 1
                    continue
                word_start = i
                while i < end and not _ends_word(PyUnicode_READ(kind, data, i)):
                    i += 1
                self._word_piece(raw[word_start:i])
                while i < end and not _brace(PyUnicode_READ(kind, data, i)):  # its other words
                    i += 1
        return index, lineno, depth, words_at, False, []
