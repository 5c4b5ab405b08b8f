"""Configuration diagnostics: what is wrong, where, and the verdict ``-t`` gives.

The classes are keepalived 2.2.7's ``config_err_t`` in its order: the most
severe class seen decides ``keepalived -t``'s exit code (lib/parser.h,
keepalived/core/main.c ``config_test_exit``). Every diagnostic carries the
file and line it is about when there is one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple


class Severity(enum.IntEnum):
    """keepalived's ``config_err_t``, least to most severe."""

    OK = 0
    """Reported, but not an error (e.g. a missing file under plain ``include``)."""
    FILE_NOT_FOUND = 1
    BAD_IF = 2
    FATAL = 3
    MULTIPLE_FILES = 4
    UNKNOWN_KEYWORD = 5
    UNEXPECTED_BOB = 6
    MISSING_BOB = 7
    UNEXPECTED_EOB = 8
    MISSING_EOB = 9
    UNMATCHED_QUOTE = 10
    MISSING_PARAMETER = 11
    INVALID_NUMBER = 12
    GENERAL_ERROR = 13
    WARNING = 14
    DEPRECATED = 15
    SECURITY_ERROR = 16


EXIT_OK = 0
EXIT_MISSING_PARAMETER = 2
"""keepalived exits at once (``KEEPALIVED_EXIT_CONFIG``) when a keyword lacks a parameter."""
EXIT_CANNOT_RUN = 4
EXIT_ERRORS = 5
EXIT_SECURITY = 6
EXIT_INCLUDE_ERROR = 6
"""An include problem while an include check is in force (``KEEPALIVED_EXIT_NO_CONFIG``)."""


class Location(NamedTuple):
    """A line of a config file (1-based); a named tuple: many are made, fast."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    message: str
    location: Location | None = None
    corrected: bool = False
    """keepalived set the value right itself and goes on (``reducing quorum to 1``):
    an error for ``-t``, but the configuration runs as keepalived runs it, so a reload
    is not refused for it."""

    def __str__(self) -> str:
        level = (
            "note"
            if self.severity is Severity.OK
            else (
                "warning" if self.severity in (Severity.WARNING, Severity.DEPRECATED) else "error"
            )
        )
        where = f"{self.location}: " if self.location else ""
        return f"{where}{level}: {self.message}"


@dataclass
class Diagnostics:
    """What reading a configuration found, in order, and the verdict."""

    items: list[Diagnostic] = field(default_factory=list)
    include_error: bool = False
    """An include problem counted as an error (includer/m/w/b/a, include_check, -e)."""
    stopped: bool = False
    """Reading stopped early (a missing parameter, as keepalived exits there)."""
    exit_override: int | None = None
    """keepalived gave up with this exit code whatever it had found (e.g. no net_namespace)."""

    def add(
        self,
        severity: Severity,
        message: str,
        location: Location | None = None,
        *,
        corrected: bool = False,
    ) -> None:
        self.items.append(Diagnostic(severity, message, location, corrected))

    @property
    def worst(self) -> Severity:
        return max((d.severity for d in self.items), default=Severity.OK)

    def exit_code(self) -> int:
        """What ``keepalived -t`` exits with for these findings (2.2.7, as measured)."""
        if self.exit_override is not None:
            return self.exit_override
        if self.include_error:
            return EXIT_INCLUDE_ERROR
        if self.stopped:  # keepalived exits there and then, whatever it reported before
            return EXIT_MISSING_PARAMETER
        worst = self.worst
        if worst is Severity.OK:
            return EXIT_OK
        if worst in (Severity.FILE_NOT_FOUND, Severity.BAD_IF, Severity.FATAL):
            return EXIT_CANNOT_RUN
        if worst is Severity.SECURITY_ERROR:
            return EXIT_SECURITY
        return EXIT_ERRORS
