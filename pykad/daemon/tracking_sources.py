"""Where tracking statuses come from: scripts, files and links, as one stream of updates.

Owns the drivers behind ``track_script`` (``drivers.track_script``),
``track_file`` (``drivers.track_file``, inotify), ``track_process``
(``drivers.track_process``, process events) and ``track_interface``
(``drivers.link_monitor``, rtnetlink) for the objects a configuration tracks,
their statuses at start-up, and the users scripts run as (``drivers.notify``'s
``resolve_user`` / ``default_script_user``, one rule for notify and track scripts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import trio

from pykad.config.model import Config
from pykad.drivers.link_monitor import LinkMonitor
from pykad.drivers.notify import default_script_user, resolve_user
from pykad.drivers.track_file import FileWatcher
from pykad.drivers.track_process import ProcessWatcher
from pykad.drivers.track_script import ScriptSpec, ScriptTracker
from pykad.kernel.rtnl import LinkEvent
from pykad.vrrp.tracking import InstanceTracks, Kind, ObjectId, StatusUpdate, script_tracks


class TrackingSources:
    """The drivers for every object some instance tracks."""

    def __init__(
        self,
        config: Config,
        tracks: Iterable[InstanceTracks],
        link_up: Callable[[str], bool],
        on_link_event: Callable[[LinkEvent], None] | None = None,
    ) -> None:
        tracks = tuple(tracks)
        objects = {t.obj for inst in tracks for t in inst.tracks}
        default_ids = default_script_user(config.global_defs)
        scripts = {s.name: s for s in config.vrrp.scripts}
        specs = []
        for name in script_tracks(tracks):
            if name in scripts:
                script = scripts[name].script
                ids = resolve_user(script.user, script.group) if script.user else default_ids
                uid, gid = ids or (None, None)
                specs.append(ScriptSpec.from_config(scripts[name], uid=uid, gid=gid))
        self.scripts = ScriptTracker(specs)
        file_names = {o.name for o in objects if o.kind is Kind.FILE}
        self.files = FileWatcher(f for f in config.track_file.files if f.name in file_names)
        process_names = {o.name for o in objects if o.kind is Kind.PROCESS}
        self.processes = ProcessWatcher(
            p for p in config.vrrp.track_processes if p.name in process_names
        )
        links = sorted(o.name for o in objects if o.kind is Kind.INTERFACE)
        self.links = LinkMonitor(links, {name: link_up(name) for name in links}, on_link_event)

    def initial(self) -> list[StatusUpdate]:
        """Every status known before the drivers run (links, files, scripts' INIT)."""
        updates = [
            StatusUpdate(ObjectId(Kind.INTERFACE, name), up)
            for name, up in self.links.state.items()
        ]
        processes = self.processes.scan() if self.processes.trackers else []
        return updates + self.files.read_all() + processes + self.scripts.initial_updates()

    async def run(self, send: trio.MemorySendChannel[StatusUpdate]) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.links.run, send.clone())
            if self.files.files:
                nursery.start_soon(self._files, send.clone())
            nursery.start_soon(self.scripts.run, send.clone())
            if self.processes.trackers:
                nursery.start_soon(self.processes.run, send.clone())

    async def _files(self, send: trio.MemorySendChannel[StatusUpdate]) -> None:
        await self.files.run(send, initial=False)
