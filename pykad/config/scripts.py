"""Scripts named in a configuration: how they are read and how keepalived vets them.

Owned here: ``Script`` (argv and the user/group to run it as), ``parse_script``
(keepalived's ``notify_script_init``: the raw line re-split with quotes and
escapes, word 1 split again into argv, optional user and group after it), and
``check_scripts`` (``check_script_secure``: a script that resolves to a file
counts as a script; with ``enable_script_security``, one whose path a non-root
user can write is insecure), with the "SECURITY VIOLATION" verdict keepalived
gives when scripts run and script security is off (exit 6).
"""

from __future__ import annotations

import enum
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from pykad.config.build import Context
from pykad.config.diagnostics import Location, Severity
from pykad.config.lexer import CommandSyntaxError, split_command
from pykad.config.tree import Statement


@dataclass(frozen=True, slots=True)
class FileStatus:
    mode: int
    uid: int
    gid: int


class ScriptHost(Protocol):
    def search_path(self, name: str) -> str | None:
        """Where ``name`` is found on $PATH (execvp's search), or None."""

    def realpath(self, path: str) -> str | None: ...

    def stat(self, path: str) -> FileStatus | None: ...

    def lstat(self, path: str) -> FileStatus | None: ...


@dataclass(frozen=True, slots=True)
class Script:
    """A command keepalived runs: its words, and whom it runs as (None: the default user)."""

    argv: tuple[str, ...]
    user: str | None = None
    group: str | None = None
    location: Location | None = field(default=None, compare=False)
    """Where the script was named (not part of its value)."""

    def words(self) -> str:
        """The command as one config word (quoted for keepalived's command tokenizer)."""
        return '"' + " ".join(_quote(a) for a in self.argv) + '"'

    def config_words(self) -> str:
        """What follows the keyword in a config line: the command, then user and group."""
        return " ".join(w for w in (self.words(), self.user, self.group) if w is not None)


def _quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "/._-+=:,@%" for c in arg):
        return arg
    return "'" + arg.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_script(ctx: Context, statement: Statement, what: str) -> Script | None:
    """The script of a ``keyword "command args" [user [group]]`` line, or None (logged)."""
    try:
        words = split_command(statement.text)
    except CommandSyntaxError as e:
        ctx.error(str(e), Severity.UNMATCHED_QUOTE)
        return None
    if len(words) < 2:
        ctx.word(statement, 1)  # keepalived reads the missing command: it exits with 2
    try:
        argv = split_command(words[1])
    except CommandSyntaxError as e:
        ctx.error(str(e), Severity.UNMATCHED_QUOTE)
        return None
    if not argv:
        ctx.note(f"Unable to parse script '{words[1] if len(words) > 1 else ''}' - ignoring")
        return None
    user = words[2] if len(words) > 2 else None
    group = words[3] if len(words) > 3 else None
    if user is not None and ctx.host.user_ids(user) is None:
        ctx.note(f"Invalid user/group for {what} script {argv[0]} - ignoring")
        return None
    if group is not None and ctx.host.group_id(group) is None:
        ctx.note(f"Invalid user/group for {what} script {argv[0]} - ignoring")
        return None
    return Script(tuple(argv), user, group, ctx.location)


class Flag(enum.IntFlag):
    """keepalived's SC_* script flags."""

    NONE = 0
    NOTFOUND = 1
    EXECUTABLE = 2
    INHIBIT = 4
    INSECURE = 8
    SYSTEM = 16
    ISSCRIPT = 32


def _unsafe(st: FileStatus) -> bool:
    writable = (st.gid and st.mode & stat.S_IWGRP) or st.mode & stat.S_IWOTH
    guarded_dir = stat.S_ISDIR(st.mode) and st.mode & stat.S_ISVTX
    return bool(
        st.uid
        or ((stat.S_ISREG(st.mode) or (stat.S_ISDIR(st.mode) and not guarded_dir)) and writable)
    )


def _check_path(host: ScriptHost, path: str, security: bool) -> Flag:
    """keepalived's check_security: every component root-owned and not writable by others."""
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i]) or "/"
        last = i == len(parts)
        st = host.lstat(prefix)
        if st is None:
            return Flag.NOTFOUND
        if (not last and not stat.S_ISDIR(st.mode)) or (
            last and not stat.S_ISREG(st.mode) and not stat.S_ISLNK(st.mode)
        ):
            return Flag.INHIBIT
        if _unsafe(st):
            return Flag.INSECURE | (Flag.INHIBIT if security else Flag.NONE)
    return Flag.NONE


def check_script(host: ScriptHost, script: Script, uid: int, gid: int, security: bool) -> Flag:
    """keepalived's check_script_secure for one script run as ``uid``:``gid``."""
    command = script.argv[0]
    if command.startswith("<") and command[1:].lstrip(" \t").startswith("/"):
        return Flag.SYSTEM
    if "/" not in command:
        found = host.search_path(command)
        if found is None:
            return Flag.NOTFOUND
        command = found
    real = host.realpath(command)
    st = host.stat(real) if real else None
    if real is None or st is None:
        return Flag.NOTFOUND
    flags = Flag.ISSCRIPT
    if _executable(st, uid, gid):
        flags |= Flag.EXECUTABLE
        setid_root = (st.uid == 0 and st.mode & stat.S_IXUSR and st.mode & stat.S_ISUID) or (
            st.gid == 0 and st.mode & stat.S_IXGRP and st.mode & stat.S_ISGID
        )
        if uid == 0 or gid == 0 or setid_root:  # keepalived vets the resolved path
            flags |= _check_path(host, real, security)
    return flags


def _executable(st: FileStatus, uid: int, gid: int) -> bool:
    if uid == 0:
        return bool(st.mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    if st.uid == uid:
        return bool(st.mode & stat.S_IXUSR)
    if st.gid == gid:
        return bool(st.mode & stat.S_IXGRP)
    return bool(st.mode & stat.S_IXOTH)


DEFAULT_SCRIPT_USER = "keepalived_script"


def check_scripts(
    ctx: Context,
    host: ScriptHost,
    scripts: Iterable[Script],
    *,
    script_security: bool,
    default_user: tuple[int, int],
    what: str = "scripts",
) -> Flag:
    """Vet ``scripts`` and report a SECURITY VIOLATION as keepalived does.

    ``what`` names the group in the message: "scripts" (VRRP), "check scripts"
    (checkers) or "start/shutdown scripts".
    """
    flags = Flag.NONE
    first: Location | None = None  # a violation is reported at the first script that runs
    for script in scripts:
        ids = default_user
        if script.user is not None:
            found = ctx.host.user_ids(script.user)
            if found is None:
                continue
            ids = found
            if script.group is not None:
                gid = ctx.host.group_id(script.group)
                ids = (ids[0], gid if gid is not None else ids[1])
        vetted = check_script(host, script, ids[0], ids[1], script_security)
        if vetted & Flag.ISSCRIPT and first is None:
            first = script.location
        flags |= vetted
    if not script_security and flags & Flag.ISSCRIPT:
        insecure = " There are insecure scripts." if flags & Flag.INSECURE else ""
        ctx.after_parse(
            f"SECURITY VIOLATION - {what} are being executed but script_security not "
            f"enabled.{insecure}",
            Severity.SECURITY_ERROR,
            first,
        )
    return flags
