"""The BFD control packet codec that pykad uses: the compiled one when it is built.

``pykad._accel`` picks ``pykad._fastpath.bfd_wire`` (Cython) or its twin
``pykad.bfd.wire_py``; both have this API. ``IMPLEMENTATION`` says which.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pykad import _accel
from pykad.bfd.packet import ControlPacket

if TYPE_CHECKING:
    from pykad.bfd import wire_py as _impl
else:
    _impl = _accel.load("bfd_wire", "pykad.bfd.wire_py")

IMPLEMENTATION: str = _accel.implementation(_impl)
decode_untrusted: Callable[[bytes], ControlPacket] = _impl.decode_untrusted
encode: Callable[[ControlPacket], bytes] = _impl.encode

__all__ = ["IMPLEMENTATION", "decode_untrusted", "encode"]
