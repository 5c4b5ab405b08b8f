"""keepalived's value readers: numbers, timers and booleans, with its exact messages.

lib/parser.c's ``read_int``, ``read_unsigned``, ``read_unsigned64``,
``read_decimal_unsigned`` and ``read_timer``, and ``check_true_false``
(docs/reference/keepalived-2.2.7-checks.md §3). Each reader reports through a
``report`` callback and returns the value or None, as the C function returns
false. ``lenient`` is keepalived's ``ignore_error``: at run time (not under
``-t``) a number with trailing junk is then accepted as its numeric prefix,
with a ``WARNING - `` message; under ``-t`` it is always refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pykad.config.diagnostics import Severity

Report = Callable[[Severity, str], None]

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
UINT_MAX = 2**32 - 1
ULONG_MAX = 2**64 - 1
U64_MAX = 2**64 - 1
TIMER_HZ_DIGITS = 6
TIMER_MAXIMUM = ULONG_MAX - 1
WHITE_SPACE = " \t\n\r\f\v"

_STRTOL = re.compile(r"[ \t\n\r\f\v]*([+-]?)(\d*)")


def _strtol(text: str) -> tuple[int, int]:
    """C strtol/strtoul base 10: (value, index after the digits); no digits: (0, 0)."""
    m = _STRTOL.match(text)
    assert m
    if not m.group(2):
        return 0, 0
    value = int(m.group(2))
    return (-value if m.group(1) == "-" else value), m.end()


class Values:
    """The readers, bound to where they report and whether this is a ``-t`` run."""

    def __init__(self, report: Report, *, config_test: bool = True) -> None:
        self.report = report
        self.config_test = config_test

    def _warn(self, lenient: bool) -> str:
        return "WARNING - " if lenient and not self.config_test else ""

    def _accept(self, lenient: bool, in_range: bool) -> bool:
        return lenient and in_range and not self.config_test

    def read_int(self, word: str, low: int, high: int, *, lenient: bool = False) -> int | None:
        val, end = _strtol(word)
        warn = self._warn(lenient)
        if end != len(word):
            self.report(Severity.INVALID_NUMBER, f"{warn}invalid number '{word}'")
        elif not INT_MIN <= val <= INT_MAX:
            self.report(Severity.INVALID_NUMBER, f"{warn}number '{word}' outside integer range")
        elif not low <= val <= high:
            self.report(Severity.INVALID_NUMBER, f"number '{word}' outside range [{low}, {high}]")
        else:
            return val
        return val if self._accept(lenient, low <= val <= high) else None

    def read_unsigned(
        self, word: str, low: int, high: int, *, lenient: bool = False, limit: int = UINT_MAX
    ) -> int | None:
        """``read_unsigned`` (``limit`` = UINT_MAX) or ``read_unsigned64`` (U64_MAX)."""
        warn = self._warn(lenient)
        stripped = word.lstrip(WHITE_SPACE)
        val, end = _strtol(stripped)
        if val < 0:  # strtoul wraps a negative number; keepalived rejects it first
            val = -val
        if stripped.startswith("-"):
            self.report(Severity.INVALID_NUMBER, f"{warn}negative number '{word}'")
        elif end != len(stripped):
            self.report(Severity.INVALID_NUMBER, f"{warn}invalid number '{word}'")
        elif val > limit:
            what = "unsigned integer range" if limit == UINT_MAX else "unsigned 64 bit range"
            self.report(Severity.INVALID_NUMBER, f"{warn}number '{word}' outside {what}")
        elif not low <= val <= high:
            prefix = warn if limit == UINT_MAX else ""
            self.report(
                Severity.INVALID_NUMBER, f"{prefix}number '{word}' outside range [{low}, {high}]"
            )
        else:
            return val
        return val if self._accept(lenient, low <= val <= high) else None

    def read_decimal(
        self, word: str, low: int, high: int, shift: int, *, lenient: bool = False
    ) -> int | None:
        """``read_decimal_unsigned``: ``word`` x 10**shift, at most ``shift`` decimals."""
        warn = self._warn(lenient)
        if word.startswith("-"):
            self.report(Severity.INVALID_NUMBER, f"{warn}negative number '{word}'")
            return None
        whole, _, frac = word.partition(".")
        round_up = False
        if len(frac) > shift:
            self.report(
                Severity.INVALID_NUMBER, f"{warn}number '{word}' has too many decimal places"
            )
            round_up = frac[shift] >= "5"
            frac = frac[:shift]
        digits = whole + frac + "0" * (shift - len(frac))
        val, end = _strtol(digits)
        val += round_up
        if end != len(digits):
            self.report(Severity.INVALID_NUMBER, f"{warn}invalid number '{word}'")
        elif val > ULONG_MAX:
            self.report(
                Severity.INVALID_NUMBER, f"{warn}number '{word}' outside unsigned decimal range"
            )
            return None
        elif not low <= val <= high:
            unit = 10**shift
            self.report(
                Severity.INVALID_NUMBER,
                f"{warn}number '{word}' outside range "
                f"[{low // unit}.{low % unit:0{shift}d}, {high // unit}.{high % unit:0{shift}d}]",
            )
        else:
            return val
        return val if lenient and low <= val <= high else None

    def read_timer(
        self, word: str, low_us: int, high_us: int = 0, *, lenient: bool = False
    ) -> int | None:
        """``read_timer``: seconds with up to 6 decimals, as microseconds (0 = no maximum)."""
        return self.read_decimal(
            word, low_us, high_us or TIMER_MAXIMUM, TIMER_HZ_DIGITS, lenient=lenient
        )


def format_decimal(value: int, shift: int) -> str:
    """The text ``read_decimal(text, ..., shift)`` reads back as ``value`` (no trailing zeros)."""
    whole, frac = divmod(value, 10**shift)
    return f"{whole}.{frac:0{shift}d}".rstrip("0").rstrip(".") if shift else str(whole)


def format_timer(us: int) -> str:
    """Seconds for ``read_timer``: the inverse of reading a timer."""
    return format_decimal(us, TIMER_HZ_DIGITS)


def true_false(word: str) -> bool | None:
    """``check_true_false``: exactly true/on/yes or false/off/no, else None."""
    if word in ("true", "on", "yes"):
        return True
    if word in ("false", "off", "no"):
        return False
    return None
