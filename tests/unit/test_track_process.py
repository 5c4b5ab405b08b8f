"""track_process matching as keepalived's ``check_params``, and the process-event parser."""

from __future__ import annotations

import struct

import pytest

from pykad.config.sections._vrrp_model import ParamMatch, TrackProcess
from pykad.drivers.track_process import (
    PROC_EVENT_EXEC,
    PROC_EVENT_EXIT,
    Matcher,
    parse_events,
)


def matcher(**kw: object) -> Matcher:
    return Matcher.from_config(TrackProcess(name="t", process="nginx", **kw))  # type: ignore[arg-type]


def cmd(*words: str) -> bytes:
    return b"".join(w.encode() + b"\0" for w in words)


@pytest.mark.parametrize(
    ("kw", "comm", "cmdline", "expected"),
    [
        ({}, "nginx", cmd("/usr/sbin/nginx", "-g", "daemon off;"), True),
        ({}, "nginx-w", cmd("nginx"), False),
        ({"full_command": True}, "x", cmd("nginx", "-t"), True),
        ({"full_command": True}, "nginx", cmd("/usr/sbin/nginx"), False),
        ({"parameters": ("-g",)}, "nginx", cmd("nginx", "-g"), True),  # exact by default
        ({"parameters": ("-g",)}, "nginx", cmd("nginx", "-g", "x"), False),
        ({"parameters": ("-g",), "param_match": ParamMatch.PARTIAL}, "nginx",
         cmd("nginx", "-g", "x"), True),
        ({"parameters": ("-g", "dae"), "param_match": ParamMatch.PARTIAL}, "nginx",
         cmd("nginx", "-g", "daemon"), False),
        ({"parameters": ("-g", "dae"), "param_match": ParamMatch.INITIAL}, "nginx",
         cmd("nginx", "-g", "daemon"), True),
        ({"param_match": ParamMatch.EXACT}, "nginx", cmd("nginx"), True),
        ({"param_match": ParamMatch.EXACT}, "nginx", cmd("nginx", "-t"), False),
    ],
)  # fmt: skip
def test_matching(kw: dict[str, object], comm: str, cmdline: bytes, expected: bool) -> None:
    assert matcher(**kw).matches(comm, cmdline) is expected


def test_process_events_are_parsed() -> None:
    def message(what: int, pid: int, tgid: int) -> bytes:
        event = struct.pack("=IIQ", what, 0, 0) + struct.pack("=ii", pid, tgid) + bytes(8)
        cn = struct.pack("=IIIIHH", 1, 1, 0, 0, len(event), 0) + event
        return struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, 0) + cn

    buf = message(PROC_EVENT_EXEC, 10, 10) + message(PROC_EVENT_EXIT, 11, 10)
    assert parse_events(buf) == [(PROC_EVENT_EXEC, 10, 10), (PROC_EVENT_EXIT, 11, 10)]
