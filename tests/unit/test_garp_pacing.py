"""GARP pacing per interface (``pykad.daemon.garp_pacing``): its timer keys share the
VRRP service's loop with the fast paths' and never take one of theirs."""

from __future__ import annotations

from ipaddress import IPv4Address

from pykad.config.sections._global_model import Garp
from pykad.daemon.fast_paths import PUMP_KEY, WATCH_KEY
from pykad.daemon.garp_pacing import Pacing
from pykad.vrrp.gratuitous import garp_frame

MAC = bytes.fromhex("020000000001")


def test_pacers_queue_frames_under_keys_of_their_own() -> None:
    pacing = Pacing(Garp(interval_us=500_000), (), lambda ifindex: f"eth{ifindex}")
    frames = [garp_frame(MAC, IPv4Address(f"192.0.2.{k}")) for k in (10, 11)]
    keys = set()
    for ifindex in (1, 2, 3):
        sent, moved = pacing.offer(ifindex, frames, 1, 0)
        assert sent == frames[:1] and len(moved) == 1  # the second waits an interval
        keys.update(moved)
    assert len(keys) == 3 and not keys & {PUMP_KEY, WATCH_KEY}
    assert all(pacing.is_key(k) for k in keys) and not pacing.is_key(WATCH_KEY)
    for key in keys:
        assert pacing.next_deadline(key) == 500_000
        assert pacing.due(key, 500_000)[1] == frames[1:]
