"""VRRP instances a re-read takes from the last read instead of building them again.

A reload of a director with a thousand instances changes one or two; the others'
blocks are the same lines (``pykad.config.memo`` gives the block's statement back),
and an instance is made from its block, what came before it in the file and the
host's answers. So where all of these are as they were, the instance the last read
made is the one a fresh read would make, and is taken as it is (the very object:
``pykad.vrrp.reload_plan`` then sees it unchanged at once). The conditions:

- its block is unchanged (the statement is one ``BlockMemo.entry`` knows);
- every other top-level statement of the sections VRRP reads (global_defs, scripts,
  sync groups, track files, BFD, static ...) is unchanged, with as many before it;
- the host answered every question of the reads since it was made as it did then
  (``BlockMemo.host_generation``), and was asked nothing but ``PURE_QUERIES``;
- its parse and its post-parse completion reported nothing and changed nothing the
  parser shares between instances, and it is in no sync group and has no VMAC,
  ipvlan or lvs_sync_daemon_interface (which other instances' parses look at).

The draft it came from (as parsed, before the post-parse checks) goes into the
parser's instances as a fresh copy, so the checks over all instances (script
security, VRID conflicts) run as in a fresh read; only its own completion is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from pykad.config.build import Builders, Context
from pykad.config.sections._vrrp_drafts import InstanceDraft
from pykad.config.sections._vrrp_model import VrrpInstance
from pykad.config.tree import Statement

_LISTS = tuple(f.name for f in fields(InstanceDraft) if f.default_factory is list)
_DICTS = tuple(f.name for f in fields(InstanceDraft) if f.default_factory is dict)


def _fresh(draft: InstanceDraft) -> InstanceDraft:
    """A copy of ``draft`` whose lists and dicts are its own."""
    out: InstanceDraft = object.__new__(InstanceDraft)
    fields_ = out.__dict__
    fields_.update(draft.__dict__)
    for name in _LISTS:
        fields_[name] = list(fields_[name])
    for name in _DICTS:
        fields_[name] = dict(fields_[name])
    return out


def content(statement: Statement) -> tuple[Any, ...]:
    """What a statement says, without where it is."""
    return (
        statement.keyword,
        statement.text,
        statement.words,
        statement.values,
        tuple(content(child) for child in statement.children),
    )


@dataclass(frozen=True, slots=True)
class _Made:
    environment: tuple[Any, ...]
    before: int
    """How many of the environment's statements came before the instance."""
    generation: int
    draft: InstanceDraft
    """As parsed (never handed out: copies are)."""
    instance: VrrpInstance


ENVIRONMENT = ("global", "track_file", "static", "bfd", "vrrp")
"""The sections whose statements an instance may depend on (those the VRRP child reads:
the parent's read of the whole file then serves the child's first re-read)."""


class InstanceReuse:
    """One read's taking and keeping of instances (see the module docstring)."""

    KEY = "vrrp_instance"

    def __init__(self, ctx: Context, builders: Builders) -> None:
        self.ctx = ctx
        self.memo = ctx.memo
        owned = {
            kw for name in ENVIRONMENT for kw in getattr(builders.by_name.get(name), "keywords", ())
        }
        environment: list[tuple[Any, ...]] = []
        self._before: dict[int, int] = {}
        for statement in ctx.tree:
            if statement.keyword == "vrrp_instance":
                self._before[id(statement)] = len(environment)
            elif statement.keyword in owned:
                environment.append(content(statement))
        self.environment = tuple(environment)
        self._taken: dict[int, VrrpInstance] = {}
        self._parsed: dict[int, tuple[Any, InstanceDraft, int]] = {}

    def _block(self, statement: Statement) -> Any:
        return self.memo.entry(statement)

    def take(self, statement: Statement) -> InstanceDraft | None:
        """A fresh copy of the draft the last read parsed from this unchanged block, if
        its instance can be taken; None: parse it."""
        block = self._block(statement)
        made: _Made | None = None if block is None else block.data.get(self.KEY)
        if (
            made is None
            or made.generation != self.memo.host_generation
            or made.before != self._before.get(id(statement))
            or made.environment != self.environment
        ):
            return None
        draft = _fresh(made.draft)
        draft.location = statement.location
        self._taken[id(draft)] = made.instance
        self.memo.taken += 1
        return draft

    def shared(self, parser: Any) -> tuple[Any, ...]:
        """What the parser shares between instances, and the findings so far."""
        iproute = getattr(self.ctx, "_iproute_state", None)
        return (
            len(self.ctx.diagnostics.items),
            parser.nonexistent_interface,
            parser.default_user_failed,
            len(parser.vmac_names),
            getattr(iproute, "missing_interface", None),
        )

    def parsed(self, statement: Statement, draft: InstanceDraft, before: tuple[Any, ...],
               parser: Any) -> None:  # fmt: skip
        """``draft`` was parsed from ``statement``: a candidate to keep if nothing was
        reported or shared and it has nothing other instances look at."""
        block = self._block(statement)
        if (
            block is None
            or self.shared(parser) != before
            or draft.use_vmac
            or draft.use_ipvlan
            or draft.lvs_sync_daemon_interface is not None
        ):
            return
        position = self._before.get(id(statement))
        if position is not None:
            self._parsed[id(draft)] = (block, _fresh(draft), position)

    def instance(self, draft: InstanceDraft) -> VrrpInstance | None:
        """The instance taken for ``draft`` (None: complete it)."""
        return self._taken.get(id(draft))

    def completed(self, draft: InstanceDraft, instance: VrrpInstance, findings: int) -> None:
        """``draft`` was completed into ``instance`` with ``findings`` before: kept
        for the next read if it is a candidate and nothing was reported."""
        found = self._parsed.pop(id(draft), None)
        if (
            found is None
            or draft.sync is not None
            or len(self.ctx.diagnostics.items) != findings
            or self.memo.impure
        ):
            return
        block, as_parsed, position = found
        block.data[self.KEY] = _Made(
            self.environment, position, self.memo.host_generation, as_parsed, instance
        )
