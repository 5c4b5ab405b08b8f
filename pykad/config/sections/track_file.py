"""``track_file`` / ``vrrp_track_file`` blocks (keepalived/trackers/track_file.c, 2.2.7).

Owns both top-level keywords (``vrrp_track_file`` is the deprecated synonym),
the ``TrackFile`` model, keepalived's checks and messages and the writer.
keepalived has no duplicate-name check: every copy is kept and lookups find
the first. The VRRP section (``track_file`` references in instances and sync
groups) and the LVS section (``FILE_CHECK``) resolve names against what has
been defined so far in file order: ``Builder.names()`` and ``Builder.find()``.

keepalived reads these blocks twice (its VRRP and checker parses) and so prints
each message twice; pykad reports it once. ``init_file`` is not written under
``-t``; only the "not a regular file" check (which needs the file's status,
through ``ctx.script_host``) is made.
"""

from __future__ import annotations

import enum
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from pykad.config.build import Builders, Context
from pykad.config.tree import Statement
from pykad.config.values import INT_MAX, INT_MIN, WHITE_SPACE

NAME = "track_file"
ORDER = 21

WEIGHT_MIN, WEIGHT_MAX = -254, 254
DEFAULT_WEIGHT = 1


class InitFile(enum.Enum):
    """``init_file``: what keepalived does with the file at start-up."""

    NONE = "none"
    """Leave it alone."""
    CREATE = "create"
    """Create it with ``init_value`` if it does not exist."""
    OVERWRITE = "overwrite"
    """Write ``init_value`` to it (a regular file) even if it exists."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackFile:
    """A file whose number (times ``weight``) moves the priority of whatever tracks it."""

    name: str
    path: str
    weight: int = DEFAULT_WEIGHT
    weight_reverse: bool = False
    init: InitFile = InitFile.NONE
    init_value: int = 0


@dataclass(frozen=True, slots=True)
class TrackFiles:
    files: tuple[TrackFile, ...] = ()

    def find(self, name: str) -> TrackFile | None:
        """The first file tracker called ``name`` (keepalived's lookup)."""
        return next((f for f in self.files if f.name == name), None)


class Builder:
    """Reads ``track_file`` and ``vrrp_track_file`` blocks in file order."""

    keywords: ClassVar[frozenset[str]] = frozenset({"track_file", "vrrp_track_file"})

    def __init__(self, ctx: Context, builders: Builders) -> None:
        self.ctx = ctx
        self.files: list[TrackFile] = []

    def names(self) -> tuple[str, ...]:
        """The names of the file trackers defined so far, in file order (duplicates kept)."""
        return tuple(f.name for f in self.files)

    def find(self, name: str) -> TrackFile | None:
        """The first file tracker called ``name`` defined so far."""
        return next((f for f in self.files if f.name == name), None)

    def statement(self, statement: Statement) -> None:
        ctx = self.ctx
        name = ctx.word(statement, 1)
        path: str | None = None
        weight, reverse = DEFAULT_WEIGHT, False
        init, init_value = InitFile.NONE, 0
        for st in statement.children:
            ctx.at(st)
            if st.keyword == "file":
                if len(st.words) < 2:
                    ctx.error("track file file name missing")
                elif path is not None:
                    ctx.error(f"File already set for track file {name} - ignoring {st.words[1]}")
                else:
                    path = st.words[1]
            elif st.keyword == "weight":
                if len(st.words) < 2:
                    ctx.error(f"No weight specified for track file {name} - ignoring")
                    continue
                if weight != DEFAULT_WEIGHT:
                    ctx.error(f"Weight already set for track file {name} - ignoring {st.words[1]}")
                    continue
                value = ctx.values.read_int(st.words[1], WEIGHT_MIN, WEIGHT_MAX, lenient=True)
                if value is None:
                    ctx.error(
                        f"Weight ({st.words[1]}) for track_file {name} must be between "
                        f"[{WEIGHT_MIN}..{WEIGHT_MAX}] inclusive. Ignoring..."
                    )
                    value = DEFAULT_WEIGHT
                weight = value
                if len(st.words) >= 3:
                    if st.words[2] == "reverse":
                        reverse = True
                    else:
                        ctx.error(f"track_file {name} unknown weight option {st.words[2]}")
            elif st.keyword == "init_file":
                init, init_value = InitFile.CREATE, 0
                for raw in st.words[1:]:
                    word = raw.lstrip(WHITE_SPACE)
                    if word[:1].isdigit() or word[:1] == "-":
                        read = ctx.values.read_int(raw, INT_MIN, INT_MAX)
                        if read is None:
                            ctx.error(f"Track file {name} init value {word} is invalid")
                            read = 0
                        elif not WEIGHT_MIN <= read <= WEIGHT_MAX:
                            ctx.error(
                                f"Track file {name} init value {read} is outside sensible "
                                f"range [{WEIGHT_MIN}, {WEIGHT_MAX}]"
                            )
                        init_value = read
                    elif word == "overwrite":
                        init = InitFile.OVERWRITE
                    else:
                        ctx.error(f"Unknown track file init option {word}")
        ctx.location = statement.end or statement.location
        if path is None:
            ctx.error(f"No file set for track_file {name} - ignoring")
            return
        self.files.append(
            TrackFile(
                name=name,
                path=path,
                weight=weight,
                weight_reverse=reverse,
                init=init,
                init_value=init_value,
            )
        )
        if init is InitFile.OVERWRITE and ctx.script_host is not None:
            status = ctx.script_host.stat(path)
            if status is not None and not stat.S_ISREG(status.mode):
                ctx.error(f"Cannot initialise track file {name} - it is not a regular file")

    def finish(self) -> TrackFiles:
        return TrackFiles(tuple(self.files))


def _word(text: str) -> str:
    return f'"{text}"' if not text or any(c in text for c in " \t#!{}") else text


def write(config: TrackFiles) -> Iterator[str]:
    """``config`` as keepalived.conf lines."""
    for f in config.files:
        yield f"track_file {_word(f.name)} {{"
        yield f"    file {_word(f.path)}"
        if f.weight != DEFAULT_WEIGHT or f.weight_reverse:
            yield f"    weight {f.weight}" + (" reverse" if f.weight_reverse else "")
        if f.init is not InitFile.NONE:
            words = [str(f.init_value)] + (["overwrite"] if f.init is InitFile.OVERWRITE else [])
            yield "    init_file " + " ".join(words)
        yield "}"
