"""Interface up/down events from the kernel (rtnetlink RTMGRP_LINK), for ``track_interface``.

keepalived follows links through its netlink "reflector"; here one socket
joined to RTMGRP_LINK turns RTM_NEWLINK / RTM_DELLINK notifications into
tracking updates (``ObjectId(INTERFACE, name)``: up and running, or not).
A deleted interface is down. Only changes are sent.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable

import trio

from pykad.kernel import rtnl
from pykad.vrrp.tracking import Kind, ObjectId, StatusUpdate


class LinkMonitor:
    """Sends a ``StatusUpdate`` whenever a watched interface goes up or down."""

    def __init__(
        self,
        names: Iterable[str],
        initial: dict[str, bool],
        on_event: Callable[[rtnl.LinkEvent], None] | None = None,
    ) -> None:
        self.names = set(names)
        self.state = dict(initial)
        self.on_event = on_event
        """Called with every link event (the service follows interfaces re-created)."""
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        sock.bind((0, rtnl.RTMGRP_LINK))
        sock.setblocking(False)
        self.sock = sock

    def updates(self, events: Iterable[rtnl.LinkEvent]) -> list[StatusUpdate]:
        out = []
        for event in events:
            if event.name not in self.names:
                continue
            if self.state.get(event.name) != event.up:
                self.state[event.name] = event.up
                out.append(StatusUpdate(ObjectId(Kind.INTERFACE, event.name), event.up))
        return out

    async def run(self, send: trio.MemorySendChannel[StatusUpdate]) -> None:
        try:
            while True:
                await trio.lowlevel.wait_readable(self.sock)
                while True:
                    try:
                        data = self.sock.recv(65536)
                    except BlockingIOError:
                        break
                    except OSError:  # ENOBUFS: events were lost; the next ones still count
                        continue
                    events = rtnl.parse_links(data)
                    if self.on_event is not None:
                        for event in events:
                            self.on_event(event)
                    for update in self.updates(events):
                        await send.send(update)
        finally:
            self.sock.close()
