"""Chooses between a compiled hot-path module and its pure-Python twin.

Every module in ``pykad._fastpath`` has a twin with the same API somewhere in
``pykad``. ``load`` returns the compiled one unless the environment variable
``PYKAD_NO_EXTENSIONS`` is set to a non-empty value other than ``0``, or the
compiled module is missing (a source checkout that was never built); in that
case the twin is returned. ``implementation`` tells which one a module is.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

ENV_NO_EXTENSIONS = "PYKAD_NO_EXTENSIONS"


def extensions_disabled() -> bool:
    """True when the user asked for the pure-Python twins only."""
    return os.environ.get(ENV_NO_EXTENSIONS, "") not in ("", "0")


def load(compiled: str, pure: str) -> ModuleType:
    """Import ``pykad._fastpath.<compiled>`` or, failing that or if disabled, ``pure``."""
    if not extensions_disabled():
        try:
            return importlib.import_module(f"pykad._fastpath.{compiled}")
        except ImportError:
            pass
    return importlib.import_module(pure)


def implementation(module: ModuleType) -> str:
    """``"cython"`` for a compiled module, ``"python"`` for a pure twin."""
    return "cython" if module.__name__.startswith("pykad._fastpath.") else "python"
