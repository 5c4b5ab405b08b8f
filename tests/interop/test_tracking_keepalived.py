"""Tracking against the real keepalived 2.2.7: track_file weights, seen in its adverts.

A lone keepalived (VRRPv3, 100 ms adverts) tracks two files, one with the file's
own weight and one with an instance weight and ``reverse``. For a series of file
values, the priority in its adverts (or its FAULT state) must be what
``pykad.vrrp.tracking`` computes for the same tracks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.keepalived import KeepalivedLab, vrrp_instance_config
from lab.netns import Topology, wait_for
from pykad.tools.pcap import Frame
from pykad.vrrp.tracking import InstanceTracks, Kind, ObjectId, Track, Tracker

pytestmark = pytest.mark.interop

VRRP_PROTO = 112


def _priorities(packets: list[Frame], src: str) -> list[int]:
    out = []
    for p in packets:
        f = p.data
        if len(f) < 34 or f[12:14] != b"\x08\x00" or f[23] != VRRP_PROTO:
            continue
        if ".".join(str(b) for b in f[26:30]) != src:
            continue
        vrrp = 14 + (f[14] & 0x0F) * 4
        out.append(f[vrrp + 2])
    return out


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.rename(tmp, path)


def test_track_file_priorities_match_keepalived(
    netns_lab: Topology, keepalived_lab: KeepalivedLab, tmp_path: Path
) -> None:
    f1, f2 = tmp_path / "f1", tmp_path / "f2"
    f1.write_text("0\n")
    f2.write_text("0\n")
    config = (
        f"track_file tf1 {{\n    file {f1}\n    weight 3\n}}\n"
        f"track_file tf2 {{\n    file {f2}\n}}\n"
        + vrrp_instance_config(
            priority=100,
            version=3,
            advert_int=0.1,
            extra="track_file {\n    tf1\n    tf2 weight 2 reverse\n}",
        )
    )
    tf1, tf2 = ObjectId(Kind.FILE, "tf1"), ObjectId(Kind.FILE, "tf2")
    # tf1 takes the block's weight 3; tf2 the instance line's weight 2 reverse
    tracker = Tracker([InstanceTracks("VI_1", 100, (Track(tf1, 3), Track(tf2, 2, True)))])

    netns_lab.lan({"A": "192.0.2.1/24", "C": "192.0.2.100/24"})
    capture = netns_lab.capture("C", "eth0", f"ip proto {VRRP_PROTO}")
    k = keepalived_lab.start((netns_lab, "A"), config, name="A", subsystems={"vrrp"})
    k.wait_for_state("VI_1", "MASTER", timeout=10)

    steps = [("f1", 5), ("f2", 10), ("f1", -20), ("f1", 200), ("f2", 130), ("f2", -3), ("f1", 0)]
    for which, value in steps:
        path, obj = (f1, tf1) if which == "f1" else (f2, tf2)
        tracker.update(obj, value)
        outcome = tracker.outcome("VI_1")
        _write(path, f"{value}\n")
        if outcome.fault:
            k.wait_for_state("VI_1", "FAULT", timeout=5)
            continue
        k.wait_for_state("VI_1", "MASTER", timeout=10)
        seen = len(capture.packets())
        expected = outcome.effective_priority

        def advertised(expected: int = expected, seen: int = seen) -> bool:
            return expected in _priorities(capture.packets()[seen:], "192.0.2.1")

        wait_for(advertised, timeout=5, message=f"{which}={value}: priority {expected} in adverts")
