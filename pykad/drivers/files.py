"""The local file system as the config reader sees it (``pykad.config.reader.Files``)."""

from __future__ import annotations

import glob
import os
import stat


class LocalFiles:
    """glob(3) with GLOB_MARK, lstat, and reading text, on this machine."""

    def glob(self, pattern: str) -> list[str]:
        matches = sorted(glob.glob(pattern))
        return [m + "/" if os.path.isdir(m) else m for m in matches]

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def kind(self, path: str) -> str:
        try:
            st = os.stat(path)
        except OSError:
            return "other"
        if stat.S_ISDIR(st.st_mode):
            return "directory"
        if stat.S_ISREG(st.st_mode) and not st.st_mode & 0o111:
            return "file"
        return "other"

    def read(self, path: str) -> str:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
