"""The control socket's wire: one JSON request, one JSON reply, never blocking the server.

The server (``pykad.daemon.control.ControlServer``) is driven by hand here, as
the children drive it: wait for its fd, then ``serve_ready``; the client is
``control.request`` in a thread.
"""

from __future__ import annotations

import json
import os
import select
import socket
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pykad.daemon import control


def echo(req: Mapping[str, Any]) -> dict[str, Any]:
    return {"ok": True, "got": dict(req)}


def big(req: Mapping[str, Any]) -> dict[str, Any]:
    return {"ok": True, "big": "x" * int(req["n"])}


def test_control_dir_is_derived_from_the_main_pid_file() -> None:
    assert control.control_dir(None) == "/run/pykad"
    assert control.control_dir("/run/keepalived.pid") == "/run/pykad"
    assert control.control_dir("/tmp/x/A.pid") == "/tmp/x/A.pykad"
    assert control.control_dir("/tmp/x/main") == "/tmp/x/main.pykad"
    assert control.control_dir("/tmp/x/A.pid", "/srv/ctl") == "/srv/ctl"


def test_answer_handles_bad_requests_and_handler_errors() -> None:
    handler = control.dispatch({"echo": echo, "boom": lambda r: 1 // 0})  # type: ignore[dict-item]

    def ask(data: bytes) -> dict[str, Any]:
        reply: dict[str, Any] = json.loads(control.answer(handler, data))
        return reply

    assert ask(b'{"cmd": "echo", "x": 1}') == {"ok": True, "got": {"cmd": "echo", "x": 1}}
    assert ask(b"not json")["ok"] is False
    assert ask(b"[1, 2]") == {"ok": False, "error": "bad request: not a JSON object"}
    assert ask(b'{"cmd": "nope"}') == {"ok": False, "error": "unknown command 'nope'"}
    assert ask(b'{"cmd": "boom"}') == {
        "ok": False,
        "error": "ZeroDivisionError: integer division or modulo by zero",
    }
    assert control.answer(handler, b'{"cmd": "echo"}').endswith(b"\n")


def serve_while(server: control.ControlServer, done: threading.Event) -> None:
    while not done.is_set():
        r, _, _ = select.select([server.fileno()], [], [], 0.05)
        if r:
            server.serve_ready()


def test_server_answers_clients_and_is_private(tmp_path: Path) -> None:
    control.make_dir(str(tmp_path / "run"))
    assert stat.S_IMODE(os.stat(tmp_path / "run").st_mode) == 0o700
    path = control.socket_path(str(tmp_path / "run"), "vrrp")
    server = control.ControlServer(path, control.dispatch({"echo": echo, "big": big}))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    done = threading.Event()
    thread = threading.Thread(target=serve_while, args=(server, done))
    thread.start()
    try:
        for i in range(5):
            assert control.request(path, {"cmd": "echo", "i": i}) == {
                "ok": True,
                "got": {"cmd": "echo", "i": i},
            }
        # a client that connects and says nothing does not hold up the others
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle.connect(path)
        assert control.request(path, {"cmd": "echo"}, timeout=2)["ok"]
        idle.close()
        # a big reply is written in pieces without blocking the server
        assert len(control.request(path, {"cmd": "big", "n": 2_000_000})["big"]) == 2_000_000
        # a request too long is refused, not read forever
        try:
            refused = control.request(path, {"cmd": "echo", "x": "y" * 200_000})
        except control.ControlError:  # the server closed before the client wrote it all
            pass
        else:
            assert refused == {"ok": False, "error": "request too long"}
        assert server.requests == 7
    finally:
        done.set()
        thread.join()
        server.close()
    assert not os.path.exists(path)
    control.remove_dir(str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_request_errors(tmp_path: Path) -> None:
    with pytest.raises(control.ControlError, match="no such socket"):
        control.request(str(tmp_path / "none.sock"), {"cmd": "status"})
    path = str(tmp_path / "mute.sock")
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(path)
    mute.listen(1)
    try:
        with pytest.raises(control.ControlError):
            control.request(path, {"cmd": "status"}, timeout=0.2)
    finally:
        mute.close()


def raw_request(path: str, data: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(data)
        reply: dict[str, Any] = json.loads(sock.makefile("rb").read())
    return reply


def test_deferred_server_answers_with_an_async_handler(tmp_path: Path) -> None:
    """The trio children's way: requests handed back, answered by an async handler that
    takes checkpoints (other tasks run meanwhile), then written."""
    import trio

    path = str(tmp_path / "check.sock")
    ticks: list[int] = []

    async def handler(req: Mapping[str, Any]) -> dict[str, Any]:
        for _ in range(3):
            await trio.sleep(0.01)  # another task runs in between
        return {"ok": True, "cmd": req["cmd"], "ticks": len(ticks)}

    async def ticker() -> None:
        while True:
            ticks.append(1)
            await trio.sleep(0.001)

    async def main() -> list[dict[str, Any]]:
        async with trio.open_nursery() as nursery:
            scope = control.start_trio(nursery, str(tmp_path), "check", handler)
            assert scope is not None
            nursery.start_soon(ticker)
            replies = [
                await trio.to_thread.run_sync(control.request, path, {"cmd": f"c{i}"})
                for i in range(3)
            ]
            bad = await trio.to_thread.run_sync(raw_request, path, b"[1]\n")
            replies.append(bad)
            nursery.cancel_scope.cancel()
        return replies

    replies = trio.run(main)
    assert [r["cmd"] for r in replies[:3]] == ["c0", "c1", "c2"]
    assert all(r["ok"] and r["ticks"] > 0 for r in replies[:3])
    assert replies[3] == {"ok": False, "error": "bad request: not a JSON object"}
    assert not os.path.exists(path)  # closed with its task
