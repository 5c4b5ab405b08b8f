"""The IPVS codec that pykad uses: the compiled one when it is built.

``pykad._accel`` picks ``pykad._fastpath.ipvs_wire`` (Cython) or its twin
``pykad.kernel.ipvs_wire_py`` for the hot functions (encoding a batch of
operations, parsing dumps); both have this API. ``IMPLEMENTATION`` says which.
Everything else of the codec is in ``ipvs_wire_py`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pykad import _accel
from pykad.lb.plan import Op
from pykad.lb.table import Dest, Service

if TYPE_CHECKING:
    from pykad.kernel import ipvs_wire_py as _impl
else:
    _impl = _accel.load("ipvs_wire", "pykad.kernel.ipvs_wire_py")

IMPLEMENTATION: str = _accel.implementation(_impl)
encode_ops: Callable[[int, Sequence[Op], int], list[bytes]] = _impl.encode_ops
parse_services: Callable[[bytes], list[Service]] = _impl.parse_services
parse_dests: Callable[[bytes, int], list[Dest]] = _impl.parse_dests

__all__ = ["IMPLEMENTATION", "encode_ops", "parse_dests", "parse_services"]
