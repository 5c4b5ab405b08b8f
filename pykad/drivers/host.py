"""This machine as the config checks see it (``pykad.config.build.Host``)."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
from collections.abc import Callable

from pykad.config.scripts import FileStatus


class LocalHost:
    """Interfaces of the current network namespace; users and groups of this system."""

    def interface_exists(self, name: str) -> bool:
        try:
            socket.if_nametoindex(name)
        except OSError:
            return False
        return True

    def user_ids(self, name: str) -> tuple[int, int] | None:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return None
        return entry.pw_uid, entry.pw_gid

    def group_id(self, name: str) -> int | None:
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            return None


class LocalScriptHost:
    """Files and $PATH on this machine, for vetting scripts."""

    def search_path(self, name: str) -> str | None:
        return shutil.which(name)

    def realpath(self, path: str) -> str | None:
        real = os.path.realpath(path)
        return real if os.path.exists(real) else None

    def stat(self, path: str) -> FileStatus | None:
        return _status(os.stat, path)

    def lstat(self, path: str) -> FileStatus | None:
        return _status(os.lstat, path)


def _status(stat: Callable[[str], os.stat_result], path: str) -> FileStatus | None:
    try:
        st = stat(path)
    except OSError:
        return None
    return FileStatus(st.st_mode, st.st_uid, st.st_gid)
