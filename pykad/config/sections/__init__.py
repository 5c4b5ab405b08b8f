"""The sections of keepalived.conf, one module each.

Every module here defines ``NAME`` (its key in the model), ``ORDER`` (when it
finishes: keepalived checks global settings, then the checker, VRRP and BFD
configuration), ``Builder`` (a ``pykad.config.build.SectionBuilder``) and
``write`` (its part of the model back to keepalived.conf lines). They are
found by ``modules()``, so a new section is a new file.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def modules() -> list[ModuleType]:
    """The section modules, in finishing order."""
    found = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    return sorted(found, key=lambda m: (m.ORDER, m.NAME))
