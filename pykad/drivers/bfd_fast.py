"""The BFD process's event loop, the compiled one when it is built.

``pykad._accel`` picks ``pykad._fastpath.bfd_fast`` (Cython) or its twin
``pykad.drivers.bfd_fast_py``; both have this API (see the twin for the rules).
``IMPLEMENTATION`` says which.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykad import _accel

if TYPE_CHECKING:
    from pykad.drivers import bfd_fast_py as _impl
else:
    _impl = _accel.load("bfd_fast", "pykad.drivers.bfd_fast_py")

IMPLEMENTATION: str = _accel.implementation(_impl)
BfdLoop = _impl.BfdLoop
to16 = _impl.to16

__all__ = ["IMPLEMENTATION", "BfdLoop", "to16"]
