"""From the block tree to the typed model: section builders, in file order.

Owned here: the ``Context`` every keyword handler reports through (current
location, value readers, the host facts it may check), ``word`` (keepalived's
``strvec_slot``: a missing parameter stops everything, exit 2), the ``Host``
facts a check may need, the ``SectionBuilder`` contract and ``build``, which
hands each top-level statement to the section that owns its keyword, in file
order (so a reference to an object defined later fails as in keepalived), then
lets each section finish (its post-parse checks) in keepalived's order.

Each section module under ``pykad/config/sections/`` owns its keywords, its
part of the model, its checks and its writer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pykad.config.diagnostics import Diagnostics, Location, Severity
from pykad.config.tree import Statement
from pykad.config.values import Values


class Host(Protocol):
    """Facts about the machine that keepalived's checks look at.

    A host may also offer these, which checks use when present (``getattr``) and
    otherwise fall back to keepalived's defaults: ``interface_mtu(name) -> int | None``,
    ``interface_is_loopback(name) -> bool``, ``interface_addresses(name) -> tuple``,
    ``vrf_table(name) -> int | None``, ``online_cpus() -> int``, ``resolves(name) -> bool``,
    ``enter_namespace(name) -> bool`` (checks then see that namespace's interfaces),
    ``iproute2_file(name) -> str | None`` and ``etc_protocols() -> str | None``
    (``pykad.drivers.host.LocalHost`` has them all).
    """

    def interface_exists(self, name: str) -> bool: ...

    def user_ids(self, name: str) -> tuple[int, int] | None:
        """(uid, primary gid) of a user, or None if there is none."""

    def group_id(self, name: str) -> int | None: ...


class NoHost:
    """A host with no interfaces and no users: for pure tests."""

    def interface_exists(self, name: str) -> bool:
        return False

    def user_ids(self, name: str) -> tuple[int, int] | None:
        return (0, 0) if name == "root" else None

    def group_id(self, name: str) -> int | None:
        return 0 if name == "root" else None


class MissingParameter(Exception):
    """A handler needed a word the line does not have (keepalived exits with 2)."""


class StopReading(Exception):
    """keepalived stops here and exits with ``exit_code``, whatever it found before."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


@dataclass
class Context:
    """Where handlers report, what they may ask of the host, and the value readers."""

    diagnostics: Diagnostics
    host: Host = field(default_factory=NoHost)
    config_test: bool = True
    location: Location | None = None

    def __post_init__(self) -> None:
        self.values = Values(self._report_here, config_test=self.config_test)
        self.subject: Location | None = None
        """The object post-parse checks are looking at (set by the sections' checks)."""
        self.script_host: Any = None
        """A ``pykad.config.scripts.ScriptHost`` to vet scripts with, or None to skip that."""
        self.memo: Any = None
        """The ``pykad.config.memo.BlockMemo`` of a re-read (builders may take what they
        made from an unchanged block), or None."""
        self.tree: Sequence[Statement] = ()
        """The top-level statements being built."""

    def _report_here(self, severity: Severity, message: str) -> None:
        self.diagnostics.add(severity, message, self.location or self.subject)

    def error(self, message: str, severity: Severity = Severity.GENERAL_ERROR) -> None:
        """Report at the current statement (keepalived's report_config_error)."""
        self.diagnostics.add(severity, message, self.location or self.subject)

    def after_parse(
        self,
        message: str,
        severity: Severity = Severity.GENERAL_ERROR,
        location: Location | None = None,
        *,
        corrected: bool = False,
    ) -> None:
        """Report a post-parse finding, at the object it is about.

        keepalived prints these without a location; pykad names the line of the
        object being checked: ``location``, or else the current ``subject``.
        ``corrected``: keepalived set the value right and goes on (see
        :class:`~pykad.config.diagnostics.Diagnostic`).
        """
        self.diagnostics.add(severity, message, location or self.subject, corrected=corrected)

    def note(self, message: str) -> None:
        """keepalived only logs this (no effect on the verdict)."""
        self.diagnostics.add(Severity.OK, message, self.location or self.subject)

    def at(self, statement: Statement) -> Context:
        self.location = statement.location
        return self

    def word(self, statement: Statement, index: int) -> str:
        """Word ``index`` of the line (0 is the keyword); a missing one stops the parse."""
        if index < len(statement.words):
            return statement.words[index]
        previous = statement.words[index - 1] if 0 < index <= len(statement.words) else None
        if previous is not None:
            message = (
                f"*** Configuration line starting `{statement.words[0]}` is missing a "
                f"parameter after keyword `{previous}` at word position {index + 1}"
            )
        else:
            message = (
                f"*** Configuration line starting `{statement.words[0]}` is missing a "
                f"parameter at word position {index + 1}"
            )
        self.location = statement.location
        self.error(message, Severity.MISSING_PARAMETER)
        raise MissingParameter(message)

    def flag(self, statement: Statement, what: str) -> bool | None:
        """A ``<BOOL>?`` keyword: no word means true; a bad word is reported."""
        from pykad.config.values import true_false

        if len(statement.words) < 2:
            return True
        value = true_false(statement.words[1])
        if value is None:
            self.error(f"Invalid value '{statement.words[1]}' for {what} specified")
        return value


class SectionBuilder(Protocol):
    """One section's part of the configuration: its keywords, model, checks."""

    keywords: ClassVar[frozenset[str]]
    """The top-level keywords this section owns."""

    def statement(self, statement: Statement) -> None:
        """Read one top-level statement (and its block), in file order."""

    def finish(self) -> Any:
        """Apply defaults and post-parse checks; return this section's model part."""


BuilderFactory = Callable[[Context, "Builders"], SectionBuilder]


@dataclass
class Builders:
    """The section builders of one build, by name, so that sections can see each other."""

    by_name: dict[str, SectionBuilder] = field(default_factory=dict)

    def __getitem__(self, name: str) -> SectionBuilder:
        return self.by_name[name]


FIRST_PASS_ORDER = 20
"""Sections ordered below this are read in a pass of their own, before the others.

keepalived's parent process reads global_defs and the top-level settings of
the whole file first; its VRRP, checker and BFD processes then read their own
sections, in file order, already knowing every global setting.
"""


def build(
    tree: Sequence[Statement],
    ctx: Context,
    sections: Sequence[tuple[str, int, BuilderFactory]],
) -> dict[str, Any] | None:
    """Run ``sections`` (name, order, factory) over ``tree``; their parts, or None if stopped.

    Parts are finished in ``order`` (keepalived: global, checker, VRRP, BFD).
    """
    builders = Builders()
    ordered = sorted(sections, key=lambda s: s[1])
    for name, _, factory in ordered:
        builders.by_name[name] = factory(ctx, builders)
    first = [builders[name] for name, order, _ in ordered if order < FIRST_PASS_ORDER]
    rest = [builders[name] for name, order, _ in ordered if order >= FIRST_PASS_ORDER]
    parts: dict[str, Any] = {}
    try:
        _walk(tree, ctx, first)
        for name, order, _ in ordered:
            if order < FIRST_PASS_ORDER:
                parts[name] = builders[name].finish()
        _walk(tree, ctx, rest)
    except MissingParameter:
        ctx.diagnostics.stopped = True
        return None
    except StopReading as stop:
        ctx.diagnostics.exit_override = stop.exit_code
        return None
    ctx.location = None
    for name, order, _ in ordered:
        if order >= FIRST_PASS_ORDER:
            parts[name] = builders[name].finish()
    return parts


def _walk(tree: Iterable[Statement], ctx: Context, builders: Iterable[SectionBuilder]) -> None:
    owner = {keyword: b for b in builders for keyword in b.keywords}
    for statement in tree:
        section = owner.get(statement.keyword)
        if section is not None:
            ctx.at(statement)
            section.statement(statement)
    ctx.location = None
