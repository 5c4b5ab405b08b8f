"""The VRRP advertisement codec that pykad uses: the compiled one when it is built.

``pykad._accel`` picks ``pykad._fastpath.vrrp_wire`` (Cython) or its twin
``pykad.vrrp.wire_py``; both have this API. ``IMPLEMENTATION`` says which.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pykad import _accel
from pykad.vrrp.advert import Advert

if TYPE_CHECKING:
    from pykad.vrrp import wire_py as _impl
else:
    _impl = _accel.load("vrrp_wire", "pykad.vrrp.wire_py")

IMPLEMENTATION: str = _accel.implementation(_impl)
decode_untrusted: Callable[..., Advert] = _impl.decode_untrusted
encode: Callable[..., bytes] = _impl.encode
checksum: Callable[[bytes], int] = _impl.checksum
pseudo_header: Callable[[int, bytes, bytes, int], bytes] = _impl.pseudo_header

__all__ = ["IMPLEMENTATION", "checksum", "decode_untrusted", "encode", "pseudo_header"]
