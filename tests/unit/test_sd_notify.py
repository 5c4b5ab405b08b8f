"""sd_notify datagrams, as systemd reads them, sent to a socket the test owns."""

from __future__ import annotations

import socket
from pathlib import Path

from pykad.daemon import sd_notify


def test_messages() -> None:
    assert sd_notify.message(ready=True) == b"READY=1\n"
    assert sd_notify.message(stopping=True) == b"STOPPING=1\n"
    assert sd_notify.message(reloading=True, monotonic_us=12) == b"RELOADING=1\nMONOTONIC_USEC=12\n"
    assert sd_notify.message(ready=True, status="3 children") == b"READY=1\nSTATUS=3 children\n"


def test_address() -> None:
    assert sd_notify.address({}) is None
    assert sd_notify.address({"NOTIFY_SOCKET": "relative"}) is None
    assert sd_notify.address({"NOTIFY_SOCKET": "/run/systemd/notify"}) == "/run/systemd/notify"
    assert sd_notify.address({"NOTIFY_SOCKET": "@abc"}) == b"\0abc"


def test_notify_sends_one_datagram(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        assert sd_notify.notify(b"READY=1\n", {"NOTIFY_SOCKET": path})
        assert sock.recv(100) == b"READY=1\n"
    assert not sd_notify.notify(b"READY=1\n", {"NOTIFY_SOCKET": path})  # gone: not fatal
    assert not sd_notify.notify(b"READY=1\n", {})
